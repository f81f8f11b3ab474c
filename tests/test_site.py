"""A published Docusaurus site as a book: the sample book built by real Docusaurus
(`tests/fixtures/sample-site`, from `scripts/make-site-fixture.sh`), served on 127.0.0.1."""

from __future__ import annotations

import gzip
import itertools
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from bookrag.book.chunking import chunk_page
from bookrag.book.loader import SkipPage, discover, load_page, read_source
from bookrag.book.site.crawler import CrawlLimits
from bookrag.book.site.extract import NotADoc, extract_doc, page_markdown
from bookrag.errors import SiteError
from bookrag.index import site_ingest
from bookrag.index.ingest import ingest, site_config
from bookrag.index.site_ingest import ingest_site
from bookrag.index.store import BookStore
from conftest import ROOT, SAMPLE_DOCS
from fakes.site import FakeSite

FIXTURE = ROOT / "tests" / "fixtures" / "sample-site"
PUBLIC = "https://pocket-weather.example.org"
DOC_PAGES = 9  # the sample book's published pages (its draft is not built)
FAST = CrawlLimits(timeout=2.0, backoff=0.01, attempts=3)
_LINK = re.compile(r"\]\([^)]*\)")
SMALL_SITEMAP = (
    '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
    "<url><loc>{url}/docs/dashboard</loc></url><url><loc>{url}/docs/data/logging</loc></url>"
    "</urlset>"
)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[FakeSite]:
    served = FakeSite(FIXTURE, tmp_path).start()
    yield served
    served.stop()


def crawl(store: BookStore, site: FakeSite, limits: CrawlLimits = FAST, **kwargs: object):  # type: ignore[no-untyped-def]
    kwargs.setdefault("site_url", PUBLIC)
    return ingest_site(store, site.url, 350, limits=limits, **kwargs)  # type: ignore[arg-type]


def source_pages() -> dict[str, object]:
    site = site_config(SAMPLE_DOCS, None, None)
    pages = {}
    for path in discover(SAMPLE_DOCS):
        try:
            page = load_page(read_source(SAMPLE_DOCS, path, site), site)
        except SkipPage:
            continue
        pages[page.url] = page
    return pages


# -- extraction ----------------------------------------------------------------------------


def test_a_page_whose_front_matter_title_is_not_its_heading_has_that_title() -> None:
    # The h1 was taken as the title, so a page with `title: Intro` and `# Welcome to the
    # station` was "Welcome to the station" read from its site and "Intro" from its docs.
    html = (
        "<html><head><title>Intro | The Pocket Weather Station</title></head><body>"
        "<div class='theme-doc-markdown markdown'><header><h1>Welcome to the station</h1>"
        "</header><p>Build a weather station in a weekend.</p></div></body></html>"
    )
    doc = extract_doc(html)
    assert (doc.title, doc.heading) == ("Intro", "Welcome to the station")
    assert page_markdown(doc.heading, doc.sections).startswith("# Welcome to the station\n")
    same = extract_doc(html.replace("<title>Intro", "<title>Welcome to the station"))
    assert (same.title, same.heading) == ("Welcome to the station", "")
    # A site title holding the delimiter, or another delimiter: the heading leads the head.
    for head in ("Welcome to the station | Acme | Docs", "Welcome to the station · Acme"):
        other = extract_doc(html.replace("Intro | The Pocket Weather Station", head))
        assert (other.title, other.heading) == ("Welcome to the station", ""), head


def test_every_built_page_reads_as_its_source_does_but_for_resolved_links() -> None:
    for url, page in source_pages().items():
        html = (FIXTURE / (url.removeprefix(PUBLIC + "/") + ".html")).read_bytes()
        doc = extract_doc(html)
        assert doc.title == page.title  # type: ignore[attr-defined]
        want = [(s.headings, s.anchor) for s in page.sections]  # type: ignore[attr-defined]
        assert [(s.headings, s.anchor) for s in doc.sections] == want, url
        for ours, theirs in zip(doc.sections, page.sections, strict=True):  # type: ignore[attr-defined]
            # Links differ only in their target: the site's resolved URL, not `./x.md`.
            assert [_LINK.sub("]()", b.text) for b in ours.blocks] == [
                _LINK.sub("]()", b.text) for b in theirs.blocks
            ], (url, ours.anchor)


def test_every_tab_panel_is_read_and_the_page_chrome_is_not() -> None:
    doc = extract_doc((FIXTURE / "docs/sensors/reading-sensors.html").read_bytes())
    text = "\n".join(b.text for s in doc.sections for b in s.blocks)
    assert "adafruit-circuitpython-bme280" in text  # the hidden second tab
    assert "```python\nimport board" in text  # its code, with the language
    assert "Do not read the BME280 more often" in text  # the admonition
    for chrome in ("Edit this page", "Previous", "Next", "Pocket Weather Station\n", "Copyright"):
        assert chrome not in text
    # Each tab's label is read once, before its panel, as the loader reads the source.
    assert "**Adafruit CircuitPython**\n**Adafruit CircuitPython:** Install it with" in text
    assert text.count("Adafruit CircuitPython") == 2


def tabs(labels: list[str], panels: list[str]) -> str:
    """Tabs as Docusaurus renders them: the tab list beside the panels' wrapper."""
    items = "".join(f'<li role="tab">{label}</li>' for label in labels)
    bodies = "".join(f'<div role="tabpanel">{panel}</div>' for panel in panels)
    return f'<div class="tabs-container"><ul role="tablist">{items}</ul><div>{bodies}</div></div>'


def built_blocks(body: str) -> list[str]:
    """The blocks read from a built doc page whose Markdown container holds `body`."""
    html = f'<html><body><article><div class="theme-doc-markdown markdown"><h1>S</h1>{body}'
    doc = extract_doc(f"{html}</div></article></body></html>".encode())
    return [b.text for s in doc.sections for b in s.blocks]


def nested_tabs() -> str:
    inner = tabs(["pip", "apt"], ["<p>Run pip.</p>", "<p>Run apt.</p>"])
    return tabs(["Linux", "macOS"], [f"<p>On Linux:</p>{inner}", "<p>Run brew.</p>"])


def test_a_tab_inside_a_tab_gets_its_own_label() -> None:
    assert built_blocks(nested_tabs()) == [
        "**Linux**",
        "**Linux:** On Linux:",
        "**pip**",
        "**pip:** Run pip.",
        "**apt**",
        "**apt:** Run apt.",
        "**macOS**",
        "**macOS:** Run brew.",
    ]


def test_a_tab_inside_a_tab_in_a_list_item_is_read_once() -> None:
    items = f"<ol><li><p>Install:</p>{nested_tabs()}</li><li><p>Next.</p></li></ol>"
    [block] = built_blocks(items)
    assert block == (
        "1. Install:\n   **Linux**\n   On Linux:\n   **pip**\n   Run pip.\n   **apt**\n"
        "   Run apt.\n   **macOS**\n   Run brew.\n2. Next."
    )


def test_a_details_summary_does_not_run_into_what_it_hides() -> None:
    details = (
        '<details class="details_a"><summary>Answer</summary>'
        '<div><div class="collapsibleContent_b">Pin 17</div></div></details>'
    )
    body = f"<ol><li><p>Which pin?</p>{details}</li></ol>{details}"
    assert built_blocks(body) == [
        "1. Which pin?\n   Answer: Pin 17",
        "Answer:",
        "Pin 17",
    ]


def test_html_without_a_doc_article_is_not_a_doc() -> None:
    with pytest.raises(NotADoc):
        extract_doc((FIXTURE / "index.html").read_bytes())
    with pytest.raises(NotADoc):
        extract_doc(b"<html><body><article><p>hello</p></article></body></html>")


def test_html_and_source_ingestion_make_the_same_chunks_and_citations(
    store: BookStore, site: FakeSite, tmp_path: Path
) -> None:
    report = crawl(store, site)
    assert len(report.indexed) == DOC_PAGES
    html_urls = {c["url"] for p in store.pages() for c in store.page_chunks(str(p["source"]))}
    from_source = source_pages()
    source_urls = {
        chunk.url
        for page in from_source.values()
        for chunk in chunk_page(page, 350)  # type: ignore[arg-type]
    }
    assert html_urls == source_urls
    sources = {str(p["source"]) for p in store.pages()}
    assert "docs/sensors/rain-wind" in sources  # the page's path is its URL path


# -- crawling ------------------------------------------------------------------------------


def test_site_ingest_keeps_docs_routes_and_lists_what_it_skipped(
    store: BookStore, site: FakeSite
) -> None:
    report = crawl(store, site)
    assert sorted(report.indexed)[0] == "docs/dashboard"
    # The home page is in the sitemap but is not a doc: not indexed, and no news (it was
    # listed as skipped, and warned of, on every refresh).
    assert "" not in {str(p["source"]) for p in store.pages()} and report.skipped == []
    assert all(r.headers["user-agent"].startswith("bookrag/") for r in site.requests)
    assert site.requests[0].path == "/robots.txt"
    # A doc page that stops being one is news: listed, and removed.
    site.put("docs/intro.html", (site.root / "index.html").read_text())
    report = crawl(store, site)
    assert [(p, r.split(":")[0]) for p, r in report.skipped] == [("docs/intro", "not a doc page")]
    assert report.removed == ["docs/intro"]


def test_pages_are_fetched_at_most_four_at_a_time(store: BookStore, site: FakeSite) -> None:
    paths = [f"/docs/{p}" for p in ("intro", "dashboard", "getting-started", "data/logging")]
    paths += ["/docs/data/troubleshooting", "/docs/sensors/rain-wind"]
    for path in paths:
        site.delay(path, 0.3)
    crawl(store, site)
    assert site.in_flight_peak == 4
    site.in_flight_peak = 0
    for path in paths:
        site.delay(path, 0.3)
    crawl(store, site, CrawlLimits(concurrency=2, timeout=2.0))
    assert site.in_flight_peak == 2


def test_unchanged_site_is_asked_conditionally_and_writes_nothing(
    store: BookStore, site: FakeSite
) -> None:
    crawl(store, site)
    before = len(site.requests)
    report = crawl(store, site)
    assert report.indexed == [] and report.unchanged == DOC_PAGES and not report.changed
    again = [r for r in site.requests[before:] if r.path.startswith("/docs/")]
    assert len(again) == DOC_PAGES
    assert all("if-none-match" in r.headers for r in again)


def test_changed_and_deleted_pages_are_redone_and_removed(store: BookStore, site: FakeSite) -> None:
    crawl(store, site)
    html = (site.root / "docs/intro.html").read_text()
    site.put("docs/intro.html", html.replace("two weekends", "three weekends"))
    sitemap = (site.root / "sitemap.xml").read_text()
    gone = f"<url><loc>{PUBLIC}/docs/dashboard</loc>"
    assert gone in sitemap
    site.put("sitemap.xml", re.sub(re.escape(gone) + r".*?</url>", "", sitemap))
    report = crawl(store, site)
    assert report.indexed == ["docs/intro"]
    assert report.removed == ["docs/dashboard"]
    texts = " ".join(c["text"] for c in store.page_chunks("docs/intro"))
    assert "three weekends" in texts


def test_a_rebuilt_page_with_the_same_text_is_unchanged(store: BookStore, site: FakeSite) -> None:
    crawl(store, site)
    html = (site.root / "docs/intro.html").read_text()
    site.put("docs/intro.html", html.replace("</body>", "<script>/* new bundle */</script></body>"))
    report = crawl(store, site)
    assert report.indexed == [] and report.unchanged == DOC_PAGES
    # Its new ETag is kept: it was not, so every later refresh fetched the page whole again.
    crawl(store, site)
    asked = [r.headers.get("if-none-match") for r in site.page_requests("/docs/intro")]
    assert asked[-1] != asked[-2]


def test_pages_read_under_an_older_reading_are_fetched_once_more(
    store: BookStore, site: FakeSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A new way of reading pages (titles from <title>, Chinese as pairs) reached no page of an
    # index made before it while the host answered 304 or the sitemap's lastmod held.
    crawl(store, site)
    monkeypatch.setattr(site_ingest, "READING", "a newer reading")
    before = len(site.page_requests())
    report = crawl(store, site)
    fetched = site.page_requests()[before:]
    assert report.indexed == [] and report.unchanged == DOC_PAGES
    assert len(fetched) == DOC_PAGES and not any("if-none-match" in r.headers for r in fetched)
    before = len(site.page_requests())
    crawl(store, site)  # and then it rests: asked conditionally, as before
    assert all("if-none-match" in r.headers for r in site.page_requests()[before:])


def test_sitemap_lastmod_spares_the_request(store: BookStore, site: FakeSite) -> None:
    sitemap = (site.root / "sitemap.xml").read_text()
    site.put("sitemap.xml", sitemap.replace("</loc>", "</loc><lastmod>2026-01-01</lastmod>"))
    crawl(store, site)
    fetched = len(site.page_requests())
    report = crawl(store, site)
    assert report.unchanged == DOC_PAGES
    assert len(site.page_requests()) == fetched  # not one page asked for again


@pytest.mark.parametrize("lastmod", [True, False])
def test_a_new_public_address_moves_every_page_whatever_its_validators_say(
    store: BookStore, site: FakeSite, lastmod: bool
) -> None:
    # A book moved to its own domain: the sitemap's lastmod (or the server's 304 to a
    # conditional request) says nothing changed, but every stored URL, and so every
    # citation, pointed to the old address until the pages themselves changed.
    if lastmod:
        sitemap = (site.root / "sitemap.xml").read_text()
        site.put("sitemap.xml", sitemap.replace("</loc>", "</loc><lastmod>2026-01-01</lastmod>"))
    crawl(store, site)
    moved = "https://weather.example.net"  # the site's `url`, and so its sitemap, changed
    site.put("sitemap.xml", (site.root / "sitemap.xml").read_text().replace(PUBLIC, moved))
    report = crawl(store, site, site_url=moved)
    assert len(report.indexed) == DOC_PAGES
    assert all(page["url"].startswith(f"{moved}/docs/") for page in store.pages())
    assert store.search("tipping bucket rain gauge", 1)[0].payload["url"].startswith(moved)
    assert crawl(store, site, site_url=moved).unchanged == DOC_PAGES  # and then it rests


def test_gzipped_sitemap_index_is_followed(store: BookStore, site: FakeSite) -> None:
    (site.root / "sitemap.xml").rename(site.root / "pages.xml")
    site.put("pages.xml.gz", gzip.compress((site.root / "pages.xml").read_bytes()))
    site.put(
        "sitemap.xml",
        '<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        f"<sitemap><loc>{site.url}pages.xml.gz</loc></sitemap></sitemapindex>",
    )
    report = crawl(store, site)
    assert len(report.indexed) == DOC_PAGES


def test_robots_txt_is_honoured(store: BookStore, site: FakeSite) -> None:
    site.put("robots.txt", "User-agent: bookrag\nDisallow: /docs/data/\n")
    report = crawl(store, site)
    skipped = dict(report.skipped)
    assert skipped["docs/data/logging"] == "disallowed by robots.txt"
    assert not site.page_requests("/docs/data/")


@pytest.mark.parametrize(
    ("rules", "gap"),
    [("Crawl-delay: 1", 1.0), ("Request-rate: 2/1", 0.5)],
    ids=["crawl-delay", "request-rate"],
)
def test_robots_txt_pace_is_kept_between_requests(
    store: BookStore, site: FakeSite, rules: str, gap: float
) -> None:
    site.put("robots.txt", f"User-agent: bookrag\n{rules}\nAllow: /\n")
    site.put("sitemap.xml", SMALL_SITEMAP.format(url=PUBLIC))
    report = crawl(store, site)
    assert len(report.indexed) == 2
    starts = [r.at for r in site.page_requests()]
    assert len(starts) == 2
    assert all(later - earlier >= gap * 0.95 for earlier, later in itertools.pairwise(starts))


# -- faults --------------------------------------------------------------------------------


def test_failing_pages_are_skipped_and_listed_and_others_indexed(
    store: BookStore, site: FakeSite
) -> None:
    site.fail("/docs/intro", 404)
    site.fail("/docs/dashboard", 500, times=3)
    site.delay("/docs/data/logging", 5.0, times=3)
    site.huge("/docs/data/troubleshooting", 50_000_000, declare_length=False)
    site.huge("/docs/getting-started", 50_000_000, declare_length=True)
    site.redirect("/docs/sensors/rain-wind", "https://elsewhere.example.net/docs/x")
    site.fail("/docs/sensors/reading-sensors", 429, times=1, **{"Retry-After": "0"})
    limits = CrawlLimits(timeout=0.5, backoff=0.01, attempts=3, max_page_bytes=1_000_000)
    report = crawl(store, site, limits)
    skipped = dict(report.skipped)
    assert skipped["docs/intro"] == "HTTP 404"
    assert skipped["docs/dashboard"] == "HTTP 500"
    assert skipped["docs/data/logging"].startswith("timed out")
    assert "cap" in skipped["docs/data/troubleshooting"]
    assert "cap" in skipped["docs/getting-started"]
    assert "another host" in skipped["docs/sensors/rain-wind"]
    assert "docs/sensors/reading-sensors" in report.indexed  # the 429 was retried
    assert sorted(report.indexed) == [
        "docs/getting-started/parts-list",
        "docs/sensors/reading-sensors",
        "docs/sensors/wiring/i2c-wiring",
    ]
    assert {str(p["source"]) for p in store.pages()} == set(report.indexed)


def test_a_page_failing_later_keeps_its_last_indexed_version(
    store: BookStore, site: FakeSite
) -> None:
    crawl(store, site)
    site.fail("/docs/intro", 503, times=3)
    report = crawl(store, site)
    assert dict(report.skipped)["docs/intro"] == "HTTP 503"
    assert report.removed == []
    assert store.page_chunks("docs/intro")


def test_a_sitemap_pointing_at_other_hosts_is_refused(store: BookStore, site: FakeSite) -> None:
    with pytest.raises(SiteError, match=r"other hosts \(pocket-weather\.example\.org\)") as refused:
        crawl(store, site, site_url=None)
    assert "--site-url or BOOKRAG_SITE_URL" in refused.value.message  # where to give it
    assert store.fingerprint() is None  # refused before the index was touched
    assert not site.page_requests()


def test_a_site_without_a_sitemap_gets_one_clear_line(store: BookStore, site: FakeSite) -> None:
    site.remove("sitemap.xml")
    with pytest.raises(SiteError, match=r"no sitemap at .*: is .* a Docusaurus site"):
        crawl(store, site)


def test_a_site_without_doc_articles_gets_one_clear_line(store: BookStore, site: FakeSite) -> None:
    for page in (site.root / "docs").rglob("*.html"):
        site.put(str(page.relative_to(site.root)), "<html><body><p>a shop</p></body></html>")
    with pytest.raises(SiteError, match=r"no page .* has a Docusaurus doc article"):
        crawl(store, site)


def test_a_site_whose_docs_cannot_be_read_says_so_too(store: BookStore, site: FakeSite) -> None:
    # A server that does not serve `/docs/x` as `x.html` (python -m http.server): every doc
    # is a 404 and only the home page is read. "Is it a Docusaurus site?" alone misled.
    for page in (site.root / "docs").rglob("*.html"):
        site.remove(str(page.relative_to(site.root)))
    with pytest.raises(SiteError, match=r"has a Docusaurus doc article") as refused:
        crawl(store, site)
    assert "(9 could not be read: HTTP 404, ...)" in refused.value.message


def test_source_ingestion_still_replaces_a_site_book(store: BookStore, site: FakeSite) -> None:
    crawl(store, site)
    report = ingest(store, SAMPLE_DOCS, site_config(SAMPLE_DOCS, None, None), 350)
    assert len(report.removed) == DOC_PAGES and len(report.indexed) == DOC_PAGES


def test_only_docs_routes_are_read_unless_others_are_asked_for(
    store: BookStore, site: FakeSite
) -> None:
    sitemap = (site.root / "sitemap.xml").read_text()
    extra = ["blog/first-post", "blog/page/2", "docs/tags/sensors", "search", "404"]
    more = "".join(f"<url><loc>{PUBLIC}/{path}</loc></url>" for path in extra)
    site.put("sitemap.xml", sitemap.replace("</urlset>", more + "</urlset>"))
    post = (
        "<html><head><title>First post | Pocket Weather</title></head><body><article>"
        "<header><h1>First post</h1></header><div id='__blog-post-container' class='markdown'>"
        "<p>The station went up today.</p></div></article></body></html>"
    )
    site.put("blog/first-post.html", post)
    report = crawl(store, site)
    assert len(report.indexed) == DOC_PAGES
    assert not [r for r in site.requests if r.path.startswith(("/blog", "/search", "/404"))]
    report = crawl(store, site, include=("blog",))
    assert report.indexed == ["blog/first-post"]
    assert dict(report.skipped)["blog/page/2"] == "HTTP 404"
    chunk = store.page_chunks("blog/first-post")[0]
    assert chunk["title"] == "First post" and "went up today" in chunk["text"]


def test_the_sitemap_named_by_robots_txt_is_used_when_the_usual_one_is_missing(
    store: BookStore, site: FakeSite
) -> None:
    (site.root / "sitemap.xml").rename(site.root / "map-of-pages.xml")
    site.put("robots.txt", f"User-agent: *\nAllow: /\nSitemap: {site.url}map-of-pages.xml\n")
    report = crawl(store, site)
    assert len(report.indexed) == DOC_PAGES


def test_a_site_page_translates_from_markdown_with_its_code_and_headings_whole(
    store: BookStore, site: FakeSite
) -> None:
    crawl(store, site)
    sources = {str(r["url"]): str(r["source"]) for r in store.pages()}
    for url, page in source_pages().items():
        stored = store.page_markdown(sources[url]) if url in sources else None
        assert stored is not None, url
        written = str(stored["markdown"])

        def fences(text: str) -> list[str]:
            return [s for s in (line.strip() for line in text.splitlines()) if s.startswith("```")]

        assert fences(written) == fences(page.markdown), url
        headings, in_code = [], False
        for line in written.splitlines():
            in_code ^= line.strip().startswith("```")
            if not in_code and re.match(r"#{1,6} ", line):
                headings.append(line.lstrip("#").strip())
        assert headings == [page.title] + [s.headings[-1] for s in page.sections if s.headings]
