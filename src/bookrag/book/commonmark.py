"""The markdown-it parser that reads a page as Docusaurus reads one in its CommonMark format
(`markdown: {format: 'md'}`, or `'detect'` for a `.md` file): no MDX at all, so `import`,
`export` and `{/* */}` are text, a component's tag is raw HTML, indented lines are code, and an
HTML block runs on to a blank line; front matter, admonitions and other directives, explicit
heading ids (`{#id}`) and HTML headings with ids are read as in MDX (`mdx_blocks`)."""

from __future__ import annotations

from typing import Literal

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

from bookrag.book.mdx_blocks import (
    html_heading,
    html_heading_block,
    push_heading,
    with_docusaurus_blocks,
)


def commonmark_parser() -> MarkdownIt:
    """CommonMark with tables, strikethrough, front matter and admonitions, as Docusaurus's
    CommonMark format reads a page."""
    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    with_docusaurus_blocks(md)
    md.block.ruler.before("html_block", "html_heading", html_heading_block)
    md.core.ruler.after("block", "headings_in_html", _headings_in_html)
    return md


def _headings_in_html(state: StateCore) -> None:
    """An HTML heading with an id inside an HTML block (`<div>`, then `<h2 id="wiring">`
    on the next line) is a heading the site shows with that anchor (Docusaurus renders a
    CommonMark page's HTML as HTML), so it gets tokens of its own, between the block's other
    lines."""
    tokens: list[Token] = []
    for token in state.tokens:
        if token.type == "html_block" and token.map is not None and "<h" in token.content:
            tokens.extend(_split(token, token.map[0]))
        else:
            tokens.append(token)
    state.tokens = tokens


def _split(block: Token, first_line: int) -> list[Token]:
    """`block`, an HTML block starting at `first_line`, as HTML blocks and the headings with
    ids on lines of their own in it."""
    out: list[Token] = []

    def push(kind: str, tag: str, nesting: Literal[-1, 0, 1]) -> Token:
        token = Token(kind, tag, nesting, level=block.level, block=True)
        out.append(token)
        return token

    def html(start: int, end: int) -> None:
        if any(line.strip() for line in lines[start:end]):
            token = push("html_block", "", 0)
            token.content = "".join(f"{line}\n" for line in lines[start:end])
            token.map = [first_line + start, first_line + end]

    lines = block.content.removesuffix("\n").split("\n")
    start = index = 0
    while index < len(lines):
        heading = html_heading("\n".join(lines[index:]).lstrip())
        if heading is None:
            index += 1
            continue
        html(start, index)
        push_heading(push, heading, [first_line + index, first_line + index + heading.lines])
        index = start = index + heading.lines
    if start == 0:
        return [block]
    html(start, len(lines))
    return out
