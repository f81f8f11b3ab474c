"""Keep a served index up to date with its book, in the background, while answering.

One `Refresher` per app runs the book's ingest (a published site's, or a docs folder's) in
a worker thread, one run at a time: at start-up, every `BOOKRAG_REFRESH_MINUTES`, and when
`POST /admin/reindex` asks. A failed run changes nothing that was served (a site that
cannot be read fails before the index is touched) and is reported by `/health`.

A book that cannot be embedded while nothing is indexed yet (the embedding provider down, or
the key refused, as a Space starts) is indexed for lexical search instead, so that readers
get answers rather than a 503 until the provider answers; the embedding is tried again every
`EMBED_RETRY_MINUTES` until it is done, which re-embeds the book beside the served index.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
from collections.abc import Callable
from typing import Any

import anyio

from bookrag.errors import BookragError, UpstreamError
from bookrag.index.outcomes import IngestReport

log = logging.getLogger("bookrag.refresh")

EMBED_RETRY_MINUTES = 5.0


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class Refresher:
    """Runs `ingest` now and then; `on_change` is told when the index changed. When
    `ingest` cannot embed the book, `lexical` indexes it without embeddings, or returns None
    when it should not (the index already serves the book)."""

    def __init__(
        self,
        ingest: Callable[[], IngestReport],
        on_change: Callable[[], None],
        source: str,
        shown: str | None = None,
        lexical: Callable[[], IngestReport | None] | None = None,
    ) -> None:
        self._ingest = ingest
        self._lexical = lexical
        self._on_change = on_change
        self.source = source  # what is indexed (a URL or a folder), for the log
        # ... as the public /health names it: a folder by its name, not the server's path.
        self.shown = source if shown is None else shown
        self._lock = threading.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self.running = False
        self.last_started: str | None = None
        self.last_finished: str | None = None
        self.last_error: str | None = None
        self.last_report: IngestReport | None = None
        # Why the book is served without embeddings, until a run embeds it.
        self.unembedded: str | None = None
        # The last run could not embed the book's changes: tried again every
        # EMBED_RETRY_MINUTES (an embedded index is served meanwhile, as it was).
        self.embedding_failed = False

    def run(self) -> IngestReport | None:
        """One refresh, in the calling thread; None when one is already running or it failed."""
        if not self._lock.acquire(blocking=False):
            return None
        self.running, self.last_started = True, _now()
        try:
            report = self._index()
        except BookragError as exc:
            self.last_error, self.last_report = exc.message.replace(self.source, self.shown), None
            log.error("refresh of %s failed: %s", self.source, exc.message)
            return None
        except Exception as exc:
            self.last_error = "unexpected error; the server log has the details"
            self.last_report = None  # its changes are not this run's
            log.error("refresh of %s failed", self.source, exc_info=exc)
            return None
        else:
            self.last_error, self.last_report = self.unembedded, report
            if report.changed:
                try:
                    self._on_change()
                except Exception as exc:  # the index is refreshed either way
                    log.error("after refreshing %s: %s", self.source, type(exc).__name__)
            report.log_to(log, f"refreshed {self.source}")
            return report
        finally:
            self.running, self.last_finished = False, _now()
            self._lock.release()

    def _index(self) -> IngestReport:
        try:
            report = self._ingest()
        except UpstreamError as exc:
            self.embedding_failed = True
            lexical = self._lexical() if self._lexical is not None else None
            if lexical is None:
                raise
            self.unembedded = (
                f"{exc.message}: the book is indexed for lexical search until it can be "
                f"embedded (tried again every {EMBED_RETRY_MINUTES:g} minutes)"
            )
            log.error(
                "could not embed %s (%s): indexed for lexical search", self.source, exc.message
            )
            return lexical
        self.unembedded, self.embedding_failed = None, False
        return report

    def trigger(self) -> bool:
        """Start a refresh in the background now; False if one is already running."""
        if self.running or self._lock.locked() or self._tasks:
            return False
        task = asyncio.create_task(self._run_in_thread())
        self.last_started = _now()  # as the reply says: `run` sets it again as it starts
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def _run_in_thread(self) -> None:
        await anyio.to_thread.run_sync(self.run)

    async def every(self, minutes: float, first_now: bool) -> None:
        """Refresh now (if asked) and then every `minutes` (never, if 0), until cancelled;
        while the book is served without embeddings, at least every `EMBED_RETRY_MINUTES`."""
        if first_now:
            await self._run_in_thread()
        while True:
            retry = EMBED_RETRY_MINUTES if self.embedding_failed else 0
            waits = [m for m in (minutes, retry) if m > 0]
            if not waits:
                return
            await asyncio.sleep(min(waits) * 60)
            await self._run_in_thread()

    async def wait(self) -> None:
        """Wait for the refreshes started by `trigger`."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    @property
    def status(self) -> str:
        """`running` (or triggered to), `failed` (the last run), `lexical` (the last run
        indexed the book without the embeddings it could not get), `ok`, or `pending` before
        the first run."""
        if self.running or self._tasks:
            return "running"
        if self.unembedded and self.last_report is not None:
            return "lexical"
        if self.last_error:
            return "failed"
        return "ok" if self.last_finished else "pending"

    def describe(self, public: Callable[[str], str] | None = None) -> dict[str, Any]:
        """The refresh state, as `/health` shows it (its error made `public`)."""
        report = self.last_report
        error = self.last_error
        return {
            "source": public(self.shown) if public else self.shown,
            "status": self.status,
            "last_started": self.last_started,
            "last_finished": self.last_finished,
            "error": public(error) if public and error else error,
            "last_changes": None
            if report is None
            else {
                "indexed": len(report.indexed),
                "unchanged": report.unchanged,
                "removed": len(report.removed),
                "skipped": [{"path": p, "reason": r} for p, r in report.skipped],
                "warnings": list(report.warnings),  # e.g. segments left unmerged
            },
        }
