"""bookrag's filters, vectors and queries as Qdrant Edge's request types."""

from __future__ import annotations

from typing import Any

import qdrant_edge as edge

from bookrag.index.engine import DENSE, RRF_K, SPARSE, StoredPoint, Where, named_vector
from bookrag.index.lexical import SparseVector


def edge_filter(where: Where) -> edge.Filter:
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
    if where.text_hashes is not None:
        must.append(
            edge.FieldCondition(key="text_hash", match=edge.MatchAny(list(where.text_hashes)))
        )
    return edge.Filter(must=must)


def edge_sparse(vector: SparseVector) -> edge.SparseVector:
    return edge.SparseVector(list(vector.indices), list(vector.values))


def named(vectors: object, name: str | None) -> Any:
    return named_vector(vectors, name, edge.SparseVector)


def edge_vectors(point: StoredPoint) -> dict[str, edge.NamedVector]:
    vectors: dict[str, edge.NamedVector] = {}
    if point.sparse is not None:
        vectors[SPARSE] = edge_sparse(point.sparse)
    if point.dense is not None:
        vectors[DENSE] = point.dense
    return vectors


def query_request(
    sparse: SparseVector | None, dense: list[float] | None, limit: int
) -> edge.QueryRequest:
    """BM25 alone, dense alone, or both fused by RRF; each hit with its BM25 vector."""
    stages = []
    if dense is not None:
        stages.append(edge.Query.Nearest(dense, using=DENSE))
    if sparse is not None:
        stages.append(edge.Query.Nearest(edge_sparse(sparse), using=SPARSE))
    if len(stages) == 1:
        return edge.QueryRequest(
            limit=limit, query=stages[0], with_payload=True, with_vector=[SPARSE]
        )
    return edge.QueryRequest(
        limit=limit,
        prefetches=[edge.Prefetch(limit=limit, query=stage) for stage in stages],
        query=edge.Fusion.Rrf(k=RRF_K),  # type: ignore[arg-type]  # the stub omits it
        with_payload=True,
        with_vector=[SPARSE],
    )
