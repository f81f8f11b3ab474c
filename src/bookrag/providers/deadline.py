"""A deadline for all the provider calls made to answer one question.

An answer may call the providers up to four times (restate the question, embed it, rerank,
generate), and each call retries within its own budget (`BOOKRAG_RETRY_BUDGET`): while a
provider fails or rate-limits, the first reader to ask waited for all four budgets before
getting the extractive answer. Within `answering(seconds)` no call is started and no retry
waited for once the deadline has passed: the call fails at once, and the answer degrades as
it does for any failure (lexical search, the fused order, the book's own sentences). A try
started before the deadline times out at it (`within`), not `BOOKRAG_UPSTREAM_TIMEOUT` later;
a streamed answer is not cut (its reader sees it coming).

The deadline is a context variable: it follows the request into the worker threads that
`anyio.to_thread` starts, and does not reach other requests or background work (a refresh,
a translation).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar

# The shortest timeout a try is given: a try started just before the deadline still gets one.
SHORTEST_TRY = 0.05

_deadline: ContextVar[float] = ContextVar("bookrag_answer_deadline", default=math.inf)


@contextmanager
def answering(seconds: float) -> Iterator[None]:
    """Calls made within this block must start within `seconds` (none if 0)."""
    token = _deadline.set(time.monotonic() + seconds if seconds > 0 else math.inf)
    try:
        yield
    finally:
        with suppress(ValueError):  # a stream closed from another context (its client gone)
            _deadline.reset(token)


def time_left() -> float:
    """Seconds until the current answer's deadline (infinite outside one)."""
    return _deadline.get() - time.monotonic()


def within(timeout: float) -> float:
    """`timeout` for a try started now, cut to the time left before the answer's deadline."""
    return max(SHORTEST_TRY, min(timeout, time_left()))
