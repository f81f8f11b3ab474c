"""Parse one Markdown/MDX page into front matter, a title and heading-delimited sections.

markdown-it-py does the parsing; this module walks its tokens. Text is kept as light
Markdown (links, emphasis, inline code, lists, tables, fenced code with its language) so a
section can be shown, quoted and translated with its structure, while MDX-only syntax is
dropped: top-level `import`/`export` statements and JSX tags (their inner text is kept),
and components' props (`mdx`). A page Docusaurus parses as CommonMark (the site's
`markdown.format`) has no such syntax: its `import` lines and `{/* */}` are text.

Longer than 300 lines because it is one walker over every kind of token markdown-it makes
of a page, each written as light Markdown, and the page as written for `/translate`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from markdown_it.token import Token

from bookrag.book.commonmark import commonmark_parser
from bookrag.book.docusaurus import Slugger, load_front_matter
from bookrag.book.mdx import (
    ADMONITION_KINDS,
    MDX_COMMENT,
    SLUG_ONLY,
    SUMMARY_END,
    TAB_END,
    TAB_LABEL,
    after_summary,
    as_built,
    drop_jsx_attributes,
    jsx_as_text,
    tab_label,
    under_tab,
    without_marks,
)
from bookrag.book.mdx_blocks import parser
from bookrag.book.partials import PARTIAL_END, PARTIAL_START
from bookrag.errors import PageParseError

_FOOTNOTE_REF = re.compile(r"\[\^([^\]\s]+)\]")
_FOOTNOTE_DEFINITION = re.compile(r"^ {0,3}\[\^([^\]\s]+)\]:", re.MULTILINE)
_EXPLICIT_ID = re.compile(r"\s*\{#([^}]*[^}\s][^}]*)\}\s*$")  # ids may hold spaces, as on the site
# `:::tip Title`, `:::tip[Title]`, `:::note{#id}`: a name, a label or title, no attributes.
_ADMONITION_TITLE = re.compile(
    r"^(?P<name>[\w-]+)\s*(?:\[(?P<bracketed>[^\]]*)\])?\s*(?:\{[^}]*\})?\s*(?P<title>.*)$"
)
LITERAL_NEWLINE = "\\n"  # in a one-line file meant to be many lines
_INNER_FENCE = re.compile(r"^\s*(`{3,})", re.MULTILINE)
_CODE_TITLE = re.compile(r"""\btitle=(?P<quote>["'])(?P<title>.*?)(?P=quote)""")
_INLINE_MARKS = {"strong": "**", "em": "*", "s": "~~"}
_IMPORT = re.compile(r"import\s")


@dataclass
class Block:
    """A paragraph, list, table or code block, as light Markdown."""

    text: str
    code: bool = False


@dataclass
class Section:
    """The content between one heading and the next."""

    headings: list[str]  # the heading trail below the page title, outermost first
    anchor: str  # "" for the text before the first heading
    blocks: list[Block] = field(default_factory=list)


@dataclass
class ParsedPage:
    """What a page says, before any URL is known."""

    front_matter: dict[str, Any]
    heading_title: str | None
    sections: list[Section]


_MD = parser()
_COMMONMARK = commonmark_parser()


def parse_page(source: str, commonmark: bool = False) -> ParsedPage:
    """Split a Markdown/MDX page into its front matter, `# title` and sections (read as
    CommonMark where Docusaurus reads it so: `commonmark`)."""
    return read_page(source, commonmark)[0]


def read_page(source: str, commonmark: bool = False) -> tuple[ParsedPage, str]:
    """`parse_page` and `page_markdown` of one page, parsing it once when dropping component
    props leaves it as written (most pages have none; a CommonMark page has no props)."""
    source = as_built(source, mdx=not commonmark)
    dropping = MDX_PROPS_DROPPED and not commonmark
    prose = drop_jsx_attributes(source) if dropping else source
    tokens = _tokens(prose, commonmark)
    footnotes = frozenset(_FOOTNOTE_DEFINITION.findall(prose))
    walked = _Walker(tokens, footnotes, commonmark).walk()
    return walked, page_markdown(source, tokens if prose == source else None, commonmark)


def _tokens(source: str, commonmark: bool = False) -> list[Token]:
    try:
        return (_COMMONMARK if commonmark else _MD).parse(source)
    except Exception as exc:  # markdown-it raises plain exceptions on pathological input
        raise PageParseError(f"markdown could not be parsed: {exc}") from exc


MDX_PROPS_DROPPED = True  # component props are not page text (switch kept for the ablation)


class _Walker:
    def __init__(
        self, tokens: list[Token], footnotes: frozenset[str] = frozenset(), commonmark: bool = False
    ) -> None:
        self.tokens = tokens
        self.footnotes = footnotes  # the labels of the page's footnote definitions
        self.commonmark = commonmark  # read as CommonMark, where `{/* */}` is no comment
        self.front_matter: dict[str, Any] = {}
        self.title: str | None = None
        self.slugger = Slugger()
        self.sluggers: list[Slugger] = []  # the pages' (or partials') a partial is in
        self.tabs: list[str] = []  # the labels of the tab panels being read, innermost last
        # Per open container directive (`::::os-tabs`): whether a leaf directive in it
        # (`::macos`) labels the text that follows, as a tab's label does (None in an
        # admonition, `:::tip`, whose leaf directives are embeds, not tabs).
        self.directives: list[bool | None] = []
        self.sections = [Section(headings=[], anchor="")]
        self.levels: list[int] = []  # heading level of each entry of the current trail
        self.lists: list[list[int]] = []  # per open list: [ordered?, next number]
        self.lines: list[str] = []  # lines of the list/table/quote being built
        self.quote_depth = 0
        self.row: list[str] = []

    def walk(self) -> ParsedPage:
        i = 0
        while i < len(self.tokens):
            i = self._step(i)
        sections = [s for s in self.sections if s.blocks or s.anchor]
        return ParsedPage(self.front_matter, self.title, sections)

    def _emit(self, text: str, code: bool = False) -> None:
        if text.strip():
            self.sections[-1].blocks.append(Block(text.rstrip("\n"), code))

    def _step(self, i: int) -> int:
        tok = self.tokens[i]
        kind = tok.type
        if kind == "front_matter":
            self.front_matter = load_front_matter(tok.content)
        elif kind == "heading_open":
            self._heading(tok, self.tokens[i + 1])
            return i + 3
        elif kind == "paragraph_open":
            inline = self.tokens[i + 1]
            if inline.content in (PARTIAL_START, PARTIAL_END):
                self._partial(inline.content == PARTIAL_START)
            elif inline.content.startswith(TAB_LABEL):
                self.tabs.append(inline.content.removeprefix(TAB_LABEL))
                self._paragraph(tab_label(self.tabs[-1]))
            else:
                text = render_inline(inline.children or [])
                under = self.tabs and not self.lists and not self.quote_depth
                self._paragraph(under_tab(self.tabs[-1], text) if under else text)
            html = [c.content for c in inline.children or [] if c.type == "html_inline"]
            self._tabs_end("".join(html))  # a `</TabItem>` in code closes nothing
            return i + 3
        elif kind in ("bullet_list_open", "ordered_list_open"):
            start = int(tok.attrGet("start") or 1)
            self.lists.append([kind == "ordered_list_open", start])
        elif kind == "list_item_open":
            self.lines.append("")  # marks where the next item starts
        elif kind in ("bullet_list_close", "ordered_list_close"):
            self.lists.pop()
            if not self.lists and not self.quote_depth:
                self._flush_lines()
        elif kind == "blockquote_open":
            self.quote_depth += 1
        elif kind == "blockquote_close":
            self.quote_depth -= 1
            if not self.quote_depth and not self.lists:
                self._flush_lines()
        elif kind in ("fence", "code_block"):
            # Where the page's fences pair up other than the parser expected, a mark of its
            # own may sit in code: no mark is page text.
            info = without_marks(tok.info or "").strip()
            lang = info.split(" ")[0]
            lang = "" if "=" in lang else lang  # ```title="x.py" has no language
            title = _CODE_TITLE.search(info)  # shown above the code on the site
            lang += f' title="{title.group("title")}"' if title else ""
            self._flush_lines()
            # Fenced with more backticks than any fence line it holds (a Markdown example
            # with code in it), so the block still ends where it ends.
            inner = max((len(m) for m in _INNER_FENCE.findall(tok.content)), default=0)
            ticks = "`" * max(3, inner + 1)
            self._emit(f"{ticks}{lang}\n{without_marks(tok.content)}{ticks}", code=True)
        elif kind == "container_admonition_open":
            match = _ADMONITION_TITLE.match(tok.info.strip())
            name = match.group("name").lower() if match else ""
            self.directives.append(None if name in ADMONITION_KINDS else False)
            if match:
                self._paragraph((match.group("bracketed") or match.group("title") or "").strip())
        elif kind == "container_admonition_close":
            if self.directives.pop() and self.tabs:
                self.tabs.pop()
        elif kind == "leaf_directive":
            self._leaf_directive(tok.info, tok.meta["label"])
        elif kind == "html_block":
            text = jsx_as_text(_uncommented(tok.content, self.commonmark))
            for paragraph in re.split(r"\n\s*\n", text):
                self._paragraph(" ".join(paragraph.split()))
            self._tabs_end(tok.content)
        elif kind == "tr_open":
            self.row = []
        elif kind in ("th_open", "td_open"):
            self.row.append(render_inline(self.tokens[i + 1].children or []).replace("|", "\\|"))
            return i + 3
        elif kind == "tr_close":
            self.lines.append("| " + " | ".join(self.row) + " |")
            if self.tokens[i + 1].type == "thead_close":
                self.lines.append("|" + "---|" * len(self.row))
        elif kind == "table_close":
            self._flush_lines()
        return i + 1

    def _leaf_directive(self, name: str, label: str) -> None:
        """In a container directive, `::macos` labels what follows it up to the next one (a
        book's tabs plugin); elsewhere (an admonition too) only a directive's `[label]` is
        text."""
        if not self.directives or self.directives[-1] is None:
            self._paragraph(label)
            return
        if self.directives[-1] and self.tabs:
            self.tabs.pop()
        self.directives[-1] = True
        self.tabs.append(label or name)
        self._paragraph(tab_label(self.tabs[-1]))

    def _tabs_end(self, content: str) -> None:
        """The tabs whose panels `content` closes are over."""
        for _ in TAB_END.finditer(content):
            if self.tabs:
                self.tabs.pop()

    def _partial(self, starts: bool) -> None:
        """A partial's headings are slugged on their own, as Docusaurus slugs them."""
        if starts:
            self.sluggers.append(self.slugger)
            self.slugger = Slugger()
        elif self.sluggers:
            self.slugger = self.sluggers.pop()

    def _paragraph(self, text: str) -> None:
        if not text.strip():
            return
        if self.lists:
            ordered, number = self.lists[-1]
            indent = "   " * (len(self.lists) - 1)
            starts_item = bool(self.lines) and self.lines[-1] == ""
            if starts_item:
                self.lines.pop()
                marker = f"{number}. " if ordered else "- "
                if ordered:
                    self.lists[-1][1] += 1
                text = indent + marker + text.replace("\n", "\n" + indent + "   ")
            else:
                text = indent + "   " + text
        if self.quote_depth:
            text = "\n".join("> " * self.quote_depth + line for line in text.split("\n"))
        if self.lists or self.quote_depth:
            self.lines.append(text)
        else:
            self._emit(text)

    def _flush_lines(self) -> None:
        lines = [line for line in self.lines if line]
        self.lines = []
        if lines:
            self._emit("\n".join(lines))

    def _heading(self, tok: Token, inline: Token) -> None:
        level = int(tok.tag[1])
        slugged = heading_text(inline.children or [], self.footnotes)
        explicit = _EXPLICIT_ID.search(slugged)
        slugged = slugged[: explicit.start()] if explicit else slugged
        # An explicit id is used as written and, as in Docusaurus, not counted by the slugger;
        # every other heading is, an <h1> too although the site gives it no id.
        slug_text = without_marks(SLUG_ONLY.sub(r"\1", slugged))
        html_id = tok.attrGet("id")  # an HTML heading's own id, which MDX keeps as written
        if html_id is not None:
            anchor = str(html_id)
        else:
            anchor = explicit.group(1).strip() if explicit else self.slugger.slug(slug_text)
        text = without_marks(slugged).strip()
        # Docusaurus titles a page by the `# heading` it starts with, after its `import`
        # statements, which a page parsed as CommonMark shows as text above it.
        imports = all(_IMPORT.match(b.text) and not b.code for b in self.sections[-1].blocks)
        first = not self.levels and imports and not self.sluggers
        if level == 1 and self.title is None and first:  # a partial's <h1> is no title
            self.title = text
            if is_one_line_page(text):
                self.title = one_line_title(text)
                self.sections[-1].blocks.extend(one_line_text(inline.content, self.commonmark))
            return
        if level == 1:
            # Docusaurus gives a second <h1> no id: its text belongs to the current section.
            self._paragraph(text)
            return
        while self.levels and self.levels[-1] >= level:
            self.levels.pop()
        trail = self.sections[-1].headings[: len(self.levels)]
        self.levels.append(level)
        self.sections.append(Section(headings=[*trail, text], anchor=anchor))


def is_one_line_page(heading: str) -> bool:
    """Whether a page's <h1> is a whole page written on one line with literal `\\n`s: its
    paragraphs are apart, `\\n\\n` (a title with one `\\n` in it, "Escapes: `\\n`", is
    a title)."""
    return LITERAL_NEWLINE * 2 in heading


def one_line_title(heading: str) -> str:
    """A one-line page's title: the first line of its <h1>."""
    return heading.partition(LITERAL_NEWLINE)[0].strip()


def one_line_text(heading: str, commonmark: bool = False) -> list[Block]:
    """A one-line file with literal `\\n`s renders as one long <h1> (titled by its first line,
    `one_line_title`); the rest, read as the Markdown it was written as (lists, code), is the
    page's text under the page's URL; its headings are bold lines of that text, since the site
    has no headings there. `heading` is the <h1>'s Markdown."""
    rest = heading.partition(LITERAL_NEWLINE)[2]
    rest = rest.replace(LITERAL_NEWLINE, "\n")
    inner = _Walker(_tokens(rest, commonmark), commonmark=commonmark).walk()
    blocks = [Block(f"**{inner.heading_title}**")] if inner.heading_title else []
    for section in inner.sections:
        if section.headings:  # in bold: a label for what follows, not a sentence to quote
            blocks.append(Block(f"**{section.headings[-1]}**"))
        blocks.extend(section.blocks)
    return blocks


def page_markdown(source: str, tokens: list[Token] | None = None, commonmark: bool = False) -> str:
    """The page as written, for a reader: every line as in the source (code blocks whole,
    headings, lists, tables, quotes), without the front matter, top-level MDX `import` /
    `export` statements, JSX tags and MDX comments, or explicit heading ids (`{#id}`);
    `tokens` are the source's own (parsed as CommonMark: `commonmark`), when at hand."""
    if tokens is None:
        tokens = _tokens(source, commonmark)
    lines = re.sub(r"\r\n?", "\n", source).split("\n")  # as markdown-it counts lines
    kept: list[str | None] = list(lines)
    for index, tok in enumerate(tokens):
        if tok.map is None:
            continue
        start, end = tok.map
        if tok.type in ("front_matter", "mdx_esm"):
            kept[start:end] = [None] * (end - start)
        elif tok.type == "html_block":
            for n in range(start, min(end, len(lines))):
                text = jsx_as_text(_uncommented(lines[n], commonmark))
                kept[n] = text if text.strip() else None
        elif tok.type == "heading_open" and tok.attrGet("id") is not None:
            # An HTML heading, as the Markdown heading it reads as (after the list item's
            # indent or the quote's `>` it sits in).
            prefix = lines[start].partition("<h")[0]
            heading = f"{prefix}{'#' * int(tok.tag[1])} {jsx_as_text(tokens[index + 1].content)}"
            kept[start:end] = [heading] + [None] * (end - start - 1)
        elif tok.type == "heading_open" and start < len(lines):
            kept[start] = SLUG_ONLY.sub("", _EXPLICIT_ID.sub("", lines[start])).rstrip()
    out: list[str] = []
    gap = False  # lines were left out since the last line kept
    for line in kept:
        if line is not None and line.strip() in (PARTIAL_START, PARTIAL_END):
            line = None
        elif line is not None:
            line = without_marks(line)
        if line is None:
            gap = True
            continue
        # Where lines were left out, blank lines around them merge into one; elsewhere
        # (in code above all) every line stays exactly as written.
        if not (gap and not line.strip() and (not out or not out[-1].strip())):
            out.append(line)
            gap = gap and not line.strip()
    return "\n".join(out).lstrip("\n")  # trailing lines may belong to an unclosed fence


def _uncommented(html: str, commonmark: bool) -> str:
    """HTML (or JSX) without its MDX comments; CommonMark has none (`{/* */}` is text)."""
    return html if commonmark else MDX_COMMENT.sub("", html)


def render_inline(children: list[Token]) -> str:
    """Inline tokens back to light Markdown, without HTML/JSX tags."""
    out: list[str] = []
    hrefs: list[str] = []
    for child in children:
        kind = child.type
        if kind == "text":
            out.append(child.content)
        elif kind == "code_inline":
            fence = "``" if "`" in child.content else "`"
            out.append(f"{fence}{child.content}{fence}")
        elif kind in ("softbreak", "hardbreak"):
            out.append("\n")
        elif kind == "link_open":
            hrefs.append(str(child.attrGet("href") or ""))
            out.append("[")
        elif kind == "link_close":
            out.append(f"]({hrefs.pop()})")
        elif kind == "image":
            out.append(child.content)
        elif kind == "html_inline" and SUMMARY_END.fullmatch(child.content.strip()):
            out.append(after_summary("".join(out)))
        elif kind.endswith(("_open", "_close")) and kind.rsplit("_", 1)[0] in _INLINE_MARKS:
            out.append(_INLINE_MARKS[kind.rsplit("_", 1)[0]])
    return without_marks("".join(out)).strip()


def heading_text(children: list[Token], footnotes: frozenset[str] = frozenset()) -> str:
    """The plain text of a heading, as Docusaurus slugs it: a reference to one of the page's
    `footnotes` (`[^1]`) adds nothing, whether it reads as text or, its definition being a
    URL, as a link."""

    def unreferenced(text: str) -> str:
        return _FOOTNOTE_REF.sub(lambda m: "" if m[1] in footnotes else m[0], text)

    parts: list[str] = []
    run: list[str] = []  # text tokens in a row: a reference may span several
    link: list[str] | None = None  # the text of the link being read
    for child in children:
        if child.type not in ("text", "code_inline", "image", "softbreak", "hardbreak"):
            if child.type == "link_open":
                link = []
            elif child.type == "link_close" and link is not None:
                label = "".join(link)
                run.append("" if label[1:] in footnotes and label[:1] == "^" else label)
                link = None
            continue
        text = " " if child.type.endswith("break") else child.content
        if link is not None:
            link.append(text)
        elif child.type == "text":
            run.append(text)
        else:  # code is as written: no reference in it
            parts += [unreferenced("".join(run)), text]
            run = []
    parts.append(unreferenced("".join(run)))
    return "".join(parts).strip()
