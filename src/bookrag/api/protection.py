"""What keeps a public endpoint standing, and fair: a body size limit, per-client rate
limits, and a bound on answers in flight of which one client holds only a share. Each is
a small ASGI middleware, so it also covers streams.

A client is keyed by its address (`clients`), normalised so that it cannot multiply itself;
the bound on answers in flight is `slots`. This module holds the body limit and the rate
limit, and the error a middleware sends before the app has run.
"""

from __future__ import annotations

import json
import math
import time
from collections import OrderedDict

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bookrag.api.clients import ClientAddress

# Each request holds a generation slot while it runs. `/translate` takes one only while it
# waits on a translation being made, not for a cached one (`Translator.translate`).
GENERATION_PATHS = frozenset({"/chat", "/stream-chat"})
# Rate limited: everything that costs model calls, /search included (an embed and a rerank).
LIMITED_PATHS = GENERATION_PATHS | {"/search", "/translate"}

STREAM_PATH = "/stream-chat"


async def send_error(
    scope: Scope, send: Send, status: int, body: dict[str, object], headers: dict[str, str]
) -> None:
    """Refuse a request before the app has run: a small JSON error body or, on the streaming
    route, the contract's error event, which a client that reads only `data:` lines sees."""
    if scope.get("path") == STREAM_PATH:
        event = {"error": body["error"], "done": True}
        payload = f"data: {json.dumps(event)}\n\n".encode()
        kind = b"text/event-stream; charset=utf-8"
    else:
        payload = json.dumps({"success": False, **body}).encode()
        kind = b"application/json"
    raw = [(b"content-type", kind), (b"content-length", str(len(payload)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})


class BodyLimit:
    """413 for a request body over `max_bytes`, decided before any of it is parsed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(scope, send)
            return
        # No (or a false) length: read up to the limit before handing the body on.
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, replay([message]), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._reject(scope, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, replay([body], receive), send)

    async def _reject(self, scope: Scope, send: Send) -> None:
        kib = self.max_bytes / 1024
        limit = f"{kib:g} KiB" if kib == int(kib) else f"{self.max_bytes:,} bytes"
        await send_error(scope, send, 413, {"error": f"request body is larger than {limit}"}, {})


def replay(messages: list[Message], then: Receive | None = None) -> Receive:
    """A `receive` that hands on `messages` first, then what `then` receives (or a
    disconnect)."""
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return receive


class MovingWindow:
    """At most `limit` hits per `period` seconds per key, over a moving window.

    A key keeps the times of its hits in the last period (at most `limit` of them). Keys
    are kept in the order of their latest hit, so those whose latest hit has left the
    window are dropped from the front as time passes: a hit costs O(1) amortised however
    many clients were ever seen, and memory holds only the last period's clients (at most
    `max_keys`; past that the oldest go first and start afresh).
    """

    def __init__(self, limit: int, period: float = 60.0, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.period = period
        self.max_keys = max_keys
        self._hits: OrderedDict[str, list[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._hits)

    def hit(self, key: str, now: float | None = None) -> float:
        """Count a hit for `key`: 0 when allowed, else the seconds until one would be."""
        now = time.monotonic() if now is None else now
        start = now - self.period
        while self._hits:
            oldest = next(iter(self._hits))
            if self._hits[oldest][-1] > start:
                break
            del self._hits[oldest]
        times = self._hits.get(key)
        if times is None:
            times = self._hits[key] = []
            if len(self._hits) > self.max_keys:
                self._hits.popitem(last=False)
        while times and times[0] <= start:
            del times[0]
        if len(times) >= self.limit:
            return times[0] - start
        times.append(now)
        if len(times) > self.limit:
            del times[0]
        self._hits.move_to_end(key)
        return 0.0


class RateLimit:
    """429 with `Retry-After` once a client exceeds its requests per minute on `paths`."""

    def __init__(
        self, app: ASGIApp, per_minute: int, clients: ClientAddress, paths: frozenset[str]
    ) -> None:
        self.app = app
        self.window = MovingWindow(per_minute, 60.0)
        self.clients = clients
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] not in self.paths
            or scope["method"] != "POST"  # the only method they answer: others are 405, free
        ):
            await self.app(scope, receive, send)
            return
        wait = self.window.hit(self.clients.key(scope))
        if not wait:
            await self.app(scope, receive, send)
            return
        seconds = max(1, math.ceil(wait))
        body = {
            "error": f"too many requests; try again in {seconds} seconds",
            "retry_after": seconds,
        }
        await send_error(scope, send, 429, body, {"Retry-After": str(seconds)})
