"""MDX's own syntax in a Markdown page: JSX tags and comments, and the props of components,
which are not page text. The parser that reads a page's blocks as MDX does is `mdx_blocks`
(its ESM `import`/`export` statements ending where `esm` finds they end)."""

from __future__ import annotations

import re
from functools import partial

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
# Outside fenced code: an inline code span (kept as written), or a comment (in CommonMark,
# which has no MDX comments, an HTML one only).
_CODE = r"(?P<code>(?P<ticks>`+)[^\n]+?(?<!`)(?P=ticks)(?!`))"
_CODE_OR_COMMENT = re.compile(rf"{_CODE}|\{{/\*[\s\S]*?\*/\}}|<!--[\s\S]*?-->")
_CODE_OR_HTML_COMMENT = re.compile(rf"{_CODE}|<!--[\s\S]*?-->")
# In a heading, MDX counts the text of a comment in the heading's id (Docusaurus slugs
# `## A {/* note */} B` as `a--note--b`, and `## A <!-- note -->` as `a-`) but shows none
# of it: such a comment is kept between these marks, which the Markdown walker slugs with
# the heading and leaves out of the text.
SLUG_ONLY = re.compile("\ue000([^\ue001]*)\ue001")
_ATX_HEADING = re.compile(r" {0,3}#{1,6}[ \t]")
# The one MDX comment ending a heading: `## Setup {/* #install */}` (from its last `{/*`).
_ENDING_COMMENT = re.compile(r"\{/\*(?P<comment>(?:(?!\*/).)*)\*/\}[ \t]*")


def as_built(source: str, mdx: bool = True) -> str:
    """The page without what the built site does not show: a byte order mark, comments (a
    page parsed as CommonMark, not `mdx`, has HTML comments only: `{/* */}` is its text)."""
    return drop_comments(source.removeprefix("\ufeff"), mdx)


def drop_comments(source: str, mdx: bool = True) -> str:
    """`source` without its MDX (`{/* */}`, in `mdx` only) and HTML (`<!-- -->`) comments
    outside code, which the built page does not show (Docusaurus reads an HTML comment as an
    MDX one, and drops it from CommonMark too), nor the blank lines they leave."""
    if ("{/*" not in source or not mdx) and "<!--" not in source:
        return source
    out: list[str] = []
    prose: list[str] = []
    fence = ""
    for line in source.split("\n"):
        fence, code = code_fence(fence, line)
        if not code:
            prose.append(line)
            continue
        out.extend(_without_comments(prose, mdx))
        prose = []
        out.append(line)
    out.extend(_without_comments(prose, mdx))
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


def _without_comments(lines: list[str], mdx: bool) -> list[str]:
    if not lines:
        return []
    text = "\n".join(_comment_id_as_classic(line) if mdx else line for line in lines)
    comments = _CODE_OR_COMMENT if mdx else _CODE_OR_HTML_COMMENT
    text = comments.sub(partial(_comment_outside_code, text), text)
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
            end = tag_end("\n".join(lines[i:]), start.end())
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


def tag_end(text: str, position: int) -> int | None:
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
