"""What the server checks of a request before a thread is given to it: that its head has fully
arrived (and a small body with it), that it is not too large, and that it says its length in
exactly one way. Pure: bytes in, a verdict out; server.py does the sockets.

Why before a thread: cheroot gives each new connection one of its 16 threads at once, and the
thread then waits for the request's bytes. 16 connections that send a byte every few seconds
held every thread, and no webhook was answered. Waiting here costs a file descriptor, not a
thread.
"""

from __future__ import annotations

import dataclasses
import json
import re

MAX_HEAD = 32 * 1024  # request line and headers; a browser's with cookies is a few KiB
BODY_WAIT = 16 * 1024  # a body up to this size must have arrived too: Chat's are ~1 KiB
HEAD_SECONDS = 10.0  # from connecting (or from a kept-alive connection's next byte)

_TOKEN = re.compile(rb"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_REQUEST_LINE = re.compile(rb"^[A-Z]{1,16} [\x21-\x7e]{1,8192} HTTP/1\.[01]$")
_OTHER_VERSION = re.compile(rb"^[A-Z]{1,16} [\x21-\x7e]{1,8192} HTTP/\d+\.\d+$")


@dataclasses.dataclass(frozen=True)
class Verdict:
    """ready: hand the connection to a thread. Otherwise, with a status: answer it and close;
    without one: wait for more bytes."""

    ready: bool = False
    status: int = 0
    reason: str = ""


def check(data: bytes, max_body: int) -> Verdict:
    """The verdict on what has arrived of one request so far."""
    end, gap = data.find(b"\r\n\r\n"), 4
    bare = data.find(b"\n\n")
    if bare != -1 and (end == -1 or bare < end):
        end, gap = bare, 2
    if end == -1:
        return _refuse(431, "the request's headers are too large") if len(data) > MAX_HEAD else Verdict()
    if end > MAX_HEAD:
        return _refuse(431, "the request's headers are too large")
    line = data[: data.find(b"\n")].rstrip(b"\r")
    if not _REQUEST_LINE.match(line):
        # Refused here rather than by cheroot, whose own error answers carry none of the
        # security headers.
        return _refuse(505 if _OTHER_VERSION.match(line) else 400, "the request line is malformed")
    lengths: list[bytes] = []
    encodings: list[bytes] = []
    for line in data[:end].split(b"\n")[1:]:
        name, colon, value = line.rstrip(b"\r").partition(b":")
        if not colon or not _TOKEN.match(name):
            # A folded line, or a name with a space before the colon: the oldest ways to make
            # two servers read one request differently.
            return _refuse(400, "a header line is malformed")
        lowered = name.lower()
        if lowered == b"content-length":
            lengths += [part.strip() for part in value.split(b",")]
        elif lowered == b"transfer-encoding":
            encodings += [part.strip().lower() for part in value.split(b",") if part.strip()]
    if encodings:
        if lengths:
            return _refuse(400, "Content-Length and Transfer-Encoding together")
        if encodings != [b"chunked"]:
            return _refuse(400, "only the chunked Transfer-Encoding is understood")
        return Verdict(ready=True)  # its size is checked while it is read
    if not lengths:
        return Verdict(ready=True)
    if any(not (part.isdigit() and len(part) <= 18) for part in lengths) or len(set(lengths)) > 1:
        return _refuse(400, "Content-Length is not one plain number")
    length = int(lengths[0])
    if length > max_body:
        return _refuse(413, f"the body is larger than {max_body // (1024 * 1024) or 1} MB")
    if length <= BODY_WAIT and len(data) - end - gap < length:
        return Verdict()
    return Verdict(ready=True)


def _refuse(status: int, reason: str) -> Verdict:
    return Verdict(status=status, reason=reason)


REASONS = {
    505: "HTTP Version Not Supported",
    400: "Bad Request",
    408: "Request Timeout",
    413: "Payload Too Large",
    431: "Request Header Fields Too Large",
}


def response(status: int, reason: str, headers: dict[str, str]) -> bytes:
    """A complete HTTP/1.1 answer that closes the connection, with the app's security headers."""
    body = json.dumps({"success": False, "error": reason}).encode()
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines += [
        "Content-Type: application/json; charset=utf-8",
        f"Content-Length: {len(body)}",
        "Connection: close",
        "",
        "",
    ]
    return "\r\n".join(lines).encode("latin-1") + body
