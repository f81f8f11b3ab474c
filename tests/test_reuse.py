"""An index never pays to embed a text it holds a vector of by the same model, on both engines:
counted as the texts the fake Cohere receives while the sample book (its docs folder, or its
published site) is indexed, edited, moved to another URL and rebuilt; another model (or a
key added to a keyless index) still embeds every text, and an index from before `text_hash`
is embedded again without an error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from bookrag.book.chunking import BREADCRUMB_SEPARATOR
from bookrag.book.site_config import SiteConfig
from bookrag.config import load_settings
from bookrag.index.connection import open_store
from bookrag.index.engine import DENSE, SPARSE, StoredPoint, Where
from bookrag.index.engine_edge import EdgeEngine
from bookrag.index.engine_server import ServerEngine
from bookrag.index.ingest import ingest, site_config
from bookrag.index.lexical import SparseVector
from bookrag.index.outcomes import IngestReport
from bookrag.index.points import LAYOUT_ID, SCHEMA
from bookrag.index.site_ingest import ingest_site
from bookrag.index.store import BookStore
from conftest import LOCAL_MODE_INDEXES, ROOT, SAMPLE_DOCS, server_store
from fakes import FakeCohere
from fakes.cohere import embedding
from fakes.site import FakeSite
from test_cohere import embedder_for
from test_rebuild import ENGLISH, MULTILINGUAL, POLICY, TOKENS, assert_serves, model

PAGE = "02-sensors/rain-and-wind.md"
PARAGRAPH = "Repeat the test three times and average the results."
SITE = site_config(SAMPLE_DOCS, None, None)
PUBLIC = "https://pocket-weather.example.org"  # where the built site says it is
SITE_FIXTURE = ROOT / "tests" / "fixtures" / "sample-site"  # the sample book, built
QUERIES = ["rain gauge calibration", "BME280 default I2C address", "anemometer gust"]


@pytest.fixture
def fake() -> Iterator[FakeCohere]:
    with FakeCohere(dims={ENGLISH: 64, MULTILINGUAL: 48}) as server:
        yield server


def index_with(
    store: BookStore,
    fake: FakeCohere,
    tmp_path: Path,
    name: str | None = ENGLISH,
    docs: Path = SAMPLE_DOCS,
    site: SiteConfig | None = None,
) -> tuple[IngestReport, list[str]]:
    """Ingest `docs` with model `name`: the report and every text sent to be embedded."""
    fake.reset()
    with embedder_for(model(fake, tmp_path, name)) as embedder:
        site = site or site_config(docs, None, None)
        report = ingest(store, docs, site, TOKENS, embedder, POLICY)
    sent = [text for call in fake.calls("/v2/embed") for text in call.json["texts"]]
    return report, sent


def embedded_texts(store: BookStore, source: str | None = None) -> list[str]:
    """The text each chunk (of `source`, or of the book) is embedded by."""
    chunks = store.page_chunks(source) if source else store.chunks()
    return [
        f"{BREADCRUMB_SEPARATOR.join([c['title'], *c['headings']])}\n{c['text']}" for c in chunks
    ]


def age_layout(store: BookStore) -> None:
    """Mark the index as written by the bookrag before the last layout (`SCHEMA`) bump."""
    layout = store.engine.retrieve([LAYOUT_ID])[LAYOUT_ID]
    store.engine.upsert([StoredPoint(LAYOUT_ID, {**layout, "schema": SCHEMA - 1})])
    store.engine.flush()


def dense_vectors(store: BookStore) -> dict[str, Any]:
    return {i: v for i, _, v in store.engine.scroll(Where(kind="chunk"), False, DENSE)}


def assert_same_vectors(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    """The same vector for each point, but for the last bit of a float32 (a server normalises
    a cosine vector again as it stores it)."""
    assert ours.keys() == theirs.keys()
    for point, vector in ours.items():
        assert vector == pytest.approx(theirs[point], abs=1e-6), point


def test_the_first_ingest_embeds_every_text_once(
    store: BookStore, fake: FakeCohere, tmp_path: Path
) -> None:
    report, sent = index_with(store, fake, tmp_path)
    texts = embedded_texts(store)
    assert len(texts) == store.chunk_count() > 40
    assert sorted(sent) == sorted(set(texts)) and report.embedded == len(sent)
    assert all(len(c["text_hash"]) == 64 for c in store.chunks())


def test_an_edited_paragraph_embeds_only_the_chunks_it_changed(
    store: BookStore, fake: FakeCohere, tmp_path: Path, book_copy: Path
) -> None:
    docs = book_copy / "docs"
    index_with(store, fake, tmp_path, docs=docs)
    before = set(embedded_texts(store))
    page = docs / PAGE
    page.write_text(page.read_text().replace(PARAGRAPH, "Repeat the test five times."))
    report, sent = index_with(store, fake, tmp_path, docs=docs)
    changed = [t for t in embedded_texts(store, PAGE) if t not in before]
    assert report.indexed == [PAGE] and 0 < len(changed) < len(store.page_chunks(PAGE))
    assert sorted(sent) == sorted(changed)  # this page's changed chunks, no other
    assert report.reused == len(store.page_chunks(PAGE)) - len(changed)


def test_a_new_site_url_embeds_nothing_and_keeps_the_vectors_a_fresh_index_has(
    store: BookStore, fake: FakeCohere, tmp_path: Path
) -> None:
    index_with(store, fake, tmp_path)
    moved = site_config(SAMPLE_DOCS, "https://weather.example.org/station/", None)
    report, sent = index_with(store, fake, tmp_path, site=moved)
    assert len(report.indexed) == 9 and sent == []  # every page rewritten, nothing embedded
    assert all(c["url"].startswith("https://weather.example.org/station/") for c in store.chunks())
    fresh = fresh_store(store, tmp_path)
    try:
        index_with(fresh, fake, tmp_path, site=moved)  # the same book embedded anew
        assert_same_vectors(dense_vectors(store), dense_vectors(fresh))
        everything = store.chunk_count()
        for query in QUERIES:  # every chunk, scored by the query's embedding alone
            found = [s.engine.query(None, embedding(query, 64), everything) for s in (store, fresh)]
            scores = [{p.id: round(p.score, 5) for p in points} for points in found]
            assert len(scores[0]) == everything and scores[0] == scores[1], query
    finally:
        fresh.close()


def fresh_store(store: BookStore, tmp_path: Path) -> BookStore:
    """An empty store on the engine `store` runs on."""
    if isinstance(store.engine, EdgeEngine):
        return open_store(load_settings(data_dir=tmp_path / "fresh"))
    return server_store(tmp_path / "fresh-server")


def test_a_layout_bump_rebuilds_the_index_without_embedding(
    store: BookStore, fake: FakeCohere, tmp_path: Path
) -> None:
    index_with(store, fake, tmp_path)
    vectors = dense_vectors(store)
    age_layout(store)
    report, sent = index_with(store, fake, tmp_path)
    assert report.rebuilt and len(report.indexed) == 9
    assert sent == [] and report.reused == store.chunk_count()  # not even a probe
    assert store.fingerprint().schema == SCHEMA  # type: ignore[union-attr]
    assert_serves(store, ENGLISH)
    assert_same_vectors(dense_vectors(store), vectors)


class Stopped(Exception):
    """A rebuild stopped part way (a deploy, a crash of the machine)."""


def test_a_same_model_rebuild_cut_short_and_gone_on_with_embeds_nothing(
    store: BookStore, fake: FakeCohere, tmp_path: Path
) -> None:
    index_with(store, fake, tmp_path)
    age_layout(store)
    written: list[str] = []

    def stop_after_three(source: str) -> None:
        written.append(source)
        if len(written) == 3:
            raise Stopped

    fake.reset()
    with embedder_for(model(fake, tmp_path, ENGLISH)) as embedder, pytest.raises(Stopped):
        ingest(store, SAMPLE_DOCS, SITE, TOKENS, embedder, POLICY, on_page=stop_after_three)
    assert fake.calls("/v2/embed") == []
    report, sent = index_with(store, fake, tmp_path)  # goes on with the staging collection
    assert report.rebuilt and report.unchanged >= 2 and sent == []
    assert_serves(store, ENGLISH)
    _, again = index_with(store, fake, tmp_path)
    assert again == []


@pytest.mark.parametrize("before", [None, ENGLISH], ids=["keyless", "another-model"])
def test_a_rebuild_for_another_model_embeds_every_text(
    store: BookStore, fake: FakeCohere, tmp_path: Path, before: str | None
) -> None:
    report, _ = index_with(store, fake, tmp_path, before)
    if before is None:  # a keyless index records no hashes: it embedded nothing
        assert report.embedded is None and all("text_hash" not in c for c in store.chunks())
    report, sent = index_with(store, fake, tmp_path, MULTILINGUAL)
    assert report.rebuilt and sent[0] == "bookrag"  # the probe, then every text
    assert sorted(sent[1:]) == sorted(set(embedded_texts(store))) and report.reused == 0
    assert_serves(store, MULTILINGUAL)


def test_an_index_from_before_text_hashes_is_embedded_again_without_error(
    store: BookStore, fake: FakeCohere, tmp_path: Path
) -> None:
    index_with(store, fake, tmp_path)
    dense = dense_vectors(store)
    chunks = store.engine.scroll(Where(kind="chunk"), True, SPARSE)
    old = [  # each chunk as bookrag wrote it before it recorded `text_hash`
        StoredPoint(i, {k: v for k, v in p.items() if k != "text_hash"}, sparse, dense[i])
        for i, p, sparse in cast(Iterator[tuple[str, dict[str, Any], SparseVector]], chunks)
    ]
    store.engine.upsert(old)
    store.engine.flush()
    moved = site_config(SAMPLE_DOCS, "https://weather.example.org/", None)
    report, sent = index_with(store, fake, tmp_path, site=moved)
    assert len(report.indexed) == 9 and sorted(sent) == sorted(set(embedded_texts(store)))
    assert all("text_hash" in c for c in store.chunks())
    _, again = index_with(store, fake, tmp_path)  # and next time, nothing
    assert again == []


def test_a_published_site_read_again_embeds_only_what_changed(
    store: BookStore, fake: FakeCohere, tmp_path: Path
) -> None:
    site = FakeSite(SITE_FIXTURE, tmp_path).start()

    def read_site() -> tuple[IngestReport, list[str]]:
        fake.reset()
        with embedder_for(model(fake, tmp_path, ENGLISH)) as embedder:
            report = ingest_site(store, site.url, TOKENS, embedder, POLICY, site_url=PUBLIC)
        return report, [text for call in fake.calls("/v2/embed") for text in call.json["texts"]]

    try:
        _, first = read_site()
        assert len(first) == store.chunk_count() > 40
        before = set(embedded_texts(store))
        html = (site.root / "docs/intro.html").read_text()
        site.put("docs/intro.html", html.replace("two weekends", "three weekends"))
        report, sent = read_site()
        changed = [t for t in embedded_texts(store, "docs/intro") if t not in before]
        assert report.indexed == ["docs/intro"] and sent == changed and len(changed) == 1
        assert report.reused == len(store.page_chunks("docs/intro")) - 1 > 0
    finally:
        site.stop()


@pytest.mark.filterwarnings(LOCAL_MODE_INDEXES)
def test_a_server_collection_from_before_text_hash_is_given_its_index(
    fake: FakeCohere, tmp_path: Path, book_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A collection created before `text_hash` was recorded has no index of it; a cluster in
    # strict mode refuses a filter on an unindexed field, so the lookup indexes it first,
    # once. (Local mode keeps no payload indexes: the requests are what can be checked.)
    docs = book_copy / "docs"
    store = server_store(tmp_path / "server")
    index_with(store, fake, tmp_path, docs=docs)
    engine = cast(ServerEngine, store.engine)
    indexed: list[str] = []
    create = engine.client.create_payload_index

    def recorded(collection: str, field: str, *args: Any, **kwargs: Any) -> Any:
        indexed.append(field)
        return create(collection, field, *args, **kwargs)

    monkeypatch.setattr(engine.client, "create_payload_index", recorded)
    reopened = BookStore(ServerEngine(engine.client, engine.collection, shared=True), False)
    page = docs / PAGE
    original = page.read_text()
    for edit in ("five", "six"):  # two edits, two lookups
        page.write_text(original.replace(PARAGRAPH, f"Repeat the test {edit} times."))
        assert index_with(reopened, fake, tmp_path, docs=docs)[0].reused
    assert indexed == ["text_hash"]
    store.close()
