"""The routes (see `shared/api-contract.md`): thin, over answering, translation, feedback."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import AsyncIterator
from contextlib import suppress
from functools import partial
from typing import Annotated, Any

import anyio
from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError
from sse_starlette.sse import EventSourceResponse
from starlette.routing import BaseRoute

from bookrag import __version__
from bookrag.answering.figures import mark_once
from bookrag.answering.models import Answer, Question, ask_question, trimmed
from bookrag.answering.pipeline import (
    NOT_INDEXED,
    answer,
    require_index,
    stream_answer,
)
from bookrag.api.admin import AdminDep, require_admin
from bookrag.api.answer_log import logged
from bookrag.api.deps import AnswerLogDep, BookDep, JournalDep, SettingsDep, TranslatorDep
from bookrag.api.handlers import error_event, event_stream
from bookrag.api.observability import Metrics
from bookrag.api.schemas import (
    ChatRequest,
    FeedbackRequest,
    FeedbackResponse,
    SearchRequest,
    SearchResponse,
    SearchResult,
    TranslateRequest,
)
from bookrag.api.widget import router as web_router
from bookrag.config import Settings
from bookrag.errors import (
    BookragError,
    InvalidRequest,
    NotConfigured,
    StoreUnavailable,
)
from bookrag.feedback.journal import FeedbackOff, FeedbackUnavailable
from bookrag.feedback.records import Verdict
from bookrag.feedback.report import closest_page, gap_report, lacking_terms, parse_period
from bookrag.feedback.report_page import render_html
from bookrag.index.refresh import Refresher
from bookrag.providers.deadline import answering
from bookrag.providers.wiring import HEALTHY, Providers
from bookrag.translation.cache import Translation
from bookrag.translation.languages import language_table

log = logging.getLogger("bookrag")


def to_question(body: ChatRequest, settings: Settings) -> Question:
    """A chat request as a checked `Question`."""
    return ask_question(
        body.question, body.selected_text, body.page_url, tuple(body.history), settings
    )


def endpoint_list(routes: list[BaseRoute]) -> dict[str, str]:
    """Each route without path parameters, named after its path: `/stream-chat` is
    `stream_chat`, `/widget.js` is `widget_js`."""
    found: dict[str, str] = {}
    for route in routes:
        path = getattr(route, "path", "")
        if path.endswith("/oauth2-redirect"):  # part of the /docs page, not an endpoint
            continue
        methods = sorted(set(getattr(route, "methods", None) or ()) - {"HEAD", "OPTIONS"})
        if not path or path == "/" or "{" in path or not methods:
            continue
        name = re.sub(r"[^a-z0-9]+", "_", path.strip("/").lower()).strip("_")
        found.setdefault(name, f"{methods[0]} {path}")
    return found


async def reader_left(request: Request) -> None:
    """Return once the client has disconnected (its request body is already read)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


def add_routes(app: FastAPI) -> None:
    @app.get("/")
    def root(request: Request, settings: SettingsDep) -> dict[str, Any]:
        """What this API offers: every route, as `METHOD /path` by name (the admin routes
        only when `BOOKRAG_ADMIN_TOKEN` turns them on)."""
        endpoints = endpoint_list([*request.app.routes, *web_router.routes])
        if settings.admin_token is None:
            endpoints = {k: v for k, v in endpoints.items() if not k.startswith("admin_")}
        return {"message": "bookrag: ask the book a question", "version": __version__} | {
            "endpoints": endpoints
        }

    @app.get("/health")
    def health(request: Request, book: BookDep, settings: SettingsDep) -> JSONResponse:
        """Service status (Qdrant checked live, Cohere's key at most once a minute), with the
        index's size and age."""
        providers: Providers = request.app.state.providers
        qdrant_ok = book.store.ping()
        services = {"qdrant": "connected" if qdrant_ok else "unavailable", **providers.states()}
        healthy = all(state in HEALTHY for state in services.values())
        body: dict[str, Any] = {
            "status": "ok" if healthy else "degraded",
            "version": __version__,
            "services": services,
            "index": {"mode": "embedded" if settings.embedded else "server"},
            "retrieval": book.retriever.describe(),
            "generator": book.chat.name if book.chat else "extractive",
        }
        if refused := providers.chat_refusal():  # answers are the book's own sentences
            body["generator_error"] = settings.public(refused)
        refresher: Refresher | None = getattr(request.app.state, "refresher", None)
        if refresher is not None:
            body["refresh"] = refresher.describe(settings.public)
        if qdrant_ok:
            try:
                stats = book.store.stats()
            except StoreUnavailable:  # it went away between the two calls
                body["status"], body["services"]["qdrant"] = "degraded", "unavailable"
                return JSONResponse(body, status_code=503)
            body["index"].update(
                pages=stats.pages, chunks=stats.chunks, last_indexed=stats.last_indexed
            )
            if not stats.pages:  # every question would fail: the backend is not up for readers
                healthy = False
                body["status"] = "degraded"
                body["index"]["error"] = NOT_INDEXED
            with suppress(StoreUnavailable):  # the book's first page, as its sidebar lists it
                first = next(iter(book.pages.all()), None)
                if first is not None:
                    body["index"]["first_page"] = {"title": first["title"], "url": first["url"]}
        return JSONResponse(body, status_code=200 if healthy else 503)

    @app.post("/search")
    def search_route(body: SearchRequest, book: BookDep, settings: SettingsDep) -> SearchResponse:
        """The best section of each of the best-matching pages."""
        if not trimmed(body.query):
            raise InvalidRequest("query: must not be empty")
        if len(body.query) > settings.max_question_chars:
            raise InvalidRequest(f"query: longer than {settings.max_question_chars} characters")
        passages = book.retriever.retrieve(body.query, body.limit).passages
        return SearchResponse(results=[SearchResult(**p.to_json()) for p in passages])

    @app.post("/chat")
    def chat(
        body: ChatRequest, book: BookDep, settings: SettingsDep, journal: AnswerLogDep
    ) -> Answer:
        """Answer a question from the book, with the sections it comes from."""
        started = time.perf_counter()
        question = to_question(body, settings)
        with answering(settings.answer_deadline):
            result = answer(book, question)
        return logged(journal, book, settings, question, result, started)

    @app.post("/stream-chat")
    def stream_chat(
        body: ChatRequest, book: BookDep, settings: SettingsDep, journal: AnswerLogDep
    ) -> EventSourceResponse:
        """The same answer as `/chat`, streamed as server-sent events."""
        started = time.perf_counter()
        question = to_question(body, settings)
        require_index(book)  # refused before the stream starts, with its status, as /chat is

        async def events() -> AsyncIterator[dict[str, str]]:
            try:
                with answering(settings.answer_deadline):
                    async for item in stream_answer(book, question):
                        if isinstance(item, str):
                            mark_once("first_token")  # time to first token, in the request log
                            yield {"data": json.dumps({"token": item, "done": False})}
                        else:
                            log_it = partial(logged, journal, book, settings, question, item)
                            item = await anyio.to_thread.run_sync(log_it, started)
                            final = {"done": True, "response": item.model_dump_json()}
                            yield {"data": json.dumps(final)}
            except BookragError as exc:
                # The response is under way (200): only the log tells the operator.
                log.warning("POST /stream-chat failed while streaming: %s", exc.message)
                async for event in error_event(settings.public(exc.message)):
                    yield event
            except Exception:
                log.exception("unexpected error while streaming an answer")
                async for event in error_event("internal error; the server log has the details"):
                    yield event

        return event_stream(events())

    @app.post("/feedback")
    async def feedback_route(
        body: FeedbackRequest, request: Request, journal: JournalDep
    ) -> FeedbackResponse:
        """A reader's verdict on an answer (helpful or not, with an optional comment); a
        second verdict from the same client replaces the first."""
        if journal is None:
            raise FeedbackOff("feedback is turned off on this server (BOOKRAG_FEEDBACK=false)")
        comment = (body.comment or "").strip() or None
        # One reader is one client as the limits count them: an IPv6 /64 is one household.
        client = request.app.state.clients.key(request.scope)
        await journal.give_feedback(Verdict(body.answer_id, client, body.helpful, comment))
        return FeedbackResponse(answer_id=body.answer_id, helpful=body.helpful)

    @app.get("/admin/report", response_model=None, include_in_schema=False)
    def admin_report(
        _: AdminDep,
        book: BookDep,
        journal: JournalDep,
        since: Annotated[str, Query(max_length=16)] = "7d",
        format: Annotated[str, Query(pattern="^(html|json)$")] = "html",
    ) -> Response:
        """The gap report for authors (HTML, or JSON with `format=json`)."""
        if journal is None:
            raise FeedbackOff("the answer log is off on this server (BOOKRAG_FEEDBACK=false)")
        try:
            period = parse_period(since)
        except ValueError as exc:
            raise InvalidRequest(f"since: {exc}") from None
        try:
            report = gap_report(
                journal.engine,
                period,
                partial(closest_page, book.retriever),
                kept=journal.retention,
                lacking=partial(lacking_terms, book.retriever),
            )
        except SQLAlchemyError as exc:
            log.warning("gap report: the answer log cannot be read (%s)", type(exc).__name__)
            raise FeedbackUnavailable("the answer log cannot be read right now") from None
        if format == "json":
            return JSONResponse(report.to_json())
        # Readers' page URLs are on the page: nothing may run there, nothing be fetched.
        policy = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'"
        return HTMLResponse(render_html(report), headers={"Content-Security-Policy": policy})

    @app.post("/translate")
    async def translate(
        body: TranslateRequest, translator: TranslatorDep, request: Request
    ) -> Translation:
        """The page translated into `target_language` (default Urdu); cached per page version."""
        client = request.app.state.clients.key(request.scope)
        result = await translator.translate(
            body.page_url,
            body.target_language,
            client,
            lambda: reader_left(request),
            slot=lambda: request.app.state.slots.hold(client),
        )
        if result.cached:
            request.app.state.metrics.cache_hits.inc()
        return result

    # Not in the OpenAPI schema: an operator's route, which does not exist (404) for a
    # server without BOOKRAG_ADMIN_TOKEN.
    @app.post(
        "/admin/reindex",
        status_code=202,
        dependencies=[Depends(require_admin)],
        include_in_schema=False,
    )
    async def reindex(request: Request) -> dict[str, Any]:
        """Bring the index up to date with the book now, in the background (admin token)."""
        refresher: Refresher | None = getattr(request.app.state, "refresher", None)
        if refresher is None:
            raise NotConfigured(
                "nothing to re-index: set BOOKRAG_BOOK_URL (or BOOKRAG_DOCS_DIR) on the server"
            )
        started = refresher.trigger()
        return {
            "status": "started" if started else "already_running",
            "refresh": refresher.describe(request.app.state.settings.public),
        }

    @app.get("/metrics", include_in_schema=False)
    def metrics_route(request: Request, book: BookDep) -> Response:
        """Prometheus metrics: requests, latency, upstream errors, cache hits, index size."""
        metrics: Metrics = request.app.state.metrics
        try:
            stats = book.store.stats()
            metrics.index_pages.set(stats.pages)
            metrics.index_chunks.set(stats.chunks)
        except StoreUnavailable:
            pass  # the request counters still report
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/translate/languages")
    def translate_languages() -> dict[str, list[dict[str, str]]]:
        """The languages `/translate` accepts: code, English and native name, direction."""
        return {"languages": language_table()}
