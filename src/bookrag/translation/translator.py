"""Translate a book page into a reader's language, from the page as written.

The page's Markdown as stored at ingest is cut into units (`units`), each translated by the
chat model (`calls`) concurrently under a semaphore shared by all requests, and cached
(`cache`).

A translation under way is shared by every request for it. When every reader has left it is
cancelled, unless it is nearly done (`NEARLY_DONE` of its units translated), and nothing is
cached. Starting one (a cache miss) spends one unit of the client's translation budget, given
back if it fails before any part of it was translated.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from bookrag.answering.pipeline import Book
from bookrag.config import Settings
from bookrag.errors import (
    BookragError,
    ClientGone,
    IndexMismatch,
    InvalidRequest,
    NotConfigured,
    TooManyRequests,
    UpstreamError,
)
from bookrag.index.points import page_version
from bookrag.providers.base import ChatModel
from bookrag.translation.budget import Budget
from bookrag.translation.cache import Translation, TranslationCache
from bookrag.translation.calls import page_failure, translate_unit
from bookrag.translation.languages import Language, find_language
from bookrag.translation.links import with_page_urls
from bookrag.translation.units import UNIT_TOKENS, Unit, page_pieces, plan_units

log = logging.getLogger("bookrag.translation")

NEARLY_DONE = 0.75  # share of units translated past which a translation nobody waits for ends


@dataclass
class _Job:
    """A translation under way, with who waits for it and how far it got."""

    task: asyncio.Task[Translation] | None = None
    waiters: int = 0
    units: int = 0
    translated: int = 0

    @property
    def nearly_done(self) -> bool:
        return self.units > 0 and self.translated >= NEARLY_DONE * self.units


class Translator:
    """Translates pages, caching each result and sharing a translation already under way."""

    def __init__(
        self,
        book: Book,
        cache_dir: Path,
        concurrency: int = 4,
        max_tokens: int = 700,
        budget: Budget | None = None,
    ) -> None:
        self.book = book
        self.cache = TranslationCache(cache_dir)
        self.max_tokens = max_tokens  # the least a reply may use; long units get more
        self.unit_tokens = UNIT_TOKENS
        self.budget = budget if budget is not None else Budget(0)
        # A page whose translation failed rests the chat model for translations, not answers.
        self.policy = book.policy.apart("translations")
        self._limit = asyncio.Semaphore(concurrency)  # model calls at once, for all pages
        self._running: dict[str, _Job] = {}

    @classmethod
    def open(cls, book: Book, settings: Settings) -> Translator:
        """A translator caching under `$BOOKRAG_DATA_DIR/translations`; no I/O happens here."""
        return cls(
            book,
            settings.translations_path,
            settings.translation_concurrency,
            settings.chat_max_tokens,
            Budget(settings.translation_budget),
        )

    async def aclose(self) -> None:
        """Cancel translations still under way (their results are not cached)."""
        running = [job.task for job in self._running.values() if job.task is not None]
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    def prune(self) -> int:
        """Delete cached translations of pages that changed or left the book."""
        pages = {str(r["source"]): page_version(str(r["page_hash"])) for r in self.book.pages.all()}
        removed = self.cache.prune(pages)
        if removed:
            log.info("pruned %d cached translations of changed or removed pages", removed)
        return removed

    async def translate(
        self,
        page_url: str,
        target_language: str | None = None,
        client: str | None = None,
        gone: Callable[[], Awaitable[object]] | None = None,
        slot: Callable[[], AbstractAsyncContextManager[object]] | None = None,
    ) -> Translation:
        """The page at `page_url` (any host, locale or `baseUrl`, or a source path) in the
        target language, from the cache when this page version was translated before.

        Starting a translation spends one unit of `client`'s budget (none without a client),
        given back if it fails before any of it is translated;
        `gone()` returns when the reader leaves, and `ClientGone` is raised then. A request
        that waits on a translation being made holds `slot()` meanwhile (one of the server's
        generation slots); one served from the cache holds none."""
        if not page_url.strip():
            raise InvalidRequest("page_url: must not be empty")
        language = find_language(target_language)
        page, chat, key, cached = await anyio.to_thread.run_sync(self._lookup, page_url, language)
        if cached is not None:
            return cached
        async with slot() if slot is not None else nullcontext():
            job = self._running.get(key)
            charged = None
            if job is None:
                if client is not None:
                    self._charge(client)
                    charged = client
                job = _Job()
                job.task = asyncio.create_task(self._translate(page, language, chat, key, job))
                self._running[key] = job
                job.task.add_done_callback(lambda done: self._finished(key, done))
            try:
                done = await self._wait(job, gone)
                return await anyio.to_thread.run_sync(self._linked, done, page)
            except ClientGone:
                raise  # the reader left: what was translated was paid for
            except BookragError:
                if charged is not None and job.translated == 0:  # nothing was made
                    self.budget.refund(charged)
                raise

    def _charge(self, client: str) -> None:
        wait = self.budget.charge(client)
        if wait is not None:
            raise TooManyRequests(
                f"translation budget used up ({self.budget.per_hour} new pages an hour per "
                f"client); cached pages are still served. Try again in {math.ceil(wait)} s",
                retry_after=wait,
            )

    async def _wait(self, job: _Job, gone: Callable[[], Awaitable[object]] | None) -> Translation:
        """Wait for `job` without owning it: a reader who leaves does not cancel the work
        others wait for, but the last one to leave does, unless it is nearly done."""
        assert job.task is not None
        job.waiters += 1
        try:
            if gone is None:
                return await asyncio.shield(job.task)
            leaving = asyncio.ensure_future(gone())
            try:
                await asyncio.wait({job.task, leaving}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                leaving.cancel()
            if job.task.done():
                return job.task.result()
            raise ClientGone("the reader left before the translation was done")
        finally:
            job.waiters -= 1
            if job.waiters == 0 and not job.task.done() and not job.nearly_done:
                log.info(
                    "every reader left: stopping a translation at %d of %d units",
                    job.translated,
                    job.units,
                )
                job.task.cancel()

    def _lookup(
        self, page_url: str, language: Language
    ) -> tuple[dict[str, Any], ChatModel, str, Translation | None]:
        page = self.book.pages.find(page_url)
        chat = self.book.chat
        if chat is None:
            raise NotConfigured(
                "translation needs a chat model: set COHERE_API_KEY (Cohere) or OPENAI_BASE_URL "
                "(an OpenAI-compatible endpoint) where bookrag runs"
            )
        version = page_version(str(page["page_hash"]))
        key = self.cache.key(str(page["source"]), version, language.code, chat.name)
        # A page being rewritten has no version yet (`BookStore.write_page`): not cached.
        cached = self.cache.load(language.code, key) if version else None
        return page, chat, key, None if cached is None else self._linked(cached, page)

    def _linked(self, result: Translation, page: dict[str, Any]) -> Translation:
        """`result` for the page as it is now, its links to other pages included (reads
        the page records, so off the event loop)."""
        text = with_page_urls(result.translation, str(page["source"]), self.book.pages.all())
        update = {"translation": text, "page_url": page["url"], "path": page["source"]}
        return result.model_copy(update=update)

    def _finished(self, key: str, task: asyncio.Task[Translation]) -> None:
        self._running.pop(key, None)
        if not task.cancelled():
            task.exception()  # retrieved here, so a failure nobody awaited is not logged twice

    async def _translate(
        self, page: dict[str, Any], language: Language, chat: ChatModel, key: str, job: _Job
    ) -> Translation:
        source, title = str(page["source"]), str(page["title"])
        # A request that missed the cache just before another one filled it.
        version = page_version(str(page["page_hash"]))
        done = await anyio.to_thread.run_sync(self.cache.load, language.code, key)
        if done is not None and version:
            return done
        started = time.monotonic()
        stored = await anyio.to_thread.run_sync(self.book.store.page_markdown, source)
        if stored is None:
            raise IndexMismatch(
                f"{source} was indexed by an older bookrag that kept no page source to "
                "translate: run `bookrag ingest DOCS_DIR` (or restart with --docs)"
            )
        units = plan_units(page_pieces(str(stored.get("markdown", ""))), self.unit_tokens)
        job.units = len(units)
        tasks = [asyncio.create_task(self._unit(chat, unit, language, job)) for unit in units]
        try:
            parts = await asyncio.gather(*tasks)
        except BaseException as exc:
            for task in tasks:  # one failed unit fails the page: stop paying for the rest
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if isinstance(exc, UpstreamError):
                failed = f"could not translate {source} into {language.name}"
                raise page_failure(exc, self.policy, chat, failed) from exc
            raise
        result = Translation(
            translation="".join(
                part + unit.breaks for part, unit in zip(parts, units, strict=True)
            ),
            language=language.code,
            target_language=language.name,
            direction=language.direction,
            page_url=str(page["url"]),
            path=source,
            title=title,
            model=chat.name,
        )
        try:
            if version:
                await anyio.to_thread.run_sync(self.cache.save, key, result, version)
        except OSError as exc:
            log.warning("could not cache the translation of %s: %s", source, exc)
        took = time.monotonic() - started
        log.info("translated %s into %s: %d calls, %.1fs", source, language.name, len(units), took)
        return result

    async def _unit(self, chat: ChatModel, unit: Unit, language: Language, job: _Job) -> str:
        async with self._limit:
            text = await translate_unit(chat, self.policy, unit, language, self.max_tokens)
        job.translated += 1
        return text
