"""What the store asks of a Qdrant engine: one small interface, two implementations.

`engine_edge.EdgeEngine` runs Qdrant Edge in this process (the embedded default);
`engine_server.ServerEngine` talks to a Qdrant server or cluster through qdrant-client.
Both hold the same points (see `store`), build the same vectors and payload indexes and
answer the same query shapes: a BM25 query on the sparse vector `bm25`, or a dense and a
sparse prefetch fused by reciprocal rank fusion. Filters are only ever "these payload fields
equal these values (or one of these text hashes), and `chunk_index` is at least n", so
`Where` says exactly that.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bookrag.index.lexical import SparseVector

SPARSE = "bm25"
DENSE = "dense"
# Keyword indexes; chunk_index is an integer one.
PAYLOAD_INDEXES = ("kind", "source", "url_path", "text_hash")
RRF_K = 2  # Qdrant's default constant for reciprocal rank fusion


def named_vector(vectors: object, name: str | None, sparse_type: type[Any]) -> Any:
    """A point's vector called `name`, as its client library returned `vectors` (a dict of
    named vectors); a sparse one (of the library's `sparse_type`) as bookrag's
    `SparseVector`. None when there is no such vector."""
    found = vectors.get(name) if isinstance(vectors, dict) and name else None
    if isinstance(found, sparse_type):
        return SparseVector(found.indices, found.values)
    return found


@dataclass(frozen=True)
class Where:
    """Conditions a point's payload must all meet."""

    kind: str | None = None
    source: str | None = None
    chunk_index_from: int | None = None
    text_hashes: tuple[str, ...] | None = None  # `text_hash` is one of them


@dataclass(frozen=True)
class StoredPoint:
    """A point to write: its id, payload and vectors (none for records)."""

    id: str
    payload: dict[str, Any]
    sparse: SparseVector | None = None
    dense: list[float] | None = None


@dataclass(frozen=True)
class Scored:
    """A point a query found."""

    id: str
    score: float
    payload: dict[str, Any]
    sparse: SparseVector | None = None  # the point's BM25 vector (it has one unless a record)


class Engine(Protocol):
    """One collection (a Qdrant Edge shard, or a collection on a server)."""

    def exists(self) -> bool:
        """True if the collection is there (whatever its layout)."""
        ...

    def create(self, dense_dim: int | None) -> None:
        """Create the collection: `bm25` with the IDF modifier, `dense` (cosine) when
        `dense_dim` is given, and the payload indexes."""
        ...

    def drop(self) -> None:
        """Delete the collection and everything in it."""
        ...

    def upsert(self, points: Sequence[StoredPoint]) -> None: ...

    def delete(self, where: Where) -> None: ...

    def delete_ids(self, ids: Sequence[str]) -> None: ...

    def count(self, where: Where) -> int: ...

    def scroll(
        self, where: Where, payload: bool | list[str], vector: str | None = None
    ) -> Iterator[tuple[str, dict[str, Any], object]]:
        """Every matching point as (id, payload, the named vector or None)."""
        ...

    def retrieve(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """The payloads of those of `ids` that exist."""
        ...

    def query(
        self, sparse: SparseVector | None, dense: list[float] | None, limit: int
    ) -> list[Scored]:
        """BM25 alone, dense alone, or both fused by RRF (the same query a server runs); each
        hit comes with its BM25 vector."""
        ...

    def staging(self) -> Engine:
        """The collection a full rebuild is written into, beside this one (left as a failed
        or killed rebuild left it, if one did)."""
        ...

    def promote(self, staging: Engine) -> None:
        """Make the complete collection `staging` wrote the one this engine answers from, in
        place of its own (deleted), as atomically as the engine allows."""
        ...

    def flush(self) -> None:
        """Make the writes so far durable (a no-op where the engine already has)."""
        ...

    def optimize(self) -> None:
        """Merge segments and build the HNSW graph after a batch of writes, if needed."""
        ...

    def ping(self) -> bool: ...

    def close(self) -> None: ...
