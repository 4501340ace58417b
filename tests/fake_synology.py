"""A fake Synology Chat: a real HTTP(S) server on 127.0.0.1 that answers
/webapi/entry.cgi?api=SYNO.Chat.External like DSM does (shared/reference/synology-chat.md):
HTTP 200 with {"success": false, "error": {"code": …}} for errors, 404 for a wrong token,
407 for a payload that is not form-encoded JSON, 410 above 2000 characters, 411 for posts
closer than 0.5 s, 800 without recipients.

It can also fail as a NAS does: go_down() closes its port (connections are refused, open ones
cut) until come_back() opens the same port again, down_for() does both, and hang_posts_to()
holds the next post to one person for a while before handling it."""

from __future__ import annotations

import dataclasses
import json
import socket
import ssl
import subprocess
import threading
import time
import urllib.request
from collections import deque
from contextlib import suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fake_http import FakeHandler, FakeServer

MAX_CHARS = 2000


@dataclasses.dataclass
class Post:
    method: str
    user_ids: list[int]
    text: str
    at: float
    file: bytes | None = None  # what Chat downloaded from the post's file_url
    file_url: str = ""


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, as a NAS has out of the box."""
    cert, key = folder / "nas.crt", folder / "nas.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


class _ChatServer(FakeServer):
    """FakeServer on a given port (to come back where it was), keeping track of its open
    connections so that going down can cut them as a rebooting NAS does."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], port: int = 0) -> None:
        ThreadingHTTPServer.__init__(self, ("127.0.0.1", port), handler)
        self._thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._open: set[Any] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def cut(self) -> None:
        with self._open_lock:
            connections = list(self._open)
        for connection in connections:
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class FakeChat:
    def __init__(
        self,
        bot_token: str = "B" * 64,
        *,
        min_interval: float = 0.5,
        certificate: tuple[Path, Path] | None = None,
    ) -> None:
        self.bot_token = bot_token
        self.incoming_tokens: set[str] = set()
        self.min_interval = min_interval
        self.posts: list[Post] = []
        self.errors: list[int] = []  # error codes answered, in order
        self.script: deque[dict[str, Any]] = deque()  # forced behaviours for the next posts
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()
        self.hangs: dict[int, float] = {}  # user id: seconds to hold the next post to them
        self.attempts = 0  # POSTs that reached the handler
        self._context: ssl.SSLContext | None = None
        self.scheme = "http"
        if certificate:
            self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._context.load_cert_chain(str(certificate[0]), str(certificate[1]))
            self.scheme = "https"
        self._server = self._serve(0)
        self._port = self._server.port
        self._down = False

    def _serve(self, port: int) -> _ChatServer:
        server = _ChatServer(self._handler(), port)
        if self._context:
            server.socket = self._context.wrap_socket(server.socket, server_side=True)
        return server

    def start(self) -> FakeChat:
        self._server.begin()
        return self

    def stop(self) -> None:
        if not self._down:
            self._down = True
            self._server.end()
            self._server.cut()

    def go_down(self) -> None:
        """Close the port, as a NAS that reboots: new connections are refused, open ones cut."""
        self.stop()

    def come_back(self) -> None:
        """Listen again on the same port, so the URLs handed out before work again."""
        if self._down:
            self._server = self._serve(self._port)
            self._down = False
            self._server.begin()

    def down_for(self, seconds: float) -> threading.Thread:
        """Go down now and come back after `seconds`, in the background."""
        self.go_down()
        timer = threading.Timer(seconds, self.come_back)
        timer.daemon = True
        timer.start()
        return timer

    def hang_posts_to(self, user_id: int, seconds: float) -> None:
        """Hold the next post to user_id for `seconds` before handling it (a hung NAS). Like
        Chat, the post is still made after that, even when the sender gave up waiting."""
        with self._lock:
            self.hangs[user_id] = seconds

    def url(self, method: str = "chatbot", token: str | None = None) -> str:
        """The URL as Chat shows it: the token wrapped in %22 quotes."""
        token = self.bot_token if token is None else token
        port = self._port
        return (
            f"{self.scheme}://127.0.0.1:{port}/webapi/entry.cgi?api=SYNO.Chat.External"
            f"&method={method}&version=2&token=%22{token}%22"
        )

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Post]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.posts) >= count:
                    return list(self.posts)
            time.sleep(0.02)
        raise AssertionError(f"expected {count} posts, got {len(self.posts)}: {self.posts}")

    def channel_url(self, token: str) -> str:
        """A channel's incoming-webhook URL, the token registered as Chat would."""
        self.incoming_tokens.add(token)
        return self.url("incoming", token)

    def texts(self) -> list[str]:
        with self._lock:
            return [p.text for p in self.posts]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(FakeHandler):
            def _answer(self, body: dict[str, Any], status: int = 200) -> None:
                error = body.get("error")
                if isinstance(error, dict):
                    fake.errors.append(int(error["code"]))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _error(self, code: int, errors: Any = None) -> None:
                self._answer({"success": False, "error": {"code": code, "errors": errors}})

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                fake.attempts += 1
                forced = fake.script.popleft() if fake.script else None
                if forced and "sleep" in forced:
                    time.sleep(forced["sleep"])
                if forced and "http" in forced:
                    self._answer({"html": "Bad gateway"}, status=forced["http"])
                    return
                if parts.path != "/webapi/entry.cgi" or query.get("api") != "SYNO.Chat.External":
                    self._error(102)
                    return
                method = query.get("method", "")
                if method not in ("chatbot", "incoming"):
                    self._error(103)
                    return
                token = query.get("token", "").strip('"')
                known = fake.incoming_tokens if method == "incoming" else {fake.bot_token}
                if token not in known:
                    self._error(404, "invalid token")
                    return
                payload = self._payload(raw)
                if payload is None:
                    self._error(407, "payload: not a json object")
                    return
                if forced and "code" in forced:
                    self._error(forced["code"])
                    return
                self._post(method, token, payload)

            def _payload(self, raw: bytes) -> dict[str, Any] | None:
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    text = raw.decode("utf-8", "replace")
                else:
                    # Chat form-decodes the body; a raw JSON with & or + in it falls apart here.
                    fields = parse_qs(raw.decode("utf-8", "replace"))
                    text = fields.get("payload", [""])[0]
                try:
                    value = json.loads(text)
                except ValueError:
                    return None
                return value if isinstance(value, dict) else None

            def _post(self, method: str, token: str, payload: dict[str, Any]) -> None:
                user_ids = payload.get("user_ids") or []
                wanted = [u for u in user_ids if isinstance(u, int)] if isinstance(user_ids, list) else []
                with fake._lock:
                    hang = next((fake.hangs.pop(u) for u in wanted if u in fake.hangs), 0.0)
                if hang:
                    time.sleep(hang)
                text = payload.get("text")
                if not isinstance(text, str) or not text:
                    self._error(101, "payload is empty")
                    return
                if len(text) > MAX_CHARS:
                    self._error(410, "msg too long")
                    return
                if method == "chatbot" and (
                    not isinstance(user_ids, list)
                    or not user_ids
                    or not all(isinstance(u, int) for u in user_ids)
                ):
                    self._error(800, "no target")
                    return
                file_url = payload.get("file_url")
                file = None
                if isinstance(file_url, str) and file_url:
                    # The NAS downloads the file itself; one it cannot fetch is error 117.
                    try:
                        with urllib.request.urlopen(file_url, timeout=5) as answer:
                            file = answer.read()
                    except (OSError, ValueError):
                        self._error(117, None)
                        return
                now = time.monotonic()
                with fake._lock:
                    if now - fake._last.get(token, -1e9) < fake.min_interval:
                        too_fast = True
                    else:
                        too_fast = False
                        fake._last[token] = now
                        fake.posts.append(Post(method, list(user_ids), text, now, file, file_url or ""))
                if too_fast:
                    self._error(411, "create post too fast")
                    return
                if method == "chatbot":
                    self._answer(
                        {
                            "success": True,
                            "data": {
                                "fail": [],
                                "succ": {
                                    "user_id_post_map": {str(u): 1000 + len(fake.posts) for u in user_ids}
                                },
                            },
                        }
                    )
                else:
                    self._answer({"success": True})

        return Handler
