"""Shared fixtures: the sample book indexed into Qdrant's local mode in a temp folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bookrag.api import create_app
from bookrag.config import Settings, load_settings
from bookrag.connection import open_store
from bookrag.ingest import ingest, site_config
from bookrag.store import BookStore

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DOCS = ROOT / "sample-book" / "docs"
SHARED = ROOT.parent / "shared"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never read the developer's environment or `.env`."""
    import os

    for name in list(os.environ):
        if name.startswith(("BOOKRAG_", "QDRANT_", "COHERE_", "OPENAI_")) or name in (
            "COLLECTION_NAME",
            "ALLOWED_ORIGINS",
            "DATABASE_URL",
        ):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def sample_docs() -> Path:
    return SAMPLE_DOCS


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data")


@pytest.fixture
def store(settings: Settings) -> Iterator[BookStore]:
    opened = open_store(settings)
    yield opened
    opened.close()


@pytest.fixture
def indexed_store(store: BookStore, sample_docs: Path, settings: Settings) -> BookStore:
    ingest(store, sample_docs, site_config(sample_docs, None, None), settings.chunk_tokens)
    return store


@pytest.fixture
def client(tmp_path: Path, sample_docs: Path) -> Iterator[TestClient]:
    """The API over the sample book, indexed at start-up as `bookrag serve --docs` does."""
    app = create_app(load_settings(data_dir=tmp_path / "api-data", docs_dir=sample_docs))
    with TestClient(app) as test_client:
        yield test_client
