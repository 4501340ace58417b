"""Whether an HTTPS connection failed because the server speaks plain HTTP: an https:// address
pointed at an http port (Ollama's 11434, DSM's 5000) fails in the TLS handshake, and OpenSSL's
words for it ("wrong version number", "record layer failure") read like a certificate problem.
Said plainly instead: use http://. The SDKs nest the ssl error a few causes deep."""

from __future__ import annotations

from collections.abc import Iterator

# OpenSSL's reasons when the first bytes back are not TLS: 1.1/3.0, 3.2+, and a server that
# answered the handshake with an HTTP error page.
MARKS = ("wrong_version_number", "wrong version number", "record layer failure", "packet length too long",
         "http_request")  # fmt: skip


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """exc and its causes, outermost first (urllib3 keeps one in its args, not as a cause)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        nested = next((arg for arg in current.args if isinstance(arg, BaseException)), None)
        current = current.__cause__ or current.__context__ or nested


def plain_http(exc: BaseException) -> bool:
    return any(mark in str(link).lower() for link in _chain(exc) for mark in MARKS)


def innermost(exc: BaseException) -> str:
    """The deepest cause's own words ("[Errno 111] Connection refused"), or its class's name."""
    *_, last = _chain(exc)
    return str(last) or type(last).__name__
