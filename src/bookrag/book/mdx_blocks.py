"""The markdown-it parser that reads a page's blocks as MDX does: indentation means no code,
a line of JSX tags is a block of its own, an `import`/`export` statement runs to where its
code ends (blank lines and all), an HTML heading with an id is a heading, and Docusaurus
admonitions and other directives are containers (those and HTML headings are read in a
CommonMark page too: `commonmark`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Literal, NamedTuple

from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock, fence, paragraph
from markdown_it.token import Token
from mdit_py_plugins.container import container_plugin
from mdit_py_plugins.front_matter import front_matter_plugin

from bookrag.book.esm import cut_short
from bookrag.book.mdx import tag_end

BlockRule = Callable[[StateBlock, int, int, bool], bool]
Reach = Callable[[StateBlock, int, int, bool], int]  # the line a rule reads up to
Push = Callable[[str, str, Literal[-1, 0, 1]], Token]  # adds a token: type, tag, nesting

# Where a JSX tag starts: `<div`, `</TabItem`, `<Card.Title`, or a fragment's `<>`, `</>`.
_TAG_START = re.compile(r"</?(?:[A-Za-z][\w.:-]*(?=\s|/?>)|(?=>))")
# MDX's ESM: `import` or `export` and one space, at the very start of a line.
_ESM_START = re.compile(r"(?:import|export) ")
# An HTML heading (not `<H2>`, a component), and its id when written as a string.
_HTML_HEADING = re.compile(r"<h([2-6])(?=[\s>])")
_HTML_ID = re.compile(r"""\sid\s*=\s*(?:\{\s*)?(["'`])(?P<id>(?:(?!\1)[^\n])*)\1""")
# A leaf directive on a line of its own: `::macos`, `::youtube[A talk]{#id}` (remark-directive,
# which Docusaurus parses with; a book's own plugin gives it meaning).
_LEAF_DIRECTIVE = re.compile(
    r"::(?P<name>[A-Za-z][\w-]*)(?:\[(?P<label>[^\]\n]*)\])?(?:\{[^}\n]*\})?[ \t]*$"
)


def parser() -> MarkdownIt:
    """CommonMark with tables, strikethrough, front matter and admonitions, read as MDX."""
    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    # MDX, the format Docusaurus parses pages in by default, has no indented code: four
    # spaces of indentation mean nothing special, so an indented fence still opens (or
    # closes) code, even right after a paragraph line. Without this, a fence mis-indented
    # under a list item pairs up differently than on the built site, and headings that the
    # site shows as code (or not at all) become sections whose anchors do not exist.
    md.disable("code")
    md.block.ruler.at(
        "fence", _ignoring_deep_indent(fence, _fence_reach), {"alt": _FENCE_INTERRUPTS}
    )
    md.block.ruler.at("paragraph", _ignoring_deep_indent(paragraph, _paragraph_reach))
    with_docusaurus_blocks(md)
    md.block.ruler.before("html_block", "jsx_flow", _jsx_flow, {"alt": _FENCE_INTERRUPTS})
    md.block.ruler.before("jsx_flow", "html_heading", html_heading_block)
    md.block.ruler.before("table", "mdx_esm", _esm)
    return md


def with_docusaurus_blocks(md: MarkdownIt) -> None:
    """Front matter, and the directives Docusaurus reads in either format (remark-directive):
    admonitions (`:::tip Title` ... `:::`), container directives of any kind, leaf ones."""
    md.use(front_matter_plugin)
    md.use(container_plugin, name="admonition", validate=lambda params, *args: True)
    md.block.ruler.before("paragraph", "leaf_directive", _leaf_directive, {"alt": ["paragraph"]})


def _esm(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    """`import ` or `export ` starting a line outside any container: an `mdx_esm` token for
    the statements, read on past blank lines for as long as the code is cut short there
    (`esm.cut_short`), as MDX reads them; one that never ends, up to the first blank line."""
    if state.level or state.tShift[start] or not _ESM_START.match(_line(state, start)):
        return False
    if silent:
        return True
    line, first_blank = start, None
    while True:
        while line < end and not state.isEmpty(line):
            line += 1
        first_blank = line if first_blank is None else first_blank
        code = state.getLines(start, line, 0, False)
        if not cut_short(code):
            break
        if line >= end:
            line = first_blank
            code = state.getLines(start, line, 0, False)
            break
        while line < end and state.isEmpty(line):
            line += 1
    token = state.push("mdx_esm", "", 0)
    token.content = code
    token.map = [start, line]
    state.line = line
    return True


class HtmlHeading(NamedTuple):
    """An HTML heading with an id, as `html_heading` reads it."""

    level: int
    id: str
    text: str  # its content, on one line
    lines: int  # the lines it spans


def html_heading(text: str) -> HtmlHeading | None:
    """The HTML heading with an id that `text` starts with, standing alone (on one line or
    several, its closing tag ending a line). An id that is not a string (`id={slug}`) is not
    read."""
    opening = _HTML_HEADING.match(text)
    tag = None if opening is None else tag_end(text, opening.end())
    if opening is None or tag is None or text[tag - 2 : tag] == "/>":
        return None
    found = _HTML_ID.search(text[:tag])
    closing = re.compile(rf"</h{opening.group(1)}\s*>").search(text, tag)
    if found is None or closing is None or text[closing.end() :].split("\n", 1)[0].strip():
        return None  # a heading in a paragraph's text is that text
    inner = " ".join(text[tag : closing.start()].split())
    lines = text.count("\n", 0, closing.end()) + 1
    return HtmlHeading(int(opening.group(1)), found.group("id"), inner, lines)


def html_heading_block(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    """`<h2 id="wiring">Wiring</h2>` standing alone (`html_heading`): heading tokens with
    that id as their `id` attribute. MDX renders it as an <h2> with that id, so the built page
    has the anchor; being no Markdown heading, it is not counted by the slugger."""
    if state.sCount[start] - state.blkIndent > 3 or not _HTML_HEADING.match(_line(state, start)):
        return False
    heading = html_heading(state.getLines(start, end, state.blkIndent, False).lstrip())
    if heading is None or silent:
        return heading is not None
    push_heading(state.push, heading, [start, start + heading.lines])
    state.line = start + heading.lines
    return True


def push_heading(push: Push, heading: HtmlHeading, lines: list[int]) -> None:
    """Push the tokens of an HTML `heading` spanning `lines` ([first, past last])."""
    opening = push("heading_open", f"h{heading.level}", 1)
    opening.attrSet("id", heading.id)
    opening.map = lines
    inline = push("inline", "", 0)
    inline.content = heading.text
    inline.map = lines
    inline.children = []
    push("heading_close", f"h{heading.level}", -1)


def _line(state: StateBlock, line: int) -> str:
    """A line's text from its first non-space character."""
    return state.src[state.bMarks[line] + state.tShift[line] : state.eMarks[line]]


def _leaf_directive(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    """`::name[label]{attributes}` alone on a line: a `leaf_directive` token, its name as
    `info` and its label (if any) as `meta["label"]`."""
    if state.sCount[start] - state.blkIndent > 3:
        return False
    match = _LEAF_DIRECTIVE.match(_line(state, start))
    if match is None:
        return False
    if not silent:
        token = state.push("leaf_directive", "", 0)
        token.info = match.group("name")
        token.meta = {"label": (match.group("label") or "").strip()}
        token.map = [start, start + 1]
        state.line = start + 1
    return True


_FENCE_INTERRUPTS = ["paragraph", "reference", "blockquote", "list"]


def _ignoring_deep_indent(rule: BlockRule, reach: Reach) -> BlockRule:
    """`rule` with every line it can read indented at most three columns into the current
    block, as MDX reads indentation; the real indentation is restored afterwards."""

    def clamped(state: StateBlock, start: int, end: int, silent: bool) -> bool:
        # Only the lines the rule can read: clamping to the end of the page for every
        # paragraph made parsing quadratic in a page's length.
        stop = min(reach(state, start, end, silent), end)
        saved = state.sCount[start:stop]
        limit = state.blkIndent + 3
        state.sCount[start:stop] = [c if c <= limit else limit for c in saved]
        try:
            return rule(state, start, end, silent)
        finally:
            state.sCount[start:stop] = saved

    return clamped


def _fence_reach(state: StateBlock, start: int, end: int, silent: bool) -> int:
    """A fence reads its first line to know whether it opens (all a check asks), and only
    when it does, every line up to its closing fence."""
    position = state.bMarks[start] + state.tShift[start]
    opens = position < state.eMarks[start] and state.src[position] in "`~"
    return end if opens and not silent else start + 1


def _paragraph_reach(state: StateBlock, start: int, end: int, silent: bool) -> int:
    """A paragraph reads on to its first blank line, and the rules that may end it early
    look at most one line further."""
    line = start + 1
    while line < state.lineMax and not state.isEmpty(line):
        line += 1
    return line + 1


def _jsx_flow(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    """A line of nothing but JSX tags (`<div>`, `</TabItem>`, `<Figure />`): an `html_block`
    token of its own. MDX reads the lines after such a tag as Markdown (a heading, a fence,
    a paragraph in a `<div>` or `<details>`), where CommonMark would take them into an HTML
    block running on to the next blank line; and the tag ends a paragraph or a list item
    before it, as in MDX."""
    line = _line(state, start)
    if not only_tags(line):
        return False
    if not silent:
        token = state.push("html_block", "", 0)
        token.content = line + "\n"
        token.map = [start, start + 1]
        state.line = start + 1
    return True


def only_tags(line: str) -> bool:
    """Whether `line` holds one JSX tag or more and nothing else but spaces."""
    text = line.rstrip()
    position = 0
    while position < len(text):
        tag = _TAG_START.match(text, position)
        closed = tag and tag_end(text, tag.end())
        if not closed:
            return False
        position = closed + len(text[closed:]) - len(text[closed:].lstrip())
    return position > 0
