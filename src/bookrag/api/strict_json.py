"""Request bodies read as strict JSON: UTF-8 only (no byte order mark, no UTF-16, no lone
surrogates) and no `NaN` or `Infinity`. The routes and the gate that hands out generation
slots read a body the same way, so no body is refused a slot and then answered anyway; and
read it once (`read_once`): a body of a million tiny JSON values costs a tenth of a second
to parse, which a client should not get done twice on the event loop.
"""

from __future__ import annotations

import email.message
import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.types import Scope

# Where the request's scope keeps its body's JSON value, or why it is none.
_READ = "bookrag.json"


def read_json(body: bytes) -> Any:
    """The JSON value of `body`; `json.JSONDecodeError` when it is not strict JSON in UTF-8
    (Python's `json` takes `NaN` and decodes bytes in any UTF, byte order mark and all)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise json.JSONDecodeError("not UTF-8", "", exc.start) from exc
    return json.loads(text, parse_constant=_no_constant)


def read_once(scope: Scope, body: bytes) -> Any:
    """`read_json(body)`, the request's own body, kept in its `scope` for its route."""
    if _READ not in scope:
        try:
            scope[_READ] = (read_json(body), None)
        except (ValueError, RecursionError) as exc:
            scope[_READ] = (None, exc)
    value, error = scope[_READ]
    if error is not None:
        raise error
    return value


def is_json(content_type: str | None) -> bool:
    """Whether FastAPI reads a body sent with this `Content-Type` as JSON: `application/json`
    or `application/*+json` (any other body, or one with no type, fails validation: 422)."""
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def _no_constant(name: str) -> Any:
    raise json.JSONDecodeError(f"{name} is not JSON", name, 0)


class StrictJsonRequest(Request):
    """A request whose `json()` is `read_json` of its body."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = read_once(self.scope, await self.body())
        return self._json


class StrictJsonRoute(APIRoute):
    """A route that reads its JSON body with `read_json`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict
