"""Files Chat fetches from us: Chat attaches a file by downloading a `file_url` itself, so an
export is offered at an unguessable address for a few minutes. Memory only: a restart ends
every link, which is also the safe way for them to end."""

from __future__ import annotations

import dataclasses
import secrets
import threading
import time
from collections.abc import Callable

LIFETIME = 600.0  # Chat fetches at once; ten minutes covers a slow NAS and a retry
MAX_FILES = 50
MAX_BYTES = 8 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class File:
    name: str
    content: bytes
    expires: float
    mime: str = "application/octet-stream"


class Downloads:
    def __init__(self, clock: Callable[[], float] = time.monotonic, lifetime: float = LIFETIME) -> None:
        self._clock = clock
        self._lifetime = lifetime
        self._files: dict[str, File] = {}
        self._lock = threading.Lock()

    def add(self, name: str, content: bytes, mime: str = "application/octet-stream") -> str | None:
        """The file's key (256 random bits), or None when it is too large to offer."""
        if len(content) > MAX_BYTES:
            return None
        key = secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock:
            self._files = {k: f for k, f in self._files.items() if f.expires > now}
            while len(self._files) >= MAX_FILES:
                self._files.pop(next(iter(self._files)))
            self._files[key] = File(name, content, now + self._lifetime, mime)
        return key

    def get(self, key: str) -> File | None:
        with self._lock:
            found = self._files.get(key)
        if found is None or found.expires <= self._clock():
            return None
        return found
