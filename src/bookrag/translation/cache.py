"""Finished translations on disk, one JSON file each, and the `Translation` they hold.

Cache layout (`$BOOKRAG_DATA_DIR/translations`): one JSON file per translation at
`<language code>/<page>-<version>-<key>.json`: `page` is the first 16 hex digits of the
sha256 of the page's source path, `version` the first 16 of its page version (its record's
`page_hash` without the chunk size, `index.points.page_version`), and `key` the first 32 of
the sha256 of the prompt version, the page version, the language code and the chat model's
name; so a changed page, another model or a new prompt is translated afresh, and a page
only chunked anew is not. A file holds the `Translation` fields (without `cached`), plus
`page_hash` (the page version) and `created_at`; it is
written to a temporary file and moved into place, so a reader never sees half a file and a
failed translation writes nothing. Saving a translation deletes the page's other versions
in that language, and `prune` (run at start-up) deletes those of pages that changed or left
the book.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import tempfile
from pathlib import Path

from pydantic import BaseModel, ValidationError

from bookrag.translation.languages import Direction
from bookrag.translation.units import PROMPT_VERSION

log = logging.getLogger("bookrag.translation")

_CACHE_FILE = re.compile(r"^(?P<version>[0-9a-f]{16}-[0-9a-f]{16})-[0-9a-f]{32}$")


class Translation(BaseModel):
    """A translated page: the contract's `success` and `translation`, and what it is."""

    success: bool = True
    translation: str
    language: str  # ISO 639-1 code
    target_language: str  # English name
    direction: Direction
    cached: bool = False
    page_url: str  # the page's canonical URL
    path: str  # source path relative to the docs folder
    title: str
    model: str


class TranslationCache:
    """Finished translations on disk, one JSON file each (layout in the module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @staticmethod
    def version(source: str, page_hash: str) -> str:
        """The file name prefix of every translation of this version of a page."""
        return f"{_sha256(source)[:16]}-{page_hash[:16]}"

    @classmethod
    def key(cls, source: str, page_hash: str, language: str, model: str) -> str:
        inputs = _sha256(f"{PROMPT_VERSION}\0{page_hash}\0{language}\0{model}")
        return f"{cls.version(source, page_hash)}-{inputs[:32]}"

    def _file(self, language: str, key: str) -> Path:
        return self.root / language / f"{key}.json"

    def load(self, language: str, key: str) -> Translation | None:
        """The stored translation, or None (an unreadable file counts as missing)."""
        try:
            data = json.loads(self._file(language, key).read_text(encoding="utf-8"))
            return Translation.model_validate({**data, "cached": True})
        except FileNotFoundError:
            return None
        except (OSError, ValueError, ValidationError) as exc:
            log.warning("ignoring unreadable cached translation %s: %s", key, exc)
            return None

    def save(self, key: str, result: Translation, page_hash: str) -> None:
        """Write atomically (a temporary file in the same folder, then `os.replace`), then
        delete this page's other translations into the language: older versions."""
        target = self._file(result.language, key)
        data = result.model_dump(exclude={"cached"})
        data.update(page_hash=page_hash, created_at=dt.datetime.now(dt.UTC).isoformat())
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=target.parent, suffix=".tmp", delete=False
        ) as temporary:
            json.dump(data, temporary, ensure_ascii=False)
        try:
            os.replace(temporary.name, target)
        except OSError:
            os.unlink(temporary.name)
            raise
        for other in target.parent.glob(f"{key[:16]}-*.json"):
            if other != target:
                other.unlink(missing_ok=True)

    def prune(self, pages: dict[str, str]) -> int:
        """Delete translations of page versions not in `pages` (source -> page_hash), and
        files this layout does not name; returns how many were deleted."""
        current = {self.version(source, page_hash) for source, page_hash in pages.items()}
        removed = 0
        for path in self.root.glob("*/*.json"):
            match = _CACHE_FILE.match(path.stem)
            if match is None or match.group("version") not in current:
                path.unlink(missing_ok=True)
                removed += 1
        return removed


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
