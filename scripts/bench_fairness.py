"""Fair under abuse: the probes of issue 13, against `bookrag serve` and the fake Cohere.

The sample book is served by `bookrag serve --docs` on a free 127.0.0.1 port with the fake
Cohere (tests/fakes) answering in this process. Readers are told apart by the
`X-Forwarded-For` this script sends (127.0.0.1, the script, is a trusted proxy by default).
Printed:

1. page lookup: server CPU per `GET /demo/` + `a/` x 8000 (a 16 KB URL) against a normal demo
   page, as a ratio; the same in-process for `PageDirectory.find` on the sample book and on
   a 300-page book; `/chat` and `/translate` latency with a 2,048-character `page_url`;
2. slots: another reader's `/chat` latency and status, alone and while one address holds 8
   slow `/stream-chat` requests (every model call takes `--model-delay` seconds);
3. limiter: server RSS and CPU before and after 20,000 distinct clients (and 1,200 junk 8 KB
   forwarded-for strings); p95 and CPU of a light 20 req/s stream before, right after, and
   once those clients' minute is over.

    .venv/bin/python scripts/bench_fairness.py
    .venv/bin/python scripts/bench_fairness.py --pythonpath /tmp/old/src   # another checkout
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from serving import clean_env, serving  # noqa: E402

from fakes import FakeCohere  # noqa: E402

SAMPLE_DOCS = ROOT / "sample-book" / "docs"
NORMAL_PAGE = "/demo/docs/sensors/rain-wind"
HUGE_PAGE = "/demo/" + "a/" * 8000
QUESTION = "How much rain does one tip of the bucket measure?"
RAIN = "https://pocket-weather.example.org/docs/sensors/rain-wind"


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def reader(n: int) -> dict[str, str]:
    """The headers of the n-th distinct reader (one IPv4 address each)."""
    return {"X-Forwarded-For": f"198.{18 + n // 65536}.{n // 256 % 256}.{n % 256}"}


# -- 1. page lookup ----------------------------------------------------------------------------


def lookup_probe(url: str, pid: int) -> None:
    with httpx.Client(base_url=url, timeout=60) as client:
        costs = {}
        for name, path in (("normal", NORMAL_PAGE), ("16 KB", HUGE_PAGE)):
            client.get(path)  # warm
            before = cpu_seconds(pid)
            started = time.perf_counter()
            statuses = {client.get(path).status_code for _ in range(20)}
            wall = (time.perf_counter() - started) / 20
            costs[name] = (cpu_seconds(pid) - before) / 20
            print(
                f"  GET /demo {name:>6} URL: {costs[name] * 1000:7.2f} ms CPU, "
                f"{wall * 1000:7.2f} ms wall per request, statuses {sorted(statuses)}"
            )
        print(f"  CPU ratio 16 KB / normal: {costs['16 KB'] / max(costs['normal'], 1e-6):.2f}")
        long_url = RAIN + "/" + "x" * (2048 - len(RAIN) - 1)
        for path, body in (
            ("/chat", {"question": QUESTION, "page_url": long_url}),
            ("/translate", {"page_url": long_url}),
        ):
            started = time.perf_counter()
            response = client.post(path, json=body, headers=reader(999_999))
            took = (time.perf_counter() - started) * 1000
            status = response.status_code
            print(f"  POST {path} with a 2,048-char page_url: {took:7.1f} ms ({status})")


def in_process_lookup() -> None:
    from bookrag.errors import PageNotFound
    from bookrag.index.pages import PageDirectory

    class Records:
        embedded = True

        def __init__(self, count: int) -> None:
            self.records = [
                {"url_path": f"/docs/part-{n % 9}/chapter-{n}/page", "source": f"p{n}.md"}
                for n in range(count)
            ]

        def pages(self) -> list[dict[str, Any]]:
            return self.records

    def best(pages: PageDirectory, url: str) -> float:
        times = []
        for _ in range(9):
            started = time.perf_counter()
            with suppress(PageNotFound):
                pages.find(url)
            times.append(time.perf_counter() - started)
        return min(times)

    for count in (10, 300):
        pages = PageDirectory(Records(count))  # type: ignore[arg-type]
        pages.refresh()
        normal = best(pages, "/demo/docs/part-5/chapter-5/page")
        huge = best(pages, HUGE_PAGE)
        print(
            f"  PageDirectory.find, {count:>3} pages: normal {normal * 1e6:8.1f} us, "
            f"16 KB {huge * 1e6:9.1f} us, ratio {huge / normal:8.1f}"
        )


# -- 2. generation slots -----------------------------------------------------------------------


async def slots_probe(url: str, fake: FakeCohere, delay: float) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        question = {"question": QUESTION}

        async def other_reader() -> tuple[float, int]:
            started = time.perf_counter()
            response = await client.post("/chat", json=question, headers=reader(500_000))
            return time.perf_counter() - started, response.status_code

        fake.reset()
        fake.delay("/v2/chat", delay, times=1000)
        alone, status = await other_reader()
        print(f"  another reader's /chat alone:                 {alone * 1000:7.0f} ms ({status})")

        async def stream() -> int:
            async with client.stream(
                "POST", "/stream-chat", json=question, headers=reader(400_000)
            ) as response:
                await response.aread()
                return response.status_code

        streams = [asyncio.create_task(stream()) for _ in range(8)]
        await asyncio.sleep(0.5)
        loaded, status = await other_reader()
        codes = await asyncio.gather(*streams)
        fake.reset()
        print(
            f"  another reader's /chat beside 8 slow streams: {loaded * 1000:7.0f} ms "
            f"({status}); the 8 streams: {sorted(codes)}"
        )
        print(f"  waiting for a slot: {max(0.0, loaded - alone) * 1000:.0f} ms")


# -- 3. the limiter ----------------------------------------------------------------------------


async def many_clients(url: str, count: int, headers_of: Any, concurrency: int = 16) -> None:
    """POST /search with an empty query (rate limited, then refused cheaply) per client."""
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        queue = iter(range(count))

        async def worker() -> None:
            for n in queue:
                await client.post("/search", json={"query": ""}, headers=headers_of(n))

        await asyncio.gather(*(worker() for _ in range(concurrency)))


async def light_stream(url: str, pid: int, seconds: float = 10, rate: float = 20) -> str:
    """`rate` req/s of POST /search (empty query) from 50 readers: p95 and server CPU."""
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:

        async def one(n: int) -> None:
            started = time.perf_counter()
            await client.post("/search", json={"query": ""}, headers=reader(300_000 + n % 50))
            latencies.append(time.perf_counter() - started)

        before = cpu_seconds(pid)
        tasks = []
        for n in range(int(seconds * rate)):
            tasks.append(asyncio.create_task(one(n)))
            await asyncio.sleep(1 / rate)
        await asyncio.gather(*tasks)
        cpu = cpu_seconds(pid) - before
    return (
        f"p50 {percentile(latencies, 0.5) * 1000:6.1f} ms, "
        f"p95 {percentile(latencies, 0.95) * 1000:6.1f} ms, server CPU {cpu:5.2f} s "
        f"for {len(latencies)} requests"
    )


async def limiter_probe(url: str, pid: int, clients: int) -> None:
    print(f"  light stream, fresh:              {await light_stream(url, pid)}")
    rss, cpu = rss_mib(pid), cpu_seconds(pid)
    started = time.perf_counter()
    await many_clients(url, clients, reader)
    took = time.perf_counter() - started
    print(
        f"  {clients} distinct clients: RSS {rss:.1f} -> {rss_mib(pid):.1f} MiB, "
        f"server CPU {cpu_seconds(pid) - cpu:.1f} s, {took:.1f} s wall"
    )
    rss = rss_mib(pid)
    await many_clients(url, 1200, lambda n: {"X-Forwarded-For": f"{n}-" + "j" * 8192})
    print(f"  1,200 junk 8 KB forwarded-for strings: RSS {rss:.1f} -> {rss_mib(pid):.1f} MiB")
    print(f"  light stream, right after:        {await light_stream(url, pid)}")
    await asyncio.sleep(65)  # their minute is over
    print(f"  light stream, a minute later:     {await light_stream(url, pid)}")
    print(f"  RSS at the end: {rss_mib(pid):.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=20_000, help="distinct clients")
    parser.add_argument("--model-delay", type=float, default=3.0, help="seconds per answer")
    parser.add_argument("--pythonpath", help="run the server from this src folder instead")
    args = parser.parse_args()
    print("in-process page lookup:")
    in_process_lookup()
    with tempfile.TemporaryDirectory() as work, FakeCohere() as fake:
        env = clean_env(
            BOOKRAG_DATA_DIR=str(Path(work) / "data"),
            BOOKRAG_DOCS_DIR=str(SAMPLE_DOCS),
            COHERE_API_KEY=fake.api_key,
            COHERE_BASE_URL=fake.url,
        )
        if args.pythonpath:
            env["PYTHONPATH"] = args.pythonpath
        with serving(env, Path(work) / "server.log", cwd=Path(work)) as server:
            pid = server.process.pid
            print(f"bookrag serve {server.url} (pid {pid}), healthy in {server.startup_s:.1f} s")
            print("1. page lookup over HTTP:")
            lookup_probe(server.url, pid)
            print(f"2. slots (each model answer takes {args.model_delay:g} s):")
            asyncio.run(slots_probe(server.url, fake, args.model_delay))
            print("3. limiter:")
            asyncio.run(limiter_probe(server.url, pid, args.clients))


if __name__ == "__main__":
    main()
