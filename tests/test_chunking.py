"""Pages load from disk as Docusaurus would publish them and split into citable chunks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bookrag.book.chunking import Chunk, chunk_page, count_tokens, leads_in, with_subsections
from bookrag.book.loader import Page, SkipPage, discover, load_page, read_source
from bookrag.book.site_config import SiteConfig
from bookrag.errors import PageParseError

SITE = SiteConfig(url="https://book.example.org", trailing_slash=False)


def write(docs: Path, source: str, text: str | bytes) -> Path:
    path = docs / source
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def load(docs: Path, source: str, text: str | bytes) -> Page:
    path = write(docs, source, text)
    return load_page(read_source(docs, path, SITE), SITE)


def prose(words: str, sentences: int) -> str:
    return " ".join(f"The {words} sentence number {n} is here." for n in range(sentences))


def code_lines(chunk: Chunk) -> list[str]:
    lines = chunk.text.split("\n")
    return lines[1:-1]


# --- chunks ------------------------------------------------------------------------


def test_chunks_never_span_two_sections(tmp_path: Path) -> None:
    page = load(
        tmp_path,
        "guide.md",
        "# Guide\n\nOpening words.\n\n## Power\n\nPower words.\n\n## Enclosure\n\nBox words.\n",
    )
    chunks = chunk_page(page, max_tokens=500)
    assert [(c.anchor, c.text) for c in chunks] == [
        ("", "Opening words."),
        ("power", "Power words."),
        ("enclosure", "Box words."),
    ]


def test_chunks_never_span_two_pages(tmp_path: Path) -> None:
    first = load(tmp_path, "rain.md", "# Rain\n\n" + prose("rain", 30))
    second = load(tmp_path, "wind.md", "# Wind\n\n" + prose("wind", 30))
    for page, other in ((first, "wind"), (second, "rain")):
        chunks = chunk_page(page, max_tokens=60)
        assert len(chunks) > 1
        assert {(c.source, c.page_url, c.title) for c in chunks} == {
            (page.source, page.url, page.title)
        }
        assert not any(other in c.text for c in chunks)


def test_a_line_leading_into_a_list_stays_with_the_list(tmp_path: Path) -> None:
    steps = "\n".join(f"{n}. Tighten bolt number {n} of the mast bracket." for n in range(1, 9))
    page = load(
        tmp_path,
        "mast.md",
        f"# Mast\n\n## Raising it\n\n{prose('mast', 6)}\n\nThe steps are:\n\n{steps}\n",
    )
    chunks = chunk_page(page, max_tokens=90)
    assert all(count_tokens(c.text) <= 90 for c in chunks)
    holding = next(c for c in chunks if "The steps are:" in c.text)
    assert "1. Tighten bolt number 1" in holding.text  # not a chunk ending on the lead-in
    assert not holding.text.rstrip().endswith(":")


def test_a_list_larger_than_the_budget_is_cut_between_sentences_but_keeps_its_lines(
    tmp_path: Path,
) -> None:
    items = "\n".join(
        f"{n}. **Stage {n}:**\n   - {prose(f'stage{n}', 2)}\n   - Check it twice."
        for n in range(1, 9)
    )
    page = load(tmp_path, "stages.md", f"# Stages\n\n## All of them\n\n{items}\n")
    chunks = chunk_page(page, max_tokens=60)
    assert len(chunks) > 2 and all(count_tokens(c.text) <= 60 for c in chunks)
    # Each chunk's lines are the list's own lines (an item is never run into the next).
    lines = items.split("\n")
    for chunk in chunks:
        for line in chunk.text.split("\n"):
            assert any(line in whole for whole in lines), line
    assert "\n".join(c.text for c in chunks).split() == items.split()


@pytest.mark.parametrize("budget", [24, 40, 64, 200])
def test_prose_chunks_stay_within_the_budget_and_keep_every_word(
    tmp_path: Path, budget: int
) -> None:
    long_sentence = " ".join(f"word{n}" for n in range(150))  # one sentence, no full stop
    body = f"{prose('gauge', 20)}\n\n{long_sentence}\n\n{prose('vane', 5)}\n"
    page = load(tmp_path, "long.md", f"# Long\n\n## Details\n\n{body}")
    chunks = chunk_page(page, max_tokens=budget)
    assert all(count_tokens(c.text) <= budget for c in chunks)
    assert " ".join(c.text for c in chunks).split() == body.split()


def test_code_block_that_fits_is_never_split(tmp_path: Path) -> None:
    code = "\n".join(f"reading_{n} = sensor.read({n})" for n in range(6))
    page = load(
        tmp_path,
        "code.md",
        f"# Code\n\n## Reading\n\n{prose('intro', 4)}\n\n```python\n{code}\n```\n\nAfter.\n",
    )
    fenced = f"```python\n{code}\n```"
    assert count_tokens(fenced) < 60 < count_tokens(prose("intro", 4)) + count_tokens(fenced)
    chunks = chunk_page(page, max_tokens=60)
    assert sum(fenced in c.text for c in chunks) == 1
    assert not any("```" in c.text and fenced not in c.text for c in chunks)


def test_code_block_larger_than_the_budget_is_split_into_fenced_pieces(tmp_path: Path) -> None:
    lines = [f"value_{n} = compute({n}, factor)" for n in range(40)]
    code = "\n".join(lines)
    page = load(tmp_path, "big.md", f"# Big Listing\n\n## Script\n\n```python\n{code}\n```\n")
    chunks = chunk_page(page, max_tokens=50)
    assert len(chunks) > 1
    for chunk in chunks:
        assert chunk.text.startswith("```python\n")
        assert chunk.text.endswith("\n```")
        assert chunk.text.count("```") == 2
    assert [line for c in chunks for line in code_lines(c)] == lines


def test_split_code_pieces_stay_within_the_budget(tmp_path: Path) -> None:
    # Each piece is re-fenced, so the fence lines must fit in the budget too.
    budget = 41
    lines = [f"run step_{n}" for n in range(60)]
    code = "\n".join(lines)
    page = load(tmp_path, "setup.md", f"# Setup\n\n```bash\n{code}\n```\n")
    chunks = chunk_page(page, max_tokens=budget)
    assert len(chunks) > 1
    assert [count_tokens(c.text) for c in chunks if count_tokens(c.text) > budget] == []


def test_breadcrumb_reads_title_then_section_then_subsection(tmp_path: Path) -> None:
    page = load(
        tmp_path,
        "01-start/index.md",
        "---\ntitle: Getting Started\n---\n\nIntro.\n\n"
        "## Power\n\n### Running from solar\n\nSun.\n",
    )
    chunks = chunk_page(page, max_tokens=200)
    assert [c.breadcrumb for c in chunks] == [
        "Getting Started",
        "Getting Started › Power",
        "Getting Started › Power › Running from solar",
    ]
    assert chunks[-1].section == "Power › Running from solar"


def test_chunk_url_points_at_its_section(tmp_path: Path) -> None:
    page = load(
        tmp_path,
        "02-sensors/rain.md",
        "# Rain\n\nOpening.\n\n## Gauge\n\n### Calibration\n\nPour 100 ml.\n\n"
        "## Check {#check-bus}\n\nScan.\n",
    )
    urls = [c.url for c in chunk_page(page, max_tokens=200)]
    assert urls == [
        "https://book.example.org/docs/sensors/rain",
        "https://book.example.org/docs/sensors/rain#gauge",
        "https://book.example.org/docs/sensors/rain#calibration",
        "https://book.example.org/docs/sensors/rain#check-bus",
    ]


def test_a_long_block_holding_fences_is_split_into_pieces_fenced_as_it_was(
    tmp_path: Path,
) -> None:
    inner = "\n".join(f"print({n})" for n in range(60))
    text = f"# Docs\n\n## Example\n\n~~~md\n```python\n{inner}\n```\n~~~\n"
    chunks = chunk_page(load(tmp_path, "docs.md", text), max_tokens=60)
    assert len(chunks) > 2
    for chunk in chunks:
        assert chunk.text.startswith("````md\n") and chunk.text.endswith("\n````")


def test_chunks_are_numbered_in_reading_order(tmp_path: Path) -> None:
    page = load(tmp_path, "order.md", "# Order\n\n" + prose("first", 20) + "\n\n## Next\n\nEnd.\n")
    chunks = chunk_page(page, max_tokens=40)
    assert [c.index for c in chunks] == list(range(len(chunks)))
    assert chunks[-1].text == "End."


# --- loading pages -----------------------------------------------------------------


@pytest.mark.parametrize("value", ["true", '"true"', "'True'"])
@pytest.mark.parametrize("flag", ["draft", "unlisted"])
def test_unpublished_pages_are_skipped(tmp_path: Path, flag: str, value: str) -> None:
    # Docusaurus validates the flag as a boolean, which turns the string "true" into true.
    with pytest.raises(SkipPage):
        load(tmp_path, "notes.md", f"---\n{flag}: {value}\n---\n\n# Notes\n\nSecret.\n")


@pytest.mark.parametrize("flag", ["draft", "unlisted"])
def test_pages_marked_not_draft_are_loaded(tmp_path: Path, flag: str) -> None:
    page = load(tmp_path, "notes.md", f"---\n{flag}: false\n---\n\n# Notes\n\nPublic.\n")
    assert page.title == "Notes"


def test_page_that_is_not_utf8_is_a_parse_error(tmp_path: Path) -> None:
    with pytest.raises(PageParseError, match="UTF-8"):
        load(tmp_path, "latin.md", "# Caf\xe9\n\nCr\xe8me.\n".encode("latin-1"))


def test_discover_finds_the_pages_docusaurus_would_build(tmp_path: Path) -> None:
    for source in [
        "intro.md",
        "01-guide/02-setup.mdx",
        "01-guide/index.md",
        "_partial.md",
        "01-guide/_snippet.mdx",
        "_shared/common.md",
        "01-guide/_drafts/old.md",
        "01-guide/image.png",
        "notes.txt",
        "GUIDE.MD",  # the docs plugin's glob is `**/*.{md,mdx}`: case matters
    ]:
        write(tmp_path, source, "# Page\n")
    found = [p.relative_to(tmp_path).as_posix() for p in discover(tmp_path)]
    assert found == ["01-guide/02-setup.mdx", "01-guide/index.md", "intro.md"]


def test_front_matter_title_wins_over_the_first_heading(tmp_path: Path) -> None:
    page = load(tmp_path, "a.md", "---\ntitle: From Front Matter\n---\n\n# From Heading\n\nText.\n")
    assert page.title == "From Front Matter"


def test_title_falls_back_to_the_first_h1(tmp_path: Path) -> None:
    page = load(tmp_path, "a.md", "---\nsidebar_label: Short\n---\n\n# Wiring over I2C\n\nText.\n")
    assert page.title == "Wiring over I2C"
    assert page.sidebar_label == "Short"


def test_loaded_page_has_its_published_url(tmp_path: Path) -> None:
    page = load(tmp_path, "02-sensors/01-wiring/01-i2c-bus.md", "---\nid: i2c-wiring\n---\n# I2C\n")
    assert page.url == "https://book.example.org/docs/sensors/wiring/i2c-wiring"
    assert re.fullmatch(r"[0-9a-f]{64}", page.content_hash)


@pytest.mark.parametrize(
    ("text", "leads"),
    [
        ("These are the steps:", True),
        ("**Steps:**", True),
        ("**Coverage principle**", True),  # a bold label, then what it labels
        ("__Wiring__", True),
        ("**Always power the board off first.**", False),  # a bold sentence says something
        ("**Never connect the supply to the signal pins**", False),  # ... with no full stop
        ("**Bold** and then plain words", False),
        ("A sentence in the middle of prose.", False),
    ],
)
def test_what_leads_into_what_follows(text: str, leads: bool) -> None:
    assert leads_in(text) is leads


def test_a_section_leading_into_its_subsections_shows_their_headings_after_its_text(
    tmp_path: Path,
) -> None:
    page = load(
        tmp_path,
        "fusion.md",
        "# Fusion\n\nThere are kinds of fusion:\n\n## Kinds\n\nThe camera and lidar fuse in "
        "two ways:\n\n### 1. Early fusion\n\nRaw data.\n\n#### Detail\n\nMore.\n\n"
        "### 2. Late fusion\n\nDetections.\n\n## Alone\n\nIt has one part:\n\n"
        "### Only part\n\nText.\n",
    )
    chunks = {c.section: c for c in chunk_page(page, max_tokens=350)}
    kinds = chunks["Kinds"]
    assert kinds.leads_into == ("1. Early fusion", "2. Late fusion")  # not the #### below
    assert with_subsections(kinds.text, kinds.leads_into) == (
        "The camera and lidar fuse in two ways:\n\n1. Early fusion\n2. Late fusion"
    )
    assert "Early" not in kinds.embedding_text  # shown, not indexed: each is found on its own
    # The page's opening text leads into the whole page (a table of contents), and one
    # subsection is what follows, not a list.
    assert chunks[""].leads_into == () and chunks["Alone"].leads_into == ()


def test_a_bold_label_after_a_lead_in_stays_with_its_list(tmp_path: Path) -> None:
    body = (
        f"{prose('mast', 5)}\n\nThe station has parts:\n\n**Rain gauge**\n\n"
        "- A bucket tips once per tip.\n- A reed switch counts each tip.\n"
    )
    page = load(tmp_path, "parts.md", f"# Parts\n\n## All\n\n{body}")
    chunks = chunk_page(page, max_tokens=60)
    holding = next(c for c in chunks if "**Rain gauge**" in c.text)
    assert "A bucket tips" in holding.text  # the label is never the end of a chunk
