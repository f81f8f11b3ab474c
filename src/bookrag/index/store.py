"""The index: one Qdrant collection holding a book's chunks, page records and statistics.

The same points, payload indexes and queries on both engines (see `engine`): Qdrant Edge
in this process by default, a Qdrant server or cluster with `QDRANT_URL`.

The points it holds, their ids and payloads, are laid out in `points`.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from bookrag.book.chunking import Chunk
from bookrag.book.loader import Page
from bookrag.book.sidebar import sidebar_key
from bookrag.errors import StoreUnavailable
from bookrag.index import lexical
from bookrag.index.engine import DENSE, SPARSE, Engine, StoredPoint, Where
from bookrag.index.points import (
    LAYOUT_ID,
    META_ID,
    TERM_DF_ID,
    Fingerprint,
    Hit,
    IndexStats,
    chunk_point,
    layout_point,
    markdown_id,
    markdown_point,
    now,
    page_id,
    page_point,
    ranked,
)

__all__ = ["DENSE", "SPARSE", "BookStore", "Fingerprint", "Hit", "IndexStats"]

COMMIT_EVERY = 2048  # chunks written between two commits of page records
STATISTICS_TTL = 60.0  # seconds a server-mode reader trusts its copy of the term statistics


class BookStore:
    """Reads and writes the book's collection; the engines raise `StoreUnavailable`."""

    def __init__(
        self,
        engine: Engine,
        embedded: bool,
        release: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self.embedded = embedded
        self._release = release
        self._term_df: dict[int, int] | None = None
        self._loaded_at = 0.0
        self._chunk_total = 0
        self._staged: list[StoredPoint] = []  # records of pages whose chunks are not flushed
        self._staged_chunks = 0

    # -- lifecycle -------------------------------------------------------------------------

    def ensure_collection(self, dense: Fingerprint | None = None) -> None:
        """Create the collection (with a dense vector if `dense` names a model) if missing."""
        fingerprint = dense or Fingerprint(None, None)
        with self._errors():
            if self.engine.exists():
                return
            self.engine.create(fingerprint.dense_dim if fingerprint.dense_model else None)
            self.engine.upsert([layout_point(fingerprint)])
            self.engine.flush()

    def fingerprint(self) -> Fingerprint | None:
        """What built the collection, or None if there is no collection yet."""
        with self._errors():
            if not self.engine.exists():
                return None
            layout = self.engine.retrieve([LAYOUT_ID]).get(LAYOUT_ID)
        if layout is None:  # written before the layout point existed
            return Fingerprint(None, None, schema=1)
        dim = layout.get("dense_dim")
        model = layout.get("dense_model")
        return Fingerprint(
            str(model) if model else None, int(dim) if dim else None, int(layout["schema"])
        )

    def drop(self) -> None:
        """Delete the collection and everything in it."""
        with self._errors():
            self.engine.drop()
        self._term_df = None

    def ping(self) -> bool:
        """True if the store answers right now."""
        return self.engine.ping()

    # -- writing ---------------------------------------------------------------------------

    def write_page(
        self, page: Page, chunks: list[Chunk], dense: list[list[float]] | None = None
    ) -> None:
        """Replace a page's chunks; its record (the hash) is written by the next `commit`,
        once they are durable."""
        embeddings: list[list[float] | None] = list(dense or [])
        embeddings += [None] * (len(chunks) - len(embeddings))
        points = [
            chunk_point(page, c, embedding) for c, embedding in zip(chunks, embeddings, strict=True)
        ]
        record = page_point(page, len(chunks))
        # Written first, in the chunks' first batch, is the record with no hash: should this
        # run die before `commit`, the page reads as changed next time, whatever its file
        # holds then (its old text, say, which the old hash would have called unchanged).
        pending = StoredPoint(record.id, {**record.payload, "page_hash": "", "validators": {}})
        points = [pending, *points, markdown_point(page)]
        with self._errors():
            self.engine.upsert(points)
            self.engine.delete(
                Where(kind="chunk", source=page.source, chunk_index_from=len(chunks))
            )
        self._staged.append(record)
        self._staged_chunks += len(points)
        if self._staged_chunks >= COMMIT_EVERY:
            self.commit()

    def commit(self) -> None:
        """Make the chunks written so far durable, then write their pages' records."""
        if not self._staged:
            return
        with self._errors():
            self.engine.flush()  # one flush costs ~0.1 s on a busy disk: one per batch
            self.engine.upsert(self._staged)
        self._staged, self._staged_chunks = [], 0

    def remove_page(self, source: str) -> None:
        """Delete a page's chunks, then its record (a crash between leaves the record, so
        the next ingest removes the page again)."""
        with self._errors():
            self.engine.delete(Where(kind="chunk", source=source))
            self.engine.delete_ids([markdown_id(source), page_id(source)])

    def set_page_fields(self, fields: dict[str, dict[str, Any]]) -> None:
        """Set fields of the records of the pages `fields` names (source -> field -> value),
        without writing the pages again: their place in the sidebar (`sidebar_rank`), or what
        a published page that did not change was read with again (`sidebar_menu`,
        `validators`)."""
        ids = [page_id(source) for source in fields]
        with self._errors():
            records = self.engine.retrieve(ids)
            self.engine.upsert(
                [
                    StoredPoint(page_id(source), {**records[page_id(source)], **values})
                    for source, values in fields.items()
                    if page_id(source) in records
                ]
            )

    def chunk_count(self) -> int:
        """How many chunk points there are."""
        with self._errors():
            return self.engine.count(Where(kind="chunk"))

    def chunk_sources(self) -> set[str]:
        """The source of every chunk point (to find chunks a crash left without a record)."""
        with self._errors():
            return {
                str(payload.get("source"))
                for _, payload, _ in self.engine.scroll(Where(kind="chunk"), ["source"])
            }

    def refresh_statistics(self, pages_digest: str = "") -> None:
        """Recount term document frequencies over all chunks and store them with the totals
        and the digest of the page versions they were counted over."""
        df: Counter[int] = Counter()
        chunks = 0
        with self._errors():
            for _, _, vector in self.engine.scroll(Where(kind="chunk"), False, SPARSE):
                chunks += 1
                if isinstance(vector, lexical.SparseVector):
                    df.update(vector.indices)
            pages = self.engine.count(Where(kind="page"))
            meta = {
                "kind": "meta",
                "chunks": chunks,
                "pages": pages,
                "indexed_at": now(),
                "pages_digest": pages_digest,
            }
            term_df = {"kind": "term_df", "term_df": {str(k): v for k, v in df.items()}}
            self.engine.upsert([StoredPoint(TERM_DF_ID, term_df), StoredPoint(META_ID, meta)])
        self._term_df = dict(df)
        self._chunk_total = chunks
        self._loaded_at = time.monotonic()

    def optimize(self) -> None:
        """Let the engine merge segments and build its vector indexes after an ingest."""
        with self._errors():
            self.engine.optimize()

    # -- reading ---------------------------------------------------------------------------

    def search(self, text: str, limit: int, dense: list[float] | None = None) -> list[Hit]:
        """Chunks ranked by BM25 against `text`, or, given the query's embedding, by one
        hybrid query: a dense and a sparse prefetch fused with reciprocal rank fusion."""
        vector = lexical.query_vector(text)
        if not vector.indices and dense is None:
            return []
        with self._errors():
            found = self.engine.query(vector if vector.indices else None, dense, limit)
        return ranked(found)

    def warm(self) -> None:
        """Read the term statistics now rather than on the first query."""
        if self.fingerprint() is not None:
            self._load_statistics()

    def document_frequencies(self, term_ids: Iterable[int]) -> tuple[dict[int, int], int]:
        """How many chunks contain each term, and how many chunks there are."""
        # Only this process writes an embedded index; a server's may change under us.
        expired = not self.embedded and time.monotonic() - self._loaded_at > STATISTICS_TTL
        if self._term_df is None or expired:
            self._load_statistics()
        df = self._term_df or {}
        return {t: df.get(t, 0) for t in term_ids}, self._chunk_total

    def stats(self) -> IndexStats:
        """Pages, chunks and the time of the last ingest that changed something."""
        with self._errors():
            if not self.engine.exists():
                return IndexStats(0, 0, None)
            meta = self.engine.retrieve([META_ID]).get(META_ID)
        if not meta:
            return IndexStats(0, 0, None)
        return IndexStats(
            int(meta["pages"]),
            int(meta["chunks"]),
            meta.get("indexed_at"),
            str(meta.get("pages_digest", "")),
        )

    def pages(self) -> list[dict[str, Any]]:
        """Every page record, in the order of the book's sidebar."""
        return sorted(self._scroll(Where(kind="page")), key=sidebar_key)

    def page_markdown(self, source: str) -> dict[str, Any] | None:
        """A page's source point (`markdown`, `page_hash`), or None if it has none."""
        with self._errors():
            return self.engine.retrieve([markdown_id(source)]).get(markdown_id(source))

    def page_chunks(self, source: str) -> list[dict[str, Any]]:
        """A page's chunks in reading order."""
        chunks = self._scroll(Where(kind="chunk", source=source))
        return sorted(chunks, key=lambda c: int(c["chunk_index"]))

    def chunks(self) -> list[dict[str, Any]]:
        """Every chunk's payload, in no particular order."""
        return list(self._scroll(Where(kind="chunk")))

    def _load_statistics(self) -> None:
        with self._errors():
            if not self.engine.exists():
                payloads: dict[str, dict[str, Any]] = {}
            else:
                payloads = self.engine.retrieve([META_ID, TERM_DF_ID])
        term_df = payloads.get(TERM_DF_ID, {}).get("term_df", {})
        self._term_df = {int(k): int(v) for k, v in term_df.items()}
        self._loaded_at = time.monotonic()
        self._chunk_total = int(payloads.get(META_ID, {}).get("chunks", 0))

    def _scroll(self, where: Where) -> Iterator[dict[str, Any]]:
        with self._errors():
            for _, payload, _ in self.engine.scroll(where, True):
                yield payload

    @staticmethod
    @contextmanager
    def _errors() -> Iterator[None]:
        """Turn what the engines let through (a full disk, say) into `StoreUnavailable`."""
        try:
            yield
        except (OSError, TimeoutError) as exc:
            raise StoreUnavailable(
                f"the vector store is unavailable ({type(exc).__name__})"
            ) from exc

    def close(self) -> None:
        """Commit what was written, close the engine and give up the embedded index."""
        try:
            try:
                self.commit()
            finally:
                self.engine.close()
        finally:
            if self._release is not None:
                self._release()
