"""Generate the benchmark report: benchmarks/report.json, report.md and report.png.

    .venv/bin/python scripts/report.py [--skip-large] [--requests 200] [--out DIR]
                                       [--work-dir DIR] [--baseline CHECKOUT]

On the three books of ../shared/corpus it measures (1) ingest throughput, cold and on an
unchanged re-run, (2) p50/p95 latency of POST /search and POST /chat over HTTP against
`bookrag serve` (no model keys: lexical retrieval, extractive answers), and (3) answer
quality on the dev questions of each book that has them with `bookrag.evaluation`: lexical,
and on humanoid-textbook dense, hybrid and hybrid+rerank too when COHERE_API_KEY is set. It
records the machine it ran on. Without the corpus it says so and exits 0.

(4) The embedded index, on robotics-course and agent-factory: cold ingest, unchanged re-run,
re-ingest after one changed page, `bookrag serve` start to first /search answer, /search
p50/p95, the server's RSS after the timed queries and the index's size on disk, plus
page-level retrieval on the dev sets. With `--baseline CHECKOUT` (another checkout of
bookrag with its own `.venv`, e.g. `git worktree add /tmp/base <commit>`) the same is
measured on that code first, in the same run, and the report sets the two side by side.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from benchmark import (  # scripts/benchmark.py, beside this file
    BOOKS,
    CORPUS,
    EVAL,
    LARGE,
    RECALL_BOOK,
    bench_ingest,
    data_dir,
    page_recall,
    query_pool,
)
from serving import clean_env, serving  # scripts/serving.py, beside this file

from bookrag import __version__
from bookrag.answering.retrieval import Retriever
from bookrag.config import load_settings
from bookrag.evaluation.comparison import Configuration, Run, configurations, run_all
from bookrag.evaluation.questions import EvalQuestion, load_questions
from bookrag.evaluation.summary import summarise
from bookrag.index.connection import open_store
from bookrag.index.ingest import ingest, site_config
from bookrag.providers.wiring import Providers, build_providers

ROOT = Path(__file__).resolve().parents[1]
WARMUP = 20
ROUTES = ("/search", "/chat")


# -- machine -------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "cpu_model": platform.processor() or platform.machine(),
        "memory_gib": None,
        "python": platform.python_version(),
        "os": platform.platform(),
        "bookrag": __version__,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_at_start": round(os.getloadavg()[0], 1),  # other work on the machine
    }
    cpuinfo, meminfo = Path("/proc/cpuinfo"), Path("/proc/meminfo")
    if cpuinfo.is_file():
        names = [
            line.split(":", 1)[1].strip()
            for line in cpuinfo.read_text().splitlines()
            if line.startswith("model name")
        ]
        info["cpu_model"] = names[0] if names else info["cpu_model"]
    if meminfo.is_file():
        total = next(line for line in meminfo.read_text().splitlines() if "MemTotal" in line)
        info["memory_gib"] = round(int(total.split()[1]) / 1024**2, 1)
    return info


# -- latency ---------------------------------------------------------------------------------


@contextmanager
def serving_book(book: str, work: Path) -> Iterator[httpx.Client]:
    """`bookrag serve` on the book's index in a clean environment (no model providers)."""
    # A benchmark is one client: lift the per-client rate limit.
    env = clean_env(
        BOOKRAG_DATA_DIR=str(data_dir(work, book)),
        BOOKRAG_RATE_LIMIT="1000000",
        BOOKRAG_MAX_GENERATIONS_PER_CLIENT="256",
    )
    with (
        serving(env, work / f"serve-{book}.log", cwd=work) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        yield client


def bench_routes(book: str, work: Path, requests: int) -> list[dict[str, Any]]:
    """p50/p95/max of sequential POST /search and POST /chat on one book."""
    pool = query_pool(book)
    rows = []
    with serving_book(book, work) as client:
        for route in ROUTES:
            for q in pool[:WARMUP]:
                client.post(route, json=_body(route, q))
            times, failed, empty = [], 0, 0
            for i in range(requests):
                q = pool[(WARMUP + i) % len(pool)]
                started = time.perf_counter()
                response = client.post(route, json=_body(route, q))
                times.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    failed += 1
                elif route == "/search":
                    empty += not response.json()["results"]
                else:
                    empty += response.json()["mode"] == "not_found"
            times.sort()
            rows.append(
                {
                    "book": book,
                    "route": route,
                    "requests": requests,
                    "failed": failed,
                    "empty_or_refused": empty,
                    "p50_ms": round(statistics.median(times), 1),
                    "p95_ms": round(times[math.ceil(0.95 * len(times)) - 1], 1),
                    "max_ms": round(times[-1], 1),
                }
            )
    return rows


def _body(route: str, query: str) -> dict[str, Any]:
    return {"query": query, "limit": 5} if route == "/search" else {"question": query}


# -- quality ---------------------------------------------------------------------------------


def bench_quality(work: Path, books: list[str]) -> list[dict[str, Any]]:
    """`bookrag.evaluation` on each book's dev questions, lexical; on humanoid-textbook's
    also the model retrievals when there is a key."""
    rows = []
    for book, path in DEV_SETS.items():
        if book not in books or not path.is_file():
            continue
        questions = load_questions(path)
        store = open_store(load_settings(data_dir=data_dir(work, book), qdrant_url=None))
        try:  # no providers: lexical retrieval and extractive answers, whatever the environment
            lexical = Configuration("lexical", Retriever(store))
            runs = run_all(store, Providers(), [lexical], "lexical", questions)
        finally:
            store.close()
        if book == RECALL_BOOK and os.environ.get("COHERE_API_KEY"):
            runs += _model_runs(work, questions)
        rows += [{"book": book, "questions_file": path.name, **_quality_row(run)} for run in runs]
    return rows


def _model_runs(work: Path, questions: list[EvalQuestion]) -> list[Run]:
    """Dense, hybrid and hybrid+rerank on an index embedded with the configured model; the
    configured retrieval also answers (one chat call per question), the others retrieve."""
    settings = load_settings(data_dir=work / "humanoid-textbook-cohere", qdrant_url=None)
    providers = build_providers(settings)
    store = open_store(settings)
    try:
        docs = CORPUS / BOOKS[RECALL_BOOK]
        site = site_config(docs, None, None)
        ingest(store, docs, site, settings.chunk_tokens, providers.embedder, providers.policy)
        chosen, configured = configurations(store, settings, providers, compare=True)
        models = [c for c in chosen if c.name != "lexical"]
        runs = run_all(store, providers, models, configured, questions, answers=False)
        answered = [c for c in models if c.name == configured and c.retriever is not None]
        if answered:
            [with_answers] = run_all(store, providers, answered, configured, questions)
            runs = [with_answers if r.name == configured else r for r in runs]
    finally:
        store.close()
        providers.close()
    return runs


def _quality_row(run: Run) -> dict[str, Any]:
    if run.unavailable is not None:
        return {"retrieval": run.name, "available": False, "reason": run.unavailable}
    document = run.to_json()
    return {
        "retrieval": run.name,
        "available": True,
        "questions": len(run.results),
        "overall": summarise(run.results).to_json(),
        "by_kind": document["by_kind"],
        "misses": [q for q in document["questions"] if q["misses"]],
    }


# -- the embedded index, before and after -----------------------------------------------------

INDEX_BOOKS = ("robotics-course", "agent-factory")
DEV_SETS = {"humanoid-textbook": EVAL, "agent-factory": EVAL.parent / "agent-factory-dev.jsonl"}
INDEX_MEASURES = [  # (key, label, digits)
    ("cold_s", "cold ingest (s)", 2),
    ("unchanged_s", "unchanged re-run (s)", 3),
    ("one_page_s", "re-ingest after one changed page (s)", 3),
    ("first_answer_s", "serve start to first /search answer (s)", 2),
    ("search_p50_ms", "/search p50 (ms)", 1),
    ("search_p95_ms", "/search p95 (ms)", 1),
    ("rss_mb", "server RSS after the queries (MB)", 0),
    ("disk_mb", "index on disk (MB)", 1),
]


def copy_book(book: str, work: Path) -> Path:
    """A writable copy of a book's docs folder and the site config beside it."""
    source = CORPUS / BOOKS[book]
    target = work / f"{book}-book" / "docs"
    shutil.copytree(source, target)
    for config in source.parent.glob("docusaurus.config.*"):
        shutil.copy(config, target.parent)
    return target


def timed_ingest(book: str, work: Path, docs: Path) -> float:
    """Seconds to open the embedded index, ingest `docs` and close it again."""
    settings = load_settings(data_dir=data_dir(work, book), qdrant_url=None)
    started = time.perf_counter()
    store = open_store(settings)
    try:
        ingest(store, docs, site_config(docs, None, None), settings.chunk_tokens)
    finally:
        store.close()
    return time.perf_counter() - started


def disk_mb(folder: Path) -> float:
    """Space the folder's files take on disk (allocated blocks, not apparent sizes)."""
    used = sum(f.stat().st_blocks * 512 for f in folder.rglob("*") if f.is_file())
    return round(used / 1e6, 1)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 0)
    return 0.0


def bench_index(book: str, work: Path, requests: int) -> dict[str, Any]:
    """One book: ingest cold, unchanged and after one changed page; then serve it."""
    docs = copy_book(book, work)
    row: dict[str, Any] = {"book": book}
    row["cold_s"] = round(timed_ingest(book, work, docs), 3)
    row["unchanged_s"] = round(timed_ingest(book, work, docs), 3)
    page = sorted(docs.rglob("*.md"))[len(list(docs.rglob("*.md"))) // 2]
    page.write_text(page.read_text() + "\n\nA sentence added to measure a re-ingest.\n")
    row["one_page_s"] = round(timed_ingest(book, work, docs), 3)
    pool = query_pool(book)
    env = clean_env(BOOKRAG_DATA_DIR=str(data_dir(work, book)), BOOKRAG_RATE_LIMIT="1000000")
    with (
        serving(env, work / f"index-{book}.log", cwd=work) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        started = time.perf_counter()
        first = client.post("/search", json={"query": pool[0], "limit": 5})
        first.raise_for_status()
        row["first_answer_s"] = round(server.startup_s + time.perf_counter() - started, 2)
        for q in pool[1 : WARMUP + 1]:
            client.post("/search", json={"query": q, "limit": 5}).raise_for_status()
        times = []
        for i in range(requests):
            started = time.perf_counter()
            client.post("/search", json={"query": pool[(WARMUP + 1 + i) % len(pool)], "limit": 5})
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        row["search_p50_ms"] = round(statistics.median(times), 1)
        row["search_p95_ms"] = round(times[math.ceil(0.95 * len(times)) - 1], 1)
        row["rss_mb"] = rss_mb(server.process.pid)
    row["disk_mb"] = disk_mb(data_dir(work, book) / "qdrant")
    return row


def bench_dev_retrieval(book: str, work: Path) -> dict[str, Any]:
    """Page-level Recall@1/@5 and MRR@10 of `retrieval.search` on a book's dev questions."""
    docs = CORPUS / BOOKS[book]
    if not data_dir(work, book).exists():
        timed_ingest(book, work, docs)
    recall = page_recall(data_dir(work, book), DEV_SETS[book])
    del recall["not_first"]
    return {"book": book, **recall}


def measure_index(work: Path, books: list[str], requests: int) -> dict[str, Any]:
    """Everything the embedded index section reports, on the code this interpreter imports."""
    work.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"books": [], "retrieval": []}
    for book in (b for b in INDEX_BOOKS if b in books):
        print(f"index: {book} ...", flush=True)
        result["books"].append(bench_index(book, work, requests))
    for book, questions in DEV_SETS.items():
        if book in books and questions.is_file():
            print(f"index: dev questions of {book} ...", flush=True)
            result["retrieval"].append(bench_dev_retrieval(book, work))
    return result


def measure_baseline(checkout: Path, work: Path, books: list[str], requests: int) -> Any:
    """`measure_index` run by another checkout's interpreter and its own copy of this script
    (so on its code, whatever its module layout)."""
    out = work / "before.json"
    script = checkout / "scripts" / "report.py"
    command = [
        str(checkout / ".venv" / "bin" / "python"),
        str(script if script.is_file() else Path(__file__).resolve()),
        "--index-only",
        str(out),
        "--work-dir",
        str(work / "before"),
        "--requests",
        str(requests),
        *(["--skip-large"] if LARGE not in books else []),
    ]
    subprocess.run(command, check=True, cwd=checkout, env=clean_env())
    return json.loads(out.read_text())


# -- outputs ---------------------------------------------------------------------------------


def _cell(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown tables, for the README."""
    m = report["machine"]
    lines = [
        "# bookrag benchmark",
        "",
        f"Measured {m['date']} with bookrag {m['bookrag']} on {m['cpu_model']} "
        f"({m['cpus']} CPUs, {m['memory_gib']} GiB RAM), Python {m['python']}, {m['os']}; "
        f"load average {m.get('load_at_start', '–')} at the start, {m.get('load_at_end', '–')} "
        "at the end. "
        "Embedded Qdrant (Qdrant Edge); latency uses lexical retrieval and extractive answers "
        "(no model keys). Regenerate with `.venv/bin/python scripts/report.py`.",
        "",
        "## Ingest",
        "",
    ]
    lines += _table(
        ["book", "pages", "chunks", "cold (s)", "pages/s", "chunks/s", "unchanged re-run (s)"],
        [
            [
                r["book"],
                r["pages"],
                r["chunks"],
                f"{r['cold_s']:.2f}",
                f"{r['pages_per_s']:.1f}",
                f"{r['chunks_per_s']:.0f}",
                f"{r['unchanged_s']:.3f}",
            ]
            for r in report["ingest"]
        ],
    )
    lines += [
        "",
        f"## Latency over HTTP ({report['requests']} sequential requests per route after "
        f"{WARMUP} warm-up; dev questions and the book's own headings)",
        "",
    ]
    lines += _table(
        ["book", "route", "p50 (ms)", "p95 (ms)", "max (ms)", "failed", "empty or refused"],
        [
            [
                r["book"],
                f"`POST {r['route']}`",
                f"{r['p50_ms']:.1f}",
                f"{r['p95_ms']:.1f}",
                f"{r['max_ms']:.1f}",
                r["failed"],
                r["empty_or_refused"],
            ]
            for r in report["latency"]
        ],
    )
    if report.get("index"):
        lines += _index_markdown(report["index"])
    if report["quality"]:
        lines += _quality_markdown(report["quality"])
    lines += ["", "![latency, throughput and quality](report.png)", ""]
    return "\n".join(lines)


def _index_markdown(index: dict[str, Any]) -> list[str]:
    after, before = index["after"], index.get("before")
    lines = ["", "## The embedded index", ""]
    if before:
        lines += [f"Before: {index['baseline']}; after: this version. Same run, same machine.", ""]
    header = ["book", "measure", "before", "after", "before / after"] if before else []
    rows = []
    for row in after["books"]:
        old: dict[str, Any] = next(
            (b for b in (before or {}).get("books", []) if b["book"] == row["book"]), {}
        )
        for key, label, digits in INDEX_MEASURES:
            now, then = row[key], old.get(key)
            cells = [row["book"], label, f"{now:.{digits}f}"]
            if before:
                ratio = f"{then / now:.1f}×" if then is not None and now else "–"
                then_cell = f"{then:.{digits}f}" if then is not None else "–"
                cells = [row["book"], label, then_cell, cells[2], ratio]
            rows.append(cells)
    lines += _table(header or ["book", "measure", "value"], rows)
    lines += ["", "Page-level retrieval on the dev questions (`retrieval.search`, lexical):", ""]
    rows = []
    for row in after["retrieval"]:
        old = next((b for b in (before or {}).get("retrieval", []) if b["book"] == row["book"]), {})
        versions: list[tuple[str, dict[str, Any]]] = (
            [("before", old), ("after", row)] if before else [("this code", row)]
        )
        for version, values in versions:
            if values:
                rows.append(
                    [row["book"], version, row["questions"]]
                    + [values[k] for k in ("recall@1", "recall@5", "mrr@10")]
                )
    lines += _table(["book", "code", "questions", "R@1", "R@5", "MRR@10"], rows)
    return lines


def _quality_markdown(quality: list[dict[str, Any]]) -> list[str]:
    ran = [q for q in quality if q["available"]]
    lines = [
        "",
        "## Quality on the dev questions (`bookrag eval`)",
        "",
        "Page level: the result's page holds the answer; section level: so does its section "
        "(at most one section per page is returned, which bounds it). Answers: the share of "
        "reference keywords they contain, whether they cite a gold page, the share of "
        "unanswerable questions refused, false refusals.",
        "",
    ]
    rows = []
    for q in ran:
        page, section = q["overall"]["page"], q["overall"]["section"]
        answers = q["overall"]["answers"] or {}
        rows.append(
            [
                q["book"],
                q["questions"],
                q["retrieval"],
                page["recall@1"],
                page["recall@5"],
                page["recall@10"],
                page["mrr@10"],
                page["ndcg@10"],
                section["recall@1"],
                section["recall@5"],
                answers.get("keyword_coverage"),
                answers.get("cites_gold"),
                answers.get("refusal_accuracy"),
                answers.get("false_refusal_rate"),
            ]
        )
    lines += _table(
        [
            "book",
            "questions",
            "retrieval",
            "page R@1",
            "page R@5",
            "page R@10",
            "page MRR@10",
            "page nDCG@10",
            "section R@1",
            "section R@5",
            "keyword coverage",
            "cites gold page",
            "refused",
            "false refusals",
        ],
        rows,
    )
    if any(not q["overall"]["answers"] for q in ran):
        lines += ["", "–: not measured (those retrievals were scored on retrieval only)."]
    lines += [
        f"\n{q['retrieval']}: not measured, {q['reason']}" for q in quality if not q["available"]
    ]
    lexical = [q for q in ran if q["retrieval"] == "lexical"]
    lines += ["", "By kind (lexical, page level):", ""]
    lines += _table(
        ["book", "kind", "questions", "R@1", "R@5", "MRR@10", "nDCG@10", "keyword coverage"],
        [
            [
                q["book"],
                kind,
                s["answerable"],
                s["page"]["recall@1"],
                s["page"]["recall@5"],
                s["page"]["mrr@10"],
                s["page"]["ndcg@10"],
                (s["answers"] or {}).get("keyword_coverage"),
            ]
            for q in lexical
            for kind, s in q["by_kind"].items()
            if s["page"]
        ],
    )
    return lines


def chart(report: dict[str, Any], path: Path) -> None:
    """Ingest throughput and latency per book, quality per retrieval, as one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    quality = [q for q in report["quality"] if q["available"]]
    fig = plt.figure(figsize=(12, 9 if quality else 4.8), layout="constrained")
    grid = fig.add_gridspec(2 if quality else 1, 2, height_ratios=(1, 0.85) if quality else None)
    ingest_ax, latency_ax = fig.add_subplot(grid[0, 0]), fig.add_subplot(grid[0, 1])
    rows = report["ingest"]
    _bars(
        ingest_ax,
        [r["book"] for r in rows],
        {
            "pages/s": [r["pages_per_s"] for r in rows],
            "chunks/s": [r["chunks_per_s"] for r in rows],
        },
        "Ingest throughput, cold (log scale)",
        "per second",
        "{:.0f}",
    )
    ingest_ax.set_yscale("log")
    books = list(dict.fromkeys(r["book"] for r in report["latency"]))
    ms = {
        (r["book"], r["route"], stat): r[f"{stat}_ms"]
        for r in report["latency"]
        for stat in ("p50", "p95")
    }
    _bars(
        latency_ax,
        books,
        {
            f"{route} {stat}": [ms[(b, route, stat)] for b in books]
            for route in ROUTES
            for stat in ("p50", "p95")
        },
        "Latency over HTTP, sequential (lexical, extractive)",
        "milliseconds",
        "{:.1f}",
    )
    if quality:
        metrics = {
            "page R@1": ("page", "recall@1"),
            "page R@5": ("page", "recall@5"),
            "page MRR@10": ("page", "mrr@10"),
            "page nDCG@10": ("page", "ndcg@10"),
            "section R@1": ("section", "recall@1"),
            "section R@5": ("section", "recall@5"),
        }
        quality_ax = fig.add_subplot(grid[1, :])
        _bars(
            quality_ax,
            list(metrics),
            {
                f"{q['book']}, {q['retrieval']}": [
                    q["overall"][lv][name] for lv, name in metrics.values()
                ]
                for q in quality
            },
            "Retrieval quality on the dev questions",
            "score",
            "{:.2f}",
        )
        quality_ax.set_ylim(0, 1.12)
    m = report["machine"]
    fig.suptitle(
        f"bookrag {m['bookrag']}: {m['cpus']} CPUs ({m['cpu_model']}), Python {m['python']}, "
        f"embedded Qdrant",
        fontsize=12,
    )
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _bars(
    ax: Any, groups: list[str], series: dict[str, list[float]], title: str, unit: str, label: str
) -> None:
    width = 0.8 / max(len(series), 1)
    for i, (name, values) in enumerate(series.items()):
        xs = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        bars = ax.bar(xs, values, width, label=name)
        ax.bar_label(bars, labels=[label.format(v) for v in values], fontsize=8, padding=1)
    ax.set_xticks(range(len(groups)), groups, fontsize=10)
    ax.set_title(title, fontsize=11)
    ax.set_ylabel(unit)
    ax.margins(y=0.15)
    ax.legend(fontsize=9, loc="best")
    ax.grid(axis="y", alpha=0.3)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--skip-large", action="store_true", help=f"skip {LARGE}")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per route")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks", help="report folder")
    parser.add_argument("--work-dir", type=Path, help="where indexes go (default: a temp dir)")
    parser.add_argument(
        "--baseline", type=Path, metavar="CHECKOUT", help="also measure the index on this code"
    )
    parser.add_argument("--index-only", type=Path, metavar="JSON", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not CORPUS.is_dir():
        print(f"report: corpus not found at {CORPUS}; nothing to measure.")
        return 0
    books = [b for b in BOOKS if not (args.skip_large and b == LARGE)]
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="bookrag-report-"))
    work.mkdir(parents=True, exist_ok=True)
    if any(data_dir(work, b).exists() for b in books):
        print(f"report: {work} already holds an index; use a fresh --work-dir")
        return 2
    if args.index_only:  # the baseline's half of a --baseline run
        args.index_only.write_text(json.dumps(measure_index(work, books, args.requests)))
        return 0
    report: dict[str, Any] = {"machine": machine(), "requests": args.requests}
    print("machine: " + ", ".join(f"{k}={v}" for k, v in report["machine"].items()), flush=True)
    report["index"] = {}
    if args.baseline:
        print(f"index, before: the code in {args.baseline} ...", flush=True)
        report["index"]["baseline"] = _describe(args.baseline)
        report["index"]["before"] = measure_baseline(args.baseline, work, books, args.requests)
    print("index, after: this code ...", flush=True)
    report["index"]["after"] = measure_index(work / "after", books, args.requests)
    report["ingest"] = []
    for book in books:
        print(f"ingesting {book} ...", flush=True)
        row: dict[str, Any] = bench_ingest(book, work)
        row["pages_per_s"] = round(row["pages"] / row["cold_s"], 1)
        row["chunks_per_s"] = round(row["chunks"] / row["cold_s"], 1)
        report["ingest"].append(row)
    report["latency"] = []
    for book in books:
        print(f"timing /search and /chat on {book} ...", flush=True)
        report["latency"] += bench_routes(book, work, args.requests)
    print("scoring the dev questions ...", flush=True)
    report["quality"] = bench_quality(work, books)
    report["machine"]["load_at_end"] = round(os.getloadavg()[0], 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "report.md").write_text(markdown(report))
    chart(report, args.out / "report.png")
    print(markdown(report))
    print(f"\nwrote {args.out}/report.json, report.md and report.png")
    return 0


def _describe(checkout: Path) -> str:
    """The checkout's commit, for the report."""
    found = subprocess.run(
        ["git", "-C", str(checkout), "log", "-1", "--format=%h %s"],
        capture_output=True,
        text=True,
        check=False,
    )
    line = found.stdout.strip()
    return f"commit {line[:60]}" if line else str(checkout)


if __name__ == "__main__":
    sys.exit(main())
