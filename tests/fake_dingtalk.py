"""A fake DingTalk for end-to-end tests over real loopback HTTP and WebSocket: the Stream gateway
(connections/open, one-use tickets, CALLBACK frames, pings, disconnect, re-pushes of what was not
acknowledged), OAuth and the robot OpenAPI, media/upload, and the per-message session webhooks
with their limits. It keeps the bytes of pictures (and files) people send: messageFiles/download
trades a message's downloadCode for a signed, expiring URL on this fake that serves them. It also
plays DingTalk posting a signed callback to an HTTP-mode bot.

Facts and their sources: shared/reference/platforms.md §1, /tmp/dingtalk-facts.md and
/tmp/pictures-facts.md (from the official Python Stream SDK, DingTalk's API docs and logs quoted
in public issues). What could not be confirmed is marked "unverified" where the fake decides it.
Every error answers the way the real server was seen to answer: api.dingtalk.com with an HTTP
status and {"code", "message"}; oapi.dingtalk.com and session webhooks with HTTP 200 and
{"errcode", "errmsg"}; the file store behind a downloadUrl as Aliyun OSS, with XML."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import hmac
import json
import secrets
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from email import policy
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from tests.fake_http import FakeHandler, FakeServer

T = TypeVar("T")
BOT_TOPIC = "/v1.0/im/bot/messages/get"
WEBHOOK_MAX_BYTES = 20_000  # 460101 above it
MSG_PARAM_MAX_BYTES = 15_000  # groupMessages/send documents it; assumed for batchSend too (unverified)
MAX_USER_IDS = 20
ROUTES = {
    "/v1.0/oauth2/accessToken": "token",
    "/v1.0/gateway/connections/open": "open",
    "/v1.0/robot/oToMessages/batchSend": "otm",
    "/v1.0/robot/groupMessages/send": "group",
    "/robot/sendBySession": "session",
    "/media/upload": "upload",
    "/v1.0/robot/messageFiles/download": "download",
}
MEDIA_PATH = "/media/download/"  # where the fake serves what a downloadUrl points to
# A downloadUrl's shape: DingTalk's presigned file URLs are Aliyun OSS V1 signed URLs
# (https://<bucket>.oss-cn-….aliyuncs.com/…?Expires=<unix s>&OSSAccessKeyId=…&Signature=<b64, %-quoted>,
# from dingtalk.oapi.cspace.file.presignedurl.get's doc); that messageFiles/download's URL is one
# too, and its lifetime, are unverified. OSS answers an expired one with HTTP 403 and this XML
# (OSS error 0002-00000069; the element set is from OSS error bodies seen in the wild, unverified;
# so are the EC numbers the fake gives NoSuchKey and SignatureDoesNotMatch).
OSS_ERROR = """<?xml version="1.0" encoding="UTF-8"?>
<Error>
  <Code>{code}</Code>
  <Message>{message}</Message>
  <RequestId>{request_id}</RequestId>
  <HostId>127.0.0.1</HostId>{extra}
  <EC>{ec}</EC>
  <RecommendDoc>https://api.aliyun.com/troubleshoot?q={ec}</RecommendDoc>
</Error>
"""
ERRMSG = {
    0: "ok",
    300001: "session 不存在",  # what an expired sessionWebhook answers too (QwenPaw#2221)
    460101: "message too long, exceed 20000 bytes",
    130101: "send too fast, exceed 20 times per minute",
    40035: "缺少参数 json",
    43004: "无效的HTTP HEADER Content-Type",
    40014: "不合法的access_token",
    42001: "access_token超时",  # unverified: DingTalk's global list, from memory
}
MAGIC_TYPES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg",
                b"GIF87a": "image/gif", b"GIF89a": "image/gif"}  # fmt: skip
# msgKey -> the msgParam fields DingTalk requires for it
MSG_KEYS = {
    "sampleText": ("content",),
    "sampleMarkdown": ("title", "text"),
    "sampleImageMsg": ("photoURL",),
    "sampleFile": ("mediaId", "fileName", "fileType"),
}
# session-webhook msgtype -> the fields its object must carry
MSGTYPES = {
    "text": ("content",),
    "markdown": ("title", "text"),
    "link": ("title", "text", "messageUrl"),
    "actionCard": ("title", "text"),
    "feedCard": ("links",),
}


def _signature(secret: str, timestamp_ms: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def sign(secret: str, timestamp_ms: int) -> str:
    """The HTTP-mode callback's `sign` header: base64(HMAC-SHA256(secret, "<timestamp>\\n<secret>"))."""
    return _signature(secret, timestamp_ms)


def _opaque(prefix: str, key: str) -> str:
    """An id shaped like DingTalk's encrypted ones ("cid…=", "$:LWCP_v1:$…"): base64 with + and /
    and a trailing =, so a bot that puts one in a URL or a file name unescaped gets caught.
    Stable per key, as the real ids are per conversation and per user."""
    text = base64.b64encode(hashlib.sha256(key.encode()).digest()).decode()  # 44 chars, ends with =
    return f"{prefix}{text[:6]}+{text[7:14]}/{text[15:]}"


def _frame_id() -> str:
    # shaped like the real ones in logs: 212b9d7c_165f_19bfa1a500a_1461def
    stamp = int(time.time() * 1000)
    return f"{secrets.token_hex(4)}_{secrets.token_hex(2)}_{stamp:x}_{secrets.token_hex(4)[:7]}"


def _now_ms() -> int:
    return int(time.time() * 1000)


def content_type(content: bytes) -> str:
    """The Content-Type a file store gives these bytes, from their magic number."""
    for magic, kind in MAGIC_TYPES.items():
        if content.startswith(magic):
            return kind
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


class _Refusal(Exception):
    """An error answer: raised by a check, turned into the HTTP answer by the handler."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(body)
        self.status, self.body = status, body


def _api_error(status: int, code: str, message: str) -> _Refusal:
    # api.dingtalk.com's error shape (authFailed, InvalidAuthentication, invalidParameter.*)
    return _Refusal(status, {"requestid": str(uuid.uuid4()).upper(), "code": code, "message": message})


def _oapi_error(errcode: int, errmsg: str | None = None) -> _Refusal:
    # oapi.dingtalk.com and session webhooks: always HTTP 200, the error is in the body
    return _Refusal(200, {"errcode": errcode, "errmsg": errmsg or ERRMSG.get(errcode, "error")})


@dataclasses.dataclass
class _Session:
    conversation: str
    expires_ms: int


@dataclasses.dataclass
class _Link:
    code: str  # the downloadCode it was made for
    signature: str  # the Signature parameter as it must come back (after URL decoding)
    expires: int  # the Expires parameter (unix seconds)
    deadline: float  # monotonic time after which it is expired (expire_downloads() sets 0)


@dataclasses.dataclass
class _Pending:
    payload: dict[str, Any]
    due: float  # monotonic time of the re-push


class FakeDingTalk:
    bad_token_status = 400  # logs show HTTP 400 InvalidAuthentication (not 401) for a bad token

    def __init__(
        self,
        client_id: str = "dingappkey123",
        client_secret: str = "app-secret-xyz",  # noqa: S107 (a test's secret)
        *,
        redeliver_after: float = 60.0,
        close_after_disconnect: float = 0.5,
    ) -> None:
        self.client_id, self.client_secret = client_id, client_secret
        self.redeliver_after, self.close_after_disconnect = redeliver_after, close_after_disconnect
        self.ticket_lifetime = 90.0
        self.token_lifetime = 7200.0  # how long the fake honours a token
        self.expire_in: int | None = None  # what it tells the client (None: int(token_lifetime))
        self.rate_per_minute = 20
        self.gateway_down = False
        self.script: dict[str, list[dict[str, Any]]] = {name: [] for name in ROUTES.values()}
        self.invalid_staff: set[str] = set()
        self.flow_controlled: set[str] = set()
        # what happened, for the tests to read
        self.connections = 0
        self.opens: list[dict[str, Any]] = []
        self.refused_handshakes: list[str] = []  # the reason of each refused WS handshake
        self.frames: list[dict[str, Any]] = []  # every frame sent to a client
        self.acks: dict[str, dict[str, Any]] = {}
        self.acked_at: dict[str, float] = {}  # frame messageId -> time.monotonic() of its ack
        self.pushes: dict[str, int] = {}
        self.pongs: list[dict[str, Any]] = []
        self.garbage: list[str] = []
        self.sent: list[dict[str, Any]] = []
        self.uploads: list[dict[str, Any]] = []
        self.download_url_lifetime = 3600.0  # seconds a downloadUrl works (unverified)
        self.downloads: list[str] = []  # the downloadCodes traded for a downloadUrl
        self.fetched: list[str] = []  # the downloadUrls served (the bytes went out)
        self.calls: dict[str, int] = dict.fromkeys(ROUTES.values(), 0)
        self.tokens_issued = 0
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()  # one writer at a time on a WebSocket
        self._stopping = threading.Event()
        self._tickets: dict[str, float] = {}
        self._tokens: dict[str, float] = {}
        self._sessions: dict[str, _Session] = {}
        self._groups: set[str] = set()
        self._windows: dict[str, deque[float]] = {}
        self._pending: dict[str, _Pending] = {}
        self._pings: dict[str, str] = {}  # ping frame messageId -> opaque
        self._media: dict[str, bytes] = {}  # downloadCode -> the bytes behind it
        self._links: dict[str, _Link] = {}  # the random part of a downloadUrl's path -> link
        self._live: list[ServerConnection] = []  # newest last: pushes go to the newest
        self._timers: list[threading.Timer] = []
        self._http = FakeServer(self._handler())
        self._ws: Server | None = None
        self._threads: list[threading.Thread] = []
        self._down = False
        self._corp = "ding" + hashlib.sha256(client_id.encode()).hexdigest()[:16]
        self._bot_user = _opaque("$:LWCP_v1:$", "bot:" + client_id)

    # -- life cycle -----------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self._http.port}"

    oapi_url = api_url  # one server plays api.dingtalk.com and oapi.dingtalk.com

    @property
    def ws_url(self) -> str:
        if self._ws is None:
            raise AssertionError("FakeDingTalk is not started")
        return f"ws://127.0.0.1:{self._ws_port}/connect"

    def start(self) -> FakeDingTalk:
        self._http.begin()
        # No server-side keepalive pings (their timing would make tests flaky), a short close
        # timeout and open timeout so that stop() never waits long for a silent client.
        self._ws = serve(self._serve_connection, "127.0.0.1", 0, process_request=self._check_ticket,
                         ping_interval=None, close_timeout=1, open_timeout=3)  # fmt: skip
        self._ws_port = self._ws.socket.getsockname()[1]  # still known while it shuts down
        for target in (self._ws.serve_forever, self._redeliver):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        # Always stop (a fixture does): the WebSocket server's connection threads are not daemons.
        if self._down:
            return
        self._down = True
        self._stopping.set()  # also ends any scripted hang
        for timer in self._timers:
            timer.cancel()
        if self._ws is None:  # never started: shutdown() would wait for a loop that never ran
            self._http.server_close()
            return
        self._http.end()
        self._ws.shutdown()
        for thread in self._threads:
            thread.join(timeout=5)

    def __enter__(self) -> FakeDingTalk:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- inbound messages, as DingTalk builds them --------------------------------------------------

    def conversation_id(self, *, group: bool = False, title: str = "Team", staff_id: str = "manager4") -> str:
        """The conversationId message() uses for a group title or a 1:1 user."""
        return _opaque("cid", f"group:{title}" if group else f"user:{staff_id}")

    def message(
        self,
        text: str = "hello",
        *,
        group: bool = False,
        staff_id: str = "manager4",
        nick: str = "Wang Fang",
        msg_id: str | None = None,
        created_at: int | None = None,
        session_minutes: float = 90,
        msgtype: str = "text",
        content: dict[str, Any] | None = None,
        conversation: str | None = None,
        title: str = "Team",
        is_admin: bool = False,
        picture: bytes | None = None,
    ) -> dict[str, Any]:
        """The robot callback body (platforms.md §1.2; field set as in real logs), with a fresh
        session webhook on this fake valid until createAt + session_minutes.

        With `picture` (for msgtype "picture" or "richText", or any type with a downloadCode:
        audio, file, video), those bytes are what the content's downloadCode downloads (for
        richText: the first picture part's). Without it the code is unknown to the download route.
        A picture's pictureDownloadCode is never registered: connectors that used it instead of
        downloadCode report failures (DingTalk-Real-AI/dingtalk-openclaw-connector#69)."""
        created = _now_ms() if created_at is None else created_at
        who = staff_id or nick  # external users have no staff id
        conv = conversation or self.conversation_id(group=group, title=title, staff_id=who)
        session = uuid.uuid4().hex
        expires = created + int(session_minutes * 60_000)
        with self._lock:
            self._sessions[session] = _Session(conv, expires)
            if group:
                self._groups.add(conv)
        payload: dict[str, Any] = {
            "conversationId": conv,
            "chatbotCorpId": self._corp,
            "chatbotUserId": self._bot_user,
            "msgId": msg_id or "msg" + base64.b64encode(secrets.token_bytes(16)).decode(),
            "senderNick": nick,
            "isAdmin": is_admin,
            "senderStaffId": staff_id,
            "sessionWebhookExpiredTime": expires,
            "createAt": created,
            "senderCorpId": self._corp,
            "conversationType": "2" if group else "1",
            "senderId": _opaque("$:LWCP_v1:$", "sender:" + who),
            "sessionWebhook": f"{self.api_url}/robot/sendBySession?session={session}",
            "robotCode": self.client_id,
            "senderPlatform": "Mac",
            "msgtype": msgtype,
        }
        if group:
            payload["conversationTitle"] = title
            payload["isInAtList"] = True
            payload["atUsers"] = [{"dingtalkId": self._bot_user}]
        if msgtype == "text":
            # in a group the @mention is cut out of the text but the space after it stays
            payload["text"] = content if content is not None else {"content": (" " if group else "") + text}
        else:
            payload["content"] = content if content is not None else self._content(msgtype, text)
        if picture is not None:
            self.register_download(_download_code(payload), picture)
        return payload

    def register_download(self, code: str, content: bytes) -> None:
        """Make messageFiles/download trade this downloadCode for a URL serving these bytes."""
        with self._lock:
            self._media[code] = content

    def expire_downloads(self) -> None:
        """Every downloadUrl handed out so far answers as expired from now on."""
        with self._lock:
            for link in self._links.values():
                link.deadline = 0.0

    @staticmethod
    def _content(msgtype: str, text: str) -> dict[str, Any]:
        code = "dl" + secrets.token_urlsafe(24)
        if msgtype == "audio":
            return {"downloadCode": code, "duration": 4000, "recognition": text}
        if msgtype == "picture":
            return {"downloadCode": code, "pictureDownloadCode": "pdl" + secrets.token_urlsafe(24)}
        if msgtype == "richText":
            return {"richText": [{"text": text}, {"downloadCode": code, "type": "picture"}]}
        if msgtype == "file":
            return {"fileName": "report.pdf", "downloadCode": code, "spaceId": "1234", "fileId": "5678"}
        if msgtype == "video":
            return {"downloadCode": code, "duration": "5", "videoType": "mp4"}
        return {}

    # -- Stream mode ----------------------------------------------------------------------------

    def push(self, payload: dict[str, Any], *, message_id: str | None = None) -> str:
        """A CALLBACK frame with this robot message on the newest connection; re-pushed under a
        new frame messageId every redeliver_after seconds until acknowledged with code 200."""
        mid = message_id or _frame_id()
        key = str(payload.get("msgId") or mid)
        with self._lock:  # pending before sending: a quick ack must find it
            self._pending[mid] = _Pending(payload, time.monotonic() + self.redeliver_after)
            self.pushes[key] = self.pushes.get(key, 0) + 1
        try:
            self._send("CALLBACK", BOT_TOPIC, mid, json.dumps(payload, ensure_ascii=False))
        except AssertionError:
            with self._lock:
                self._pending.pop(mid, None)
                self.pushes[key] -= 1
            raise
        return mid

    def push_raw(self, text: str) -> None:
        self._send_text(text)

    def ping(self) -> str:
        opaque, mid = str(uuid.uuid4()), _frame_id()
        with self._lock:
            self._pings[mid] = opaque
        self._send("SYSTEM", "ping", mid, json.dumps({"opaque": opaque}))
        return opaque

    def wait_pong(self, opaque: str, timeout: float = 5.0) -> dict[str, Any]:
        """The reply to ping() whose data echoes this opaque."""

        def find() -> dict[str, Any] | None:
            for pong in self.pongs:
                with contextlib.suppress(ValueError, TypeError, AttributeError):
                    if json.loads(pong.get("data") or "{}").get("opaque") == opaque:
                        return pong
            return None

        return self._wait(find, timeout, lambda: f"no pong echoing {opaque}: {self.pongs}")

    def disconnect(self) -> None:
        """SYSTEM "disconnect" (DingTalk is about to move the connection), then the close."""
        connection = self._current()
        data = json.dumps({"reason": "server restart"})  # unverified: what the real data holds
        self._send("SYSTEM", "disconnect", _frame_id(), data, connection)
        timer = threading.Timer(self.close_after_disconnect, self._close, args=(connection,))
        timer.daemon = True
        self._timers.append(timer)
        timer.start()

    def drop(self) -> None:
        """Cut the newest connection's TCP socket: no close frame, as a NAT or a gateway does."""
        connection = self._current()
        with self._lock:
            if connection in self._live:
                self._live.remove(connection)
        with contextlib.suppress(OSError):
            connection.socket.shutdown(socket.SHUT_RDWR)

    def wait_connected(self, count: int = 1, timeout: float = 10.0) -> None:
        self._wait(lambda: self.connections >= count or None, timeout,
                   lambda: f"expected {count} stream connections, got {self.connections}")  # fmt: skip

    def wait_ack(self, message_id: str, timeout: float = 5.0) -> dict[str, Any]:
        return self._wait(lambda: self.acks.get(message_id), timeout,
                          lambda: f"no ack for {message_id}; acks {list(self.acks)}")  # fmt: skip

    def _current(self) -> ServerConnection:
        with self._lock:
            if not self._live:
                raise AssertionError("no DingTalk stream connection")
            return self._live[-1]

    def _send(self, kind: str, topic: str, mid: str, data: str, to: ServerConnection | None = None) -> None:
        connection = to or self._current()
        headers = {"appId": self.client_id, "connectionId": str(connection.id),
                   "contentType": "application/json", "messageId": mid, "time": str(_now_ms()),
                   "topic": topic}  # fmt: skip
        frame = {"specVersion": "1.0", "type": kind, "headers": headers, "data": data}
        with self._lock:
            self.frames.append(frame)
        self._send_text(json.dumps(frame, ensure_ascii=False), connection)

    def _send_text(self, text: str, connection: ServerConnection | None = None) -> None:
        connection = connection or self._current()
        try:
            with self._send_lock:
                connection.send(text)
        except (ConnectionClosed, OSError) as error:
            raise AssertionError(f"the stream connection is closed: {error}") from error

    @staticmethod
    def _close(connection: ServerConnection) -> None:
        with contextlib.suppress(Exception):
            connection.close()

    def _check_ticket(self, connection: ServerConnection, request: Request) -> Response | None:
        # A ticket opens one connection within ticket_lifetime; the refusal's status is unverified.
        parts = urlsplit(request.path)
        if parts.path != "/connect":
            return connection.respond(404, "Not Found\n")
        ticket = parse_qs(parts.query).get("ticket", [""])[0]
        with self._lock:
            expiry = self._tickets.pop(ticket, None)  # used up even if the handshake then fails
        reason = "missing" if not ticket else "unknown or used" if expiry is None else ""
        if expiry is not None and time.monotonic() > expiry:
            reason = "expired"
        if reason:
            with self._lock:
                self.refused_handshakes.append(reason)
            return connection.respond(401, f"ticket {reason}\n")
        return None

    def _serve_connection(self, connection: ServerConnection) -> None:
        with self._lock:
            self._live.append(connection)
            self.connections += 1
        try:
            for message in connection:
                self._receive(message if isinstance(message, str) else message.decode("utf-8", "replace"))
        except ConnectionClosed:
            pass
        finally:
            with self._lock:
                if connection in self._live:
                    self._live.remove(connection)

    def _receive(self, text: str) -> None:
        try:
            frame = json.loads(text)
        except ValueError:
            frame = None
        headers = frame.get("headers") if isinstance(frame, dict) else None
        mid = headers.get("messageId") if isinstance(headers, dict) else None
        with self._lock:
            if not isinstance(frame, dict) or "code" not in frame or not isinstance(mid, str):
                self.garbage.append(text)
            elif mid in self._pings:
                self.pongs.append(frame)
            else:
                self.acks[mid] = frame
                self.acked_at.setdefault(mid, time.monotonic())
                if frame.get("code") == 200:  # unverified: another code leaves it to be re-pushed
                    self._pending.pop(mid, None)

    def _redeliver(self) -> None:
        # DingTalk pushes an unacknowledged message again (seen ~16-60 s later in logs), as a
        # new frame; whether the frame's messageId changes is unverified (assumed: it does).
        while not self._stopping.wait(0.05):
            now = time.monotonic()
            with self._lock:
                due = [(mid, p) for mid, p in self._pending.items() if p.due <= now] if self._live else []
                for mid, _ in due:
                    del self._pending[mid]
            for mid, pending in due:
                try:
                    self.push(pending.payload)
                except AssertionError:  # the connection went away: try again on the next one
                    with self._lock:
                        self._pending[mid] = dataclasses.replace(pending, due=now + 0.2)

    # -- replies --------------------------------------------------------------------------------

    def wait_sent(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        return self._wait(lambda: list(self.sent) if len(self.sent) >= count else None, timeout,
                          lambda: f"expected {count} sends, got {len(self.sent)}: {self.sent}")  # fmt: skip

    def expire_sessions(self) -> None:
        with self._lock:
            for session in self._sessions.values():
                session.expires_ms = 0

    def expire_tokens(self) -> None:
        """Every access token issued so far stops working now (as after a secret reset)."""
        with self._lock:
            self._tokens = dict.fromkeys(self._tokens, 0.0)

    def texts(self) -> list[str]:
        """The text of each accepted reply, whatever its path and type."""
        found = []
        for sent in list(self.sent):
            body = sent.get("msgParam") or sent["body"].get(sent["body"].get("msgtype", ""), {})
            found.append(str(body.get("content") or body.get("text") or ""))
        return found

    # -- HTTP mode: DingTalk posting to the bot -----------------------------------------------------

    def callback(
        self,
        url: str,
        payload: dict[str, Any],
        *,
        secret: str | None = None,
        timestamp_ms: int | None = None,
        sign: str | None = None,
    ) -> requests.Response:
        stamp = _now_ms() if timestamp_ms is None else timestamp_ms
        key = self.client_secret if secret is None else secret
        signature = _signature(key, stamp) if sign is None else sign
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "timestamp": str(stamp),
            "sign": signature,
        }
        body = json.dumps(payload, ensure_ascii=False).encode()
        return requests.post(url, data=body, headers=headers, timeout=10)

    # -- helpers --------------------------------------------------------------------------------

    def _wait(self, probe: Callable[[], T | None], timeout: float, explain: Callable[[], str]) -> T:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                found = probe()
            if found is not None:
                return found
            time.sleep(0.02)
        raise AssertionError(explain())

    def _token_state(self, token: str | None) -> str:
        with self._lock:
            expiry = self._tokens.get(token or "")
        return "unknown" if expiry is None else "expired" if time.monotonic() > expiry else "ok"

    def _issue_token(self) -> str:
        # Asking again within the validity returns the same token, renewed (DingTalk's doc).
        now = time.monotonic()
        with self._lock:
            self.tokens_issued += 1
            token = next((t for t, expiry in self._tokens.items() if expiry > now), None)
            token = token or secrets.token_hex(16)
            self._tokens[token] = now + self.token_lifetime
        return token

    def _note_open(self, raw: bytes) -> None:
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = {"unparsable": raw.decode("utf-8", "replace")}
        if isinstance(body, dict) and "clientSecret" in body:
            body["clientSecret"] = "REDACTED"
        with self._lock:
            self.opens.append(body if isinstance(body, dict) else {"unparsable": body})

    def _check_open(self, body: dict[str, Any]) -> dict[str, Any]:
        if self.gateway_down:
            raise _Refusal(503, {})
        if body.get("clientId") != self.client_id or body.get("clientSecret") != self.client_secret:
            raise _api_error(401, "authFailed", "鉴权失败")
        wanted = {"type": "CALLBACK", "topic": BOT_TOPIC}
        subscriptions = body.get("subscriptions")
        if not isinstance(subscriptions, list) or not any(_has(s, wanted) for s in subscriptions):
            # unverified: the real gateway may accept it and deliver nothing
            raise _api_error(400, "invalidParameter.subscriptions", "subscriptions is invalid")
        ticket = str(uuid.uuid4())
        with self._lock:
            self._tickets[ticket] = time.monotonic() + self.ticket_lifetime
        return {"endpoint": self.ws_url, "ticket": ticket}

    def _check_token(self, token: str | None) -> None:
        if self._token_state(token) != "ok":  # missing, unknown or expired alike (unverified for missing)
            raise _api_error(self.bad_token_status, "InvalidAuthentication", "不合法的access_token")

    def _check_robot_send(self, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if not body.get("robotCode"):
            raise _api_error(400, "invalidParameter.robotCode.empty", "robotCode is empty")
        if body["robotCode"] != self.client_id:
            raise _api_error(400, "invalidParameter.robotCode.auth", "appkey does not match the robotCode")
        key, raw = body.get("msgKey"), body.get("msgParam")
        if not key:
            raise _api_error(400, "invalidParameter.msgKey.empty", "msgKey is missing")
        if key not in MSG_KEYS:
            raise _api_error(400, "invalidParameter.msgKey.invalid", f"不支持类型 {key}")
        param = None
        if isinstance(raw, str) and len(raw.encode()) <= MSG_PARAM_MAX_BYTES:
            with contextlib.suppress(ValueError):
                param = json.loads(raw)
        if not isinstance(param, dict):
            raise _api_error(400, "invalidParameter.msgParam.invalid", "msgParam must be JSON, ≤ 15000 bytes")
        if any(not param.get(field) for field in MSG_KEYS[key]):
            raise _api_error(400, "invalidParameter.param.invalid", "parameter is invalid")
        return key, param

    def _otm(self, body: dict[str, Any]) -> dict[str, Any]:
        _, param = self._check_robot_send(body)
        users = body.get("userIds")
        if not isinstance(users, list) or not users or not all(isinstance(u, str) for u in users):
            raise _api_error(400, "invalidParameter.userIds.empty", "userIds is empty")
        if len(users) > MAX_USER_IDS:
            raise _api_error(400, "invalidParameter.userIds.overMax", "userIds exceeds the maximum")
        invalid = [u for u in users if u in self.invalid_staff]
        throttled = [u for u in users if u in self.flow_controlled and u not in self.invalid_staff]
        with self._lock:
            for user in users:
                if user not in invalid and user not in throttled:
                    self.sent.append({"via": "otm", "conversation": self.conversation_id(staff_id=str(user)),
                                      "user": user, "body": body, "msgParam": param})  # fmt: skip
        return {"processQueryKey": secrets.token_urlsafe(24), "invalidStaffIdList": invalid,
                "flowControlledStaffIdList": throttled}  # fmt: skip

    def _group(self, body: dict[str, Any]) -> dict[str, Any]:
        _, param = self._check_robot_send(body)
        conv = body.get("openConversationId")
        with self._lock:
            if conv not in self._groups:  # unverified code
                code = "invalidParameter.openConversationId.invalid"
                raise _api_error(400, code, "openConversationId is invalid")
            self.sent.append({"via": "group", "conversation": conv, "body": body, "msgParam": param})
        return {"processQueryKey": secrets.token_urlsafe(24)}

    def _session(self, raw: bytes, session_id: str, content_type: str) -> dict[str, Any]:
        with self._lock:
            session = self._sessions.get(session_id)
        if session is None or _now_ms() > session.expires_ms:
            raise _oapi_error(300001)
        if "json" not in content_type.lower():
            raise _oapi_error(43004)  # unverified for session webhooks (the custom robot's code)
        if len(raw) > WEBHOOK_MAX_BYTES:
            raise _oapi_error(460101)
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise _oapi_error(40035)
        kind = body.get("msgtype")
        fields = MSGTYPES.get(kind) if isinstance(kind, str) else None
        part = body.get(kind) if isinstance(kind, str) else None
        if fields is None or not isinstance(part, dict) or any(not part.get(f) for f in fields):
            raise _oapi_error(40035, f"缺少参数 {kind}")  # unverified code for a bad msgtype
        now = time.monotonic()
        with self._lock:
            window = self._windows.setdefault(session.conversation, deque())
            while window and now - window[0] > 60:
                window.popleft()
            if len(window) >= self.rate_per_minute:  # the 10-minute penalty is not modelled
                raise _oapi_error(130101)
            window.append(now)
            self.sent.append({"via": "session", "conversation": session.conversation,
                              "session": session_id, "body": body})  # fmt: skip
        return {"errcode": 0, "errmsg": "ok"}

    def _upload(self, raw: bytes, query: dict[str, str], content_type: str) -> dict[str, Any]:
        state = self._token_state(query.get("access_token"))
        if state != "ok":
            raise _oapi_error(40014 if state == "unknown" else 42001)
        kind = query.get("type", "")
        if kind not in ("image", "voice", "video", "file"):
            raise _oapi_error(40035, "缺少参数 type")
        message = BytesParser(policy=policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + raw
        )
        parts = message.iter_parts() if message.is_multipart() else iter(())
        media = next((p for p in parts if p.get_param("name", header="content-disposition") == "media"), None)
        if media is None:
            raise _oapi_error(40035, "缺少参数 media")
        data = media.get_payload(decode=True)
        media_id = "@lA" + secrets.token_urlsafe(21)
        with self._lock:
            self.uploads.append({"type": kind, "filename": media.get_filename(), "media_id": media_id,
                                 "content_type": media.get_content_type(), "data": data})  # fmt: skip
        return {"errcode": 0, "errmsg": "ok", "type": kind, "media_id": media_id, "created_at": _now_ms()}

    def _download(self, body: dict[str, Any]) -> dict[str, Any]:
        # The robotCode checks are those documented for the robot send APIs (unverified here).
        if not body.get("robotCode"):
            raise _api_error(400, "invalidParameter.robotCode.empty", "robotCode is empty")
        if body["robotCode"] != self.client_id:
            raise _api_error(400, "invalidParameter.robotCode.auth", "appkey does not match the robotCode")
        code = body.get("downloadCode")
        if not isinstance(code, str) or not code:  # unverified code
            raise _api_error(400, "invalidParameter.downloadCode.empty", "downloadCode is empty")
        with self._lock:
            known = code in self._media
        if not known:  # unverified code and status
            raise _api_error(400, "invalidParameter.downloadCode.invalid", "downloadCode is invalid")
        key = secrets.token_hex(16)
        expires = int(time.time() + self.download_url_lifetime) + 1
        digest = hmac.new(self.client_secret.encode(), f"{key}\n{expires}".encode(), hashlib.sha1).digest()
        signature = base64.b64encode(digest).decode()  # has + / =, quoted in the URL as OSS does
        with self._lock:
            self._links[key] = _Link(code, signature, expires, time.monotonic() + self.download_url_lifetime)
            self.downloads.append(code)
        access_key = "LTAI" + hashlib.sha256(self.client_id.encode()).hexdigest()[:12]
        query = urlencode({"Expires": expires, "OSSAccessKeyId": access_key, "Signature": signature})
        return {"downloadUrl": f"{self.api_url}{MEDIA_PATH}{key}?{query}"}

    def _serve_media(self, path: str) -> tuple[int, bytes, str]:
        """What the file store answers a GET of a downloadUrl with: (status, body, Content-Type)."""
        parts = urlsplit(path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        with self._lock:
            link = self._links.get(parts.path.removeprefix(MEDIA_PATH))
            content = self._media.get(link.code) if link is not None else None
        if link is None or content is None:
            return _oss_error(404, "NoSuchKey", "The specified key does not exist.", "0026-00000001")
        if query.get("Signature") != link.signature or query.get("Expires") != str(link.expires):
            said = "The request signature we calculated does not match the signature you provided."
            return _oss_error(403, "SignatureDoesNotMatch", said, "0002-00000040")
        if time.monotonic() > link.deadline:
            stamp = "%Y-%m-%dT%H:%M:%S.000Z"
            extra = (f"\n  <Expires>{time.strftime(stamp, time.gmtime(link.expires))}</Expires>"
                     f"\n  <ServerTime>{time.strftime(stamp, time.gmtime())}</ServerTime>")  # fmt: skip
            return _oss_error(403, "AccessDenied", "Request has expired.", "0002-00000069", extra)
        with self._lock:
            self.fetched.append(self.api_url + path)
        return 200, content, content_type(content)

    def _next_script(self, route: str) -> dict[str, Any]:
        with self._lock:
            self.calls[route] += 1
            queue = self.script.setdefault(route, [])
            return queue.pop(0) if queue else {}

    # -- the HTTP server ------------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(FakeHandler):
            def _answer(self, status: int, body: dict[str, Any]) -> None:
                # an empty body stands for the HTML page tengine answers in front of a sick gateway
                data = json.dumps(body, ensure_ascii=False).encode()
                kind = "application/json;charset=utf-8"
                if not body:
                    data, kind = f"<html><body><h1>{status}</h1></body></html>".encode(), "text/html"
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.command == "GET" and self.path.startswith(MEDIA_PATH):
                    status, data, kind = fake._serve_media(self.path)
                    self.send_response(status)
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                self._answer(404, {"code": "InvalidAction.NotFound", "message": "Specified api is not found"})

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                route = ROUTES.get(parts.path)
                if route is None:
                    self.do_GET()
                    return
                if route == "open":
                    fake._note_open(raw)
                forced = fake._next_script(route)
                if "hang" in forced:
                    fake._stopping.wait(forced["hang"])
                try:
                    self._forced(forced)
                    self._answer(200, self._route(route, raw, query))
                except _Refusal as refusal:
                    self._answer(refusal.status, refusal.body)

            def _forced(self, forced: dict[str, Any]) -> None:
                # A canned answer: {"body": {...}}, {"errcode": n}, {"code": "...", "http": 400},
                # or {"http": 503} alone (an HTML error page). {"hang": s} alone answers normally.
                status = forced.get("http", 200)
                if "body" in forced:
                    raise _Refusal(status, forced["body"])
                if "errcode" in forced:
                    refusal = _oapi_error(forced["errcode"], forced.get("errmsg"))
                    raise _Refusal(status, refusal.body)
                if "code" in forced:
                    said = forced.get("message", forced["code"])
                    raise _api_error(forced.get("http", 400), forced["code"], said)
                if "http" in forced:
                    raise _Refusal(status, {})

            def _route(self, route: str, raw: bytes, query: dict[str, str]) -> dict[str, Any]:
                content_type = self.headers.get("Content-Type", "")
                if route == "session":
                    return fake._session(raw, query.get("session", ""), content_type)
                if route == "upload":
                    return fake._upload(raw, query, content_type)
                if route in ("otm", "group", "download"):
                    fake._check_token(self.headers.get("x-acs-dingtalk-access-token"))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                if not isinstance(body, dict):
                    raise _api_error(400, "Missingbody", "body is mandatory for this action.")
                if route == "token":
                    if body.get("appKey") != fake.client_id or body.get("appSecret") != fake.client_secret:
                        raise _api_error(400, "invalidClientIdOrSecret", "无效的clientId或者clientSecret")
                    token = fake._issue_token()
                    expire_in = fake.expire_in if fake.expire_in is not None else int(fake.token_lifetime)
                    return {"accessToken": token, "expireIn": expire_in}
                if route == "open":
                    return fake._check_open(body)
                if route == "download":
                    return fake._download(body)
                return fake._otm(body) if route == "otm" else fake._group(body)

        return Handler


def _download_code(payload: dict[str, Any]) -> str:
    """The downloadCode of a robot message's content (richText: its first picture part's)."""
    content = payload.get("content")
    if isinstance(content, dict) and isinstance(content.get("downloadCode"), str):
        return str(content["downloadCode"])
    parts = content.get("richText") if isinstance(content, dict) else None
    for part in parts if isinstance(parts, list) else []:
        code = part.get("downloadCode") if isinstance(part, dict) else None
        if isinstance(code, str) and part.get("type") == "picture":
            return code
    raise AssertionError(f"this {payload.get('msgtype')} message has no downloadCode for the picture")


def _oss_error(status: int, code: str, message: str, ec: str, extra: str = "") -> tuple[int, bytes, str]:
    request_id = secrets.token_hex(12).upper()
    body = OSS_ERROR.format(code=code, message=message, request_id=request_id, extra=extra, ec=ec)
    return status, body.encode(), "application/xml"


def _has(item: Any, wanted: dict[str, str]) -> bool:
    return isinstance(item, dict) and all(item.get(k) == v for k, v in wanted.items())
