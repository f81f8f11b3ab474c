"""Shared fixtures: the sample book indexed in a temp folder, on each engine.

`store` runs a test twice: on Qdrant Edge (the embedded default) and on the server code path
(`ServerEngine`: payload indexes, `query_points` with prefetch and fusion, the statistics
point), with qdrant-client's local mode standing in for the Qdrant server."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from qdrant_client import QdrantClient

from bookrag.api.app import create_app
from bookrag.config import Settings, load_settings
from bookrag.index.connection import open_store
from bookrag.index.engine_server import ServerEngine
from bookrag.index.ingest import ingest, site_config
from bookrag.index.store import BookStore

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DOCS = ROOT / "sample-book" / "docs"
SHARED = ROOT.parent / "shared"


def is_our_setting(name: str) -> bool:
    """Whether an environment variable is one bookrag's settings read."""
    return name.startswith(("BOOKRAG_", "QDRANT_", "COHERE_", "OPENAI_")) or name in (
        "COLLECTION_NAME",
        "ALLOWED_ORIGINS",
        "DATABASE_URL",
    )


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never read the developer's environment or `.env`."""
    import os

    for name in list(os.environ):
        if is_our_setting(name):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def sample_docs() -> Path:
    return SAMPLE_DOCS


@pytest.fixture
def book_copy(tmp_path: Path) -> Path:
    """A copy of the sample book's sources (`tmp_path/book`) that a test may edit.

    Only the sources: the sample's `node_modules` and builds (hundreds of MB once `npm ci`
    has run) would be copied for each such test and fill the disk of a whole test run."""
    book = tmp_path / "book"
    builds = shutil.ignore_patterns("node_modules", "build", ".docusaurus")
    shutil.copytree(SAMPLE_DOCS.parent, book, ignore=builds)
    return book


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data")


# qdrant-client's local mode ignores payload indexes, and says so once per process.
LOCAL_MODE_INDEXES = "ignore:Payload indexes have no effect in the local Qdrant"
ENGINES = ("edge", "server")


def server_store(folder: Path, collection: str = "book") -> BookStore:
    """The server code path on qdrant-client's local mode, standing in for a Qdrant server."""
    return BookStore(ServerEngine(QdrantClient(path=str(folder)), collection), embedded=False)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("store") == "server":
            item.add_marker(pytest.mark.filterwarnings(LOCAL_MODE_INDEXES))


@pytest.fixture(params=ENGINES)
def store(
    request: pytest.FixtureRequest, settings: Settings, tmp_path: Path
) -> Iterator[BookStore]:
    edge = request.param == "edge"
    opened = open_store(settings) if edge else server_store(tmp_path / "server")
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
