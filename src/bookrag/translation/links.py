"""Links between a book's pages, as its Markdown writes them and as its site serves them."""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import unquote, urlsplit

from bookrag.translation.units import with_links


def with_page_urls(markdown: str, source: str, pages: Iterable[Mapping[str, Any]]) -> str:
    """The Markdown of the page `source` (a translation) with its links to the book's other
    pages at their current addresses. The cache keeps such a link as written, to the other
    page's file (`./logging.md`): a cached translation follows that page's slug when it
    changes, which an address written into the cache would not."""
    urls = {str(page["source"]): str(page["url"]) for page in pages}
    return with_links(markdown, doc_links(source, urls))


def doc_links(source: str, urls: Mapping[str, str]) -> Callable[[str], str]:
    """A link target of the page `source` as Docusaurus builds it: a relative link to
    another page's file (`../data/logging.md#units`) becomes that page's address, given
    each page's address by its source path; any other target stays as written."""

    def resolve(target: str) -> str:
        path, hashed, anchor = target.partition("#")
        if not path.endswith((".md", ".mdx")) or urlsplit(path).scheme or path.startswith("/"):
            return target
        linked = posixpath.normpath(posixpath.join(posixpath.dirname(source), unquote(path)))
        url = urls.get(linked)
        return target if url is None else f"{url}{hashed}{anchor}"

    return resolve
