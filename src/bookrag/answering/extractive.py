"""Extractive answers: the book's own sentences that carry most of the question's weight,
quoted with numbered citations. Used when no chat model is configured, and as the fallback
when one fails."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bookrag.answering.code_quotes import (
    best_code,
    code_adds,
    code_excerpt,
    code_window,
    led_code,
)
from bookrag.answering.list_quotes import (
    in_order,
    led_into,
    whole_list,
    whole_table,
    with_led_list,
)
from bookrag.answering.models import Answer, Citations
from bookrag.answering.retrieval import Passage
from bookrag.answering.selection import framed, shown
from bookrag.answering.sentences import TABLE_ROW, ListBlock, lists, sentences, tables
from bookrag.answering.terms import QueryTerms, defines
from bookrag.index import lexical

_QUOTE_MARK = re.compile(r"^\s*(?:>\s?)+")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
# Emphasis as Markdown reads it, roughly: marks that open after a space or an opening mark
# and close, at the first chance, before one (`A*, Theta*` and `snake__case__` hold no
# emphasis; `**a** and **b**` is two).
_EMPHASIS = re.compile(r"(?<![\w\\])(\*\*|__|\*|~~)(\S(?:.*?\S)??)\1(?!\w)")
_CODE_SPAN = re.compile(r"(`+)[^`\n]+?\1")
_OPAQUE = "\ue010"  # stands for a code span while emphasis is read
MAX_QUOTES = 6
FOLLOWING = 2  # units quoted after the lead section's best one: what it leads into
DEFINING_PASSAGES = 3  # the best passages searched for such a sentence
WHOLE_LISTS = True  # quote a whole short list a question asks about (switch kept for the ablation)
COMPLEMENT = True  # the second quote adds what the best lacks (switch kept for the ablation)
WHOLE_COMPLEMENT = True  # so does the quote after a whole list or table (ablation)
SECTION_CODE = True  # code of the section's other chunks is quoted too (switch for the ablation)
TEACHING_ONLY = True  # quote navigation, link lists and quiz lines only when nothing else fits
HEADER = "From the book (quoted passages; no language model is configured):"
DEGRADED_HEADER = "From the book (quoted passages; the language model is unavailable right now):"
UNCITED_HEADER = "From the book (quoted passages; the language model's answer cited none):"


@dataclass(frozen=True)
class Quote:
    passage: Passage
    text: str


def extractive_answer(
    passages: list[Passage],
    terms: QueryTerms,
    selection: str | None,
    degraded: bool = False,
    header: str | None = None,
) -> Answer:
    """Quote the best sentences of `passages` (the first passage may be the selection).

    The answer reads as plain text, each quote followed by its citation number; which
    section each number is, and its URL, are in `citations` and `sources`.
    """
    quotes = best_quotes(passages, terms, selection)
    cited = Citations()
    lines = [header or (DEGRADED_HEADER if degraded else HEADER), ""]
    for quote in quotes:
        passage = quote.passage
        number = cited.add(passage.url, passage.title, passage.section, quote.text)
        if quote.text.startswith(("```", "~~~")):  # code keeps its own lines and fences
            lines += [quote.text, f"[{number}]", ""]
        elif TABLE_ROW.match(quote.text):  # a table: its number apart, or it reads as a row
            lines += [plain_text(quote.text), "", f"[{number}]", ""]
        else:
            lines += [f"{plain_text(quote.text)} [{number}]", ""]
    return Answer(
        answer="\n".join(lines).rstrip("\n"),
        sources=cited.sources,
        citations=cited.items,
        mode="extractive",
        extractive=True,
        degraded=degraded,
    )


def plain_text(text: str) -> str:
    """Light Markdown as a plain-text reader sees it: no emphasis marks, quote marks or link
    targets (inline code keeps its backticks, which read as code in plain text too)."""
    lines = [_QUOTE_MARK.sub("", line) for line in text.split("\n")]
    out = _LINK.sub(r"\1", "\n".join(lines))
    # Code spans are kept as written (`__init__` is no emphasis), each standing in as one
    # opaque character while emphasis around it (**`strptime()`**) is taken off.
    if _OPAQUE in out:  # (a character no book writes; were it there, spans go unguarded)
        return _EMPHASIS.sub(r"\2", out)
    spans = [m.group() for m in _CODE_SPAN.finditer(out)]
    masked = _CODE_SPAN.sub(_OPAQUE, out)
    plain = _EMPHASIS.sub(r"\2", masked)
    return "".join(
        spans.pop(0) if part == _OPAQUE else part for part in re.split(f"({_OPAQUE})", plain)
    )


def best_sentence(text: str, terms: QueryTerms) -> str:
    """The sentence of `text` that best covers `terms` (the start of `text` if none does)."""
    units = list(sentences(text))
    if not units:
        return text.strip()[:300]
    return max(units, key=lambda u: (terms.coverage(u), -len(u)))


def best_quotes(passages: list[Passage], terms: QueryTerms, selection: str | None) -> list[Quote]:
    quotes: list[Quote] = []
    if selection and passages and passages[0].text == selection:
        # The reader's selection comes first, framed by its section (the sentence it is part
        # of, or the one before it, and the one after), then other sections on it.
        placed, passages = passages[0], passages[1:]
        section = passages[0].text if passages and passages[0].url == placed.url else ""
        framing = framed(selection, section)
        quotes.extend(Quote(placed, text) for text in framing or [shown(selection, section)])
        passages = passages[1:] if framing else passages
    lead = not quotes  # the first passage that answers is quoted most fully
    if terms.defines:
        # "What is X?": the best passages' first sentence saying what X is leads the answer.
        defining = _defining(passages, terms)
        passages = sorted(passages, key=lambda p: p not in defining)
    for passage in passages:
        units = list(sentences(passage.text, asides=not TEACHING_ONLY))
        led_in = led_code(passage.text)
        asides = [] if units else list(sentences(passage.text, asides=True))
        if asides:
            # Only a quiz, links or navigation: quoted when the question asks for what the
            # section's heading names ("further reading", "exercises"), else passed over.
            if not (lead and terms.names_heading(passage.heading, passage.title)):
                continue
            units = asides
        if not units:  # a section of code or a table: quote its start, but only as the answer
            code = best_code(passage.text, terms) if lead else None
            if lead and (code or TABLE_ROW.search(passage.text)):
                quotes.append(Quote(passage, code or code_excerpt(passage.text)))
                lead = False
            continue
        scored = sorted(units, key=lambda u: _rank(u, units, terms), reverse=True)
        # A sentence leading into code is quoted, then its code, when it answers best; it is
        # no other quote (what it introduces may not be what is asked: a service's server).
        scored = [u for n, u in enumerate(scored) if u not in led_in or (lead and n == 0)]
        if not scored:
            continue
        # What X is leads, with what follows it (`FOLLOWING`), not after a sentence before it.
        take = 1 if not lead or defines(scored[0], terms.defines) else 2
        if take == 2 and COMPLEMENT and len(scored) > 1:
            chosen = [scored[0], _complement(scored, terms)]
        else:
            chosen = [u for u in scored[:take] if lead or terms.coverage(u) > 0]
        blocks = lists(passage.text)
        whole = _whole(scored[0], blocks, passage, terms) if lead else None
        if whole:
            texts = _with_rest(whole, scored[0], units, blocks, passage, terms)
        else:
            led = led_into(scored[0], units, blocks, passage, terms) if lead else None
            if lead and led is None:
                after = [u for u in units[units.index(scored[0]) + 1 :] if u not in led_in]
                chosen += [u for u in after[:FOLLOWING] if u not in chosen]
            if led is not None:  # the list the best sentence leads into, whole, after it
                texts = with_led_list(led, scored[0], chosen, units, blocks, terms)
            else:  # keep the book's order inside one section
                texts = in_order(sorted(chosen, key=units.index), units, blocks, terms)
        # The code the best sentence leads into ("…, so create a venv:"), right after it.
        led_block = led_in.get(scored[0]) if lead else None
        said = list(texts)
        for text in texts:
            quotes.append(Quote(passage, text))
            if led_block is not None and text == scored[0]:
                said.append(code_window(led_block, terms))
                quotes.append(Quote(passage, said[-1]))
        # The section's code, which may sit in another chunk than the prose shown ("How do I
        # read X in Python?" matched the warning after the listing best).
        own = [passage.text, *passage.code] if SECTION_CODE else [passage.text]
        code = best_code("\n\n".join(own), terms, besides=led_block) if lead else None
        if code is not None and code_adds(code, [scored[0], *said], terms):
            quotes.append(Quote(passage, code))  # the code says what the prose does not
        lead = False
        if len(quotes) >= MAX_QUOTES:
            break
    return _once(quotes)[:MAX_QUOTES]


def _once(quotes: list[Quote]) -> list[Quote]:
    """Each text quoted once, where it first comes (two pages of a book may say the same)."""
    seen: set[str] = set()
    kept = []
    for quote in quotes:
        key = " ".join(quote.text.split()).casefold()
        if key not in seen:
            seen.add(key)
            kept.append(quote)
    return kept


def _rank(unit: str, units: list[str], terms: QueryTerms) -> tuple[bool, float, int]:
    """How well `unit` answers: saying what the question asks the meaning of (the earliest
    such sentence first), covering its terms, being short."""
    if defines(unit, terms.defines):
        return True, terms.coverage(unit), -units.index(unit)
    return False, terms.coverage(unit), -len(unit)


def _complement(scored: list[str], terms: QueryTerms) -> str:
    """Of the units after the best of `scored` (best first), the one adding most of the
    question's weight that the best lacks, the better ranked on a tie: a question of two parts
    ("a service, and an action?") is answered in both, not twice in the first."""
    return _most_added(scored[0], scored[1:], terms)[0]


def _with_rest(
    whole: str,
    best: str,
    units: list[str],
    blocks: list[ListBlock],
    passage: Passage,
    terms: QueryTerms,
) -> list[str]:
    """`whole` (the list or table `best` is part of) with what it leaves of the question, in
    the book's order: the unit adding most of the question's weight it lacks, or that unit's
    own list or table whole ("how do I set up the camera and the lidar?" is answered by the
    camera's list too, not only by the lidar's). Nothing when no unit adds any."""
    extra, gain = _most_added(whole, units, terms)
    if not (WHOLE_COMPLEMENT and gain > 0):
        return [whole]
    # Not the list holding `best` too: it would say again what `whole` says.
    other = _whole(extra, blocks, passage, terms, besides=best)
    rest = [other] if other else in_order([extra], units, blocks, terms)
    return [*rest, whole] if units.index(extra) < units.index(best) else [whole, *rest]


def _most_added(quoted: str, units: list[str], terms: QueryTerms) -> tuple[str, float]:
    """Of `units`, the one adding most of the question's weight that `quoted` lacks (the first
    on a tie), and the weight it adds."""
    said = set(lexical.terms(quoted))
    gains = [terms.coverage_of(set(lexical.terms(u)) - said) for u in units]
    best = max(range(len(units)), key=gains.__getitem__)
    return units[best], gains[best]


def _whole(
    unit: str, blocks: list[ListBlock], passage: Passage, terms: QueryTerms, besides: str = ""
) -> str | None:
    """The list (of `blocks`, but one holding `besides` too) or table that `unit` is part of,
    whole, when the question asks about it rather than about the unit."""
    if not WHOLE_LISTS:
        return None
    return whole_list(unit, blocks, passage, terms, besides) or whole_table(
        unit, tables(passage.text), passage, terms
    )


def _defining(passages: list[Passage], terms: QueryTerms) -> list[Passage]:
    """The first of the best passages (at most `DEFINING_PASSAGES`) with a sentence saying
    what the question asks the meaning of, in a list (empty when none has one)."""
    for passage in passages[:DEFINING_PASSAGES]:
        if any(defines(u, terms.defines) for u in sentences(passage.text)):
            return [passage]
    return []
