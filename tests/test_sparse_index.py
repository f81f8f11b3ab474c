"""The embedded mode's in-memory indexes rank exactly as Qdrant's own searches do."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from qdrant_client import QdrantClient, models

from bookrag import lexical
from bookrag.dense_index import DenseIndex
from bookrag.sparse_index import SparseIndex
from bookrag.store import DENSE, SPARSE, BookStore


@pytest.mark.parametrize(
    "query",
    [
        "rain gauge calibration",
        "BME280 default I2C address",
        "how do I run the logger at boot with systemd",
        "power supply volts amps",
        "dashboard refresh every 30 seconds",
    ],
)
def test_index_ranks_like_qdrant_sparse_search(indexed_store: BookStore, query: str) -> None:
    vector = lexical.query_vector(query)
    qdrant = indexed_store.client.query_points(
        indexed_store.collection, query=vector, using=SPARSE, limit=10
    ).points
    ours = indexed_store.local.sparse().top(vector, 10)
    # Chunks with equal scores may come in either order (Qdrant keeps no tie-break promise).
    assert sorted((-round(s, 4), p_id) for p_id, s in ours) == sorted(
        (-round(p.score, 4), str(p.id)) for p in qdrant
    )
    assert [round(score, 4) for _, score in ours] == [round(p.score, 4) for p in qdrant]


def test_index_counts_document_frequencies_and_skips_unknown_terms() -> None:
    index = SparseIndex(
        [
            ("a", models.SparseVector(indices=[1, 2], values=[1.0, 0.5])),
            ("b", models.SparseVector(indices=[2], values=[2.0])),
        ]
    )
    assert (index.document_frequency(1), index.document_frequency(2)) == (1, 2)
    assert index.document_frequency(99) == 0
    top = index.top(models.SparseVector(indices=[2, 99], values=[1.0, 1.0]), 5)
    assert [point for point, _ in top] == ["b", "a"]
    assert index.top(models.SparseVector(indices=[99], values=[1.0]), 5) == []


def test_search_after_a_page_changes_sees_the_change(indexed_store: BookStore) -> None:
    before = indexed_store.search("rain gauge", 5)
    assert before
    indexed_store.remove_page("02-sensors/rain-and-wind.md")
    after = indexed_store.search("rain gauge", 5)
    assert all(h.payload["source"] != "02-sensors/rain-and-wind.md" for h in after)


def test_dense_index_ranks_like_qdrant_cosine_search(tmp_path: Path) -> None:
    client = QdrantClient(path=str(tmp_path / "q"))
    client.create_collection(
        "c", vectors_config={DENSE: models.VectorParams(size=32, distance=models.Distance.COSINE)}
    )
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(300, 32)).tolist()
    client.upsert("c", [models.PointStruct(id=i, vector={DENSE: v}) for i, v in enumerate(vectors)])
    index = DenseIndex((str(i), v) for i, v in enumerate(vectors))
    for query in rng.normal(size=(5, 32)).tolist():
        qdrant = client.query_points("c", query=query, using=DENSE, limit=10).points
        ours = index.top(query, 10)
        assert [p_id for p_id, _ in ours] == [str(p.id) for p in qdrant]
        assert [round(s, 4) for _, s in ours] == [round(p.score, 4) for p in qdrant]
    client.close()
    assert DenseIndex([]).top([1.0, 0.0], 5) == []
