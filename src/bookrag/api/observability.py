"""What is happening: one JSON log line per request and Prometheus metrics.

The request's own figures (retrieval and generation time, whether it degraded) are
collected in `answering.figures`, whose record for each request the middleware opens.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bookrag.answering import figures
from bookrag.api.protection import send_error
from bookrag.config import hide_url_passwords

access_log = logging.getLogger("bookrag.access")
error_log = logging.getLogger("bookrag")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


# HTTP clients that log every request at INFO, with its URL (which may carry a password).
_CLIENT_LOGGERS = ("httpx", "httpx2", "httpcore", "urllib3")


class Redacting(logging.Formatter):
    """A formatter that blanks the password of any URL in a line (`http://u:***@host`)."""

    def format(self, record: logging.LogRecord) -> str:
        return hide_url_passwords(super().format(record))


def log_to_console() -> None:
    """Log to stderr for `bookrag serve`: `level name: message`, and the access log as one
    JSON object per line with nothing around it. HTTP clients log warnings only, and no line
    shows a URL's password."""
    logging.basicConfig(level=logging.INFO)
    for root_handler in logging.getLogger().handlers:
        root_handler.setFormatter(Redacting("%(levelname)s %(name)s: %(message)s"))
    for name in _CLIENT_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    handler = logging.StreamHandler()
    handler.setFormatter(Redacting("%(message)s"))
    access_log.addHandler(handler)
    access_log.propagate = False


class Metrics:
    """The app's Prometheus metrics, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "bookrag_requests", "HTTP requests", ["route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "bookrag_request_seconds",
            "HTTP request latency",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.upstream_errors = Counter(
            "bookrag_upstream_errors",
            "failed calls to model providers",
            ["operation"],
            registry=self.registry,
        )
        self.cache_hits = Counter(
            "bookrag_translation_cache_hits",
            "translations served from the cache",
            registry=self.registry,
        )
        self.index_pages = Gauge("bookrag_index_pages", "pages indexed", registry=self.registry)
        self.index_chunks = Gauge("bookrag_index_chunks", "chunks indexed", registry=self.registry)


class RequestLog:
    """Request id (echoed in `X-Request-ID`), one JSON log line, and request metrics."""

    def __init__(
        self, app: ASGIApp, metrics: Metrics, log_questions: bool, client: Callable[[Scope], str]
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.log_questions = log_questions
        self.client = client

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        started = time.perf_counter()
        record: dict[str, Any] = {"request_id": request_id, figures.STARTED: started}
        token = figures.current.set(record)
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            figures.current.reset(token)
            seconds = time.perf_counter() - started
            route = _route(scope)
            self.metrics.requests.labels(route, str(status)).inc()
            self.metrics.latency.labels(route).observe(seconds)
            line = {
                "request_id": request_id,
                "method": scope["method"],
                "route": route,
                "status": status,
                "latency_ms": round(seconds * 1000, 2),
                "client": self.client(scope),
                **{k: v for k, v in record.items() if k not in ("request_id", figures.STARTED)},
            }
            if not self.log_questions:
                line.pop("question", None)
            access_log.info(json.dumps(line, ensure_ascii=False))


def _route(scope: Scope) -> str:
    """The route template (`/demo/{page}`), so metrics don't grow a label per URL.

    A request refused before routing (413, 429, 503 from a middleware) and a route that does
    not record itself in the scope (Starlette's own, such as `/docs`) are matched here."""
    path = getattr(scope.get("route"), "path", None)
    if path:
        return str(path)
    app = scope.get("app")
    for route in getattr(getattr(app, "router", None), "routes", ()):
        if isinstance(route, BaseRoute) and route.matches(scope)[0] != Match.NONE:
            return str(getattr(route, "path", "unmatched"))
    return "unmatched"


class ServerErrors:
    """An unexpected exception becomes the contract's 500 answer here, inside the CORS and
    request-id middleware, so a browser on another origin can read it and quote its id;
    the traceback goes to the log only."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            if started:
                raise  # too late for an error answer: the server drops the connection
            error_log.error(
                "unexpected error on %s %s", scope["method"], scope["path"], exc_info=exc
            )
            body: dict[str, object] = {"error": "internal error; the server log has the details"}
            await send_error(scope, send, 500, body, {})
