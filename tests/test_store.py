"""The index on both engines: Qdrant Edge ranks as the server code path does, tied scores come
back in one order, the term statistics match the chunks, and an index of the old layout or a
folder that is not an index is rebuilt or named rather than misread."""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from qdrant_client import QdrantClient, models
from typer.testing import CliRunner

from bookrag.api.app import create_app
from bookrag.cli import app
from bookrag.config import Settings
from bookrag.errors import IndexMismatch, StoreUnavailable
from bookrag.index import lexical
from bookrag.index.connection import open_store
from bookrag.index.engine import SPARSE, Where
from bookrag.index.engine_edge import EdgeEngine
from bookrag.index.ingest import ingest, site_config
from bookrag.index.store import BookStore
from bookrag.providers.base import InputType
from conftest import LOCAL_MODE_INDEXES, server_store
from fakes.cohere import embedding

QUERIES = [
    "rain gauge calibration",
    "BME280 default I2C address",
    "how do I run the logger at boot with systemd",
    "power supply volts amps",
    "dashboard refresh every 30 seconds",
]


class WordEmbedder:
    """A deterministic embedder: each word adds ±1 at a hashed coordinate."""

    model = "words-32"
    batch_size = 64
    service = "the word embedder"

    def embed_batch(self, texts: Sequence[str], input_type: InputType) -> list[list[float]]:
        return [embedding(text, 32) for text in texts]


def index(store: BookStore, docs: Path, embedder: WordEmbedder | None = None) -> None:
    ingest(store, docs, site_config(docs, None, None), 350, embedder)


def ranking(store: BookStore, query: str, dense: bool) -> list[tuple[str, float]]:
    vector = embedding(query, 32) if dense else None
    return [(hit.id, round(hit.score, 4)) for hit in store.search(query, 10, vector)]


@pytest.mark.filterwarnings(LOCAL_MODE_INDEXES)
@pytest.mark.parametrize("dense", [False, True], ids=["bm25", "hybrid"])
def test_edge_ranks_as_the_server_code_path_does(
    settings: Settings, sample_docs: Path, tmp_path: Path, dense: bool
) -> None:
    embedder = WordEmbedder() if dense else None
    edge, server = open_store(settings), server_store(tmp_path / "server")
    try:
        index(edge, sample_docs, embedder)
        index(server, sample_docs, embedder)
        for query in QUERIES:
            ours, theirs = ranking(edge, query, dense), ranking(server, query, dense)
            assert ours, query
            if not dense:
                assert ours == theirs, query
                continue
            # Fused: the same scores; chunks tied inside one prefetch (field weighting makes
            # BM25 ties) may be ranked apart differently by each engine before RRF.
            assert [score for _, score in ours] == [score for _, score in theirs], query
            shared = {point for point, _ in ours} & {point for point, _ in theirs}
            assert len(shared) >= 0.8 * len(ours), query
    finally:
        edge.close()
        server.close()


def test_tied_scores_come_back_in_one_order(store: BookStore, tmp_path: Path) -> None:
    docs = tmp_path / "twins"
    docs.mkdir()
    for n in range(12):  # twelve pages with the same text score the same for any query
        (docs / f"twin-{n:02d}.md").write_text("# Twin\n\nThe anemometer spins in the wind.\n")
    index(store, docs)
    first = store.search("anemometer wind", 8)
    assert len(first) == 8 and len({hit.score for hit in first}) == 1
    assert [hit.id for hit in first] == sorted(hit.id for hit in first)
    for _ in range(5):
        assert [hit.id for hit in store.search("anemometer wind", 8)] == [h.id for h in first]


def test_term_statistics_count_the_chunks_holding_each_term(
    store: BookStore, sample_docs: Path
) -> None:
    index(store, sample_docs)
    held: Counter[int] = Counter()
    chunks = 0
    for _, _, vector in store.engine.scroll(Where(kind="chunk"), False, SPARSE):
        assert isinstance(vector, lexical.SparseVector)
        held.update(vector.indices)
        chunks += 1
    terms = list(lexical.query_vector("rain gauge bucket voltage").indices)
    df, total = store.document_frequencies(terms)
    assert total == chunks == store.stats().chunks == len(store.chunks())
    assert df == {t: held[t] for t in terms} and all(df.values())


@pytest.mark.parametrize("dense", [False, True], ids=["bm25", "hybrid"])
def test_each_hit_carries_the_bm25_vector_it_was_indexed_with(
    store: BookStore, sample_docs: Path, dense: bool
) -> None:
    index(store, sample_docs, WordEmbedder() if dense else None)
    query = "rain gauge calibration"
    hits = store.search(query, 8, embedding(query, 32) if dense else None)
    assert hits
    for hit in hits:
        p = hit.payload
        trail = " › ".join([p["title"], *p["headings"]])
        indexed = lexical.document_vector(f"{trail}\n{p['text']}")
        assert hit.sparse is not None and hit.sparse.indices == indexed.indices
        assert hit.sparse.values == pytest.approx(indexed.values, rel=1e-6)  # stored as float32


def test_search_after_a_page_changes_sees_the_change(store: BookStore, sample_docs: Path) -> None:
    index(store, sample_docs)
    assert any(
        h.payload["source"] == "02-sensors/rain-and-wind.md" for h in store.search("rain gauge", 5)
    )
    store.remove_page("02-sensors/rain-and-wind.md")
    after = store.search("rain gauge", 5)
    assert after and all(h.payload["source"] != "02-sensors/rain-and-wind.md" for h in after)


def test_edge_index_has_the_payload_indexes_and_survives_a_reopen(
    settings: Settings, sample_docs: Path
) -> None:
    store = open_store(settings)
    index(store, sample_docs)
    expected = [(h.id, h.score) for h in store.search("rain gauge", 5)]
    store.close()
    engine = EdgeEngine.open(settings.index_path, settings.collection_name)
    try:
        assert engine._shard is not None
        schema = engine._shard.info().payload_schema
        assert set(schema) == {"kind", "source", "url_path", "text_hash", "chunk_index"}
    finally:
        engine.close()
    reopened = open_store(settings)
    try:
        assert [(h.id, h.score) for h in reopened.search("rain gauge", 5)] == expected
        assert reopened.stats().pages == 9
    finally:
        reopened.close()


def write_old_layout(settings: Settings) -> None:
    """An index as bookrag wrote it before Qdrant Edge: qdrant-client's local mode, the
    fingerprint in the collection's metadata."""
    client = QdrantClient(path=str(settings.index_path))
    client.create_collection(
        "book",
        vectors_config={},
        sparse_vectors_config={"bm25": models.SparseVectorParams(modifier=models.Modifier.IDF)},
        metadata={"schema": 1, "dense_model": None, "dense_dim": None},
    )
    client.upsert("book", [models.PointStruct(id=1, vector={}, payload={"kind": "page"})])
    client.close()


def test_an_index_of_the_old_layout_is_rebuilt_with_a_note(
    settings: Settings, sample_docs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_old_layout(settings)
    monkeypatch.setenv("BOOKRAG_DATA_DIR", str(settings.data_dir))
    result = CliRunner().invoke(app, ["ingest", str(sample_docs)])
    assert result.exit_code == 0, result.output
    notes = [line for line in result.output.splitlines() if line.startswith("note:")]
    assert notes == ["note: the index was written by an older bookrag; re-indexing every page"]
    assert not (settings.index_path / "collection").exists()
    again = CliRunner().invoke(app, ["ingest", str(sample_docs)])
    assert "note:" not in again.output
    found = CliRunner().invoke(app, ["search", "tipping bucket rain"])
    assert "sensors/rain-wind" in found.output


@pytest.mark.filterwarnings(LOCAL_MODE_INDEXES)
def test_a_server_collection_without_the_layout_point_is_rebuilt(
    tmp_path: Path, sample_docs: Path
) -> None:
    client = QdrantClient(path=str(tmp_path / "server"))
    client.create_collection("book", vectors_config={}, metadata={"schema": 1, "dense_model": None})
    client.close()
    store = server_store(tmp_path / "server")
    try:
        report = ingest(store, sample_docs, site_config(sample_docs, None, None), 350)
        assert report.rebuilt is not None and "older bookrag" in report.rebuilt
        assert store.stats().pages == 9 and store.search("rain gauge", 1)
    finally:
        store.close()


@pytest.mark.parametrize(
    ("files", "says"),
    [
        ({"notes.txt": "my own files"}, "is not a bookrag index"),
        ({"edge_config.json": "{not json", "segments/x": ""}, "cannot be read"),
    ],
    ids=["foreign", "corrupt"],
)
def test_a_folder_that_is_not_an_index_is_named_not_misread(
    settings: Settings, files: dict[str, str], says: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = settings.index_path / "edge" / "book"
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    with pytest.raises(StoreUnavailable, match=says) as raised:
        open_store(settings)
    assert str(folder) in raised.value.message
    monkeypatch.setenv("BOOKRAG_DATA_DIR", str(settings.data_dir))
    result = CliRunner().invoke(app, ["search", "rain"])
    assert result.exit_code != 0 and str(folder) in result.output
    assert "Traceback" not in result.output
    assert all((folder / name).read_text() == text for name, text in files.items())


def test_a_panic_in_edge_is_the_index_failing_not_the_process(
    settings: Settings, sample_docs: Path
) -> None:
    # Damaged files can make Edge's Rust code panic: pyo3 raises a PanicException, which
    # is a BaseException, past `except Exception`.
    class PanicException(BaseException):
        pass

    class Panicking:
        def __init__(self, shard: Any) -> None:
            self.shard = shard

        def __getattr__(self, name: str) -> Any:
            return getattr(self.shard, name)

        def scroll(self, *args: Any) -> Any:
            raise PanicException("assertion failed: byte_offset < page_size_bytes")

    store = open_store(settings)
    ingest(store, sample_docs, site_config(sample_docs, None, None), 350)
    engine = store.engine
    assert isinstance(engine, EdgeEngine)
    engine._shard = Panicking(engine._shard)
    try:
        assert store.ping() is False
        with pytest.raises(StoreUnavailable, match="byte_offset"):
            store.pages()
    finally:
        engine._shard = engine._shard.shard
        store.close()


def test_a_full_disk_stops_the_embedded_index_with_a_message_not_a_crash(
    settings: Settings, sample_docs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Edge maps its files into memory: writing, or even loading, with no room left on the
    # disk kills the process with SIGBUS. bookrag must refuse first.
    site = site_config(sample_docs, None, None)
    store = open_store(settings)
    ingest(store, sample_docs, site, 350)
    real = shutil.disk_usage
    free = {"bytes": 10 * 2**20}

    def disk_usage(path: Any) -> Any:
        return real(path)._replace(free=free["bytes"])

    monkeypatch.setattr(shutil, "disk_usage", disk_usage)
    changed = settings.data_dir.parent / "changed"
    shutil.copytree(sample_docs, changed)
    try:
        (changed / "intro.md").write_text("# Intro\n\nThe station now measures snow depth.\n")
        with pytest.raises(StoreUnavailable, match=r"10 MB free.*Free some space"):
            ingest(store, changed, site, 350)
        assert store.search("tipping bucket rain", 1)  # what was indexed before answers
        with pytest.raises(StoreUnavailable, match="10 MB free"):
            store.drop()  # as a rebuild for another embedding model would, first
        assert store.stats().pages == 9
    finally:
        store.close()
        shutil.rmtree(changed, ignore_errors=True)
    with pytest.raises(StoreUnavailable, match="10 MB free"):
        open_store(settings)
    free["bytes"] = 10 * 2**30
    reopened = open_store(settings)
    assert reopened.stats().pages == 9
    reopened.close()


def test_a_server_started_on_an_index_of_the_old_layout_says_what_to_run(
    settings: Settings,
) -> None:
    write_old_layout(settings)
    with (
        pytest.raises(IndexMismatch, match=r"older bookrag.*bookrag ingest"),
        TestClient(create_app(settings)),
    ):
        pass
    assert (settings.index_path / "collection" / "book").is_dir()  # left for ingest to rebuild
