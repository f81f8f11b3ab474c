"""What the answer log costs and how fast its report is.

1. Overhead: two `bookrag serve` processes over the same book, one with the answer log
   (`BOOKRAG_FEEDBACK=true`, SQLite) and one without, asked the same /chat questions in
   turn (so noise on this shared machine hits both alike); p50/p95 of each and the ratio,
   one client at a time and then several at once.
2. Report time: 10,000 answers (a quarter unanswered, in 40 invented topics) and 1,000
   verdicts written through the journal into SQLite (and PostgreSQL with --postgres URL),
   then the gap report over them, with and without finding the closest page of each group.

    .venv/bin/python scripts/bench_feedback.py                  # sample book, SQLite
    .venv/bin/python scripts/bench_feedback.py --postgres postgresql://...  # also PostgreSQL
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa
from prometheus_client import CollectorRegistry

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from serving import clean_env, serving  # noqa: E402

from bookrag.answering.models import Answer, Question  # noqa: E402
from bookrag.answering.pipeline import Book  # noqa: E402
from bookrag.config import load_settings  # noqa: E402
from bookrag.feedback.database import (  # noqa: E402
    answers,
    database_url,
    feedback,
    migrate,
    open_engine,
)
from bookrag.feedback.grouping import PageLink  # noqa: E402
from bookrag.feedback.journal import Journal  # noqa: E402
from bookrag.feedback.records import Verdict, make_record  # noqa: E402
from bookrag.feedback.report import closest_page, gap_report  # noqa: E402
from bookrag.index.connection import open_store  # noqa: E402
from bookrag.index.ingest import ingest, site_config  # noqa: E402

BOOKS = {
    "sample": ROOT / "sample-book" / "docs",
    "robotics": ROOT.parent / "shared" / "corpus" / "robotics-course" / "website" / "docs",
}
ASKED = [
    "How much rain does one tip of the bucket measure?",
    "How do I wire a sensor to the I2C bus?",
    "What is the default I2C address of the BME280?",
    "How is wind speed measured?",
    "How do I measure soil moisture?",
    "What parts do I need to build the station?",
]
TOPICS = """lora gateway, solar charging, snow depth, uv index, lightning detector,
battery runtime, camera timelapse, air quality, pollen count, leaf wetness, soil temperature,
water level, frost alarm, dew point, cloud upload, mqtt broker, home assistant, grafana
dashboard, influx retention, ota update, watchdog reset, deep sleep, antenna placement, mast
grounding, enclosure venting, conformal coating, calibration drift, barometer altitude, rain
heater, bird spikes, spider webs, ice buildup, sd card wear, gps timestamp, ntp sync,
ethernet poe, cellular modem, satellite link, zigbee mesh, thread border""".replace("\n", " ")
TOPICS = [t.strip() for t in TOPICS.split(",")]
TEMPLATES = ("How do I set up the {}?", "{} how?", "Does the book cover the {}?")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


async def overhead(urls: dict[str, str], rounds: int, concurrency: int) -> dict[str, list[float]]:
    """Latencies (ms) of /chat on each server, asked in turn, `concurrency` at a time."""
    latencies: dict[str, list[float]] = {name: [] for name in urls}
    async with httpx.AsyncClient(timeout=60) as client:

        async def ask(name: str, question: str) -> None:
            started = time.perf_counter()
            response = await client.post(f"{urls[name]}/chat", json={"question": question})
            response.raise_for_status()
            latencies[name].append((time.perf_counter() - started) * 1000)

        for i in range(rounds):
            question = ASKED[i % len(ASKED)]
            for name in sorted(urls) if i % 2 else sorted(urls, reverse=True):
                await asyncio.gather(*(ask(name, question) for _ in range(concurrency)))
    return latencies


def measure_overhead(docs: Path, work: Path, rounds: int) -> None:
    print(f"/chat with and without the answer log ({docs.parent.name}, extractive answers)")
    base = {"BOOKRAG_DOCS_DIR": str(docs), "BOOKRAG_RATE_LIMIT": "1000000"}
    on = clean_env(**base, BOOKRAG_DATA_DIR=str(work / "on"), BOOKRAG_FEEDBACK="true")
    off = clean_env(**base, BOOKRAG_DATA_DIR=str(work / "off"), BOOKRAG_FEEDBACK="false")
    with (
        serving(on, work / "on.log", cwd=work) as logged,
        serving(off, work / "off.log", cwd=work) as plain,
    ):
        urls = {"log on": logged.url, "log off": plain.url}
        asyncio.run(overhead(urls, 20, 1))  # warm up
        for concurrency in (1, 8):
            result = asyncio.run(overhead(urls, rounds, concurrency))
            p95 = {name: percentile(values, 0.95) for name, values in result.items()}
            for name, values in sorted(result.items()):
                print(
                    f"  {concurrency} at a time, {name:7}: {len(values)} requests, "
                    f"p50 {statistics.median(values):6.1f} ms, p95 {p95[name]:6.1f} ms"
                )
            ratio = p95["log on"] / p95["log off"]
            print(f"  {concurrency} at a time: p95 ratio on/off = {ratio:.3f}")
    rows = sa.create_engine(f"sqlite:///{work / 'on' / 'bookrag.db'}")
    with rows.connect() as connection:
        count = connection.exec_driver_sql("SELECT count(*) FROM answers").scalar()
    rows.dispose()
    print(f"  answers logged by the server with the log on: {count}")


def fill(url: str, count: int, verdicts: int) -> float:
    """Write `count` answers and `verdicts` verdicts through a journal; seconds taken."""
    rng = random.Random(7)
    engine = open_engine(url)
    migrate(engine)
    with engine.connect() as connection:
        if connection.scalar(sa.select(sa.func.count()).select_from(answers)):
            raise SystemExit(f"{engine.url.render_as_string()}: not empty; give an empty database")
    engine.dispose()
    journal = Journal(open_engine(url), CollectorRegistry(), 30, queue_size=count + verdicts)
    now = datetime.now(UTC)
    records = []
    for i in range(count):
        if rng.random() < 0.25:  # unanswered, about 40 topics: most asked first
            topic = TOPICS[min(int(rng.expovariate(0.1)), len(TOPICS) - 1)]
            text = rng.choice(TEMPLATES).format(topic)
            answer = Answer(answer="-", sources=[], mode="not_found", extractive=False)
        else:
            text = rng.choice(ASKED)
            page = f"https://book.example.org/docs/page-{rng.randrange(30)}#part"
            answer = Answer(answer="-", sources=[page], mode="extractive", extractive=True)
        record = make_record(Question(text), answer, rng.uniform(5, 80), keep_text=i % 2 == 0)
        records.append(replace(record, created_at=now - timedelta(minutes=rng.randrange(43200))))
    started = time.perf_counter()
    journal.start()
    for record in records:
        journal.record(record)

    async def rate() -> None:
        for record in records[:verdicts]:
            comment = None if rng.random() < 0.5 else "Not what I asked."
            verdict = Verdict(
                record.id, f"198.51.100.{rng.randrange(250)}", rng.random() < 0.6, comment
            )
            await journal.give_feedback(verdict)

    asyncio.run(rate())
    journal.close(timeout=300)
    seconds = time.perf_counter() - started
    with journal.engine.connect() as connection:
        stored = connection.scalar(sa.select(sa.func.count()).select_from(feedback))
    journal.engine.dispose()
    assert stored == verdicts, (stored, verdicts)
    return seconds


def measure_report(name: str, url: str, book: Book, count: int) -> None:
    seconds = fill(url, count, count // 10)
    print(f"  {name}: {count} answers + {count // 10} verdicts written in {seconds:.2f} s")
    engine = open_engine(url)

    def closest(text: str) -> PageLink | None:
        return closest_page(book.retriever, text)

    for label, finder in (("without page links", None), ("with closest pages", closest)):
        times = []
        for _ in range(3):
            started = time.perf_counter()
            report = gap_report(engine, timedelta(days=30), finder)
            times.append(time.perf_counter() - started)
        print(
            f"  {name}: gap report over {report.answers} answers {label}: best of 3 "
            f"{min(times) * 1000:.0f} ms ({len(report.gaps)} groups shown)"
        )
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--book", choices=sorted(BOOKS), default="sample")
    parser.add_argument("--rounds", type=int, default=300, help="/chat rounds per server")
    parser.add_argument("--answers", type=int, default=10_000)
    parser.add_argument("--postgres", help="also measure the report on this (empty) database")
    parser.add_argument("--skip-overhead", action="store_true")
    args = parser.parse_args()
    docs = BOOKS[args.book]
    work = Path(tempfile.mkdtemp(prefix="bookrag-feedback-bench-"))
    try:
        if not args.skip_overhead:
            measure_overhead(docs, work, args.rounds)
        print(f"gap report over {args.answers} logged answers")
        settings = load_settings(data_dir=work / "book")
        store = open_store(settings)
        ingest(store, docs, site_config(docs, None, None), settings.chunk_tokens)
        book = Book.open(store, settings)
        measure_report("SQLite", f"sqlite:///{work / 'report.db'}", book, args.answers)
        if args.postgres:
            url = database_url(load_settings(database_url=args.postgres))
            measure_report("PostgreSQL", url, book, args.answers)
        store.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
