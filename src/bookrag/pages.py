"""Find an indexed page from the URL a browser shows, whatever host or prefix it carries."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

from bookrag.errors import PageNotFound
from bookrag.store import BookStore


def url_path(page_url: str) -> str:
    """The path of `page_url` without query, anchor or trailing slash (`/` for the root)."""
    parts = urlsplit(page_url.strip())
    path = unquote(parts.path if (parts.scheme or parts.netloc) else page_url.split("#")[0])
    path = path.split("?")[0]
    return "/" + path.strip("/")


class PageDirectory:
    """Page records by URL path and by source path, loaded from the store on demand."""

    def __init__(self, store: BookStore) -> None:
        self._store = store
        self._by_path: dict[str, dict[str, Any]] | None = None
        self._by_source: dict[str, dict[str, Any]] = {}

    def refresh(self) -> None:
        """Reload page records (after an ingest)."""
        records = self._store.pages()
        self._by_path = {"/" + str(r["url_path"]).strip("/"): r for r in records}
        self._by_source = {str(r["source"]): r for r in records}

    def all(self) -> list[dict[str, Any]]:
        """Every page record."""
        if self._by_path is None:
            self.refresh()
        return list(self._by_source.values())

    def find(self, page_url: str) -> dict[str, Any]:
        """The page at `page_url` (a full URL, a path, or a docs-relative source path).

        The host is ignored, and leading path segments (a locale such as `/ur/`, or another
        `baseUrl`) are dropped one at a time until a page matches.
        """
        if self._by_path is None:
            self.refresh()
        assert self._by_path is not None
        wanted = page_url.strip()
        if wanted.lstrip("/") in self._by_source:
            return self._by_source[wanted.lstrip("/")]
        path = url_path(wanted)
        segments = [s for s in path.split("/") if s]
        for start in range(max(len(segments), 1)):  # never widen a path to the root
            candidate = "/" + "/".join(segments[start:])
            if candidate in self._by_path:
                return self._by_path[candidate]
        raise PageNotFound(f"no indexed page at path {path}")
