"""The widget script and the demo pages over plain HTTP (the browser tests are in test_widget)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bookrag.api.app import create_app
from bookrag.config import load_settings

RAIN_DEMO = "/demo/docs/sensors/rain-wind"


def link_map(html: str) -> dict[str, str]:
    found = re.search(r'<script type="application/json" id="bookrag-link-map">(.*?)</script>', html)
    assert found, "the demo page carries no link map"
    mapping: dict[str, str] = json.loads(found.group(1))
    return mapping


def test_widget_script_is_served_as_briefly_cacheable_javascript(client: TestClient) -> None:
    response = client.get("/widget.js")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["cache-control"] == "public, max-age=300"
    assert 'customElements.define("bookrag-chat"' in response.text


def test_widget_script_never_parses_text_as_html(client: TestClient) -> None:
    script = client.get("/widget.js").text
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script


def test_demo_opens_on_the_first_sidebar_page(client: TestClient) -> None:
    response = client.get("/demo", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "/demo/docs/intro"  # sidebar_position: 0
    nav = re.findall(r'<li><a href="([^"]+)"', client.get("/demo/docs/intro").text)
    # As the book's sidebar lists them: position, then name; a category's index page first.
    assert nav == [
        "/demo/docs/intro",
        "/demo/docs/getting-started",
        "/demo/docs/getting-started/parts-list",
        "/demo/docs/sensors/wiring/i2c-wiring",
        "/demo/docs/sensors/reading-sensors",
        "/demo/docs/sensors/rain-wind",
        "/demo/docs/dashboard",
        "/demo/docs/data/logging",
        "/demo/docs/data/troubleshooting",
    ]


def test_demo_page_headings_carry_the_anchors_citations_use(client: TestClient) -> None:
    response = client.get(RAIN_DEMO)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "<h1>Rain and Wind Sensors</h1>" in page
    assert '<h2 id="rain-gauge">Rain gauge</h2>' in page
    assert '<h3 id="counting-tips">Counting tips</h3>' in page
    assert '<h3 id="calibration-1">Calibration</h3>' in page  # the slugger's repeat suffix
    assert "<strong>Each tip of the rain bucket equals 0.2794 mm of rain.</strong>" in page
    assert '<script src="/widget.js" data-translate="ur"></script>' in page
    assert '<a href="/demo/docs/sensors/rain-wind" aria-current="page">' in page


def test_demo_maps_public_page_paths_to_demo_pages(client: TestClient) -> None:
    mapping = link_map(client.get(RAIN_DEMO).text)
    assert mapping["/docs/sensors/rain-wind"] == RAIN_DEMO
    assert mapping["/docs/intro"] == "/demo/docs/intro"
    assert len(mapping) == 9


def test_a_demo_page_can_be_named_by_its_source_path(client: TestClient) -> None:
    response = client.get("/demo/02-sensors/rain-and-wind.md")
    assert response.status_code == 200
    assert '<h2 id="rain-gauge">Rain gauge</h2>' in response.text


def test_links_between_pages_lead_to_demo_pages(client: TestClient) -> None:
    page = client.get("/demo/docs/getting-started/parts-list").text
    assert '<a href="/demo/docs/getting-started">Getting Started</a>' in page


def test_unknown_demo_page_is_404_with_the_page_list(client: TestClient) -> None:
    response = client.get("/demo/docs/no-such-page")
    assert response.status_code == 404
    assert "No indexed page at /demo/docs/no-such-page." in response.text
    assert 'href="/demo/docs/intro"' in response.text


@pytest.fixture
def hostile_client(tmp_path: Path) -> Iterator[TestClient]:
    """A book page whose text holds HTML in code, a script block and a javascript: link."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "trap.md").write_text(
        "# Trap\n\n"
        "Inline `<img src=x onerror=alert(1)>`, a [bad link](javascript:alert(2)), a < b & c.\n\n"
        "## Code\n\n```html\n<script>alert(3)</script>\n```\n",
        encoding="utf-8",
    )
    app = create_app(load_settings(data_dir=tmp_path / "data", docs_dir=docs))
    with TestClient(app) as test_client:
        yield test_client


def test_html_in_the_book_is_shown_as_text(hostile_client: TestClient) -> None:
    page = hostile_client.get("/demo/trap.md").text
    article = page.split("<article>")[1].split("</article>")[0]
    assert "<img" not in article and "<script" not in article
    assert "<code>&lt;img src=x onerror=alert(1)&gt;</code>" in article
    assert "&lt;script&gt;alert(3)&lt;/script&gt;" in article
    assert "a &lt; b &amp; c" in article
    assert 'href="javascript:' not in article
