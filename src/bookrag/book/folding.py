"""Text read as a reader types it: Unicode's compatibility forms folded (NFKC), so that a
question's `I²C`, full-width `ＲＯＳ` (what Chinese and Japanese keyboards type) and `ﬁ`
ligature find the book's `I2C`, `ROS` and `fi`, and the other way round.
"""

from __future__ import annotations

import unicodedata

# Bump when text is folded otherwise: only the pages whose text it changes are redone (their
# fingerprint holds it; others keep theirs, and their points).
READING = "nfkc-1"


def fold(text: str) -> str:
    """`text` with its compatibility forms folded (NFKC); most text has none, and is as it is."""
    return unicodedata.normalize("NFKC", text) if folds(text) else text


def folds(text: str) -> bool:
    """Whether folding changes `text` (such a page's fingerprint holds `READING`)."""
    return not text.isascii() and not unicodedata.is_normalized("NFKC", text)
