"""Index a published Docusaurus site: its sitemap's docs routes, fetched and extracted.

A page's `source` is its URL path without the leading `/` (`docs/sensors/rain-wind`) and
its URL the public one: the sitemap's, or the same path on `site_url` when the site is
read from another address (a local build, a preview). A page is unchanged when its sitemap
`lastmod` is the one indexed, else when a conditional request (`If-None-Match`,
`If-Modified-Since`) answers 304, else when its extracted text hashes the same.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import SplitResult, unquote, urljoin, urlsplit, urlunsplit

from bookrag.book.loader import Page
from bookrag.book.site.crawler import Crawler, CrawlLimits, FetchFailed, host_of
from bookrag.book.site.extract import NotADoc, extract_doc, page_markdown
from bookrag.book.site.sitemap import SitemapEntry, decompress, parse_sitemap, route_kind
from bookrag.config import is_http_url
from bookrag.errors import SiteError
from bookrag.index.ingest import IngestReport, PageOutcome, Skipped, Unchanged, index_pages
from bookrag.index.store import BookStore
from bookrag.providers.base import Embedder, RetryPolicy

# Bump when extraction changes what a page turns into, so validators from before are ignored.
EXTRACT_VERSION = "3"
_MAX_SITEMAPS = 50
NOT_A_DOC = "not a doc page"


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


def page_hash(url: str, title: str, label: str | None, sections: list[Any]) -> str:
    """The fingerprint of what a page says (not of its HTML, which changes every build)."""
    body = json.dumps(
        [EXTRACT_VERSION, url, title, label, [asdict(s) for s in sections]], ensure_ascii=False
    )
    return hashlib.sha256(body.encode()).hexdigest()


async def read_pages(
    crawler: Crawler,
    plan: SitePlan,
    known: dict[str, dict[str, Any]],
    on_start: Callable[[int], None] | None = None,
) -> list[PageOutcome]:
    """Fetch and extract the planned pages, `concurrency` at a time, skipping the unchanged."""
    if on_start:
        on_start(len(plan.entries) + len(plan.over_cap))
    outcomes = await asyncio.gather(*(_read_page(crawler, plan, e, known) for e in plan.entries))
    results: list[PageOutcome] = list(outcomes)
    results.extend(
        Skipped(s, f"over the page cap ({crawler.limits.max_pages})") for s in plan.over_cap
    )
    if not any(not isinstance(o, Skipped) for o in results):
        # Nothing to index at all: say why, and leave the index as it is.
        reasons = [o.reason for o in results if isinstance(o, Skipped)]
        unread = [r for r in reasons if not r.startswith(NOT_A_DOC)]
        if len(unread) < len(reasons):
            # The pages that could not be read may be the docs (a server that does not
            # serve `/docs/x` as Docusaurus builds it, `x.html`): say so too.
            also = f" ({len(unread)} could not be read: {unread[0]}, ...)" if unread else ""
            raise SiteError(
                f"no page of {plan.fetch_base} has a Docusaurus doc article{also}: "
                "is it a Docusaurus site?"
            )
        raise SiteError(f"no page of {plan.fetch_base} could be read ({reasons[0]}, ...)")
    return results


async def _read_page(
    crawler: Crawler, plan: SitePlan, entry: SitemapEntry, known: dict[str, dict[str, Any]]
) -> PageOutcome:
    source = source_of(entry.url)
    record = known.get(source)
    url = plan.public_base + urlsplit(entry.url).path
    validators: dict[str, str] = {}
    # A page whose public address moved (a new BOOKRAG_SITE_URL) is read again, whatever its
    # validators say: its stored URLs, and every citation of it, would point to the old one.
    if record is not None and record.get("url") == url:
        stored = record.get("validators") or {}
        if stored.get("extract") == EXTRACT_VERSION:
            validators = stored
    if entry.lastmod and validators.get("lastmod") == entry.lastmod:
        return Unchanged(source)
    try:
        fetched = await crawler.fetch(
            entry.url, validators.get("etag"), validators.get("last_modified")
        )
    except FetchFailed as exc:
        return Skipped(source, str(exc))
    if fetched.status == 304:
        return Unchanged(source)
    if "html" not in fetched.content_type.lower():
        return Skipped(source, f"not HTML ({fetched.content_type or 'no content type'})")
    try:
        doc = await asyncio.to_thread(extract_doc, fetched.body)
    except NotADoc as exc:
        return Skipped(source, f"{NOT_A_DOC}: {exc}", keep=False)
    digest = page_hash(url, doc.title, doc.sidebar_label, doc.sections)
    if record is not None and record.get("page_hash") == digest:
        return Unchanged(source)
    new_validators = {"extract": EXTRACT_VERSION}
    for key, value in (
        ("lastmod", entry.lastmod),
        ("etag", fetched.etag),
        ("last_modified", fetched.last_modified),
    ):
        if value:
            new_validators[key] = value
    return Page(
        source=source,
        url=url,
        title=doc.title,
        sidebar_label=doc.sidebar_label,
        sections=doc.sections,
        content_hash=digest,
        markdown=page_markdown(doc.title, doc.sections),
        validators=new_validators,
    )


async def _crawl(
    book_url: str,
    site_url: str | None,
    limits: CrawlLimits,
    include: Iterable[str],
    known_of: Callable[[], dict[str, dict[str, Any]]] | None,
    on_start: Callable[[int], None] | None,
    plan: SitePlan | None = None,
) -> tuple[SitePlan, list[PageOutcome]]:
    async with Crawler.open_client(limits) as client:
        crawler = Crawler(client, host_of(urlsplit(book_url)), limits)
        if plan is None:
            plan = await plan_site(crawler, book_url, site_url, include)
            if known_of is None:
                return plan, []
        else:
            await crawler.load_robots(book_url)
        assert known_of is not None
        return plan, await read_pages(crawler, plan, known_of(), on_start)


def ingest_site(
    store: BookStore,
    book_url: str,
    max_tokens: int,
    embedder: Embedder | None = None,
    policy: RetryPolicy | None = None,
    *,
    site_url: str | None = None,
    limits: CrawlLimits | None = None,
    include: Iterable[str] = (),
    on_page: Callable[[str], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> IngestReport:
    """Index the published site at `book_url` incrementally into `store`.

    The sitemap is read before the index is touched, so a URL that is not a Docusaurus site
    fails with `SiteError` and changes nothing."""
    book_url = normalise_book_url(book_url)
    limits = limits or CrawlLimits()
    include = tuple(include)
    plan, _ = asyncio.run(_crawl(book_url, site_url, limits, include, None, None))

    never_docs: set[str] = set()

    def read(known: dict[str, dict[str, Any]]) -> list[PageOutcome]:
        _, outcomes = asyncio.run(
            _crawl(book_url, site_url, limits, include, lambda: known, on_start, plan)
        )
        never_docs.update(
            o.source for o in outcomes if isinstance(o, Skipped) and _never_a_doc(o, known)
        )
        return outcomes

    report = index_pages(store, read, max_tokens, embedder, policy, on_page)
    # A site's home page, or another page the sitemap lists that is no doc and never was one,
    # is no news on every refresh: only a doc page that stopped being one is reported.
    report.skipped = [(path, why) for path, why in report.skipped if path not in never_docs]
    return report


def _never_a_doc(outcome: Skipped, known: dict[str, dict[str, Any]]) -> bool:
    return outcome.reason.startswith(NOT_A_DOC) and outcome.source not in known
