"""The HTTP API (see `shared/api-contract.md`): thin routes over `answering` and `retrieval`."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import math
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Annotated, Any

import anyio
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError
from sse_starlette.sse import EventSourceResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute

from bookrag import __version__
from bookrag.answering.figures import mark_once
from bookrag.answering.models import Answer, Question
from bookrag.answering.pipeline import Book, answer, ask_question, stream_answer
from bookrag.api.admin import AdminDep, require_admin
from bookrag.api.observability import Metrics, RequestLog, ServerErrors
from bookrag.api.origins import parse_origins
from bookrag.api.protection import (
    GENERATION_PATHS,
    LIMITED_PATHS,
    BodyLimit,
    ClientAddress,
    GenerationGate,
    RateLimit,
    SlotPool,
)
from bookrag.api.schemas import (
    ERROR_RESPONSES,
    ChatRequest,
    FeedbackRequest,
    FeedbackResponse,
    SearchRequest,
    SearchResponse,
    SearchResult,
    TranslateRequest,
)
from bookrag.api.widget import router as web_router
from bookrag.book.site.crawler import CrawlLimits
from bookrag.config import Settings, load_settings
from bookrag.errors import (
    BookragError,
    IndexMismatch,
    InvalidRequest,
    NotConfigured,
    RetryLater,
    StoreUnavailable,
    UpstreamError,
)
from bookrag.feedback.database import database_url, open_engine
from bookrag.feedback.journal import (
    FeedbackUnavailable,
    Journal,
    UnknownAnswer,
    Verdict,
    make_record,
)
from bookrag.feedback.report import closest_page, gap_report, parse_period
from bookrag.feedback.report_page import render_html
from bookrag.index.connection import open_store
from bookrag.index.ingest import ingest, site_config
from bookrag.index.refresh import Refresher
from bookrag.index.site_ingest import ingest_site, normalise_book_url
from bookrag.index.store import BookStore
from bookrag.providers.wiring import Providers, build_providers
from bookrag.translation.languages import language_table
from bookrag.translation.translator import Translation, Translator

log = logging.getLogger("bookrag")


def _book(request: Request) -> Book:
    book: Book = request.app.state.book
    return book


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _journal(request: Request) -> Journal | None:
    journal: Journal | None = request.app.state.journal
    return journal


def _translator(request: Request) -> Translator:
    translator: Translator = request.app.state.translator
    return translator


BookDep = Annotated[Book, Depends(_book)]
SettingsDep = Annotated[Settings, Depends(_settings)]
TranslatorDep = Annotated[Translator, Depends(_translator)]
JournalDep = Annotated[Journal | None, Depends(_journal)]


def to_question(body: ChatRequest, settings: Settings) -> Question:
    """A chat request as a checked `Question`."""
    return ask_question(
        body.question, body.selected_text, body.page_url, tuple(body.history), settings
    )


def create_app(settings: Settings | None = None, providers: Providers | None = None) -> FastAPI:
    """Build the API; the lifespan opens the index (and brings it up to date if asked)."""
    settings = settings or load_settings()

    metrics = Metrics()
    journal = (
        Journal(open_engine(database_url(settings)), metrics.registry, settings.retention_days)
        if settings.feedback
        else None
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        models = providers or build_providers(
            settings, lambda operation: metrics.upstream_errors.labels(operation).inc()
        )
        if settings.embedded:
            log.info("QDRANT_URL not set: embedded index at %s", settings.index_path)
        try:
            store = open_store(settings)
        except BaseException:
            await models.aclose()
            raise
        try:
            await anyio.to_thread.run_sync(prepare_index, store, settings, models)
            with suppress(StoreUnavailable):
                await anyio.to_thread.run_sync(store.warm)
            app.state.book = Book.open(store, settings, models)
            app.state.providers = models
            app.state.translator = Translator.open(app.state.book, settings)
            with suppress(StoreUnavailable, OSError):
                await anyio.to_thread.run_sync(app.state.translator.prune)
            if journal is not None:
                journal.start()  # it migrates the database in its own thread
            app.state.refresher = refresher = make_refresher(store, settings, models, app)
            refreshing = None
            if refresher is not None and settings.book_url is not None:  # in the background
                refreshing = asyncio.create_task(
                    refresher.every(settings.refresh_minutes, first_now=True)
                )
            # The index now held in memory lives as long as the process: keep it out of the
            # garbage collector's full passes, which otherwise stall requests for ~100 ms.
            gc.collect()
            gc.freeze()
            yield
            if refreshing is not None:
                refreshing.cancel()
                with suppress(asyncio.CancelledError):
                    await refreshing
            if refresher is not None:
                await refresher.wait()
            await app.state.translator.aclose()
        finally:
            if journal is not None:
                await anyio.to_thread.run_sync(journal.close)
            store.close()
            await models.aclose()

    app = FastAPI(
        title="bookrag",
        version=__version__,
        summary="Ask a Docusaurus book a question; answers cite the sections they come from.",
        lifespan=lifespan,
        responses=ERROR_RESPONSES,
        # Starlette's `/health/` -> `/health` redirect names the request's Host header: a
        # forged one sent readers elsewhere. A path with a stray slash is simply not found.
        redirect_slashes=False,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.journal = journal
    origins = parse_origins(settings.allowed_origins, log)
    clients = ClientAddress(settings.proxies)
    if settings.space_id and settings.trusted_proxies is None:
        log.info("on Hugging Face Spaces: X-Forwarded-For trusted from private networks")
    app.state.clients = clients  # `clients.key(request.scope)` names a request's client
    # Answers and translations in flight, a share per client (`async with slots.hold(key)`).
    app.state.slots = SlotPool(
        settings.max_generations, settings.max_generations_per_client, settings.queue_wait
    )
    # Added inside out: the request log sees everything, and CORS headers reach even the
    # 413, 429, 503 and 500 answers so a browser can read them.
    app.add_middleware(ServerErrors)
    app.add_middleware(
        GenerationGate, pool=app.state.slots, clients=clients, paths=GENERATION_PATHS
    )
    app.add_middleware(
        RateLimit,
        per_minute=settings.rate_limit,
        clients=clients,
        paths=LIMITED_PATHS | {"/feedback"},
    )
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_credentials="*" not in origins,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["*"],
        expose_headers=["Retry-After", "X-Request-ID"],
    )
    app.add_middleware(
        RequestLog, metrics=metrics, log_questions=settings.log_questions, client=clients.of
    )
    _add_error_handlers(app)
    _add_routes(app)
    app.include_router(web_router)
    return app


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


def prepare_index(store: BookStore, settings: Settings, providers: Providers) -> None:
    """Bring the index up to date with the docs folder, or check it suits the settings.

    A failed ingest leaves the server running on what was indexed (an empty collection at
    worst), with the reason logged, rather than not running at all."""
    if settings.docs_dir is not None:
        site = site_config(settings.docs_dir, settings.site_url, settings.route_base_path)
        try:
            report = ingest(
                store,
                settings.docs_dir,
                site,
                settings.chunk_tokens,
                providers.embedder,
                providers.policy,
            )
        except (UpstreamError, StoreUnavailable) as exc:
            log.error("could not bring the index up to date: %s", exc.message)
            with suppress(StoreUnavailable):
                if store.fingerprint() is None:  # e.g. a first ingest whose embeddings failed
                    store.ensure_collection()
            return
        if report.rebuilt:
            log.warning("%s", report.rebuilt)
        report.log_to(log, "index up to date")
        return
    if settings.book_url is not None:
        # The site is read in the background once serving; an index built by another
        # embedding model is rebuilt by that run, not refused.
        with suppress(StoreUnavailable):
            if store.fingerprint() is None:
                store.ensure_collection()
        return
    try:
        check_index(store, providers)
    except StoreUnavailable as exc:
        log.error("%s; serving anyway, requests get 503 until it is back", exc.message)


def make_refresher(
    store: BookStore, settings: Settings, providers: Providers, app: FastAPI
) -> Refresher | None:
    """The refresher of the book this server indexes itself (a site or a docs folder)."""

    def changed() -> None:
        app.state.book.pages.refresh()

    if settings.book_url is not None:
        book_url = normalise_book_url(settings.book_url)
        return Refresher(
            lambda: ingest_site(
                store,
                book_url,
                settings.chunk_tokens,
                providers.embedder,
                providers.policy,
                site_url=settings.site_url,
                limits=CrawlLimits.of(settings),
            ),
            changed,
            book_url,
        )
    docs_dir = settings.docs_dir
    if docs_dir is not None:
        site = site_config(docs_dir, settings.site_url, settings.route_base_path)
        return Refresher(
            lambda: ingest(
                store, docs_dir, site, settings.chunk_tokens, providers.embedder, providers.policy
            ),
            changed,
            str(docs_dir),
        )
    return None


def check_index(store: BookStore, providers: Providers) -> None:
    """Create a missing collection; refuse an index built by another embedding model."""
    fingerprint = store.fingerprint()
    if fingerprint is None:
        store.ensure_collection()
    elif fingerprint.outdated:
        raise IndexMismatch(
            "the index was written by an older bookrag: run `bookrag ingest DOCS_DIR` to "
            "rebuild it (or start with --docs)"
        )
    elif providers.embedder is not None and fingerprint.dense_model != providers.embedder.model:
        raise IndexMismatch(
            f"the index was built with {fingerprint.describe()}, but COHERE_EMBED_MODEL is "
            f"{providers.embedder.model}: run `bookrag ingest DOCS_DIR` to re-embed the book "
            "(or start with --docs)"
        )


async def reader_left(request: Request) -> None:
    """Return once the client has disconnected (its request body is already read)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


_ANSWER_ID = re.compile(r"^[0-9a-f]{32}$")


def logged(
    journal: Journal | None, settings: Settings, question: Question, result: Answer, started: float
) -> Answer:
    """Queue the answer for the answer log (never waiting on it) and give it its id."""
    if journal is None:
        return result
    latency_ms = (time.perf_counter() - started) * 1000
    record = make_record(question, result, latency_ms, keep_text=settings.log_questions)
    journal.record(record)
    return result.model_copy(update={"answer_id": record.id})


async def _error_event(message: str) -> AsyncIterator[dict[str, str]]:
    yield {"data": json.dumps({"error": message, "done": True})}


def _event_stream(events: AsyncIterator[dict[str, str]], status: int = 200) -> EventSourceResponse:
    return EventSourceResponse(
        events,
        status_code=status,
        sep="\n",  # the book's client splits events on "\n\n"
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _error(request: Request, status: int, message: str, **extra: Any) -> Response:
    """An error body; on `/stream-chat` an error event, so a client that reads only the
    stream's `data:` lines sees it too."""
    if request.url.path == "/stream-chat":
        return _event_stream(_error_event(message), status=status)
    return JSONResponse({"success": False, "error": message, **extra}, status_code=status)


def _add_error_handlers(app: FastAPI) -> None:
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
        response = _error(request, exc.status_code, message)
        response.headers.update(exc.headers or {})  # e.g. `Allow` on a 405
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return _error(request, 400, "request body is not valid JSON")
        detail = [
            {"field": ".".join(str(p) for p in e["loc"][1:]) or "body", "problem": e["msg"]}
            for e in errors
        ]
        summary = "; ".join(f"{d['field']}: {d['problem']}" for d in detail)
        return _error(request, 422, summary, detail=detail)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return _error(request, 500, "internal error; the server log has the details")


def _add_routes(app: FastAPI) -> None:
    @app.get("/")
    def root(request: Request) -> dict[str, Any]:
        """What this API offers: every route, as `METHOD /path` by name."""
        return {
            "message": "bookrag: ask the book a question",
            "version": __version__,
            "endpoints": endpoint_list([*request.app.routes, *web_router.routes]),
        }

    @app.get("/health")
    def health(request: Request, book: BookDep, settings: SettingsDep) -> JSONResponse:
        """Service status (Qdrant checked live, Cohere's key at most once a minute), with the
        index's size and age."""
        providers: Providers = request.app.state.providers
        qdrant_ok = book.store.ping()
        cohere = providers.cohere.state() if providers.cohere else "not_configured"
        healthy = qdrant_ok and cohere in ("connected", "not_configured")
        body: dict[str, Any] = {
            "status": "ok" if healthy else "degraded",
            "version": __version__,
            "services": {"qdrant": "connected" if qdrant_ok else "unavailable", "cohere": cohere},
            "index": {"mode": "embedded" if settings.embedded else "server"},
            "retrieval": book.retriever.describe(),
            "generator": book.chat.name if book.chat else "extractive",
        }
        refresher: Refresher | None = getattr(request.app.state, "refresher", None)
        if refresher is not None:
            body["refresh"] = refresher.describe()
        if qdrant_ok:
            try:
                stats = book.store.stats()
            except StoreUnavailable:  # it went away between the two calls
                body["status"], body["services"]["qdrant"] = "degraded", "unavailable"
                return JSONResponse(body, status_code=503)
            body["index"].update(
                pages=stats.pages, chunks=stats.chunks, last_indexed=stats.last_indexed
            )
            with suppress(StoreUnavailable):  # the book's first page, as its sidebar lists it
                first = next(iter(book.pages.all()), None)
                if first is not None:
                    body["index"]["first_page"] = {"title": first["title"], "url": first["url"]}
        return JSONResponse(body, status_code=200 if healthy else 503)

    @app.post("/search")
    def search_route(body: SearchRequest, book: BookDep) -> SearchResponse:
        """The best section of each of the best-matching pages."""
        if not body.query.strip():
            raise InvalidRequest("query: must not be empty")
        passages = book.retriever.retrieve(body.query, body.limit).passages
        return SearchResponse(results=[SearchResult(**p.to_json()) for p in passages])

    @app.post("/chat")
    def chat(
        body: ChatRequest, book: BookDep, settings: SettingsDep, journal: JournalDep
    ) -> Answer:
        """Answer a question from the book, with the sections it comes from."""
        started = time.perf_counter()
        question = to_question(body, settings)
        return logged(journal, settings, question, answer(book, question), started)

    @app.post("/stream-chat")
    def stream_chat(
        body: ChatRequest, book: BookDep, settings: SettingsDep, journal: JournalDep
    ) -> EventSourceResponse:
        """The same answer as `/chat`, streamed as server-sent events."""
        started = time.perf_counter()
        question = to_question(body, settings)

        async def events() -> AsyncIterator[dict[str, str]]:
            try:
                async for item in stream_answer(book, question):
                    if isinstance(item, str):
                        mark_once("first_token")  # time to first token, in the request log
                        yield {"data": json.dumps({"token": item, "done": False})}
                    else:
                        item = logged(journal, settings, question, item, started)
                        final = {"done": True, "response": item.model_dump_json()}
                        yield {"data": json.dumps(final)}
            except BookragError as exc:
                async for event in _error_event(exc.message):
                    yield event
            except Exception:
                log.exception("unexpected error while streaming an answer")
                async for event in _error_event("internal error; the server log has the details"):
                    yield event

        return _event_stream(events())

    @app.post("/feedback")
    async def feedback_route(
        body: FeedbackRequest, request: Request, journal: JournalDep
    ) -> FeedbackResponse:
        """A reader's verdict on an answer (helpful or not, with an optional comment); a
        second verdict from the same client replaces the first."""
        if journal is None or not _ANSWER_ID.match(body.answer_id):
            raise UnknownAnswer("no answer with this answer_id (unknown, or too old)")
        comment = (body.comment or "").strip() or None
        client = request.app.state.clients.of(request.scope)
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
            raise NotConfigured("the answer log is off (BOOKRAG_FEEDBACK=false)")
        try:
            period = parse_period(since)
        except ValueError as exc:
            raise InvalidRequest(f"since: {exc}") from None
        try:
            report = gap_report(
                journal.engine, period, lambda text: closest_page(book.retriever, text)
            )
        except SQLAlchemyError as exc:
            log.warning("gap report: the answer log cannot be read (%s)", type(exc).__name__)
            raise FeedbackUnavailable("the answer log cannot be read right now") from None
        if format == "json":
            return JSONResponse(report.to_json())
        return HTMLResponse(render_html(report))

    @app.post("/translate")
    async def translate(
        body: TranslateRequest, translator: TranslatorDep, request: Request
    ) -> Translation:
        """The page translated into `target_language` (default Urdu); cached per page version."""
        client = request.app.state.clients.of(request.scope)
        result = await translator.translate(
            body.page_url, body.target_language, client, lambda: reader_left(request)
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
            "refresh": refresher.describe(),
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
