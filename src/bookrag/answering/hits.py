"""What a search hit was indexed by: its text with its trail, and its BM25 vector."""

from __future__ import annotations

from bookrag.index import lexical
from bookrag.index.store import Hit


def hit_vector(hit: Hit) -> lexical.SparseVector:
    """A hit's BM25 vector: as stored, or built again from its text if the engine sent none."""
    return hit.sparse or lexical.document_vector(embedding_text(hit))


def embedding_text(hit: Hit) -> str:
    """The text a hit was indexed (and is embedded and reranked) by: its trail, then its text."""
    p = hit.payload
    trail = " › ".join([str(p.get("title", "")), *[str(h) for h in p.get("headings", [])]])
    return f"{trail}\n{p.get('text', '')}"
