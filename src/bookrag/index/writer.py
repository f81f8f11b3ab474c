"""Writing pages into the index, their chunks embedded first in full batches across pages;
a text whose vector the index already holds for the model is taken from it (see `reuse`)."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice

from bookrag.book.chunking import Chunk
from bookrag.book.loader import Page
from bookrag.index.points import text_hash
from bookrag.index.reuse import StoredVectors
from bookrag.index.store import BookStore, Fingerprint
from bookrag.providers.base import Embedder, RetryPolicy, embed_all


@dataclass
class _Queued:
    """A page waiting for the vectors of some of its chunks."""

    page: Page
    chunks: list[Chunk]
    vectors: list[list[float] | None]

    @property
    def complete(self) -> bool:
        return all(v is not None for v in self.vectors)


class PageWriter:
    """Writes pages, embedding their new texts first in full batches across pages, so a book
    costs ceil(new texts / batch size) embed calls (a text repeated among those waiting is
    sent once)."""

    def __init__(
        self,
        store: BookStore,
        embedder: Embedder | None,
        policy: RetryPolicy,
        exists: bool,
        stored: StoredVectors | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.policy = policy
        self.stored = stored
        self.queue: list[_Queued] = []
        # Each text to embed, by its hash: the text and the chunks (page, index) awaiting it.
        self.waiting: dict[str, tuple[str, list[tuple[_Queued, int]]]] = {}
        self.embedded = 0  # texts sent to the embedder
        self.reused = 0  # chunks given a vector the index held
        # Pages wait until the collection exists (the first vectors tell its dimension).
        self.ready = embedder is None or exists

    def add(self, page: Page, chunks: list[Chunk]) -> None:
        if self.embedder is None:
            self.store.write_page(page, chunks)
            return
        hashes = [text_hash(c.embedding_text) for c in chunks]
        held = self.stored.find(hashes) if self.stored else {}
        queued = _Queued(page, chunks, [held.get(h) for h in hashes])
        self.queue.append(queued)
        for index, (chunk, digest) in enumerate(zip(chunks, hashes, strict=True)):
            if digest in held:
                self.reused += 1
            else:
                self.waiting.setdefault(digest, (chunk.embedding_text, []))[1].append(
                    (queued, index)
                )
        if held:
            self._create(next(iter(held.values())))
        while len(self.waiting) >= self.embedder.batch_size:
            self._embed(self.embedder.batch_size)
        self._write_ready()

    def finish(self) -> None:
        if self.embedder is not None:
            self._embed(len(self.waiting))
            if not self.ready:  # nothing to embed at all: pages without text
                self.store.ensure_collection()
                self.ready = True
            self._write_ready()

    def _embed(self, count: int) -> None:
        assert self.embedder is not None
        if count <= 0:
            return
        batch = list(islice(self.waiting, count))
        texts = [self.waiting[digest][0] for digest in batch]
        vectors = embed_all(self.embedder, texts, "search_document", self.policy)
        self.embedded += len(texts)
        for digest, vector in zip(batch, vectors, strict=True):
            for queued, index in self.waiting.pop(digest)[1]:
                queued.vectors[index] = vector
        if vectors:
            self._create(vectors[0])

    def _create(self, vector: list[float]) -> None:
        """Create the collection once a first vector tells its dimension."""
        if not self.ready:
            assert self.embedder is not None
            self.store.ensure_collection(Fingerprint(self.embedder.model, len(vector)))
            self.ready = True

    def _write_ready(self) -> None:
        """Write every page whose vectors are all there, in the order the pages came."""
        if not self.ready:
            return
        waiting = []
        for queued in self.queue:
            if queued.complete:
                vectors = [v for v in queued.vectors if v is not None]
                self.store.write_page(queued.page, queued.chunks, vectors)
            else:
                waiting.append(queued)
        self.queue = waiting
