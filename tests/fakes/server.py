"""Serve an ASGI app on 127.0.0.1 from a background thread, plus what every fake shares.

`FakeService` holds the parts common to the fake Cohere and OpenAI servers: a recorder of
every request, a bearer-key check, and FIFO fault queues (per path) that a test fills before
making a call with the official SDK.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any, Literal, Self

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response


class ServedApp:
    """An ASGI app served by uvicorn on a free 127.0.0.1 port in a daemon thread."""

    def __init__(self, app: Any, *, startup_timeout: float = 10.0) -> None:
        self.app = app
        self.startup_timeout = startup_timeout
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>`, once started."""
        if self.port is None:
            raise RuntimeError("the server is not running; call start() first")
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        """Start serving and return once the socket accepts connections."""
        if self._server is not None:
            raise RuntimeError("already started")
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=0,
            log_level="warning",
            log_config=None,  # leave the process's logging set-up alone
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="fake-server", daemon=True)
        self._server, self._thread = server, thread
        thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not server.started:
            if not thread.is_alive():
                self._server = self._thread = None
                raise RuntimeError("the fake server failed to start")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the fake server did not start in time")
            time.sleep(0.005)
        self.port = server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        """Ask uvicorn to exit and join its thread (forcing it if connections linger)."""
        server, thread = self._server, self._thread
        if server is None or thread is None:
            return
        server.should_exit = True
        thread.join(timeout=5)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout=5)
        self._server = self._thread = None
        self.port = None
        if thread.is_alive():
            raise RuntimeError("the fake server thread did not stop")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it; the Authorization value is `<redacted>`."""

    method: str
    path: str
    json: Any
    headers: dict[str, str]


@dataclass(frozen=True)
class Fault:
    kind: Literal["fail", "delay", "malformed"]
    status: int = 500
    retry_after: float | None = None
    seconds: float = 0.0
    message: str | None = None  # the error body's message, else "injected failure (...)"


class StreamCut(Exception):
    """Raised inside a streaming body so uvicorn drops the connection mid-response."""


@dataclass
class FakeState:
    requests: list[RecordedRequest] = field(default_factory=list)
    faults: defaultdict[str, deque[Fault]] = field(default_factory=lambda: defaultdict(deque))
    cuts: deque[int] = field(default_factory=deque)
    replies: deque[Any] = field(default_factory=deque)
    token_delay: float = 0.0


class FakeService:
    """Base of the fakes: recorder, key check, fault queues and the served lifecycle."""

    def __init__(self, api_key: str = "test-key") -> None:
        self.api_key = api_key
        self._lock = threading.Lock()
        self._state = FakeState()
        self.app = self.build_app()
        self._served = ServedApp(self.app)

    # -- to override ------------------------------------------------------------------
    def build_app(self) -> FastAPI:
        raise NotImplementedError

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        return {"message": message}

    def key_refused(self, given: str) -> str:
        """The message of a 401 for the key `given`."""
        return "invalid api token"

    # -- lifecycle ---------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The server's base URL, to pass as the SDK's `base_url`."""
        return self._served.url

    def start(self) -> Self:
        self._served.start()
        return self

    def stop(self) -> None:
        self._served.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- recorder ----------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first (including rejected ones)."""
        with self._lock:
            return list(self._state.requests)

    def calls(self, path: str) -> list[RecordedRequest]:
        """The recorded requests to one path, e.g. `calls("/v2/embed")`."""
        return [r for r in self.requests if r.path == _path(path)]

    # -- faults ------------------------------------------------------------------------
    def fail(
        self,
        path: str,
        status: int = 429,
        retry_after: float | None = 1,
        times: int = 1,
        message: str | None = None,
    ) -> None:
        """Answer the next `times` calls to `path` with `status` (and Retry-After if given),
        its body saying `message`."""
        fault = Fault("fail", status=status, retry_after=retry_after, message=message)
        self._queue(path, fault, times)

    def delay(self, path: str, seconds: float, times: int = 1) -> None:
        """Sleep `seconds` before answering the next `times` calls to `path`."""
        self._queue(path, Fault("delay", seconds=seconds), times)

    def malformed(self, path: str, times: int = 1) -> None:
        """Answer the next `times` calls to `path` with 200 and a body that is not JSON."""
        self._queue(path, Fault("malformed"), times)

    def cut_stream(self, after_tokens: int, times: int = 1) -> None:
        """Drop the connection of the next streamed chat after `after_tokens` text deltas."""
        with self._lock:
            self._state.cuts.extend([after_tokens] * times)

    def stream_token_delay(self, seconds: float) -> None:
        """Sleep `seconds` before each streamed token (until `reset()`)."""
        with self._lock:
            self._state.token_delay = seconds

    def reset(self) -> None:
        """Forget recorded requests, queued faults, scripted replies and stream settings."""
        with self._lock:
            self._state = FakeState()

    def _queue(self, path: str, fault: Fault, times: int) -> None:
        with self._lock:
            self._state.faults[_path(path)].extend([fault] * times)

    # -- used by the routes ------------------------------------------------------------
    async def intercept(self, request: Request) -> tuple[Any, Response | None]:
        """Record the request, then apply the key check and the next fault for its path.

        Returns the parsed JSON body and, when the call must not be answered normally, the
        response to send instead.
        """
        raw = await request.body()
        body = json.loads(raw) if raw else None
        headers = {
            k: ("<redacted>" if k == "authorization" else v) for k, v in request.headers.items()
        }
        path = request.url.path
        with self._lock:
            self._state.requests.append(RecordedRequest(request.method, path, body, headers))
        given = request.headers.get("authorization", "")
        if given != f"Bearer {self.api_key}":
            refused = self.key_refused(given.removeprefix("Bearer "))
            return body, JSONResponse(self.error_body(401, refused), status_code=401)
        with self._lock:
            queue = self._state.faults.get(path)
            fault = queue.popleft() if queue else None
        if fault is None:
            return body, None
        if fault.kind == "delay":
            await asyncio.sleep(fault.seconds)
            return body, None
        if fault.kind == "malformed":
            return body, Response('{"id": "truncated', media_type="application/json")
        retry: dict[str, str] = {}
        if fault.retry_after is not None:  # both SDKs prefer the finer retry-after-ms
            retry["retry-after"] = str(math.ceil(fault.retry_after))
            retry["retry-after-ms"] = str(round(fault.retry_after * 1000))
        message = fault.message or f"injected failure ({fault.status})"
        return body, JSONResponse(
            self.error_body(fault.status, message), status_code=fault.status, headers=retry
        )

    def push_reply(self, reply: Any) -> None:
        with self._lock:
            self._state.replies.append(reply)

    def next_reply(self) -> Any:
        """The next scripted reply (FIFO), or None to answer by default."""
        with self._lock:
            return self._state.replies.popleft() if self._state.replies else None

    def next_cut(self) -> int | None:
        """How many tokens the next stream may send before being cut (None: all)."""
        with self._lock:
            return self._state.cuts.popleft() if self._state.cuts else None

    @property
    def token_delay(self) -> float:
        return self._state.token_delay


def _path(path: str) -> str:
    return path if path.startswith("/") else f"/{path}"
