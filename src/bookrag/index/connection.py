"""Open the configured index: the embedded Qdrant Edge shard (one process, guarded by a file
lock) or a Qdrant server or cluster."""

from __future__ import annotations

import fcntl
import logging
import os
import warnings
from pathlib import Path
from typing import IO

from bookrag.config import Settings
from bookrag.errors import IndexLocked, StoreUnavailable
from bookrag.index.engine_edge import EdgeEngine
from bookrag.index.store import BookStore

log = logging.getLogger("bookrag")


class _IndexLock:
    """An exclusive lock on the embedded index folder, held for the life of the store (Edge
    locks nothing when its write-ahead log is off)."""

    def __init__(self, path: Path) -> None:
        try:
            path.mkdir(parents=True, exist_ok=True)
            # "a+", not "w": a process refused the lock must leave the holder's pid as it is
            self._file: IO[str] = open(path / "bookrag.lock", "a+")  # noqa: SIM115
        except OSError as exc:
            raise StoreUnavailable(
                f"cannot use {path} for the embedded index ({exc.strerror}): set "
                "BOOKRAG_DATA_DIR to a folder this process can write"
            ) from None
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.seek(0)
            holder = self._file.read().strip()
            self._file.close()
            which = f" (pid {holder})" if holder.isdigit() else ""
            raise IndexLocked(
                f"the embedded index in {path} is in use by another bookrag process{which}; "
                "stop it first, or run a Qdrant server (set QDRANT_URL) so several "
                "processes can share one index"
            ) from None
        self._file.truncate(0)
        self._file.write(str(os.getpid()))
        self._file.flush()

    def release(self) -> None:
        self._file.close()


def open_store(settings: Settings) -> BookStore:
    """Connect to the configured Qdrant (embedded by default); no collection is created."""
    if settings.embedded:
        lock = _IndexLock(settings.index_path)
        try:
            engine = EdgeEngine.open(settings.index_path, settings.collection_name)
        except BaseException:
            lock.release()
            raise
        return BookStore(engine, embedded=True, release=lock.release)
    # Imported here: qdrant-client takes a second to import, which embedded mode never needs.
    from qdrant_client import QdrantClient

    from bookrag.index.engine_server import ServerEngine

    api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
    with warnings.catch_warnings():  # qdrant-client's own warning, said here in our words
        warnings.filterwarnings("ignore", "Api key is used with an insecure connection")
        client = QdrantClient(
            url=settings.qdrant_url,
            api_key=api_key,
            timeout=settings.qdrant_timeout,
            check_compatibility=False,  # constructors do no I/O; the first call finds out
        )
    if api_key and str(settings.qdrant_url).startswith("http://"):
        log.warning("QDRANT_API_KEY is sent unencrypted: QDRANT_URL is http://, not https://")
    return BookStore(ServerEngine(client, settings.collection_name), embedded=False)
