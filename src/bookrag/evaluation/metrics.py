"""Measure how well the book answers questions whose answers are known: retrieval and answers.

The questions come from a questions file (`questions`).

`path` is relative to the docs folder; `heading` names the section holding the answer (a
gold item without one accepts any section of the page). An empty `gold` marks a question
the book cannot answer: it should be refused.

Retrieval is scored over the best section of each of the top `limit` pages, as `/search`
returns them, at two levels: a passage is a page-level hit when its page is a gold page, and
a section-level hit when, besides, its last heading (the page title for the page's opening
text) equals a gold heading ignoring case and punctuation, or its anchor is that heading's
slug. Recall@k is the share of questions with a hit in the top k, MRR@10 the mean of
1/rank of the first hit, nDCG@10 uses binary relevance and an ideal ranking of
min(gold items, 10) hits. With one section per page, two gold sections of one page can never
both be found, which bounds section-level scores.

Answers are scored by the share of `keywords` they contain (case-insensitive), whether they
cite a gold page, the share of unanswerable questions refused (mode `not_found`, no sources)
and the share of answerable ones refused wrongly.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from bookrag.answering.models import Answer, Question
from bookrag.answering.pipeline import Book, answer
from bookrag.answering.retrieval import Passage
from bookrag.book.docusaurus import slugify
from bookrag.errors import PageNotFound
from bookrag.evaluation.questions import EvalQuestion, Gold, normalise
from bookrag.index.pages import PageDirectory

K = 10
CUTOFFS = (1, 5, 10)
METRICS = ("recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10")
CONFIGURATIONS = ("lexical", "dense", "hybrid", "hybrid+rerank")


# -- metrics -----------------------------------------------------------------------------


def first_rank(hits: Sequence[bool]) -> int | None:
    """The 1-based rank of the first hit, or None."""
    return next((rank for rank, hit in enumerate(hits, 1) if hit), None)


def recall_at(hits: Sequence[bool], k: int) -> float:
    """1 when there is a hit in the top `k`, else 0 (averaged over questions: Recall@k)."""
    return 1.0 if any(hits[:k]) else 0.0


def reciprocal_rank(hits: Sequence[bool], k: int = K) -> float:
    """1/rank of the first hit in the top `k`, 0 without one."""
    rank = first_rank(hits[:k])
    return 1 / rank if rank else 0.0


def ndcg_at(hits: Sequence[bool], relevant: int, k: int = K) -> float:
    """nDCG@k with binary relevance; the ideal ranking puts min(relevant, k) hits first."""
    ideal = sum(1 / math.log2(rank + 1) for rank in range(1, min(relevant, k) + 1))
    if not ideal:
        return 0.0
    return sum(1 / math.log2(rank + 1) for rank, hit in enumerate(hits[:k], 1) if hit) / ideal


def section_matches(passage: Passage, gold: Gold) -> bool:
    """True when the passage is the gold section (see the module docstring)."""
    if passage.source != gold.path:
        return False
    if not gold.heading:
        return True
    heading = passage.heading
    anchor = unquote(urlsplit(passage.url).fragment)
    wanted = normalise(gold.heading)
    if wanted and wanted in (normalise(heading or passage.title), normalise(anchor)):
        return True
    slug = slugify(gold.heading)  # a repeated heading's anchor carries `-1`, `-2`, ...
    return bool(anchor) and re.fullmatch(re.escape(slug) + r"(-\d+)?", anchor) is not None


def page_hits(passages: Sequence[Passage], question: EvalQuestion) -> list[bool]:
    """Per rank, whether the passage's page is a gold page not already found."""
    wanted, hits = set(question.gold_pages), []
    for p in passages:
        hits.append(p.source in wanted)
        wanted.discard(p.source)
    return hits


def section_hits(passages: Sequence[Passage], question: EvalQuestion) -> list[bool]:
    """Per rank, whether the passage is a gold section not already found."""
    wanted, hits = question.gold_sections, []
    for p in passages:
        match = next((g for g in wanted if section_matches(p, g)), None)
        hits.append(match is not None)
        wanted = [g for g in wanted if g is not match]
    return hits


def keyword_coverage(text: str, keywords: Sequence[str]) -> float | None:
    """The share of `keywords` found in `text`, ignoring case (None without keywords)."""
    if not keywords:
        return None
    folded = " ".join(text.split()).casefold()
    return sum(" ".join(k.split()).casefold() in folded for k in keywords) / len(keywords)


def refused(result: Answer) -> bool:
    """The answer is the book's refusal: mode `not_found` and no sources."""
    return result.mode == "not_found" and not result.sources


def cited_pages(result: Answer, passages: Sequence[Passage], pages: PageDirectory) -> list[str]:
    """The pages (docs-relative paths) an answer cites, from its citations and sources."""
    by_url = {p.url: p.source for p in passages} | {p.page_url: p.source for p in passages}
    found: list[str] = []
    for url in [*(c.url for c in result.citations), *result.sources]:
        source = by_url.get(url)
        if source is None:
            try:
                source = str(pages.find(url)["source"])
            except PageNotFound:
                continue
        if source not in found:
            found.append(source)
    return found


# -- running -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerCheck:
    """How one answer did."""

    text: str
    mode: str
    refused: bool
    cited_pages: list[str]
    keyword_coverage: float | None
    cites_gold: bool | None  # None for an unanswerable question


@dataclass(frozen=True)
class QuestionResult:
    """What retrieval (and answering) did with one question."""

    question: EvalQuestion
    passages: list[Passage]
    covered: bool
    page_hits: list[bool]
    section_hits: list[bool]
    answer: AnswerCheck | None = None
    degraded: bool = False  # a model call failed and retrieval fell back

    @property
    def page_rank(self) -> int | None:
        return first_rank(self.page_hits)

    @property
    def section_rank(self) -> int | None:
        return first_rank(self.section_hits)

    def misses(self) -> list[str]:
        """Why this question counts as a miss (empty when it does not)."""
        reasons, check = [], self.answer
        if self.question.answerable:
            if self.page_rank is None:
                reasons.append(f"no gold page in the top {len(self.passages)}")
            elif self.page_rank > 1:
                reasons.append(f"gold page at rank {self.page_rank}")
            if check is not None and check.refused:
                reasons.append("refused")
            elif check is not None and not check.cites_gold:
                reasons.append("answer cites no gold page")
        elif check is not None and not check.refused:
            reasons.append("answered instead of refusing")
        return reasons

    def to_json(self) -> dict[str, Any]:
        q = self.question
        return {
            "id": q.id,
            "kind": q.kind,
            "question": q.question,
            "gold": [{"path": g.path, "heading": g.heading} for g in q.gold],
            "page_rank": self.page_rank,
            "section_rank": self.section_rank,
            "covered": self.covered,
            "degraded": self.degraded,
            "retrieved": [
                {"path": p.source, "section": p.section, "url": p.url, "score": round(p.score, 4)}
                for p in self.passages
            ],
            "answer": None if self.answer is None else round_floats(vars(self.answer)),
            "misses": self.misses(),
        }


def evaluate(
    book: Book,
    questions: Sequence[EvalQuestion],
    limit: int = K,
    answers: bool = True,
    on_question: Callable[[EvalQuestion], None] | None = None,
) -> list[QuestionResult]:
    """Retrieve (and answer, unless `answers` is false) every question with `book`."""
    results = []
    for q in questions:
        retrieval = book.retriever.retrieve(q.question, limit)
        passages = retrieval.passages
        check = _check_answer(book, q, passages) if answers else None
        hits = page_hits(passages, q), section_hits(passages, q)
        results.append(
            QuestionResult(q, passages, retrieval.covered, *hits, check, retrieval.degraded)
        )
        if on_question is not None:
            on_question(q)
    return results


def _check_answer(book: Book, q: EvalQuestion, passages: Sequence[Passage]) -> AnswerCheck:
    result = answer(book, Question(q.question))
    cited = cited_pages(result, passages, book.pages)
    return AnswerCheck(
        text=result.answer,
        mode=result.mode,
        refused=refused(result),
        cited_pages=cited,
        keyword_coverage=keyword_coverage(result.answer, q.keywords) if q.answerable else None,
        cites_gold=bool(set(cited) & set(q.gold_pages)) if q.answerable else None,
    )


def round_floats(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: round_floats(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [round_floats(v) for v in value]
    return value
