"""Links between a book's pages, as its Markdown writes them and as its site serves them."""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping
from urllib.parse import unquote, urlsplit


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
