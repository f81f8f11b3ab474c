"""The index: one Qdrant collection holding a book's chunks, page records and statistics.

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
    sidebar_label; page_hash (sha256 of the file and the site facts; written last, so a page
    whose chunks were not all written is redone by the next ingest); chunks (count);
    indexed_at (ISO time); validators (for a page read from a site: its sitemap `lastmod`,
    `etag` and `last_modified`, for conditional requests; {} for a docs folder).
- one statistics point, id `uuid5("meta")`, no vector, payload:
    kind="meta"; chunks; pages; indexed_at (when an ingest last changed something);
    pages_digest (sha256 of every page's source and hash the statistics were counted over,
    so an ingest that died before recounting is caught up by the next one).
- one term statistics point, id `uuid5("term_df")`, no vector, payload:
    kind="term_df"; term_df ({term id: number of chunks containing it}, used to weigh query
    terms for the relevance floor when the index is on a Qdrant server).

The collection's IDF modifier on `bm25` completes BM25 scoring at query time. The
collection's metadata is its fingerprint: `dense_model` and `dense_dim` (null when lexical
only) and `schema`; points built by two embedding models are never mixed in one collection.
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

from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from bookrag import lexical
from bookrag.chunking import Chunk
from bookrag.errors import StoreUnavailable
from bookrag.loader import Page
from bookrag.local_search import LocalSearch
from bookrag.sparse_index import SparseIndex

SPARSE = "bm25"
DENSE = "dense"
SCHEMA = 1
_NAMESPACE = uuid.UUID("4f0d6a3e-7b1c-4d7e-9a51-2b8f3c6d9e10")
_META_ID = str(uuid.uuid5(_NAMESPACE, "meta"))
_TERM_DF_ID = str(uuid.uuid5(_NAMESPACE, "term_df"))
_BATCH = 256
STATISTICS_TTL = 60.0  # seconds a server-mode reader trusts its copy of the term statistics


def chunk_id(source: str, index: int) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"chunk:{source}:{index}"))


def page_id(source: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"page:{source}"))


def _kind(value: str) -> models.FieldCondition:
    return models.FieldCondition(key="kind", match=models.MatchValue(value=value))


def _source(value: str) -> models.FieldCondition:
    return models.FieldCondition(key="source", match=models.MatchValue(value=value))


@dataclass(frozen=True)
class Hit:
    """A chunk returned by a search, with its score."""

    id: str
    score: float
    payload: dict[str, Any]


@dataclass(frozen=True)
class Fingerprint:
    """What built the collection's vectors."""

    dense_model: str | None
    dense_dim: int | None

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
    """Reads and writes the book's collection; every Qdrant error becomes `StoreUnavailable`."""

    def __init__(
        self,
        client: QdrantClient,
        collection: str,
        embedded: bool,
        release: Callable[[], None] | None = None,
    ) -> None:
        self.client = client
        self.collection = collection
        self.embedded = embedded
        self._release = release
        self.local = LocalSearch(self._sparse_vectors, self._dense_vectors)  # embedded mode
        self._term_df: dict[int, int] | None = None
        self._loaded_at = 0.0
        self._chunk_total = 0

    # -- lifecycle -------------------------------------------------------------------------

    def ensure_collection(self, dense: Fingerprint | None = None) -> None:
        """Create the collection (with a dense vector if `dense` names a model) if missing."""
        fingerprint = dense or Fingerprint(None, None)
        with self._errors():
            if self.client.collection_exists(self.collection):
                return
            vectors = {}
            if fingerprint.dense_model and fingerprint.dense_dim:
                vectors[DENSE] = models.VectorParams(
                    size=fingerprint.dense_dim, distance=models.Distance.COSINE
                )
            self.client.create_collection(
                self.collection,
                vectors_config=vectors,
                sparse_vectors_config={
                    SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)
                },
                metadata={
                    "schema": SCHEMA,
                    "dense_model": fingerprint.dense_model,
                    "dense_dim": fingerprint.dense_dim,
                },
            )
            if not self.embedded:  # local mode has no payload indexes
                for key in ("kind", "source", "url_path"):
                    self.client.create_payload_index(
                        self.collection, key, models.PayloadSchemaType.KEYWORD
                    )

    def fingerprint(self) -> Fingerprint | None:
        """What built the collection, or None if there is no collection yet."""
        with self._errors():
            if not self.client.collection_exists(self.collection):
                return None
            metadata = self.client.get_collection(self.collection).config.metadata or {}
        dim = metadata.get("dense_dim")
        model = metadata.get("dense_model")
        return Fingerprint(str(model) if model else None, int(dim) if dim else None)

    def drop(self) -> None:
        """Delete the collection and everything in it."""
        with self._errors():
            self.client.delete_collection(self.collection)
        self._term_df = None
        self.local.invalidate()

    def ping(self) -> bool:
        """True if the store answers right now."""
        try:
            self.client.collection_exists(self.collection)
        except Exception:
            return False
        return True

    # -- writing ---------------------------------------------------------------------------

    def page_hashes(self) -> dict[str, str]:
        """Content hash of every fully indexed page, by source path."""
        return {p["source"]: p["page_hash"] for p in self._scroll([_kind("page")])}

    def write_page(
        self, page: Page, chunks: list[Chunk], dense: list[list[float]] | None = None
    ) -> None:
        """Replace a page's chunks, then commit its record (the hash) last."""
        url_path = urlsplit(page.url).path
        vectors: list[dict[str, Any]] = [
            {SPARSE: lexical.document_vector(c.embedding_text)} for c in chunks
        ]
        for vector, embedding in zip(vectors, dense or [], strict=False):
            vector[DENSE] = embedding
        points = [
            models.PointStruct(
                id=chunk_id(c.source, c.index),
                vector=vector,
                payload={
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
            )
            for c, vector in zip(chunks, vectors, strict=True)
        ]
        record = models.PointStruct(
            id=page_id(page.source),
            vector={},
            payload={
                "kind": "page",
                "source": page.source,
                "url": page.url,
                "url_path": url_path,
                "title": page.title,
                "sidebar_label": page.sidebar_label,
                "page_hash": page.content_hash,
                "chunks": len(chunks),
                "indexed_at": _now(),
                "validators": page.validators,
            },
        )
        with self._errors():
            for start in range(0, len(points), _BATCH):
                self.client.upsert(self.collection, points[start : start + _BATCH], wait=True)
            stale = models.Filter(
                must=[
                    _kind("chunk"),
                    _source(page.source),
                    models.FieldCondition(key="chunk_index", range=models.Range(gte=len(chunks))),
                ]
            )
            self.client.delete(self.collection, models.FilterSelector(filter=stale), wait=True)
            self.client.upsert(self.collection, [record], wait=True)
        self.local.invalidate()

    def remove_page(self, source: str) -> None:
        """Delete a page's chunks, then its record (a crash between leaves the record, so
        the next ingest removes the page again)."""
        with self._errors():
            self.client.delete(
                self.collection,
                models.FilterSelector(filter=models.Filter(must=[_kind("chunk"), _source(source)])),
                wait=True,
            )
            self.client.delete(
                self.collection, models.PointIdsList(points=[page_id(source)]), wait=True
            )
        self.local.invalidate()

    def chunk_count(self) -> int:
        """How many chunk points there are."""
        with self._errors():
            return self.client.count(
                self.collection, count_filter=models.Filter(must=[_kind("chunk")]), exact=True
            ).count

    def chunk_sources(self) -> set[str]:
        """The source of every chunk point (to find chunks a crash left without a record)."""
        return {
            str((p.payload or {}).get("source"))
            for p in self._points([_kind("chunk")], payload=["source"])
        }

    def refresh_statistics(self, pages_digest: str = "") -> None:
        """Recount term document frequencies over all chunks and store them with the totals
        and the digest of the page versions they were counted over."""
        vectors = list(self._sparse_vectors())
        df: Counter[int] = Counter()
        for _, vector in vectors:
            df.update(vector.indices)
        with self._errors():
            pages = self.client.count(
                self.collection, count_filter=models.Filter(must=[_kind("page")]), exact=True
            ).count
            meta = {
                "kind": "meta",
                "chunks": len(vectors),
                "pages": pages,
                "indexed_at": _now(),
                "pages_digest": pages_digest,
            }
            term_df = {"kind": "term_df", "term_df": {str(k): v for k, v in df.items()}}
            self.client.upsert(
                self.collection,
                [
                    models.PointStruct(id=_TERM_DF_ID, vector={}, payload=term_df),
                    models.PointStruct(id=_META_ID, vector={}, payload=meta),
                ],
            )
        self._term_df = dict(df)
        self._chunk_total = len(vectors)
        if self.embedded:
            self.local.use_sparse(SparseIndex(vectors))

    def _sparse_vectors(self) -> Iterator[tuple[str, models.SparseVector]]:
        """Every chunk's id and BM25 vector."""
        for point_id, vector in self._vectors(SPARSE):
            if isinstance(vector, models.SparseVector):
                yield point_id, vector

    def _dense_vectors(self) -> Iterator[tuple[str, list[float]]]:
        """Every chunk's id and embedding."""
        for point_id, vector in self._vectors(DENSE):
            if isinstance(vector, list):
                yield point_id, vector

    def _vectors(self, name: str) -> Iterator[tuple[str, object]]:
        for point in self._points([_kind("chunk")], vectors=[name]):
            yield str(point.id), (point.vector or {}).get(name)  # type: ignore[union-attr]

    def _points(
        self,
        must: list[models.Condition],
        payload: bool | list[str] = False,
        vectors: list[str] | None = None,
    ) -> Iterator[models.Record]:
        """Every point matching `must`, a page of scroll at a time."""
        with self._errors():
            offset = None
            while True:
                points, offset = self.client.scroll(
                    self.collection,
                    scroll_filter=models.Filter(must=must),
                    with_payload=payload,
                    with_vectors=vectors or False,
                    limit=1024,
                    offset=offset,
                )
                yield from points
                if offset is None:
                    return

    # -- reading ---------------------------------------------------------------------------

    def search(self, text: str, limit: int, dense: list[float] | None = None) -> list[Hit]:
        """Chunks ranked by BM25 against `text`, or, given the query's embedding, by one
        hybrid query: a dense and a sparse prefetch fused with reciprocal rank fusion."""
        vector = lexical.query_vector(text)
        if not vector.indices and dense is None:
            return []
        if self.embedded:
            return self._search_embedded(vector, limit, dense)
        with self._errors():
            if dense is None:
                response = self.client.query_points(
                    self.collection, query=vector, using=SPARSE, limit=limit, with_payload=True
                )
            else:
                prefetch = [models.Prefetch(query=dense, using=DENSE, limit=limit)]
                if vector.indices:
                    prefetch.append(models.Prefetch(query=vector, using=SPARSE, limit=limit))
                response = self.client.query_points(
                    self.collection,
                    prefetch=prefetch,
                    query=models.FusionQuery(fusion=models.Fusion.RRF),
                    limit=limit,
                    with_payload=True,
                )
        return [Hit(str(p.id), p.score, p.payload or {}) for p in response.points]

    def _search_embedded(
        self, vector: models.SparseVector, limit: int, dense: list[float] | None
    ) -> list[Hit]:
        """The same ranking in local mode, from `LocalSearch`, with payloads fetched once."""
        ranked = self.local.rank(vector, limit, dense)
        if not ranked:
            return []
        with self._errors():
            found = self.client.retrieve(self.collection, [p.id for p in ranked], with_payload=True)
        payloads = {str(p.id): p.payload or {} for p in found}
        return [
            Hit(str(p.id), p.score, payloads[str(p.id)]) for p in ranked if str(p.id) in payloads
        ]

    def warm(self) -> None:
        """Build the embedded mode's in-memory indexes now rather than on the first query."""
        fingerprint = self.fingerprint() if self.embedded else None
        if fingerprint is not None:
            self.local.sparse()
            if fingerprint.dense_model:
                self.local.dense()

    def document_frequencies(self, term_ids: Iterable[int]) -> tuple[dict[int, int], int]:
        """How many chunks contain each term, and how many chunks there are."""
        if self.embedded:
            index = self.local.sparse()
            return {t: index.document_frequency(t) for t in term_ids}, len(index)
        if self._term_df is None or time.monotonic() - self._loaded_at > STATISTICS_TTL:
            self._load_statistics()  # another process may have re-ingested the book
        df = self._term_df or {}
        return {t: df.get(t, 0) for t in term_ids}, self._chunk_total

    def stats(self) -> IndexStats:
        """Pages, chunks and the time of the last ingest that changed something."""
        with self._errors():
            if not self.client.collection_exists(self.collection):
                return IndexStats(0, 0, None)
            found = self.client.retrieve(self.collection, [_META_ID], with_payload=True)
        if not found or not found[0].payload:
            return IndexStats(0, 0, None)
        meta = found[0].payload
        return IndexStats(
            int(meta["pages"]),
            int(meta["chunks"]),
            meta.get("indexed_at"),
            str(meta.get("pages_digest", "")),
        )

    def pages(self) -> list[dict[str, Any]]:
        """Every page record, in source order."""
        return sorted(self._scroll([_kind("page")]), key=lambda p: str(p["source"]))

    def page_chunks(self, source: str) -> list[dict[str, Any]]:
        """A page's chunks in reading order."""
        chunks = self._scroll([_kind("chunk"), _source(source)])
        return sorted(chunks, key=lambda c: int(c["chunk_index"]))

    def _load_statistics(self) -> None:
        with self._errors():
            found = self.client.retrieve(
                self.collection, [_META_ID, _TERM_DF_ID], with_payload=True
            )
        payloads = {str(p.id): p.payload or {} for p in found}
        term_df = payloads.get(_TERM_DF_ID, {}).get("term_df", {})
        self._term_df = {int(k): int(v) for k, v in term_df.items()}
        self._loaded_at = time.monotonic()
        self._chunk_total = int(payloads.get(_META_ID, {}).get("chunks", 0))

    def _scroll(self, must: list[models.Condition]) -> Iterator[dict[str, Any]]:
        for point in self._points(must, payload=True):
            yield point.payload or {}

    @staticmethod
    @contextmanager
    def _errors() -> Iterator[None]:
        """Turn transport and server errors from Qdrant into `StoreUnavailable`."""
        try:
            yield
        except (ResponseHandlingException, UnexpectedResponse, OSError, TimeoutError) as exc:
            raise StoreUnavailable(
                f"the vector store is unavailable ({type(exc).__name__})"
            ) from exc

    def close(self) -> None:
        """Close the client and give up the embedded index."""
        self.client.close()
        if self._release is not None:
            self._release()


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
