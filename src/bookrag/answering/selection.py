"""A passage the reader selected: placed in the section that holds it, and quoted by a
keyless answer in the words of the section around it, or as the reader selected it (code
keeps its lines) when those are the book's words."""

from __future__ import annotations

import re
import textwrap
from dataclasses import replace

from bookrag.answering.code_quotes import code_blocks, code_excerpt
from bookrag.answering.retrieval import Passage
from bookrag.answering.sentences import sentences
from bookrag.index import lexical

_LINK_TARGET = re.compile(r"\]\([^)]*\)")  # a page shows a link's text, not where it goes
_FENCE_INFO = re.compile(r"^([ \t>]*(?:`{3,}|~{3,}))(.*)$", re.MULTILINE)
_TITLE = re.compile(r"""\btitle=(?:"([^"]*)"|'([^']*)')""")
# A selection is cited as the book's own text only when its section holds most of its words.
SELECTION_MATCH = 0.8


def placed(selection: str, sections: list[Passage]) -> tuple[Passage | None, Passage] | None:
    """The section of `sections` that holds the most of the selection's words, and the
    selection as a passage of it when the section holds it word for word (else None: a
    reader's "never uses 0.1" for the book's "uses 0.1" is answered from the section, never
    quoted as the book). None when no section holds most of its words."""
    selected = set(lexical.terms(selection))
    if not selected or not sections:
        return None
    held, best = max(
        ((len(selected & set(lexical.terms(p.text))), p) for p in sections), key=lambda x: x[0]
    )
    if held < SELECTION_MATCH * len(selected):
        return None
    section = replace(best, score=1.0, coverage=1.0)
    wanted = _bare(selection)
    if not wanted.strip() or wanted not in _bare(_as_shown(best)):
        return None, section
    return replace(section, text=selection), section


def placed_in(
    selection: str, on_page: list[Passage] | None, found: list[Passage]
) -> tuple[Passage | None, Passage] | None:
    """The selection `placed` in the sections of the page the reader named (`on_page`), else
    in those the search `found` (a page changed since, or a client naming another page):
    where it is word for word first, else where most of its words are, on the page first."""
    here = placed(selection, on_page) if on_page else None
    if here is not None and here[0] is not None:
        return here
    elsewhere = placed(selection, found)
    if elsewhere is not None and (elsewhere[0] is not None or here is None):
        return elsewhere
    return here


def _as_shown(section: Passage) -> str:
    """A section as its page shows it: its heading, then its text, with a code block's info
    string shown as its title only (```` ```python title="logger.py" ```` as `logger.py`)."""
    text = _FENCE_INFO.sub(
        lambda m: " ".join([m.group(1), *(a or b for a, b in _TITLE.findall(m.group(2)))]),
        section.text,
    )
    return f"{section.heading or section.title}\n{text}"


def framed(selection: str, section: str) -> list[str]:
    """The selection in its section's words: the sentence it is part of, or the unit before
    it and the selection itself, then the unit after it (which most often says why). Empty
    when the selection is not found among the section's units."""
    units = list(sentences(section))
    wanted = _bare(selection)
    bare = [_bare(u) for u in units]
    # Whole words (a selected `post` is not in `compost`), where the selection first occurs.
    inside = [i for i, b in enumerate(bare) if b.strip() and (b in wanted or wanted in b)]
    if not wanted.strip() or not inside:
        return []
    first = last = inside[0]
    while last + 1 in inside:
        last += 1
    if wanted in bare[first]:  # part of one sentence (or all of it): that sentence
        framing = [units[first]]
    else:
        framing = [*units[max(first - 1, 0) : first], _one_line(selection)]
    return [*framing, *units[last + 1 : last + 2]]


def shown(selection: str, section: str) -> str:
    """The selection as quoted alone: as code, its lines kept, when it is (part of) one of
    the section's code blocks; else its first 80 words on one line."""
    wanted = _bare(selection)
    if wanted.strip() and any(wanted in _bare(block) for block in code_blocks(section)):
        return code_excerpt(f"```\n{textwrap.dedent(selection).strip(chr(10))}\n```")
    return _one_line(selection)


def _one_line(selection: str) -> str:
    return " ".join(selection.split()[:80])


def _bare(text: str) -> str:
    """Text as words only, a space each side (a selection is what the page shows: no Markdown,
    no marks), so that one is found in another word for word."""
    words = re.findall(r"\w+", _LINK_TARGET.sub("]", text).casefold())
    return f" {' '.join(words)} "
