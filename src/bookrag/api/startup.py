"""The index at start-up: brought up to date with the book, or checked against the settings;
and the refresher that keeps a self-indexed book current.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import suppress
from functools import partial

from fastapi import FastAPI

from bookrag.book.site.crawler import CrawlLimits
from bookrag.config import Settings, hide_url_passwords
from bookrag.errors import IndexMismatch, StoreUnavailable
from bookrag.index.ingest import ingest, site_config
from bookrag.index.outcomes import IngestReport
from bookrag.index.refresh import Refresher
from bookrag.index.site_ingest import ingest_site
from bookrag.index.site_plan import normalise_book_url
from bookrag.index.store import BookStore
from bookrag.providers.base import Embedder
from bookrag.providers.wiring import Providers

log = logging.getLogger("bookrag")


def prepare_index(
    store: BookStore, settings: Settings, providers: Providers, refresher: Refresher | None
) -> None:
    """Bring the index up to date with the docs folder, or check it suits the settings.

    The folder is indexed by its refresher, so `/health` reports this first run as it does
    later ones. A failed ingest leaves the server running on what was indexed (an empty
    collection at worst), with the reason logged, rather than not running at all."""
    if not settings.embedded:  # named before any failure to reach it is logged
        address = hide_url_passwords(str(settings.qdrant_url))
        log.info(
            "index: collection %r on the Qdrant server at %s (QDRANT_URL)",
            settings.collection_name,
            address,
        )
    if settings.docs_dir is not None and refresher is not None:
        report = refresher.run()
        if report is None:  # it failed: logged, and shown on /health
            with suppress(StoreUnavailable):
                if store.fingerprint() is None:  # e.g. a first ingest whose embeddings failed
                    store.ensure_collection()
        elif report.rebuilt:
            log.warning("%s", report.rebuilt)
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
        book = getattr(app.state, "book", None)  # None while the first run is at start-up
        if book is not None:
            book.pages.refresh()
            book.retriever.index_changed()  # a rebuild may have brought this model's vectors

    if settings.book_url is not None:
        book_url = normalise_book_url(settings.book_url)

        def index_site(embedder: Embedder | None) -> IngestReport:
            return ingest_site(
                store,
                book_url,
                settings.chunk_tokens,
                embedder,
                providers.policy,
                site_url=settings.site_url,
                limits=CrawlLimits.of(settings),
            )

        return Refresher(
            partial(index_site, providers.embedder),
            changed,
            book_url,
            lexical=partial(_lexical_unless_embedded, store, providers, index_site),
        )
    docs_dir = settings.docs_dir
    if docs_dir is not None:

        def index_docs(embedder: Embedder | None) -> IngestReport:
            # The config is read on every run: a new `url` or `baseUrl` moves every page.
            site = site_config(docs_dir, settings.site_url, settings.route_base_path)
            return ingest(store, docs_dir, site, settings.chunk_tokens, embedder, providers.policy)

        return Refresher(
            partial(index_docs, providers.embedder),
            changed,
            str(docs_dir),
            shown=docs_dir.name,
            lexical=partial(_lexical_unless_embedded, store, providers, index_docs),
        )
    return None


def _lexical_unless_embedded(
    store: BookStore, providers: Providers, index: Callable[[Embedder | None], IngestReport]
) -> IngestReport | None:
    """The book indexed without embeddings when the index holds none (a first run, or a
    book served lexically since an earlier outage, and restarted during another); None for
    an index with embeddings: it is kept, vectors and all, until the book can be embedded."""
    if providers.embedder is None:
        return None
    fingerprint = store.fingerprint()
    if fingerprint is not None and fingerprint.dense_model and store.stats().pages:
        return None
    return index(None)


def check_index(store: BookStore, providers: Providers, create: bool = True) -> None:
    """Refuse an index built by another embedding model; create a missing collection
    (unless not to `create` it: a command that only reads leaves the data folder alone)."""
    fingerprint = store.fingerprint()
    if fingerprint is None:
        if create:
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
