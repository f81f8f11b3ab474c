"""Index a published Docusaurus site: its sitemap's docs routes (`site_plan`), fetched and
extracted, in the order of the book's sidebar.

A page's `source` is its URL path without the leading `/` (`docs/sensors/rain-wind`) and
its URL the public one: the sitemap's, or the same path on `site_url` when the site is
read from another address (a local build, a preview). A page is unchanged when its sitemap
`lastmod` is the one indexed, else when a conditional request (`If-None-Match`,
`If-Modified-Since`) answers 304, else when its extracted text hashes the same.

Each page read keeps its sidebar's links (`sidebar_menu` in its record, see `points`), and
after every run the pages' ranks are merged from the menus of all the pages indexed
(`book.site.menu`): a page not read again (unchanged by its `lastmod` or a 304) keeps the
menu it was read with. The menu is no part of a page's hash: a page whose text did not
change is not indexed again for a sidebar that did, only its record's menu and rank are.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import asdict
from typing import Any
from urllib.parse import urljoin, urlsplit

from bookrag.book import cjk, folding
from bookrag.book.loader import Page, readings
from bookrag.book.site.crawler import Crawler, CrawlLimits, FetchFailed, host_of
from bookrag.book.site.extract import NotADoc, extract_doc, page_markdown
from bookrag.book.site.menu import merge_menus
from bookrag.book.site.sitemap import SitemapEntry
from bookrag.errors import SiteError
from bookrag.index.ingest import index_pages
from bookrag.index.outcomes import IngestReport, PageOutcome, Skipped, Unchanged
from bookrag.index.site_plan import SitePlan, normalise_book_url, plan_site, source_of
from bookrag.index.store import BookStore
from bookrag.providers.base import Embedder, RetryPolicy

# Bump when extraction changes what a page turns into: every page's fingerprint changes.
EXTRACT_VERSION = "3"
# The reading a page's validators were taken under: a page fetched under another (an older
# extraction; 2: titles from `<title>`; the CJK reading) is fetched once more, whatever its
# lastmod or ETag say, and its fingerprint then says whether it is indexed again.
READING = f"{EXTRACT_VERSION}.2.{cjk.READING}.{folding.READING}"
NOT_A_DOC = "not a doc page"


def page_hash(
    url: str, title: str, label: str | None, sections: list[Any], heading: str = ""
) -> str:
    """The fingerprint of what a page says (not of its HTML, which changes every build); an
    `h1` other than the title enters it only where there is one, so other pages keep theirs."""
    said = [EXTRACT_VERSION, url, title, label, [asdict(s) for s in sections]]
    body = json.dumps([*said, heading] if heading else said, ensure_ascii=False)
    body += readings(body)  # other pages keep their fingerprints (as in `loader.read_source`)
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
        if stored.get("extract") == READING:
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
    digest = page_hash(url, doc.title, doc.sidebar_label, doc.sections, doc.heading)
    menu = menu_sources(doc.menu, entry.url, plan)
    new_validators = {"extract": READING}
    for key, value in (
        ("lastmod", entry.lastmod),
        ("etag", fetched.etag),
        ("last_modified", fetched.last_modified),
    ):
        if value:
            new_validators[key] = value
    if record is not None and record.get("page_hash") == digest:
        return Unchanged(source, tuple(menu), new_validators)
    return Page(
        source=source,
        url=url,
        title=doc.title,
        sidebar_label=doc.sidebar_label,
        sections=doc.sections,
        content_hash=digest,
        markdown=page_markdown(doc.heading or doc.title, doc.sections),
        validators=new_validators,
        sidebar_menu=menu,
    )


def menu_sources(links: list[str], page_url: str, plan: SitePlan) -> list[str]:
    """The sources a page's sidebar links to, in order, each once: links on this site, not
    `#` (a category's caret) nor another site's."""
    hosts = {host_of(urlsplit(plan.fetch_base)), host_of(urlsplit(plan.public_base))}
    sources: dict[str, None] = {}
    for link in links:
        url = urljoin(page_url, link) if link and not link.startswith("#") else ""
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and host_of(parts) in hosts:
            sources.setdefault(source_of(url))
    return list(sources)


def sidebar_ranks(records: list[dict[str, Any]], fresh: Iterable[str]) -> dict[str, int]:
    """Each page's place in the sidebar merged from the menus the page records hold, those
    read this run (`fresh`, in the sitemap's order) first: where an older menu disagrees (a
    page left unread, built with the sidebar before), the newer ones win. Sidebars that share
    no page keep the order they had (`merge_menus`)."""
    read = {source: at for at, source in enumerate(fresh)}
    menus = [
        [str(source) for source in record["sidebar_menu"]]
        for record in sorted(records, key=lambda r: read.get(str(r["source"]), len(read)))
        if record.get("sidebar_menu")
    ]
    pages = {str(record["source"]) for record in records}
    earlier = {
        str(r["source"]): r["sidebar_rank"]
        for r in records
        if isinstance(r.get("sidebar_rank"), int)
    }
    ordered = [source for source in merge_menus(menus, earlier) if source in pages]
    return {source: rank for rank, source in enumerate(ordered)}


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
    fresh: dict[str, None] = {}  # the pages whose menu was read this run, in sitemap order

    def read(known: dict[str, dict[str, Any]]) -> list[PageOutcome]:
        _, outcomes = asyncio.run(
            _crawl(book_url, site_url, limits, include, lambda: known, on_start, plan)
        )
        never_docs.update(
            o.source for o in outcomes if isinstance(o, Skipped) and _never_a_doc(o, known)
        )
        fresh.update(
            dict.fromkeys(
                o.source
                for o in outcomes
                if isinstance(o, Page) or (isinstance(o, Unchanged) and o.sidebar_menu is not None)
            )
        )
        return outcomes

    def ranks(records: list[dict[str, Any]]) -> dict[str, int]:
        return sidebar_ranks(records, fresh)

    report = index_pages(store, read, max_tokens, embedder, policy, on_page, ranks)
    # A site's home page, or another page the sitemap lists that is no doc and never was one,
    # is no news on every refresh: only a doc page that stopped being one is reported.
    report.skipped = [(path, why) for path, why in report.skipped if path not in never_docs]
    return report


def _never_a_doc(outcome: Skipped, known: dict[str, dict[str, Any]]) -> bool:
    return outcome.reason.startswith(NOT_A_DOC) and outcome.source not in known
