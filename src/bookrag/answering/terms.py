"""A query's terms, weighed by how rare they are in the book: what retrieval, the relevance
floor and extractive answers measure a text against (`QueryTerms.coverage`).
"""

from __future__ import annotations

from dataclasses import dataclass

from bookrag.index import lexical
from bookrag.index.store import BookStore

INTERROGATIVES = frozenset({"how", "what", "when", "where", "which", "who", "why"})


@dataclass(frozen=True)
class QueryTerms:
    """A query's distinct terms with their IDF weights, and which of them the book has."""

    weights: dict[str, float]
    in_book: frozenset[str]
    missing_names: frozenset[str] = frozenset()
    asks: frozenset[str] = frozenset()  # the query's interrogatives ("why", "which", ...)

    @property
    def book_coverage(self) -> float:
        """IDF-weighted share of the query's terms that occur anywhere in the book."""
        return self.coverage_of(self.in_book)

    def coverage(self, text: str) -> float:
        """IDF-weighted share of the query's terms found in `text`."""
        return self.coverage_of(set(lexical.terms(text)))

    def coverage_of_vector(self, vector: lexical.SparseVector) -> float:
        """IDF-weighted share of the query's terms a chunk's stored BM25 vector holds: the
        same as `coverage` of the chunk's text, without reading the text again."""
        present = set(vector.indices)
        return self.coverage_of({t for t in self.weights if lexical.term_id(t) in present})

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
        asks=frozenset(lexical.words(query)) & INTERROGATIVES,
    )
