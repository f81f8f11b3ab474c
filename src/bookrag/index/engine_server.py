"""The engine on a Qdrant server or cluster (`QDRANT_URL`), through qdrant-client.

The configured collection name is a collection, or, once the index has been rebuilt, an
alias of one of two collections `<name>__blue` and `<name>__green`: a rebuild is written into
the one the alias does not name and the alias is moved to it in one request (Qdrant applies
a request's alias changes atomically), then the old one is deleted. A collection that holds
the name itself (an index from before) is deleted just before the alias takes its name:
requests in that moment find no index.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from bookrag.errors import StoreUnavailable
from bookrag.index.engine import (
    DENSE,
    PAYLOAD_INDEXES,
    SPARSE,
    Engine,
    Scored,
    StoredPoint,
    Where,
    named_vector,
)
from bookrag.index.lexical import SparseVector

_BATCH = 256
_BUILDS = ("__blue", "__green")  # the suffixes of the collections an alias names in turn


def _filter(where: Where) -> models.Filter:
    must: list[models.Condition] = [
        models.FieldCondition(key=key, match=models.MatchValue(value=value))
        for key, value in (("kind", where.kind), ("source", where.source))
        if value is not None
    ]
    if where.chunk_index_from is not None:
        must.append(
            models.FieldCondition(key="chunk_index", range=models.Range(gte=where.chunk_index_from))
        )
    if where.text_hashes is not None:
        hashes = list(where.text_hashes)
        must.append(models.FieldCondition(key="text_hash", match=models.MatchAny(any=hashes)))
    return models.Filter(must=must)


@contextmanager
def _errors() -> Iterator[None]:
    """Turn transport and server errors from Qdrant into `StoreUnavailable`."""
    try:
        yield
    except UnexpectedResponse as exc:
        if exc.status_code in (401, 403):
            message = (
                f"the vector store refused the request ({exc.status_code}): QDRANT_API_KEY "
                "is missing, wrong or not allowed to do this"
            )
        else:
            message = f"the vector store is unavailable (HTTP {exc.status_code})"
        raise StoreUnavailable(message) from exc
    except ResponseHandlingException as exc:  # no answer: refused, unknown host, timed out
        raise StoreUnavailable(
            f"the vector store is unavailable ({type(exc.source).__name__})"
        ) from exc
    except (OSError, TimeoutError) as exc:
        raise StoreUnavailable(f"the vector store is unavailable ({type(exc).__name__})") from exc
    except (ValueError, KeyError, AssertionError) as exc:  # a body that is no Qdrant reply
        raise StoreUnavailable(
            "the vector store is unavailable: QDRANT_URL answered, but not as a Qdrant server "
            f"({type(exc).__name__})"
        ) from exc


def _sparse(vector: SparseVector) -> models.SparseVector:
    return models.SparseVector(indices=vector.indices, values=vector.values)


def _named(vectors: object, name: str | None) -> Any:
    return named_vector(vectors, name, models.SparseVector)


class ServerEngine:
    """One collection on a Qdrant server; every call is a request."""

    def __init__(self, client: QdrantClient, collection: str, shared: bool = False) -> None:
        self.client = client
        self.collection = collection
        self._shared = shared  # the client is another engine's, which closes it
        self._hashes_indexed = False  # `text_hash` known to be indexed (see `scroll`)

    def exists(self) -> bool:
        with _errors():
            found = self.client.collection_exists(self.collection)
        return found or self._aliased() is not None

    def _aliased(self) -> str | None:
        """The collection the name is an alias of, or None if it is no alias."""
        with _errors():
            aliases = self.client.get_aliases().aliases
        return next((a.collection_name for a in aliases if a.alias_name == self.collection), None)

    def staging(self) -> ServerEngine:
        """The collection a rebuild writes into: the one of the two the alias does not name
        (what a failed or killed rebuild left there is gone on with, or dropped, by ingest)."""
        live = self._aliased()
        name = next(self.collection + s for s in _BUILDS if live != self.collection + s)
        return ServerEngine(self.client, name, shared=True)

    def promote(self, staging: Engine) -> None:
        """Point the name at the complete collection `staging` wrote, then delete the old."""
        assert isinstance(staging, ServerEngine)
        old = self._aliased()
        moves: list[models.AliasOperations] = []
        if old is not None:
            moves.append(
                models.DeleteAliasOperation(
                    delete_alias=models.DeleteAlias(alias_name=self.collection)
                )
            )
        create = models.CreateAlias(collection_name=staging.collection, alias_name=self.collection)
        moves.append(models.CreateAliasOperation(create_alias=create))
        with _errors():
            if old is None and self.client.collection_exists(self.collection):
                self.client.delete_collection(self.collection)  # the index from before aliases
            self.client.update_collection_aliases(moves)
            if old is not None:
                self.client.delete_collection(old)

    def create(self, dense_dim: int | None) -> None:
        vectors = {}
        if dense_dim:
            vectors[DENSE] = models.VectorParams(size=dense_dim, distance=models.Distance.COSINE)
        with _errors():
            self.client.create_collection(
                self.collection,
                vectors_config=vectors,
                sparse_vectors_config={
                    SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)
                },
            )
            for key in PAYLOAD_INDEXES:
                self.client.create_payload_index(
                    self.collection, key, models.PayloadSchemaType.KEYWORD
                )
            self.client.create_payload_index(
                self.collection, "chunk_index", models.PayloadSchemaType.INTEGER
            )

    def drop(self) -> None:
        aliased = self._aliased()
        with _errors():
            if aliased is None:
                self.client.delete_collection(self.collection)
                return
            self.client.update_collection_aliases(
                [
                    models.DeleteAliasOperation(
                        delete_alias=models.DeleteAlias(alias_name=self.collection)
                    )
                ]
            )
            self.client.delete_collection(aliased)

    def upsert(self, points: Sequence[StoredPoint]) -> None:
        structs = [
            models.PointStruct(id=p.id, vector=_vectors(p), payload=p.payload) for p in points
        ]
        with _errors():
            for start in range(0, len(structs), _BATCH):
                self.client.upsert(self.collection, structs[start : start + _BATCH], wait=True)

    def delete(self, where: Where) -> None:
        selector = models.FilterSelector(filter=_filter(where))
        with _errors():
            self.client.delete(self.collection, selector, wait=True)

    def delete_ids(self, ids: Sequence[str]) -> None:
        with _errors():
            self.client.delete(self.collection, models.PointIdsList(points=list(ids)), wait=True)

    def count(self, where: Where) -> int:
        with _errors():
            return self.client.count(self.collection, count_filter=_filter(where), exact=True).count

    def scroll(
        self, where: Where, payload: bool | list[str], vector: str | None = None
    ) -> Iterator[tuple[str, dict[str, Any], object]]:
        if where.text_hashes is not None and not self._hashes_indexed:
            # A collection from before `text_hash` was recorded has no index of it, and a
            # cluster in strict mode refuses a filter on a field without one: index it
            # (creating an index that exists changes nothing).
            with _errors():
                self.client.create_payload_index(
                    self.collection, "text_hash", models.PayloadSchemaType.KEYWORD
                )
            self._hashes_indexed = True
        offset = None
        while True:
            with _errors():
                points, offset = self.client.scroll(
                    self.collection,
                    scroll_filter=_filter(where),
                    with_payload=payload,
                    with_vectors=[vector] if vector else False,
                    limit=1024,
                    offset=offset,
                )
            for point in points:
                yield str(point.id), point.payload or {}, _named(point.vector, vector)
            if offset is None:
                return

    def retrieve(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        with _errors():
            found = self.client.retrieve(self.collection, list(ids), with_payload=True)
        return {str(p.id): p.payload or {} for p in found}

    def query(
        self, sparse: SparseVector | None, dense: list[float] | None, limit: int
    ) -> list[Scored]:
        with _errors():
            if dense is None and sparse is not None:
                response = self.client.query_points(
                    self.collection,
                    query=_sparse(sparse),
                    using=SPARSE,
                    limit=limit,
                    with_payload=True,
                    with_vectors=[SPARSE],
                )
            elif sparse is None:
                response = self.client.query_points(
                    self.collection,
                    query=dense,
                    using=DENSE,
                    limit=limit,
                    with_payload=True,
                    with_vectors=[SPARSE],
                )
            else:
                response = self.client.query_points(
                    self.collection,
                    prefetch=[
                        models.Prefetch(query=dense, using=DENSE, limit=limit),
                        models.Prefetch(query=_sparse(sparse), using=SPARSE, limit=limit),
                    ],
                    query=models.FusionQuery(fusion=models.Fusion.RRF),  # k = RRF_K, the default
                    limit=limit,
                    with_payload=True,
                    with_vectors=[SPARSE],
                )
        return [
            Scored(str(p.id), p.score, p.payload or {}, _named(p.vector, SPARSE))
            for p in response.points
        ]

    def flush(self) -> None:
        """A server has written each update before answering (`wait=True`)."""

    def optimize(self) -> None:
        """A server runs its optimizers by itself."""

    def ping(self) -> bool:
        try:
            self.client.collection_exists(self.collection)
        except Exception:
            return False
        return True

    def close(self) -> None:
        if not self._shared:
            self.client.close()


def _vectors(point: StoredPoint) -> dict[str, Any]:
    vectors: dict[str, Any] = {}
    if point.sparse is not None:
        vectors[SPARSE] = _sparse(point.sparse)
    if point.dense is not None:
        vectors[DENSE] = point.dense
    return vectors
