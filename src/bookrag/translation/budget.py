"""Per-client budgets for costly work, such as translating a page afresh.

A budget is a token bucket per client key: `per_hour` tokens, refilled evenly, so a client
may spend them in a burst and then one every `3600 / per_hour` seconds. The client key is
whatever the caller passes (the HTTP layer's normalised client address). Memory is bounded:
at most `max_clients` buckets are kept, the least recently used dropped first, and a
dropped bucket was full anyway once it had been idle for an hour.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable


class Budget:
    """How much of something each client may spend per hour."""

    def __init__(
        self,
        per_hour: int,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_hour = per_hour
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.per_hour > 0

    def charge(self, client: str) -> float | None:
        """Spend one token of `client`'s budget: None when spent, else the seconds until
        one is back (nothing is spent then)."""
        if not self.enabled:
            return None
        rate = self.per_hour / 3600.0
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.pop(client, (float(self.per_hour), now))
            tokens = min(float(self.per_hour), tokens + (now - at) * rate)
            wait = None if tokens >= 1.0 else (1.0 - tokens) / rate
            if wait is None:
                tokens -= 1.0
            self._buckets[client] = (tokens, now)
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
        return wait

    def refund(self, client: str) -> None:
        """Give back the token `charge` spent, when the work it paid for failed."""
        if not self.enabled:
            return
        with self._lock:
            tokens, at = self._buckets.get(client, (float(self.per_hour) - 1.0, self._clock()))
            self._buckets[client] = (min(float(self.per_hour), tokens + 1.0), at)

    def __len__(self) -> int:
        return len(self._buckets)
