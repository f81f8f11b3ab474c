"""The answer log's only writer: a thread that drains a queue into the database, so an
answer never waits on it.

Answers are queued without blocking; a full queue or a failing database drops the record
and counts it (`bookrag_answer_log_dropped_total`), never fails the answer. A reader's
verdict goes through the same queue, behind the answer it is about, and the request
waits for its outcome (the 404 for an unknown answer needs one). The same thread
migrates the schema at start and sweeps out rows past the retention period. An answer
that could not be logged is remembered, so a verdict on it is told so (503), not 404.

Longer than 300 lines: answers, verdicts, the schema and the sweep share the one writer
thread and its queue, and each has its own way to fail that the others must survive.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import queue
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Counter, Gauge
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from bookrag.errors import BookragError
from bookrag.feedback.database import (
    MAX_COMMENT_CHARS,
    answers,
    feedback,
    meta,
    migrate,
)
from bookrag.feedback.records import AnswerRecord, Verdict, as_row, storable
from bookrag.feedback.redaction import redact

log = logging.getLogger("bookrag.feedback")

QUEUE_SIZE = 10_000
BATCH = 500
SWEEP_EVERY = 3600.0  # seconds between retention sweeps
RETRY_SCHEMA_AFTER = 30.0  # seconds before a database that failed is tried again
FEEDBACK_WAIT = 10.0  # seconds a /feedback request waits for the writer
UNKNOWN_WAIT = 1.0  # seconds before an unknown answer is looked up again
_ANSWER_ID = re.compile(r"[0-9a-f]{32}")  # as `records.make_record` makes them


class UnknownAnswer(BookragError):
    """No answer with this id was given, or it is past the retention period."""

    status_code = 404

    def __init__(self, kept_days: int) -> None:
        # Shown by the widget as it is: words for a reader, not for a developer.
        super().__init__(
            f"This answer can no longer be rated: it is older than {kept_days} days, "
            "or this server did not give it."
        )


class FeedbackOff(BookragError):
    """This server keeps no answer log (`BOOKRAG_FEEDBACK=false`), so no verdict either."""

    status_code = 404


class FeedbackUnavailable(BookragError):
    """The database that keeps feedback cannot be reached right now."""

    status_code = 503


@dataclass
class _FeedbackJob:
    verdict: Verdict
    done: Future[None] = field(default_factory=Future)


_STOP = object()


class Journal:
    """Writes answers and feedback from one thread; `record` never blocks."""

    def __init__(
        self,
        engine: sa.Engine,
        registry: CollectorRegistry,
        retention_days: int,
        queue_size: int = QUEUE_SIZE,
    ) -> None:
        self.engine = engine
        self.retention = timedelta(days=retention_days)
        self._queue: queue.Queue[object] = queue.Queue(maxsize=queue_size)
        self._thread: threading.Thread | None = None
        self._ready = False
        self._failed_at = -RETRY_SCHEMA_AFTER
        self._swept_at = -SWEEP_EVERY
        self._salt = b""
        # Ids of answers given but not logged: a verdict on one is a failure to say, not 404.
        self._lost: OrderedDict[str, None] = OrderedDict()
        self._lost_lock = threading.Lock()
        self.written = Counter(
            "bookrag_answer_log_written", "answers written to the answer log", registry=registry
        )
        self.dropped = Counter(
            "bookrag_answer_log_dropped",
            "answers not logged (queue full or database failing); the answers were still given",
            ["reason"],
            registry=registry,
        )
        for reason in ("queue_full", "database_error"):
            self.dropped.labels(reason)  # reported as 0 until the first drop
        self.backlog = Gauge(
            "bookrag_answer_log_queue", "records waiting for the writer", registry=registry
        )
        self.backlog.set_function(self._queue.qsize)

    def start(self) -> None:
        """Start the writer thread (it migrates the database first)."""
        self._thread = threading.Thread(target=self._run, name="answer-log", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (for up to `timeout` seconds), then stop the writer."""
        if self._thread is not None:
            with suppress(queue.Full):
                self._queue.put(_STOP, timeout=timeout)
            self._thread.join(timeout)
            self._thread = None
        self.engine.dispose()

    def record(self, entry: AnswerRecord) -> None:
        """Queue an answer for the log; when the queue is full it is dropped and counted."""
        try:
            self._queue.put_nowait(entry)
        except queue.Full:
            self.dropped.labels("queue_full").inc()
            self._forget([entry])

    def _check_kept(self, answer_id: str) -> None:
        if answer_id in self._lost:
            raise FeedbackUnavailable(
                "this answer could not be kept in the answer log, so it cannot be rated"
            )

    def _forget(self, records: Sequence[AnswerRecord]) -> None:
        """Remember that these answers were not logged (the latest `QUEUE_SIZE` of them)."""
        with self._lost_lock:
            for record in records:
                self._lost[record.id] = None
            while len(self._lost) > QUEUE_SIZE:
                self._lost.popitem(last=False)

    async def give_feedback(self, verdict: Verdict) -> None:
        """Store a reader's verdict (replacing their earlier one on the same answer; the
        same verdict again without a comment keeps the comment given with it).

        An answer given by another process (a replica, a worker) may still be in that
        process's queue: an unknown answer is looked up once more after `UNKNOWN_WAIT`."""
        if verdict.comment is not None and len(verdict.comment) > MAX_COMMENT_CHARS:
            raise ValueError("comment too long")  # the request schema caps it first
        if not _ANSWER_ID.fullmatch(verdict.answer_id):  # never given: no need to look
            raise UnknownAnswer(self.retention.days)
        self._check_kept(verdict.answer_id)
        try:
            await self._submit(verdict)
        except UnknownAnswer:
            await asyncio.sleep(UNKNOWN_WAIT)
            try:
                await self._submit(verdict)
            except UnknownAnswer:
                self._check_kept(verdict.answer_id)  # lost while the verdict waited
                raise

    async def _submit(self, verdict: Verdict) -> None:
        job = _FeedbackJob(verdict)
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            raise FeedbackUnavailable("the feedback store is busy; try again shortly") from None
        try:
            await asyncio.wait_for(asyncio.wrap_future(job.done), FEEDBACK_WAIT)
        except TimeoutError:
            raise FeedbackUnavailable("the feedback store did not answer in time") from None

    # -- the writer thread -------------------------------------------------------------

    def _run(self) -> None:
        self._guarded(self._schema_ready)
        while True:
            timeout = max(0.1, SWEEP_EVERY - (time.monotonic() - self._swept_at))
            try:
                first = self._queue.get(timeout=timeout)
            except queue.Empty:
                self._guarded(self._sweep_if_due)
                continue
            batch = [first]
            with suppress(queue.Empty):
                while len(batch) < BATCH:
                    batch.append(self._queue.get_nowait())
            stop = any(item is _STOP for item in batch)
            self._guarded(self._write, [item for item in batch if item is not _STOP])
            self._guarded(self._sweep_if_due)
            if stop:
                return

    @staticmethod
    def _guarded(step: Callable[..., object], *args: object) -> None:
        """One step of the only writer: an error nobody foresaw is logged, and it goes on."""
        try:
            step(*args)
        except Exception as exc:
            log.error("answer log: unexpected %s in the writer", type(exc).__name__)

    def _schema_ready(self) -> bool:
        if self._ready:
            return True
        if time.monotonic() - self._failed_at < RETRY_SCHEMA_AFTER:
            return False
        try:
            migrate(self.engine)
            with self.engine.connect() as connection:
                salt = connection.scalar(sa.select(meta.c.value).where(meta.c.key == "client_salt"))
            self._salt = str(salt).encode()
            self._ready = True
        # OSError: SQLite's folder or lock file; alembic's errors: a newer bookrag's schema.
        except Exception as exc:
            self._failed_at = time.monotonic()
            log.error("answer log: database unavailable (%s)", _reason(exc))
        return self._ready

    def _write(self, batch: Sequence[object]) -> None:
        records = [item for item in batch if isinstance(item, AnswerRecord)]
        # A verdict whose request gave up waiting (and was told so) is not stored.
        jobs = [
            item
            for item in batch
            if isinstance(item, _FeedbackJob) and item.done.set_running_or_notify_cancel()
        ]
        if not self._schema_ready():
            self.dropped.labels("database_error").inc(len(records))
            self._forget(records)
            for job in jobs:
                job.done.set_exception(FeedbackUnavailable("the feedback store is unavailable"))
            return
        if records:
            self._insert(records)
        for job in jobs:
            try:
                self._store_verdict(job.verdict)
            except BookragError as exc:
                job.done.set_exception(exc)
            except SQLAlchemyError as exc:
                log.warning("answer log: feedback not stored (%s)", _reason(exc))
                job.done.set_exception(FeedbackUnavailable("the feedback store is unavailable"))
            except Exception as exc:
                log.error("answer log: feedback not stored (%s)", _reason(exc))
                job.done.set_exception(FeedbackUnavailable("the feedback store failed"))
            else:
                job.done.set_result(None)

    def _insert(self, records: list[AnswerRecord]) -> None:
        """Write answer records at once; if their rows (not the database) fail, one by one."""
        try:
            with self.engine.begin() as connection:
                connection.execute(answers.insert(), [as_row(r) for r in records])
            self.written.inc(len(records))
        except Exception as exc:  # whatever it is, it must not stop the only writer
            if len(records) > 1 and not isinstance(exc, OperationalError):
                for record in records:  # only the rows at fault are lost
                    self._insert([record])
                return
            self.dropped.labels("database_error").inc(len(records))
            self._forget(records)
            level = logging.WARNING if isinstance(exc, SQLAlchemyError) else logging.ERROR
            log.log(level, "answer log: %d answers dropped (%s)", len(records), _reason(exc))

    def _store_verdict(self, verdict: Verdict) -> None:
        now = datetime.now(UTC)
        client = hmac.new(
            self._salt, f"{verdict.answer_id}\n{verdict.client}".encode(), hashlib.sha256
        ).hexdigest()[:32]
        row = {
            "answer_id": verdict.answer_id,
            "client": client,
            "helpful": verdict.helpful,
            # Cut to its column: `[removed]` is longer than many an address it replaces.
            "comment": _comment(verdict.comment),
            "created_at": now,
        }
        with self.engine.begin() as connection:
            known = connection.scalar(
                sa.select(answers.c.id).where(
                    answers.c.id == verdict.answer_id, answers.c.created_at >= now - self.retention
                )
            )
            if known is None:
                raise UnknownAnswer(self.retention.days)
            insert = (postgresql if connection.dialect.name == "postgresql" else sqlite).insert
            statement = insert(feedback).values(row)
            new = statement.excluded
            # The same verdict sent again without a comment (a second click, another client
            # of the API) keeps the comment given with it; a changed verdict is a new
            # judgement, and its comment (or none) replaces the old one.
            repeated = sa.and_(new.comment.is_(None), feedback.c.helpful == new.helpful)
            connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[feedback.c.answer_id, feedback.c.client],
                    set_={
                        "helpful": new.helpful,
                        "comment": sa.case((repeated, feedback.c.comment), else_=new.comment),
                        "created_at": new.created_at,
                    },
                )
            )

    def _sweep_if_due(self) -> None:
        if time.monotonic() - self._swept_at < SWEEP_EVERY or not self._schema_ready():
            return
        self._swept_at = time.monotonic()
        try:
            removed = sweep(self.engine, datetime.now(UTC) - self.retention)
        except SQLAlchemyError as exc:
            log.warning("answer log: retention sweep failed (%s)", _reason(exc))
            return
        if removed:
            log.info("answer log: %d answers past the retention period deleted", removed)


def sweep(engine: sa.Engine, before: datetime) -> int:
    """Delete answers (and their feedback) logged before `before`; how many answers."""
    old = sa.select(answers.c.id).where(answers.c.created_at < before)
    with engine.begin() as connection:
        connection.execute(feedback.delete().where(feedback.c.answer_id.in_(old)))
        return connection.execute(answers.delete().where(answers.c.created_at < before)).rowcount


def _reason(exc: Exception) -> str:
    """The exception's class and first line, without the SQL and parameters it carries
    (which may hold a question) and without the URL (which may hold a password)."""
    original = getattr(exc, "orig", None) or exc
    first = str(original).strip().splitlines()[0] if str(original).strip() else ""
    return f"{type(original).__name__}: {first[:200]}"


def _comment(text: str | None) -> str | None:
    """A reader's comment as kept: redacted, and no longer than its column."""
    kept = storable(redact(text)) if text else None
    return kept[:MAX_COMMENT_CHARS] if kept else None
