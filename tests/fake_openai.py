"""A fake OpenAI-compatible server: a real HTTP server on 127.0.0.1 that answers
/v1/chat/completions (streamed as server-sent events or not) and /v1/models the way OpenAI,
Ollama and llama.cpp do, including their error bodies, Retry-After and context-length errors.
It can also drip an answer slowly (chunk_delay), stream a huge one made on the fly (pieces), and
refuse the max_tokens parameter as OpenAI's newer models or stricter servers do."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from tests.fake_http import FakeHandler, FakeServer

REFUSE_LIKE_OPENAI = "openai"  # max_tokens refused, max_completion_tokens asked for (o1, gpt-5)
REFUSE_ANY_LIMIT = "any"  # both refused, as a server that knows neither parameter


def generated(
    total: int, size: int = 4096, fill: str = "x"
) -> Callable[[list[dict[str, str]]], Iterator[str]]:
    """For FakeOpenAI.pieces: an answer of `total` characters in pieces of `size`, made as it is
    sent, so a 256 MB answer costs the fake no memory."""

    def pieces(messages: list[dict[str, str]]) -> Iterator[str]:
        piece = fill * size
        for start in range(0, total, size):
            yield piece[: min(size, total - start)]

    return pieces


def openai_error(
    message: str, kind: str = "invalid_request_error", code: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


class FakeOpenAI:
    def __init__(self, api_key: str | None = "sk-test-key-0123456789abcdef") -> None:
        self.api_key = api_key
        self.models = ["fake-model", "fake-small"]
        self.reply: Callable[[list[dict[str, str]]], str] = lambda messages: (
            f"Answer to: {messages[-1]['content']}"
        )
        self.delay = 0.0  # seconds before the answer starts
        self.chunk_delay = 0.0  # seconds between streamed pieces, to watch an answer arrive
        self.disconnects = 0  # streams the client closed before the end
        self.context_limit: int | None = None  # prompt characters / 4 above this → 400 context error
        self.usage = True  # report token usage like OpenAI; Ollama-like servers may not
        self.script: deque[dict[str, Any]] = deque()  # forced behaviours for the next requests
        # Set, the answer is these pieces (sent as they are made) instead of reply's text.
        self.pieces: Callable[[list[dict[str, str]]], Iterator[str]] | None = None
        self.refuse_limit = ""  # REFUSE_LIKE_OPENAI or REFUSE_ANY_LIMIT: a 400 for a token limit
        self.sent_chars = 0  # answer characters written to clients, in all
        self.requests: list[dict[str, Any]] = []
        self.active = 0
        self.max_active = 0
        self._lock = threading.Lock()
        self._server = FakeServer(self._handler())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.port}/v1"

    def start(self) -> FakeOpenAI:
        self._server.begin()
        return self

    def stop(self) -> None:
        self._server.end()

    def fail_next(
        self,
        status: int,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        times: int = 1,
    ) -> None:
        for _ in range(times):
            self.script.append(
                {"status": status, "body": body or openai_error(f"error {status}"), "headers": headers or {}}
            )

    def hang_next(self, seconds: float, times: int = 1) -> None:
        for _ in range(times):
            self.script.append({"hang": seconds})

    def chat_requests(self) -> list[dict[str, Any]]:
        return [r["json"] for r in self.requests if r["path"].endswith("/chat/completions")]

    def token_limits(self) -> list[dict[str, Any]]:
        """Per chat request, the token-limit parameters it carried ({} for none)."""
        names = ("max_tokens", "max_completion_tokens")
        return [{n: r[n] for n in names if n in r} for r in self.chat_requests()]

    def _refusal(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """The 400 body for a token limit this fake is told to refuse, in the server's words."""
        if self.refuse_limit == REFUSE_LIKE_OPENAI and "max_tokens" in body:
            error = openai_error(
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead.",
                code="unsupported_parameter",
            )
            error["error"]["param"] = "max_tokens"
            return error
        if self.refuse_limit == REFUSE_ANY_LIMIT:
            for name in ("max_tokens", "max_completion_tokens"):
                if name in body:
                    return openai_error(f"Unrecognized request argument supplied: {name}")
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(FakeHandler):
            def _send(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _authorised(self) -> bool:
                if fake.api_key is None:
                    return True
                given = self.headers.get("Authorization", "")
                if given == f"Bearer {fake.api_key}":
                    return True
                shown = given[-4:] if len(given) > 11 else "****"
                self._send(
                    401, openai_error(f"Incorrect API key provided: sk-...{shown}.", code="invalid_api_key")
                )
                return False

            def do_GET(self) -> None:
                fake.requests.append(
                    {
                        "path": self.path,
                        "json": None,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                    }
                )
                if not self._authorised():
                    return
                if urlsplit(self.path).path == "/v1/models":
                    self._send(
                        200,
                        {
                            "object": "list",
                            "data": [
                                {"id": m, "object": "model", "created": 0, "owned_by": "fake"}
                                for m in fake.models
                            ],
                        },
                    )
                else:
                    self._send(404, openai_error("not found"))

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    self._send(400, openai_error("We could not parse the JSON body of your request."))
                    return
                fake.requests.append(
                    {
                        "path": self.path,
                        "json": body,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                    }
                )
                with fake._lock:
                    fake.active += 1
                    fake.max_active = max(fake.max_active, fake.active)
                try:
                    self._chat(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its timeout): as a real server would see it
                finally:
                    with fake._lock:
                        fake.active -= 1

            def _chat(self, body: dict[str, Any]) -> None:
                if urlsplit(self.path).path != "/v1/chat/completions":  # also for proxy requests
                    self._send(404, openai_error(f"Invalid URL (POST {self.path})"))
                    return
                if not self._authorised():
                    return
                forced = fake.script.popleft() if fake.script else None
                if forced and "hang" in forced:
                    time.sleep(forced["hang"])
                    forced = None
                if forced and "raw" in forced:  # a server that answers 200 with garbage
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Content-Length", str(len(forced["raw"])))
                    self.end_headers()
                    self.wfile.write(forced["raw"])
                    return
                if forced:
                    self._send(forced["status"], forced["body"], forced["headers"])
                    return
                refusal = fake._refusal(body)
                if refusal is not None:
                    self._send(400, refusal)
                    return
                if body.get("model") not in fake.models:
                    self._send(
                        404,
                        openai_error(
                            f"The model `{body.get('model')}` does not exist or you do not "
                            "have access to it.",
                            code="model_not_found",
                        ),
                    )
                    return
                messages = body.get("messages") or []
                prompt_chars = sum(len(m.get("content", "")) for m in messages)
                if fake.context_limit is not None and prompt_chars / 4 > fake.context_limit:
                    self._send(
                        400,
                        openai_error(
                            f"This model's maximum context length is {fake.context_limit} tokens. "
                            f"However, your messages resulted in {prompt_chars // 4} tokens. "
                            "Please reduce the length of the messages.",
                            code="context_length_exceeded",
                        ),
                    )
                    return
                if fake.delay:
                    time.sleep(fake.delay)
                if fake.pieces is not None and body.get("stream"):
                    self._stream_pieces(body, fake.pieces(messages))
                    return
                text = fake.reply(messages)
                usage = {"prompt_tokens": prompt_chars // 4 + 1, "completion_tokens": len(text) // 4 + 1}
                usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
                if body.get("stream"):
                    self._stream(body, text, usage)
                else:
                    self._send(
                        200,
                        {
                            "id": "chatcmpl-fake",
                            "object": "chat.completion",
                            "created": int(time.time()),
                            "model": body["model"],
                            "choices": [
                                {
                                    "index": 0,
                                    "finish_reason": "stop",
                                    "message": {"role": "assistant", "content": text},
                                }
                            ],
                            **({"usage": usage} if fake.usage else {}),
                        },
                    )

            def _stream(self, body: dict[str, Any], text: str, usage: dict[str, int]) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                base = {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": body["model"],
                }
                pieces = [text[i : i + 7] for i in range(0, len(text), 7)] or [""]
                events = [
                    {
                        **base,
                        "choices": [
                            {"index": 0, "delta": {"role": "assistant", "content": p}, "finish_reason": None}
                        ],
                    }
                    for p in pieces
                ]
                events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                include_usage = (body.get("stream_options") or {}).get("include_usage")
                if include_usage and fake.usage:
                    events.append({**base, "choices": [], "usage": usage})
                try:
                    for event in events:
                        self._chunk(f"data: {json.dumps(event)}\n\n".encode())
                        if fake.chunk_delay:
                            time.sleep(fake.chunk_delay)
                    self._chunk(b"data: [DONE]\n\n")
                    self._chunk(b"")
                except OSError:  # the client stopped reading: a stopped answer
                    with fake._lock:
                        fake.disconnects += 1

            def _stream_pieces(self, body: dict[str, Any], pieces: Iterator[str]) -> None:
                """Like _stream, for an answer made piece by piece while it is sent."""
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": body["model"]}
                try:
                    for piece in pieces:
                        delta = {"index": 0, "delta": {"content": piece}, "finish_reason": None}
                        self._chunk(f"data: {json.dumps({**base, 'choices': [delta]})}\n\n".encode())
                        with fake._lock:
                            fake.sent_chars += len(piece)
                        if fake.chunk_delay:
                            time.sleep(fake.chunk_delay)
                    end = {"index": 0, "delta": {}, "finish_reason": "stop"}
                    self._chunk(f"data: {json.dumps({**base, 'choices': [end]})}\n\n".encode())
                    self._chunk(b"data: [DONE]\n\n")
                    self._chunk(b"")
                except OSError:
                    with fake._lock:
                        fake.disconnects += 1

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

        return Handler
