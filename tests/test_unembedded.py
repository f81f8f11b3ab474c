"""A keyed server that cannot embed its book as it starts (the provider down, the key
refused) serves it lexically, and embeds it once the provider answers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from bookrag.api.app import create_app
from bookrag.config import Settings, load_settings
from bookrag.index import refresh
from conftest import ROOT
from fakes import FakeCohere
from fakes.site import FakeSite

PUBLIC = "https://pocket-weather.example.org"
RAIN_PAGE = f"{PUBLIC}/docs/sensors/rain-wind"
SECRET = "test-key"


@pytest.fixture
def fake() -> Iterator[FakeCohere]:
    with FakeCohere(dims={"embed-english-v3.0": 64}) as server:
        yield server


def keyed(fake: FakeCohere, tmp_path: Path, docs: Path | None = None, **source: Any) -> Settings:
    return load_settings(
        data_dir=tmp_path / "data",
        docs_dir=docs,
        **source,
        cohere_api_key=SECRET,
        cohere_base_url=fake.url,
        retry_budget=0.2,
        upstream_timeout=2.0,
        upstream_cooldown=0,
    )


def health_when(client: TestClient, done: Any, seconds: float = 20.0) -> dict[str, Any]:
    """`/health` once `done` holds of it (or as it is after `seconds`)."""
    deadline = time.monotonic() + seconds
    while True:
        health: dict[str, Any] = client.get("/health").json()
        if done(health) or time.monotonic() > deadline:
            return health
        time.sleep(0.05)


@pytest.mark.parametrize("status", [401, 503])
def test_a_book_that_cannot_be_embedded_at_start_is_served_lexically_then_embedded(
    fake: FakeCohere,
    tmp_path: Path,
    sample_docs: Path,
    status: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A Space started while Cohere is down, or with a key Cohere refuses: every question was
    # a 503 ("the book is not indexed yet") until the server was restarted with Cohere back.
    monkeypatch.setattr(refresh, "EMBED_RETRY_MINUTES", 0.5 / 60)  # half a second
    fake.fail("/v2/embed", status=status, retry_after=None, times=1000)
    with TestClient(create_app(keyed(fake, tmp_path, sample_docs))) as client:
        health = client.get("/health").json()
        assert health["index"]["pages"] == 9
        assert health["retrieval"] == "lexical"
        assert health["refresh"]["status"] == "lexical"
        assert "lexical search" in health["refresh"]["error"]
        assert SECRET not in client.get("/health").text
        body = client.post("/chat", json={"question": "How much rain is one tip?"}).json()
        assert body["sources"][0].startswith(RAIN_PAGE)
        assert body["degraded"] is True
        fake.reset()  # Cohere answers again: the next retry embeds the book
        health = health_when(client, lambda h: h["retrieval"] == "hybrid+rerank")
        assert health["retrieval"] == "hybrid+rerank"
        assert health["refresh"]["status"] == "ok" and health["refresh"]["error"] is None
        assert fake.calls("/v2/embed")  # the book's chunks, then the question
        body = client.post("/chat", json={"question": "How much rain is one tip?"}).json()
        assert body["sources"][0].startswith(RAIN_PAGE) and body["degraded"] is False


def test_a_book_served_lexically_and_restarted_during_the_outage_is_embedded_once_it_ends(
    fake: FakeCohere, tmp_path: Path, sample_docs: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The second start found pages in the index and kept it as it was, failed, and never
    # tried again: answers stayed lexical and `degraded` after Cohere came back.
    monkeypatch.setattr(refresh, "EMBED_RETRY_MINUTES", 0.5 / 60)
    fake.fail("/v2/embed", status=503, retry_after=None, times=1000)
    settings = keyed(fake, tmp_path, sample_docs)
    with TestClient(create_app(settings)) as client:
        assert client.get("/health").json()["refresh"]["status"] == "lexical"
    with TestClient(create_app(settings)) as client:
        health = client.get("/health").json()
        assert health["refresh"]["status"] == "lexical" and health["index"]["pages"] == 9
        fake.reset()
        health = health_when(client, lambda h: h["retrieval"] == "hybrid+rerank")
        assert health["retrieval"] == "hybrid+rerank" and health["refresh"]["status"] == "ok"
        body = client.post("/chat", json={"question": "How much rain is one tip?"}).json()
        assert body["sources"][0].startswith(RAIN_PAGE) and body["degraded"] is False


def test_an_embedded_book_is_kept_when_the_provider_fails_at_the_next_start(
    fake: FakeCohere,
    tmp_path: Path,
    sample_docs: Path,
    book_copy: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(refresh, "EMBED_RETRY_MINUTES", 0.5 / 60)
    settings = keyed(fake, tmp_path, book_copy / "docs")
    with TestClient(create_app(settings)) as client:
        assert client.get("/health").json()["retrieval"] == "hybrid+rerank"
    page = book_copy / "docs" / "intro.md"
    page.write_text(page.read_text() + "\nThe station also logs hail.\n")
    fake.fail("/v2/embed", status=503, retry_after=None, times=1000)
    with TestClient(create_app(settings)) as client:
        health = client.get("/health").json()
        # The edited page could not be embedded: the run failed, and the embedded index that
        # was served is served as it was, not replaced by a lexical one.
        assert health["refresh"]["status"] == "failed"
        assert health["index"]["pages"] == 9
        fake.reset()
        assert client.post("/search", json={"query": "tipping bucket"}).json()["results"]
        assert client.get("/health").json()["retrieval"] == "hybrid+rerank"
        # ... and the edit is indexed, embedded, once the provider answers again.
        health = health_when(client, lambda h: h["refresh"]["status"] == "ok")
        assert health["refresh"]["status"] == "ok"
        found = client.post("/search", json={"query": "hail"}).json()["results"]
        assert "hail" in found[0]["text"]


def test_a_site_that_cannot_be_embedded_is_served_lexically_too(
    fake: FakeCohere, tmp_path: Path
) -> None:
    # The same for a server that reads its book from the published site in the background.
    site = FakeSite(ROOT / "tests" / "fixtures" / "sample-site", tmp_path).start()
    fake.fail("/v2/embed", status=503, retry_after=None, times=1000)
    settings = keyed(fake, tmp_path, book_url=site.url, site_url=PUBLIC)
    try:
        with TestClient(create_app(settings)) as client:
            health = health_when(client, lambda h: h["refresh"]["status"] == "lexical")
            assert health["index"]["pages"] == 9 and health["retrieval"] == "lexical"
            body = client.post("/chat", json={"question": "How much rain is one tip?"}).json()
            assert body["sources"][0].startswith(RAIN_PAGE)
    finally:
        site.stop()
