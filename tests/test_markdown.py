"""A Markdown/MDX page splits into front matter, a title and sections a reader would recognise."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bookrag.answering.code_quotes import code_blocks
from bookrag.answering.sentences import sentences
from bookrag.book.markdown import ParsedPage, Section, page_markdown, parse_page, read_page
from bookrag.book.mdx import shown_prop
from bookrag.book.mdx_blocks import only_tags
from bookrag.errors import PageParseError


def section(page: ParsedPage, anchor: str) -> Section:
    matches = [s for s in page.sections if s.anchor == anchor]
    assert len(matches) == 1, [s.anchor for s in page.sections]
    return matches[0]


def first_blocks(source: str) -> list[str]:
    """The texts of the blocks of the page's first section."""
    return [b.text for b in parse_page(source).sections[0].blocks]


def all_text(page: ParsedPage) -> str:
    return "\n\n".join(b.text for s in page.sections for b in s.blocks)


def test_front_matter_is_parsed_and_kept_out_of_the_text() -> None:
    page = parse_page("---\ntitle: Wiring\nsidebar_position: 3\ntags: [i2c, bus]\n---\n\nBody.\n")
    assert page.front_matter == {"title": "Wiring", "sidebar_position": 3, "tags": ["i2c", "bus"]}
    assert all_text(page) == "Body."


def test_page_without_front_matter_has_an_empty_one() -> None:
    assert parse_page("# Hello\n\nBody.\n").front_matter == {}


@pytest.mark.parametrize(
    "source",
    [
        "---\ntitle: [unclosed\n---\n\n# Page\n",
        "---\ntitle: 'a' 'b'\n---\n\n# Page\n",
        "---\n- a list\n- not a mapping\n---\n\n# Page\n",
    ],
)
def test_unreadable_front_matter_is_a_parse_error(source: str) -> None:
    with pytest.raises(PageParseError):
        parse_page(source)


def test_leading_h1_is_the_title_not_a_section() -> None:
    page = parse_page("# Wiring the Sensor\n\nOpening words.\n\n## Pins\n\nPin text.\n")
    assert page.heading_title == "Wiring the Sensor"
    assert [(s.headings, s.anchor) for s in page.sections] == [([], ""), (["Pins"], "pins")]
    assert page.sections[0].blocks[0].text == "Opening words."


def test_h1_after_text_is_not_the_title_and_has_no_anchor() -> None:
    # Docusaurus renders every <h1> without an id, so citing `#later-heading` would point
    # nowhere: the heading's text stays with the section it sits in.
    page = parse_page("Some opening text.\n\n# Later Heading\n\nMore.\n")
    assert page.heading_title is None
    assert [s.anchor for s in page.sections] == [""]
    texts = [b.text for b in page.sections[0].blocks]
    assert texts == ["Some opening text.", "Later Heading", "More."]


def test_sections_carry_their_heading_trail_and_anchor() -> None:
    source = """# Guide

## Power

Power intro.

### Mains power

Use a 5 V supply.

### Running from solar

Use a panel.

## Enclosure

Box text.
"""
    page = parse_page(source)
    assert [(s.headings, s.anchor) for s in page.sections] == [
        (["Power"], "power"),
        (["Power", "Mains power"], "mains-power"),
        (["Power", "Running from solar"], "running-from-solar"),
        (["Enclosure"], "enclosure"),
    ]
    assert [b.text for b in section(page, "mains-power").blocks] == ["Use a 5 V supply."]


def test_heading_anchor_uses_the_text_of_inline_code_and_links() -> None:
    page = parse_page("## The `gpiozero` [library](https://gpiozero.readthedocs.io)\n\nText.\n")
    assert page.sections[0].headings == ["The gpiozero library"]
    assert page.sections[0].anchor == "the-gpiozero-library"


def test_explicit_heading_id_is_the_anchor_and_is_hidden_from_the_heading() -> None:
    page = parse_page("## Checking the bus {#check-bus}\n\nScan it.\n")
    assert page.sections[0].anchor == "check-bus"
    assert page.sections[0].headings == ["Checking the bus"]


def test_duplicate_headings_get_numbered_anchors() -> None:
    source = "## Rain\n\n### Calibration\n\nA.\n\n## Wind\n\n### Calibration\n\nB.\n"
    page = parse_page(source)
    assert [s.anchor for s in page.sections] == ["rain", "calibration", "wind", "calibration-1"]
    assert section(page, "calibration-1").headings == ["Wind", "Calibration"]


def test_h1_headings_count_when_numbering_repeated_anchors() -> None:
    # Docusaurus slugs every heading in order, an <h1> too although it shows no id.
    page = parse_page("# Setup\n\nIntro.\n\n## Setup\n\nA.\n\n# Wiring\n\n## Wiring\n\nB.\n")
    assert page.heading_title == "Setup"
    assert [s.anchor for s in page.sections] == ["", "setup-1", "wiring-1"]


def test_comments_are_not_page_text_outside_code() -> None:
    source = (
        "# Notes\n\n{/* TODO: the price list is confidential */}\n\nVisible tariffs.\n\n"
        "<!-- internal: the recall is not public -->\n\n"
        "{/*\n## Draft\nHidden firmware text.\n*/}\n\n"
        "## Published\n\nSay `{/* kept */}` and `<!-- kept -->` in code.\n\n"
        "```mdx\n{/* a comment in a code block stays */}\n```\n"
    )
    page, markdown = read_page(source)
    text = all_text(page)
    for hidden in ("confidential", "recall", "Draft", "firmware"):
        assert hidden not in text and hidden not in markdown
    assert [s.anchor for s in page.sections] == ["", "published"]
    assert "`{/* kept */}` and `<!-- kept -->`" in text and "stays */}" in text
    assert markdown.count("\n") < source.count("\n") and "Visible tariffs." in markdown


def test_a_comment_ending_a_heading_may_give_its_id_and_is_never_its_text() -> None:
    # Docusaurus 3.10: `{/* #id */}` ending a heading is its id; any other comment in a
    # heading is not shown but MDX slugs its text (tests/test_built_anchors.py builds these).
    source = (
        "## Rain gauge {/* #gauge */}\n\nTips.\n\n"
        "## Wind vane {/* TODO photo */}\n\nPoints.\n\n"
        "## Sun <!-- #sun -->\n\nShines.\n"
    )
    page, markdown = read_page(source)
    assert [(s.headings, s.anchor) for s in page.sections] == [
        (["Rain gauge"], "gauge"),
        (["Wind vane"], "wind-vane--todo-photo-"),
        (["Sun"], "sun-"),
    ]
    assert "## Rain gauge\n" in markdown and "## Wind vane\n" in markdown
    assert not any(hidden in markdown for hidden in ("gauge}", "TODO", "#sun", "\ue000"))
    # A heading inside JSX is a heading too (MDX reads Markdown there), its comment no text.
    page, markdown = read_page("<div>\n## Inside {/* a secret note */}\n</div>\n\nText.\n")
    assert [(s.headings, s.anchor) for s in page.sections] == [
        (["Inside"], "inside--a-secret-note-")
    ]
    assert all_text(page) == "Text." and markdown == "## Inside\n\nText.\n"


def test_markdown_inside_jsx_is_read_as_markdown_without_blank_lines_around_it() -> None:
    # MDX reads a line of nothing but JSX tags as a block of its own: what follows it is
    # Markdown, and it ends the paragraph or list before it (CommonMark would read all of it
    # as one HTML block up to the next blank line). tests/test_built_anchors.py builds these.
    page = parse_page(
        "<Card>\n## Wiring\nConnect **VIN** first.\n<Callout />\n```bash\nflash --port 1\n```\n"
        "</Card>\n\n<TabItem>\n\ue004Linux\n\nUse apt.\n</TabItem>\nThen start it.\n\n"
        "- Check the vane\n<hr />\n- Check the gauge\n"
    )
    assert [(s.headings, s.anchor) for s in page.sections] == [(["Wiring"], "wiring")]
    assert [(b.text, b.code) for b in page.sections[0].blocks] == [
        ("Connect **VIN** first.", False),
        ("```bash\nflash --port 1\n```", True),
        ("**Linux**", False),
        ("**Linux:** Use apt.", False),
        ("Then start it.", False),
        ("- Check the vane", False),
        ("- Check the gauge", False),
    ]
    # A tag with text beside it is still an HTML block, and a line that only starts with a
    # tag (or holds a comment, an autolink, a broken tag) no block of its own.
    assert [only_tags(line) for line in ("<summary>Why?</summary>", "<b>x", "<!-- x -->")] == [
        False,
        False,
        False,
    ]
    assert [
        only_tags(line) for line in ("<https://x.org>", "<a b={'>'} >", "<Card></Card> <br/>")
    ] == [
        False,
        True,
        True,
    ]


def test_a_byte_order_mark_does_not_hide_the_front_matter() -> None:
    page = parse_page("\ufeff---\ntitle: Calibration guide\nslug: /calibrate\n---\n\nTurn it.\n")
    assert page.front_matter == {"title": "Calibration guide", "slug": "/calibrate"}
    assert parse_page("\ufeff# Title\n\nText.\n").heading_title == "Title"


def test_an_explicit_id_may_hold_spaces_but_none_around_it() -> None:
    page = parse_page("## Spaced id {#my spaced id}\n\nText.\n")
    assert page.sections[0].anchor == "my spaced id"
    assert page.sections[0].headings == ["Spaced id"]
    # As a Docusaurus build gives it: `id="power-rail"`, not `power-rail%20`.
    padded = parse_page("## Power rail {#power-rail }\n\nA.\n\n## Ground {# ground}\n\nB.\n")
    assert [s.anchor for s in padded.sections] == ["power-rail", "ground"]


@pytest.mark.parametrize("note", ["See the appendix.", "https://example.org/ground"])
def test_a_footnote_reference_is_no_part_of_a_headings_anchor_or_name(note: str) -> None:
    # A definition that is a URL reads as a link's to CommonMark: the same, as GFM reads it.
    page = parse_page(f"## Ground loop[^1]\n\nKeep one ground.\n\n[^1]: {note}\n")
    assert page.sections[0].anchor == "ground-loop"
    assert page.sections[0].headings == ["Ground loop"]


def test_brackets_that_are_no_footnote_reference_stay_in_a_heading() -> None:
    page = parse_page("## Negated class `[^0-9]`\n\nA.\n\n## Regex [^abc] sets\n\nB.\n")
    assert [s.anchor for s in page.sections] == ["negated-class-0-9", "regex-abc-sets"]


def test_heading_after_an_explicit_id_gets_the_anchor_docusaurus_gives_it() -> None:
    # Docusaurus' remark `headings` plugin uses an explicit `{#id}` as is, without telling
    # its slugger, so a later heading with that text slugs to the same anchor.
    page = parse_page("## Setup {#setup}\n\nA.\n\n## Setup\n\nB.\n")
    assert [s.anchor for s in page.sections] == ["setup", "setup"]


def test_anchor_keeps_one_hyphen_per_space_as_written() -> None:
    # github-slugger turns every space into a hyphen; Markdown keeps inner spaces.
    page = parse_page("## Hello  World\n\nText.\n")
    assert page.sections[0].anchor == "hello--world"


def test_mdx_imports_and_exports_are_dropped() -> None:
    source = """---
sidebar_position: 2
---

import Tabs from '@theme/Tabs';
import {
  Highlight,
} from '@site/src/components';
export const version = '1.0';

# Reading

Importing is explained below.
"""
    page = parse_page(source)
    text = all_text(page)
    assert "import" not in text
    assert "export" not in text
    assert text == "Importing is explained below."


ESM_WITH_BLANK_LINES = """\
# Widgets

export function Box({children}) {
  const style = {padding: 4, border: '1px solid'};

  return <div style={style}>{children}</div>;
}

Text after the box.

export const Note = () => (
  <p>Don't {1} stop</p>

);

export const pattern = /[{(]/; // a { in a regular expression

export const data = {
  steps: [1, 2],

  help: `use it so:

## Not a heading

- nor a list ${"item"}`,
  /* a comment

  with a blank line */
};

## After the data

The end.
"""


def test_an_export_with_blank_lines_in_it_is_dropped_whole_as_mdx_reads_it() -> None:
    # MDX reads `import`/`export` as JavaScript on past a blank line while the code is cut
    # short there (an open brace, a template literal, a comment); the page's text resumes
    # after the statement (checked with @mdx-js/mdx and a docusaurus build).
    page = parse_page(ESM_WITH_BLANK_LINES)
    assert [(s.anchor, [b.text for b in s.blocks]) for s in page.sections] == [
        ("", ["Text after the box."]),
        ("after-the-data", ["The end."]),
    ]
    assert page_markdown(ESM_WITH_BLANK_LINES) == (
        "# Widgets\n\nText after the box.\n\n## After the data\n\nThe end.\n"
    )


@pytest.mark.parametrize(
    "line",
    [" export const a = 1;", "export\tconst a = 1;", "> export const a = 1;"],
    ids=["indented", "tab", "quoted"],
)
def test_only_import_or_export_and_a_space_at_a_lines_start_is_esm(line: str) -> None:
    # MDX reads nothing else as ESM: these are the page's text.
    assert all_text(parse_page(f"Text.\n\n{line}\n")) == f"Text.\n\n{line.strip()}"


def test_esm_whose_code_never_ends_is_read_to_its_first_blank_line() -> None:
    # The build fails on it; the text after the first blank line is kept, as before.
    page = parse_page("export const a = {\n  b: 1,\n\nSome text.\n\n## Heading\n")
    assert [(s.anchor, [b.text for b in s.blocks]) for s in page.sections] == [
        ("", ["Some text."]),
        ("heading", []),
    ]


HTML_HEADINGS = """\
# Wiring guide

<h2 id="wiring">Wiring</h2>

Wire it.

<h2>No id</h2>

Text under a heading with no id.

<h3 id="the-bus" className="bus">The <em>bus</em></h3>

<div>
<h2 id='in-a-div'>In a div</h2>
</div>

<h2 id={"spread"}>
  Over lines
</h2>

<h2 id={slug}>An id not written as a string</h2>

## Wiring

> <h3 id="in-quote">In a quote</h3>
"""


def test_an_html_heading_with_an_id_is_a_section_with_that_anchor() -> None:
    # MDX renders `<h2 id="wiring">` as an <h2> with that id (checked with a docusaurus
    # build), and does not count it in the Markdown headings' slugs: `## Wiring` is
    # `wiring` too. Without an id there is no anchor to cite, so it stays text.
    page = parse_page(HTML_HEADINGS)
    assert [(s.headings, s.anchor) for s in page.sections] == [
        (["Wiring"], "wiring"),
        (["Wiring", "The bus"], "the-bus"),
        (["In a div"], "in-a-div"),
        (["Over lines"], "spread"),
        (["Wiring"], "wiring"),
        (["Wiring", "In a quote"], "in-quote"),
    ]
    assert [b.text for b in section(page, "the-bus").blocks] == []
    assert [b.text for b in page.sections[0].blocks] == [
        "Wire it.",
        "No id",
        "Text under a heading with no id.",
    ]
    assert [b.text for b in page.sections[3].blocks] == ["An id not written as a string"]


def test_an_html_heading_reads_as_a_markdown_heading_in_the_page_as_written() -> None:
    markdown = page_markdown(HTML_HEADINGS)
    assert "## Wiring\n\nWire it." in markdown
    assert "### The bus\n" in markdown
    assert "## Over lines\n" in markdown and "</h2>" not in markdown
    assert "> ### In a quote" in markdown


def test_jsx_tabs_are_dropped_but_their_content_and_labels_are_kept() -> None:
    source = """## Choosing a library

<Tabs>
  <TabItem value="smbus2" label="smbus2" default>

The smbus2 way is small.

```python
import smbus2
```

  </TabItem>
  <TabItem value="circuitpython" label="CircuitPython">

The CircuitPython way is friendly.

  </TabItem>
</Tabs>
"""
    page, markdown = read_page(source)
    text = all_text(page)
    assert "**smbus2:** The smbus2 way is small." in text
    assert "**CircuitPython:** The CircuitPython way is friendly." in text
    assert "```python\nimport smbus2\n```" in text
    assert "<" not in text.replace("```python\nimport smbus2\n```", "")
    # The tab a reader picks is shown on the site: its label tells the tabs apart, and each
    # of its paragraphs is read under it, so a quote says which tab it is from.
    blocks = [b.text for b in page.sections[0].blocks]
    assert blocks == [
        "**smbus2**",
        "**smbus2:** The smbus2 way is small.",
        "```python\nimport smbus2\n```",
        "**CircuitPython**",
        "**CircuitPython:** The CircuitPython way is friendly.",
    ]
    assert "**CircuitPython**\n\nThe CircuitPython way is friendly." in markdown


def test_tabs_in_a_list_item_keep_the_list_whole() -> None:
    source = (
        '## Steps\n\n1. Install it:\n\n   <Tabs>\n   <TabItem value="mac" label="macOS">\n\n'
        "   Run brew.\n\n   </TabItem>\n   </Tabs>\n\n2. Then configure it.\n"
    )
    [block] = parse_page(source).sections[0].blocks
    assert block.text.startswith("1. Install it:") and block.text.endswith("2. Then configure it.")
    assert "**macOS**" in block.text and "Run brew." in block.text


def test_a_tab_ends_at_its_closing_tag_not_at_one_shown_in_code_nor_when_empty() -> None:
    source = (
        '## Tabs\n\n<Tabs>\n<TabItem value="a" label="Alpha">\n\n'
        "Close it with `</TabItem>` here.\n\nStill alpha.\n\n</TabItem>\n"
        '<TabItem value="b" label="Beta" />\n</Tabs>\n\nAfter the tabs.\n'
    )
    assert first_blocks(source) == [
        "**Alpha**",
        "**Alpha:** Close it with `</TabItem>` here.",
        "**Alpha:** Still alpha.",
        "**Beta**",
        "After the tabs.",
    ]


FRAGMENTS = [
    "## A",
    "## B {/* #b */}",
    "{/* c */}",
    "<!-- d -->",
    "{/* e\n## f */}",
    '<TabItem value="v" label="L">',
    '<TabItem value="w" />',
    "</TabItem>",
    "<Tabs>",
    "<pre>",
    "</pre>",
    "```",
    "text",
    "`</TabItem>`",
    "- item",
    "   indented",
    "",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=12), st.sampled_from(["\n", "\n\n", " "]))
def test_no_mark_of_the_parser_ever_reaches_the_page(parts: list[str], joint: str) -> None:
    page, markdown = read_page(joint.join(parts))
    shown = [markdown, *(b.text for s in page.sections for b in s.blocks)]
    shown += [t for s in page.sections for t in (*s.headings, s.anchor)]
    assert not any(re.search("[\ue000-\ue004]", text) for text in shown)


@pytest.mark.parametrize(
    ("tag", "label"),
    [
        ('<TabItem value="mac" label="macOS">', "macOS"),
        ('<TabItem value="win">', "win"),
        ("<TabItem label={'Linux'} value=\"l\">", "Linux"),
        ("<TabItem>", None),
        ('<Tabs groupId="os">', None),
        ('<TabItems label="no">', None),
    ],
)
def test_a_tab_shows_its_label_or_else_its_value(tag: str, label: str | None) -> None:
    assert shown_prop(tag) == label


def test_inline_jsx_is_dropped_but_its_text_is_kept() -> None:
    page = parse_page('Docusaurus is <Highlight color="#25c2a0">green</Highlight> today.\n')
    assert all_text(page) == "Docusaurus is green today."


def test_admonition_body_is_kept() -> None:
    source = """## Parts

:::tip Pro tip

Buy a **BME280**, not a BMP280.

:::

After the tip.
"""
    page = parse_page(source)
    assert [b.text for b in page.sections[0].blocks][-2:] == [
        "Buy a **BME280**, not a BMP280.",
        "After the tip.",
    ]
    assert ":::" not in all_text(page)


@pytest.mark.parametrize("opening", [":::warning Never use pin 2", ":::warning[Never use pin 2]"])
def test_admonition_title_is_kept(opening: str) -> None:
    page = parse_page(f"{opening}\n\nIt carries 5 V.\n\n:::\n")
    assert "It carries 5 V." in all_text(page)
    assert "Never use pin 2" in all_text(page)


def test_directives_a_book_plugin_reads_as_tabs_label_their_text() -> None:
    # `::::os-tabs` with `::macos` inside: remark-directive syntax that a book's own plugin
    # shows as tabs. The names label the text under them; no directive mark is page text.
    source = """## Install

::::os-tabs

::macos
Open a terminal and run:

```bash
brew install sensor-logger
```

::windows[Windows 11]
Run the installer.

::::

Then plug the logger in.

::youtube{#abc123}

::figure[The logger on its mast]
"""
    assert first_blocks(source) == [
        "**macos**",
        "**macos:** Open a terminal and run:",
        "```bash\nbrew install sensor-logger\n```",
        "**Windows 11**",
        "**Windows 11:** Run the installer.",
        "Then plug the logger in.",
        "The logger on its mast",
    ]


@pytest.mark.parametrize(
    ("source", "blocks"),
    [
        (":::tip\n\nWatch:\n\n::youtube{#a1}\n\nKeep it dry.\n\n:::\n", ["Watch:", "Keep it dry."]),
        (":::tip\n\n::figure[The mast]\n\nKeep it dry.\n\n:::\n", ["The mast", "Keep it dry."]),
        (
            "::::os-tabs{#install}\n\n::macos\nRun brew.\n\n::::\n",
            ["**macos**", "**macos:** Run brew."],
        ),
        (':::note{title="Careful"}\n\nBody.\n\n:::\n', ["Body."]),
        (":::tip[My title]{#x}\n\nBody.\n\n:::\n", ["My title", "Body."]),
    ],
    ids=["embed in a tip", "figure in a tip", "tabs with an id", "attributes", "label and id"],
)
def test_a_directive_in_an_admonition_is_no_tab_and_attributes_are_no_text(
    source: str, blocks: list[str]
) -> None:
    assert first_blocks(source) == blocks


@pytest.mark.parametrize(
    "source",
    [
        "1. Which pin?\n   <details><summary>Answer</summary>Pin 17</details>\n",
        "<details><summary>Answer</summary>Pin 17</details>\n",
        "<details>\n<summary>Answer</summary>\n\nPin 17\n\n</details>\n",
    ],
)
def test_a_details_summary_does_not_run_into_what_it_hides(source: str) -> None:
    text = all_text(parse_page(source))
    assert "Answer: Pin 17" in text or "Answer:\n\nPin 17" in text
    assert "AnswerPin" not in text
    emphasised = source.replace("<summary>Answer</summary>", "<summary>**Which?**</summary>")
    assert "Which?**: " not in all_text(parse_page(emphasised))  # it ends in its own mark


@pytest.mark.parametrize(
    ("info", "fence"),
    [
        ('python title="logger.py" showLineNumbers', '```python title="logger.py"'),
        ("python {1,3} title='src/app.py'", '```python title="src/app.py"'),
        ("python showLineNumbers", "```python"),
        ('title="x.py"', '``` title="x.py"'),  # no language
    ],
)
def test_a_code_blocks_title_is_kept_with_its_language(info: str, fence: str) -> None:
    # Docusaurus shows the title (a file name, often) above the code.
    [block] = parse_page(f"## Logging\n\n```{info}\nlog()\n```\n").sections[0].blocks
    assert block.text == f"{fence}\nlog()\n```"


def test_fenced_code_is_kept_whole_with_its_language() -> None:
    source = """## Counting tips

```python
# a comment, not a heading
rain_tips = 0

def on_tip():
    global rain_tips
    rain_tips += 1
```
"""
    page = parse_page(source)
    assert [s.headings for s in page.sections] == [["Counting tips"]]
    [block] = page.sections[0].blocks
    assert block.code
    assert block.text == (
        "```python\n# a comment, not a heading\nrain_tips = 0\n\n"
        "def on_tip():\n    global rain_tips\n    rain_tips += 1\n```"
    )


def test_code_holding_fences_is_fenced_longer_and_stays_one_block() -> None:
    source = (
        "## Writing docs\n\n~~~markdown\n## Not a heading\n\n```python\nprint(1)\n```\n~~~\n\n"
        "Then the page continues.\n"
    )
    page = parse_page(source)
    assert [s.anchor for s in page.sections] == ["writing-docs"]
    code, prose = page.sections[0].blocks
    assert code.code and code.text.startswith("````markdown\n## Not a heading")
    assert code.text.endswith("```\n````") and prose.text == "Then the page continues."
    # Quoting reads the block as one: none of its lines is prose, and it is found whole.
    assert list(sentences(f"{code.text}\n\n{prose.text}")) == ["Then the page continues."]
    assert code_blocks(f"{code.text}\n\n{prose.text}") == [code.text]


def test_lists_keep_their_markers_and_nesting() -> None:
    source = """Before you start:

- set the hostname,
- create the user `pi`,
  - with a password,

1. Install the tool.
2. Create the database.
"""
    page = parse_page(source)
    assert [b.text for b in page.sections[0].blocks] == [
        "Before you start:",
        "- set the hostname,\n- create the user `pi`,\n   - with a password,",
        "1. Install the tool.\n2. Create the database.",
    ]


def test_ordered_list_keeps_its_start_number() -> None:
    page = parse_page("3. Third step.\n4. Fourth step.\n")
    assert page.sections[0].blocks[0].text == "3. Third step.\n4. Fourth step."


def test_tables_keep_their_rows_and_columns() -> None:
    source = """| BME280 pin | Pi pin |
| --- | --- |
| VIN | 1 |
| **GND** | 6 |
"""
    page = parse_page(source)
    assert page.sections[0].blocks[0].text == (
        "| BME280 pin | Pi pin |\n|---|---|\n| VIN | 1 |\n| **GND** | 6 |"
    )


def test_links_keep_their_targets() -> None:
    page = parse_page(
        "Read [Getting Started](./index.md) and [Flask](https://flask.palletsprojects.com/).\n"
    )
    assert all_text(page) == (
        "Read [Getting Started](./index.md) and [Flask](https://flask.palletsprojects.com/)."
    )


def test_emphasis_and_inline_code_stay_markdown() -> None:
    page = parse_page("Run `sudo reboot` **now**, *then* wait.\n")
    assert all_text(page) == "Run `sudo reboot` **now**, *then* wait."


def test_mdx_component_props_are_not_page_text() -> None:
    # MDX hands props to the component; a blank line inside them must not leak the rest.
    page = parse_page(
        "Intro.\n\n<Quiz\n  questions={[\n\n{question: 'secret?', options: ['a > b']}\n\n]}\n/>\n"
        '\nAfter.\n\n<Card title="T">\n\nChild text\n\n</Card>\n'
    )
    texts = [b.text for s in page.sections for b in s.blocks]
    assert texts == ["Intro.", "After.", "Child text"]


def test_component_lookalike_in_code_is_kept() -> None:
    page = parse_page("```jsx\n<Quiz questions={[1]} />\n```\n")
    assert page.sections[0].blocks[0].text == "```jsx\n<Quiz questions={[1]} />\n```"


def test_one_line_page_with_literal_newlines_keeps_its_text() -> None:
    page = parse_page("# Nav2\\n\\n## Goals\\n\\nRobots reach goals.\n")
    assert page.heading_title == "Nav2"
    assert [s.anchor for s in page.sections] == [""]
    assert [b.text for b in page.sections[0].blocks] == ["**Goals**", "Robots reach goals."]


def test_one_line_page_is_read_as_the_markdown_it_was_written_as() -> None:
    # The site shows one long <h1> (no sections, no anchors), but its lists and code are
    # still lists and code to quote: not `*` marks and fences run into the prose; its
    # headings are labels (in bold) for what follows them.
    source = (
        "# Nav2\\n\\n## Stack\\n\\nIt has:\\n\\n*   **Planner:** plans paths.\\n"
        "    *   Uses a costmap.\\n*   **Controller:** follows them.\\n\\n### Launch\\n\\n"
        "```bash\\nros2 launch nav2_bringup bringup.py\\n```\\n"
    )
    page = parse_page(source)
    assert page.heading_title == "Nav2"
    assert [s.anchor for s in page.sections] == [""]
    blocks = page.sections[0].blocks
    assert [(b.text, b.code) for b in blocks] == [
        ("**Stack**", False),
        ("It has:", False),
        (
            "- **Planner:** plans paths.\n   - Uses a costmap.\n- **Controller:** follows them.",
            False,
        ),
        ("**Launch**", False),
        ("```bash\nros2 launch nav2_bringup bringup.py\n```", True),
    ]


def test_one_line_page_tables_and_html_read_as_on_a_page_written_out() -> None:
    # The same page, written on one line with literal `\n`s and written out: its table stays
    # one block of rows and its <details> keeps its summary and text, in the same blocks.
    written_out = (
        "# Pins\n\n## Wiring\n\nConnect as below:\n\n| Pin | Use |\n|---|---|\n"
        "| GPIO4 | data |\n| GND | ground |\n\n<details><summary>Why?</summary>\n\n"
        "The sensor needs a pull-up.\n\n</details>\n\nDone.\n"
    )
    one_line = written_out.rstrip("\n").replace("\n", "\\n") + "\n"
    page = parse_page(one_line)
    assert page.heading_title == "Pins"
    assert [s.anchor for s in page.sections] == [""]
    written = [b.text for s in parse_page(written_out).sections for b in s.blocks]
    assert [b.text for b in page.sections[0].blocks] == ["**Wiring**", *written]
    assert "| GPIO4 | data |\n| GND | ground |" in written[1]


def test_misindented_fences_pair_up_as_on_the_built_site() -> None:
    # Fences indented under list items with unindented content, as in a real book: MDX has
    # no indented code, so `    ```` after a paragraph line opens code. The built site shows
    # `# Source ...` as an <h1> with no id and `## Workflow` inside code: neither is a section.
    source = (
        "# Setup\n\n## Install\n\n1.  **Set up**\n    ```bash\nsudo apt update\n"
        "# Source your environment\nsource setup.bash\n    ```\n\n2.  **Check**\n"
        "    Run it:\n    ```bash\ngazebo\n    ```\n    It opens.\n    ```bash\nmore\n"
        "    ```\n\n3.  **Verify**\n    ```bash\ngazebo\n    ```\n    Done.\n\n"
        "## Workflow\n\nLaunch it.\n    ```bash\ngazebo empty.world\n    ```\n\n"
        "## Integrating\n\nTopics.\n"
    )
    page = parse_page(source)
    assert [s.anchor for s in page.sections] == ["install", "integrating"]
    texts = [b.text for b in page.sections[0].blocks]
    assert "Source your environment" in texts
    assert any("## Workflow" in t for t in texts if t.startswith("```"))


def test_indented_fence_in_a_list_item_is_still_code() -> None:
    page = parse_page("1. Install:\n\n    ```bash\n    pip install x\n    ```\n")
    assert [b.text for b in page.sections[0].blocks][-1] == "```bash\npip install x\n```"


@pytest.mark.parametrize(
    "source",
    [
        "---\ntitle: Pins\n---\n\nimport Tabs from '@theme/Tabs';\n\n## Pins {#pins}\n\nGPIO4.\n",
        '<Quiz\n  questions={[\n\n{q: 1}\n\n]}\n/>\n\n## After\n\n<Card title="T">\n\nChild\n'
        "\n</Card>\n",
    ],
    ids=["no props", "props over blank lines"],
)
def test_one_read_gives_both_the_sections_and_the_page_as_written(source: str) -> None:
    # Ingest reads a page once for both; a page whose props were dropped is parsed again as written.
    assert read_page(source) == (parse_page(source), page_markdown(source))


def test_a_fence_line_with_a_language_inside_code_is_code_not_its_end() -> None:
    # As in CommonMark: only a bare fence closes a block, so what follows ```python here is
    # still code, and an MDX comment in it is code to show, not a comment to drop.
    page = parse_page("# T\n\n## Fences\n\n```\n```python\n{/* kept */}\n```\n\nAfter.\n")
    blocks = page.sections[-1].blocks
    assert (blocks[0].text, blocks[0].code) == ("````\n```python\n{/* kept */}\n````", True)
    assert blocks[1].text == "After."


def test_a_title_with_one_literal_newline_is_a_title() -> None:
    # Only a page written on one line has its paragraphs apart (`\\n\\n`) in its <h1>.
    page = parse_page("# Escapes: `\\n` and `\\t`\n\nText.\n")
    assert page.heading_title is not None and page.heading_title.startswith("Escapes: ")
    assert page.heading_title.endswith("and \\t")
    assert [b.text for b in page.sections[0].blocks] == ["Text."]


# A page Docusaurus parses as CommonMark (the site's `markdown.format`): MDX's syntax is its
# text, a component's tag is raw HTML, indented lines are code; the rest reads as in MDX.
COMMONMARK_PAGE = """\
import Gauge from './_gauge.mdx';

# Rain gauge

## Wiring the gauge {/* #gauge */}

Keep a < b and {braces} as written.

<Gauge />

## Calibration {#calibrate}

export const litres = 2;

    ## in indented code

:::tip[Level it]

### On a post

Use a spirit level.

:::

<div>
<h2 id="mounting">Mounting</h2>
</div>

## Notes <!-- #notes -->
"""


def test_a_commonmark_page_shows_mdx_syntax_as_text() -> None:
    page, markdown = read_page(COMMONMARK_PAGE, commonmark=True)
    assert page.heading_title == "Rain gauge"  # as Docusaurus titles it, past the import
    assert [(s.headings[-1:], s.anchor) for s in page.sections] == [
        ([], ""),
        (["Wiring the gauge {/* #gauge */}"], "wiring-the-gauge--gauge-"),
        (["Calibration"], "calibrate"),
        (["On a post"], "on-a-post"),
        (["Mounting"], "mounting"),  # rendered from the HTML block with its id
        (["Notes"], "notes-"),
    ]
    assert [[b.text for b in s.blocks] for s in page.sections[:3]] == [
        ["import Gauge from './_gauge.mdx';"],
        ["Keep a < b and {braces} as written."],
        ["export const litres = 2;", "```\n## in indented code\n```", "Level it"],
    ]
    assert markdown.startswith("import Gauge from './_gauge.mdx';\n\n# Rain gauge\n")
    assert "## Wiring the gauge {/* #gauge */}\n" in markdown
    assert "export const litres = 2;" in markdown
    # Read as MDX (Docusaurus's default), the same page has none of that text.
    mdx = parse_page(COMMONMARK_PAGE)
    assert mdx.sections[0].anchor == "gauge" and "import" not in all_text(mdx)
