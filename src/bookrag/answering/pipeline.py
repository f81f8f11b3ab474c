"""Answer a reader's question from the book, citing the sections the answer comes from.

With a chat model the answer is generated from the retrieved sections and cites them;
without one (or when it fails) it is extractive. A question the book does not cover gets
a refusal with no sources.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import anyio

from bookrag.answering.extractive import UNCITED_HEADER, extractive_answer
from bookrag.answering.figures import note, timed
from bookrag.answering.generation import (
    SELECTION_ID,
    answer_prompt,
    cut_short,
    cut_tail,
    documents,
    not_found,
    to_answer,
)
from bookrag.answering.models import Answer, Question
from bookrag.answering.queries import refusal_note, search_texts
from bookrag.answering.retrieval import Passage, Retrieval, Retriever
from bookrag.answering.selection import placed_in
from bookrag.answering.terms import QueryTerms
from bookrag.config import Settings
from bookrag.errors import NotIndexed, PageNotFound, UpstreamError
from bookrag.index import lexical
from bookrag.index.pages import PageDirectory
from bookrag.index.store import BookStore
from bookrag.providers.base import ChatModel, ChatPrompt, Generation, RetryPolicy, SpanCitation
from bookrag.providers.wiring import Providers

log = logging.getLogger("bookrag.answering")

# A supporting passage must carry a fair share of what the best one does of the question.
_SUPPORT_SHARE = 0.6
NOT_INDEXED = "the book is not indexed yet"
# A follow-up keeps to the earlier topic when that topic's page scores at least this share of
# the best page for the question alone (`follows_on`).
FOLLOW_ON_SHARE = 0.8


@dataclass
class Book:
    """Everything answering needs: the index, its pages, retrieval and the chat model."""

    store: BookStore
    pages: PageDirectory
    retriever: Retriever
    chat: ChatModel | None = None
    policy: RetryPolicy = field(default_factory=RetryPolicy)

    @classmethod
    def open(cls, store: BookStore, settings: Settings, providers: Providers | None = None) -> Book:
        providers = providers or Providers()
        retriever = Retriever(
            store,
            providers.embedder,
            providers.reranker,
            providers.policy,
            settings.min_relevance,
            settings.min_rerank_score,
        )
        return cls(store, PageDirectory(store), retriever, providers.chat, providers.policy)


@dataclass
class Plan:
    """What to answer from, decided before any text is generated."""

    passages: list[Passage]
    terms: QueryTerms
    degraded: bool
    prompt: ChatPrompt | None  # None: answer without the chat model
    ready: Answer | None = None  # set when the answer needs no generation


def plan(book: Book, question: Question) -> Plan:
    """Rewrite a follow-up, retrieve, and decide between refusal, extractive and generative."""
    note(question=question.text)
    with timed("retrieval"):
        (query, *widened), unrestated = search_texts(question, book.chat, book.policy, book.pages)
        retrieval = book.retriever.retrieve(query, limit=5)
        for other in widened:
            found = book.retriever.retrieve(other, limit=5)
            if follows_on(retrieval, found):
                query, retrieval = other, found
        terms = retrieval.terms
    # A provider that failed (restating the question, embedding it, reranking) made this
    # answer worse than it would be: said of refusals too.
    degraded = retrieval.degraded or unrestated
    passages = retrieval.passages
    if not passages:  # not "not in the book" when there is no book yet
        require_index(book)
    placed = _selection_passage(book, question, passages)
    if placed is not None:
        # The selection, then the section it is in (what surrounds it explains it), then the
        # best of the other sections.
        selected, section = placed
        others = [p for p in passages if p.url != section.url][:1]
        passages = [section, *others] if selected is None else [selected, section, *others]
    elif not retrieval.covered:  # a selection the book does not hold is no better
        refused = not_found(refusal_note(query, book.pages), degraded)
        return Plan([], terms, degraded, None, refused)
    elif question.selected_text:
        passages = passages[:3]
    else:
        supporting = [p for p in passages[1:3] if _supports(p, passages[0], terms)]
        runner_up = [retrieval.runner_up] if retrieval.runner_up is not None else []
        passages = [passages[0], *runner_up, *supporting]
    if book.chat is None:
        ready = extractive_answer(passages, terms, question.selected_text, degraded)
        if not ready.citations:  # nothing quotable (only quiz or link lines): say so
            ready = not_found(degraded=degraded)
        return Plan(passages, terms, degraded, None, ready)
    prompt = answer_prompt(question, documents(passages, question))
    return Plan(passages, terms, degraded, prompt)


def follows_on(alone: Retrieval, widened: Retrieval) -> bool:
    """Whether a question asked after others means what the book answered last: searched for
    with that question before it, it finds a page that the question alone finds about as well
    as its best ("How is it calibrated?" after the rain gauge: the rain gauge's calibration,
    one of several), or the question alone finds nothing. A question on another topic finds
    its own page alone, far above the earlier topic's ("What does the dashboard show?" after
    the rain gauge), and is answered from it."""
    if not widened.covered or not widened.passages:
        return False
    if not alone.covered or not alone.passages:
        return True
    best = alone.passages[0].score
    near = {p.source for p in alone.passages if p.score >= FOLLOW_ON_SHARE * best}
    return widened.passages[0].source in near


def require_index(book: Book) -> None:
    """Raise `NotIndexed` when the index holds no page of the book yet."""
    if not book.pages.all():
        raise NotIndexed(f"{NOT_INDEXED}: run `bookrag ingest` (or see /health)")


def _supports(passage: Passage, best: Passage, terms: QueryTerms) -> bool:
    """Whether a lower-ranked passage adds to the answer: it carries a fair share of the
    question's weight, and (for questions of several terms) more than one of its words."""
    shared = terms.in_book & set(lexical.terms(f"{passage.breadcrumb}\n{passage.text}"))
    enough_terms = len(shared) >= min(2, len(terms.weights))
    return enough_terms and passage.coverage >= _SUPPORT_SHARE * best.coverage


def answer(book: Book, question: Question) -> Answer:
    """Answer `question` from the book."""
    chosen = plan(book, question)
    if chosen.ready is not None:
        return _noted(chosen.ready)
    chat, prompt = book.chat, chosen.prompt
    assert chat is not None and prompt is not None
    try:
        with timed("generation"):
            generation = book.policy.call("chat", chat, lambda: chat.generate(prompt))
        if not generation.text.strip():
            raise UpstreamError(_NO_TEXT)
    except UpstreamError as exc:
        return _noted(_fallback(chosen, question, exc))
    return _noted(_from_model(generation, chosen, question))


def _noted(result: Answer) -> Answer:
    """Put the answer's mode and degradation on this request's log line."""
    note(mode=result.mode, degraded=result.degraded)
    return result


async def stream_answer(book: Book, question: Question) -> AsyncIterator[str | Answer]:
    """The answer's text as it is produced, then the whole `Answer`.

    The chat model's text is relayed from its first citation of a retrieved section on
    (held until then), so a reader never watches an answer grow that turns out to cite
    nothing and is replaced by a refusal or the book's own sentences. A retryable failure
    before any text is retried, and a failure before any text was relayed falls back to
    an extractive answer. Cancelling this generator (a client that went away) cancels the
    upstream call.
    """
    chosen = await anyio.to_thread.run_sync(plan, book, question)
    if chosen.ready is not None:
        for piece in _pieces(chosen.ready):
            yield piece
        yield _noted(chosen.ready)
        return
    chat, prompt = book.chat, chosen.prompt
    assert chat is not None and prompt is not None
    sources = {document.id for document in prompt.documents if document.url}  # the book's
    generation, held, grounded, relayed = None, "", False, False
    try:
        with timed("generation"):
            async for item in book.policy.astream("chat stream", chat, lambda: chat.stream(prompt)):
                if isinstance(item, Generation):
                    generation = item
                elif isinstance(item, SpanCitation):
                    grounded = grounded or not sources.isdisjoint(item.document_ids)
                else:
                    held += item
                if grounded and held.strip():  # blanks alone are held: they are no answer
                    relayed = True
                    yield held
                    held = ""
        assert generation is not None
        if not generation.text.strip():  # nothing was sent
            raise UpstreamError(_NO_TEXT)
    except UpstreamError as exc:
        if relayed:  # the reader has part of an answer: no silent second one
            raise
        result = _noted(_fallback(chosen, question, exc))
    else:
        result = _noted(_from_model(generation, chosen, question))
    if not relayed:  # what the model wrote cited nothing: the answer made instead
        for piece in _pieces(result):
            yield piece
    elif generation is not None and generation.truncated:  # the reader saw it stop: why
        yield cut_tail(generation.text)
    yield result


def _pieces(result: Answer) -> list[str]:
    """An answer's text in the pieces a stream sends, word by word."""
    return re.findall(r"\S+\s*", result.answer)


_NO_TEXT = "the chat model answered with no text"  # a failure: the extractive answer stands in


def _from_model(generation: Generation, chosen: Plan, question: Question) -> Answer:
    """The model's answer; one citing no section is refused, unless the model cites by
    `[n]` markers, which small models often leave out, or it cites the reader's selection
    alone, which the book does not hold: the book's own sentences then."""
    assert chosen.prompt is not None
    docs = chosen.prompt.documents
    result = to_answer(generation, docs, chosen.terms)
    # A selection counts only when one was sent: an id the model made up cites nothing.
    sent = any(d.id == SELECTION_ID for d in docs)
    selection = sent and any(SELECTION_ID in span.document_ids for span in generation.citations)
    if result.mode == "not_found" and (generation.marked or selection):
        log.info("the chat model cited no section of the book; answering extractively")
        result = extractive_answer(
            chosen.passages, chosen.terms, question.selected_text, header=UNCITED_HEADER
        )
        result = result if result.citations else not_found()
    elif generation.truncated and result.mode == "generative":
        result = cut_short(result)
    return result.model_copy(update={"degraded": chosen.degraded})


def _fallback(chosen: Plan, question: Question, error: UpstreamError) -> Answer:
    log.warning("generation failed, answering extractively: %s", error.message)
    return extractive_answer(chosen.passages, chosen.terms, question.selected_text, degraded=True)


def _selection_passage(
    book: Book, question: Question, found: list[Passage]
) -> tuple[Passage | None, Passage] | None:
    """The selected text, placed in the section of the page named (`page_url`) that holds
    it, else in one of those the search `found` (the book's own chat window names no page),
    and that section."""
    if not question.selected_text:
        return None
    sections = _page_sections(book, question.page_url) if question.page_url else None
    return placed_in(question.selected_text, sections, found)


def _page_sections(book: Book, page_url: str) -> list[Passage] | None:
    """The chunks of the indexed page at `page_url` as passages, or None for no such page."""
    try:
        page = book.pages.find(page_url)
    except PageNotFound:
        return None
    return [
        Passage(
            source=str(chunk["source"]),
            url=str(chunk["url"]),
            page_url=str(chunk["page_url"]),
            title=str(chunk["title"]),
            section=str(chunk.get("section", "")),
            text=str(chunk["text"]),
            score=1.0,
            coverage=1.0,
        )
        for chunk in book.store.page_chunks(str(page["source"]))
    ]
