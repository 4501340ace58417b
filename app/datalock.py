"""One server per data folder: an exclusive lock on a file in it, held while the server runs.
Two servers on one folder would both resume and answer the same stored jobs."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from app.store import StoreError

LOCK_NAME = ".lock"


class FolderInUse(StoreError):
    pass


class DataLock:
    def __init__(self, data_dir: Path) -> None:
        self._path = data_dir / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        """Raises FolderInUse when another process (or another server in this one) holds it.
        flock is released by the kernel when the process dies, so kill -9 leaves no stale lock."""
        if self._fd is not None:
            return
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise FolderInUse(
                f"another SynoChatGPT server is already using the data folder {self._path.parent.resolve()}; "
                "stop it first, or give this one its own --data-dir"
            ) from None
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None
