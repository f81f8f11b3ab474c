"""Run the same questions under several retrieval configurations (lexical, dense, hybrid,
hybrid + rerank) to compare them side by side (`bookrag eval --compare`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bookrag.answering.pipeline import Book
from bookrag.answering.retrieval import Retriever
from bookrag.config import Settings
from bookrag.evaluation.metrics import CONFIGURATIONS, K, QuestionResult, evaluate
from bookrag.evaluation.questions import EvalQuestion
from bookrag.evaluation.summary import by_kind, summarise
from bookrag.index.pages import PageDirectory
from bookrag.index.points import Hit, ranked
from bookrag.index.store import BookStore
from bookrag.providers.wiring import Providers


class DenseOnlyStore(BookStore):
    """The same collection searched by its dense vectors alone, to compare retrievals."""

    def __init__(self, store: BookStore) -> None:
        super().__init__(store.engine, store.embedded)

    def search(self, text: str, limit: int, dense: list[float] | None = None) -> list[Hit]:
        """Chunks ranked by cosine similarity to the query's embedding (none without one)."""
        if dense is None:
            return []
        with self._errors():
            return ranked(self.engine.query(None, dense, limit))


@dataclass(frozen=True)
class Configuration:
    """A way to retrieve, or why it cannot run here."""

    name: str
    retriever: Retriever | None
    unavailable: str | None = None


def configurations(
    store: BookStore, settings: Settings, providers: Providers, compare: bool
) -> tuple[list[Configuration], str]:
    """The retrievals to run (all four with `compare`, else the configured one), and which
    of them the settings configure (what `bookrag search` uses)."""

    def retriever(on: BookStore, dense: bool = False, rerank: bool = False) -> Retriever:
        return Retriever(
            on,
            providers.embedder if dense else None,
            providers.reranker if rerank else None,
            providers.policy,
            settings.min_relevance,
            settings.min_rerank_score,
        )

    no_dense = _dense_problem(store, providers)
    no_rerank = no_dense or (
        "needs a reranker (COHERE_API_KEY, with BOOKRAG_RERANK on)"
        if providers.reranker is None
        else None
    )
    found = {
        "lexical": Configuration("lexical", retriever(store)),
        "dense": Configuration("dense", retriever(DenseOnlyStore(store), dense=True), no_dense),
        "hybrid": Configuration("hybrid", retriever(store, dense=True), no_dense),
        "hybrid+rerank": Configuration(
            "hybrid+rerank", retriever(store, dense=True, rerank=True), no_rerank
        ),
    }
    configured = Retriever(store, providers.embedder, providers.reranker).describe()
    chosen = list(CONFIGURATIONS) if compare else [configured]
    return [
        c if c.unavailable is None else Configuration(c.name, None, c.unavailable)
        for c in (found[name] for name in chosen)
    ], configured


def _dense_problem(store: BookStore, providers: Providers) -> str | None:
    if providers.embedder is None:
        return "needs an embedding model (COHERE_API_KEY)"
    fingerprint = store.fingerprint()
    if fingerprint is None or fingerprint.dense_model is None:
        return "the index has no dense vectors (run `bookrag ingest` with COHERE_API_KEY set)"
    if fingerprint.dense_model != providers.embedder.model:
        return (
            f"the index was embedded with {fingerprint.dense_model}, not {providers.embedder.model}"
        )
    return None


@dataclass
class Run:
    """One configuration's results over all questions."""

    name: str
    results: list[QuestionResult] = field(default_factory=list)
    unavailable: str | None = None
    configured: bool = False

    def to_json(self) -> dict[str, Any]:
        if self.unavailable is not None:
            return {"name": self.name, "available": False, "reason": self.unavailable}
        return {
            "name": self.name,
            "available": True,
            "configured": self.configured,
            "overall": summarise(self.results).to_json(),
            "by_kind": {k: s.to_json() for k, s in by_kind(self.results).items()},
            "questions": [r.to_json() for r in self.results],
        }


def run_all(
    store: BookStore,
    providers: Providers,
    chosen: Sequence[Configuration],
    configured: str,
    questions: Sequence[EvalQuestion],
    limit: int = K,
    answers: bool = True,
    on_question: Callable[[EvalQuestion], None] | None = None,
) -> list[Run]:
    """Evaluate every available configuration on the same questions."""
    pages = PageDirectory(store)
    runs = []
    for c in chosen:
        if c.retriever is None:
            runs.append(Run(c.name, unavailable=c.unavailable))
            continue
        book = Book(store, pages, c.retriever, providers.chat, providers.policy)
        results = evaluate(book, questions, limit, answers, on_question)
        runs.append(Run(c.name, results, configured=c.name == configured))
    return runs
