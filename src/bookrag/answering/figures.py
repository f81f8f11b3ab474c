"""A request's own figures: retrieval and generation time, whether it degraded, and the like.

Answering code writes them through `timed` and `note`; the HTTP layer's request log
(`api.observability`) opens a record per request in `current` and logs it when the request
ends. Starlette copies the context into worker threads, so the record follows the request.
Outside a request (the CLI, evaluation) there is no record and these do nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

current: ContextVar[dict[str, Any] | None] = ContextVar("bookrag_request", default=None)
STARTED = "_started"  # the request's start, kept in its record but not logged


@contextmanager
def timed(name: str) -> Iterator[None]:
    """Add the time spent in the block to this request's `<name>_ms`."""
    started = time.perf_counter()
    try:
        yield
    finally:
        record = current.get()
        if record is not None:
            key = f"{name}_ms"
            record[key] = round(record.get(key, 0) + (time.perf_counter() - started) * 1000, 2)


def mark_once(name: str) -> None:
    """Record, the first time only, how long after the request's start `name` happened
    (as `<name>_ms`), e.g. the first streamed token."""
    record = current.get()
    if record is not None and f"{name}_ms" not in record:
        record[f"{name}_ms"] = round((time.perf_counter() - record[STARTED]) * 1000, 2)


def note(**facts: Any) -> None:
    """Attach facts (e.g. `degraded=True`) to this request's log line."""
    record = current.get()
    if record is not None:
        record.update(facts)
