"""Open the configured index: the embedded Qdrant Edge shard (one process, guarded by a file
lock) or a Qdrant server or cluster."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from bookrag.config import Settings
from bookrag.errors import IndexLocked
from bookrag.index.engine_edge import EdgeEngine
from bookrag.index.store import BookStore


class _IndexLock:
    """An exclusive lock on the embedded index folder, held for the life of the store (Edge
    locks nothing when its write-ahead log is off)."""

    def __init__(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = open(path / "bookrag.lock", "w")  # noqa: SIM115
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.close()
            raise IndexLocked(
                f"the embedded index in {path} is in use by another bookrag process; "
                "stop it first, or run a Qdrant server (set QDRANT_URL) so several "
                "processes can share one index"
            ) from None
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
    client = QdrantClient(
        url=settings.qdrant_url,
        api_key=api_key,
        timeout=settings.qdrant_timeout,
        check_compatibility=False,  # constructors do no I/O; the first call finds out
    )
    return BookStore(ServerEngine(client, settings.collection_name), embedded=False)
