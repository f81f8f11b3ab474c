"""MDX's own syntax in a Markdown page: ESM `import`/`export` lines, JSX tags and comments,
and the props of components, which are not page text; and a markdown-it parser that reads
indentation as MDX does and knows Docusaurus admonitions and other directives.

Longer than 300 lines because each piece of MDX syntax that is not Markdown's needs its own
small reader (statements, tags, props, comments in headings, tab labels, directives), and
they must agree with one another and with the parser's rules.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial

from markdown_it import MarkdownIt
from markdown_it.rules_block import StateBlock, fence, paragraph
from mdit_py_plugins.container import container_plugin
from mdit_py_plugins.front_matter import front_matter_plugin

BlockRule = Callable[[StateBlock, int, int, bool], bool]
Reach = Callable[[StateBlock, int, int, bool], int]  # the line a rule reads up to

ESM_STATEMENT = re.compile(r"^(import|export)\s")
JSX_TAG = re.compile(r"</?[A-Za-z][\w.:-]*(\s[^<>]*)?/?>")
MDX_COMMENT = re.compile(r"\{/\*.*?\*/\}", re.DOTALL)
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_COMPONENT_START = re.compile(r"^\s*<[A-Z][\w.]*")
# Starts the paragraph that stands for a tab's label, which the tab's paragraphs are read
# under ("**macOS:** Install Homebrew first."), until `TAB_END`.
TAB_LABEL = "\ue004"
_MARKS = re.compile("[\ue000-\ue004]")
TAB_END = re.compile(r"</TabItem\s*>")
# Docusaurus's admonitions (`:::tip`); other container directives are a book's own plugins'.
ADMONITION_KINDS = frozenset(
    {"note", "tip", "info", "warning", "danger", "caution", "important", "success", "secondary"}
)
SUMMARY_END = re.compile(r"</summary\s*>", re.IGNORECASE)
# A prop given a plain string: `label="macOS"`, `label='macOS'` or `label={"macOS"}`.
_STRING_PROP = re.compile(
    r"""\s(?P<name>\w+)=(?:\{\s*)?(?P<quote>["'`])(?P<text>(?:(?!(?P=quote)).)*)(?P=quote)"""
)
# Outside fenced code: an inline code span (kept as written), or a comment.
_CODE_OR_COMMENT = re.compile(
    r"(?P<code>(?P<ticks>`+)[^\n]+?(?<!`)(?P=ticks)(?!`))|\{/\*[\s\S]*?\*/\}|<!--[\s\S]*?-->"
)
# In a heading, MDX counts the text of a comment in the heading's id (Docusaurus slugs
# `## A {/* note */} B` as `a--note--b`, and `## A <!-- note -->` as `a-`) but shows none
# of it: such a comment is kept between these marks, which the Markdown walker slugs with
# the heading and leaves out of the text.
SLUG_ONLY = re.compile("\ue000([^\ue001]*)\ue001")
_ATX_HEADING = re.compile(r" {0,3}#{1,6}[ \t]")
# The one MDX comment ending a heading: `## Setup {/* #install */}` (from its last `{/*`).
_ENDING_COMMENT = re.compile(r"\{/\*(?P<comment>(?:(?!\*/).)*)\*/\}[ \t]*")
# A leaf directive on a line of its own: `::macos`, `::youtube[A talk]{#id}` (remark-directive,
# which Docusaurus parses with; a book's own plugin gives it meaning).
_LEAF_DIRECTIVE = re.compile(
    r"::(?P<name>[A-Za-z][\w-]*)(?:\[(?P<label>[^\]\n]*)\])?(?:\{[^}\n]*\})?[ \t]*$"
)


def as_built(source: str) -> str:
    """The page without what the built site does not show: a byte order mark, comments."""
    return drop_comments(source.removeprefix("\ufeff"))


def drop_comments(source: str) -> str:
    """`source` without its MDX (`{/* */}`) and HTML (`<!-- -->`) comments outside code,
    which the built page does not show (Docusaurus reads an HTML comment as an MDX one), nor
    the blank lines they leave."""
    if "{/*" not in source and "<!--" not in source:
        return source
    out: list[str] = []
    prose: list[str] = []
    fence = ""
    for line in source.split("\n"):
        fence, code = code_fence(fence, line)
        if not code:
            prose.append(line)
            continue
        out.extend(_without_comments(prose))
        prose = []
        out.append(line)
    out.extend(_without_comments(prose))
    return "\n".join(out)


def code_fence(fence: str, line: str) -> tuple[str, bool]:
    """The code fence open after `line` ("" for none), given the one open before it, and
    whether `line` is code or a fence; a fence closes at a bare one of its kind at least as
    long (```` ```python ```` inside a ```` ``` ```` block is code, as in CommonMark)."""
    opened = _FENCE.match(line)
    if fence:
        mark = opened.group(1) if opened and not line[opened.end() :].strip() else ""
        closes = mark[:1] == fence[0] and len(mark) >= len(fence)
        return ("" if closes else fence), True
    return (opened.group(1), True) if opened else ("", False)


def _without_comments(lines: list[str]) -> list[str]:
    if not lines:
        return []
    text = "\n".join(_comment_id_as_classic(line) for line in lines)
    text = _CODE_OR_COMMENT.sub(partial(_comment_outside_code, text), text)
    return re.sub(r"\n\s*\n(?:\s*\n)+", "\n\n", text).split("\n")


def _comment_outside_code(text: str, found: re.Match[str]) -> str:
    """What is left of a comment (or a code span, kept as written) in `text`: nothing, or in
    a heading the text MDX slugs it by, between `SLUG_ONLY`'s marks."""
    comment = found.group()
    if found.group("code"):
        return comment
    line_start = text.rfind("\n", 0, found.start()) + 1
    if "\n" in comment or not _ATX_HEADING.match(text, line_start):
        return ""
    slugged = comment[1:-1] if comment.startswith("{") else ""
    return f"\ue000{slugged}\ue001"


def _comment_id_as_classic(line: str) -> str:
    """A heading's id given in the MDX comment that ends it, as Docusaurus (3.10 on) reads
    one: the comment's first word, when it starts with `#` (`{/* #install */}` is
    `{#install}`). Written as the classic `{#install}`, which the Markdown walker reads and
    which is no comment to drop. (Docusaurus reads an HTML comment as an id only in pages it
    parses as CommonMark, not as MDX, which is its default.)"""
    start = line.rfind("{/*")
    found = _ENDING_COMMENT.fullmatch(line, start) if _ATX_HEADING.match(line) else None
    if start < 0 or found is None:
        return line
    first = found.group("comment").strip().split(" ")[0]
    if not first.startswith("#") or len(first) < 2 or "}" in first:
        return line
    return f"{line[:start].rstrip()} {{{first}}}"


def without_marks(text: str) -> str:
    """`text` without what this module marks for the Markdown walker, where no mark belongs
    (a mark that ended up outside a heading, a tab label inside raw HTML)."""
    return _MARKS.sub("", SLUG_ONLY.sub("", text))


def drop_jsx_attributes(source: str) -> str:
    """Remove the attributes of MDX components that open a line (`<Quiz questions={[...]}>`).

    MDX renders a component's props as the component decides, not as the page's prose, and
    a prop may span blank lines that would cut a CommonMark HTML block short; keeping only
    the bare tag leaves the component's children (real text) to be parsed as Markdown.
    """
    lines = source.split("\n")
    out: list[str] = []
    fence = ""
    i = 0
    while i < len(lines):
        line = lines[i]
        fence, code = code_fence(fence, line)
        if not code and (start := _COMPONENT_START.match(line)):
            end = _tag_end("\n".join(lines[i:]), start.end())
            if end is not None:
                rest = "\n".join(lines[i:])
                closing = "/>" if rest[end - 2 : end] == "/>" else ">"
                tail = rest[end:].split("\n")
                consumed = rest[:end].count("\n")
                out.append(start.group() + closing)
                out.extend(_shown_label(rest[:end]))
                out.append(tail[0])
                i += consumed + 1
                continue
        out.append(line)
        i += 1
    return "\n".join(out)


def _shown_label(tag: str) -> list[str]:
    """The lines that stand for a tag's `shown_prop`, if it has one: a paragraph the Markdown
    walker knows by `TAB_LABEL` (indented as the tag, which may sit in a list item); an
    empty tab (`<TabItem ... />`) holds no text to read under it."""
    label = shown_prop(tag)
    if not label:
        return []
    indent = tag[: len(tag) - len(tag.lstrip())]
    empty = tag.rstrip().endswith("/>")
    return ["", indent + (tab_label(label) if empty else TAB_LABEL + label), ""]


def tab_label(label: str) -> str:
    """A tab's label as page text, before its panel (`**macOS**`)."""
    return f"**{label}**"


def under_tab(label: str, text: str) -> str:
    """A paragraph of a tab's panel, read under the tab's label: `**macOS:** Run brew.`"""
    return f"**{label}:** {text}" if text else text


def shown_prop(tag: str) -> str | None:
    """The one prop Docusaurus shows as text, if `tag` opens a `TabItem` that has it: its
    label (its value when it has none), the tab a reader picks (`macOS`, `Windows`), which
    tells the tabs' text apart."""
    if not re.match(r"\s*<TabItem[\s/>]", tag):
        return None
    props = {found.group("name"): found.group("text") for found in _STRING_PROP.finditer(tag)}
    return (props.get("label") or props.get("value") or "").strip() or None


def jsx_as_text(line: str) -> str:
    """A line of an HTML block without its JSX tags, but for the `shown_prop` of each (in
    bold), and without what `SLUG_ONLY` marks (a heading-like line there is no heading); a
    `<details>` summary reads as the lead-in to what it hides (`after_summary`)."""

    def shown(tag: re.Match[str]) -> str:
        label = shown_prop(tag.group())
        return tab_label(label) if label else ""

    def summary_end(tag: re.Match[str]) -> str:
        return after_summary(JSX_TAG.sub("", tag.string[: tag.start()]))

    return JSX_TAG.sub(shown, SUMMARY_END.sub(summary_end, without_marks(line)))


def after_summary(summary: str) -> str:
    """What follows a `<details>` summary's text (`before`): a colon, so `Answer` and the
    answer it hides do not run together (`Answer7`), unless it ends in punctuation."""
    text = summary.rstrip().rstrip("*_")  # `**Answer.**` ends in its full stop
    return " " if not text or text[-1] in ".:?!" else ": "


def _tag_end(text: str, position: int) -> int | None:
    """The index just past the `>` closing a JSX tag, skipping strings and `{...}`."""
    depth, quote = 0, ""
    for index in range(position, len(text)):
        char = text[index]
        if quote:
            if char == quote and text[index - 1] != "\\":
                quote = ""
        elif char in "\"'`":
            quote = char
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
        elif char == ">" and depth == 0:
            return index + 1
        elif char == "<" and depth == 0 and index > position:
            return None  # not a well-formed tag: leave the line to the Markdown parser
    return None


def parser() -> MarkdownIt:
    """CommonMark with tables, strikethrough, front matter and admonitions, read as MDX."""
    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    # Docusaurus parses pages as MDX, which has no indented code: four spaces of indentation
    # mean nothing special, so an indented fence still opens (or closes) code, even right
    # after a paragraph line. Without this, a fence mis-indented under a list item pairs up
    # differently than on the built site, and headings that the site shows as code (or
    # not at all) become sections whose anchors do not exist.
    md.disable("code")
    md.block.ruler.at(
        "fence", _ignoring_deep_indent(fence, _fence_reach), {"alt": _FENCE_INTERRUPTS}
    )
    md.block.ruler.at("paragraph", _ignoring_deep_indent(paragraph, _paragraph_reach))
    md.use(front_matter_plugin)
    # Docusaurus admonitions (`:::tip Title` ... `:::`), and container directives of any kind.
    md.use(container_plugin, name="admonition", validate=lambda params, *args: True)
    md.block.ruler.before("paragraph", "leaf_directive", _leaf_directive, {"alt": ["paragraph"]})
    return md


def _leaf_directive(state: StateBlock, start: int, end: int, silent: bool) -> bool:
    """`::name[label]{attributes}` alone on a line: a `leaf_directive` token, its name as
    `info` and its label (if any) as `meta["label"]`."""
    if state.sCount[start] - state.blkIndent > 3:
        return False
    line = state.src[state.bMarks[start] + state.tShift[start] : state.eMarks[start]]
    match = _LEAF_DIRECTIVE.match(line)
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
