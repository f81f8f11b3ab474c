"""Mean scores over a set of questions (all, or one `kind`), and the bars they must clear."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bookrag.evaluation.metrics import (
    CUTOFFS,
    K,
    QuestionResult,
    ndcg_at,
    recall_at,
    reciprocal_rank,
    round_floats,
)


@dataclass(frozen=True)
class Summary:
    """Mean scores over a set of questions; a group with nothing to score is None."""

    questions: int
    answerable: int
    page: dict[str, float] | None
    section: dict[str, float] | None
    answers: dict[str, float | None] | None
    degraded: int = 0  # questions whose retrieval fell back because a model call failed

    def to_json(self) -> dict[str, Any]:
        rounded: dict[str, Any] = round_floats(vars(self))
        return rounded


def summarise(results: Sequence[QuestionResult]) -> Summary:
    """Retrieval scores over the answerable questions, answer scores over all answered."""
    answerable = [r for r in results if r.question.answerable]
    pages = [(r.page_hits, len(r.question.gold_pages)) for r in answerable]
    sections = [(r.section_hits, len(r.question.gold_sections)) for r in answerable]
    checked = [(r.question, r.answer) for r in results if r.answer is not None]
    answers: dict[str, float | None] | None = None
    if checked:
        yes = [a for q, a in checked if q.answerable]
        no = [a for q, a in checked if not q.answerable]
        answers = {
            "keyword_coverage": _mean(
                [a.keyword_coverage for a in yes if a.keyword_coverage is not None]
            ),
            "cites_gold": _mean([float(bool(a.cites_gold)) for a in yes]),
            "refusal_accuracy": _mean([float(a.refused) for a in no]),
            "false_refusal_rate": _mean([float(a.refused) for a in yes]),
        }
    return Summary(
        len(results),
        len(answerable),
        _ranking(pages),
        _ranking(sections),
        answers,
        sum(r.degraded for r in results),
    )


def by_kind(results: Sequence[QuestionResult]) -> dict[str, Summary]:
    """A summary per question `kind`, in order of first appearance."""
    kinds = dict.fromkeys(r.question.kind for r in results)
    return {k: summarise([r for r in results if r.question.kind == k]) for k in kinds}


def _ranking(runs: Sequence[tuple[list[bool], int]]) -> dict[str, float] | None:
    if not runs:
        return None
    scores = {f"recall@{k}": [recall_at(h, k) for h, _ in runs] for k in CUTOFFS}
    scores["mrr@10"] = [reciprocal_rank(h, K) for h, _ in runs]
    scores["ndcg@10"] = [ndcg_at(h, n, K) for h, n in runs]
    return {name: sum(values) / len(values) for name, values in scores.items()}


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


@dataclass(frozen=True)
class Bars:
    """The scores `bookrag eval` must reach (None: no bar)."""

    recall: float | None = None  # page Recall@5
    mrr: float | None = None  # page MRR@10
    keywords: float | None = None  # answers' keyword coverage

    def __bool__(self) -> bool:
        return any(bar is not None for bar in vars(self).values())


def missed_bars(summary: Summary, bars: Bars) -> list[str]:
    """The bars a summary falls below, as messages."""
    page, answers = summary.page or {}, summary.answers or {}
    missed = []
    for name, scores, label, bar in (
        ("page recall@5", page.get("recall@5"), "--min-recall", bars.recall),
        ("page mrr@10", page.get("mrr@10"), "--min-mrr", bars.mrr),
        ("keyword coverage", answers.get("keyword_coverage"), "--min-keywords", bars.keywords),
    ):
        if bar is None:
            continue
        if scores is None:  # answers not scored (--no-answers), or nothing to score
            missed.append(f"{name} was not measured, so {label} {bar:g} is not met")
        elif scores < bar:
            missed.append(f"{name} {scores:.3f} is below {label} {bar:g}")
    return missed
