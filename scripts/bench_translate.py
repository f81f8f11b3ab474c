"""Benchmark POST /translate on a ~3,000-word page of the robotics course, over real HTTP.

    .venv/bin/python scripts/bench_translate.py [--page module-4/...md] [--delay 1.0]
                                                [--concurrency 4] [--requests 50]

The chat model is the official Cohere SDK against the fake Cohere server of the tests, which
answers every chat after `--delay` seconds with the message it received, letter for letter
in Urdu's script (an "echo" translation, so every placeholder comes back). The book is
indexed into a temporary data dir, `bookrag serve`'s app runs under uvicorn on 127.0.0.1,
and the script measures one cold translation and the median of `--requests` cached ones.
Targets: cold under 3 s with a 1 s model, cached under 20 ms.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the fake Cohere server lives with the tests

from bookrag.api.app import create_app  # noqa: E402
from bookrag.config import load_settings  # noqa: E402
from bookrag.index.connection import open_store  # noqa: E402
from bookrag.index.ingest import ingest, site_config  # noqa: E402
from bookrag.providers.wiring import build_providers  # noqa: E402
from fakes import FakeCohere  # noqa: E402
from fakes.cohere import Reply, in_urdu_letters  # noqa: E402

DOCS = ROOT.parent / "shared" / "corpus" / "robotics-course" / "website" / "docs"
PAGE = "module-4/capstone-project/evaluation-criteria.md"  # 2,628 words, nearly all prose
PROVIDER_ENV = ("BOOKRAG_", "QDRANT_", "COHERE_", "OPENAI_", "COLLECTION_NAME")


class EchoCohere(FakeCohere):
    """Answers a chat without documents with the user's message, unchanged."""

    def _reply(self, body: dict[str, Any]) -> Reply:
        if body.get("documents"):
            return super()._reply(body)
        return Reply(in_urdu_letters(str(body["messages"][-1]["content"])))


def words(path: Path) -> int:
    text = re.sub(r"\A---\n.*?\n---\n", "", path.read_text(encoding="utf-8"), flags=re.DOTALL)
    return len(text.split())


def serve(app: Any) -> tuple[uvicorn.Server, threading.Thread, str]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise SystemExit("the API did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, thread, f"http://127.0.0.1:{port}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--page", default=PAGE, help="page source, relative to the docs folder")
    parser.add_argument("--delay", type=float, default=1.0, help="seconds per model answer")
    parser.add_argument("--concurrency", type=int, default=4, help="model calls at once")
    parser.add_argument("--requests", type=int, default=50, help="cached requests to time")
    args = parser.parse_args()
    for name in list(os.environ):
        if name.startswith(PROVIDER_ENV):
            del os.environ[name]

    with EchoCohere() as fake, tempfile.TemporaryDirectory(prefix="bench-translate-") as work:
        settings = load_settings(
            data_dir=Path(work),
            cohere_api_key=fake.api_key,
            cohere_base_url=fake.url,
            translation_concurrency=args.concurrency,
            upstream_timeout=30.0,
        )
        providers = build_providers(settings)
        store = open_store(settings)
        try:
            report = ingest(
                store,
                DOCS,
                site_config(DOCS, None, None),
                settings.chunk_tokens,
                providers.embedder,
                providers.policy,
            )
            page = next(p for p in store.pages() if p["source"] == args.page)
            chunks = store.page_chunks(args.page)
        finally:
            store.close()
            providers.close()
        sections = len({c["anchor"] for c in chunks})
        print(f"book: {len(report.indexed)} pages indexed in {report.seconds:.1f}s")
        print(
            f"page: {args.page} ({words(DOCS / args.page)} words, {sections} sections, "
            f"{len(chunks)} chunks)"
        )

        server, thread, base = serve(create_app(settings))
        try:
            # The URL a reader's browser shows during development.
            request = {
                "page_url": f"http://localhost:3000{page['url_path']}/",
                "target_language": "ur",
            }
            fake.reset()
            fake.delay("/v2/chat", args.delay, times=1_000_000)
            with httpx.Client(base_url=base, timeout=120) as client:
                started = time.perf_counter()
                cold = client.post("/translate", json=request)
                cold_seconds = time.perf_counter() - started
                if cold.status_code != 200:
                    print(f"cold request failed: {cold.status_code} {cold.text}")
                    return 1
                calls = len(fake.calls("/v2/chat"))
                timings = []
                for _ in range(args.requests):
                    started = time.perf_counter()
                    cached = client.post("/translate", json=request)
                    timings.append((time.perf_counter() - started) * 1000)
                    if cached.status_code != 200 or not cached.json()["cached"]:
                        print(f"expected a cached translation: {cached.status_code} {cached.text}")
                        return 1
        finally:
            server.should_exit = True
            thread.join(timeout=10)

    median = statistics.median(timings)
    print(f"model: {args.delay:.1f}s per answer, concurrency {args.concurrency}")
    print(f"requests to the model: {calls} (sections packed into units of whole sections)")
    print(f"cold translation: {cold_seconds:.2f}s  (target < 3 s)")
    print(
        f"cached translation: median {median:.1f} ms, p95 "
        f"{sorted(timings)[int(0.95 * (len(timings) - 1))]:.1f} ms over {len(timings)} "
        "requests  (target < 20 ms)"
    )
    print(f"translation: {len(cold.json()['translation'])} characters")
    return 0 if cold_seconds < 3 and median < 20 else 1


if __name__ == "__main__":
    sys.exit(main())
