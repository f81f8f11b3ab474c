"""Bring the index up to date with a book: new and changed pages written, deleted pages
removed, unchanged pages left alone (an unchanged book writes nothing).

`index_pages` does this for any source of pages: a reader is given the page records already
indexed and yields, per page it finds, the loaded `Page`, `Unchanged` or `Skipped`; pages
it does not mention are removed. `ingest` reads a docs folder this way, and
`bookrag.index.site_ingest` a published site."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from contextlib import suppress
from dataclasses import replace
from pathlib import Path
from typing import Any

from bookrag.book.chunking import chunk_page
from bookrag.book.loader import SkipPage, discover, load_page, read_source
from bookrag.book.sidebar import sidebar_order
from bookrag.book.site_config import SiteConfig, read_site_config
from bookrag.errors import BookragError, DocsNotFound, NoRoom, PageParseError
from bookrag.index.outcomes import (
    IngestReport,
    PageOutcome,
    PageReader,
    Ranks,
    Skipped,
    Unchanged,
)
from bookrag.index.points import chunked_at, page_version, stored_hash
from bookrag.index.rebuild import prepare_collection, promote, set_aside
from bookrag.index.reuse import stored_vectors
from bookrag.index.store import BookStore
from bookrag.index.writer import PageWriter
from bookrag.providers.base import Embedder, RetryPolicy


class IngestInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM, which `bookrag ingest` raises as Ctrl-C) stopped an ingest after
    the `written` pages it wrote were committed and counted: they are served as indexed, and
    the next ingest goes on from there. `rebuilt` is why the run was rebuilding the index
    beside the live one (whose pages and statistics it left as they were), if it was."""

    def __init__(self, written: int, rebuilt: str | None) -> None:
        super().__init__(written, rebuilt)
        self.written = written
        self.rebuilt = rebuilt


def site_config(docs_dir: Path, site_url: str | None, route_base_path: str | None) -> SiteConfig:
    """The site facts from `docusaurus.config.*` beside the docs folder, with overrides."""
    site = read_site_config(docs_dir)
    if site_url:
        parts = site_url.rstrip("/").split("/", 3)
        base = "/" + parts[3] + "/" if len(parts) > 3 else site.base_url
        site = replace(site, url="/".join(parts[:3]), base_url=base)
    if route_base_path is not None:
        site = replace(site, route_base_path=route_base_path)
    return site


def pages_digest(page_hashes: dict[str, str]) -> str:
    """One fingerprint of every page version in the index."""
    digest = hashlib.sha256()
    for source in sorted(page_hashes):
        digest.update(f"{source}\0{page_hashes[source]}\n".encode())
    return digest.hexdigest()


def ingest(
    store: BookStore,
    docs_dir: Path,
    site: SiteConfig,
    max_tokens: int,
    embedder: Embedder | None = None,
    policy: RetryPolicy | None = None,
    on_page: Callable[[str], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> IngestReport:
    """Index `docs_dir` incrementally into `store` (with dense vectors if `embedder`)."""
    if not docs_dir.is_dir():
        raise DocsNotFound(f"docs folder not found: {docs_dir}")

    out_of_reach: list[str] = []
    files = discover(docs_dir, out_of_reach.append, site)
    if not files:
        # Most likely the wrong folder: indexing it would remove every page of the book.
        raise DocsNotFound(f"no Markdown pages (.md, .mdx) in {docs_dir}; the index is unchanged")
    sources = [path.relative_to(docs_dir).as_posix() for path in files]
    order = sidebar_order(docs_dir, sources, site.number_prefixes, site.sidebar_path)
    ranks = {source: rank for rank, source in enumerate(order)}

    def read(known: dict[str, dict[str, Any]]) -> Iterable[PageOutcome]:
        if on_start:
            on_start(len(files))
        for path in files:
            source = path.relative_to(docs_dir).as_posix()
            try:
                file = read_source(docs_dir, path, site)
                if known.get(source, {}).get("page_hash") == file.content_hash:
                    yield Unchanged(source)
                    continue
                page = replace(load_page(file, site), sidebar_rank=ranks.get(source))
            except SkipPage as skip:
                yield Skipped(source, str(skip), keep=False)
            except PageParseError as exc:
                # Keep the last good version of a page that is now broken, rather than lose it.
                yield Skipped(source, exc.message)
            except OSError as exc:
                yield Skipped(source, f"unreadable: {exc.strerror or exc}")
            else:
                yield page
        for folder in out_of_reach:  # its pages keep their last indexed version
            for source in known:
                if source.startswith(f"{folder}/"):
                    yield Skipped(source, f"unreadable: the folder {folder} cannot be listed")

    return index_pages(store, read, max_tokens, embedder, policy, on_page, ranks)


def index_pages(
    store: BookStore,
    read: PageReader,
    max_tokens: int,
    embedder: Embedder | None = None,
    policy: RetryPolicy | None = None,
    on_page: Callable[[str], None] | None = None,
    ranks: Ranks | None = None,
) -> IngestReport:
    """Index the pages `read` yields incrementally into `store`; remove the others.

    `ranks` is each page's place in the book's sidebar, where the source knows it, or how to
    find it from the page records once written; a page it leaves out has none. An index
    built by another embedding model (or bookrag) is rebuilt beside it, and replaces it
    once complete (see `rebuild`)."""
    started = time.perf_counter()
    report = IngestReport()
    policy = policy or RetryPolicy()
    target, exists, report.rebuilt = prepare_collection(store, embedder, policy)
    # Vectors this model made for texts met again are taken from the index, not embedded.
    stored = stored_vectors(embedder.model, [target, store]) if embedder else None
    writer = PageWriter(target, embedder, policy, exists, stored)
    if target is store:
        _update(store, exists, read, max_tokens, writer, on_page, ranks, report)
    else:
        try:
            _update(target, exists, read, max_tokens, writer, on_page, ranks, report)
        except BaseException:
            set_aside(target)
            raise
        promote(store, target)
    report.seconds = time.perf_counter() - started
    return report


def _update(
    store: BookStore,
    exists: bool,
    read: PageReader,
    max_tokens: int,
    writer: PageWriter,
    on_page: Callable[[str], None] | None,
    ranks: Ranks | None,
    report: IngestReport,
) -> None:
    """Write what changed into `store`, remove what went, and recount the statistics."""
    known = {str(r["source"]): r for r in store.pages()} if exists else {}
    # A page chunked at another size is read again, as a changed one is.
    outcomes = read(
        {
            source: {**record, "page_hash": page_version(str(record["page_hash"]))}
            for source, record in known.items()
            if chunked_at(str(record["page_hash"])) == max_tokens
        }
    )
    seen: set[str] = set()
    reread: dict[str, dict[str, Any]] = {}  # what was read again of pages that did not change
    try:
        _write(outcomes, writer, max_tokens, report, seen, reread, on_page)
        _finish(store, known, ranks, report, seen, reread)
    except KeyboardInterrupt as stop:  # Ctrl-C, or SIGTERM as the CLI raises it
        written = _count_written(store, known)
        raise IngestInterrupted(written, report.rebuilt) from stop
    except Exception:
        _count_written(store, known)
        raise


def _finish(
    store: BookStore,
    known: dict[str, dict[str, Any]],
    ranks: Ranks | None,
    report: IngestReport,
    seen: set[str],
    reread: dict[str, dict[str, Any]],
) -> None:
    """Once every page is written: commit them, remove the pages gone, set what changed of
    the others, and recount the statistics."""
    store.commit()
    changed = {
        source: new
        for source, fields in reread.items()
        if (new := {k: v for k, v in fields.items() if known.get(source, {}).get(k) != v})
    }
    if changed:
        store.set_page_fields(changed)
    for source in sorted(set(known) - seen):
        store.remove_page(source)
        report.removed.append(source)
    # Chunks whose page has no record were left by a run that died before committing it;
    # counting first keeps the usual, clean case to two cheap reads.
    records = store.pages()
    wanted = ranks(records) if callable(ranks) else ranks
    moved = {
        str(r["source"]): wanted.get(str(r["source"]))
        for r in records
        if wanted is not None and r.get("sidebar_rank") != wanted.get(str(r["source"]))
    }
    if moved:  # the sidebar's order changed around pages that did not (or were just read)
        store.set_page_fields({source: {"sidebar_rank": rank} for source, rank in moved.items()})
        report.reordered = len(set(moved) - set(report.indexed))
    claimed: dict[str, list[str]] = {}
    for record in records:  # a slug (or id) given twice: one page hides the other
        claimed.setdefault(str(record.get("url", "")), []).append(str(record["source"]))
    report.clashes = sorted((u, sorted(s)) for u, s in claimed.items() if u and len(s) > 1)
    current = {str(r["source"]): str(r["page_hash"]) for r in records}
    if store.chunk_count() != sum(int(r["chunks"]) for r in records):
        for source in sorted(store.chunk_sources() - set(current)):
            store.remove_page(source)
    digest = pages_digest(current)
    if report.changed or store.stats().pages_digest != digest:
        store.refresh_statistics(digest)
        try:
            store.optimize()  # merge the new segments, build the vector indexes, flush
        except NoRoom as no_room:  # all is written, flushed and counted all the same
            free, needed = no_room.free / 2**20, no_room.needed / 2**20
            report.warnings.append(
                f"the index's segments were not merged ({free:.0f} MB free on its disk, "
                f"{needed:.0f} MB needed): it answers the same, and the next ingest that "
                "changes the book merges them if there is room"
            )


def _write(
    outcomes: Iterable[PageOutcome],
    writer: PageWriter,
    max_tokens: int,
    report: IngestReport,
    seen: set[str],
    reread: dict[str, dict[str, Any]],
    on_page: Callable[[str], None] | None,
) -> None:
    """Write each new or changed page `outcomes` yields, noting in `seen` every page kept
    and in `reread` what was read again of each unchanged one (its sidebar, its validators)."""
    for outcome in outcomes:
        source = outcome.source
        if isinstance(outcome, Unchanged):
            seen.add(source)
            report.unchanged += 1
            if outcome.sidebar_menu is not None:
                reread.setdefault(source, {})["sidebar_menu"] = list(outcome.sidebar_menu)
            if outcome.validators is not None:
                reread.setdefault(source, {})["validators"] = outcome.validators
        elif isinstance(outcome, Skipped):
            if outcome.keep:
                seen.add(source)
            report.skipped.append((source, outcome.reason))
        else:
            chunks = chunk_page(outcome, max_tokens)
            writer.add(
                replace(outcome, content_hash=stored_hash(outcome.content_hash, max_tokens)), chunks
            )
            seen.add(source)
            report.indexed.append(source)
            report.chunks += len(chunks)
        if on_page:
            on_page(source)
    writer.finish()  # also creates the collection of a book with nothing to embed
    if writer.embedder is not None:
        report.embedded, report.reused = writer.embedded, writer.reused


def _count_written(store: BookStore, known: dict[str, dict[str, Any]]) -> int:
    """After a run that failed or was interrupted part way, the pages it wrote made durable
    and counted, so the book's statistics (and `/health`) tell what is indexed, not what was
    before the run; how many pages it wrote (0 when the store cannot tell)."""
    with suppress(BookragError):
        store.commit()
        records = {str(r["source"]): str(r["page_hash"]) for r in store.pages()}
        store.refresh_statistics(pages_digest(records))
        return sum(
            1
            for source, page_hash in records.items()
            if page_hash and page_hash != known.get(source, {}).get("page_hash")
        )
    return 0
