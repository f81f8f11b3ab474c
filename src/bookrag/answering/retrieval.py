"""Find the sections of the book that answer a query, one best section per page.

Chunks are ranked by BM25 in Qdrant; a page is ranked by its best chunk, lifted a little by its
next few matching chunks, so results are the best section of each of the best pages rather than
several chunks of one paragraph (and a page the book holds twice is one result). The section
shown for a page is the one that best holds the query's terms its title lacks, of those an
answer can quote (`sections`).
The relevance floor weighs the query's terms by IDF: a query is covered when every name it
mentions (`MQTT`, `Home Assistant`) occurs in the book, and its weighty terms occur in the book
at all and in its best section in particular (`relevance`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from bookrag.answering.code_quotes import code_blocks
from bookrag.answering.hits import embedding_text, hit_vector
from bookrag.answering.sections import own_heading, quotable, ranked_sections, shown
from bookrag.answering.terms import QueryTerms, query_terms
from bookrag.book.chunking import with_subsections
from bookrag.errors import StoreUnavailable, UpstreamError
from bookrag.index.store import BookStore, Hit
from bookrag.providers.base import Embedder, Reranker, RetryPolicy

log = logging.getLogger("bookrag.retrieval")

CANDIDATES = 60
RERANK_CANDIDATES = 40
# A page is ranked by its best chunk plus this share of each of its next SUPPORT_CHUNKS best:
# a page that several sections support outranks one lucky paragraph.
SUPPORT_WEIGHT = 0.15
SUPPORT_CHUNKS = 3
# The best page's second section is answered from too when it scores this share of its best:
# the answer often spans two neighbouring sections of the page that teaches it.
RUNNER_UP_SHARE = 0.8
# Seconds the index's embedding model is trusted as read: a refresh may re-embed the book.
FINGERPRINT_TTL = 60.0


@dataclass(frozen=True)
class Passage:
    """A retrieved section of a page."""

    source: str
    url: str
    page_url: str
    title: str
    section: str
    text: str
    score: float
    coverage: float  # IDF-weighted share of the query's terms this section contains
    # Code blocks of the section's other chunks that the search found, in the book's order:
    # a section's code and the prose an answer quotes from it may be chunked apart.
    code: tuple[str, ...] = ()

    @property
    def breadcrumb(self) -> str:
        return f"{self.title} › {self.section}" if self.section else self.title

    @property
    def heading(self) -> str:
        """The section's own heading ("" for the page's opening text)."""
        return own_heading(self.section)

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.source,
            "url": self.url,
            "title": self.title,
            "section": self.section,
            "text": self.text,
            "score": round(self.score, 4),
        }


@dataclass(frozen=True)
class Retrieval:
    """What a search found, and whether the book covers the query at all."""

    passages: list[Passage]
    covered: bool
    terms: QueryTerms
    degraded: bool = False  # a model call failed and lexical results stood in
    mode: str = "lexical"
    runner_up: Passage | None = None  # another section of the best page, nearly as good


@dataclass
class Retriever:
    """Lexical search, or hybrid (dense + BM25, RRF) with reranking when models are given.

    Model failures degrade: no query embedding means lexical search, no reranking means
    the fused order; either is flagged `degraded`.
    """

    store: BookStore
    embedder: Embedder | None = None
    reranker: Reranker | None = None
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    min_relevance: float = 0.3
    min_rerank_score: float = 0.1

    # When the index's vectors were last read, and their dimension if this embedder's.
    _dense_checked: tuple[float, int | None] = field(
        default=(-FINGERPRINT_TTL, None), init=False, repr=False
    )

    def describe(self) -> str:
        """Which retrieval this is: lexical, hybrid or hybrid+rerank; lexical too when the
        index holds no embeddings of this embedder's model (it was built without them)."""
        if self.embedder is None or self._dense_dim() is None:
            return "lexical"
        return "hybrid+rerank" if self.reranker is not None else "hybrid"

    def index_changed(self) -> None:
        """Read the index's vectors anew at the next question (a rebuild replaced them)."""
        self._dense_checked = (-FINGERPRINT_TTL, None)

    def _dense_dim(self) -> int | None:
        """The dimension of the index's vectors if this embedder's model made them, as read
        at most once a minute. An index built without a key (or with another model), which a
        new key or a shared server's keyless ingest leaves behind until the book is
        re-embedded, is searched lexically rather than failing every query."""
        when, dim = self._dense_checked
        if time.monotonic() - when < FINGERPRINT_TTL:
            return dim
        try:
            fingerprint = self.store.fingerprint()
        except StoreUnavailable:  # said by the search that follows, or by /health's ping
            return dim
        model = self.embedder.model if self.embedder is not None else None
        dim = None
        if model is not None and fingerprint is not None and fingerprint.dense_model == model:
            dim = fingerprint.dense_dim
        elif model is not None:
            log.warning(
                "the index holds %s, not %s embeddings: searching lexically until the book "
                "is re-embedded (bookrag ingest)",
                fingerprint.describe() if fingerprint else "nothing yet",
                model,
            )
        self._dense_checked = (time.monotonic(), dim)
        return dim

    def retrieve(self, query: str, limit: int = 5) -> Retrieval:
        """The best section of each of the `limit` best pages for `query`."""
        degraded = False
        dense = None
        dim = self._dense_dim() if self.embedder is not None else None
        if self.embedder is not None and dim is None:
            degraded = True  # a keyed server answering from an index without its vectors
        elif self.embedder is not None:
            try:
                embed = partial(self.embedder.embed_batch, [query], "search_query")
                dense = self.policy.call("embed query", self.embedder, embed)[0]
            except UpstreamError as exc:
                log.warning("query embedding failed, searching lexically: %s", exc.message)
                degraded = True
            if dense is not None and len(dense) != dim:  # the same model name, other vectors
                log.warning(
                    "a query embedding has %d dimensions, the index's %s: searching lexically",
                    len(dense),
                    dim,
                )
                dense, degraded = None, True
        # Reranking reorders the candidates anyway; without it, more of them let a page's
        # second-best section count.
        wanted = RERANK_CANDIDATES if self.reranker is not None else CANDIDATES
        hits = self.store.search(query, max(wanted, limit * 8), dense)
        terms = query_terms(self.store, query)
        scored = [(h, h.score) for h in hits]
        reranked = False
        if self.reranker is not None and hits:
            try:
                order = self.policy.call(
                    "rerank",
                    self.reranker,
                    partial(
                        self.reranker.rerank,
                        query,
                        [embedding_text(h) for h in hits[:RERANK_CANDIDATES]],
                        RERANK_CANDIDATES,
                    ),
                )
                scored = [(hits[i], score) for i, score in order]
                reranked = True
            except UpstreamError as exc:
                log.warning("reranking failed, keeping the fused order: %s", exc.message)
                degraded = True
        passages, runner_up = _best_per_page(scored, terms, limit, support=not reranked)
        if not passages or terms.missing_names:
            covered = False  # nothing found, or the query names something the book never does
        elif reranked:
            covered = passages[0].score >= self.min_rerank_score
        else:
            covered = relevance(terms, passages[0]) >= self.min_relevance
        mode = "hybrid+rerank" if reranked else "hybrid" if dense is not None else "lexical"
        return Retrieval(passages, covered, terms, degraded, mode, runner_up)


def search(store: BookStore, query: str, limit: int = 5) -> list[Passage]:
    """Lexical search: the best section of each of the `limit` best pages."""
    return Retriever(store).retrieve(query, limit).passages


def _best_per_page(
    scored: list[tuple[Hit, float]], terms: QueryTerms, limit: int, support: bool
) -> tuple[list[Passage], Passage | None]:
    """The best section of each of the `limit` best pages, and the best page's runner-up."""
    pages: dict[str, list[tuple[Hit, float]]] = {}
    for hit, score in scored:  # best first
        pages.setdefault(str(hit.payload.get("source")), []).append((hit, score))
    totals = {source: hits[0][1] for source, hits in pages.items()}
    if support:
        for source, hits in pages.items():
            totals[source] += SUPPORT_WEIGHT * sum(s for _, s in hits[1 : SUPPORT_CHUNKS + 1])
    # A reranker has read each section whole: its order stands (but for what `shown` skips).
    chosen: dict[str, tuple[list[tuple[Hit, float]], tuple[Hit, float]]] = {}
    seen: set[tuple[str, str, str]] = set()
    for source in sorted(pages, key=lambda s: totals[s], reverse=True):
        if len(chosen) >= limit:
            break
        hits = ranked_sections(pages[source], terms) if support else pages[source]
        best = shown(hits, terms)
        # A page that shows the very section another better page shows (a book may hold the
        # same page twice) is not a second result.
        p = best[0].payload
        same = (str(p.get("title", "")), str(p.get("section", "")), str(p.get("text", "")))
        if same[2].strip() and same in seen:
            continue
        seen.add(same)
        chosen[source] = (hits, best)
    # A reranker's score is the shown section's own; BM25's is the page's (its relevance floor
    # reads coverage, not the score).
    passages = [
        _passage(hit, totals[s] if support else score, terms, _section_code(hit, pages[s]))
        for s, (_, (hit, score)) in chosen.items()
    ]
    first = next(iter(chosen.values()), None)
    runner_up = _runner_up(*first, passages[0], terms) if first else None
    return passages, runner_up


def _runner_up(
    hits: list[tuple[Hit, float]], best: tuple[Hit, float], shown_as: Passage, terms: QueryTerms
) -> Passage | None:
    """The best page's next section an answer can quote, when it scores nearly as well as the
    one shown."""
    for hit, score in hits:
        if score < RUNNER_UP_SHARE * best[1]:
            return None
        if hit.payload.get("url") != shown_as.url and quotable(hit, terms):
            return _passage(hit, score, terms, _section_code(hit, hits))
    return None


def relevance(terms: QueryTerms, passage: Passage) -> float:
    """How well the book, and this passage of it, covers the query (0 to 1).

    A query naming something the book never mentions is not covered at all.
    """
    if terms.missing_names:
        return 0.0
    return (terms.book_coverage + passage.coverage) / 2


def _section_code(shown: Hit, hits: list[tuple[Hit, float]]) -> tuple[str, ...]:
    """The code blocks of the other chunks of `shown`'s section among a page's `hits`: those
    with its URL and its heading trail (an anchor alone may repeat on a page: an explicit id
    the slugger did not count, or a heading that slugs to nothing)."""
    key = (shown.payload.get("url"), shown.payload.get("section"))
    others = [
        h
        for h, _ in hits
        if h is not shown and (h.payload.get("url"), h.payload.get("section")) == key
    ]
    others.sort(key=lambda h: int(h.payload.get("chunk_index", 0)))
    return tuple(block for h in others for block in code_blocks(str(h.payload.get("text", ""))))


def _passage(hit: Hit, score: float, terms: QueryTerms, code: tuple[str, ...] = ()) -> Passage:
    p = hit.payload
    title, section = str(p["title"]), str(p.get("section", ""))
    text = with_subsections(str(p.get("text", "")), [str(h) for h in p.get("leads_into") or ()])
    return Passage(
        source=str(p["source"]),
        url=str(p["url"]),
        page_url=str(p["page_url"]),
        title=title,
        section=section,
        text=text,
        score=score,
        coverage=terms.coverage_of_vector(hit_vector(hit)),
        code=code,
    )
