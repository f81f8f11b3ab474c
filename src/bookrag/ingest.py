"""Bring the index up to date with a docs folder: new and changed pages written, deleted
pages removed, unchanged pages left alone (an unchanged book writes nothing)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from bookrag.chunking import chunk_page
from bookrag.docusaurus import SiteConfig, read_site_config
from bookrag.errors import DocsNotFound, PageParseError
from bookrag.loader import SkipPage, discover, load_page, read_source
from bookrag.store import BookStore


@dataclass
class IngestReport:
    """What an ingest run did."""

    indexed: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    chunks: int = 0
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.indexed or self.removed)


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


def ingest(
    store: BookStore,
    docs_dir: Path,
    site: SiteConfig,
    max_tokens: int,
    on_page: Callable[[str], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> IngestReport:
    """Index `docs_dir` incrementally into `store`."""
    started = time.perf_counter()
    if not docs_dir.is_dir():
        raise DocsNotFound(f"docs folder not found: {docs_dir}")
    store.ensure_collection()
    known = store.page_hashes()
    files = discover(docs_dir)
    if on_start:
        on_start(len(files))
    report = IngestReport()
    seen: set[str] = set()
    for path in files:
        source = path.relative_to(docs_dir).as_posix()
        try:
            file = read_source(docs_dir, path, site)
            if known.get(source) == file.content_hash:
                seen.add(source)
                report.unchanged += 1
                continue
            page = load_page(file, site)
        except SkipPage as skip:
            report.skipped.append((source, str(skip)))
        except PageParseError as exc:
            # Keep the last good version of a page that is now broken, rather than lose it.
            seen.add(source)
            report.skipped.append((source, exc.message))
        except OSError as exc:
            seen.add(source)
            report.skipped.append((source, f"unreadable: {exc.strerror or exc}"))
        else:
            chunks = chunk_page(page, max_tokens)
            store.write_page(page, chunks)
            seen.add(source)
            report.indexed.append(source)
            report.chunks += len(chunks)
        finally:
            if on_page:
                on_page(source)
    for source in sorted(set(known) - seen):
        store.remove_page(source)
        report.removed.append(source)
    if report.changed or store.stats().last_indexed is None:
        store.refresh_statistics()
    report.seconds = time.perf_counter() - started
    return report
