"""The folders of the embedded index, and the gate that lets a rebuilt shard be swapped in.

A full rebuild (see `rebuild`) is written into `<collection>.staging` beside the live shard
folder `<collection>`. Once it is complete the live shard is closed, its folder renamed to
`<collection>.old`, the staging folder renamed to `<collection>` and loaded, and the old one
deleted. A process killed between the two renames leaves `<collection>.old` without
`<collection>`: the staging folder was complete by then, so `recover` finishes the swap the
next time the index is opened (or puts the old shard back if the staging folder is gone).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def staging_folder(folder: Path) -> Path:
    """Where a rebuild of the shard in `folder` is written."""
    return folder.with_name(folder.name + ".staging")


def retired_folder(folder: Path) -> Path:
    """Where the live shard waits, during a swap, to be deleted."""
    return folder.with_name(folder.name + ".old")


def swap_in(staging: Path, folder: Path) -> None:
    """Put the (closed, complete) shard in `staging` where the (closed) one in `folder` was."""
    retired = retired_folder(folder)
    shutil.rmtree(retired, ignore_errors=True)
    if folder.exists():
        folder.rename(retired)
    staging.rename(folder)
    shutil.rmtree(retired, ignore_errors=True)


def recover(folder: Path) -> None:
    """Finish a swap a killed process left half done."""
    retired = retired_folder(folder)
    if not retired.exists():
        return
    if not folder.exists():
        staging = staging_folder(folder)
        (staging if staging.exists() else retired).rename(folder)
    shutil.rmtree(retired, ignore_errors=True)


class Gate:
    """Calls into the shard share the gate; a swap has it alone, so no request reads a
    shard while it is closed and replaced (they wait the moment it takes)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._readers = 0
        self._swapping = False

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._changed:
            while self._swapping:
                self._changed.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._changed:
                self._readers -= 1
                self._changed.notify_all()

    @contextmanager
    def alone(self) -> Iterator[None]:
        with self._changed:
            while self._swapping:
                self._changed.wait()
            self._swapping = True
            while self._readers:
                self._changed.wait()
        try:
            yield
        finally:
            with self._changed:
                self._swapping = False
                self._changed.notify_all()
