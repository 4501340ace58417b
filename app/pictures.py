"""Pictures kept with a conversation (the web chat's drawings), one file each under
data/pictures/<conversation>/, owner-only like the rest of the data folder. The conversation's
history names them; they go when the conversation goes (delete, /new, /forget) and when its
oldest exchanges are trimmed. Plain files: no database holds image bytes."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from contextlib import suppress
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700
NAME = re.compile(r"^picture-[0-9]{8}-[0-9]{6}(?:-[0-9]{1,3})?\.(png|jpg|webp|gif)$")
KEY = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
MIME = {"png": "image/png", "jpg": "image/jpeg", "webp": "image/webp", "gif": "image/gif"}


class Pictures:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, key: str, name: str = "") -> Path:
        if not KEY.match(key) or key.startswith(".") or (name and not NAME.match(name)):
            raise ValueError("not a conversation's picture")
        return self.folder / key / name if name else self.folder / key

    def save(self, key: str, name: str, content: bytes) -> None:
        path = self._path(key, name)
        path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)  # mode 600
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(content)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str, name: str) -> tuple[bytes, str] | None:
        """The picture's bytes and type, or None."""
        try:
            path = self._path(key, name)
            return path.read_bytes(), MIME[name.rpartition(".")[2]]
        except (ValueError, OSError):
            return None

    def exists(self, key: str, name: str) -> bool:
        try:
            return self._path(key, name).is_file()
        except ValueError:
            return False

    def drop(self, key: str, names: list[str] | None = None) -> None:
        """Removes these pictures of the conversation, or all of them."""
        try:
            folder = self._path(key)
        except ValueError:
            return
        if names is None:
            shutil.rmtree(folder, ignore_errors=True)
            return
        for name in names:
            with suppress(ValueError, OSError):
                self._path(key, name).unlink(missing_ok=True)
