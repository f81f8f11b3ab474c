"""Benchmark bookrag with Cohere: the official SDK against the tests' fake Cohere server.

    .venv/bin/python scripts/bench_cohere.py [--requests 200] [--stream-delay 0.2] [--json PATH]

1. Ingest robotics-course with the Cohere embedder (1,024 dims, as embed-english-v3.0): embed
   calls (target <= ceil(chunks / 96)), largest batch, input_type; then re-ingest the
   unchanged book (target: 0 embed calls).
2. POST /chat, sequential, over real HTTP to `bookrag serve` (a subprocess) on that index:
   request time, time inside the fake's handlers, and their difference, the overhead (target
   p95 < 30 ms). Time inside the fake is measured by an ASGI middleware around the fake's app,
   from a request reaching it to its last body message, on the client's clock (same process).
3. POST /stream-chat with the fake's chat held back --stream-delay seconds: time to the first
   `data: {"token"...}` event minus that delay (target p95 < 20 ms).
4. Doc-level Recall@1/@5 and MRR@10 on the humanoid-textbook dev questions for lexical,
   hybrid and hybrid+rerank, through `bookrag.evaluation.metrics`.
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
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the fake Cohere server lives with the tests

from serving import PROVIDER_ENV, clean_env, serving  # noqa: E402

from bookrag.config import Settings, load_settings  # noqa: E402
from bookrag.evaluation.comparison import configurations, run_all  # noqa: E402
from bookrag.evaluation.questions import load_questions  # noqa: E402
from bookrag.evaluation.summary import summarise  # noqa: E402
from bookrag.index.connection import open_store  # noqa: E402
from bookrag.index.ingest import ingest, site_config  # noqa: E402
from bookrag.index.outcomes import IngestReport  # noqa: E402
from bookrag.providers.wiring import build_providers  # noqa: E402
from fakes import FakeCohere  # noqa: E402

SHARED = ROOT.parent / "shared"
ROBOTICS = SHARED / "corpus" / "robotics-course" / "website" / "docs"
HUMANOID = SHARED / "corpus" / "humanoid-textbook" / "my-website" / "docs"
EVAL = SHARED / "eval" / "humanoid-textbook-dev.jsonl"
MODEL, DIM, BATCH = "embed-english-v3.0", 1024, 96
HEADING = re.compile(r"^#{2,4}\s+(.+?)\s*#*\s*$")
WARMUP = 10  # untimed requests first: the sparse index is built on the first search


@dataclass(frozen=True)
class Span:
    """One request as the fake's app handled it (perf_counter seconds)."""

    path: str
    start: float
    first_byte: float
    end: float


class Timing:
    """ASGI middleware recording a `Span` per request, before its last body message leaves."""

    def __init__(self, app: ASGIApp, spans: list[Span]) -> None:
        self.app, self.spans = app, spans

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, first = time.perf_counter(), 0.0

        async def timed(message: Message) -> None:
            nonlocal first
            if message["type"] == "http.response.body":
                now = time.perf_counter()
                first = first or now
                if not message.get("more_body", False):
                    self.spans.append(Span(scope["path"], start, first, now))
            await send(message)

        await self.app(scope, receive, timed)


class TimedCohere(FakeCohere):
    """The fake Cohere, with embed-english-v3.0's real dimension and a `Span` per request."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        super().__init__(dims={MODEL: DIM})

    def build_app(self) -> Any:
        app = super().build_app()
        app.add_middleware(Timing, spans=self.spans)
        return app

    def inside(self, spans: list[Span]) -> float:
        """Milliseconds spent in the fake's handlers over `spans`."""
        return sum(s.end - s.start for s in spans) * 1000


def run_ingest(fake: FakeCohere, data_dir: Path, docs: Path) -> tuple[IngestReport, Settings]:
    settings = load_settings(
        data_dir=data_dir, cohere_api_key=fake.api_key, cohere_base_url=fake.url
    )
    providers, store = build_providers(settings), open_store(settings)
    try:
        site = site_config(docs, None, None)
        report = ingest(
            store, docs, site, settings.chunk_tokens, providers.embedder, providers.policy
        )
        return report, settings
    finally:
        store.close()  # the embedded index is locked while open
        providers.close()


def bench_ingest(fake: TimedCohere, data_dir: Path) -> dict[str, Any]:
    """A cold ingest of robotics-course, then an unchanged one, counting embed calls."""
    fake.reset()
    report, _ = run_ingest(fake, data_dir, ROBOTICS)
    calls = [r.json for r in fake.calls("/v2/embed")]
    fake.reset()
    again, _ = run_ingest(fake, data_dir, ROBOTICS)
    return {
        "pages": len(report.indexed),
        "chunks": report.chunks,
        "embed_calls": len(calls),
        "at_most": math.ceil(report.chunks / BATCH),
        "largest_batch": max((len(c["texts"]) for c in calls), default=0),
        "input_types": sorted({c["input_type"] for c in calls}),
        "seconds": round(report.seconds, 2),
        "rerun_embed_calls": len(fake.calls("/v2/embed")),
        "rerun_pages_written": len(again.indexed),
    }


def chat_questions(count: int, dev: int = 5) -> list[str]:
    """Questions built from robotics-course headings, plus a few dev questions (another book)."""
    headings: dict[str, str] = {}
    for path in sorted(ROBOTICS.rglob("*.md*")):
        fenced = False
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lstrip().startswith(("```", "~~~")):
                fenced = not fenced
            elif not fenced and (m := HEADING.match(line)):
                text = " ".join(re.sub(r"\{#[^}]*\}|[`*_{}<>\[\]#]", " ", m.group(1)).split())
                if len(text.split()) >= 2:
                    headings.setdefault(text.casefold(), text)
    rng = random.Random(0)
    chosen = rng.sample(sorted(headings.values()), k=min(len(headings), count))
    pool = [q.question for q in load_questions(EVAL)[:dev]]
    pool += [f"What does the course say about {h}?" for h in chosen[: count - dev]]
    rng.shuffle(pool)
    return [pool[i % len(pool)] for i in range(count)]


@contextmanager
def bookrag_serve(fake: FakeCohere, data_dir: Path, work: Path) -> Iterator[httpx.Client]:
    """`bookrag serve` on the index in `data_dir` (no --docs: no re-ingest), once healthy."""
    env = clean_env(
        BOOKRAG_DATA_DIR=str(data_dir),
        BOOKRAG_RATE_LIMIT="1000000",
        BOOKRAG_MAX_GENERATIONS_PER_CLIENT="256",
        COHERE_API_KEY=fake.api_key,
        COHERE_BASE_URL=fake.url,
    )
    with (
        serving(env, work / "serve.log", cwd=work, timeout=120) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        yield client


def summary(measure: str, values: list[float]) -> dict[str, Any]:
    """p50, p95 (nearest rank) and max of `values`, in ms."""
    if not values:
        return {"measure": measure, "n": 0}
    ordered = sorted(values)
    p95 = ordered[math.ceil(0.95 * len(ordered)) - 1]
    stats = {"p50_ms": statistics.median(ordered), "p95_ms": p95, "max_ms": ordered[-1]}
    return {"measure": measure, "n": len(values), **{k: round(v, 2) for k, v in stats.items()}}


def bench_chat(client: httpx.Client, fake: TimedCohere, questions: list[str]) -> dict[str, Any]:
    """Sequential /chat: request time, time inside the fake, and the difference."""
    for q in questions[:WARMUP]:
        client.post("/chat", json={"question": q}).raise_for_status()
    total, inside, modes, generative = [], [], Counter[str](), []
    for q in questions:
        mark, started = len(fake.spans), time.perf_counter()
        response = client.post("/chat", json={"question": q})
        total.append((time.perf_counter() - started) * 1000)
        inside.append(fake.inside(fake.spans[mark:]))
        mode = response.raise_for_status().json()["mode"]
        modes[mode] += 1
        generative += [q] if mode == "generative" else []
    overhead = [t - i for t, i in zip(total, inside, strict=True)]
    rows = [summary("/chat request", total), summary("/chat inside the fake", inside)]
    rows.append(summary("/chat overhead (request - inside the fake)", overhead))
    return {"modes": dict(modes), "rows": rows, "generative": generative}


def bench_stream(
    client: httpx.Client, fake: TimedCohere, questions: list[str], delay: float, server_log: Path
) -> list[dict[str, Any]]:
    """Sequential /stream-chat with the fake's chat held back by `delay`: first-token times,
    as the client sees them and as the server logs them (`first_token_ms`)."""
    beyond_delay, beyond_fake = [], []
    fake_share: dict[str, float] = {}  # request id -> ms spent inside the fake
    for number, q in enumerate(questions):
        fake.delay("/v2/chat", delay)
        mark, started, first = len(fake.spans), time.perf_counter(), 0.0
        request_id = f"bench-{number}"
        with client.stream(
            "POST", "/stream-chat", json={"question": q}, headers={"X-Request-ID": request_id}
        ) as response:
            for line in response.raise_for_status().iter_lines():
                if not first and line.startswith('data: {"token"'):
                    first = time.perf_counter()
        spans = fake.spans[mark:]
        chat = next((s for s in spans if s.path == "/v2/chat"), None)
        if chat is None or not first:  # answered without the chat model: drop the queued delay
            fake.reset()
            continue
        # The fake's share of the wait: embed and rerank, then the chat up to its first byte.
        in_fake = fake.inside([s for s in spans if s.end <= chat.start])
        in_fake += (chat.first_byte - chat.start) * 1000
        beyond_delay.append((first - started - delay) * 1000)
        beyond_fake.append((first - started) * 1000 - in_fake)
        fake_share[request_id] = in_fake
    # The server's own clock: from receiving the request to sending the first token event.
    server_side = [
        line["first_token_ms"] - fake_share[line["request_id"]]
        for line in _access_lines(server_log)
        if line.get("request_id") in fake_share and "first_token_ms" in line
    ]
    return [
        summary(f"/stream-chat first token - fake delay ({delay * 1000:g} ms)", beyond_delay),
        summary("/stream-chat first token - time inside the fake", beyond_fake),
        summary("  same, on the server's clock (access log)", server_side),
    ]


def _access_lines(log: Path) -> list[dict[str, Any]]:
    lines = []
    for text in log.read_text().splitlines():
        if text.startswith("{"):
            lines.append(json.loads(text))
    return lines


def bench_quality(fake: TimedCohere, data_dir: Path) -> list[dict[str, Any]]:
    """Doc-level retrieval scores of lexical, hybrid and hybrid+rerank on the dev questions."""
    _, settings = run_ingest(fake, data_dir, HUMANOID)
    questions = load_questions(EVAL)
    providers, store = build_providers(settings), open_store(settings)
    try:
        chosen, configured = configurations(store, settings, providers, compare=True)
        chosen = [c for c in chosen if c.name in ("lexical", "hybrid", "hybrid+rerank")]
        runs = run_all(store, providers, chosen, configured, questions, answers=False)
    finally:
        store.close()
        providers.close()
    rows = []
    for run in runs:
        page = (summarise(run.results).page or {}) if run.unavailable is None else {}
        scores = {
            m: round(v, 3) for m, v in page.items() if m in ("recall@1", "recall@5", "mrr@10")
        }
        rows.append({"retrieval": run.name, "questions": len(questions), **scores})
        rows[-1]["unavailable"] = run.unavailable or ""
    return rows


def table(title: str, rows: list[dict[str, Any]], columns: list[str]) -> None:
    cells = [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print(f"\n{title}")
    for row in [columns, ["-" * w for w in widths], *cells]:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def target(name: str, measured: object, met: bool) -> dict[str, Any]:
    return {"target": name, "measured": measured, "met": "yes" if met else "NO"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="timed requests per endpoint")
    parser.add_argument("--stream-delay", type=float, default=0.2, help="fake chat delay, s")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the results here")
    args = parser.parse_args()
    for name in [n for n in os.environ if n.startswith(PROVIDER_ENV)]:
        del os.environ[name]
    machine: dict[str, Any] = {"cpus": os.cpu_count(), "python": platform.python_version()}
    machine |= {"platform": platform.platform(), "load_average": os.getloadavg()}
    print("machine: " + ", ".join(f"{k}={v}" for k, v in machine.items()))
    with TimedCohere() as fake, tempfile.TemporaryDirectory(prefix="bench-cohere-") as tmp:
        print("1. ingesting robotics-course with the Cohere embedder ...", flush=True)
        ingested = bench_ingest(fake, Path(tmp) / "robotics")
        with bookrag_serve(fake, Path(tmp) / "robotics", Path(tmp)) as client:
            print(f"2. timing {args.requests} POST /chat ...", flush=True)
            chat = bench_chat(client, fake, chat_questions(args.requests))
            pool = chat.pop("generative")  # only these reach the chat model, and its delay
            print(f"3. timing {args.requests} POST /stream-chat ...", flush=True)
            streamed = [pool[i % len(pool)] for i in range(args.requests)] if pool else []
            stream = bench_stream(
                client, fake, streamed, args.stream_delay, Path(tmp) / "serve.log"
            )
        print("4. scoring retrieval on humanoid-textbook ...", flush=True)
        quality = bench_quality(fake, Path(tmp) / "humanoid")
    machine["load_average_after"] = os.getloadavg()

    print(f"\n1. ingest robotics-course, Cohere embedder ({MODEL} at {DIM} dims), then again")
    for key, value in ingested.items():
        print(f"  {key:<20} {value}")
    table(
        f"2-3. latency over HTTP, sequential, after {WARMUP} warm-up requests "
        f"(/chat answer modes: {chat['modes']})",
        chat["rows"] + stream,
        ["measure", "n", "p50_ms", "p95_ms", "max_ms"],
    )
    table("4. retrieval on humanoid-textbook-dev.jsonl (doc level)", quality, [*quality[0]])
    print(
        "note: the fake's embeddings are hashed bags of words and its reranker is word "
        "overlap,\n      so these scores mainly prove the plumbing, not Cohere's quality."
    )
    calls, at_most, rerun = (ingested[k] for k in ("embed_calls", "at_most", "rerun_embed_calls"))
    overhead, first_token = chat["rows"][2]["p95_ms"], stream[0].get("p95_ms", math.inf)
    rows = [
        target("embed calls <= ceil(chunks / 96)", f"{calls} <= {at_most}", calls <= at_most),
        target("unchanged re-ingest: 0 embed calls", rerun, rerun == 0),
        target("/chat overhead p95 < 30 ms", f"{overhead} ms", overhead < 30),
        target("first token - fake delay p95 < 20 ms", f"{first_token} ms", first_token < 20),
    ]
    table("targets", rows, ["target", "measured", "met"])
    if args.json:
        results = {"machine": machine, "ingest": ingested, "chat": chat, "stream": stream}
        results |= {"quality": quality, "targets": rows}
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        print(f"\nwrote {args.json}")
    return 0 if all(r["met"] == "yes" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
