"""A book read from its published site is in its sidebar's order, as its docs folder is: a
book whose sidebar nests collapsed categories (one with its own page, one with a generated
index, one with neither inside it) and links to another site, built by the sample book's
pinned Docusaurus under a `baseUrl` with trailing slashes, served on 127.0.0.1."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from bookrag.api.app import create_app
from bookrag.book.site.crawler import CrawlLimits
from bookrag.book.site.menu import merge_menus
from bookrag.config import load_settings
from bookrag.index.connection import open_store
from bookrag.index.engine import StoredPoint
from bookrag.index.ingest import ingest, site_config
from bookrag.index.outcomes import IngestReport
from bookrag.index.points import page_id
from bookrag.index.site_ingest import ingest_site, sidebar_ranks
from bookrag.index.store import BookStore
from conftest import ROOT, SAMPLE_DOCS
from fakes.site import FakeSite
from test_built_anchors import build_site

PUBLIC = "https://garden.example.org"
SAMPLE_PUBLIC = "https://pocket-weather.example.org"
FAST = CrawlLimits(timeout=5.0, backoff=0.01, attempts=3)
PAGES = {
    "welcome.md": "# Welcome\n\nThis manual grows a vegetable garden in one season.\n",
    "harvest.md": "# Harvest\n\nPick beans while the pods still snap.\n",
    "soil/testing.md": "# Testing the Soil\n\nA pH between 6 and 7 suits most vegetables.\n",
    "soil/mulch.md": "# Mulch\n\nStraw keeps the soil moist through July.\n",
    "soil/compost/index.md": "# Compost\n\nCompost feeds the soil for years.\n",
    "soil/compost/hot.md": "# Hot Compost\n\nA hot heap reaches 60 degrees in a week.\n",
    "soil/compost/cold.md": "# Cold Compost\n\nA cold heap needs a year and no turning.\n",
    "water/rain-barrels.md": "# Rain Barrels\n\nA 200 litre barrel fills in one storm.\n",
    "water/drip/lines.md": "# Drip Lines\n\nLay the lines before the mulch.\n",
    "water/drip/timers.md": "# Timers\n\nWater at dawn, for twenty minutes.\n",
}


CONFIG = f"""\
module.exports = {{
  title: 'Garden',
  url: '{PUBLIC}',
  baseUrl: '/manual/',
  trailingSlash: true,
  onBrokenLinks: 'ignore',
  presets: [['classic', {{docs: {{sidebarPath: './sidebars.js'}}, blog: false, pages: false}}]],
}};
"""


def sidebar(*, moved: bool = False) -> dict[str, Any]:
    """The book's sidebar; `moved` brings the harvest up and the timers before the lines."""
    drip = ["water/drip/lines", "water/drip/timers"]
    if moved:
        drip.reverse()
    top: list[Any] = [
        "welcome",
        {
            "type": "category",
            "label": "Soil",
            "items": [
                "soil/testing",
                {
                    "type": "category",
                    "label": "Compost",
                    "link": {"type": "doc", "id": "soil/compost/index"},
                    "items": ["soil/compost/hot", "soil/compost/cold"],
                },
                "soil/mulch",
            ],
        },
        {
            "type": "category",
            "label": "Watering",
            "link": {"type": "generated-index"},
            "items": [{"type": "category", "label": "Drip", "items": drip}, "water/rain-barrels"],
        },
        {"type": "link", "label": "Seed catalogue", "href": "https://seeds.example.com/"},
        "harvest",
    ]
    if moved:
        top.insert(1, top.pop())
    return {"garden": top}


def write_book(root: Path, *, moved: bool = False) -> Path:
    """The book's sources in `root` (its docs folder, config and sidebars file)."""
    for name, text in PAGES.items():
        (root / "docs" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "docs" / name).write_text(text)
    (root / "sidebars.js").write_text(f"module.exports = {json.dumps(sidebar(moved=moved))};\n")
    (root / "docusaurus.config.js").write_text(CONFIG)
    return root / "docs"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("garden") / "site"
    write_book(root)
    return build_site(root)


@pytest.fixture(scope="module")
def rebuilt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same book built again with two pages moved in its sidebar, and no text changed."""
    root = tmp_path_factory.mktemp("garden-moved") / "site"
    write_book(root, moved=True)
    return build_site(root)


@pytest.fixture
def site(built: Path, tmp_path: Path) -> Iterator[FakeSite]:
    """The build served under its `baseUrl`, `/manual/`, on a host that answers 404 else."""
    served = tmp_path / "host"
    served.mkdir()
    (served / "manual").symlink_to(built, target_is_directory=True)
    (served / "404.html").write_bytes((built / "404.html").read_bytes())  # for robots.txt
    host = FakeSite(served, tmp_path).start()
    yield host
    host.stop()


def crawl(store: BookStore, site: FakeSite) -> IngestReport:
    return ingest_site(store, site.url + "manual/", 350, site_url=PUBLIC, limits=FAST)


def order(store: BookStore) -> list[str]:
    """The URL paths of the pages the index ranks, in its order (each page must have one)."""
    records = store.pages()
    assert records and all(isinstance(r.get("sidebar_rank"), int) for r in records)
    return [urlsplit(str(r["url"])).path for r in records]


def docs_order(tmp_path: Path, *, moved: bool = False, docs: Path | None = None) -> list[str]:
    """The pages' URL paths in the order an ingest of the book's docs folder gives them."""
    docs = docs or write_book(tmp_path / ("moved" if moved else "book"), moved=moved)
    store = open_store(load_settings(data_dir=tmp_path / "docs-index"))
    try:
        ingest(store, docs, site_config(docs, None, None), 350)
        return order(store)
    finally:
        store.close()


def test_a_sites_pages_are_ranked_as_its_docs_folder_ingest_ranks_them(
    store: BookStore, site: FakeSite, tmp_path: Path
) -> None:
    crawl(store, site)
    assert order(store) == docs_order(tmp_path)
    assert order(store) == [
        f"/manual/docs/{path}/"
        for path in [
            "welcome",
            "soil/testing",
            "soil/compost",
            "soil/compost/hot",
            "soil/compost/cold",
            "soil/mulch",
            "water/drip/lines",
            "water/drip/timers",
            "water/rain-barrels",
            "harvest",
        ]
    ]


def test_the_sample_site_is_in_the_order_of_the_sample_books_docs_folder(
    store: BookStore, tmp_path: Path
) -> None:
    served = FakeSite(ROOT / "tests" / "fixtures" / "sample-site", tmp_path).start()
    try:
        ingest_site(store, served.url, 350, site_url=SAMPLE_PUBLIC, limits=FAST)
    finally:
        served.stop()
    assert order(store) == docs_order(tmp_path, docs=SAMPLE_DOCS)
    assert order(store)[:2] == ["/docs/intro", "/docs/getting-started"]


def test_health_names_the_sidebars_first_page_as_the_books_first(
    site: FakeSite, tmp_path: Path
) -> None:
    settings = load_settings(
        data_dir=tmp_path / "data", book_url=site.url + "manual/", site_url=PUBLIC
    )
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 30
        while client.get("/health").json()["refresh"]["status"] in ("pending", "running"):
            assert time.monotonic() < deadline, "the site was not indexed"
            time.sleep(0.05)
        health = client.get("/health").json()
    assert health["refresh"]["status"] == "ok"
    first = f"{PUBLIC}/manual/docs/welcome/"
    assert health["index"]["first_page"] == {"title": "Welcome", "url": first}


def test_a_refresh_that_reads_one_changed_page_keeps_every_rank(
    store: BookStore, site: FakeSite, tmp_path: Path
) -> None:
    crawl(store, site)
    before = order(store)
    page = "docs/soil/compost/hot/index.html"
    site.put(f"manual/{page}", (site.root / "manual" / page).read_text().replace("60", "65"))
    report = crawl(store, site)
    # The other pages answer 304: their ranks come from the menus they were read with.
    assert report.indexed == ["manual/docs/soil/compost/hot"] and report.reordered == 0
    assert order(store) == before == docs_order(tmp_path)


def test_pages_moved_in_the_sidebar_move_without_being_indexed_again(
    store: BookStore, site: FakeSite, rebuilt: Path, tmp_path: Path
) -> None:
    crawl(store, site)
    for file in rebuilt.rglob("*"):
        if file.is_file():
            site.put(f"manual/{file.relative_to(rebuilt).as_posix()}", file.read_bytes())
    report = crawl(store, site)
    assert report.indexed == [] and report.reordered > 0 and report.changed
    assert order(store) == docs_order(tmp_path, moved=True)
    assert order(store)[:2] == ["/manual/docs/welcome/", "/manual/docs/harvest/"]
    drip = [p for p in order(store) if "/drip/" in p]
    assert drip == ["/manual/docs/water/drip/timers/", "/manual/docs/water/drip/lines/"]


def test_an_index_from_before_menus_is_fetched_once_indexes_nothing_and_is_ranked(
    store: BookStore, site: FakeSite, tmp_path: Path
) -> None:
    crawl(store, site)
    old = [  # the records as an index written before sidebar menus were kept holds them
        StoredPoint(
            page_id(str(r["source"])),
            {**r, "sidebar_rank": None, "validators": {**r["validators"], "extract": "3"}},
        )
        for r in store.pages()
    ]
    for point in old:
        point.payload.pop("sidebar_menu", None)
    store.engine.upsert(old)
    asked = len(site.requests)
    report = crawl(store, site)
    assert report.indexed == []
    docs = {urlsplit(str(r["url"])).path for r in store.pages()}
    pages = [r for r in site.requests[asked:] if r.path in docs]
    assert len(pages) == len(docs) and not any("if-none-match" in r.headers for r in pages)
    assert order(store) == docs_order(tmp_path)


def test_pages_whose_records_hold_no_menu_are_ranked_as_they_are_read_again(
    store: BookStore, site: FakeSite
) -> None:
    crawl(store, site)
    old = [  # records without a menu, their validators still good
        StoredPoint(page_id(str(r["source"])), {**r, "sidebar_rank": None}) for r in store.pages()
    ]
    for point in old:
        point.payload.pop("sidebar_menu", None)
    store.engine.upsert(old)
    asked = len(site.requests)
    report = crawl(store, site)
    assert report.indexed == [] and not report.changed  # every page answered 304
    docs = {urlsplit(str(r["url"])).path for r in store.pages()}
    pages = [r for r in site.requests[asked:] if r.path in docs]
    assert len(pages) == len(docs) and all("if-none-match" in r.headers for r in pages)
    assert all(r.get("sidebar_rank") is None for r in store.pages())
    page = "docs/harvest/index.html"
    site.put(f"manual/{page}", (site.root / "manual" / page).read_text().replace("beans", "peas"))
    report = crawl(store, site)
    assert report.indexed == ["manual/docs/harvest"]
    # The harvest page's sidebar shows the top level, each category collapsed to one link
    # (Watering's to its generated index, no page).
    ranked = [urlsplit(str(r["url"])).path for r in store.pages() if r["sidebar_rank"] is not None]
    assert ranked == [
        "/manual/docs/welcome/",
        "/manual/docs/soil/testing/",  # the Soil category's link: its first page
        "/manual/docs/harvest/",
    ]


def test_menus_are_merged_keeping_each_ones_order_and_each_sidebar_together() -> None:
    # `c` is placed by the third menu only; the second sidebar (`x`, `y`) shares no page.
    assert merge_menus([["a", "b"], ["x", "y"], ["a", "c", "b"]]) == ["a", "c", "b", "x", "y"]


def test_sidebars_that_share_no_page_keep_their_order_whichever_pages_a_refresh_reads() -> None:
    # The sidebar read this run went first: a refresh that read one API page put the API
    # reference before the guide, and /health's first page with it.
    guide, api = ["intro", "usage"], ["api/client", "api/server"]
    records = [{"source": s, "sidebar_menu": guide if s in guide else api} for s in api + guide]
    first = sidebar_ranks(records, fresh=guide + api)  # the sitemap's order
    assert sorted(first, key=first.__getitem__) == guide + api
    ranked = [{**r, "sidebar_rank": first[str(r["source"])]} for r in records]
    for fresh in (["api/server"], ["usage"], []):
        assert sidebar_ranks(ranked, fresh=fresh) == first, fresh


def test_menus_that_disagree_give_every_page_one_place_the_newest_menus_first() -> None:
    assert merge_menus([["a", "b", "c"], ["c", "a"]]) == ["a", "b", "c"]
    records = [  # `b`'s menu was read this run; `a`'s is from a build before the move
        {"source": "a", "sidebar_menu": ["b", "a"]},
        {"source": "b", "sidebar_menu": ["a", "b"]},
        {"source": "c"},
    ]
    assert sidebar_ranks(records, fresh={"b"}) == {"a": 0, "b": 1}
    assert sidebar_ranks(records, fresh={"a"}) == {"b": 0, "a": 1}
