"""Dense vectors already in an index, found by the text they embed: a text a model has
embedded once is not sent to it again.

Each chunk point with a dense vector records `text_hash`, the sha256 of exactly the text
embedded (see `points`), and the layout point the model that embedded it. Before a page's
chunks are embedded, their texts' hashes are looked up in the collection being written
and, during a rebuild, in the live one, wherever the collection was built by the same
model: a page edited in one paragraph embeds only its changed chunks, and a new site URL, a
layout bump or a rebuild gone on with embeds nothing it had. An index of another model (or
none) lends nothing, and points without `text_hash` (written before it was recorded) are
embedded again like new ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from bookrag.index.engine import DENSE, Where
from bookrag.index.store import BookStore

_LOOKUP = 256  # hashes per filtered scroll


class StoredVectors:
    """The dense vectors `stores` hold (all built by one model), by `text_hash`."""

    def __init__(self, stores: Sequence[BookStore]) -> None:
        self.stores = stores

    def find(self, hashes: Iterable[str]) -> dict[str, list[float]]:
        """The stored vector of each of `hashes` that some store holds."""
        wanted = set(hashes)
        found: dict[str, list[float]] = {}
        for store in self.stores:
            missing = sorted(wanted - found.keys())
            for start in range(0, len(missing), _LOOKUP):
                where = Where(kind="chunk", text_hashes=tuple(missing[start : start + _LOOKUP]))
                for _, payload, vector in store.engine.scroll(where, ["text_hash"], DENSE):
                    held = payload.get("text_hash")
                    if isinstance(held, str) and held in wanted and isinstance(vector, list):
                        found.setdefault(held, vector)
        return found


def stored_vectors(model: str, stores: Iterable[BookStore]) -> StoredVectors:
    """The vectors of those of `stores` whose collection `model` built (each store once)."""
    built = []
    for store in dict.fromkeys(stores):
        fingerprint = store.fingerprint()
        if fingerprint is not None and fingerprint.dense_model == model:
            built.append(store)
    return StoredVectors(built)
