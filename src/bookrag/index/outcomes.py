"""What reading a page comes to (`Page`, `Unchanged`, `Skipped`), and what an ingest run did.

`ingest.index_pages` takes these from any source of pages: a docs folder or a published site.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from bookrag.book.loader import Page


@dataclass
class IngestReport:
    """What an ingest run did."""

    indexed: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    chunks: int = 0
    embedded: int | None = None  # texts sent to the embedder (None without one)
    reused: int = 0  # chunks given the vector the index held for their text
    seconds: float = 0.0
    rebuilt: str | None = None  # why every page was re-indexed, when it was
    reordered: int = 0  # pages that only moved in the sidebar
    clashes: list[tuple[str, list[str]]] = field(default_factory=list)  # (url, its pages)
    warnings: list[str] = field(default_factory=list)  # what went short of a failure

    @property
    def changed(self) -> bool:
        """Whether the book as served changed: its pages, or their order."""
        return bool(self.indexed or self.removed or self.reordered)

    def log_to(self, logger: logging.Logger, what: str) -> None:
        """One line of counts, then a warning per skipped page."""
        logger.info(
            "%s: %d indexed, %d unchanged, %d removed, %d skipped (%.1fs)",
            what,
            len(self.indexed),
            self.unchanged,
            len(self.removed),
            len(self.skipped),
            self.seconds,
        )
        for path, reason in self.skipped:
            logger.warning("skipped %s: %s", path, reason)
        for line in [*self.clash_lines(), *self.warnings]:
            logger.warning("%s", line)

    def clash_lines(self) -> list[str]:
        """A line per URL that several pages claim (Docusaurus builds only one of them)."""
        return [
            f"{' and '.join(sources)} have the same URL {url}: the site shows one of them"
            for url, sources in self.clashes
        ]


@dataclass(frozen=True)
class Unchanged:
    """A page the index already holds as it is now; `sidebar_menu` is its sidebar's links as
    read this time (a published page whose text did not change), None when not read, and
    `validators` those it was fetched with (None when not fetched)."""

    source: str
    sidebar_menu: tuple[str, ...] | None = None
    validators: dict[str, str] | None = None


@dataclass(frozen=True)
class Skipped:
    """A page not indexed this time; `keep` keeps its last indexed version (a page that is
    broken or unreachable now), otherwise it is removed like a deleted page (a draft)."""

    source: str
    reason: str
    keep: bool = True


PageOutcome = Page | Unchanged | Skipped
# Given the indexed page records by source, yields what became of each page found.
PageReader = Callable[[dict[str, dict[str, Any]]], Iterable[PageOutcome]]
# Each page's place in the book's sidebar by source, or how to find it from the page
# records once the pages read are written (a site's ranks come from the menus they hold).
Ranks = dict[str, int] | Callable[[list[dict[str, Any]]], dict[str, int]]
