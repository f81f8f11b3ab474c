"""What the answer log keeps of an answer (`AnswerRecord`, made by `make_record`) and of a
reader's verdict on it (`Verdict`); `database` says what each column means.
"""

from __future__ import annotations

import json
import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

from bookrag.answering.models import Answer, Question, well_formed
from bookrag.feedback.database import (
    MAX_PAGE_URL_CHARS,
    MAX_SELECTION_CHARS,
)
from bookrag.feedback.redaction import redact
from bookrag.index import lexical

# A request header that marks a deployment's own smoke check (`bookrag check-deploy`): its
# questions are no reader's, so its answers are not logged.
CHECK_HEADER = "X-Bookrag-Check"


@dataclass(frozen=True)
class AnswerRecord:
    """One answer as the log keeps it (see `database` for what each field means)."""

    id: str
    created_at: datetime
    question: str | None
    terms: str
    mode: str
    degraded: bool
    sources: tuple[str, ...]
    latency_ms: float
    page_url: str | None
    selection: str | None


@dataclass(frozen=True)
class Verdict:
    """A reader's feedback on one answer."""

    answer_id: str
    client: str  # the client's address: hashed before it is stored
    helpful: bool
    comment: str | None


def storable(text: str | None) -> str | None:
    """Text as every database can keep it: PostgreSQL's text columns refuse NUL (U+0000),
    and neither database takes a lone surrogate."""
    return well_formed(text.replace("\x00", "")) if text is not None else None


def question_terms(text: str) -> str:
    """What the gap report groups a question by: its stemmed words without stop words, in
    any letter case (`LoRaWAN` is `lorawan`, not BM25's `lo ra wan`), a word with a number
    also read as its parts (`oauth2` also as `oauth 2`), sorted and deduplicated; never an
    e-mail address, a long number or a secret-looking word (`redaction`)."""
    found: set[str] = set()
    for term in lexical.terms(redact(text, " ").casefold(), versions=False):
        found.add(term)
        parts = _LETTERS_OR_DIGITS.findall(term)
        if len(parts) > 1:
            found.update(lexical.terms(" ".join(parts), versions=False))
    return " ".join(sorted(found))


_LETTERS_OR_DIGITS = re.compile(r"[^\W\d_]+|\d+")


def _page(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url.strip())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))[:MAX_PAGE_URL_CHARS]


def make_record(
    question: Question, result: Answer, latency_ms: float, keep_text: bool
) -> AnswerRecord:
    """What the log keeps of one answer; the question's text only when `keep_text`."""
    selection = question.selected_text[:MAX_SELECTION_CHARS] if question.selected_text else None
    return AnswerRecord(
        id=uuid.uuid4().hex,
        created_at=datetime.now(UTC),
        question=question.question.strip() if keep_text else None,
        terms=question_terms(question.question),
        mode=result.mode,
        degraded=result.degraded,
        sources=tuple(result.sources),
        latency_ms=round(latency_ms, 2),
        page_url=_page(question.page_url),
        selection=selection if keep_text else None,
    )


def as_row(record: AnswerRecord) -> dict[str, object]:
    """The record as a row of the `answers` table."""
    return {
        "id": record.id,
        "created_at": record.created_at,
        "question": storable(record.question),
        "terms": record.terms,
        "mode": record.mode,
        "degraded": record.degraded,
        "sources": json.dumps(list(record.sources)),
        "latency_ms": record.latency_ms,
        "page_url": storable(record.page_url),
        "selection": storable(record.selection),
    }


_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def visible(text: str) -> str:
    """Readers' words as the report shows them: a control character or bidirectional
    override as U+FFFD (an override would turn the rest of a line around; joiners, which Urdu
    and emoji need, stay)."""
    return "".join(
        ch
        if ch == "\n" or (unicodedata.category(ch) != "Cc" and ch not in _BIDI_CONTROLS)
        else "\ufffd"
        for ch in text
    )
