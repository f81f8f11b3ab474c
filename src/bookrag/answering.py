"""Answer a reader's question from the book, citing the sections the answer comes from.

Without a chat model the answer is extractive: the sentences of the best sections that
carry most of the question's weight, quoted with numbered citations. A question the book
does not cover (below the relevance floor) gets a refusal with no sources.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from bookrag import lexical
from bookrag.config import Settings
from bookrag.errors import PageNotFound
from bookrag.pages import PageDirectory
from bookrag.retrieval import Passage, QueryTerms, query_terms, relevance, search
from bookrag.store import BookStore

NOT_FOUND = "I couldn't find this in the book."
EXPLAIN = "Explain this passage."
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9`*\[(\"'])")
_MAX_QUOTES = 3
_SELECTION_QUERY_WORDS = 120
_MIN_PASSAGE_COVERAGE = 0.1  # a supporting passage must share some weight with the question


class Turn(BaseModel):
    """One earlier message of the conversation."""

    role: Literal["user", "assistant"]
    content: str = Field(max_length=4000)


class Citation(BaseModel):
    """Where a part of the answer comes from."""

    number: int
    url: str
    title: str
    section: str
    quote: str = Field(description="the quoted source text")
    span: str | None = Field(None, description="the part of the answer this supports")


class Answer(BaseModel):
    """The answer as `/chat` returns it (the contract's `answer` and `sources`, and more)."""

    answer: str
    sources: list[str] = Field(description="page URLs with #anchor, deduplicated, best first")
    citations: list[Citation] = []
    mode: Literal["extractive", "generative", "not_found"]
    extractive: bool
    degraded: bool = False


@dataclass(frozen=True)
class Question:
    """What the reader asked, with the passage they selected and the page they are on."""

    question: str
    selected_text: str | None = None
    page_url: str | None = None
    history: tuple[Turn, ...] = ()

    @property
    def text(self) -> str:
        return self.question.strip() or EXPLAIN


@dataclass
class Book:
    """Everything answering needs: the index, its page directory and the relevance floor."""

    store: BookStore
    pages: PageDirectory
    min_relevance: float

    @classmethod
    def open(cls, store: BookStore, settings: Settings) -> Book:
        return cls(store, PageDirectory(store), settings.min_relevance)


@dataclass(frozen=True)
class _Quote:
    passage: Passage
    text: str


def retrieval_query(question: Question) -> str:
    """The question, widened by the start of the selected passage."""
    if not question.selected_text:
        return question.text
    selection = " ".join(question.selected_text.split()[:_SELECTION_QUERY_WORDS])
    return f"{question.question} {selection}".strip()


def answer(book: Book, question: Question) -> Answer:
    """Answer `question` from the book (extractively)."""
    passages = context_passages(book, question)
    if not passages:
        return not_found()
    terms = query_terms(book.store, question.text)
    quotes = _best_quotes(passages, terms, question.selected_text)
    return _extractive(quotes)


def stream_answer(book: Book, question: Question) -> Iterator[str | Answer]:
    """The answer's text in small pieces, then the whole `Answer`."""
    result = answer(book, question)
    yield from re.findall(r"\S+\s*", result.answer)
    yield result


def context_passages(book: Book, question: Question) -> list[Passage]:
    """The sections to answer from, best first; empty when the book does not cover it.

    A selected passage comes first (from its page when `page_url` says which), and the
    question is then answered around it even if the rest of the book is silent.
    """
    query = retrieval_query(question)
    passages = search(book.store, query, limit=5)
    selected = _selection_passage(book, question) if question.selected_text else None
    if selected is not None:
        rest = [p for p in passages if p.url != selected.url]
        return [selected, *rest[:2]]
    if question.selected_text:
        return passages[:3]
    if not passages:
        return []
    terms = query_terms(book.store, query)
    if relevance(terms, passages[0]) < book.min_relevance:
        return []
    return [p for p in passages[:3] if p.coverage >= _MIN_PASSAGE_COVERAGE]


def not_found() -> Answer:
    return Answer(answer=NOT_FOUND, sources=[], mode="not_found", extractive=False)


def _selection_passage(book: Book, question: Question) -> Passage | None:
    """The section of the named page that holds the selected text."""
    if not question.page_url or not question.selected_text:
        return None
    try:
        page = book.pages.find(question.page_url)
    except PageNotFound:
        return None
    chunks = book.store.page_chunks(str(page["source"]))
    if not chunks:
        return None
    selected = set(lexical.terms(question.selected_text))
    best = max(chunks, key=lambda c: len(selected & set(lexical.terms(str(c["text"])))))
    return Passage(
        source=str(best["source"]),
        url=str(best["url"]),
        page_url=str(best["page_url"]),
        title=str(best["title"]),
        section=str(best.get("section", "")),
        text=question.selected_text,
        score=1.0,
        coverage=1.0,
    )


def _units(text: str) -> Iterator[str]:
    """Sentences and list items of a section's prose (code blocks and tables are left out)."""
    in_code = False
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped.startswith("```"):
            in_code = not in_code
            continue
        if in_code or stripped.startswith("|"):
            continue
        yield from (s.strip() for s in _SENTENCE.split(stripped) if len(s.split()) >= 3)


def _best_quotes(passages: list[Passage], terms: QueryTerms, selection: str | None) -> list[_Quote]:
    quotes: list[_Quote] = []
    for rank, passage in enumerate(passages):
        units = list(_units(passage.text)) or [passage.text.strip()[:400]]
        scored = sorted(units, key=lambda u: (terms.coverage(u), -len(u)), reverse=True)
        take = 2 if rank == 0 else 1
        chosen = [u for u in scored[:take] if rank == 0 or terms.coverage(u) > 0]
        # Keep the book's order inside one section.
        quotes.extend(_Quote(passage, u) for u in sorted(chosen, key=units.index))
        if len(quotes) >= _MAX_QUOTES:
            break
    if selection and passages and passages[0].text == selection:
        quotes[0] = _Quote(passages[0], " ".join(selection.split()[:80]))
    return quotes[:_MAX_QUOTES]


def _extractive(quotes: list[_Quote]) -> Answer:
    numbers: dict[str, int] = {}
    citations: list[Citation] = []
    lines = ["From the book (quoted passages; no language model is configured):", ""]
    for quote in quotes:
        passage = quote.passage
        if passage.url not in numbers:
            numbers[passage.url] = len(numbers) + 1
        number = numbers[passage.url]
        lines += [f"> {quote.text} [{number}]", ""]
        citations.append(
            Citation(
                number=number,
                url=passage.url,
                title=passage.title,
                section=passage.section,
                quote=quote.text,
            )
        )
    lines.append("Sources:")
    lines += [f"[{n}] {url}" for url, n in numbers.items()]
    return Answer(
        answer="\n".join(lines),
        sources=list(numbers),
        citations=citations,
        mode="extractive",
        extractive=True,
    )
