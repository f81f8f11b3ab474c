"""Find an indexed page from the URL a browser shows, whatever host or prefix it carries.

A lookup costs time linear in the URL and independent of the number of pages: every page
path is indexed once by each of its usable tails, and a request's path is only cut into
the tails no longer than the deepest indexed path (a longer tail can match nothing).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

from bookrag.errors import NotIndexed, PageNotFound
from bookrag.index.store import STATISTICS_TTL, BookStore

_HTML_SUFFIX = re.compile(r"(/index)?\.html?$")


def url_path(page_url: str) -> str:
    """The decoded path of `page_url`, without query, anchor, `.html` or trailing slash."""
    text = page_url.strip()
    parts = urlsplit(text)
    path = parts.path if (parts.scheme or parts.netloc) else text.split("#")[0].split("?")[0]
    path = _HTML_SUFFIX.sub("", unquote(path))
    return "/" + path.strip("/")


def _segments(path: str) -> list[str]:
    return [s for s in path.split("/") if s]


class _Tails:
    """Records by each tail of their path (a tuple of segments), for suffix lookups.

    `shortest(m)` says how short a tail of an `m`-segment path may be and still find it."""

    def __init__(self, shortest: Callable[[int], int]) -> None:
        self._by_tail: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        self._shortest = shortest
        self.depth = 0

    def add(self, segments: Sequence[str], record: dict[str, Any]) -> None:
        self.depth = max(self.depth, len(segments))
        for size in range(max(1, self._shortest(len(segments))), len(segments) + 1):
            self._by_tail.setdefault(tuple(segments[-size:]), []).append(record)

    def matches(self, tail: Sequence[str]) -> list[dict[str, Any]]:
        return self._by_tail.get(tuple(tail), [])

    def tails(self, segments: Sequence[str]) -> Iterator[Sequence[str]]:
        """The tails of `segments` that could match, longest first."""
        for start in range(max(0, len(segments) - self.depth), len(segments)):
            yield segments[start:]


class PageDirectory:
    """Page records by URL path and by source path, loaded from the store on demand."""

    def __init__(self, store: BookStore) -> None:
        self._store = store
        self._by_path: dict[str, dict[str, Any]] | None = None
        self._by_source: dict[str, dict[str, Any]] = {}
        self._path_tails = _Tails(lambda size: min(2, size))
        self._source_tails = _Tails(lambda size: size)
        self._loaded_at = 0.0

    def refresh(self) -> None:
        """Reload page records (after an ingest)."""
        records = self._store.pages()
        self._by_path = {url_path(str(r["url_path"])): r for r in records}
        self._by_source = {str(r["source"]): r for r in records}
        path_tails, source_tails = _Tails(lambda size: min(2, size)), _Tails(lambda size: size)
        for path, record in self._by_path.items():
            path_tails.add(_segments(path), record)
        for source, record in self._by_source.items():
            source_tails.add(_segments(source), record)
        self._path_tails, self._source_tails = path_tails, source_tails
        self._loaded_at = time.monotonic()

    def _current(self) -> dict[str, dict[str, Any]]:
        # On a Qdrant server another process may re-ingest the book: look again now and then.
        stale = not self._store.embedded and time.monotonic() - self._loaded_at > STATISTICS_TTL
        if self._by_path is None or stale:
            self.refresh()
        assert self._by_path is not None
        return self._by_path

    def all(self) -> list[dict[str, Any]]:
        """Every page record."""
        self._current()
        return list(self._by_source.values())

    def find(self, page_url: str) -> dict[str, Any]:
        """The page at `page_url`: a full URL, a path, or a docs-relative source path.

        The host is ignored, and so are path segments that only one side has: a locale
        (`/ur/`, before or after the `baseUrl`), another `baseUrl`, or none at all (a
        preview deployed at the root). The request's path is cut from the left until its
        remaining tail ends exactly one page's path; the tail must keep at least two
        segments (or the whole page path), so `/blog/intro` does not find `/docs/intro`.
        """
        by_path = self._current()
        if not by_path:  # a book being indexed (or never): no page is unknown yet
            raise NotIndexed("the book is not indexed yet: see /health")
        source = self._source(page_url)
        if source is not None:
            return source
        path = url_path(page_url)
        if path in by_path:
            return by_path[path]
        for tail in self._path_tails.tails(_segments(path)):
            matches = self._path_tails.matches(tail)
            if len(matches) == 1:
                return matches[0]
        raise PageNotFound(f"no indexed page at path {_shown(path)}")

    def _source(self, page_url: str) -> dict[str, Any] | None:
        """A docs-relative source path, possibly with folders in front (`website/docs/a.md`)."""
        wanted = page_url.strip().split("#")[0].split("?")[0].strip("/")
        if not wanted.endswith((".md", ".mdx")):
            return None
        if wanted in self._by_source:
            return self._by_source[wanted]
        segments = wanted.split("/")
        # Tails that start after a "/" of `wanted` (the whole of it was tried above).
        found = [
            record
            for tail in self._source_tails.tails(segments)
            if len(tail) < len(segments)
            for record in self._source_tails.matches(tail)
        ]
        return found[0] if len(found) == 1 else None


def _shown(path: str, limit: int = 200) -> str:
    """`path` as an error message may quote it: a URL of any length is cut short."""
    return path if len(path) <= limit else path[:limit] + "…"
