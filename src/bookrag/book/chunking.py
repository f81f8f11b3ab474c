"""Split a page into heading-aware chunks within a token budget.

A chunk never spans two pages or two sections; small blocks of one section are packed
together, a block larger than the budget is split at line (code) or sentence (prose)
boundaries, and a code block is only split when it alone exceeds the budget. Each chunk
carries its breadcrumb (page title › section › subsection).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from bookrag.book import cjk
from bookrag.book.loader import Page
from bookrag.book.markdown import Block, Section

BREADCRUMB_SEPARATOR = " › "
_NUMBERED = re.compile(r"^\d+[.)]\s")  # "1. Early fusion": an item of a numbered list
_TOKEN = re.compile(r"\w+|[^\w\s]")
# A Chinese or Japanese character is a token of its own, as it is to a subword tokenizer (a
# slower pattern, for the texts that hold some).
_TOKEN_CJK = re.compile(rf"[{cjk.CHARACTERS}]|[^\W{cjk.CHARACTERS}]+|[^\w\s]")
# Where one sentence ends and the next begins: after `.`, `!` or `?` (and any emphasis it
# closes: `**Done.** Next`) and before a capital, a digit or an opening mark, but not after
# an abbreviation that goes on (`vs. Digital AI`, `e.g. ROS`, `Fig. 3`); or after `。！？`,
# with no space needed (`cjk.SENTENCE_END`).
_ABBREVIATIONS = ("vs", "e.g", "i.e", "cf", "al", "approx", "fig", "eq", "dr", "mr")
SENTENCE_END = re.compile(
    # The cheap test first: the abbreviations are looked for only after a full stop.
    r"(?:(?<=[.!?])|(?<=[.!?]\*\*)|(?<=[.!?][*_]))"
    + "".join(
        rf"(?<!\b{re.escape(a)}\.)(?<!\b{re.escape(a[0].upper() + a[1:])}\.)"
        for a in _ABBREVIATIONS
    )
    + r"\s+(?=[A-Z0-9`*\[(\"'])"
    + f"|{cjk.SENTENCE_END}"
)


@dataclass(frozen=True)
class Chunk:
    """One retrievable piece of a page."""

    source: str
    page_url: str
    title: str
    headings: tuple[str, ...]
    anchor: str
    text: str
    index: int
    # The headings of the subsections its text ends leading into ("It rests on three
    # principles:", then a heading for each), shown after the text as the list it introduces
    # but not indexed with it: the subsections are found on their own.
    leads_into: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        """The page URL with the section's anchor (an `{#explicit id}` may hold spaces)."""
        return (
            f"{self.page_url}#{self.anchor.replace(' ', '%20')}" if self.anchor else self.page_url
        )

    @property
    def section(self) -> str:
        """The heading trail below the page title ("" for the page's opening text)."""
        return BREADCRUMB_SEPARATOR.join(self.headings)

    @property
    def breadcrumb(self) -> str:
        """Page title › section › subsection."""
        return BREADCRUMB_SEPARATOR.join((self.title, *self.headings))

    @property
    def embedding_text(self) -> str:
        """What is indexed, lexically and densely: the breadcrumb, then the text."""
        return f"{self.breadcrumb}\n{self.text}"


def with_subsections(text: str, leads_into: Sequence[str]) -> str:
    """A chunk's text, then the headings of the subsections it leads into as a list."""
    if not leads_into:
        return text
    items = (h if _NUMBERED.match(h) else f"- {h}" for h in leads_into)
    return "\n".join([text, "", *items])


def count_tokens(text: str) -> int:
    """Words and punctuation marks: close to, and usually above, a subword tokenizer's count."""
    return len((_TOKEN_CJK if cjk.RUN.search(text) else _TOKEN).findall(text))


def chunk_page(page: Page, max_tokens: int) -> list[Chunk]:
    """The page's chunks in reading order."""
    chunks: list[Chunk] = []
    for number, section in enumerate(page.sections):
        headings = tuple(section.headings)
        # The breadcrumb is indexed with the text, so it takes part of the budget.
        room = max(max_tokens - count_tokens(" ".join((page.title, *headings))), 16)
        texts = list(_pack(section.blocks, room))
        if not texts and headings:
            texts = [""]  # a heading with no text of its own still names a place in the page
        leads_into = _subsections_led_into(page.sections, number)
        for i, text in enumerate(texts):
            chunks.append(
                Chunk(
                    page.source,
                    page.url,
                    page.title,
                    headings,
                    section.anchor,
                    text,
                    len(chunks),
                    leads_into if i == len(texts) - 1 else (),  # after its last chunk
                )
            )
    return chunks


def _subsections_led_into(sections: list[Section], number: int) -> tuple[str, ...]:
    """The headings of the section's subsections when its text ends leading into them, and
    not in a list of its own: what the reader sees it introduce. Not for the page's opening
    text, whose subsections are the whole page (a table of contents)."""
    section = sections[number]
    blocks = section.blocks
    if not (CHILD_HEADINGS and section.headings and blocks):
        return ()
    if blocks[-1].code or not leads_in(blocks[-1].text):
        return ()
    depth = len(section.headings) + 1
    children = []
    for later in sections[number + 1 :]:
        if len(later.headings) < depth or later.headings[: depth - 1] != section.headings:
            break  # past the section's subsections
        if len(later.headings) == depth:
            children.append(later.headings[-1])
    return tuple(children) if len(children) > 1 else ()  # one is what follows, not a list


CHILD_HEADINGS = True  # switch kept for the ablation


def _pack(blocks: list[Block], budget: int) -> Iterator[str]:
    return _greedy(
        (piece for block in _with_lead_ins(blocks) for piece in _fit(block, budget)),
        budget,
        "\n\n",
    )


def leads_in(text: str) -> bool:
    """Whether `text` introduces what follows it: it ends in a colon (emphasis aside), or it
    is a bold label, not a sentence (`**Coverage principle**`, then its list)."""
    line = text.strip()
    return ends_in_colon(line) or (
        BOLD_LABELS
        and _BOLD_LABEL.fullmatch(line) is not None
        and cjk.word_count(line) <= _LABEL_WORDS  # longer, it says something ("**Never ...**")
    )


def ends_in_colon(text: str) -> bool:
    """Whether `text` ends in a colon, emphasis aside (`**Steps:**`, `**步骤：**`)."""
    return text.rstrip("*_ ").endswith((":", "："))


# A whole line in bold, short and not ending as a sentence does: a label for what follows.
_BOLD_LABEL = re.compile(r"(\*\*|__)[^*_\n]{0,78}[^*_\s.!?:。！？：]\1")
_LABEL_WORDS = 6
BOLD_LABELS = True  # switch kept for the ablation


def _with_lead_ins(blocks: list[Block]) -> list[Block]:
    """A paragraph ending in a colon joined to the prose block it leads into (a list), so a
    chunk never ends on "These are the steps:" with the steps in the next."""
    joined: list[Block] = []
    for block in blocks:
        last = joined[-1] if joined else None
        if last and not last.code and not block.code and leads_in(last.text.split("\n")[-1]):
            joined[-1] = Block(f"{last.text}\n\n{block.text}", code=False)
        else:
            joined.append(block)
    return joined


def _fit(block: Block, budget: int) -> Iterator[str]:
    """The block whole if it fits, else pieces that each fit."""
    if count_tokens(block.text) <= budget:
        yield block.text
        return
    if block.code:
        yield from _split_code(block.text, budget)
        return
    # Cut between sentences, but a piece keeps its lines: a list stays a list to quote.
    units = [
        f"\n{unit}" if line_number and not k else unit
        for line_number, line in enumerate(block.text.split("\n"))
        for k, unit in enumerate(SENTENCE_END.split(line))
    ]
    for piece in _group(units, budget, " "):
        yield piece.replace(" \n", "\n").strip("\n")


def _split_code(text: str, budget: int) -> Iterator[str]:
    """Split a fenced code block at line boundaries, re-fencing every piece."""
    lines = text.split("\n")
    fence, body = lines[0], lines[1:-1]
    closing = fence[: len(fence) - len(fence.lstrip("`"))]  # as many backticks as it opens with
    room = max(budget - count_tokens(fence) - count_tokens(closing), 8)
    for piece in _group(body, room, "\n"):
        yield f"{fence}\n{piece}\n{closing}"


def _group(units: list[str], budget: int, joiner: str) -> Iterator[str]:
    """Units packed up to the budget; one that alone exceeds it is cut between words."""
    pieces = (
        piece
        for unit in units
        for piece in (
            [unit] if count_tokens(unit) <= budget else _greedy(unit.split(" "), budget, " ")
        )
    )
    return _greedy(pieces, budget, joiner)


def _greedy(pieces: Iterable[str], budget: int, joiner: str) -> Iterator[str]:
    """Join consecutive pieces while they fit the budget (a piece never exceeds it alone,
    except a single word longer than the budget)."""
    current: list[str] = []
    used = 0
    for piece in pieces:
        size = count_tokens(piece)
        if current and used + size > budget:
            yield joiner.join(current)
            current, used = [], 0
        current.append(piece)
        used += size
    if current:
        yield joiner.join(current)
