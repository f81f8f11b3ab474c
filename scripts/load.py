"""Load and soak test of `bookrag serve` against the fake Cohere server, on 127.0.0.1 only.

The fake (tests/fakes, answering instantly) runs in this process; the book is ingested
with it into a temporary data dir, then `bookrag serve` runs as a subprocess on a free
port, and many clients ask it /search, /chat and /stream-chat questions (each stream read
to its end). A share of the answers (`--feedback`, 0.25 by default) gets a reader's verdict
through /feedback. Printed per route: requests, errors (non-2xx other than 429, plus streams
ending in an error event, plus timeouts), intended 429s, p50/p95/p99 latency, requests
per second; the server's resident memory (VmRSS) at the start and the end; and, once the
server has stopped, the answer log's rows counted against the answers and verdicts given.

    .venv/bin/python scripts/load.py                      # 50 clients for 60 s
    .venv/bin/python scripts/load.py --rate-limited       # keep the default 60/min: 429s
    .venv/bin/python scripts/load.py --soak 10            # 10 req/s for 10 min, RSS per minute
    .venv/bin/python scripts/load.py --book sample --clients 10 --duration 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from serving import clean_env, serving  # noqa: E402

from fakes import FakeCohere  # noqa: E402

BOOKS = {
    "robotics": ROOT.parent / "shared" / "corpus" / "robotics-course" / "website" / "docs",
    "sample": ROOT / "sample-book" / "docs",
}
QUESTIONS = {
    "robotics": [
        "How does inverse kinematics work for a humanoid arm?",
        "What is forward kinematics?",
        "How is a bipedal robot kept balanced while walking?",
        "What hardware do I need for the course?",
        "How do vision-language-action models control a robot?",
        "What safety measures matter around physical robots?",
        "How does a navigation pipeline plan a path around obstacles?",
        "What are coordinate frames and transformations used for?",
        "How are grasps planned for dexterous manipulation?",
        "How is the capstone project evaluated?",
        "What does a conversational robot need to understand speech?",
        "What is a gait pattern generator?",
    ],
    "sample": [
        "How much rain does one tip of the bucket measure?",
        "How do I wire a sensor to the I2C bus?",
        "What parts do I need to build the station?",
        "How is wind speed measured?",
        "How do I read the sensors?",
        "Where are the readings logged?",
        "What should I check when readings look wrong?",
        "How do I set up the dashboard?",
    ],
}
ROUTES = ("/search", "/chat", "/stream-chat")
FEEDBACK = "/feedback"
TEST_KEY = "test-key"


# -- the server under test ---------------------------------------------------------------


def rss_kib(pid: int) -> int:
    """Resident memory of a process, from /proc/<pid>/status (VmRSS, in KiB)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def server_env(fake: FakeCohere, data: Path, rate_limited: bool) -> dict[str, str]:
    env = clean_env(COHERE_API_KEY=TEST_KEY, COHERE_BASE_URL=fake.url, BOOKRAG_DATA_DIR=str(data))
    if not rate_limited:
        env["BOOKRAG_RATE_LIMIT"] = "100000"
        # Every simulated reader comes from 127.0.0.1: let one address hold every slot.
        env["BOOKRAG_MAX_GENERATIONS_PER_CLIENT"] = "256"
    return env


def ingest(docs: Path, env: dict[str, str]) -> float:
    started = time.monotonic()
    command = [sys.executable, "-m", "bookrag", "ingest", str(docs)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(f"ingest failed:\n{done.stdout}\n{done.stderr}")
    return time.monotonic() - started


# -- clients -----------------------------------------------------------------------------


@dataclass
class RouteStats:
    latencies: list[float] = field(default_factory=list)  # seconds, every request
    statuses: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    limited: int = 0


@dataclass
class Results:
    routes: defaultdict[str, RouteStats] = field(default_factory=lambda: defaultdict(RouteStats))
    answer_ids: set[str] = field(default_factory=set)  # answers given, with their id
    verdicts: int = 0  # verdicts the server accepted (200), one per answer

    @property
    def total(self) -> int:
        return sum(len(s.latencies) for s in self.routes.values())


async def one_request(
    client: httpx.AsyncClient, route: str, question: str, results: Results
) -> str | None:
    """Send one request and record it; the answer's id for /chat and /stream-chat."""
    stats = results.routes[route]
    body: dict[str, Any] = {"query": question} if route == "/search" else {"question": question}
    started = time.perf_counter()
    outcome = "ok"
    answer_id = None
    try:
        if route == "/stream-chat":
            async with client.stream("POST", route, json=body) as response:
                status = response.status_code
                last: dict[str, Any] = {}
                async for line in response.aiter_lines():
                    if line.startswith("data: "):
                        last = json.loads(line[6:])
                if status == 200 and (last.get("error") or not last.get("done")):
                    outcome = "stream error event" if last.get("error") else "stream cut short"
                elif status == 200:
                    answer_id = json.loads(last["response"]).get("answer_id")
        else:
            response = await client.post(route, json=body)
            status = response.status_code
            if route == "/chat" and status == 200:
                answer_id = response.json().get("answer_id")
    except httpx.TimeoutException:
        status, outcome = 0, "timeout"
    except httpx.TransportError as exc:
        status, outcome = 0, type(exc).__name__
    stats.latencies.append(time.perf_counter() - started)
    if status == 429:
        stats.limited += 1
        stats.statuses["429"] += 1
    elif status and not 200 <= status < 300:
        stats.errors += 1
        stats.statuses[str(status)] += 1
    elif outcome != "ok":
        stats.errors += 1
        stats.statuses[outcome] += 1
    else:
        stats.statuses[str(status)] += 1
        if answer_id:
            results.answer_ids.add(answer_id)
            return str(answer_id)
    return None


async def give_feedback(
    client: httpx.AsyncClient, answer_id: str, rng: random.Random, results: Results
) -> None:
    """A reader's verdict on an answer; a thumbs down comes with a comment half the time."""
    stats = results.routes[FEEDBACK]
    helpful = rng.random() < 0.7
    body: dict[str, Any] = {"answer_id": answer_id, "helpful": helpful}
    if not helpful and rng.random() < 0.5:
        body["comment"] = "The answer missed what I asked about."
    started = time.perf_counter()
    try:
        response = await client.post(FEEDBACK, json=body)
        status, outcome = response.status_code, "ok"
    except httpx.TimeoutException:
        status, outcome = 0, "timeout"
    except httpx.TransportError as exc:
        status, outcome = 0, type(exc).__name__
    stats.latencies.append(time.perf_counter() - started)
    if status == 200:
        results.verdicts += 1
        stats.statuses["200"] += 1
    elif status == 429:
        stats.limited += 1
        stats.statuses["429"] += 1
    else:
        stats.errors += 1
        stats.statuses[str(status) if status else outcome] += 1


def count_log_rows(data: Path) -> tuple[int, int]:
    """Rows of the answer log (answers, feedback) in the stopped server's SQLite file."""
    with sqlite3.connect(data / "bookrag.db") as db:
        answers = db.execute("SELECT count(*) FROM answers").fetchone()[0]
        verdicts = db.execute("SELECT count(*) FROM feedback").fetchone()[0]
    return int(answers), int(verdicts)


async def load(
    base_url: str,
    clients: int,
    duration: float,
    max_requests: int,
    questions: list[str],
    feedback: float,
) -> tuple[Results, float]:
    """`clients` clients, each asking one request after another, round robin over the routes."""
    results = Results()
    deadline = time.monotonic() + duration
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as client:

        async def run(number: int) -> None:
            rng = random.Random(number)
            turn = number
            while time.monotonic() < deadline and results.total < max_requests:
                route = ROUTES[turn % len(ROUTES)]
                turn += 1
                answer_id = await one_request(client, route, rng.choice(questions), results)
                if answer_id and rng.random() < feedback:
                    await give_feedback(client, answer_id, rng, results)

        started = time.monotonic()
        await asyncio.gather(*(run(n) for n in range(clients)))
        return results, time.monotonic() - started


async def soak(
    base_url: str,
    minutes: float,
    rate: float,
    questions: list[str],
    pid: int,
    fake: FakeCohere,
    feedback: float,
) -> tuple[Results, list[tuple[float, int]], float]:
    """`rate` requests a second (round robin over the routes) for `minutes`; RSS each minute."""
    results = Results()
    samples = [(0.0, rss_kib(pid))]
    print(f"  0.0 min  RSS {samples[0][1] / 1024:7.1f} MiB", flush=True)
    rng = random.Random(0)
    in_flight = asyncio.Semaphore(100)
    tasks: set[asyncio.Task[None]] = set()
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:

        async def send(route: str, question: str) -> None:
            try:
                answer_id = await one_request(client, route, question, results)
                if answer_id and rng.random() < feedback:
                    await give_feedback(client, answer_id, rng, results)
            finally:
                in_flight.release()

        started = time.monotonic()
        end = started + minutes * 60
        next_sample = started + 60
        count = 0
        while (now := time.monotonic()) < end:
            due = started + count / rate
            if due > now:
                await asyncio.sleep(min(due - now, max(0.0, next_sample - now)))
            if time.monotonic() >= next_sample:
                elapsed = (time.monotonic() - started) / 60
                samples.append((elapsed, rss_kib(pid)))
                fake.reset()  # the fake records every call; keep this process small
                done = results.total
                print(
                    f"{elapsed:5.1f} min  RSS {samples[-1][1] / 1024:7.1f} MiB  "
                    f"{done} requests, {sum(s.errors for s in results.routes.values())} errors",
                    flush=True,
                )
                next_sample += 60
                continue
            if time.monotonic() < due:
                continue
            await in_flight.acquire()
            task = asyncio.create_task(send(ROUTES[count % len(ROUTES)], rng.choice(questions)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            count += 1
        await asyncio.gather(*tasks)
        elapsed = time.monotonic() - started
    samples.append((elapsed / 60, rss_kib(pid)))
    return results, samples, elapsed


# -- report ------------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


def report(results: Results, seconds: float) -> dict[str, Any]:
    header = (
        f"{'route':<13}{'requests':>9}{'errors':>8}{'429s':>7}"
        f"{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'req/s':>8}  statuses"
    )
    print(header)
    print("-" * len(header))
    table = {}
    everything = RouteStats()
    for route in (*ROUTES, *([FEEDBACK] if FEEDBACK in results.routes else []), "all"):
        if route == "all":
            stats = everything
        else:
            stats = results.routes[route]
            everything.latencies += stats.latencies
            everything.statuses += stats.statuses
            everything.errors += stats.errors
            everything.limited += stats.limited
        row = {
            "requests": len(stats.latencies),
            "errors": stats.errors,
            "intended_429": stats.limited,
            "p50_ms": percentile(stats.latencies, 0.50) * 1000,
            "p95_ms": percentile(stats.latencies, 0.95) * 1000,
            "p99_ms": percentile(stats.latencies, 0.99) * 1000,
            "per_second": len(stats.latencies) / seconds if seconds else 0.0,
            "statuses": dict(stats.statuses),
        }
        table[route] = row
        statuses = " ".join(f"{k}:{v}" for k, v in sorted(stats.statuses.items()))
        print(
            f"{route:<13}{row['requests']:>9}{row['errors']:>8}{row['intended_429']:>7}"
            f"{row['p50_ms']:>9.1f}{row['p95_ms']:>9.1f}{row['p99_ms']:>9.1f}"
            f"{row['per_second']:>8.1f}  {statuses}"
        )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--book", choices=sorted(BOOKS), default="robotics")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients (load)")
    parser.add_argument("--duration", type=float, default=60, help="seconds of load")
    parser.add_argument("--max-requests", type=int, default=200_000, help="stop after these")
    parser.add_argument(
        "--rate-limited",
        action="store_true",
        help="keep the default BOOKRAG_RATE_LIMIT (60/min per client): expect 429s",
    )
    parser.add_argument("--soak", type=float, metavar="MINUTES", help="steady rate instead")
    parser.add_argument("--soak-rate", type=float, default=10, help="requests per second (soak)")
    parser.add_argument(
        "--feedback", type=float, default=0.25, help="share of answers given a verdict (0-1)"
    )
    parser.add_argument("--json", type=Path, help="also write the numbers to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data dir")
    args = parser.parse_args()
    if args.clients < 1 or args.duration <= 0 or args.soak_rate <= 0:
        parser.error("--clients, --duration and --soak-rate must be positive")
    if not 0 <= args.feedback <= 1:
        parser.error("--feedback must be between 0 and 1")
    docs = BOOKS[args.book]
    if not docs.is_dir():
        raise SystemExit(f"book not found: {docs}")

    workdir = Path(tempfile.mkdtemp(prefix="bookrag-load-"))
    try:
        with FakeCohere() as fake:
            env = server_env(fake, workdir / "data", args.rate_limited)
            print(f"ingesting {docs} ...", flush=True)
            print(f"  ingest took {ingest(docs, env):.1f} s (fake Cohere embeddings)")
            fake.reset()
            with serving(env, workdir / "server.log", cwd=workdir, timeout=120) as served:
                server, base_url = served.process, served.url
                rss_start = rss_kib(server.pid)
                summary: dict[str, Any] = {
                    "book": args.book,
                    "rate_limited": args.rate_limited,
                    "rss_start_kib": rss_start,
                }
                if args.soak:
                    print(
                        f"soak: {args.soak_rate:g} req/s for {args.soak:g} min against "
                        f"{base_url} (server pid {server.pid})",
                        flush=True,
                    )
                    results, samples, seconds = asyncio.run(
                        soak(
                            base_url,
                            args.soak,
                            args.soak_rate,
                            QUESTIONS[args.book],
                            server.pid,
                            fake,
                            args.feedback,
                        )
                    )
                    summary["rss_samples_kib"] = samples
                    first_minute = samples[1][1] if len(samples) > 2 else samples[0][1]
                    summary["growth_percent"] = 100 * (samples[-1][1] - rss_start) / rss_start
                    summary["growth_after_first_minute_percent"] = (
                        100 * (samples[-1][1] - first_minute) / first_minute
                    )
                else:
                    print(
                        f"load: {args.clients} clients for {args.duration:g} s against "
                        f"{base_url} (server pid {server.pid})",
                        flush=True,
                    )
                    results, seconds = asyncio.run(
                        load(
                            base_url,
                            args.clients,
                            args.duration,
                            args.max_requests,
                            QUESTIONS[args.book],
                            args.feedback,
                        )
                    )
                rss_end = rss_kib(server.pid)
                alive = server.poll() is None
            print()
            # The server has stopped, its writer having drained its queue: count the rows.
            logged, stored = count_log_rows(workdir / "data")
            summary["answer_log"] = {
                "answers_given": len(results.answer_ids),
                "answer_rows": logged,
                "verdicts_accepted": results.verdicts,
                "feedback_rows": stored,
            }
            summary["routes"] = report(results, seconds)
            summary.update(seconds=seconds, rss_end_kib=rss_end, server_stayed_up=alive)
            print(
                f"\nserver RSS: {rss_start / 1024:.1f} MiB at start, {rss_end / 1024:.1f} MiB "
                f"at end ({100 * (rss_end - rss_start) / rss_start:+.1f}%); "
                f"{seconds:.1f} s; server stayed up: {alive}"
            )
            print(
                f"answer log: {len(results.answer_ids)} answers given, {logged} rows "
                f"({len(results.answer_ids) - logged} lost); {results.verdicts} verdicts "
                f"accepted, {stored} rows ({results.verdicts - stored} lost)"
            )
            if args.soak:
                print(
                    "RSS growth after the first minute: "
                    f"{summary['growth_after_first_minute_percent']:+.1f}%"
                )
            if args.json:
                args.json.write_text(json.dumps(summary, indent=2))
    finally:
        if args.keep:
            print(f"data and server log kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
