"""The stored dense vectors as one normalised float32 matrix, for the embedded (local) mode.

Qdrant's local mode re-normalises every stored vector on every query before the dot product
(measured 4 ms p50, 10 ms p95 a query on a 2,600-chunk book at 1,024 dimensions). Cosine
similarity against a matrix normalised once gives the same scores for a fraction of that.
Rebuilt from the stored vectors whenever ingest changes them, like `SparseIndex`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np


class DenseIndex:
    """Rows of unit vectors; `top` ranks them by cosine similarity."""

    def __init__(self, entries: Iterable[tuple[str, Sequence[float]]]) -> None:
        ids: list[str] = []
        rows: list[Sequence[float]] = []
        for point_id, vector in entries:
            ids.append(point_id)
            rows.append(vector)
        self.point_ids = ids
        matrix = np.asarray(rows, dtype=np.float32).reshape(len(rows), -1 if rows else 0)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        self._matrix = matrix / np.where(norms == 0, 1, norms)

    def __len__(self) -> int:
        return len(self.point_ids)

    def top(self, query: Sequence[float], limit: int) -> list[tuple[str, float]]:
        """The `limit` nearest points to `query`, as (point id, cosine similarity)."""
        if not self.point_ids:
            return []
        vector = np.asarray(query, dtype=np.float32)
        norm = float(np.linalg.norm(vector))
        scores = self._matrix @ (vector / (norm or 1.0))
        count = min(limit, len(scores))
        best = np.argpartition(-scores, count - 1)[:count]
        ordered = best[np.argsort(-scores[best], kind="stable")]
        return [(self.point_ids[i], float(scores[i])) for i in ordered]
