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

from app.declare import MAX_TEXT

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
    language: str = ""  # set for a browser's page request: the answer is a page in it


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
    accept = languages = b""
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
        elif lowered == b"accept":
            accept = value.lower()
        elif lowered == b"accept-language":
            languages = value.lower()
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
        # A form sent from the settings page gets a page it can read, not the webhooks' JSON.
        page = _language(languages) if b"text/html" in accept else ""
        return Verdict(
            status=413, reason=f"the body is larger than {max_body // (1024 * 1024) or 1} MB", language=page
        )
    if length <= BODY_WAIT and len(data) - end - gap < length:
        return Verdict()
    return Verdict(ready=True)


def _language(header: bytes) -> str:
    """The page's language from Accept-Language: its first Chinese or English entry."""
    for part in header.split(b","):
        tag = part.split(b";")[0].strip()
        if tag.startswith((b"zh-tw", b"zh-hk", b"zh-mo", b"zh-hant")):
            return "zh-Hant"
        if tag.startswith(b"zh"):
            return "zh"
        if tag.startswith(b"en"):
            return "en"
    return "en"


# The one page the front door answers with (the app's pages need a thread and the request). The
# form can only be this big with a text field over its limit (declare.MAX_TEXT), so it says so.
TOO_LARGE_PAGE = {
    "en": ("Too much to save", "The form is larger than the server takes (1 MB), so nothing was saved. "
           "A text field holds at most {chars:,} characters (the system prompt, say): go back, "
           "shorten it, and save again."),
    "zh": ("内容太多，无法保存", "表单超过服务器可接收的大小（1 MB），没有保存任何内容。"
           "文本框最多 {chars:,} 个字符（例如系统提示词）：请返回缩短后再保存。"),
    "zh-Hant": ("內容太多，無法儲存", "表單超過伺服器可接收的大小（1 MB），沒有儲存任何內容。"
                "文字欄位最多 {chars:,} 個字元（例如系統提示詞）：請返回縮短後再儲存。"),
}  # fmt: skip


def _refuse(status: int, reason: str) -> Verdict:
    return Verdict(status=status, reason=reason)


REASONS = {
    505: "HTTP Version Not Supported",
    400: "Bad Request",
    408: "Request Timeout",
    413: "Payload Too Large",
    431: "Request Header Fields Too Large",
}


def response(status: int, reason: str, headers: dict[str, str], language: str = "") -> bytes:
    """A complete HTTP/1.1 answer that closes the connection, with the app's security headers:
    JSON, or with a language a short page in it."""
    body = json.dumps({"success": False, "error": reason}).encode()
    kind = "application/json"
    if language in TOO_LARGE_PAGE:
        title, words = TOO_LARGE_PAGE[language]
        text = words.format(chars=MAX_TEXT)
        body = (
            f'<!doctype html><html lang="{language}"><meta charset="utf-8"><title>{title}</title>'
            f'<h1>{title}</h1><p id="too-large">{text}</p><p><a href="/#settings">←</a></p></html>'
        ).encode()
        kind = "text/html"
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines += [
        f"Content-Type: {kind}; charset=utf-8",
        f"Content-Length: {len(body)}",
        "Connection: close",
        "",
        "",
    ]
    return "\r\n".join(lines).encode("latin-1") + body
