"""A built Docusaurus site served on 127.0.0.1 as a static host serves it, with faults.

Files come from a folder through Starlette's `StaticFiles` (real `ETag`, `Last-Modified` and
304 answers); like Vercel or GitHub Pages, `/docs/intro` serves `docs/intro.html`. A test
can replace or add a file's body (`put`), queue faults per path (`fail`, `delay`,
`redirect`), and read every request the site received (`requests`, `in_flight_peak`).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import anyio
from starlette.responses import Response, StreamingResponse
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from fakes.server import ServedApp

Fault = Callable[[], Awaitable[Response | None]]


class _DocusaurusFiles(StaticFiles):
    """Static files with the `.html` extension implied, as static hosts of Docusaurus do."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path not in ("", ".") and not path.endswith(".html"):
            _, found = await anyio.to_thread.run_sync(self.lookup_path, path + ".html")
            if found is not None and stat.S_ISREG(found.st_mode):
                path += ".html"
        return await super().get_response(path, scope)


@dataclass(frozen=True)
class Request:
    """One request the site received."""

    path: str
    headers: dict[str, str]
    at: float  # time.monotonic() on arrival


class FakeSite:
    """A copy of a built site in `workdir`, served on 127.0.0.1."""

    def __init__(self, built: Path, workdir: Path) -> None:
        self.root = workdir / "site"
        shutil.copytree(built, self.root)
        self.requests: list[Request] = []
        self.faults: dict[str, deque[Fault]] = defaultdict(deque)
        self.in_flight = 0
        self.in_flight_peak = 0
        self._files = _DocusaurusFiles(directory=self.root, html=True)
        self._served = ServedApp(self)

    def start(self) -> Self:
        self._served.start()
        return self

    def stop(self) -> None:
        self._served.stop()

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>/`."""
        return self._served.url + "/"

    def page_requests(self, prefix: str = "/docs/") -> list[Request]:
        """The requests for pages under `prefix`."""
        return [r for r in self.requests if r.path.startswith(prefix)]

    def put(self, path: str, body: str | bytes) -> None:
        """Write a file of the site (`docs/intro.html`, `robots.txt`), with a new mtime."""
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body.encode() if isinstance(body, str) else body)
        later = target.stat().st_mtime + 10
        os.utime(target, (later, later))

    def remove(self, path: str) -> None:
        (self.root / path).unlink()

    def fail(self, path: str, status: int, times: int = 1, **headers: str) -> None:
        """Answer the next `times` requests for `path` with `status`."""
        for _ in range(times):
            self.faults[path].append(_static(Response(status_code=status, headers=headers)))

    def delay(self, path: str, seconds: float, times: int = 1) -> None:
        """Hold the next `times` requests for `path` for `seconds` before answering."""

        async def slow() -> None:
            await asyncio.sleep(seconds)

        for _ in range(times):
            self.faults[path].append(slow)

    def redirect(self, path: str, location: str) -> None:
        """Redirect every request for `path` to `location`."""
        response = Response(status_code=302, headers={"Location": location})
        for _ in range(10):
            self.faults[path].append(_static(response))

    def huge(self, path: str, size: int, declare_length: bool) -> None:
        """Answer `path` with `size` bytes of HTML, streamed (with or without its length)."""

        async def body() -> Any:
            chunk = b"x" * 65536
            for start in range(0, size, len(chunk)):
                yield chunk[: size - start]

        async def respond() -> Response:
            headers = {"Content-Length": str(size)} if declare_length else {}
            return StreamingResponse(body(), media_type="text/html", headers=headers)

        self.faults[path].append(respond)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.requests.append(Request(path, headers, time.monotonic()))
        # In flight: received and not yet answered (the answer itself is not counted, so a
        # client that has read it and moved on is never counted twice).
        self.in_flight += 1
        self.in_flight_peak = max(self.in_flight_peak, self.in_flight)
        try:
            queue = self.faults.get(path)
            response = await queue.popleft()() if queue else None
        finally:
            self.in_flight -= 1
        if response is not None:
            await response(scope, receive, send)
        else:
            await self._files(scope, receive, send)


def _static(response: Response) -> Fault:
    async def fault() -> Response:
        return response

    return fault
