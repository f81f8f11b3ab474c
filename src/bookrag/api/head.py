"""`HEAD` wherever `GET` works, as HTTP asks: a `HEAD` request is routed as a `GET` and
answered with the same status and headers, and no body (a file the server would send from
its path, `http.response.pathsend`, is not sent either)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class HeadAsGet:
    """Answers `HEAD` as the app answers `GET`, without the body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def without_body(message: Message) -> None:
            if message["type"] in ("http.response.body", "http.response.pathsend"):
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        routed = {**scope, "method": "GET"}
        try:
            await self.app(routed, receive, without_body)
        finally:
            if "route" in routed:  # the route it matched, for the request log and metrics
                scope["route"] = routed["route"]
