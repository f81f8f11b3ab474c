"""The embedded (local) mode's search: in-memory indexes over the stored vectors.

Qdrant's local mode scores every stored point in Python on every query; `SparseIndex` and
`DenseIndex` give the same scores from posting lists and a normalised matrix, and
qdrant-client's own RRF fuses them as a server's hybrid query would. They are built from
the stored vectors on first use (once, however many requests arrive together) and dropped
whenever the index changes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable

from qdrant_client import models
from qdrant_client.hybrid.fusion import reciprocal_rank_fusion

from bookrag.dense_index import DenseIndex
from bookrag.sparse_index import SparseIndex

SparseSource = Callable[[], Iterable[tuple[str, models.SparseVector]]]
DenseSource = Callable[[], Iterable[tuple[str, list[float]]]]


class LocalSearch:
    """Ranks point ids for a sparse (and optionally dense) query without Qdrant's scan."""

    def __init__(self, sparse_source: SparseSource, dense_source: DenseSource) -> None:
        self._sparse_source = sparse_source
        self._dense_source = dense_source
        self._sparse: SparseIndex | None = None
        self._dense: DenseIndex | None = None
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        """Forget both indexes (the stored vectors changed)."""
        self._sparse = self._dense = None

    def use_sparse(self, index: SparseIndex) -> None:
        """Adopt a sparse index already built from the current vectors."""
        self._sparse = index

    def sparse(self) -> SparseIndex:
        index = self._sparse
        if index is None:
            with self._lock:
                index = self._sparse
                if index is None:
                    index = self._sparse = SparseIndex(self._sparse_source())
        return index

    def dense(self) -> DenseIndex:
        index = self._dense
        if index is None:
            with self._lock:
                index = self._dense
                if index is None:
                    index = self._dense = DenseIndex(self._dense_source())
        return index

    def rank(
        self, sparse: models.SparseVector, limit: int, dense: list[float] | None
    ) -> list[models.ScoredPoint]:
        """The best points for the query, fused by RRF when there is a dense side."""
        ranked = _scored(self.sparse().top(sparse, limit))
        if dense is None:
            return ranked
        dense_ranked = _scored(self.dense().top(dense, limit))
        return reciprocal_rank_fusion([dense_ranked, ranked] if ranked else [dense_ranked], limit)


def _scored(pairs: list[tuple[str, float]]) -> list[models.ScoredPoint]:
    return [models.ScoredPoint(id=point_id, version=0, score=score) for point_id, score in pairs]
