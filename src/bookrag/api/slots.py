"""Answers and translations in flight: a bounded pool of slots, of which one client holds
only a share, and the middleware that makes each generating request hold one.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import anyio
from starlette.types import ASGIApp, Receive, Scope, Send

from bookrag.api.clients import ClientAddress
from bookrag.api.protection import replay, send_error
from bookrag.errors import RetryLater


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
    its end); a request that gets none is refused with `Retry-After` (see `SlotPool`).

    With `admits`, a request whose body it does not admit (bad input, which the route
    refuses at once) goes straight through without waiting for a slot."""

    def __init__(
        self,
        app: ASGIApp,
        pool: SlotPool,
        clients: ClientAddress,
        paths: frozenset[str],
        admits: Callable[[Scope, bytes], bool] | None = None,
    ) -> None:
        self.app = app
        self.pool = pool
        self.clients = clients
        self.paths = paths
        self.admits = admits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        if self.admits is not None:
            # `BodyLimit`, outside, has read the body and hands it on whole, as one message.
            message = await receive()
            receive = replay([message], receive)
            body = message.get("body", b"") if message["type"] == "http.request" else None
            whole = body is not None and not message.get("more_body", False)
            if body is None or (whole and not self.admits(scope, body)):
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
