"""The index: the Qdrant store and its two engines, BM25F terms, ingest, the page directory.

May import `book`, `providers`, `config` and `errors`; never `answering` or anything above it.
"""
