"""Find the sections of the book that answer a query, one best section per page.

Chunks are ranked by BM25 in Qdrant; a page is ranked by its best chunk, lifted a little by
its other matching chunks, so results are the best section of each of the best pages rather
than several chunks of one paragraph. The relevance floor weighs the query's terms by IDF:
a query is covered when every name it mentions (`MQTT`, `Home Assistant`) occurs in the
book, and its weighty terms occur in the book at all and in its best section in particular
(`relevance`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bookrag import lexical
from bookrag.store import BookStore, Hit

CANDIDATES = 60
SUPPORT_WEIGHT = 0.15  # share of a page's second-best chunk score added to its best


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

    @property
    def breadcrumb(self) -> str:
        return f"{self.title} › {self.section}" if self.section else self.title

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.source,
            "url": self.url,
            "title": self.title,
            "section": self.section,
            "text": self.text,
            "score": round(self.score, 4),
        }


def search(store: BookStore, query: str, limit: int = 5) -> list[Passage]:
    """The best section of each of the `limit` best pages for `query`."""
    hits = store.search(query, limit=max(CANDIDATES, limit * 8))
    best: dict[str, Hit] = {}
    scores: dict[str, float] = {}
    for hit in hits:  # hits come best first
        source = str(hit.payload.get("source"))
        if source not in best:
            best[source] = hit
            scores[source] = hit.score
        elif scores[source] == best[source].score:
            scores[source] += SUPPORT_WEIGHT * hit.score
    ranked = sorted(best, key=lambda s: scores[s], reverse=True)[:limit]
    terms = query_terms(store, query)
    return [_passage(best[s], scores[s], terms) for s in ranked]


@dataclass(frozen=True)
class QueryTerms:
    """A query's distinct terms with their IDF weights, and which of them the book has."""

    weights: dict[str, float]
    in_book: frozenset[str]
    missing_names: frozenset[str] = frozenset()

    @property
    def book_coverage(self) -> float:
        """IDF-weighted share of the query's terms that occur anywhere in the book."""
        return self.coverage_of(self.in_book)

    def coverage(self, text: str) -> float:
        """IDF-weighted share of the query's terms found in `text`."""
        return self.coverage_of(set(lexical.terms(text)))

    def coverage_of(self, present: set[str] | frozenset[str]) -> float:
        total = sum(self.weights.values())
        if not total:
            return 0.0
        return sum(w for t, w in self.weights.items() if t in present) / total


def query_terms(store: BookStore, query: str) -> QueryTerms:
    """Weigh the query's terms by how rare they are in the book (unseen terms weigh most)."""
    names = lexical.name_terms(query)
    unique = list(dict.fromkeys([*lexical.terms(query), *names]))
    ids = {t: lexical.term_id(t) for t in unique}
    df, n = store.document_frequencies(ids.values())
    in_book = frozenset(t for t, i in ids.items() if df[i] > 0)
    return QueryTerms(
        weights={t: lexical.idf(df[i], n) for t, i in ids.items()},
        in_book=in_book,
        missing_names=frozenset(names - in_book),
    )


def relevance(terms: QueryTerms, passage: Passage) -> float:
    """How well the book, and this passage of it, covers the query (0 to 1).

    A query naming something the book never mentions is not covered at all.
    """
    if terms.missing_names:
        return 0.0
    return (terms.book_coverage + passage.coverage) / 2


def _passage(hit: Hit, score: float, terms: QueryTerms) -> Passage:
    p = hit.payload
    title, section, text = str(p["title"]), str(p.get("section", "")), str(p.get("text", ""))
    return Passage(
        source=str(p["source"]),
        url=str(p["url"]),
        page_url=str(p["page_url"]),
        title=title,
        section=section,
        text=text,
        score=score,
        coverage=terms.coverage(f"{title} {section}\n{text}"),
    )
