"""A full rebuild of the index, written beside the live one and swapped in once complete.

Every page is indexed again when the index was built by another embedding model (or none),
or by an older bookrag (a `SCHEMA` bump). The live collection keeps answering meanwhile:
the rebuild is written into a staging collection (a second Edge shard folder, or a second
collection on a server), which takes the live one's place only when the ingest has written
every page, counted its statistics and merged its segments (`promote`). A rebuild that fails
leaves the live index as it was; what it wrote stays in the staging collection, and the next
rebuild for the same model goes on from there (one for another model starts it afresh).
A rebuild takes every vector the live index (or the staging collection) holds for a text of
the same model rather than embedding it again (see `reuse`).
"""

from __future__ import annotations

import logging
from contextlib import suppress

from bookrag.errors import BookragError
from bookrag.index.store import BookStore
from bookrag.providers.base import Embedder, RetryPolicy, embed_all

log = logging.getLogger("bookrag")


def prepare_collection(
    store: BookStore, embedder: Embedder | None, policy: RetryPolicy
) -> tuple[BookStore, bool, str | None]:
    """The store an ingest writes into, whether its collection exists, and why every page is
    re-indexed (None when the live index is brought up to date in place, as usually).

    The embedder is asked for one embedding before a rebuild for another model starts: no
    work is begun for an index that cannot be built (a rejected key, a provider that is
    down). One for the same model (an older bookrag's layout) asks nothing: it takes the live
    index's vectors (see `reuse`). With an embedder a missing collection is created once the
    first vectors tell its dimension."""
    wanted = embedder.model if embedder else None
    current = store.fingerprint()
    if current is None or not (current.outdated or current.dense_model != wanted):
        if current is None and embedder is None:
            store.ensure_collection()
            return store, True, None
        return store, current is not None, None
    if embedder is not None and current.dense_model != wanted:
        embed_all(embedder, ["bookrag"], "search_document", policy)
    if current.outdated:
        reason = "the index was written by an older bookrag; re-indexing every page"
    else:
        target = f"{wanted}" if wanted else "lexical (BM25) only"
        reason = (
            f"the index was built with {current.describe()}; re-indexing every page with {target}"
        )
    staged = BookStore(store.engine.staging(), embedded=store.embedded)
    left = staged.fingerprint()
    if left is not None and (left.outdated or left.dense_model != wanted):
        staged.drop()  # a rebuild for another model was cut short: its pages are no use
        left = None
    elif left is not None:
        log.info("going on with the rebuild a failed or stopped run began")
    if left is None and embedder is None:
        staged.ensure_collection()
        return staged, True, reason
    return staged, left is not None, reason


def promote(store: BookStore, staged: BookStore) -> None:
    """Swap the complete rebuild in for the live index; its statistics are read anew."""
    staged.commit()
    store.engine.promote(staged.engine)
    store.warm()


def set_aside(staged: BookStore) -> None:
    """Leave a failed rebuild for the next run to go on with; the live index is untouched."""
    with suppress(BookragError, OSError):
        staged.close()
