"""How long `/chat` takes while Cohere is unreachable, with and without resting it.

    .venv/bin/python scripts/bench_provider_down.py [--requests 4]

The sample book is indexed with Cohere embeddings (the tests' fake Cohere server, through the
official SDK); then the app is started with `COHERE_BASE_URL` on a closed port and the default
retry budget, once with `BOOKRAG_UPSTREAM_COOLDOWN=0` (every step of every request spends its
own retries: the query embedding, the reranking and the generation) and once with the default
cooldown. Each `/chat` must still answer, extractively and flagged `degraded`.
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the fake Cohere server lives with the tests

from bookrag.api.app import create_app  # noqa: E402
from bookrag.config import Settings, load_settings  # noqa: E402
from bookrag.index.connection import open_store  # noqa: E402
from bookrag.index.ingest import ingest, site_config  # noqa: E402
from bookrag.providers.wiring import build_providers  # noqa: E402
from fakes import FakeCohere  # noqa: E402

DOCS = ROOT / "sample-book" / "docs"
QUESTION = {"question": "How does the rain gauge count the rain?"}
KEY = "test-key"


def index_with_embeddings(data_dir: Path) -> None:
    with FakeCohere(api_key=KEY) as fake:
        settings = load_settings(data_dir=data_dir, cohere_api_key=KEY, cohere_base_url=fake.url)
        providers, store = build_providers(settings), open_store(settings)
        try:
            site = site_config(DOCS, None, None)
            ingest(store, DOCS, site, settings.chunk_tokens, providers.embedder)
        finally:
            store.close()
            providers.close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def chat_seconds(settings: Settings, requests: int) -> list[float]:
    seconds = []
    with TestClient(create_app(settings)) as client:
        for _ in range(requests):
            started = time.monotonic()
            body = client.post("/chat", json=QUESTION).json()
            seconds.append(time.monotonic() - started)
            assert body["degraded"] is True and body["sources"], body
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # each failed try is logged; the numbers are the point
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        index_with_embeddings(data_dir)
        down = f"http://127.0.0.1:{closed_port()}"
        defaults = Settings.model_fields["upstream_cooldown"].default
        for cooldown in (0.0, defaults):
            settings = load_settings(
                data_dir=data_dir,
                cohere_api_key=KEY,
                cohere_base_url=down,
                upstream_cooldown=cooldown,
            )
            seconds = chat_seconds(settings, args.requests)
            shown = " ".join(f"{s:5.1f}" for s in seconds)
            print(f"cooldown {cooldown:4.0f} s: /chat seconds, {args.requests} in a row: {shown}")


if __name__ == "__main__":
    main()
