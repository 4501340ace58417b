"""A fake NapCat: a real HTTP server on 127.0.0.1 that answers the OneBot v11 HTTP API the way
NapCat does (shared/reference/platforms.md §2.5, and NapCat's http-server.ts and
OneBotAction.ts): 403 {"message": "token verify failed!"} as text/html for a missing or wrong
token (never 401), 400 "Invalid JSON" for a bad body, HTTP 200 with status "failed" and
retcode 200 for an unknown action or a send that failed, retcode 400 for bad parameters. It
records what was sent. It also plays NapCat's HTTP client: posts an event to the bot signed
with HMAC-SHA1 of its token, chunked (NapCat sets no Content-Length), and carries out a quick
operation in the answer as NapCat does (a group reply quotes the question, @ only with
at_sender).

It also plays QQ's picture host (multimedia.nt.qq.com.cn) on its own port: picture() registers
bytes and returns the image segment NapCat posts for them (api/msg.ts picElement), with a
/download?appid=&fileid=&rkey= URL that serves them until expired (facts: /tmp/pictures-facts.md)."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import itertools
import json
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import PurePath
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from tests.fake_http import FakeHandler, FakeServer

SELF_ID = 10001000
# What the picture host answers for a URL whose rkey expired or is wrong: the bodies are as users
# saw them in a browser (LLOneBot/LuckyLilliaBot#310, #396); the HTTP status 400 is from
# LuckyLilliaBot#166 ("HTTP 400" for a URL without rkey), assumed for these two (unverified), as is
# the Content-Type.
EXPIRED_BODY = {"retcode": -5503007, "retmsg": "download url has expired", "retryflag": 0}
INVALID_RKEY_BODY = {"retcode": -5503010, "retmsg": "invalid rkey", "retryflag": 1}
SUFFIXES = {"image/png": ".png", "image/jpeg": ".jpg", "image/gif": ".gif", "image/webp": ".webp"}


@dataclasses.dataclass
class Sent:
    action: str
    target: str  # "user:<n>" or "group:<n>"
    message: Any  # as received: a segment array (or a string, which the bot must never send)
    at: float

    @property
    def text(self) -> str:
        if isinstance(self.message, str):
            return self.message
        return "".join(
            str((s.get("data") or {}).get("text", ""))
            for s in self.message
            if isinstance(s, dict) and s.get("type") == "text"
        )

    def segments(self, kind: str) -> list[dict[str, Any]]:
        return [s for s in self.message if isinstance(s, dict) and s.get("type") == kind]


@dataclasses.dataclass
class _Picture:
    content: bytes
    kind: str  # the Content-Type it is served with
    rkey: str
    expired: bool


def content_type(content: bytes) -> str:
    """The Content-Type a picture host gives these bytes, from their magic number."""
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if content.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


def _cq_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("[", "&#91;").replace("]", "&#93;").replace(",", "&#44;")


def cq_code(segment: dict[str, Any]) -> str:
    """A segment as NapCat writes it in a string-format event (helper/cqcode.ts encodeCQCode):
    [CQ:type,k=v,...] in the data's order, values with & [ ] , escaped, empty values left out
    (so sub_type 0 stays: "0" is a non-empty string). A text segment is its escaped text."""
    data = segment.get("data") or {}
    if segment.get("type") == "text":
        return str(data.get("text", "")).replace("&", "&amp;").replace("[", "&#91;").replace("]", "&#93;")
    found = "[CQ:" + str(segment.get("type"))
    for key, value in data.items():
        text = json.dumps(value) if isinstance(value, dict | list) else "" if value is None else str(value)
        if text:
            found += f",{key}={_cq_escape(text)}"
    return found + "]"


def stringify(event: dict[str, Any]) -> bytes:
    """As JavaScript's JSON.stringify writes it: UTF-8, but a lone surrogate (half an emoji) as
    a \\udXXX escape, which Python's json module cannot encode as UTF-8 by itself."""
    text = json.dumps(event, ensure_ascii=False)
    return re.sub("[\ud800-\udfff]", lambda m: f"\\u{ord(m.group()):04x}", text).encode()


class FakeNapCat:
    def __init__(
        self,
        token: str = "api-token-0123456789",  # noqa: S107 (a test's token)
        *,
        secret: str = "event-secret-0123456789",  # noqa: S107
    ) -> None:
        self.token = token  # its HTTP server's token (our onebot_access_token)
        self.secret = secret  # its HTTP client's token (our onebot_secret)
        self.self_id = SELF_ID
        self.sent: list[Sent] = []
        self.quick: list[Sent] = []  # replies NapCat sent because of a quick operation
        self.refused: list[int] = []  # HTTP statuses or retcodes it answered with a failure
        self.arrived = 0  # API calls that reached it, before any answer
        self.script: deque[dict[str, Any]] = deque()  # forced behaviours for the next sends
        self.message_ids = itertools.count(1000)
        self.picture_downloads: list[str] = []  # every GET of a picture URL, served or refused
        self.picture_delay = 0.0  # seconds the picture host waits before answering (a slow link)
        self._pictures: dict[str, _Picture] = {}  # fileid -> picture
        self._lock = threading.Lock()
        self._server = FakeServer(self._handler())
        self._down = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.port}"

    def start(self) -> FakeNapCat:
        self._server.begin()
        return self

    def stop(self) -> None:
        if not self._down:
            self._down = True
            self._server.end()

    def texts(self) -> list[str]:
        with self._lock:
            return [s.text for s in self.sent]

    def sent_images(self) -> list[bytes]:
        """The decoded bytes of every base64:// image segment the bot sent, in order."""
        found = []
        with self._lock:
            sent = list(self.sent)
        for item in sent:
            if isinstance(item.message, str):
                continue
            for segment in item.segments("image"):
                file = str((segment.get("data") or {}).get("file", ""))
                if not file.startswith("base64://"):
                    continue
                try:
                    found.append(base64.b64decode(file.removeprefix("base64://"), validate=True))
                except binascii.Error as error:
                    raise AssertionError(f"the bot sent bad base64 in an image segment: {error}") from error
        return found

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Sent]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.sent) >= count:
                    return list(self.sent)
            time.sleep(0.02)
        raise AssertionError(f"expected {count} sends, got {len(self.sent)}: {self.sent}")

    # -- pictures, as QQ's picture host serves them ----------------------------------------------

    def picture(
        self, content: bytes, *, name: str = "photo.png", summary: str = "", expired: bool = False
    ) -> dict[str, Any]:
        """The image segment NapCat posts for a picture someone sent (array format, api/msg.ts
        picElement: summary, file, sub_type, url, file_size in that order; file_size a string as
        NT gives it). The URL has the shape of NapCat's online-rkey URL on multimedia.nt.qq.com.cn
        (core/apis/file.ts getImageUrlFromParsedUrl; appid 1407 for a group picture, 1406 for a
        private one) but points to this fake, which serves the bytes there. file is the upper-case
        MD5 with the extension of `name` (as seen in real events, e.g. 2E14…B19F.jpg). With
        expired=True the URL answers as one whose rkey has expired."""
        fileid = "Cgo" + secrets.token_urlsafe(48)  # real ones are base64url protobuf, "Cgo…"
        rkey = "CAQSK" + secrets.token_urlsafe(33)  # real ones look like "CAQSKAB6JWENi5LM…"
        kind = content_type(content)
        suffix = PurePath(name).suffix.lower() or SUFFIXES.get(kind, ".jpg")
        with self._lock:
            self._pictures[fileid] = _Picture(content, kind, rkey, expired)
        url = f"{self.url}/download?appid=1407&fileid={fileid}&rkey={rkey}"
        md5 = hashlib.md5(content).hexdigest().upper()  # noqa: S324 (QQ names pictures by MD5)
        data = {"summary": summary or "", "file": md5 + suffix, "sub_type": 0, "url": url,
                "file_size": str(len(content))}  # fmt: skip
        return {"type": "image", "data": data}

    def expire_pictures(self) -> None:
        """Every picture URL handed out so far answers as expired from now on (as after the rkey's
        lifetime, about an hour: unverified)."""
        with self._lock:
            for picture in self._pictures.values():
                picture.expired = True

    # -- events, as NapCat's HTTP client posts them ----------------------------------------------

    def event(
        self,
        message: Any,
        *,
        user_id: int | str = 12345678,
        group_id: int | str | None = None,
        message_id: int | str | None = None,
        name: str = "alice",
        post_type: str = "message",
    ) -> dict[str, Any]:
        """A message event as NapCat builds it (api/msg.ts): ids as numbers, the message as given
        (a segment array, or a CQ string as with messagePostFormat "string")."""
        found: dict[str, Any] = {
            "time": int(time.time()),
            "self_id": self.self_id,
            "post_type": post_type,
            "message_type": "group" if group_id is not None else "private",
            "sub_type": "normal" if group_id is not None else "friend",
            "message_id": next(self.message_ids) if message_id is None else message_id,
            "user_id": user_id,
            "message": message,
            "raw_message": message if isinstance(message, str) else "",
            "font": 14,
            "message_format": "string" if isinstance(message, str) else "array",
            "sender": {"user_id": user_id, "nickname": name, "card": "", "role": "member"},
        }
        if group_id is not None:
            found["group_id"] = group_id
            found["group_name"] = "NAS owners"
        return found

    def push(
        self,
        bot_url: str,
        event: dict[str, Any] | bytes,
        *,
        secret: str | None = None,
        signature: str | None = None,
        chunked: bool = True,
    ) -> requests.Response:
        """POST an event to the bot as NapCat's HTTP client does: lower-case x-self-id and
        x-signature (sha1=HMAC-SHA1 of its token over the exact body), no Content-Length. Then
        carry out a quick operation in a 2xx answer."""
        body = event if isinstance(event, bytes) else stringify(event)
        key = self.secret if secret is None else secret
        headers = {"content-type": "application/json", "x-self-id": str(self.self_id)}
        if signature is not None:
            headers["x-signature"] = signature
        elif key:
            headers["x-signature"] = "sha1=" + hmac.new(key.encode(), body, hashlib.sha1).hexdigest()
        data: bytes | Iterator[bytes] = iter([body]) if chunked else body
        answer = requests.post(bot_url.rstrip("/") + "/onebot", data=data, headers=headers, timeout=10)
        if 200 <= answer.status_code < 300 and answer.content and isinstance(event, dict):
            self._quick(event, answer.json())
        return answer

    def _quick(self, event: dict[str, Any], operation: dict[str, Any]) -> None:
        # NapCat's quick-action.ts: only message events; a reply in a group always quotes the
        # question, and @-mentions the sender only when at_sender is truthy.
        reply = operation.get("reply")
        if event.get("post_type") != "message" or not reply:
            return
        message = reply if isinstance(reply, list) else [{"type": "text", "data": {"text": str(reply)}}]
        if event.get("message_type") == "group":
            head = [{"type": "reply", "data": {"id": str(event["message_id"])}}]
            if operation.get("at_sender"):
                head.append({"type": "at", "data": {"qq": str(event["user_id"])}})
            message = head + message
            target = f"group:{event['group_id']}"
        else:
            target = f"user:{event['user_id']}"
        with self._lock:
            self.quick.append(Sent("quick", target, message, time.monotonic()))

    # -- the HTTP API ---------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(FakeHandler):
            def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _result(self, status: str, retcode: int, data: Any = None, message: str = "") -> None:
                if status == "failed":
                    fake.refused.append(retcode)
                body = {"status": status, "retcode": retcode, "data": data, "message": message,
                        "wording": message, "echo": None, "stream": "normal-action"}  # fmt: skip
                self._send(200, json.dumps(body, ensure_ascii=False).encode())

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path != "/download":
                    self.send_error(501, f"Unsupported method ({self.command!r})")  # as before
                    return
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                with fake._lock:
                    fake.picture_downloads.append(fake.url + self.path)
                    picture = fake._pictures.get(query.get("fileid", ""))
                    delay = fake.picture_delay
                if delay:
                    time.sleep(delay)
                if picture is None:  # unverified: what the host answers for a file it does not have
                    self._send(404, b"Not Found", "text/plain")
                elif picture.expired:
                    self._send(400, json.dumps(EXPIRED_BODY).encode())
                elif query.get("rkey") != picture.rkey:
                    self._send(400, json.dumps(INVALID_RKEY_BODY).encode())
                else:
                    self._send(200, picture.content, picture.kind)

            def do_POST(self) -> None:
                with fake._lock:
                    fake.arrived += 1
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                try:
                    params = json.loads(raw or b"{}")
                except ValueError:
                    self._send(400, b"Invalid JSON", "text/html")  # before the token check
                    return
                bearer = self.headers.get("Authorization", "").split("Bearer ").pop()
                given = query.get("access_token") or bearer
                if fake.token and given != fake.token:
                    fake.refused.append(403)
                    self._send(403, b'{"message":"token verify failed!"}', "text/html; charset=utf-8")
                    return
                with fake._lock:
                    forced = fake.script.popleft() if fake.script else {}
                if "http" in forced:
                    fake.refused.append(forced["http"])
                    self._send(forced["http"], b"Bad Gateway", "text/html")
                    return
                if "hang" in forced:
                    time.sleep(forced["hang"])
                action = parts.path.strip("/")
                if action not in ("send_private_msg", "send_group_msg", "send_msg"):
                    self._result("failed", 200, message=f"不支持的Api {action}")
                    return
                self._send_msg(action, params if isinstance(params, dict) else {}, forced)

            def _send_msg(self, action: str, params: dict[str, Any], forced: dict[str, Any]) -> None:
                group = action == "send_group_msg" or (action == "send_msg" and "group_id" in params)
                target = params.get("group_id" if group else "user_id")
                message = params.get("message")
                if target in (None, "") or not str(target).isdigit() or not message:
                    self._result("failed", 400, message="请指定正确的 group_id 或 user_id")
                    return
                if "retcode" in forced:
                    said = forced.get("message", "EventChecker Failed: NTEvent sendMsg timeout")
                    self._result("failed", forced["retcode"], message=said)
                    return
                sent = Sent(action, f"{'group' if group else 'user'}:{target}", message, time.monotonic())
                with fake._lock:
                    fake.sent.append(sent)
                self._result("ok", 0, {"message_id": next(fake.message_ids)})

        return Handler
