"""Benchmark bookrag on the real books in ../shared/corpus: ingest time, /search latency, recall.

    .venv/bin/python scripts/benchmark.py [--books robotics-course ...] [--requests 200]
                                          [--skip-large] [--work-dir DIR] [--json out.json]

It measures (1) cold and unchanged ingest of each book, (2) p50/p95/max of POST /search over
real HTTP against `bookrag serve` on the ingested index, and (3) doc-level Recall@1, Recall@5
and MRR@10 of `retrieval.search` on the humanoid-textbook dev questions. It is a benchmark,
not a test: it prints numbers and checks no thresholds.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from serving import clean_env, serving

from bookrag.answering.retrieval import search
from bookrag.config import load_settings
from bookrag.index.connection import open_store
from bookrag.index.ingest import ingest, site_config

# ../shared beside the checkout, or wherever SHARED_DIR says (e.g. from a git worktree)
SHARED = Path(os.environ.get("SHARED_DIR") or Path(__file__).resolve().parents[2] / "shared")
CORPUS = SHARED / "corpus"
EVAL = SHARED / "eval" / "humanoid-textbook-dev.jsonl"
BOOKS = {  # name -> docs folder inside the corpus
    "humanoid-textbook": "humanoid-textbook/my-website/docs",
    "robotics-course": "robotics-course/website/docs",
    "agent-factory": "agent-factory/apps/learn-app/docs",
}
LATENCY_BOOKS = ("robotics-course", "agent-factory")
RECALL_BOOK = "humanoid-textbook"
LARGE = "agent-factory"
HEADING = re.compile(r"^#{2,4}\s+(.+?)\s*#*\s*$")
HEADINGS_PER_BOOK = 150


def data_dir(work: Path, book: str) -> Path:
    return work / book


def bench_ingest(book: str, work: Path) -> dict[str, object]:
    """Cold ingest into an empty data dir, then a second, unchanged run on the same dir."""
    docs = CORPUS / BOOKS[book]
    site = site_config(docs, None, None)
    settings = load_settings(data_dir=data_dir(work, book), qdrant_url=None)
    runs = []
    for _ in ("cold", "unchanged"):
        store = open_store(settings)
        try:
            started = time.perf_counter()
            report = ingest(store, docs, site, settings.chunk_tokens)
            runs.append((time.perf_counter() - started, report))
        finally:
            store.close()  # the embedded index is locked while open
    (cold_s, cold), (again_s, again) = runs
    return {
        "book": book,
        "pages": len(cold.indexed),
        "skipped": len(cold.skipped),
        "chunks": cold.chunks,
        "cold_s": round(cold_s, 3),
        "unchanged_s": round(again_s, 3),
        "rewritten_on_rerun": len(again.indexed),
    }


def bench_recall(work: Path) -> dict[str, object]:
    """Doc-level Recall@1/@5 and MRR@10 of `retrieval.search` on the dev questions."""
    return page_recall(data_dir(work, RECALL_BOOK), EVAL)


def page_recall(data: Path, questions: Path) -> dict[str, Any]:
    """Page-level Recall@1/@5 and MRR@10 of `retrieval.search` on a question set, over the
    index in `data`, with the questions whose gold page did not come first. Unanswerable
    questions (no gold page) are left out: they have no page to find."""
    items = [json.loads(line) for line in questions.read_text().splitlines() if line.strip()]
    items = [item for item in items if item["gold"]]
    store = open_store(load_settings(data_dir=data, qdrant_url=None))
    r1 = r5 = rr = 0.0
    misses = []
    try:
        for item in items:
            gold = {g["path"] for g in item["gold"]}
            ranked = [p.source for p in search(store, item["question"], 10)]
            rank = next((i for i, s in enumerate(ranked, 1) if s in gold), None)
            r1 += rank == 1
            r5 += rank is not None and rank <= 5
            rr += 1 / rank if rank else 0.0
            if rank != 1:
                misses.append({"id": item["id"], "rank": rank, "top": ranked[:1]})
    finally:
        store.close()
    n = len(items)
    return {
        "questions": n,
        "recall@1": round(r1 / n, 3),
        "recall@5": round(r5 / n, 3),
        "mrr@10": round(rr / n, 3),
        "not_first": misses,
    }


def query_pool(book: str) -> list[str]:
    """The dev questions plus headings sampled from the book's own pages."""
    pool = [json.loads(line)["question"] for line in EVAL.read_text().splitlines() if line.strip()]
    headings, fenced = [], False
    for path in sorted((CORPUS / BOOKS[book]).rglob("*.md*")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lstrip().startswith(("```", "~~~")):
                fenced = not fenced
            elif not fenced and (m := HEADING.match(line)):
                text = re.sub(r"[`*_{}<>\[\]]|\{#[^}]*\}", " ", m.group(1)).strip()
                if len(text) > 3:
                    headings.append(text)
        fenced = False
    rng = random.Random(0)
    pool += rng.sample(headings, min(HEADINGS_PER_BOOK, len(headings)))
    rng.shuffle(pool)
    return pool


def bench_latency(book: str, work: Path, requests: int, warmup: int = 20) -> dict[str, object]:
    """p50/p95/max of sequential POST /search against `bookrag serve` on the ingested index."""
    # A clean environment: the embedded lexical index just built, no model providers.
    # A benchmark is one client: lift the per-client rate limit.
    env = clean_env(
        BOOKRAG_DATA_DIR=str(data_dir(work, book)),
        BOOKRAG_RATE_LIMIT="1000000",
        BOOKRAG_MAX_GENERATIONS_PER_CLIENT="256",
    )
    with (
        serving(env, work / f"serve-{book}.log", cwd=work) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        startup = server.startup_s
        pool = query_pool(book)
        for q in pool[:warmup]:
            client.post("/search", json={"query": q, "limit": 5}).raise_for_status()
        times, empty = [], 0
        for i in range(requests):
            q = pool[(warmup + i) % len(pool)]
            t0 = time.perf_counter()
            response = client.post("/search", json={"query": q, "limit": 5})
            times.append((time.perf_counter() - t0) * 1000)
            response.raise_for_status()
            empty += not response.json()["results"]
    times.sort()
    return {
        "book": book,
        "requests": requests,
        "pool": len(pool),
        "empty_results": empty,
        "startup_s": round(startup, 2),
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(times[math.ceil(0.95 * len(times)) - 1], 2),
        "max_ms": round(times[-1], 2),
    }


def table(title: str, rows: list[dict[str, object]], columns: list[str]) -> None:
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print(f"\n{title}")
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--books", nargs="+", choices=list(BOOKS), default=list(BOOKS))
    parser.add_argument("--requests", type=int, default=200, help="timed /search requests")
    parser.add_argument("--skip-large", action="store_true", help=f"skip {LARGE}")
    parser.add_argument("--work-dir", type=Path, help="where indexes go (default: a temp dir)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results here")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        print(f"benchmark: corpus not found at {CORPUS}; nothing to measure.")
        return 0
    books = [b for b in args.books if not (args.skip_large and b == LARGE)]
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="bookrag-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    stale = [b for b in books if data_dir(work, b).exists()]
    if stale:
        print(f"benchmark: {work} already holds {', '.join(stale)}; use a fresh --work-dir")
        return 2
    machine = {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "work_dir": str(work),
    }
    print("machine: " + ", ".join(f"{k}={v}" for k, v in machine.items()))
    results: dict[str, Any] = {"machine": machine, "ingest": [], "search": [], "recall": None}
    for book in books:
        print(f"ingesting {book} ...", flush=True)
        results["ingest"].append(bench_ingest(book, work))
    if RECALL_BOOK in books:
        results["recall"] = bench_recall(work)
    for book in (b for b in LATENCY_BOOKS if b in books):
        print(f"timing /search on {book} ...", flush=True)
        results["search"].append(bench_latency(book, work, args.requests))

    table(
        "ingest",
        results["ingest"],
        ["book", "pages", "skipped", "chunks", "cold_s", "unchanged_s", "rewritten_on_rerun"],
    )
    table(
        "/search over HTTP (sequential, limit 5)",
        results["search"],
        ["book", "requests", "pool", "empty_results", "startup_s", "p50_ms", "p95_ms", "max_ms"],
    )
    if results["recall"]:
        table(
            f"retrieval on {EVAL.name} (doc level)",
            [results["recall"]],
            ["questions", "recall@1", "recall@5", "mrr@10"],
        )
        for miss in results["recall"]["not_first"]:
            print(f"  not first: {miss['id']} rank={miss['rank']} top={miss['top']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
