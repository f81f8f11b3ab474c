"""The project's own sample book loads into the pages and anchors its published site has."""

from __future__ import annotations

from pathlib import Path

import pytest

from bookrag.book.chunking import Chunk, chunk_page
from bookrag.book.loader import Page, SkipPage, discover, load_page, read_source
from bookrag.book.site_config import read_site_config

SITE = "https://pocket-weather.example.org/docs"
PUBLISHED = {
    "intro.md": f"{SITE}/intro",
    "01-getting-started/index.md": f"{SITE}/getting-started",
    "01-getting-started/02-parts-list.md": f"{SITE}/getting-started/parts-list",
    "02-sensors/01-wiring/01-i2c-bus.md": f"{SITE}/sensors/wiring/i2c-wiring",
    "02-sensors/rain-and-wind.md": f"{SITE}/sensors/rain-wind",
    "02-sensors/reading-sensors.mdx": f"{SITE}/sensors/reading-sensors",
    "03-data/dashboard.md": "https://pocket-weather.example.org/docs/dashboard",
    "03-data/logging.md": f"{SITE}/data/logging",
    "03-data/troubleshooting.md": f"{SITE}/data/troubleshooting",
}
DRAFT = "02-sensors/unpublished-notes.md"


@pytest.fixture
def pages(sample_docs: Path) -> dict[str, Page]:
    site = read_site_config(sample_docs)
    loaded = {}
    for path in discover(sample_docs):
        try:
            page = load_page(read_source(sample_docs, path, site), site)
        except SkipPage:
            continue
        loaded[page.source] = page
    return loaded


def chunks_of(page: Page) -> list[Chunk]:
    return chunk_page(page, max_tokens=120)


def test_every_published_page_loads_and_the_draft_does_not(pages: dict[str, Page]) -> None:
    assert sorted(pages) == sorted(PUBLISHED)


def test_draft_page_is_skipped(sample_docs: Path) -> None:
    site = read_site_config(sample_docs)
    with pytest.raises(SkipPage):
        load_page(read_source(sample_docs, sample_docs / DRAFT, site), site)


def test_draft_text_appears_in_no_chunk(pages: dict[str, Page]) -> None:
    assert not any("PERIWINKLE" in c.text for page in pages.values() for c in chunks_of(page))


@pytest.mark.parametrize(("source", "url"), sorted(PUBLISHED.items()))
def test_page_has_its_published_url(pages: dict[str, Page], source: str, url: str) -> None:
    assert pages[source].url == url


@pytest.mark.parametrize(
    ("source", "title"),
    [
        ("01-getting-started/index.md", "Getting Started"),
        ("01-getting-started/02-parts-list.md", "Parts List"),
        ("02-sensors/01-wiring/01-i2c-bus.md", "Wiring the BME280 over I2C"),
        ("03-data/logging.md", "Logging Readings"),
    ],
)
def test_page_title_comes_from_front_matter_or_heading(
    pages: dict[str, Page], source: str, title: str
) -> None:
    assert pages[source].title == title


def test_explicit_heading_id_is_the_section_anchor(pages: dict[str, Page]) -> None:
    chunks = chunks_of(pages["02-sensors/01-wiring/01-i2c-bus.md"])
    checking = [c for c in chunks if c.headings == ("Checking the bus",)]
    assert checking
    assert {c.url for c in checking} == {f"{SITE}/sensors/wiring/i2c-wiring#check-bus"}


def test_repeated_calibration_headings_get_distinct_anchors(pages: dict[str, Page]) -> None:
    chunks = chunks_of(pages["02-sensors/rain-and-wind.md"])
    calibration = [c for c in chunks if c.headings[-1:] == ("Calibration",)]
    by_anchor: dict[str, list[Chunk]] = {}
    for chunk in calibration:
        by_anchor.setdefault(chunk.anchor, []).append(chunk)
    assert set(by_anchor) == {"calibration", "calibration-1"}

    rain, wind = by_anchor["calibration"], by_anchor["calibration-1"]
    assert {c.breadcrumb for c in rain} == {"Rain and Wind Sensors › Rain gauge › Calibration"}
    assert {c.breadcrumb for c in wind} == {"Rain and Wind Sensors › Anemometer › Calibration"}
    assert any("100 ml of water" in c.text for c in rain)
    assert any("reference anemometer" in c.text for c in wind)
    assert {c.url for c in rain} == {f"{SITE}/sensors/rain-wind#calibration"}
    assert {c.url for c in wind} == {f"{SITE}/sensors/rain-wind#calibration-1"}


def test_mdx_page_keeps_tab_text_and_code_without_mdx_syntax(pages: dict[str, Page]) -> None:
    chunks = chunks_of(pages["02-sensors/reading-sensors.mdx"])
    text = "\n\n".join(c.text for c in chunks)
    assert "This is the combination used throughout the book." in text
    assert "Install it with `pip install adafruit-circuitpython-bme280`" in text
    assert "sensor = adafruit_bme280.Adafruit_BME280_I2C(i2c, address=0x76)" in text
    assert "params = bme280.load_calibration_params(bus, 0x76)" in text
    for chunk in chunks:
        assert "<TabItem" not in chunk.text
        assert "<Tabs" not in chunk.text
        assert "@theme/" not in chunk.text
        # Python code keeps its own imports; only the MDX statements are gone.
        assert not any(line.startswith("import Tab") for line in chunk.text.splitlines())


def test_mdx_page_keeps_admonition_text(pages: dict[str, Page]) -> None:
    text = "\n\n".join(c.text for c in chunks_of(pages["02-sensors/reading-sensors.mdx"]))
    assert "Do not read the BME280 more often than once per second." in text
    assert ":::" not in text
