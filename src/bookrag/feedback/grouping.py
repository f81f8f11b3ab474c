"""Which refused questions are one gap, and which answers marked unhelpful answered one
question: wordings grouped by their terms (`group_questions`), and those with no searchable
word by what was asked and the page it was asked from."""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

# Two wordings belong to one group when they share this much of their terms (Jaccard).
SIMILAR = 0.5
WORDLESS = "(no searchable words)"
SELECTION_SHOWN = 60  # characters of a selection that label a gap
COMMENTS = 5  # readers' comments shown with a group


@dataclass(frozen=True)
class PageLink:
    title: str
    url: str


@dataclass
class Gap:
    """Questions of similar wording that the book could not answer."""

    # The most frequent wording, or its terms when question text is not kept; with no
    # searchable word, the start of the selection asked about, or `WORDLESS`.
    example: str
    terms: str  # what the group is formed by: its first wording's terms the book lacks, or all
    count: int
    last_asked: datetime
    wordings: int  # how many distinct term sets were grouped here
    closest: PageLink | None = None
    also: list[str] = field(default_factory=list)  # other wordings grouped here, most asked first
    asked_from: str | None = None  # the page most of them were asked from
    comments: list[str] = field(default_factory=list)  # readers' comments, newest first


@dataclass
class Asked:
    """A refused question as the report reads it from the log."""

    question: str | None  # None when question text is not kept
    terms: str
    when: datetime
    selection: str | None = None  # kept with the question text only
    page_url: str | None = None
    comment: str | None = None  # a reader's, on an answer marked unhelpful


# Which of the given terms the book does not hold.
Lacking = Callable[[set[str]], set[str]]


def group_questions(
    asked: Iterable[Asked], similar: float = SIMILAR, lacking: Lacking | None = None
) -> list[Gap]:
    """Group questions whose terms overlap by at least `similar` with a group's most asked
    wording; groups come most asked first.

    With `lacking`, a wording is grouped by the terms it holds that the book lacks, when it
    has any: they are what the book fails to cover, so "How do I configure MQTT for my
    robot?" and "How do I set up MQTT on the robot?" are one gap (MQTT), not two wordings
    whose different verbs outweigh their topic.

    Overlap is Jaccard weighted by how rare each term is among the wordings, so that two
    questions differing in what they ask about ("... via MQTT" and "... via Telegram") stay
    apart while their shared words ("send data") count for little. Candidates are found by
    prefix filtering: two term sets that overlap this much share one of their rarest terms,
    so a wording is compared only with groups that hold one of its own rarest terms.
    """
    by_terms: dict[str, list[Asked]] = defaultdict(list)
    wordless: dict[tuple[str, str, str], list[Asked]] = defaultdict(list)
    for item in asked:
        if item.terms.split():
            by_terms[item.terms].append(item)
        else:  # no searchable word: told apart by what was asked, and where
            wordless[_wordless_key(item)].append(item)
    missing = lacking({w for terms in by_terms for w in terms.split()}) if lacking else set()
    topics = {terms: _topic(set(terms.split()), missing) for terms in by_terms}
    frequency = Counter(w for words in topics.values() for w in words)
    weight = {w: math.log(1 + len(by_terms) / n) for w, n in frequency.items()}

    def mass(words: Iterable[str]) -> float:  # summed in one order: the same sets, the same sum
        return math.fsum(weight[w] for w in sorted(words))

    def rarest_first(words: set[str]) -> list[str]:
        ordered = sorted(words, key=lambda w: (frequency[w], w))
        total, prefix = mass(ordered), []
        for i, word in enumerate(ordered):  # until what is left could not reach `similar`
            if mass(ordered[i:]) < similar * total * (1 - 1e-9):  # rounding: err on keeping
                break
            prefix.append(word)
        return prefix

    groups: list[tuple[set[str], list[Asked], list[str]]] = []
    holding: dict[str, list[int]] = defaultdict(list)  # rare term -> groups whose core has it
    for terms, items in sorted(by_terms.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        words = topics[terms]
        prefix = rarest_first(words)
        best, best_score = -1, 0.0
        for index in sorted({i for w in prefix for i in holding[w]}):  # ties: most asked
            core = groups[index][0]
            score = mass(words & core) / mass(words | core)
            if score >= similar and score > best_score:
                best, best_score = index, score
        if best >= 0:
            groups[best][1].extend(items)
            groups[best][2].append(terms)
            continue
        groups.append((words, list(items), [terms]))
        for word in prefix:
            holding[word].append(len(groups) - 1)
    gaps = [_gap(items, " ".join(sorted(core)), len(wordings)) for core, items, wordings in groups]
    gaps.extend(_gap(items, "", 1) for items in wordless.values())
    gaps.sort(key=lambda g: (-g.count, -g.last_asked.timestamp()))
    return gaps


def _topic(words: set[str], missing: set[str]) -> set[str]:
    """What a wording is grouped by: its terms the book lacks, or all of them if none."""
    return (words & missing) or words


def _gap(items: list[Asked], terms: str, wordings: int) -> Gap:
    texts = Counter(i.question.strip() for i in items if i.question and i.question.strip())
    ranked = [text for text, _ in texts.most_common()]
    if not ranked:
        ranked = [t for t, _ in Counter(i.terms for i in items).most_common() if t]
    example = ranked[0] if ranked else WORDLESS
    selections = Counter(i.selection for i in items if i.selection)
    if not terms and selections:  # the passage is what was asked about
        shown = f"the selection “{_start(selections.most_common(1)[0][0])}”"
        example = f"{example} (on {shown})" if ranked else f"({shown})"
    pages = Counter(i.page_url for i in items if i.page_url)
    last = max(i.when for i in items)
    gap = Gap(example, terms, len(items), last, wordings, also=ranked[1:4])
    gap.asked_from = pages.most_common(1)[0][0] if pages else None
    newest_first = sorted(items, key=lambda i: i.when, reverse=True)
    gap.comments = list(dict.fromkeys(i.comment for i in newest_first if i.comment))[:COMMENTS]
    return gap


def _wordless_key(item: Asked) -> tuple[str, str, str]:
    question = (item.question or "").strip()
    selection = _normalized(item.selection or "")[:SELECTION_SHOWN]
    return (_normalized(question) or question, selection, item.page_url or "")


def _start(passage: str) -> str:
    passage = " ".join(passage.split())
    return passage if len(passage) <= SELECTION_SHOWN else passage[:SELECTION_SHOWN] + "…"


def _normalized(question: str) -> str:
    """A question as its words, in any script and case: "Is it?" and "is it" are one."""
    return " ".join(re.findall(r"[^\W_]+", question.casefold()))
