"""A section's prose as the units an answer quotes: sentences, list items with the line
that leads into them, and table rows naming their columns; code blocks left out."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from bookrag.answering.prose import CODE_MARKS, LEFT_OUT, lead_in_of, list_ends, outside_code
from bookrag.book import cjk, teaching
from bookrag.book.chunking import SENTENCE_END, ends_in_colon, leads_in

CUT = "…"  # stands for what a quote leaves out
_LABEL_COLON = re.compile(r"[:：]([*_]*)\s*$")  # `**Lidar:**` names an item: `**Lidar**`
# An item ending in a colon leads into its own items (switch kept for the ablation).
NESTED_LEAD_INS = True
TOP_ITEM = re.compile(r"^(?:[-*+]|\d+[.)])\s+")  # not indented: not in another item
TABLE_ROW = re.compile(r"^\s*\|", re.MULTILINE)
_RULE = re.compile(r"^\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?$")  # a table's header rule
# A table's rows are quoted as sentences naming their columns (switch kept for the ablation).
TABLE_ROWS = True
# A line leading into a code block is quoted, and its code after it (switch for the ablation).
LEAD_IN_CODE = True
# A block quote wholly in quotation marks is a prompt for the reader, not quoted (switch).
QUOTED_PROMPTS = True
_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)  # a line break inside a table cell


def sentences(text: str, asides: bool = False) -> Iterator[str]:
    """Sentences, list items and table rows of a section's prose (code blocks left out).

    Lines that do not teach (navigation, bare links, quiz options, questions put to the
    reader) are left out too unless `asides`; a list item comes with its lead-in line when
    that line ends in a colon, since the item alone would not say what it lists, and a nested
    item with the item it is in when that one ends in a colon (`**Rain gauge:** A bucket ...`).
    A table row reads as a sentence naming its columns (`Loaf: Brioche; Oven: 180 degrees`),
    so a fact in a table is quoted as one in prose is.
    """
    lead_in = ""
    labels: list[tuple[int, str]] = []  # the open items that end in a colon: indent, text
    listing = False  # the last line read was a list's (an item, or a line going on with one)
    kept = outside_code(text.split("\n"), marks=True)
    header: list[str] = []  # the column names of the table being read
    into_code = _into_code(kept)
    prompts = set() if asides or not QUOTED_PROMPTS else teaching.quoted_prompts(kept)
    for i, (line, role, ends) in enumerate(
        zip(kept, _table_roles(kept), list_ends(kept), strict=True)
    ):
        stripped = line.strip()
        if ends:  # the next list has a lead-in of its own, or none
            lead_in, labels, listing = "", [], False
        if line in CODE_MARKS:
            continue
        if role == "header":
            header = _cells(stripped)
        elif role == "row" and TABLE_ROWS and (asides or not teaching.is_aside(stripped)):
            row = _row(header, _cells(stripped))
            if cjk.word_count(row) >= 3:
                yield row
        if role:
            listing = False
            continue
        if not stripped:
            continue
        item = teaching.LIST_MARK.match(stripped)
        indent = len(line) - len(line.lstrip())
        going_on = item is None and indent > 0 and listing  # a line indented under an item
        if item is None and not going_on:
            # A line ending in a colon: its last sentence introduces what follows and is
            # quoted with it (a list item); the sentences before it are prose like any other.
            # (`lists` reads a lead-in from every such line, one quoted or not.)
            labels, lead_in = [], lead_in_of(stripped)
        listing = item is not None or going_on
        if not asides and (
            teaching.is_aside(stripped) or teaching.is_question(stripped) or i in prompts
        ):
            continue
        if item is None:
            label = ""
        else:
            # An item ending in a colon ("**Voice commands:**") leads into its own items.
            while labels and labels[-1][0] >= indent:
                labels.pop()
            label = labels[-1][1] if labels and NESTED_LEAD_INS else ""
            own = stripped[item.end() :]
            if NESTED_LEAD_INS and leads_in(own):
                labels.append((indent, lead_in_of(own)))
                # What the item says before its lead-in is quoted as any item's text is.
                said = SENTENCE_END.split(own)[:-1]
                if not said:
                    continue
                stripped = stripped[: item.end()] + " ".join(said)
        if item is not None and (label or lead_in):
            parts = [s for s in SENTENCE_END.split(stripped[item.end() :]) if s.strip()]
            number = item.group().strip() + " " if item.group()[:1].isdigit() else ""
            lead = label or lead_in
            yield f"{lead} {number}{parts[0].strip()}" if parts else lead
            parts = parts[1:]
            yield from (p.strip() for p in parts if cjk.word_count(p) >= 3)
            continue
        # An item keeps its marker (`3. Find Isaac Sim`): a step's number says where it falls.
        marker = item.group().strip() + " " if item else ""
        parts = SENTENCE_END.split(stripped[item.end() :] if item else stripped)
        parts[0] = marker + parts[0]
        # A line leading into a code block is quoted (with its code: `code_quotes.led_code`).
        last = len(parts) - 1 if into_code[i] and ends_in_colon(parts[-1]) else -1
        yield from (
            s.strip()
            for n, s in enumerate(parts)
            if cjk.word_count(s) >= 3
            and (not leads_in(s) or n == last)
            and (asides or not (teaching.is_question(s.strip("\"'“”")) or teaching.is_quiz(s)))
        )


def _into_code(kept: list[str]) -> list[bool]:
    """For each of the lines (`outside_code` with marks), whether a code block left out of
    the prose comes next (blank lines aside): the line leads into it, if it ends in a colon."""
    into = [False] * len(kept)
    following = False
    for i in range(len(kept) - 1, -1, -1):
        into[i] = following and LEAD_IN_CODE
        if kept[i].strip():
            following = kept[i] == LEFT_OUT
    return into


@dataclass(frozen=True)
class TableBlock:
    """A table of a section's prose: the line leading into it, its column names, its rows as
    `sentences` reads them, and its lines as written."""

    lead_in: str
    header: list[str]
    rows: list[str]
    lines: list[str]


def tables(text: str) -> list[TableBlock]:
    """The tables of a section's prose, each with the line that leads into it."""
    found: list[TableBlock] = []
    lead_in = ""
    kept = outside_code(text.split("\n"))
    for line, role in zip(kept, _table_roles(kept), strict=True):
        stripped = line.strip()
        if role == "header":
            found.append(TableBlock(lead_in, _cells(stripped), [], [stripped]))
        elif role in ("rule", "row"):
            found[-1].lines.append(stripped)
            if role == "row":
                found[-1].rows.append(_row(found[-1].header, _cells(stripped)))
        elif not role and stripped:
            lead_in = lead_in_of(stripped)
    return found


def _table_roles(lines: list[str]) -> list[str]:
    """What each line is to a table: "header" (a `|` line over a delimiter row), "rule",
    "row", "loose" (a `|` line in no table, as GFM reads it) or "" (no `|` line)."""
    roles = [""] * len(lines)
    in_table = False
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped.startswith("|"):
            in_table = False
            continue
        following = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if "|" in following and _RULE.match(following) and not _RULE.match(stripped):
            roles[i], in_table = "header", True
        elif in_table:
            roles[i] = "rule" if _RULE.match(stripped) else "row"
        else:
            roles[i] = "loose"
    return roles


def _cells(line: str) -> list[str]:
    """A table row's cells (`\\|` is a pipe inside a cell)."""
    inner = line.strip().removeprefix("|").removesuffix("|")
    cells = re.split(r"(?<!\\)\|", _BREAK.sub(" ", inner))
    return [c.strip().replace("\\|", "|") for c in cells]


def _row(header: list[str], cells: list[str]) -> str:
    """A table row as a sentence naming its columns: `Loaf: Brioche; Oven: 180 degrees`."""
    names = header + [""] * (len(cells) - len(header))
    named = [
        f"{name}: {cell}" if name else cell
        for name, cell in zip(names, cells, strict=False)
        if cell
    ]
    return "; ".join(named)


@dataclass(frozen=True)
class ListBlock:
    """A list of a section's prose: the line leading into it, its items' first sentences (with
    their markers, and `…` after an item that says more), and all its lines (nested items
    too)."""

    lead_in: str
    items: list[str]
    lines: list[str]
    more: list[list[str]] = field(default_factory=list)  # each item's lines after its first


def lists(text: str) -> list[ListBlock]:
    """The lists of a section's prose, each with the line that leads into it: the top-level
    ones, and those nested in an item that ends in a colon (led into by that item), which
    come before the list they are in."""
    found: list[ListBlock] = []
    lead_in = ""
    open_lists: list[tuple[int, ListBlock]] = []  # outermost first, with their indents

    def close(deeper_than: int) -> None:
        while open_lists and open_lists[-1][0] > deeper_than:
            found.append(open_lists.pop()[1])

    kept = outside_code(text.split("\n"), marks=True)
    for line, ends in zip(kept, list_ends(kept), strict=True):
        stripped = line.strip()
        if ends:
            close(-1)
            lead_in = ""  # the next list has a lead-in of its own, or none
        if line == LEFT_OUT and open_lists and ends_in_colon(open_lists[-1][1].lines[-1]):
            _says_more(open_lists[-1][1])  # its item leads into code a quote leaves out
        if not stripped or line in CODE_MARKS:
            continue
        indent = len(line) - len(line.lstrip())
        item = teaching.LIST_MARK.match(line)
        if item and (open_lists or not indent):
            close(indent)
            marker = item.group().strip()
            if not open_lists or open_lists[-1][0] < indent:
                parent = open_lists[-1][1].lines[-1] if open_lists else ""
                label = lead_in_of(TOP_ITEM.sub("", parent)) if NESTED_LEAD_INS else ""
                if open_lists and not label:  # only what leads in makes a list of its own
                    _continues(open_lists, stripped)
                    continue
                open_lists.append((indent, ListBlock(label if open_lists else lead_in, [], [])))
            _continues(open_lists[:-1], stripped)
            first, *more = SENTENCE_END.split(line[item.end() :].strip())
            block = open_lists[-1][1]
            name = _LABEL_COLON.sub(r"\1", first)
            block.items.append(f"{marker} {name}")
            block.more.append(more)
            block.lines.append(stripped)
            if more:  # the item says more than its first sentence: marked
                _says_more(block)
            continue
        if open_lists and stripped and line[:1].isspace():
            _continues(open_lists, stripped)
            continue
        close(-1)
        lead_in = lead_in_of(stripped)
    close(-1)
    return found


def _continues(open_lists: list[tuple[int, ListBlock]], line: str) -> None:
    """`line` goes on the last item of each of `open_lists`: it is one of their lines, and
    the item says more than its first sentence."""
    for _, block in open_lists:
        block.lines.append(line)
        block.more[-1].append(line)
        _says_more(block)


def _says_more(block: ListBlock) -> None:
    """Mark the last item of `block` as saying more than its quote shows."""
    block.items[-1] = block.items[-1].removesuffix(f" {CUT}") + f" {CUT}"
