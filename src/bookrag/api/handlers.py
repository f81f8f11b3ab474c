"""One exception handler per kind of failure: each turns an error into its status and JSON body.

On `/stream-chat` the body is an error event instead, so a client that reads only the
stream's `data:` lines sees it too.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sse_starlette.sse import EventSourceResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from bookrag.errors import BookragError, RetryLater

log = logging.getLogger("bookrag")

NOT_JSON = "request body is not valid JSON (UTF-8)"
NOT_AN_OBJECT = "request body must be a JSON object, sent as Content-Type: application/json"


async def error_event(message: str) -> AsyncIterator[dict[str, str]]:
    yield {"data": json.dumps({"error": message, "done": True})}


def event_stream(events: AsyncIterator[dict[str, str]], status: int = 200) -> EventSourceResponse:
    return EventSourceResponse(
        events,
        status_code=status,
        sep="\n",  # the book's client splits events on "\n\n"
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _error(request: Request, status: int, message: str, **extra: Any) -> Response:
    """An error body; on `/stream-chat` an error event, so a client that reads only the
    stream's `data:` lines sees it too. It names no folder of the server's."""
    settings = getattr(request.app.state, "settings", None)
    if settings is not None:
        message = settings.public(message)
    if request.url.path == "/stream-chat":
        return event_stream(error_event(message), status=status)
    return JSONResponse({"success": False, "error": message, **extra}, status_code=status)


def add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(BookragError)
    async def bookrag_error(request: Request, exc: BookragError) -> Response:
        if exc.status_code >= 500:
            log.warning("%s %s failed: %s", request.method, request.url.path, exc.message)
        if isinstance(exc, RetryLater):
            seconds = max(1, math.ceil(exc.retry_after))
            response = _error(request, exc.status_code, exc.message, retry_after=seconds)
            response.headers["Retry-After"] = str(seconds)
            return response
        return _error(request, exc.status_code, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # Starlette's own refusals (unknown route, wrong method, unreadable body) in our shape.
        message = exc.detail if isinstance(exc.detail, str) else "request refused"
        if exc.status_code == 400:  # FastAPI's only 400: a body it could not read (not UTF-8)
            message = NOT_JSON
        response = _error(request, exc.status_code, message)
        response.headers.update(exc.headers or {})  # e.g. `Allow` on a 405
        allowed = [m.strip() for m in response.headers.get("allow", "").split(",") if m.strip()]
        if "GET" in allowed and "HEAD" not in allowed:  # `HeadAsGet` answers HEAD as GET
            response.headers["Allow"] = ", ".join([*allowed, "HEAD"])
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return _error(request, 400, NOT_JSON)
        if any(tuple(e["loc"]) == ("body",) for e in errors):  # no body, or not an object
            return _error(request, 422, NOT_AN_OBJECT)
        detail = [
            {"field": ".".join(str(p) for p in e["loc"][1:]) or "body", "problem": _problem(e)}
            for e in errors
        ]
        summary = "; ".join(f"{d['field']}: {d['problem']}" for d in detail)
        return _error(request, 422, summary, detail=detail)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return _error(request, 500, "internal error; the server log has the details")


def _problem(error: Any) -> str:
    """Pydantic's message, but said as the question's own checks say it: a text too long is
    "longer than 2000 characters" (not "items" of a sequence), and an empty one "must not be
    empty"."""
    kind, text = error.get("type"), isinstance(error.get("input"), str)
    limit = (error.get("ctx") or {}).get("max_length")
    if kind in ("too_long", "string_too_long") and text and limit:
        return f"longer than {limit} characters"
    if kind == "string_too_short" and text and not error["input"]:
        return "must not be empty"
    return str(error["msg"])
