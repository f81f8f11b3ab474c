"""Writing pages into the index, their chunks embedded first in full batches across pages."""

from __future__ import annotations

from bookrag.book.chunking import Chunk
from bookrag.book.loader import Page
from bookrag.index.store import BookStore, Fingerprint
from bookrag.providers.base import Embedder, RetryPolicy, embed_all


class PageWriter:
    """Writes pages, embedding their chunks first in full batches across pages, so a book
    costs ceil(chunks / batch size) embed calls."""

    def __init__(
        self, store: BookStore, embedder: Embedder | None, policy: RetryPolicy, exists: bool
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.policy = policy
        self.queue: list[tuple[Page, list[Chunk]]] = []
        self.texts: list[str] = []
        self.vectors: list[list[float]] = []
        # Pages wait until the collection exists (the first embeddings tell its dimension).
        self.ready = embedder is None or exists

    def add(self, page: Page, chunks: list[Chunk]) -> None:
        if self.embedder is None:
            self.store.write_page(page, chunks)
            return
        self.queue.append((page, chunks))
        self.texts.extend(c.embedding_text for c in chunks)
        while len(self.texts) - len(self.vectors) >= self.embedder.batch_size:
            self._embed(self.embedder.batch_size)
        self._write_ready()

    def finish(self) -> None:
        if self.embedder is not None:
            self._embed(len(self.texts) - len(self.vectors))
            if not self.ready:  # nothing to embed at all: pages without text
                self.store.ensure_collection()
                self.ready = True
            self._write_ready()

    def _embed(self, count: int) -> None:
        assert self.embedder is not None
        if count <= 0:
            return
        batch = self.texts[len(self.vectors) : len(self.vectors) + count]
        vectors = embed_all(self.embedder, batch, "search_document", self.policy)
        if not self.ready and vectors:  # the first embeddings tell the dimension
            self.store.ensure_collection(Fingerprint(self.embedder.model, len(vectors[0])))
            self.ready = True
        self.vectors.extend(vectors)

    def _write_ready(self) -> None:
        while self.ready and self.queue and len(self.queue[0][1]) <= len(self.vectors):
            page, chunks = self.queue.pop(0)
            count = len(chunks)
            self.store.write_page(page, chunks, self.vectors[:count])
            del self.vectors[:count]
            del self.texts[:count]
