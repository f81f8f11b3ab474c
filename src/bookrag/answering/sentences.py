"""A section's prose as the units an answer quotes: sentences, and list items with the line
that leads into them; code blocks and tables left out."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from bookrag.book import teaching
from bookrag.book.chunking import SENTENCE_END, leads_in

_FENCE_MARK = re.compile(r"`{3,}")
CUT = "…"  # stands for what a quote leaves out
_LABEL_COLON = re.compile(r":([*_]*)\s*$")  # `**Lidar:**` names an item: `**Lidar**`
TOP_ITEM = re.compile(r"^(?:[-*+]|\d+[.)])\s+")  # not indented: not in another item


def sentences(text: str, asides: bool = False) -> Iterator[str]:
    """Sentences and list items of a section's prose (code blocks and tables are left out).

    Lines that do not teach (navigation, bare links, quiz options, questions put to the
    reader) are left out too unless `asides`; a list item comes with its lead-in line when
    that line ends in a colon, since the item alone would not say what it lists.
    """
    lead_in = ""
    for line in _outside_code(text.split("\n")):
        stripped = line.strip()
        if stripped.startswith("|") or not stripped:
            continue
        if not asides and (teaching.is_aside(stripped) or teaching.is_question(stripped)):
            continue
        item = teaching.LIST_MARK.match(stripped)
        if item is None:
            # A line ending in a colon: its last sentence introduces what follows and is
            # quoted with it (a list item); the sentences before it are prose like any other.
            lead_in = _lead_in(stripped)
        elif lead_in:
            parts = [s for s in SENTENCE_END.split(stripped[item.end() :]) if s.strip()]
            number = item.group().strip() + " " if item.group()[:1].isdigit() else ""
            yield f"{lead_in} {number}{parts[0].strip()}" if parts else lead_in
            parts = parts[1:]
            yield from (p.strip() for p in parts if len(p.split()) >= 3)
            continue
        # An item keeps its marker (`3. Find Isaac Sim`): a step's number says where it falls.
        marker = item.group().strip() + " " if item else ""
        parts = SENTENCE_END.split(stripped[item.end() :] if item else stripped)
        parts[0] = marker + parts[0]
        yield from (
            s.strip()
            for s in parts
            if len(s.split()) >= 3
            and not leads_in(s)
            and (asides or not (teaching.is_question(s.strip("\"'“”")) or teaching.is_quiz(s)))
        )


def _lead_in(line: str) -> str:
    """The sentence of `line` that introduces what follows it (its last, when the line ends
    in a colon), or "". `sentences` and `lists` must agree on it: quotes are merged by it."""
    return SENTENCE_END.split(line)[-1].strip() if leads_in(line) else ""


def _outside_code(lines: list[str]) -> Iterator[str]:
    """The lines that are not in a fenced code block, nor its fences."""
    fence = ""
    for line in lines:
        fence, inside = fence_after(fence, line)
        if not inside:
            yield line


def fence_after(fence: str, line: str) -> tuple[str, bool]:
    """The fence open after `line` ("" for none) and whether `line` is code or a fence; a
    block closes at a bare fence at least as long as the one that opened it."""
    stripped = line.strip()
    mark = _FENCE_MARK.match(stripped)
    if fence:
        closes = mark is not None and len(mark.group()) >= len(fence) and stripped == mark.group()
        return ("" if closes else fence), True
    return (mark.group(), True) if mark else ("", False)


@dataclass(frozen=True)
class ListBlock:
    """A list of a section's prose: the line leading into it, its items' first sentences (with
    their markers, and `…` after an item that says more), and all its lines (nested items
    too)."""

    lead_in: str
    items: list[str]
    lines: list[str]


def lists(text: str) -> list[ListBlock]:
    """The top-level lists of a section's prose, each with the line that leads into it."""
    found: list[ListBlock] = []
    lead_in, items, lines = "", list[str](), list[str]()
    for line in [*_outside_code(text.split("\n")), ""]:
        stripped = line.strip()
        item = TOP_ITEM.match(line)
        if item or (items and stripped and line[:1].isspace()):
            if item:
                first, *more = SENTENCE_END.split(line[item.end() :].strip())
                name = _LABEL_COLON.sub(r"\1", first)
                items.append(f"{item.group().strip()} {name}")
            if not item or more:  # the item says more than its first sentence: marked
                items[-1] = items[-1].removesuffix(f" {CUT}") + f" {CUT}"
            lines.append(stripped)
            continue
        if items:
            found.append(ListBlock(lead_in, items, lines))
            items, lines = [], []
        if stripped:
            lead_in = _lead_in(stripped)
    return found
