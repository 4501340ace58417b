"""Logging to stderr (DSM's start script and Docker collect it), with secrets masked."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from typing import TextIO


class RedactSecrets(logging.Filter):
    """Replaces any current secret (API key, tokens, the incoming URL) in a log line with ***.
    Code never logs secrets on purpose; this catches what a library's message might carry."""

    def __init__(self, secrets: Callable[[], Iterable[str]]) -> None:
        super().__init__()
        self._secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            secrets = [s for s in self._secrets() if len(s) >= 4]
        except Exception:  # the store may be unreadable; logging must still work
            secrets = []
        if secrets:
            text = record.getMessage()
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            for secret in secrets:
                text = text.replace(secret, "***")
                if record.exc_text:
                    record.exc_text = record.exc_text.replace(secret, "***")
            record.msg, record.args = text, None
        return True


def setup(level: str, secrets: Callable[[], Iterable[str]], stream: TextIO = sys.stderr) -> logging.Handler:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Their debug lines quote URLs and frames: a reply link, a Stream ticket, a message's text.
    for noisy in ("httpx2", "httpcore2", "openai", "urllib3", "websockets"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    return handler
