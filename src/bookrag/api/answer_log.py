"""An answer as the routes hand it to the answer log: queued (never waited on), with the
page asked from as the book publishes it, and its id given back to the reader."""

from __future__ import annotations

import time
from dataclasses import replace

from bookrag.answering.models import Answer, Question
from bookrag.answering.pipeline import Book
from bookrag.config import Settings
from bookrag.errors import BookragError
from bookrag.feedback.journal import Journal
from bookrag.feedback.records import make_record


def logged(
    journal: Journal | None,
    book: Book,
    settings: Settings,
    question: Question,
    result: Answer,
    started: float,
) -> Answer:
    """Queue the answer for the answer log (never waiting on it) and give it its id."""
    if journal is None:
        return result
    latency_ms = (time.perf_counter() - started) * 1000
    # The page asked from, as the book publishes it, or none: a URL a client makes up is no
    # link for the gap report, and the same page read on localhost is still that page.
    question = replace(question, page_url=_indexed_page(book, question.page_url))
    record = make_record(question, result, latency_ms, keep_text=settings.log_questions)
    journal.record(record)
    return result.model_copy(update={"answer_id": record.id})


def _indexed_page(book: Book, page_url: str | None) -> str | None:
    """The URL of the indexed page `page_url` names, or None (it may read the store: call it
    off the event loop)."""
    if not page_url:
        return None
    try:
        return str(book.pages.find(page_url)["url"])
    except BookragError:  # no such page, or the store went away: the answer still stands
        return None
