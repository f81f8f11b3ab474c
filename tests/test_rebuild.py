"""A full rebuild (another embedding model, a first key, an older bookrag's index) is written
beside the live index and swapped in once complete, on both engines: until then the live
index answers as it did, and a rebuild that fails or is killed leaves it as it was."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from qdrant_client import QdrantClient

from bookrag.api.app import create_app
from bookrag.config import Settings, load_settings
from bookrag.errors import UpstreamError
from bookrag.index import engine_edge
from bookrag.index.connection import open_store
from bookrag.index.engine_server import ServerEngine
from bookrag.index.ingest import ingest, site_config
from bookrag.index.store import BookStore
from bookrag.providers.base import RetryPolicy
from conftest import SAMPLE_DOCS
from fakes import FakeCohere
from test_cohere import cohere_settings, embedder_for

SITE = site_config(SAMPLE_DOCS, None, None)
TOKENS = 40  # small chunks: the sample book takes several embed batches
ENGLISH, MULTILINGUAL = "embed-english-v3.0", "embed-multilingual-v3.0"
POLICY = RetryPolicy(budget=0.2, cooldown=0)  # a failing embed gives up at once


@pytest.fixture
def fake() -> Iterator[FakeCohere]:
    with FakeCohere(dims={ENGLISH: 64, MULTILINGUAL: 48}) as server:
        yield server


def model(fake: FakeCohere, tmp_path: Path, name: str | None) -> Settings:
    """Settings whose embedder is Cohere's `name` (through the fake), or none."""
    if name is None:
        return load_settings(data_dir=tmp_path / "unused")
    return cohere_settings(fake, tmp_path, cohere_embed_model=name, retry_budget=0.2)


def index_with(store: BookStore, settings: Settings, max_tokens: int = TOKENS) -> None:
    with embedder_for(settings) as embedder:
        ingest(store, SAMPLE_DOCS, SITE, max_tokens, embedder, POLICY)


def fail_part_way(fake: FakeCohere) -> None:
    """The probe and the first batch are embedded, every later call answers 503."""
    fake.delay("/v2/embed", 0, times=2)
    fake.fail("/v2/embed", status=503, retry_after=None, times=1000)


def assert_serves(store: BookStore, dense_model: str | None, pages: int = 9) -> None:
    """The index is whole: its fingerprint, its pages and statistics, and it answers."""
    assert store.fingerprint().dense_model == dense_model  # type: ignore[union-attr]
    assert len(store.pages()) == pages and store.stats().pages == pages
    chunks = store.chunk_count()
    assert store.stats().chunks == chunks and store.document_frequencies([1])[1] == chunks
    hits = store.search("tipping bucket rain gauge", 5)
    assert hits and hits[0].payload["title"] == "Rain and Wind Sensors"


def test_a_rebuild_whose_embedder_fails_part_way_leaves_the_index_serving(
    store: BookStore, fake: FakeCohere, tmp_path: Path
) -> None:
    index_with(store, model(fake, tmp_path, ENGLISH))
    chunks = store.chunk_count()
    fail_part_way(fake)
    with pytest.raises(UpstreamError):
        index_with(store, model(fake, tmp_path, MULTILINGUAL))
    assert_serves(store, ENGLISH)
    assert store.fingerprint().dense_dim == 64  # type: ignore[union-attr]
    assert store.chunk_count() == chunks


def test_the_index_answers_as_before_while_a_rebuild_runs_then_is_replaced(
    store: BookStore, fake: FakeCohere, tmp_path: Path
) -> None:
    index_with(store, model(fake, tmp_path, None))  # keyless: BM25 only
    seen: list[str] = []

    def during(source: str) -> None:  # the rebuild's ingest, between two pages
        assert_serves(store, None)
        seen.append(source)

    with embedder_for(model(fake, tmp_path, ENGLISH)) as embedder:
        report = ingest(store, SAMPLE_DOCS, SITE, TOKENS, embedder, on_page=during)
    assert seen and report.rebuilt and len(report.indexed) == 9
    assert_serves(store, ENGLISH)
    assert store.fingerprint().dense_dim == 64  # type: ignore[union-attr]
    with embedder_for(model(fake, tmp_path, ENGLISH)) as embedder:
        again = ingest(store, SAMPLE_DOCS, SITE, TOKENS, embedder)
    assert not again.rebuilt and again.unchanged == 9  # the swapped-in index is the live one


def test_a_failed_rebuild_is_gone_on_with_and_a_stale_one_started_afresh(
    store: BookStore, fake: FakeCohere, tmp_path: Path
) -> None:
    index_with(store, model(fake, tmp_path, ENGLISH))
    total = len(fake.calls("/v2/embed"))
    fail_part_way(fake)
    with pytest.raises(UpstreamError):  # a multilingual rebuild, one batch written
        index_with(store, model(fake, tmp_path, MULTILINGUAL))
    assert_serves(store, ENGLISH)
    fake.reset()
    index_with(store, model(fake, tmp_path, MULTILINGUAL))
    assert_serves(store, MULTILINGUAL)
    assert len(fake.calls("/v2/embed")) < total + 1  # the pages written are not embedded again
    fail_part_way(fake)
    with pytest.raises(UpstreamError):  # an English rebuild, cut short
        index_with(store, model(fake, tmp_path, ENGLISH))
    index_with(store, model(fake, tmp_path, None))  # a keyless one starts afresh beside it
    assert_serves(store, None)


def test_an_older_index_on_a_server_is_moved_behind_an_alias_on_its_first_rebuild(
    tmp_path: Path, fake: FakeCohere, recwarn: pytest.WarningsRecorder
) -> None:
    client = QdrantClient(path=str(tmp_path / "server"))
    store = BookStore(ServerEngine(client, "book"), embedded=False)
    try:
        index_with(store, model(fake, tmp_path, None))
        assert client.collection_exists("book") and not client.get_aliases().aliases
        index_with(store, model(fake, tmp_path, ENGLISH))
        assert_serves(store, ENGLISH)
        aliases = {a.alias_name: a.collection_name for a in client.get_aliases().aliases}
        assert aliases == {"book": "book__blue"}
        index_with(store, model(fake, tmp_path, MULTILINGUAL))
        assert_serves(store, MULTILINGUAL)
        aliases = {a.alias_name: a.collection_name for a in client.get_aliases().aliases}
        names = {c.name for c in client.get_collections().collections}
        assert aliases == {"book": "book__green"} and names == {"book__green"}
        # A replica opened now reads the same index through the alias.
        replica = BookStore(ServerEngine(client, "book", shared=True), embedded=False)
        assert_serves(replica, MULTILINGUAL)
    finally:
        store.close()


def test_a_leftover_staging_collection_does_not_break_the_next_rebuild(
    store: BookStore, fake: FakeCohere, tmp_path: Path
) -> None:
    index_with(store, model(fake, tmp_path, None))
    staging = store.engine.staging()  # what a killed run left: a collection of another layout
    staging.create(None)
    staging.close()
    fail_part_way(fake)
    with pytest.raises(UpstreamError):
        index_with(store, model(fake, tmp_path, ENGLISH))
    assert_serves(store, None)
    fake.reset()
    index_with(store, model(fake, tmp_path, ENGLISH))
    assert_serves(store, ENGLISH)


def test_a_swap_cut_short_by_a_killed_process_is_finished_when_the_index_opens(
    fake: FakeCohere, tmp_path: Path
) -> None:
    settings = load_settings(data_dir=tmp_path / "data")
    store = open_store(settings)
    index_with(store, model(fake, tmp_path, ENGLISH))
    store.close()
    live = settings.index_path / "edge" / "book"
    shutil.copytree(live, live.with_name("book.staging"))  # complete, as before a swap
    live.rename(live.with_name("book.old"))  # killed between the swap's two renames
    reopened = open_store(settings)
    try:
        assert_serves(reopened, ENGLISH)
        assert sorted(p.name for p in live.parent.iterdir()) == ["book"]
    finally:
        reopened.close()


def test_a_server_keeps_answering_from_the_old_index_while_it_is_rebuilt(
    fake: FakeCohere, tmp_path: Path
) -> None:
    settings = load_settings(data_dir=tmp_path / "api-data", docs_dir=SAMPLE_DOCS)
    question = {"question": "How much rain does one tip of the bucket mean?"}
    paused, resume = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def hold(source: str) -> None:
        paused.set()
        resume.wait(30)

    with TestClient(create_app(settings)) as client:
        store: BookStore = client.app.state.book.store  # type: ignore[attr-defined]

        def rebuild() -> None:  # as a refresh with a newly added key does
            try:
                with embedder_for(model(fake, tmp_path, ENGLISH)) as embedder:
                    ingest(store, SAMPLE_DOCS, SITE, settings.chunk_tokens, embedder, on_page=hold)
            except BaseException as exc:
                failures.append(exc)

        worker = threading.Thread(target=rebuild)
        worker.start()
        try:
            assert paused.wait(30)
            health = client.get("/health")
            assert health.status_code == 200 and health.json()["index"]["pages"] == 9
            answer = client.post("/chat", json=question)
            assert answer.status_code == 200 and "0.2794 mm" in answer.json()["answer"]
        finally:
            resume.set()
            worker.join(60)
        assert not failures
        assert store.fingerprint().dense_model == ENGLISH  # type: ignore[union-attr]
        health = client.get("/health")
        assert health.status_code == 200 and health.json()["index"]["pages"] == 9
        answer = client.post("/chat", json=question)
        assert answer.status_code == 200 and "0.2794 mm" in answer.json()["answer"]


def test_a_staging_folder_that_is_no_index_is_cleared_by_the_next_rebuild(
    fake: FakeCohere, tmp_path: Path
) -> None:
    settings = load_settings(data_dir=tmp_path / "data")
    store = open_store(settings)
    try:
        index_with(store, model(fake, tmp_path, None))
        staging = settings.index_path / "edge" / "book.staging"
        staging.mkdir()
        (staging / "segment").write_bytes(b"\0" * 64)  # a shard a killed run had barely begun
        index_with(store, model(fake, tmp_path, ENGLISH))
        assert_serves(store, ENGLISH)
        assert not staging.exists()
    finally:
        store.close()


def test_a_swap_that_fails_half_way_still_leaves_an_index_serving(
    fake: FakeCohere, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = load_settings(data_dir=tmp_path / "data")
    store = open_store(settings)

    def cut_short(staging: Path, folder: Path) -> None:  # as if the second rename failed
        folder.rename(folder.with_name("book.old"))
        raise OSError("the disk went away")

    try:
        index_with(store, model(fake, tmp_path, None))
        monkeypatch.setattr(engine_edge, "swap_in", cut_short)
        with pytest.raises(OSError):
            index_with(store, model(fake, tmp_path, ENGLISH))
        assert_serves(store, ENGLISH)  # the complete rebuild was put in place all the same
    finally:
        store.close()


def test_a_server_searches_with_its_model_as_soon_as_a_rebuild_brings_its_vectors(
    fake: FakeCohere, tmp_path: Path
) -> None:
    # A keyed server on a keyless index searches lexically, and read the index's model at
    # most once a minute: after its refresh had swapped in the re-embedded book it went on
    # searching lexically for up to a minute.
    keyless = open_store(load_settings(data_dir=tmp_path / "data"))
    index_with(keyless, model(fake, tmp_path, None), 350)
    keyless.close()
    settings = cohere_settings(fake, tmp_path, docs_dir=SAMPLE_DOCS, retry_budget=0.2)
    fake.fail("/v2/embed", status=503, retry_after=None, times=1000)  # the start-up run fails
    with TestClient(create_app(settings)) as client:
        health = client.get("/health").json()
        assert health["retrieval"] == "lexical" and health["index"]["pages"] == 9
        fake.reset()
        assert client.app.state.refresher.run() is not None  # type: ignore[attr-defined]
        health = client.get("/health").json()
        assert health["retrieval"] == "hybrid+rerank" and health["index"]["pages"] == 9
