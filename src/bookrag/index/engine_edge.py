"""The embedded engine: Qdrant Edge, Qdrant's own Rust engine, in this process.

The collection is one Edge shard in `<index folder>/edge/<collection>`. Its write-ahead log
is off (a book is re-derivable from its docs folder, and the log would double every write):
updates are durable once `flush()` returns, and the store flushes before it commits a page.
Edge keeps no lock on a shard without a log, so `connection` holds bookrag's own.

An index written by bookrag before Qdrant Edge (qdrant-client's local mode, a SQLite file in
`<index folder>/collection/<collection>`) reads as a collection with no layout point, so
ingest rebuilds it and says so; `drop()` removes those files too.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import qdrant_edge as edge

from bookrag.errors import StoreUnavailable
from bookrag.index.engine import (
    DENSE,
    PAYLOAD_INDEXES,
    RRF_K,
    SPARSE,
    Scored,
    StoredPoint,
    Where,
    named_vector,
)
from bookrag.index.lexical import SparseVector

_CONFIG_FILE = "edge_config.json"  # what Edge writes into every shard folder
_BATCH = 1024


def _filter(where: Where) -> edge.Filter:
    must: list[edge.ConditionType] = [
        edge.FieldCondition(key=key, match=edge.MatchValue(value))
        for key, value in (("kind", where.kind), ("source", where.source))
        if value is not None
    ]
    if where.chunk_index_from is not None:
        must.append(
            edge.FieldCondition(
                key="chunk_index", range=edge.RangeFloat(gte=where.chunk_index_from)
            )
        )
    return edge.Filter(must=must)


def _sparse(vector: SparseVector) -> edge.SparseVector:
    return edge.SparseVector(list(vector.indices), list(vector.values))


def _named(vectors: object, name: str | None) -> Any:
    return named_vector(vectors, name, edge.SparseVector)


def _reraise_unless_edge(exc: BaseException) -> None:
    """Raise `exc` again unless it is how Edge fails: a plain exception, or pyo3's
    `PanicException` (a BaseException) when its Rust code panics, as on damaged files.
    Either means the index failed, not the process."""
    if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
        raise exc


# Room kept free on the index's disk before any write (plus four times the text written).
MIN_FREE_BYTES = 64 * 2**20
_ADVICE = (
    "Check that the data folder is writable and its disk not full; if its files are "
    "damaged, delete the folder and run `bookrag ingest` again"
)


class EdgeEngine:
    """One Qdrant Edge shard in a folder (created by `create`, opened by `open`)."""

    def __init__(self, folder: Path, shard: edge.EdgeShard | None, legacy: Path) -> None:
        self.folder = folder
        self._shard = shard
        self._legacy = legacy

    @classmethod
    def open(cls, index_path: Path, collection: str) -> EdgeEngine:
        """Load the collection's shard if there is one; a folder that is not a shard, or a
        shard Edge cannot load, is an error that names the folder."""
        folder = index_path / "edge" / collection
        legacy = index_path / "collection" / collection
        if not folder.exists():
            return cls(folder, None, legacy)
        if not (folder / _CONFIG_FILE).is_file():
            if folder.is_dir() and not any(folder.iterdir()):
                return cls(folder, None, legacy)  # left by a create that died at once
            raise StoreUnavailable(
                f"{folder} is not a bookrag index (no {_CONFIG_FILE}): move it away or "
                "delete it, then run `bookrag ingest` again"
            )
        engine = cls(folder, None, legacy)
        engine._make_room(MIN_FREE_BYTES)  # loading writes to the mapped files as well
        try:
            shard = edge.EdgeShard.load(str(folder))
        except BaseException as exc:
            _reraise_unless_edge(exc)
            raise StoreUnavailable(
                f"the index in {folder} cannot be read ({exc}). {_ADVICE}"
            ) from exc
        return cls(folder, shard, legacy)

    @contextmanager
    def _errors(self) -> Iterator[edge.EdgeShard]:
        if self._shard is None:
            raise StoreUnavailable(f"the index in {self.folder} does not exist yet")
        try:
            yield self._shard
        except StoreUnavailable:
            raise
        except BaseException as exc:
            _reraise_unless_edge(exc)
            raise StoreUnavailable(
                f"the embedded index in {self.folder} failed: {exc}. {_ADVICE}"
            ) from exc

    def _make_room(self, wanted: int) -> None:
        """Refuse to load or write without room: Edge maps its files into memory, so a write
        the disk cannot hold kills the process (SIGBUS) instead of raising an error."""
        folder = next((f for f in (self.folder, *self.folder.parents) if f.exists()), None)
        free = shutil.disk_usage(folder).free if folder is not None else wanted
        if free < wanted:
            raise StoreUnavailable(
                f"only {free / 2**20:.0f} MB free on the disk holding {self.folder}; the "
                f"index needs {wanted / 2**20:.0f} MB to be opened or written safely. Free "
                "some space and try again (what was indexed before is kept)"
            )

    def exists(self) -> bool:
        return self._shard is not None or self._legacy.is_dir()

    def create(self, dense_dim: int | None) -> None:
        vectors = (
            {DENSE: edge.EdgeVectorParams(size=dense_dim, distance=edge.Distance.Cosine)}
            if dense_dim
            else None
        )
        config = edge.EdgeConfig(
            vectors=vectors,
            sparse_vectors={SPARSE: edge.EdgeSparseVectorParams(modifier=edge.Modifier.Idf)},
            wal_enabled=False,
        )
        self._make_room(MIN_FREE_BYTES)
        shutil.rmtree(self.folder, ignore_errors=True)  # an empty one left by a failed create
        try:
            self._shard = edge.EdgeShard.create(str(self.folder), config)
        except BaseException as exc:
            _reraise_unless_edge(exc)
            raise StoreUnavailable(f"could not create the index in {self.folder}: {exc}") from exc
        with self._errors() as shard:
            for key in PAYLOAD_INDEXES:
                shard.update(
                    edge.UpdateOperation.create_field_index(key, edge.PayloadSchemaType.Keyword)
                )
            shard.update(
                edge.UpdateOperation.create_field_index(
                    "chunk_index", edge.PayloadSchemaType.Integer
                )
            )
            shard.flush()

    def drop(self) -> None:
        self._make_room(MIN_FREE_BYTES)  # no index dropped for one there is no room to build
        if self._shard is not None:
            self._shard.close()
            self._shard = None
        shutil.rmtree(self.folder, ignore_errors=True)
        if self._legacy.is_dir():
            shutil.rmtree(self._legacy)
            parent = self._legacy.parent
            if not any(parent.iterdir()):  # qdrant-client's local mode kept a list beside it
                parent.rmdir()
                (parent.parent / "meta.json").unlink(missing_ok=True)

    def upsert(self, points: Sequence[StoredPoint]) -> None:
        text = sum(len(str(p.payload.get(k, ""))) for p in points for k in ("text", "markdown"))
        self._make_room(MIN_FREE_BYTES + 4 * text)
        with self._errors() as shard:
            for start in range(0, len(points), _BATCH):
                batch = [
                    edge.Point(p.id, _vectors(p), p.payload) for p in points[start : start + _BATCH]
                ]
                shard.update(edge.UpdateOperation.upsert_points(batch))

    def delete(self, where: Where) -> None:
        self._make_room(MIN_FREE_BYTES)  # deleting writes too
        with self._errors() as shard:
            shard.update(edge.UpdateOperation.delete_points_by_filter(_filter(where)))

    def delete_ids(self, ids: Sequence[str]) -> None:
        self._make_room(MIN_FREE_BYTES)
        with self._errors() as shard:
            shard.update(edge.UpdateOperation.delete_points(list(ids)))

    def count(self, where: Where) -> int:
        with self._errors() as shard:
            return shard.count(edge.CountRequest(exact=True, filter=_filter(where)))

    def scroll(
        self, where: Where, payload: bool | list[str], vector: str | None = None
    ) -> Iterator[tuple[str, dict[str, Any], object]]:
        offset: edge.PointId | None = None
        while True:
            with self._errors() as shard:
                records, offset = shard.scroll(
                    edge.ScrollRequest(
                        offset=offset,
                        limit=_BATCH,
                        filter=_filter(where),
                        with_payload=payload,
                        with_vector=[vector] if vector else False,
                    )
                )
            for record in records:
                yield str(record.id), record.payload or {}, _named(record.vector, vector)
            if offset is None:
                return

    def retrieve(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        if self._shard is None:
            return {}  # e.g. an index of the old layout: no layout point, so it is rebuilt
        with self._errors() as shard:
            found = shard.retrieve(list(ids), True, False)
        return {str(r.id): r.payload or {} for r in found}

    def query(
        self, sparse: SparseVector | None, dense: list[float] | None, limit: int
    ) -> list[Scored]:
        stages = []
        if dense is not None:
            stages.append(edge.Query.Nearest(dense, using=DENSE))
        if sparse is not None:
            stages.append(edge.Query.Nearest(_sparse(sparse), using=SPARSE))
        if len(stages) == 1:
            request = edge.QueryRequest(
                limit=limit, query=stages[0], with_payload=True, with_vector=[SPARSE]
            )
        else:
            request = edge.QueryRequest(
                limit=limit,
                prefetches=[edge.Prefetch(limit=limit, query=stage) for stage in stages],
                query=edge.Fusion.Rrf(k=RRF_K),  # type: ignore[arg-type]  # the stub omits it
                with_payload=True,
                with_vector=[SPARSE],
            )
        with self._errors() as shard:
            found = shard.query(request)
        return [
            Scored(str(p.id), p.score, p.payload or {}, _named(p.vector, SPARSE)) for p in found
        ]

    def flush(self) -> None:
        self._make_room(MIN_FREE_BYTES)
        with self._errors() as shard:
            shard.flush()

    def optimize(self) -> None:
        # Merging segments writes them anew: room for a copy of the index.
        size = sum(f.stat().st_blocks * 512 for f in self.folder.rglob("*") if f.is_file())
        self._make_room(MIN_FREE_BYTES + size)
        with self._errors() as shard:
            shard.optimize()
            shard.flush()

    def ping(self) -> bool:
        """True if the shard reads: it is in this process, but its files may be damaged."""
        if self._shard is None:
            return True
        try:
            self._shard.scroll(edge.ScrollRequest(limit=2, with_payload=True, with_vector=False))
        except BaseException as exc:
            _reraise_unless_edge(exc)
            return False
        return True

    def close(self) -> None:
        if self._shard is not None:
            self._shard.flush()
            self._shard.close()
            self._shard = None


def _vectors(point: StoredPoint) -> dict[str, edge.NamedVector]:
    vectors: dict[str, edge.NamedVector] = {}
    if point.sparse is not None:
        vectors[SPARSE] = _sparse(point.sparse)
    if point.dense is not None:
        vectors[DENSE] = point.dense
    return vectors
