"""Every `#anchor` bookrag cites exists on the page `docusaurus build` makes of the same source,
and every heading anchor of the built page is a section bookrag can cite; each docs folder of
a versioned site is cited at its own version's pages.

Books are built with the sample book's pinned Docusaurus (sample-book/package.json) in a site
folder of their own: its `node_modules` links the sample's packages one by one, so the build
cache (`node_modules/.cache`) is the site's own and never leaks from one book into another.
The tests skip without npm; the corpus books also need `../shared`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from selectolax.lexbor import LexborHTMLParser

from bookrag.book.loader import SkipPage, discover, load_page, read_source
from bookrag.book.sidebar import sidebar_order
from bookrag.book.site.extract import extract_doc
from bookrag.book.site_config import SiteConfig
from bookrag.index.ingest import site_config
from conftest import ROOT, SHARED

SAMPLE_MODULES = ROOT / "sample-book" / "node_modules"


def docusaurus_build(docs: Path, site: SiteConfig, work: Path) -> Path:
    """Build `docs` as Docusaurus would publish it under `site`'s URL facts."""
    root = work / "site"
    shutil.copytree(docs, root / "docs")
    config = {
        "title": "anchors",
        "url": site.url or "https://example.org",
        "baseUrl": site.base_url,
        "onBrokenLinks": "ignore",
        "onBrokenAnchors": "ignore",
        "markdown": {"hooks": {"onBrokenMarkdownLinks": "ignore"}},
        "presets": [
            [
                "classic",
                {
                    "docs": {"routeBasePath": site.route_base_path},
                    "blog": False,
                    "pages": False,
                },
            ]
        ],
    }
    if site.trailing_slash is not None:
        config["trailingSlash"] = site.trailing_slash
    (root / "docusaurus.config.js").write_text(f"module.exports = {json.dumps(config)};\n")
    return build_site(root)


def build_site(root: Path) -> Path:
    """Build the Docusaurus site in `root` (its config, docs and versions as written there)."""
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed: the real Docusaurus build needs it")
    if not (SAMPLE_MODULES / "@docusaurus" / "core").is_dir():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=SAMPLE_MODULES.parent,
            check=True,
            timeout=1200,
        )
    modules = root / "node_modules"
    modules.mkdir(parents=True)
    for package in SAMPLE_MODULES.iterdir():
        if package.name != ".cache":
            (modules / package.name).symlink_to(package)
    done = subprocess.run(
        ["npx", "--no-install", "docusaurus", "build"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"docusaurus build failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return root / "build"


def built_html(build: Path, site: SiteConfig, url: str) -> Path:
    """The HTML file a page URL is served from."""
    path = unquote(urlsplit(url).path)[len(site.base_url.rstrip("/")) :].strip("/")
    for candidate in (build / path / "index.html", build / f"{path}.html"):
        if candidate.is_file():
            return candidate
    raise AssertionError(f"the build has no page for {url}")


def compare_anchors(docs: Path, build: Path, site: SiteConfig) -> tuple[list[str], list[str]]:
    """`source#anchor`s of the sections bookrag makes that the built page has no heading for,
    and of the built page's headings (h2 to h6) bookrag makes no section for."""
    missing: list[str] = []
    unknown: list[str] = []
    for path in discover(docs):
        try:
            page = load_page(read_source(docs, path, site), site)
        except SkipPage:
            continue
        html = LexborHTMLParser(built_html(build, site, page.url).read_text(encoding="utf-8"))
        built = {
            str(node.attributes.get("id"))
            for node in html.css("article :is(h2, h3, h4, h5, h6)[id]")
        }
        ours = {s.anchor for s in page.sections if s.anchor}
        missing += [f"{page.source}#{a}" for a in sorted(ours - built)]
        unknown += [f"{page.source}#{a}" for a in sorted(built - ours)]
    return missing, unknown


SETUP_PAGE = """\
# Setting Up the Station

## Preparing the Board

Flash the board before wiring anything:

1.  **Install the toolchain** (once per computer).
    ```bash
pip install esptool
# Check the serial port
ls /dev/ttyUSB*
    ```

2.  **Flash the firmware:**
    The image sits in the release folder.
    ```bash
esptool.py write_flash 0x0 station.bin
    ```

## Wiring Check

1.  **Power:** connect the 3.3 V rail first.
2.  **Sensors:** then the rain gauge on pin 4.
    ```bash
station --selftest
    ```

## Calibration

Tip the bucket ten times and compare the count.

## Calibration

A second pass with the lid closed.

## Mounting the Mast {#mast}

Bolt the mast to a post.

### Using `mount.py` and [the guide](./guide)

The script levels the sensors.
"""

TITLE_PAGE = """\
Opening words before any heading.

# A Second Title

Text under the second title.

## Readings

What the readings mean.
"""


# Every heading is slugged in order, the page's <h1> too; `²` and `½` are not kept, `ⓐ` is;
# an explicit id may hold spaces.
REPEATS_PAGE = """\
# Setup

## Setup

Plug the gauge in.

## Area in m²

## Half ½ measure

## ⓐ circled option

## Spaced id {#my spaced id}
"""

# Comments are not on the built page, nor is a heading inside one.
COMMENTS_PAGE = """\
# Notes

{/* TODO: remove before launch */}

Visible text.

<!-- internal note -->

{/*
## Draft
Hidden text.
*/}

## Published

Public text.
"""


# Docusaurus 3.10 reads a heading's id from the MDX comment that ends it, when the comment's
# first word starts with `#`; an id given so is not counted by the slugger (the second
# "Setup" is `setup`). Any other comment in a heading is not shown, but MDX slugs the text
# of an MDX comment with the heading's, and the space before an HTML comment.
COMMENT_IDS_PAGE = """\
# Comment ids

## Wiring the Gauge {/* #gauge */}

Text.

## Setup {/*#first-setup with a note after it*/}

## Setup

## Calibration {/* #calibrate */} {/* #not-this */}

## A {/* #stays-a-comment */} in the middle

## Plain note {/* not an id */}

## Wiring the Vane <!-- #vane -->

## `{/* #in-code */}` {/* #after-code */}
"""


# What the site shows beside a block's text: a tab's label, a code block's title.
SHOWN_PAGE = """\
import Tabs from '@theme/Tabs';
import TabItem from '@theme/TabItem';

# Shown

## Install

<Tabs>
  <TabItem value="mac" label="macOS" default>

Use Homebrew.

```bash title="install.sh"
brew install station
```

  </TabItem>
  <TabItem value="linux">

Use apt.

  </TabItem>
</Tabs>

## Steps

1. Install it:

   <Tabs>
   <TabItem value="mac" label="macOS">

   Run brew.

   </TabItem>
   <TabItem value="deb" label="Debian">

   Run apt.

   </TabItem>
   </Tabs>

2. Then configure it.
"""


# A page using a partial (which uses one of its own): the built page shows their text.
PARTIAL_USER = """\
import Wiring from './_wiring.mdx';

# Station

## Setup

Intro.

<Wiring />

## After

```mdx
<Wiring />
```
"""

WIRING_PARTIAL = """\
import Note from './_note.md';

## Wiring the sensor

Connect VIN to 3.3 V.

<Note />
"""

# Markdown inside JSX with no blank lines around it: MDX reads it as Markdown all the same.
FLOW_PAGE = """\
import Tabs from '@theme/Tabs';
import TabItem from '@theme/TabItem';

# Field kit

<div>
## Packing list {/* weigh it */}
Bring a **tripod** and spare batteries.
</div>

## Install
<Tabs>
<TabItem value="deb" label="Debian">
```bash
sudo apt install station
```
</TabItem>
<TabItem value="mac" label="macOS">
Use Homebrew.
</TabItem>
</Tabs>
Then start it.

<details>
<summary>Why a tripod?</summary>

It keeps the gauge level.
</details>

- Check the vane
<div className="note"></div>
- Check the gauge
"""

# ESM with blank lines in it: MDX reads it as JavaScript to where its statement ends, so no
# line of it is page text, not even one that reads as a heading (`## Not a heading`).
ESM_PAGE = """\
# Widgets

export function Box({children}) {
  const style = {padding: 4};

  return <div style={style}>{children}</div>;
}

Text after the box.

export const Note = () => (
  <p>Don't {1} stop</p>

);

export const data = {
  pattern: /[{(]/,

  help: `use it so:

## Not a heading

- nor a list ${"item"}`,
};

## After the data

The end.
"""

# HTML headings: MDX renders each with the id it is given (so the page has those anchors),
# an <h2> without one has none, and Markdown headings are slugged as if they were not there.
HTML_HEADINGS_PAGE = """\
# Wiring guide

<h2 id="wiring">Wiring</h2>

Wire it.

<h2>No id</h2>

<h3 id="the-bus" className="bus">The <em>bus</em></h3>

<div>
<h2 id='in-a-div'>In a div</h2>
</div>

<h2 id={"spread"}>
  Over lines
</h2>

## Wiring

- An item
  <h4 id="in-list">In a list</h4>

> <h3 id="in-quote">In a quote</h3>
"""


def test_sections_of_markdown_docusaurus_reads_its_own_way_match_the_built_page(
    tmp_path: Path,
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "setup.md").write_text(SETUP_PAGE)
    (docs / "title.md").write_text(TITLE_PAGE)
    (docs / "oneline.md").write_text(
        "# Glossary\\n\\n## Dew point\\n\\nWhere air turns **wet**:\\n\\n- Fog\\n    - Mist\\n"
        "- Dew\\n\\n```bash\\nread-dew --now\\n```\\n"
    )
    (docs / "plain.md").write_text("No headings at all, only this line.\n")
    (docs / "07-field-notes.summary.md").write_text("No title either.\n")
    (docs / "repeats.md").write_text(REPEATS_PAGE)
    (docs / "comments.md").write_text(COMMENTS_PAGE)
    (docs / "comment-ids.mdx").write_text(COMMENT_IDS_PAGE)
    (docs / "shown.mdx").write_text(SHOWN_PAGE)
    (docs / "flow.md").write_text(FLOW_PAGE)
    (docs / "widgets.mdx").write_text(ESM_PAGE)
    (docs / "html-headings.md").write_text(HTML_HEADINGS_PAGE)
    (docs / "partial-user.mdx").write_text(PARTIAL_USER)
    (docs / "_wiring.mdx").write_text(WIRING_PARTIAL)
    (docs / "_note.md").write_text("Always power off first.\n\n## Setup\n\nA partial's setup.\n")
    (docs / "bom.md").write_text("\ufeff---\nslug: /calibrate\n---\n\n## Turning\n\nTurn it.\n")
    site = SiteConfig(url="https://pocket-weather.example.org", trailing_slash=False)
    build = docusaurus_build(docs, site, tmp_path)

    assert compare_anchors(docs, build, site) == ([], [])
    # As MDX reads the indented fences, `# Check the serial port` is a heading outside the
    # code (an <h1>, which Docusaurus gives no id) and everything from "Calibration" on is
    # code: bookrag makes sections of neither.
    setup = load_page(read_source(docs, docs / "setup.md", site), site)
    assert [s.anchor for s in setup.sections] == ["preparing-the-board", "wiring-check"]
    repeats = load_page(read_source(docs, docs / "repeats.md", site), site)
    assert repeats.sections[0].anchor == "setup-1"
    ids = load_page(read_source(docs, docs / "comment-ids.mdx", site), site)
    assert [(s.headings[-1], s.anchor) for s in ids.sections] == [
        ("Wiring the Gauge", "gauge"),
        ("Setup", "first-setup"),
        ("Setup", "setup"),
        ("Calibration", "not-this"),
        ("A  in the middle", "a--stays-a-comment--in-the-middle"),
        ("Plain note", "plain-note--not-an-id-"),
        ("Wiring the Vane", "wiring-the-vane-"),
        ("{/* #in-code */}", "after-code"),
    ]
    html = load_page(read_source(docs, docs / "html-headings.md", site), site)
    assert [(s.headings[-1], s.anchor) for s in html.sections] == [
        ("Wiring", "wiring"),
        ("The bus", "the-bus"),
        ("In a div", "in-a-div"),
        ("Over lines", "spread"),
        ("Wiring", "wiring"),
        ("In a list", "in-list"),
        ("In a quote", "in-quote"),
    ]
    assert load_page(read_source(docs, docs / "bom.md", site), site).url.endswith("/calibrate")
    # A page with no title nor `# heading` is titled as the build titles it.
    for name in ("plain.md", "07-field-notes.summary.md"):
        page = load_page(read_source(docs, docs / name, site), site)
        assert extract_doc(built_html(build, site, page.url).read_bytes()).title == page.title
    # The built page reads as its source does, tab labels, code titles and partials included,
    # and a one-line page with literal `\n`s (one long <h1> on the site) as its text.
    for name in ("shown.mdx", "partial-user.mdx", "oneline.md", "flow.md", "widgets.mdx"):
        shown = load_page(read_source(docs, docs / name, site), site)
        built = extract_doc(built_html(build, site, shown.url).read_bytes())
        assert [[b.text for b in s.blocks] for s in built.sections] == [
            [b.text for b in s.blocks] for s in shown.sections
        ], name
    oneline = load_page(read_source(docs, docs / "oneline.md", site), site)
    assert extract_doc(built_html(build, site, oneline.url).read_bytes()).title == "Glossary"
    assert oneline.title == "Glossary"
    assert [(b.text, b.code) for b in oneline.sections[0].blocks] == [
        ("**Dew point**", False),
        ("Where air turns **wet**:", False),
        ("- Fog\n   - Mist\n- Dew", False),
        ("```bash\nread-dew --now\n```", True),
    ]
    used = load_page(read_source(docs, docs / "partial-user.mdx", site), site)
    assert [(s.headings[-1], s.anchor) for s in used.sections] == [
        ("Setup", "setup"),
        ("Wiring the sensor", "wiring-the-sensor"),
        ("Setup", "setup"),  # a partial's headings are slugged apart from the page's
        ("After", "after"),
    ]
    shown = load_page(read_source(docs, docs / "shown.mdx", site), site)
    assert [b.text for b in shown.sections[-1].blocks] == [
        "1. Install it:\n   **macOS**\n   Run brew.\n   **Debian**\n   Run apt.\n"
        "2. Then configure it."
    ]
    assert [b.text for b in shown.sections[-2].blocks] == [
        "**macOS**",
        "**macOS:** Use Homebrew.",
        '```bash title="install.sh"\nbrew install station\n```',
        "**linux**",
        "**linux:** Use apt.",
    ]


# A site that parses `.md` pages as CommonMark and `.mdx` pages as MDX (`format: 'detect'`),
# unless a page's front matter says otherwise. In CommonMark, MDX's syntax is text, a
# component's tag raw HTML (whose headings with ids the site renders as headings), and the
# partial is not read.
DETECT_CONFIG = """\
module.exports = {
  title: 'Rain gauge',
  url: 'https://gauge.example.org',
  baseUrl: '/',
  onBrokenLinks: 'ignore',
  onBrokenAnchors: 'ignore',
  markdown: {format: 'detect', hooks: {onBrokenMarkdownLinks: 'ignore'}},
  presets: [['classic', {docs: {}, blog: false, pages: false}]],
};
"""
DETECT_PAGES = {
    "_part.mdx": "## Part heading\n\nPart text.\n",
    "plain.md": """\
import Part from './_part.mdx';

# Plain page

## Wiring the gauge {/* #gauge */}

Keep a < b and {braces} as written.

<Part />

## Calibration {#calibrate}

export const litres = 2;

:::tip[Level it]

### On a post

Use a spirit level.

:::

<div>
<h2 id="mounting">Mounting</h2>
</div>

<Part />
## Not a heading, in the HTML block

## Notes <!-- #notes -->
""",
    "indented.md": "# Indented\n\n## Code\n\n    ## not a heading\n    more code\n",
    "rich.mdx": "import Part from './_part.mdx';\n\n# Rich\n\n## Rich {/* #rich */}\n\n<Part />\n",
    "forced.md": "---\nmdx:\n  format: mdx\n---\n\n# Forced\n\n## Forced {/* #forced */}\n",
}


def test_pages_docusaurus_parses_as_commonmark_are_cited_as_built(tmp_path: Path) -> None:
    root = tmp_path / "site"
    docs = root / "docs"
    docs.mkdir(parents=True)
    for name, text in DETECT_PAGES.items():
        (docs / name).write_text(text)
    (root / "docusaurus.config.js").write_text(DETECT_CONFIG)
    build = build_site(root)
    site = site_config(docs, None, None)
    assert site.markdown_format == "detect"
    assert compare_anchors(docs, build, site) == ([], [])
    plain = load_page(read_source(docs, docs / "plain.md", site), site)
    assert [s.anchor for s in plain.sections] == [
        "",
        "wiring-the-gauge--gauge-",
        "calibrate",
        "on-a-post",
        "mounting",
        "notes-",
    ]
    for name in ("plain.md", "rich.mdx"):
        page = load_page(read_source(docs, docs / name, site), site)
        built = extract_doc(built_html(build, site, page.url).read_bytes())
        assert built.title == page.title
        assert [[b.text for b in s.blocks] for s in built.sections] == [
            [b.text for b in s.blocks] for s in page.sections
        ], name


BOOKS = {
    "humanoid-textbook": "humanoid-textbook/my-website/docs",
    "robotics-course": "robotics-course/website/docs",
}


@pytest.mark.parametrize("book", sorted(BOOKS))
def test_sections_of_a_corpus_book_match_its_built_site(book: str, tmp_path: Path) -> None:
    docs = SHARED / "corpus" / BOOKS[book]
    if not docs.is_dir():
        pytest.skip(f"{docs} is not here (the shared corpus sits beside the checkout)")
    site = site_config(docs, None, None)
    build = docusaurus_build(docs, site, tmp_path)
    assert compare_anchors(docs, build, site) == ([], [])


# A versioned site as its author configures it: `docs/` is the version `current`, and
# versions.json lists the versions in versioned_docs/, newest first. A second docs instance,
# `kit`, has a route, a sidebars file and versions of its own (`kit_versions.json`).
VERSIONED_CONFIG = """\
module.exports = {
  title: 'Weather station',
  url: 'https://station.example.org',
  baseUrl: '/manual/',
  onBrokenLinks: 'ignore',
  onBrokenAnchors: 'ignore',
  markdown: {hooks: {onBrokenMarkdownLinks: 'ignore'}},
  presets: [
    [
      'classic',
      {
        docs: {
          numberPrefixParser: false, // file names are the URLs as they are
          versions: {'1.0': {label: 'Legacy', path: 'legacy'}},
        },
        blog: false,
        pages: false,
      },
    ],
  ],
  plugins: [
    [
      '@docusaurus/plugin-content-docs',
      {id: 'kit', path: 'kit', routeBasePath: 'kit', sidebarPath: './sidebarsKit.js'},
    ],
  ],
};
"""
VERSIONS = {
    "docs": "next",
    "versioned_docs/version-2.0": "2.0",
    "versioned_docs/version-1.0": "1.0",
    "kit": "kit next",
    "kit_versioned_docs/version-1.0": "kit 1.0",
}


@pytest.fixture(scope="module")
def versioned_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A versioned site's build; its docs folders are beside the build folder."""
    root = tmp_path_factory.mktemp("versioned") / "site"
    for folder, version in VERSIONS.items():
        docs = root / folder
        (docs / "02-wiring").mkdir(parents=True)
        (docs / "01-intro.md").write_text(f"# Intro to {version}\n\n## New in {version}\n\nText.\n")
        (docs / "02-wiring" / "03-gauge.md").write_text(f"# Gauge ({version})\n\n## Pins\n")
    (root / "versions.json").write_text('["2.0", "1.0"]')
    sidebars = root / "versioned_sidebars" / "version-2.0-sidebars.json"
    sidebars.parent.mkdir()
    sidebars.write_text('{"book": [{"type": "autogenerated", "dirName": "."}]}')
    (root / "kit_versions.json").write_text('["1.0"]')
    (root / "sidebarsKit.js").write_text("module.exports = {kit: ['wiring/gauge', 'intro']};")
    (root / "docusaurus.config.js").write_text(VERSIONED_CONFIG)
    return build_site(root)


@pytest.mark.parametrize("folder", sorted(VERSIONS))
def test_each_docs_version_is_cited_at_its_own_pages_on_the_built_site(
    versioned_build: Path, folder: str
) -> None:
    docs = versioned_build.parent / folder
    site = site_config(docs, None, None)
    assert compare_anchors(docs, versioned_build, site) == ([], [])
    for path in discover(docs):
        page = load_page(read_source(docs, path, site), site)
        built = extract_doc(built_html(versioned_build, site, page.url).read_bytes())
        assert built.title == page.title  # this version's page, not another version's


def test_number_prefixes_stay_in_urls_where_the_config_turns_the_parser_off(
    versioned_build: Path,
) -> None:
    docs = versioned_build.parent / "docs"
    site = site_config(docs, None, None)
    urls = [load_page(read_source(docs, path, site), site).url for path in discover(docs)]
    assert urls == [
        "https://station.example.org/manual/docs/next/01-intro",
        "https://station.example.org/manual/docs/next/02-wiring/03-gauge",
    ]


def test_another_docs_instance_is_cited_in_its_own_sidebars_order(versioned_build: Path) -> None:
    # The kit's sidebars file lists the gauge first, against the folder's order.
    docs = versioned_build.parent / "kit"
    site = site_config(docs, None, None)
    pages = [load_page(read_source(docs, path, site), site) for path in discover(docs)]
    urls = {page.source: page.url for page in pages}
    order = sidebar_order(docs, sorted(urls), site.number_prefixes, site.sidebar_path)
    cited = [urlsplit(urls[source]).path for source in order]
    html = LexborHTMLParser(built_html(versioned_build, site, urls[order[0]]).read_text())
    shown = [str(a.attributes.get("href")) for a in html.css("nav.menu a.menu__link")]
    assert cited == shown == ["/manual/kit/next/wiring/gauge", "/manual/kit/next/intro"]
