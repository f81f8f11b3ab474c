"""A site's sitemap (`urlset` or `sitemapindex`, plain or gzip) and which routes are docs."""

from __future__ import annotations

import gzip
import io
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from bookrag.errors import SiteError

# Docusaurus routes that are not docs: blog posts and their pagination, tag lists, the
# search page and the 404 page. A caller may ask for any of these kinds back.
ROUTE_KINDS = ("blog", "tags", "search", "404")
_PAGINATION = re.compile(r"/page/\d+/?$")


@dataclass(frozen=True)
class SitemapEntry:
    """One `<url>` of a sitemap."""

    url: str
    lastmod: str | None = None


@dataclass
class Sitemap:
    """What one sitemap file lists: pages, or (an index) more sitemaps."""

    entries: list[SitemapEntry]
    children: list[str]


def decompress(data: bytes, limit: int) -> bytes:
    """`data`, gunzipped if it is gzip; refuses to inflate past `limit` bytes."""
    if not data.startswith(b"\x1f\x8b"):
        return data
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            inflated = stream.read(limit + 1)
    except (OSError, EOFError) as exc:
        raise SiteError(f"the sitemap is not valid gzip: {exc}") from None
    if len(inflated) > limit:
        raise SiteError(f"the sitemap inflates past {limit} bytes")
    return inflated


def parse_sitemap(data: bytes) -> Sitemap:
    """Parse a sitemap or sitemap index (https://www.sitemaps.org/protocol.html).

    The standard library's parser is enough for two flat element kinds; it refuses
    entity-expansion bombs (expat >= 2.4.1) and the caller caps the size."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise SiteError(f"the sitemap is not valid XML ({exc})") from None
    kind = _local(root.tag)
    if kind not in ("urlset", "sitemapindex"):
        raise SiteError(f"not a sitemap: its root element is <{kind}>")
    entries, children = [], []
    for item in root:
        fields = {_local(child.tag): (child.text or "").strip() for child in item}
        loc = fields.get("loc")
        if not loc:
            continue
        if kind == "urlset":
            entries.append(SitemapEntry(loc, fields.get("lastmod") or None))
        else:
            children.append(loc)
    return Sitemap(entries, children)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def route_kind(path: str, base_path: str) -> str | None:
    """The kind of non-docs route `path` is (one of `ROUTE_KINDS`), or None for a doc.

    `base_path` is the site's `baseUrl` (`/` or `/book/`); the kinds are judged on the
    path below it."""
    below = path[len(base_path) :] if path.startswith(base_path) else path.lstrip("/")
    segments = [s for s in below.strip("/").split("/") if s]
    if not segments:
        return None
    if segments[0] == "blog" or _PAGINATION.search(path):
        return "blog"
    if "tags" in segments:
        return "tags"
    if segments[-1] in ("search", "search.html"):
        return "search"
    if segments[-1] in ("404", "404.html"):
        return "404"
    return None
