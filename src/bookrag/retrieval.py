"""Find the sections of the book that answer a query, one best section per page.

Chunks are ranked by BM25 in Qdrant; a page is ranked by its best chunk, lifted a little by
its other matching chunks, so results are the best section of each of the best pages rather
than several chunks of one paragraph. The relevance floor weighs the query's terms by IDF:
a query whose rare terms the best section does not contain is not covered by the book.
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
    weights = query_weights(store, query)
    return [_passage(best[s], scores[s], weights) for s in ranked]


def query_weights(store: BookStore, query: str) -> dict[str, float]:
    """Each distinct query term with its IDF weight."""
    unique = list(dict.fromkeys(lexical.terms(query)))
    by_id = store.term_weights(lexical.term_id(t) for t in unique)
    return {t: by_id[lexical.term_id(t)] for t in unique}


def coverage(weights: dict[str, float], text: str) -> float:
    """IDF-weighted share of the query terms found in `text` (0 when the query has none)."""
    total = sum(weights.values())
    if not total:
        return 0.0
    present = set(lexical.terms(text))
    return sum(w for t, w in weights.items() if t in present) / total


def _passage(hit: Hit, score: float, weights: dict[str, float]) -> Passage:
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
        coverage=coverage(weights, f"{title} {section}\n{text}"),
    )
