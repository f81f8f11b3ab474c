"""The doc a reader sees on a built Docusaurus page, as the Markdown loader's sections.

The parser is selectolax (lexbor): a complete HTML5 parser, so a page parses as a browser
parses it, with CSS selectors to find the doc article, and fast enough for books of
thousands of pages (lxml's HTML parser is libxml2's HTML 4 one; BeautifulSoup adds a layer
over one of them). Only the doc's Markdown container (`.theme-doc-markdown`) is read, so the
navbar, sidebar, table of contents, breadcrumbs, "Edit this page", pagination and footer,
all outside it, are never seen. Headings keep the site's own `id`s; text is written as the
same light Markdown the loader writes (lists, tables, fenced code with its language), every
tab panel is read (hidden ones too) after its tab's label, admonitions keep their custom
titles.

Longer than 300 lines because it is one walker over every kind of block a Docusaurus page
renders, each written as the loader writes the same Markdown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from selectolax.lexbor import LexborHTMLParser, LexborNode

from bookrag.book.markdown import (
    Block,
    Section,
    is_one_line_page,
    one_line_text,
    one_line_title,
)
from bookrag.book.mdx import ADMONITION_KINDS, after_summary, tab_label, under_tab
from bookrag.book.site.menu import sidebar_links

# A doc's Markdown container; a blog post's, for a crawl asked to include the blog.
DOC_SELECTOR = ".theme-doc-markdown, #__blog-post-container"
_SPACE = re.compile(r"[ \t\r\f\v]+")
_AROUND_NEWLINE = re.compile(r" ?\n ?")
_HEADINGS = {"h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_DROPPED = {"script", "style", "noscript", "template", "button", "svg", "nav", "iframe", "hr"}
_INLINE_MARKS = {"strong": "**", "b": "**", "em": "*", "i": "*", "del": "~~", "s": "~~"}


@dataclass
class ExtractedPage:
    """A doc page's title, sidebar label, sections and the links of its sidebar."""

    title: str
    sidebar_label: str | None
    sections: list[Section]
    menu: list[str] = field(default_factory=list)  # its sidebar's links, in order (`menu`)
    heading: str = ""  # its `h1`, where that is not its title (front matter's `title:`)


class NotADoc(Exception):
    """The HTML has no Docusaurus doc article (another kind of page, or not Docusaurus)."""


def extract_doc(html: str | bytes) -> ExtractedPage:
    """Read the doc article of a built Docusaurus page; raises `NotADoc` without one."""
    tree = LexborHTMLParser(html)
    root = tree.css_first(DOC_SELECTOR)
    if root is None:
        raise NotADoc("no Docusaurus doc article (.theme-doc-markdown) in the page")
    h1 = root.css_first("h1") or (root.parent.css_first("h1") if root.parent else None)
    heading = _heading_text(h1) if h1 is not None else ""
    head_title = tree.css_first("title")
    title = _title(heading, " ".join((head_title.text() if head_title else "").split()))
    active = tree.css_first(".menu__link--active:not(.menu__link--sublist)")
    label = " ".join(active.text().split()) if active is not None else ""
    walker = _Walker()
    if h1 is not None and is_one_line_page(heading):  # a one-line file: its text is the h1's
        title = heading = one_line_title(heading)
        walker.sections[0].blocks = one_line_text(_one_line_markdown(h1))
    walker.walk(root)
    sections = [s for s in walker.sections if s.blocks or s.anchor]
    shown = label if label and label != title else None
    other = heading if heading and heading != title else ""
    return ExtractedPage(title, shown, sections, sidebar_links(tree), other)


def _title(heading: str, head: str) -> str:
    """A doc's title: its front matter's `title:`, which the head's `<title>` (`head`) holds
    before the site's (`Page | Site`), else its `heading` (the `h1` inside its container, a
    blog post's just before it). A head that starts with the heading is that title with the
    site's after it, whatever the site's delimiter and title hold (`Install | Acme | Docs`)."""
    if not heading or head == heading or head.startswith(f"{heading} "):
        return heading or head.split(" | ")[0].strip()
    return (head.rsplit(" | ", 1)[0].strip() if " | " in head else "") or heading


def _classes(node: LexborNode) -> set[str]:
    return set((node.attributes.get("class") or "").split())


def _children(node: LexborNode) -> list[LexborNode]:
    return list(node.iter(include_text=True))


def _tab_label(panel: LexborNode) -> str | None:
    """A tab panel's label: the tab in the panel's place among its wrapper's panels (the tab
    list sits beside the wrapper; a nested tab list comes after it)."""
    wrapper = panel.parent
    box = wrapper.parent if wrapper is not None else None
    if wrapper is None or box is None:
        return None
    tabs = box.css("[role=tablist] > [role=tab]")
    panels = [n.mem_id for n in wrapper.iter() if n.attributes.get("role") == "tabpanel"]
    place = panels.index(panel.mem_id)
    return _clean(tabs[place].text()) if place < len(tabs) else None


def _panels(container: LexborNode) -> list[LexborNode]:
    """A tabs container's own panels (in the wrapper beside its tab list), not those of tabs
    nested in them."""
    return [
        panel
        for wrapper in container.iter()
        for panel in wrapper.iter()
        if panel.attributes.get("role") == "tabpanel"
    ]


def _heading_text(node: LexborNode) -> str:
    parts = []
    for child in node.traverse(include_text=True):
        if child.tag == "-text" and not _inside(child, node, "hash-link"):
            parts.append(child.text(deep=False))
    return " ".join("".join(parts).replace("\u200b", "").split())


def _inside(node: LexborNode, stop: LexborNode, css_class: str) -> bool:
    parent = node.parent
    while parent is not None and parent != stop:
        if css_class in _classes(parent):
            return True
        parent = parent.parent
    return False


def _clean(text: str) -> str:
    text = _SPACE.sub(" ", _visible(text))
    return _AROUND_NEWLINE.sub("\n", text).strip()


def _visible(text: str) -> str:
    """`text` without zero-width spaces, and no-break spaces as spaces."""
    return text.replace("\u200b", "").replace("\xa0", " ")


def render_inline(node: LexborNode) -> str:
    """A node's inline content as light Markdown (links, emphasis, inline code)."""
    return _clean(_inline(node))


def _one_line_markdown(h1: LexborNode) -> str:
    """A one-line page's <h1> as the Markdown it was written as: its spaces kept (they nest
    list items), and a code span holding a literal `\\n` written back as the fenced block
    the site read as a span."""
    return _SPAN_WITH_NEWLINES.sub(r"```\1```", _visible(_inline(h1)))


_SPAN_WITH_NEWLINES = re.compile(r"`([^`]*\\n[^`]*)`")


def _inline(node: LexborNode) -> str:
    return "".join(_inline_node(child) for child in _children(node))


def _inline_node(child: LexborNode) -> str:
    """One node as inline Markdown."""
    tag = child.tag
    if tag == "-text":
        return child.text(deep=False) or ""
    if tag == "br":
        return "\n"
    if tag == "code":
        text = child.text()
        fence = "``" if "`" in text else "`"
        return f"{fence}{text}{fence}"
    if tag == "a":
        if "hash-link" in _classes(child):
            return ""
        href = child.attributes.get("href") or ""
        inner = _inline(child).strip()
        return f"[{inner}]({href})" if href and inner else inner
    if tag == "img":
        return child.attributes.get("alt") or ""
    if tag == "summary":
        summary = _inline(child)
        return summary + after_summary(summary)
    if tag in _INLINE_MARKS:
        mark = _INLINE_MARKS[tag]
        inner = _inline(child)
        return f"{mark}{inner.strip()}{mark}" if inner.strip() else inner
    if tag in _DROPPED or tag in ("ul", "ol", "pre", "table"):
        return ""
    return _inline(child)


class _Walker:
    """Walks the doc's container in document order, as `markdown._Walker` walks tokens."""

    def __init__(self) -> None:
        self.sections = [Section(headings=[], anchor="")]
        self.levels: list[int] = []
        self.quote_depth = 0
        self.tabs: list[str] = []  # the labels of the tab panels being read, innermost last

    def _emit(self, text: str, code: bool = False) -> None:
        if text.strip():
            if self.quote_depth and not code:
                text = "\n".join("> " * self.quote_depth + line for line in text.split("\n"))
            self.sections[-1].blocks.append(Block(text.rstrip("\n"), code))

    def walk(self, node: LexborNode) -> None:
        for child in _children(node):
            self._block(child)

    def _block(self, node: LexborNode) -> None:
        tag = node.tag
        classes = _classes(node)
        if tag == "-text":
            self._emit(_clean(node.text(deep=False)))
        elif tag in _DROPPED or tag == "h1" or tag == "-comment":
            return
        elif tag in _HEADINGS:
            self._heading(node, _HEADINGS[tag])
        elif tag == "p":
            text = render_inline(node)
            under = self.tabs and not self.quote_depth  # as the loader reads a tab's text
            self._emit(under_tab(self.tabs[-1], text) if under else text)
        elif node.attributes.get("role") == "tablist":
            return  # the tab labels, each read before its panel below
        elif node.attributes.get("role") == "tabpanel":
            label = _tab_label(node)
            if label:
                self._emit(tab_label(label))  # as the loader reads the source's `TabItem`
                self.tabs.append(label)
            self.walk(node)
            if label:
                self.tabs.pop()
        elif tag in ("ul", "ol"):
            for lines, code in _list_blocks(node, 0):
                self._emit(lines, code)
        elif tag == "table":
            self._emit(_table(node))
        elif tag == "pre" or "theme-code-block" in classes:
            self._emit(_code(node), code=True)
        elif tag == "blockquote":
            self.quote_depth += 1
            self.walk(node)
            self.quote_depth -= 1
        elif "theme-admonition" in classes:
            heading = node.css_first("[class*='admonitionHeading']")
            content = node.css_first("[class*='admonitionContent']")
            if heading is not None:
                title = _clean(heading.text())
                if title.lower() not in ADMONITION_KINDS:
                    self._emit(title)
            self.walk(content if content is not None else node)
        elif tag == "details":
            self.walk(node)
        elif tag == "summary":
            summary = render_inline(node)
            self._emit((summary + after_summary(summary)).rstrip())
        else:
            self.walk(node)  # div, section, header, figure, tab panels: their blocks

    def _heading(self, node: LexborNode, level: int) -> None:
        text = _heading_text(node)
        anchor = node.attributes.get("id") or ""
        while self.levels and self.levels[-1] >= level:
            self.levels.pop()
        trail = self.sections[-1].headings[: len(self.levels)]
        self.levels.append(level)
        self.sections.append(Section(headings=[*trail, text], anchor=anchor))


def _list_blocks(node: LexborNode, depth: int) -> list[tuple[str, bool]]:
    """A list as Markdown lines (`- `, `1. `, nested lists indented), split around code."""
    ordered = node.tag == "ol"
    number = int(node.attributes.get("start") or 1)
    blocks: list[tuple[str, bool]] = []
    lines: list[str] = []
    for item in _children(node):
        if item.tag != "li":
            continue
        marker = f"{number}. " if ordered else "- "
        number += 1
        for text, code in _list_item(item, marker, depth):
            if code:
                if lines:
                    blocks.append(("\n".join(lines), False))
                    lines = []
                blocks.append((text, True))
            else:
                lines.append(text)
    if lines:
        blocks.append(("\n".join(lines), False))
    return blocks


def _list_item(
    item: LexborNode, marker: str, depth: int, opens: bool = True
) -> list[tuple[str, bool]]:
    """One item's lines (its first paragraph after the marker, unless the item was `opens`
    already) and code blocks, in order."""
    indent = "   " * depth
    out: list[tuple[str, bool]] = []
    inline: list[str] = []
    first = opens

    def paragraph() -> None:
        nonlocal first
        text = _clean("".join(inline))
        inline.clear()
        if text:
            lead = indent + (marker if first else "   ")
            out.append((lead + text.replace("\n", "\n" + indent + "   "), False))
            first = False

    for child in _children(item):
        if child.tag in ("ul", "ol"):
            paragraph()
            out.extend(_list_blocks(child, depth + 1))
        elif child.tag == "p":
            paragraph()
            inline.append(_inline(child))
            paragraph()
        elif child.tag == "pre" or "theme-code-block" in _classes(child):
            paragraph()
            out.append((_code(child), True))
        elif "tabs-container" in _classes(child):  # tabs in the item: each label, its text
            paragraph()
            for panel in _panels(child):
                label = _tab_label(panel)
                inline.append(tab_label(label) if label else "")
                paragraph()
                out.extend(_list_item(panel, marker, depth, opens=first))
                first = first and not out
        else:
            inline.append(_inline_node(child))
    paragraph()
    return out


def _table(node: LexborNode) -> str:
    lines = []
    for row in node.css("tr"):
        cells = [render_inline(c).replace("|", "\\|") for c in row.css("th, td")]
        lines.append("| " + " | ".join(cells) + " |")
        if row.css_first("th") is not None and len(lines) == 1:
            lines.append("|" + "---|" * len(cells))
    return "\n".join(lines)


def _code(node: LexborNode) -> str:
    """A code block as a fence with its language (from the `language-*` class) and title."""
    language = ""
    for candidate in (node, node.css_first("pre")):
        if candidate is None:
            continue
        for name in _classes(candidate):
            if name.startswith("language-"):
                language = name.removeprefix("language-")
    lines = node.css(".token-line")
    if lines:
        text = "\n".join(line.text() for line in lines)
    else:
        code = node.css_first("code") or node
        text = code.text()
    text = text.replace("\u200b", "").rstrip("\n")
    title = node.css_first("[class*='codeBlockTitle']")
    shown = _clean(title.text()) if title is not None else ""
    language += f' title="{shown}"' if shown else ""
    return f"```{language}\n{text}\n```" if text.strip() else f"```{language}\n```"


def page_markdown(title: str, sections: list[Section]) -> str:
    """The page as Markdown, for `/translate`: its title, each heading at its depth, and the
    blocks (code fenced whole) in reading order."""
    parts = [f"# {title}"]
    for section in sections:
        if section.headings:
            parts.append("#" * min(len(section.headings) + 1, 6) + " " + section.headings[-1])
        parts.extend(block.text for block in section.blocks)
    return "\n\n".join(parts) + "\n"
