"""Which pages a published Docusaurus site is read as: its sitemap's docs routes, where each
is fetched and where it is cited.

A page's `source` is its URL path without the leading `/` (`docs/sensors/rain-wind`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import SplitResult, unquote, urljoin, urlsplit, urlunsplit

from bookrag.book.site.crawler import Crawler, FetchFailed, host_of
from bookrag.book.site.sitemap import SitemapEntry, decompress, parse_sitemap, route_kind
from bookrag.config import is_http_url
from bookrag.errors import SiteError

_MAX_SITEMAPS = 50


@dataclass(frozen=True)
class SitePlan:
    """The pages a site's sitemap lists as docs, and where each is fetched and cited."""

    fetch_base: str  # scheme://host of the address the site is read from
    public_base: str  # scheme://host the citations use
    entries: list[SitemapEntry]  # fetch URLs, in sitemap order, capped
    over_cap: list[str]  # sources beyond the page cap


def normalise_book_url(url: str) -> str:
    """The book's address with a trailing `/` (its `baseUrl`), refusing what is not http(s)."""
    if not is_http_url(url.strip()):  # named without what could be a password in it
        shown = url.strip().rpartition("@")[2] if "://" in url else url
        raise SiteError(f"not an http(s) URL with a host and a valid port: {shown}")
    parts = urlsplit(url.strip())
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def source_of(url: str) -> str:
    """A page's `source`: its decoded URL path, without the leading and trailing `/`."""
    return unquote(urlsplit(url).path).strip("/")


async def plan_site(
    crawler: Crawler,
    book_url: str,
    site_url: str | None,
    include: Iterable[str] = (),
) -> SitePlan:
    """Read robots.txt and the sitemap (following sitemap indexes), keep the docs routes."""
    fetch = urlsplit(book_url)
    public = urlsplit(site_url) if site_url else fetch
    hosts = {host_of(fetch), host_of(public)}  # a password in the address is no other host
    robots = await crawler.load_robots(book_url)
    pending = [urljoin(book_url, "sitemap.xml")]
    entries: list[SitemapEntry] = []
    read = 0
    while pending and read < _MAX_SITEMAPS:
        url = pending.pop(0)
        read += 1
        try:
            fetched = await crawler.fetch(url, cap=crawler.limits.max_sitemap_bytes)
        except FetchFailed as exc:
            if read == 1 and not pending and robots.site_maps():
                pending = [u for u in robots.site_maps() or [] if _on(u, hosts)]
                if pending:
                    continue
            if read == 1:
                raise SiteError(
                    f"no sitemap at {url} ({exc}): is {book_url} a Docusaurus site?"
                ) from None
            raise SiteError(f"the sitemap {url} could not be read ({exc})") from None
        sitemap = parse_sitemap(decompress(fetched.body, crawler.limits.max_sitemap_bytes))
        foreign = sorted(
            {host_of(urlsplit(u)) for u in [*sitemap.children, *(e.url for e in sitemap.entries)]}
            - hosts
        )
        if foreign:
            raise SiteError(
                f"the sitemap {url} points at other hosts ({', '.join(foreign)}): refused "
                "(if one is the site's public address, give it as --site-url or "
                "BOOKRAG_SITE_URL)"
            )
        pending.extend(_rebase(u, fetch) for u in sitemap.children)
        entries.extend(SitemapEntry(_rebase(e.url, fetch), e.lastmod) for e in sitemap.entries)
    wanted = set(include)
    unique: dict[str, SitemapEntry] = {}
    for entry in entries:
        path = urlsplit(entry.url).path
        if not path.startswith(fetch.path) and path + "/" != fetch.path:
            continue  # outside the book's baseUrl
        kind = route_kind(path, fetch.path)
        if kind is None or kind in wanted:
            unique.setdefault(source_of(entry.url), entry)
    if not unique:
        raise SiteError(f"the sitemap of {book_url} lists no docs pages")
    kept = list(unique.values())
    cap = crawler.limits.max_pages
    return SitePlan(
        fetch_base=f"{fetch.scheme}://{fetch.netloc}",
        public_base=f"{public.scheme}://{host_of(public)}",  # never a reader's password
        entries=kept[:cap],
        over_cap=[source_of(e.url) for e in kept[cap:]],
    )


def _on(url: str, hosts: set[str]) -> bool:
    return host_of(urlsplit(url)) in hosts


def _rebase(url: str, fetch: SplitResult) -> str:
    """The same path and query on the address the site is read from."""
    parts = urlsplit(url)
    return urlunsplit((fetch.scheme, fetch.netloc, parts.path, parts.query, ""))
