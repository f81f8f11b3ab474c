"""The embedded engine: Qdrant Edge, Qdrant's own Rust engine, in this process.

The collection is one Edge shard in `<index folder>/edge/<collection>`. Its write-ahead log
is off (a book is re-derivable from its docs folder, and the log would double every write):
updates are durable once `flush()` returns, and the store flushes before it commits a page.
Edge keeps no lock on a shard without a log, so `connection` holds bookrag's own.

An index written by bookrag before Qdrant Edge (qdrant-client's local mode, a SQLite file in
`<index folder>/collection/<collection>`) reads as a collection with no layout point, so
ingest rebuilds it and says so; `drop()` removes those files too.

A full rebuild is written into a second shard folder and swapped in by `promote` (see
`edge_folders`), within this engine: the store the app holds answers from the new shard.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import qdrant_edge as edge

from bookrag.errors import NoRoom, StoreUnavailable
from bookrag.index.edge_folders import Gate, recover, staging_folder, swap_in
from bookrag.index.edge_requests import edge_filter, edge_vectors, named, query_request
from bookrag.index.engine import DENSE, PAYLOAD_INDEXES, SPARSE, Engine, Scored, StoredPoint, Where
from bookrag.index.lexical import SparseVector

_CONFIG_FILE = "edge_config.json"  # what Edge writes into every shard folder
_BATCH = 1024


def _reraise_unless_edge(exc: BaseException) -> None:
    """Raise `exc` again unless it is how Edge fails: a plain exception, or pyo3's
    `PanicException` (a BaseException) when its Rust code panics, as on damaged files.
    Either means the index failed, not the process."""
    if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
        raise exc


# Room kept free on the index's disk before any write (plus four times the text written).
MIN_FREE_BYTES = 64 * 2**20
_ADVICE = (
    "Check that the data folder is writable and its disk not full; if its files are "
    "damaged, delete the folder and run `bookrag ingest` again"
)


class EdgeEngine:
    """One Qdrant Edge shard in a folder (created by `create`, opened by `open`)."""

    def __init__(self, folder: Path, shard: edge.EdgeShard | None, legacy: Path | None) -> None:
        self.folder = folder
        self._shard = shard
        self._legacy = legacy
        self._gate = Gate()

    @classmethod
    def open(cls, index_path: Path, collection: str) -> EdgeEngine:
        """Load the collection's shard if there is one; a folder that is not a shard, or a
        shard Edge cannot load, is an error that names the folder."""
        folder = index_path / "edge" / collection
        recover(folder)  # a swap that a killed process left half done
        return cls._load(folder, index_path / "collection" / collection)

    @classmethod
    def _load(cls, folder: Path, legacy: Path | None) -> EdgeEngine:
        if not folder.exists():
            return cls(folder, None, legacy)
        if not (folder / _CONFIG_FILE).is_file():
            if folder.is_dir() and not any(folder.iterdir()):
                return cls(folder, None, legacy)  # left by a create that died at once
            raise StoreUnavailable(
                f"{folder} is not a bookrag index (no {_CONFIG_FILE}): move it away or "
                "delete it, then run `bookrag ingest` again"
            )
        engine = cls(folder, None, legacy)
        engine._make_room(MIN_FREE_BYTES)  # loading writes to the mapped files as well
        try:
            shard = edge.EdgeShard.load(str(folder))
        except BaseException as exc:
            _reraise_unless_edge(exc)
            raise StoreUnavailable(
                f"the index in {folder} cannot be read ({exc}). {_ADVICE}"
            ) from exc
        return cls(folder, shard, legacy)

    @contextmanager
    def _errors(self) -> Iterator[edge.EdgeShard]:
        with self._gate.shared():
            if self._shard is None:
                raise StoreUnavailable(f"the index in {self.folder} does not exist yet")
            try:
                yield self._shard
            except StoreUnavailable:
                raise
            except BaseException as exc:
                _reraise_unless_edge(exc)
                raise StoreUnavailable(
                    f"the embedded index in {self.folder} failed: {exc}. {_ADVICE}"
                ) from exc

    def _make_room(self, wanted: int) -> None:
        """Refuse to load or write without room: Edge maps its files into memory, so a write
        the disk cannot hold kills the process (SIGBUS) instead of raising an error."""
        folder = next((f for f in (self.folder, *self.folder.parents) if f.exists()), None)
        free = shutil.disk_usage(folder).free if folder is not None else wanted
        if free < wanted:
            raise NoRoom(
                f"only {free / 2**20:.0f} MB free on the disk holding {self.folder}; the "
                f"index needs {wanted / 2**20:.0f} MB to be opened or written safely. Free "
                "some space and try again (what was indexed before is kept)",
                free,
                wanted,
            )

    def exists(self) -> bool:
        return self._shard is not None or (self._legacy is not None and self._legacy.is_dir())

    def create(self, dense_dim: int | None) -> None:
        vectors = (
            {DENSE: edge.EdgeVectorParams(size=dense_dim, distance=edge.Distance.Cosine)}
            if dense_dim
            else None
        )
        config = edge.EdgeConfig(
            vectors=vectors,
            sparse_vectors={SPARSE: edge.EdgeSparseVectorParams(modifier=edge.Modifier.Idf)},
            wal_enabled=False,
        )
        self._make_room(MIN_FREE_BYTES)
        shutil.rmtree(self.folder, ignore_errors=True)  # an empty one left by a failed create
        try:
            self._shard = edge.EdgeShard.create(str(self.folder), config)
        except BaseException as exc:
            _reraise_unless_edge(exc)
            raise StoreUnavailable(f"could not create the index in {self.folder}: {exc}") from exc
        with self._errors() as shard:
            for key in PAYLOAD_INDEXES:
                shard.update(
                    edge.UpdateOperation.create_field_index(key, edge.PayloadSchemaType.Keyword)
                )
            shard.update(
                edge.UpdateOperation.create_field_index(
                    "chunk_index", edge.PayloadSchemaType.Integer
                )
            )
            shard.flush()

    def drop(self) -> None:
        self._make_room(MIN_FREE_BYTES)  # no index dropped for one there is no room to build
        with self._gate.alone():
            self._let_go()
        shutil.rmtree(self.folder, ignore_errors=True)
        self._drop_legacy()

    def _drop_legacy(self) -> None:
        if self._legacy is not None and self._legacy.is_dir():
            shutil.rmtree(self._legacy)
            parent = self._legacy.parent
            if not any(parent.iterdir()):  # qdrant-client's local mode kept a list beside it
                parent.rmdir()
                (parent.parent / "meta.json").unlink(missing_ok=True)

    def staging(self) -> EdgeEngine:
        """The shard a rebuild writes beside this one: what a failed or killed rebuild left
        (to go on with, if it can be read), else none yet."""
        folder = staging_folder(self.folder)
        self._make_room(MIN_FREE_BYTES)  # not mistaken below for a damaged shard
        try:
            return EdgeEngine._load(folder, None)
        except StoreUnavailable:  # damaged, or not a shard: started afresh
            shutil.rmtree(folder, ignore_errors=True)
            return EdgeEngine(folder, None, None)

    def promote(self, staging: Engine) -> None:
        """Put the complete shard `staging` wrote in place of this one, and answer from it."""
        assert isinstance(staging, EdgeEngine) and staging.folder == staging_folder(self.folder)
        staging.close()  # flushed, its files let go
        with self._gate.alone():
            self._let_go()
            try:
                swap_in(staging.folder, self.folder)
            finally:  # a swap that failed half way is finished, or the old shard put back
                recover(self.folder)
                self._shard = EdgeEngine._load(self.folder, None)._shard
        self._drop_legacy()  # an index of the old layout, now rebuilt

    def upsert(self, points: Sequence[StoredPoint]) -> None:
        text = sum(len(str(p.payload.get(k, ""))) for p in points for k in ("text", "markdown"))
        self._make_room(MIN_FREE_BYTES + 4 * text)
        with self._errors() as shard:
            for start in range(0, len(points), _BATCH):
                chosen = points[start : start + _BATCH]
                batch = [edge.Point(p.id, edge_vectors(p), p.payload) for p in chosen]
                shard.update(edge.UpdateOperation.upsert_points(batch))

    def delete(self, where: Where) -> None:
        self._make_room(MIN_FREE_BYTES)  # deleting writes too
        with self._errors() as shard:
            shard.update(edge.UpdateOperation.delete_points_by_filter(edge_filter(where)))

    def delete_ids(self, ids: Sequence[str]) -> None:
        self._make_room(MIN_FREE_BYTES)
        with self._errors() as shard:
            shard.update(edge.UpdateOperation.delete_points(list(ids)))

    def count(self, where: Where) -> int:
        with self._errors() as shard:
            return shard.count(edge.CountRequest(exact=True, filter=edge_filter(where)))

    def scroll(
        self, where: Where, payload: bool | list[str], vector: str | None = None
    ) -> Iterator[tuple[str, dict[str, Any], object]]:
        offset: edge.PointId | None = None
        while True:
            with self._errors() as shard:
                records, offset = shard.scroll(
                    edge.ScrollRequest(
                        offset=offset,
                        limit=_BATCH,
                        filter=edge_filter(where),
                        with_payload=payload,
                        with_vector=[vector] if vector else False,
                    )
                )
            for record in records:
                yield str(record.id), record.payload or {}, named(record.vector, vector)
            if offset is None:
                return

    def retrieve(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        if self._shard is None:
            return {}  # e.g. an index of the old layout: no layout point, so it is rebuilt
        with self._errors() as shard:
            found = shard.retrieve(list(ids), True, False)
        return {str(r.id): r.payload or {} for r in found}

    def query(
        self, sparse: SparseVector | None, dense: list[float] | None, limit: int
    ) -> list[Scored]:
        request = query_request(sparse, dense, limit)
        with self._errors() as shard:
            found = shard.query(request)
        return [Scored(str(p.id), p.score, p.payload or {}, named(p.vector, SPARSE)) for p in found]

    def flush(self) -> None:
        self._make_room(MIN_FREE_BYTES)
        with self._errors() as shard:
            shard.flush()

    def optimize(self) -> None:
        # Merging segments writes them anew: room for a copy of the index. Without it, what
        # was written is flushed and `NoRoom` raised: the unmerged index answers the same.
        size = sum(f.stat().st_blocks * 512 for f in self.folder.rglob("*") if f.is_file())
        try:
            self._make_room(MIN_FREE_BYTES + size)
        except NoRoom:
            try:
                self.flush()
            except NoRoom as exc:  # no room even to flush: a failure, not a merge put off
                raise StoreUnavailable(exc.message) from exc
            raise
        with self._errors() as shard:
            shard.optimize()
            shard.flush()

    def ping(self) -> bool:
        """True if the shard reads: it is in this process, but its files may be damaged."""
        with self._gate.shared():
            if self._shard is None:
                return True
            try:
                self._shard.scroll(
                    edge.ScrollRequest(limit=2, with_payload=True, with_vector=False)
                )
            except BaseException as exc:
                _reraise_unless_edge(exc)
                return False
        return True

    def close(self) -> None:
        with self._gate.alone():
            if self._shard is not None:
                self._shard.flush()
            self._let_go()

    def _let_go(self) -> None:
        """Close the shard, with the gate held alone: nothing answers from it any longer."""
        if self._shard is not None:
            self._shard.close()
            self._shard = None
