"""The points of the index: their ids, their payloads, and the records read back from them.

Point layout (collection `COLLECTION_NAME`, default `book`):

- chunk points, id `uuid5("chunk:<source>:<index>")`, sparse vector `bm25` (see `lexical`)
  and, when an embedding model is configured, dense vector `dense` (cosine) of
  "breadcrumb\ntext"; payload:
    kind="chunk"; source (page path relative to the docs folder, e.g. `a/01-b.md`);
    page_url (the page's public URL); url (page_url + `#anchor` when the chunk is under a
    heading); title (page title); section (heading trail below the title, joined with ` › `);
    headings (that trail as a list); anchor (heading id, "" for the page's opening text);
    text (the chunk as light Markdown); leads_into (the headings of the subsections the
    text ends leading into, shown after it in answers, not indexed); chunk_index (position
    in the page); page_hash; text_hash (with a dense vector only: sha256 of exactly the
    text it embeds, "breadcrumb\ntext", by the layout point's `dense_model`; a text hashed
    the same is never embedded again: see `reuse`).
- page records, id `uuid5("page:<source>")`, no vector, payload:
    kind="page"; source; url; url_path (the URL's path, for lookups by URL); title;
    sidebar_label; sidebar_rank (the page's place in the book's sidebar, from 0; see
    `book.sidebar`); page_hash (sha256 of the file and the site facts, then `/` and the
    chunk size in tokens; written last, once the page's chunks are durable, so a page whose
    chunks were not all written is redone by the next ingest); chunks (count); indexed_at
    (ISO time); validators (for a page read from a site: its sitemap `lastmod`, `etag` and
    `last_modified`, for conditional requests; {} for a docs folder); sidebar_menu (for a
    page read from a site: the sources its built page's sidebar links to, in order, that
    the sidebar ranks are merged from, kept for the pages a refresh does not read again; []
    for a docs folder, and absent from a record written before it existed).
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

Payload indexes: keyword on `kind`, `source`, `url_path`, `text_hash`; integer on
`chunk_index`. The IDF modifier on `bm25` completes BM25 scoring at query time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from bookrag.book.chunking import Chunk
from bookrag.book.loader import Page
from bookrag.index import lexical
from bookrag.index.engine import Scored, StoredPoint

SCHEMA = 5  # 1: qdrant-client's local mode, fingerprint in the collection's metadata;
# 2: BM25 lengths normalised to 180 terms; 3: to 80 terms (`lexical.AVG_LEN`); 4: names
# without their version number (`lexical.UNVERSIONED`); 5: `C++`, `C#` and `F#` are terms
_NAMESPACE = uuid.UUID("4f0d6a3e-7b1c-4d7e-9a51-2b8f3c6d9e10")
META_ID = str(uuid.uuid5(_NAMESPACE, "meta"))
TERM_DF_ID = str(uuid.uuid5(_NAMESPACE, "term_df"))
LAYOUT_ID = str(uuid.uuid5(_NAMESPACE, "layout"))


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
    sparse: lexical.SparseVector | None = None  # its BM25 vector (term weights before IDF)


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


def text_hash(text: str) -> str:
    """A chunk point's `text_hash`: the fingerprint of the text its dense vector embeds."""
    return hashlib.sha256(text.encode()).hexdigest()


def chunk_point(page: Page, c: Chunk, dense: list[float] | None) -> StoredPoint:
    """A chunk's point: its BM25F sparse vector, its embedding if any, its payload."""
    embedded = {} if dense is None else {"text_hash": text_hash(c.embedding_text)}
    return StoredPoint(
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
            "leads_into": list(c.leads_into),  # shown after the text in answers, not indexed
            "chunk_index": c.index,
            "page_hash": page.content_hash,
            **embedded,
        },
        sparse=lexical.document_vector(c.embedding_text),
        dense=dense,
    )


def page_point(page: Page, chunks: int) -> StoredPoint:
    """A page's record (written once its chunks are durable)."""
    return StoredPoint(
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
            "chunks": chunks,
            "indexed_at": now(),
            "validators": page.validators,
            "sidebar_menu": page.sidebar_menu,
        },
    )


def markdown_point(page: Page) -> StoredPoint:
    """A page's source point: its Markdown as written, for `/translate`."""
    return StoredPoint(
        markdown_id(page.source),
        {
            "kind": "markdown",
            "source": page.source,
            "page_hash": page.content_hash,
            "markdown": page.markdown,
        },
    )


def layout_point(fingerprint: Fingerprint) -> StoredPoint:
    """The layout point: the schema and what built the dense vectors."""
    layout = {
        "kind": "layout",
        "schema": SCHEMA,
        "dense_model": fingerprint.dense_model,
        "dense_dim": fingerprint.dense_dim if fingerprint.dense_model else None,
    }
    return StoredPoint(LAYOUT_ID, layout)


def ranked(found: list[Scored]) -> list[Hit]:
    """Best first; ties by id, so identical calls list tied points in the same order (Edge's
    fused results need not)."""
    order = sorted(found, key=lambda p: (-p.score, p.id))
    return [Hit(p.id, p.score, p.payload, p.sparse) for p in order]


def stored_hash(content_hash: str, chunk_tokens: int) -> str:
    """A page record's `page_hash`: the page's content hash and the chunk size it was
    chunked at, one more fact its points depend on."""
    return f"{content_hash}/{chunk_tokens}"


# The chunk size of page records written before their hash held it: the default then.
LEGACY_CHUNK_TOKENS = 350


def chunked_at(page_hash: str) -> int:
    """The chunk size a page record's hash names (`LEGACY_CHUNK_TOKENS` in one written
    before the hash held it: upgrading does not re-embed a whole book)."""
    size = page_hash.partition("/")[2]
    return int(size) if size.isdigit() else LEGACY_CHUNK_TOKENS


def page_version(page_hash: str) -> str:
    """The part of a page record's `page_hash` its file and site facts decide, without the
    chunk size: what a translation of the page depends on."""
    return page_hash.partition("/")[0]


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
