"""What keeps a public endpoint standing: a body size limit, per-client rate limits and a
bound on answers in flight. Each is a small ASGI middleware, so it also covers streams."""

from __future__ import annotations

import ipaddress
import json
import math
import time
from collections.abc import Iterable

import anyio
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

GENERATION_PATHS = frozenset({"/chat", "/stream-chat", "/translate"})
# Rate limited: everything that costs model calls, /search included (an embed and a rerank).
LIMITED_PATHS = GENERATION_PATHS | {"/search"}


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
                await self.app(scope, _replay([message]), send)
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._reject(scope, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([body], receive), send)

    async def _reject(self, scope: Scope, send: Send) -> None:
        limit = f"{self.max_bytes // 1024} KiB" if self.max_bytes >= 1024 else f"{self.max_bytes} B"
        await send_error(scope, send, 413, {"error": f"request body is larger than {limit}"}, {})


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return receive


class ClientAddress:
    """The client's address: the peer, or `X-Forwarded-For` when the peer is a trusted proxy.

    The chain is read from the right, skipping trusted proxies, so the entries a client
    writes itself (on the left) are never taken while a trusted proxy's are there. `*`
    trusts any peer as one proxy, whose own entry (the rightmost) names the client: right
    for platforms such as Spaces whose proxy addresses are not known in advance.
    """

    def __init__(self, trusted: Iterable[str]) -> None:
        self.any_peer = False
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in trusted:
            if entry == "*":
                self.any_peer = True
            elif entry:
                self.networks.append(ipaddress.ip_network(entry, strict=False))

    def trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def of(self, scope: Scope) -> str:
        peer = scope.get("client")
        address = str(peer[0]) if peer else "unknown"
        if not (self.any_peer or self.trusted(address)):
            return address
        raw: bytes = dict(scope["headers"]).get(b"x-forwarded-for", b"")
        hops = [h.strip() for h in raw.decode("latin-1").split(",") if h.strip()]
        if self.any_peer and hops:
            hops = hops[-1:]  # only the proxy's own entry
        for hop in reversed(hops):
            if not self.trusted(hop):
                return hop
            address = hop
        return address


class RateLimit:
    """429 with `Retry-After` once a client exceeds its requests per minute on `paths`."""

    def __init__(
        self, app: ASGIApp, per_minute: int, clients: ClientAddress, paths: frozenset[str]
    ) -> None:
        self.app = app
        self.item: RateLimitItem = parse(f"{per_minute}/minute")
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.clients = clients
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["path"] not in self.paths
            or scope["method"] == "OPTIONS"
        ):
            await self.app(scope, receive, send)
            return
        client = self.clients.of(scope)
        if self.limiter.hit(self.item, client):
            await self.app(scope, receive, send)
            return
        reset = self.limiter.get_window_stats(self.item, client).reset_time
        wait = max(1, math.ceil(reset - time.time()))
        body = {"error": f"too many requests; try again in {wait} seconds", "retry_after": wait}
        await send_error(scope, send, 429, body, {"Retry-After": str(wait)})


class GenerationGate:
    """At most `limit` answers in flight; others wait up to `wait` seconds, then get 503."""

    def __init__(self, app: ASGIApp, limit: int, wait: float, paths: frozenset[str]) -> None:
        self.app = app
        self.limit = limit
        self.wait = wait
        self.paths = paths
        self._slots: anyio.Semaphore | None = None  # made on first use, inside the event loop

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        if self._slots is None:
            self._slots = anyio.Semaphore(self.limit)
        acquired = False
        slots = self._slots
        try:
            slots.acquire_nowait()
            acquired = True
        except anyio.WouldBlock:
            with anyio.move_on_after(self.wait):
                await slots.acquire()
                acquired = True
        if not acquired:
            retry = max(1, math.ceil(self.wait))
            body = {"error": "the server is busy answering other readers; try again shortly"}
            headers = {"Retry-After": str(retry)}
            await send_error(scope, send, 503, {**body, "retry_after": retry}, headers)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            slots.release()
