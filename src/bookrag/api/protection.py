"""What keeps a public endpoint standing, and fair: a body size limit, per-client rate
limits, and a bound on answers in flight of which one client holds only a share. Each is
a small ASGI middleware, so it also covers streams.

A client is keyed by its address, normalised so that it cannot multiply itself: an IPv4
address, an IPv6 address's /64 (what one household or host is given), never a port, and
never a string that is not an address (a trusted proxy's junk falls back to the proxy).
"""

from __future__ import annotations

import ipaddress
import json
import math
import time
from collections import OrderedDict
from collections.abc import Iterable

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bookrag.errors import RetryLater

GENERATION_PATHS = frozenset({"/chat", "/stream-chat", "/translate"})
# Rate limited: everything that costs model calls, /search included (an embed and a rerank).
LIMITED_PATHS = GENERATION_PATHS | {"/search"}
IPV6_CLIENT_PREFIX = 64
MAX_PEER_CHARS = 64  # a peer that is not an IP address (a unix socket, a test client)

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


Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_address(text: str) -> Address | None:
    """`text` as an IP address, without a port (`1.2.3.4:80`, `[2001:db8::1]:443`) and with
    an IPv4-mapped IPv6 address as the IPv4 one; None for anything else."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]  # IPv4 with a port (IPv6 has at least two colons)
    if not text or len(text) > 45:  # the longest textual IPv6 address
        return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_key(address: Address) -> str:
    """The rate limiting key for `address`: itself for IPv4, its /64 for IPv6."""
    if isinstance(address, ipaddress.IPv4Address):
        return str(address)
    network = ipaddress.IPv6Network((address, IPV6_CLIENT_PREFIX), strict=False)
    return str(network)


class ClientAddress:
    """The client's address: the peer, or `X-Forwarded-For` when the peer is a trusted proxy.

    The chain is read from the right, skipping trusted proxies, so the entries a client
    writes itself (on the left) are never taken while a trusted proxy's are there. `*`
    trusts any peer as one proxy, whose own entry (the rightmost) names the client. An entry
    that is not an address ends the walk: the last trusted hop is the best we know.
    """

    def __init__(self, trusted: Iterable[str]) -> None:
        self.any_peer = False
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for entry in trusted:
            if entry == "*":
                self.any_peer = True
            elif entry:
                self.networks.append(ipaddress.ip_network(entry, strict=False))

    def trusted(self, address: Address) -> bool:
        return any(address in network for network in self.networks)

    def address(self, scope: Scope) -> Address | str:
        """The client's IP address, or the peer as the server named it if it has none."""
        peer = scope.get("client")
        named = str(peer[0]) if peer else "unknown"
        peer_address = parse_address(named)
        address: Address | str = named[:MAX_PEER_CHARS] if peer_address is None else peer_address
        if not (self.any_peer or (peer_address is not None and self.trusted(peer_address))):
            return address
        raw: bytes = dict(scope["headers"]).get(b"x-forwarded-for", b"")
        hops = [h for h in raw.decode("latin-1").split(",") if h.strip()]
        if self.any_peer and hops:
            hops = hops[-1:]  # only the proxy's own entry
        for hop in reversed(hops):
            found = parse_address(hop)
            if found is None:
                break  # junk: the client is not known beyond the last trusted hop
            address = found
            if not self.trusted(found):
                break
        return address

    def of(self, scope: Scope) -> str:
        """The client's address as text (for the access log)."""
        return str(self.address(scope))

    def key(self, scope: Scope) -> str:
        """The client as the limits count it: IPv4 address or IPv6 /64."""
        address = self.address(scope)
        return address if isinstance(address, str) else client_key(address)


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
            or scope["method"] == "OPTIONS"
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


class Busy(RetryLater):
    """No generation slot came free in time for this request."""

    status_code = 503


class ClientBusy(Busy):
    """This client already holds its share of the generation slots."""

    status_code = 429


class SlotPool:
    """`limit` generation slots shared by all clients, of which one client holds at most
    `per_client` at a time; a request waits up to `wait` seconds for one.

    Use it as `async with pool.hold(client): ...` (the client key from
    `ClientAddress.key`); it raises `ClientBusy` (429) when the client's own share stayed
    full, `Busy` (503) when every slot stayed taken by others.
    """

    def __init__(self, limit: int, per_client: int, wait: float) -> None:
        self.limit = limit
        self.per_client = min(per_client, limit)
        self.wait = wait
        self._held: dict[str, int] = {}  # only clients holding a slot: bounded by `limit`
        self._total = 0
        self._freed: anyio.Event | None = None  # made inside the event loop, on first wait

    def held(self, client: str) -> int:
        """Slots `client` holds now."""
        return self._held.get(client, 0)

    def _free_for(self, client: str) -> bool:
        return self._total < self.limit and self.held(client) < self.per_client

    async def acquire(self, client: str) -> None:
        """Take a slot for `client`, waiting up to `wait` seconds; `release` gives it back."""
        with anyio.move_on_after(self.wait):
            while not self._free_for(client):
                if self._freed is None:
                    self._freed = anyio.Event()
                await self._freed.wait()
            self._held[client] = self.held(client) + 1
            self._total += 1
            return
        retry = max(1, math.ceil(self.wait))
        if self.held(client) >= self.per_client:
            raise ClientBusy(
                f"you already have {self.per_client} answers in progress; wait for one to finish",
                retry,
            )
        raise Busy("the server is busy answering other readers; try again shortly", retry)

    def release(self, client: str) -> None:
        """Give back a slot taken by `acquire`."""
        count = self._held.pop(client) - 1
        if count:
            self._held[client] = count
        self._total -= 1
        if self._freed is not None:
            self._freed.set()  # every waiter looks again; one per free slot gets it
            self._freed = None

    def hold(self, client: str) -> _Held:
        """`async with pool.hold(client):` around the costly work."""
        return _Held(self, client)


class _Held:
    def __init__(self, pool: SlotPool, client: str) -> None:
        self.pool, self.client = pool, client

    async def __aenter__(self) -> None:
        await self.pool.acquire(self.client)

    async def __aexit__(self, *exc: object) -> None:
        self.pool.release(self.client)


class GenerationGate:
    """POSTs to `paths` each hold a slot of `pool` for as long as they run (a stream to
    its end); a request that gets none is refused with `Retry-After` (see `SlotPool`)."""

    def __init__(
        self, app: ASGIApp, pool: SlotPool, clients: ClientAddress, paths: frozenset[str]
    ) -> None:
        self.app = app
        self.pool = pool
        self.clients = clients
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        client = self.clients.key(scope)
        try:
            await self.pool.acquire(client)
        except Busy as exc:
            body = {"error": exc.message, "retry_after": exc.retry_after}
            headers = {"Retry-After": str(exc.retry_after)}
            await send_error(scope, send, exc.status_code, body, headers)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.pool.release(client)
