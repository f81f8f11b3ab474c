"""The gap report: what readers asked that the book could not answer (grouped by similar
wording), answers they marked unhelpful, comments on helpful ones, the pages answers cite
most, questions per day, and refusal and feedback rates, over a recent period of the log."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urldefrag

import sqlalchemy as sa

from bookrag.answering.retrieval import Retriever
from bookrag.errors import BookragError
from bookrag.feedback.database import answers, feedback
from bookrag.feedback.grouping import Asked, Gap, Lacking, PageLink, group_questions
from bookrag.feedback.records import question_terms
from bookrag.index import lexical

_PERIOD = re.compile(r"^\s*(\d{1,5})\s*([hdw])\s*$")
_UNITS = {"h": "hours", "d": "days", "w": "weeks"}

Closest = Callable[[str], PageLink | None]


def parse_period(text: str) -> timedelta:
    """`7d`, `24h`, `2w` as a duration; ValueError for anything else."""
    match = _PERIOD.match(text.lower())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"not a period: {text!r} (use e.g. 24h, 7d or 4w)")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def closest_page(retriever: Retriever, text: str) -> PageLink | None:
    """The book's page nearest `text`, whether or not it answers it (None on failure)."""
    try:
        passages = retriever.retrieve(text, limit=1).passages
    except BookragError:
        return None
    return PageLink(passages[0].title, passages[0].page_url) if passages else None


def lacking_terms(retriever: Retriever, terms: set[str]) -> set[str]:
    """Those of `terms` (as the report groups questions by them) that no section of the book
    holds; none when the index cannot be read, so questions group by all their terms."""
    ids = {term: lexical.term_id(term) for term in terms}
    try:
        df, _ = retriever.store.document_frequencies(ids.values())
    except BookragError:
        return set()
    return {term for term, i in ids.items() if not df[i]}


@dataclass
class Rated:
    """An answer a reader rated, with what they said of it."""

    question: str
    mode: str
    comment: str | None
    sources: list[str]
    when: datetime


@dataclass
class Day:
    day: date
    answers: int = 0
    refusals: int = 0


@dataclass
class GapReport:
    since: datetime
    until: datetime
    answers: int = 0
    refusals: int = 0
    rated: int = 0  # answers with at least one verdict
    helpful: int = 0
    unhelpful_count: int = 0
    days: list[Day] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    unhelpful: list[Rated] = field(default_factory=list)
    helpful_comments: list[Rated] = field(default_factory=list)  # 👍 that came with words
    unhelpful_groups: list[Gap] = field(default_factory=list)  # `unhelpful` by question
    cited_pages: list[tuple[str, int]] = field(default_factory=list)
    asked_from: list[tuple[str, int]] = field(default_factory=list)

    @property
    def refusal_rate(self) -> float:
        return self.refusals / self.answers if self.answers else 0.0

    @property
    def feedback_rate(self) -> float:
        return self.rated / self.answers if self.answers else 0.0

    @property
    def helpful_rate(self) -> float | None:
        """The share of verdicts that were helpful; None before anyone voted."""
        votes = self.helpful + self.unhelpful_count
        return self.helpful / votes if votes else None

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data (times in ISO 8601, UTC)."""
        body = asdict(self)
        body.update(
            refusal_rate=round(self.refusal_rate, 4),
            feedback_rate=round(self.feedback_rate, 4),
            helpful_rate=None if self.helpful_rate is None else round(self.helpful_rate, 4),
            cited_pages=[{"url": u, "count": n} for u, n in self.cited_pages],
            asked_from=[{"url": u, "count": n} for u, n in self.asked_from],
        )
        data: dict[str, Any] = json.loads(json.dumps(body, default=_iso))
        return data


def _iso(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def gap_report(
    engine: sa.Engine,
    period: timedelta,
    closest: Closest | None = None,
    now: datetime | None = None,
    top: int = 20,
    kept: timedelta | None = None,
    lacking: Lacking | None = None,
) -> GapReport:
    """The report over the last `period` (no further back than answers are `kept`);
    `closest` finds the book's page nearest a gap, and `lacking` which question terms the
    book lacks (questions are grouped by those)."""
    until = now or datetime.now(UTC)
    report = GapReport(since=until - min(period, kept or period), until=until)
    days: dict[date, Day] = {}
    unanswered: list[Asked] = []
    cited: Counter[str] = Counter()
    asked_from: Counter[str] = Counter()
    # A replica whose clock runs ahead may have logged an answer "later" than now.
    recent = answers.c.created_at.between(report.since, until)
    columns = (answers.c.created_at, answers.c.question, answers.c.terms, answers.c.mode)
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(
                *columns,
                answers.c.sources,
                answers.c.page_url,
                answers.c.selection,
                answers.c.degraded,
            ).where(recent)
        )
        for when, question, terms, mode, sources, page_url, selection, degraded in rows:
            when = _utc(when)
            day = days.setdefault(when.date(), Day(when.date()))
            day.answers += 1
            report.answers += 1
            if mode == "not_found":
                day.refusals += 1
                report.refusals += 1
                asked = Asked(question, _terms(question, terms), when, selection, page_url)
                if not degraded:  # refused while a provider failed: no sign the book lacks it
                    unanswered.append(asked)
            cited.update({urldefrag(url).url for url in json.loads(sources)})
            if page_url:
                asked_from[page_url] += 1
        verdicts = connection.execute(
            sa.select(
                feedback.c.answer_id,
                feedback.c.helpful,
                feedback.c.comment,
                feedback.c.created_at,
                *columns[1:],
                answers.c.sources,
                answers.c.page_url,
                answers.c.selection,
            )
            .join(answers, answers.c.id == feedback.c.answer_id)
            .where(recent)
            .order_by(feedback.c.created_at.desc())
        )
        rated: set[str] = set()
        disliked: list[Asked] = []
        for answer_id, helpful, comment, when, question, terms, mode, sources, *where in verdicts:
            rated.add(answer_id)
            item = Rated(question or terms, mode, comment, json.loads(sources), _utc(when))
            if helpful:
                report.helpful += 1
                if comment and len(report.helpful_comments) < top:
                    report.helpful_comments.append(item)
                continue
            report.unhelpful_count += 1
            page_url, selection = where
            disliked.append(
                Asked(question, _terms(question, terms), _utc(when), selection, page_url, comment)
            )
            if len(report.unhelpful) < top:
                report.unhelpful.append(item)
    report.rated = len(rated)
    report.days = _every_day(days, report.since.date(), until.date())
    report.gaps = group_questions(unanswered, lacking=lacking)[:top]
    report.unhelpful_groups = group_questions(disliked, lacking=lacking)[:top]
    if closest is not None:
        for gap in report.gaps:
            if gap.terms:  # a gap of no searchable word has nothing to search the book for
                gap.closest = closest(gap.example)
    report.cited_pages = cited.most_common(top)
    report.asked_from = asked_from.most_common(top)
    return report


def _terms(question: str | None, logged: str) -> str:
    """What a logged question is grouped by: a kept text is read again, so rows logged by an
    older bookrag group as new ones do; without the text, the terms logged with it."""
    return question_terms(question) if question else logged


def _every_day(days: dict[date, Day], first: date, last: date) -> list[Day]:
    out = []
    day = first
    while day <= last:
        out.append(days.get(day, Day(day)))
        day += timedelta(days=1)
    return out
