"""The app factory: settings, middleware (inside out), error handlers, routes and the lifespan
that opens the index and the model clients and closes them.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from functools import partial

import anyio
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from pydantic import ValidationError
from starlette.datastructures import Headers
from starlette.types import Scope

from bookrag import __version__
from bookrag.answering.pipeline import Book
from bookrag.api.clients import ClientAddress
from bookrag.api.handlers import add_error_handlers
from bookrag.api.head import HeadAsGet
from bookrag.api.observability import Metrics, RequestLog, ServerErrors
from bookrag.api.origins import admit_indexed_site, allowed_origins, origin_pattern
from bookrag.api.protection import GENERATION_PATHS, LIMITED_PATHS, BodyLimit, RateLimit
from bookrag.api.routes import add_routes, to_question
from bookrag.api.schemas import ERROR_RESPONSES, ChatRequest
from bookrag.api.slots import GenerationGate, SlotPool
from bookrag.api.startup import make_refresher, prepare_index
from bookrag.api.strict_json import StrictJsonRoute, is_json, read_once
from bookrag.api.widget import router as web_router
from bookrag.config import Settings, load_settings
from bookrag.errors import BookragError, StoreUnavailable
from bookrag.feedback.database import database_url, open_engine
from bookrag.feedback.journal import Journal
from bookrag.index.connection import open_store
from bookrag.providers.wiring import Providers, build_providers
from bookrag.translation.translator import Translator

log = logging.getLogger("bookrag")


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
            app.state.book = None  # a Book of an earlier start of this app is closed
            app.state.refresher = refresher = make_refresher(store, settings, models, app)
            await anyio.to_thread.run_sync(prepare_index, store, settings, models, refresher)
            with suppress(StoreUnavailable):
                await anyio.to_thread.run_sync(store.warm)
            app.state.book = Book.open(store, settings, models)
            with suppress(StoreUnavailable):
                first = await anyio.to_thread.run_sync(
                    lambda: next(iter(app.state.book.pages.all()), None)
                )
                if first is not None:
                    admit_indexed_site(settings, origins, str(first["url"]), log)
            app.state.providers = models
            app.state.translator = Translator.open(app.state.book, settings)
            with suppress(StoreUnavailable, OSError):
                await anyio.to_thread.run_sync(app.state.translator.prune)
            if journal is not None:
                journal.start()  # it migrates the database in its own thread
            refreshing = None
            if refresher is not None:  # in the background: a site's first reading, and
                # the retries of an embedding that failed (a docs folder's was at start-up)
                first_now = settings.book_url is not None
                refreshing = asyncio.create_task(
                    refresher.every(settings.refresh_minutes, first_now=first_now)
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
    origins = allowed_origins(settings, log)
    log.info("CORS: pages on %s may call this API", ", ".join(origins) or "no origin")
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
    app.add_middleware(HeadAsGet)
    app.add_middleware(ServerErrors)
    app.add_middleware(
        GenerationGate,
        pool=app.state.slots,
        clients=clients,
        paths=GENERATION_PATHS,
        admits=partial(will_be_answered, settings),
    )
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    # Outside the body limit: a client over its rate is refused before its body is read.
    app.add_middleware(
        RateLimit,
        per_minute=settings.rate_limit,
        clients=clients,
        paths=LIMITED_PATHS | {"/feedback"},
    )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=origins,
        allow_origin_regex=origin_pattern(origins),
        allow_credentials="*" not in origins,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["*"],
        expose_headers=["Retry-After", "X-Request-ID"],
    )
    app.add_middleware(
        RequestLog, metrics=metrics, log_questions=settings.log_questions, client=clients.of
    )
    add_error_handlers(app)
    app.router.route_class = StrictJsonRoute  # bodies read as `will_be_answered` reads them
    add_routes(app)
    app.include_router(web_router)
    return app


def will_be_answered(settings: Settings, scope: Scope, body: bytes) -> bool:
    """Whether a chat request passes the checks its route makes (its content type, then its
    body): bad input is refused at once, so it needs no generation slot to wait for."""
    content_type = Headers(scope=scope).get("content-type")
    if not is_json(content_type):
        return False
    try:
        to_question(ChatRequest.model_validate(read_once(scope, body)), settings)
    except (ValueError, RecursionError, ValidationError, BookragError):
        return False
    return True
