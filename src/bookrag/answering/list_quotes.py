"""Whole lists and tables as one quote, when a question asks about the list or table rather
than one of its items or rows; and the units an answer chose, as quotes in the book's order,
items of one list quoted with their lead-in."""

from __future__ import annotations

from bookrag.answering.code_quotes import EXCERPT_LINES
from bookrag.answering.retrieval import Passage
from bookrag.answering.sentences import CUT, TOP_ITEM, ListBlock, TableBlock
from bookrag.answering.terms import QueryTerms
from bookrag.book import cjk
from bookrag.book.chunking import SENTENCE_END
from bookrag.index import lexical

WHOLE_LIST_WORDS = 120  # a list quoted whole has at most this many words in its items
NESTED_DETAIL = True  # a whole list's items keep a detail the question asks about (ablation)
MOST_OF_A_LIST = True  # quote a short list whole when most of its items are quoted (ablation)
LED_INTO = True  # the best sentence is followed by the list it leads into, whole (ablation)


def whole_list(
    best: str, blocks: list[ListBlock], passage: Passage, terms: QueryTerms, besides: str = ""
) -> str | None:
    """The list of `blocks` (the passage's lists) that `best` is an item of, as one quote,
    when the question asks about the list rather than the item: the line leading into it and
    the section's heading cover the question as well as the item does. None for the list
    `besides` is an item of, or one holding that list."""
    first = next((block for block in blocks if besides and _holds(block, besides)), None)
    for block in blocks:
        if not _holds(block, best):
            continue
        if first is not None and set(first.lines) <= set(block.lines):
            return None  # the list `besides` is in, or one holding it
        own = _own(block, best)
        about = f"{block.lead_in} {passage.heading}"
        if len(block.items) < 2 or terms.coverage(about) < terms.coverage(own):
            return None
        return _list_quote(block, terms) if _short(block) else None
    return None


def led_into(
    best: str, units: list[str], blocks: list[ListBlock], passage: Passage, terms: QueryTerms
) -> tuple[str, list[str]] | None:
    """The short list right after `best` (a sentence, no item of it: "The typical pipeline
    consists of:"), as `whole_list` quotes it, with the units it holds, when the question
    asks about that list ("what stages does the data pass through?"); else None."""
    after = units.index(best) + 1
    if not (LED_INTO and after < len(units)):
        return None
    for block in blocks:
        if _holds(block, units[after]) and not _holds(block, best):
            quote = whole_list(units[after], [block], passage, terms)
            held = [unit for unit in units if _holds(block, unit)]
            return (quote, held) if quote is not None else None
    return None


def most_of_a_list(
    chosen: list[str], units: list[str], blocks: list[ListBlock], terms: QueryTerms
) -> tuple[str, list[str]] | None:
    """The short list of `blocks` more than half of whose items (two at least) the `chosen`
    units are, whole, with those units: a quote of steps 1, 2, 3 and 5 of five would leave
    out step 4 of what the question asks how to do."""
    if not MOST_OF_A_LIST:
        return None
    for block in blocks:
        held = [unit for unit in chosen if _holds(block, unit)]
        if len(held) < 2 or 2 * len(held) <= len(block.items):
            continue
        if _fills(block, units):
            return _list_quote(block, terms), held
    return None


def merge_lead_ins(chosen: list[str], units: list[str], blocks: list[ListBlock]) -> list[str]:
    """The `chosen` units (in the book's order) with items of one of `blocks` quoted with
    their lead-in as one quote, `lead-in: item; item`, and `…` where items of the list are
    left out, so a part of a list does not read as all of it. An item no unit quotes (one
    leading into code, a question to the reader) counts as left out too."""
    leads: dict[str, ListBlock] = {}
    for block in blocks:  # in the book's order; a repeated lead-in keeps its first list
        if block.lead_in:
            leads.setdefault(f"{block.lead_in} ", block)
    merged: list[str] = []
    lead = ""  # the lead-in of the quote being built
    last = ""  # the unit it ends with
    for unit in chosen:
        starts = next((line for line in leads if unit.startswith(line)), "")
        if starts and lead == starts:
            skipped = _left_out(leads[lead], units, last, unit)
            merged[-1] += f"; {CUT + '; ' if skipped else ''}{unit[len(starts) :]}"
        else:
            if lead and _left_out(leads[lead], units, last, ""):
                merged[-1] += f"; {CUT}"
            lead = starts
            cut = bool(lead) and _left_out(leads[lead], units, "", unit)
            merged.append(f"{lead}{CUT}; {unit[len(lead) :]}" if cut else unit)
        last = unit
    if lead and _left_out(leads[lead], units, last, ""):
        merged[-1] += f"; {CUT}"
    return merged


def _left_out(block: ListBlock, units: list[str], before: str, after: str) -> bool:
    """Whether the quote leaves out something of `block` between the unit `before` and the
    unit `after` ("": the list's start or end): a unit led into by its lead-in (an item no
    quote took), or an item of the list itself that no unit quotes."""
    span = units[units.index(before) + 1 if before else 0 : units.index(after) if after else None]
    if any(u.startswith(f"{block.lead_in} ") for u in span):
        return True
    low = _position(block, before) if before else -1
    high = _position(block, after) if after else len(block.items)
    return low is not None and high is not None and high - low > 1


def _position(block: ListBlock, unit: str) -> int | None:
    """Which item of `block` `unit` quotes, None when it quotes none: of the items it opens
    with, the longest ("Lidar sensor cable" is not the item "Lidar sensor")."""
    own = _own(block, unit)
    starts = [i for i, item in enumerate(block.items) if own.startswith(_item_text(item)[:60])]
    return max(starts, key=lambda i: len(_item_text(block.items[i])[:60]), default=None)


def _fills(block: ListBlock, units: list[str]) -> bool:
    """Whether `block` can be quoted in place of its items' own quotes: it is short, its items
    say one sentence each (a whole list quotes only their first), and every item is one of
    the `units` an answer may quote (no question to the reader, link or quiz line the
    quotes leave out comes back with it) or leads into code, marked `…`."""
    if not _short(block) or any(block.more):
        return False
    return all(
        item.endswith(f" {CUT}") or any(_holds_item(item, unit) for unit in units)
        for item in block.items
    )


def _short(block: ListBlock) -> bool:
    """Whether `block` is short enough to quote whole (`WHOLE_LIST_WORDS` in its items)."""
    return sum(cjk.word_count(i) for i in block.items) <= WHOLE_LIST_WORDS


def _holds_item(item: str, unit: str) -> bool:
    """Whether `unit` quotes the list item `item` (as `ListBlock.items` writes it)."""
    own = _item_text(item)
    return bool(own) and own[:60] in unit


def _item_text(item: str) -> str:
    """An item as `ListBlock.items` writes it, without its marker and `…`."""
    return TOP_ITEM.sub("", item).removesuffix(f" {CUT}").strip()


def _own(block: ListBlock, unit: str) -> str:
    """`unit` without the lead-in of `block` and its item marker."""
    lead = f"{block.lead_in} " if block.lead_in and unit.startswith(f"{block.lead_in} ") else ""
    return TOP_ITEM.sub("", unit[len(lead) :])


def _holds(block: ListBlock, unit: str) -> bool:
    """Whether `unit` is (a sentence of) an item of `block`."""
    own = _own(block, unit)
    return any(own[:60] in line for line in block.lines)


def whole_table(
    best: str, found: list[TableBlock], passage: Passage, terms: QueryTerms
) -> str | None:
    """The table `best` is a row of, whole, when the question asks about the table rather
    than the row: its lead-in, column names and the section's heading cover the question as
    well as the row's own cells do ("how do A and B compare?" of a table comparing them).
    None for a table longer than a quote's `EXCERPT_LINES`: its rows are quoted instead."""
    holding = [table for table in found if best in table.rows]
    if len(holding) != 1:  # a row two tables share says nothing of which one is asked about
        return None
    table = holding[0]
    if len(table.lines) > EXCERPT_LINES:  # cut short, it might leave out the row that answers
        return None
    names = " ".join(table.header)
    own = set(lexical.terms(best)) - set(lexical.terms(names))
    about = f"{table.lead_in} {passage.heading} {names}"
    if terms.coverage(about) < terms.coverage_of(own):
        return None
    return "\n".join(table.lines)


def _list_quote(block: ListBlock, terms: QueryTerms) -> str:
    """A whole list as one quote: `lead-in: item; item` (steps keep their numbers), or its
    items line by line when nothing leads into it. An item that says more keeps the sentence of
    its detail that adds most of the question's weight the list lacks, if one does."""
    said = set(lexical.terms(" ".join([block.lead_in, *block.items])))
    items = [
        _with_detail(i, more, said, terms) for i, more in zip(block.items, block.more, strict=True)
    ]
    if not block.lead_in:
        return "\n".join(items)
    items = [i if i[:1].isdigit() else TOP_ITEM.sub("", i) for i in items]
    return f"{block.lead_in} {'; '.join(items)}"


def _with_detail(item: str, more: list[str], said: set[str], terms: QueryTerms) -> str:
    """`item` with the sentence of its detail (`more`: its lines after its first sentence)
    that adds most of the question's weight the list lacks, when one adds any: "how often
    does each planner run?" is answered by the planners' nested "Runs at 1-5 Hz" lines."""
    details = [
        s.strip() for line in more for s in SENTENCE_END.split(TOP_ITEM.sub("", line.strip()))
    ]
    gains = [terms.coverage_of(set(lexical.terms(d)) - said) for d in details]
    if not (NESTED_DETAIL and details) or max(gains) <= 0:
        return item
    detail = details[gains.index(max(gains))]
    rest = f" {CUT}" if len(details) > 1 else ""
    return f"{item.removesuffix(f' {CUT}')} — {detail}{rest}"


def in_order(
    ordered: list[str], units: list[str], blocks: list[ListBlock], terms: QueryTerms
) -> list[str]:
    """The chosen units (`ordered`, in the book's order) as quotes: items of one list with
    its lead-in as one quote, and a short list most of whose items are chosen as all of it."""
    filled = most_of_a_list(ordered, units, blocks, terms)
    if filled is None:
        return merge_lead_ins(ordered, units, blocks)
    whole, held = filled
    at = ordered.index(held[0])
    after = [u for u in ordered[at:] if u not in held]
    return [
        *merge_lead_ins(ordered[:at], units, blocks),
        whole,
        *merge_lead_ins(after, units, blocks),
    ]


def with_led_list(
    led: tuple[str, list[str]],
    best: str,
    chosen: list[str],
    units: list[str],
    blocks: list[ListBlock],
    terms: QueryTerms,
) -> list[str]:
    """The `chosen` units in the book's order with the list `best` leads into (`led`: its
    quote and the units it holds) whole, right after `best`, in place of its own units."""
    quote, held = led
    ordered = sorted((u for u in chosen if u not in held), key=units.index)
    at = ordered.index(best) + 1
    return [
        *in_order(ordered[:at], units, blocks, terms),
        quote,
        *in_order(ordered[at:], units, blocks, terms),
    ]
