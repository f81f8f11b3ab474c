"""The index: one Qdrant collection holding a book's chunks, page records and statistics.

The same points, payload indexes and queries on both engines (see `engine`): Qdrant Edge
in this process by default, a Qdrant server or cluster with `QDRANT_URL`.

Point layout (collection `COLLECTION_NAME`, default `book`):

- chunk points, id `uuid5("chunk:<source>:<index>")`, sparse vector `bm25` (see `lexical`)
  and, when an embedding model is configured, dense vector `dense` (cosine) of
  "breadcrumb\ntext"; payload:
    kind="chunk"; source (page path relative to the docs folder, e.g. `a/01-b.md`);
    page_url (the page's public URL); url (page_url + `#anchor` when the chunk is under a
    heading); title (page title); section (heading trail below the title, joined with ` › `);
    headings (that trail as a list); anchor (heading id, "" for the page's opening text);
    text (the chunk as light Markdown); chunk_index (position in the page); page_hash.
- page records, id `uuid5("page:<source>")`, no vector, payload:
    kind="page"; source; url; url_path (the URL's path, for lookups by URL); title;
    sidebar_label; sidebar_rank (the page's place in the book's sidebar, from 0; see
    `sidebar`); page_hash (sha256 of the file and the site facts; written last, once the
    page's chunks are durable, so a page whose chunks were not all written is redone by the
    next ingest); chunks (count); indexed_at (ISO time); validators (for a page read from a
    site: its sitemap `lastmod`, `etag` and `last_modified`, for conditional requests; {}
    for a docs folder).
- page sources, id `uuid5("markdown:<source>")`, no vector, payload:
    kind="markdown"; source; page_hash; markdown (the page as written, without front matter
    and MDX imports: what `/translate` translates, code blocks whole).
- one layout point, id `uuid5("layout")`, no vector, payload (the index's fingerprint, which
  Edge has no collection metadata to hold):
    kind="layout"; schema (`SCHEMA`); dense_model and dense_dim (null when lexical only).
  Points built by two embedding models are never mixed in one collection, and a collection
  without this point (or with another schema) was written by an older bookrag: rebuilt.
- one statistics point, id `uuid5("meta")`, no vector, payload:
    kind="meta"; chunks; pages; indexed_at (when an ingest last changed something);
    pages_digest (sha256 of every page's source and hash the statistics were counted over,
    so an ingest that died before recounting is caught up by the next one).
- one term statistics point, id `uuid5("term_df")`, no vector, payload:
    kind="term_df"; term_df ({term id: number of chunks containing it}, used to weigh query
    terms for the relevance floor; neither engine exposes per-term document frequencies).

Payload indexes: keyword on `kind`, `source`, `url_path`; integer on `chunk_index`. The IDF
modifier on `bm25` completes BM25 scoring at query time.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bookrag import lexical
from bookrag.chunking import Chunk
from bookrag.engine import DENSE, SPARSE, Engine, Scored, StoredPoint, Where
from bookrag.errors import StoreUnavailable
from bookrag.loader import Page
from bookrag.sidebar import sidebar_key

__all__ = ["DENSE", "SPARSE", "BookStore", "Fingerprint", "Hit", "IndexStats"]

SCHEMA = 3  # 1: qdrant-client's local mode, fingerprint in the collection's metadata;
# 2: BM25 lengths normalised to 180 terms (`lexical.AVG_LEN`)
_NAMESPACE = uuid.UUID("4f0d6a3e-7b1c-4d7e-9a51-2b8f3c6d9e10")
_META_ID = str(uuid.uuid5(_NAMESPACE, "meta"))
_TERM_DF_ID = str(uuid.uuid5(_NAMESPACE, "term_df"))
_LAYOUT_ID = str(uuid.uuid5(_NAMESPACE, "layout"))
COMMIT_EVERY = 2048  # chunks written between two commits of page records
STATISTICS_TTL = 60.0  # seconds a server-mode reader trusts its copy of the term statistics


def chunk_id(source: str, index: int) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"chunk:{source}:{index}"))


def page_id(source: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"page:{source}"))


def markdown_id(source: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"markdown:{source}"))


@dataclass(frozen=True)
class Hit:
    """A chunk returned by a search, with its score."""

    id: str
    score: float
    payload: dict[str, Any]


@dataclass(frozen=True)
class Fingerprint:
    """What built the collection's vectors, and in which layout."""

    dense_model: str | None
    dense_dim: int | None
    schema: int = SCHEMA

    @property
    def outdated(self) -> bool:
        """True when an older bookrag wrote the index (its points would be misread)."""
        return self.schema != SCHEMA

    def describe(self) -> str:
        if self.dense_model is None:
            return "lexical (BM25) only"
        return f"BM25 + {self.dense_model} ({self.dense_dim} dimensions)"


@dataclass(frozen=True)
class IndexStats:
    pages: int
    chunks: int
    last_indexed: str | None
    pages_digest: str = ""


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
            layout = {
                "kind": "layout",
                "schema": SCHEMA,
                "dense_model": fingerprint.dense_model,
                "dense_dim": fingerprint.dense_dim if fingerprint.dense_model else None,
            }
            self.engine.upsert([StoredPoint(_LAYOUT_ID, layout)])
            self.engine.flush()

    def fingerprint(self) -> Fingerprint | None:
        """What built the collection, or None if there is no collection yet."""
        with self._errors():
            if not self.engine.exists():
                return None
            layout = self.engine.retrieve([_LAYOUT_ID]).get(_LAYOUT_ID)
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
            StoredPoint(
                chunk_id(c.source, c.index),
                {
                    "kind": "chunk",
                    "source": c.source,
                    "page_url": c.page_url,
                    "url": c.url,
                    "title": c.title,
                    "section": c.section,
                    "headings": list(c.headings),
                    "anchor": c.anchor,
                    "text": c.text,
                    "chunk_index": c.index,
                    "page_hash": page.content_hash,
                },
                sparse=lexical.document_vector(c.embedding_text),
                dense=embedding,
            )
            for c, embedding in zip(chunks, embeddings, strict=True)
        ]
        record = StoredPoint(
            page_id(page.source),
            {
                "kind": "page",
                "source": page.source,
                "url": page.url,
                "url_path": urlsplit(page.url).path,
                "title": page.title,
                "sidebar_label": page.sidebar_label,
                "sidebar_rank": page.sidebar_rank,
                "page_hash": page.content_hash,
                "chunks": len(chunks),
                "indexed_at": _now(),
                "validators": page.validators,
            },
        )
        markdown = StoredPoint(
            markdown_id(page.source),
            {
                "kind": "markdown",
                "source": page.source,
                "page_hash": page.content_hash,
                "markdown": page.markdown,
            },
        )
        points.append(markdown)
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

    def set_sidebar_ranks(self, ranks: dict[str, int | None]) -> None:
        """Record each page's place in the sidebar (after the book's order changed)."""
        ids = [page_id(source) for source in ranks]
        with self._errors():
            records = self.engine.retrieve(ids)
            self.engine.upsert(
                [
                    StoredPoint(page_id(source), {**records[page_id(source)], "sidebar_rank": rank})
                    for source, rank in ranks.items()
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
                "indexed_at": _now(),
                "pages_digest": pages_digest,
            }
            term_df = {"kind": "term_df", "term_df": {str(k): v for k, v in df.items()}}
            self.engine.upsert([StoredPoint(_TERM_DF_ID, term_df), StoredPoint(_META_ID, meta)])
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
            meta = self.engine.retrieve([_META_ID]).get(_META_ID)
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
                payloads = self.engine.retrieve([_META_ID, _TERM_DF_ID])
        term_df = payloads.get(_TERM_DF_ID, {}).get("term_df", {})
        self._term_df = {int(k): int(v) for k, v in term_df.items()}
        self._loaded_at = time.monotonic()
        self._chunk_total = int(payloads.get(_META_ID, {}).get("chunks", 0))

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


def ranked(found: list[Scored]) -> list[Hit]:
    """Best first; ties by id, so identical calls list tied points in the same order (Edge's
    fused results need not)."""
    return [Hit(p.id, p.score, p.payload) for p in sorted(found, key=lambda p: (-p.score, p.id))]


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
