"""A fake OpenAI-compatible server: a real HTTP server on 127.0.0.1 that answers
/v1/chat/completions (streamed as server-sent events or not) and /v1/models the way OpenAI,
Ollama and llama.cpp do, including their error bodies, Retry-After and context-length errors.
It can also drip an answer slowly (chunk_delay), stream a huge one made on the fly (pieces), and
refuse the max_tokens parameter as OpenAI's newer models or stricter servers do.

It also plays an image server (POST /v1/images/generations, answering base64 like OpenAI's GPT
image models or a URL like LocalAI) and a vision model (chat messages whose content is a list of
text and image_url parts), with the errors each gives: a content-policy refusal, a retired or
unknown model, a route the server does not have, an image sent to a text-only model, a malformed
data URL. Where each error body comes from is said next to it; [unverified] marks a guess."""

from __future__ import annotations

import base64
import binascii
import json
import re
import struct
import threading
import time
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from tests.fake_http import FakeHandler, FakeServer

REFUSE_LIKE_OPENAI = "openai"  # max_tokens refused, max_completion_tokens asked for (o1, gpt-5)
REFUSE_ANY_LIMIT = "any"  # both refused, as a server that knows neither parameter


def drip(answer: str, size: int = 6) -> Callable[[list[dict[str, str]]], Iterator[str]]:
    """For FakeOpenAI.pieces: a given answer in small pieces, as a slow model writes it (with
    chunk_delay between them)."""

    def pieces(messages: list[dict[str, str]]) -> Iterator[str]:
        for start in range(0, len(answer), size):
            yield answer[start : start + size]

    return pieces


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


# ---- images: a real PNG, and what an image server or a vision model answers ----

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width: int = 8, height: int = 8, rgb: tuple[int, int, int] = (200, 30, 30), pad: int = 0) -> bytes:
    """A real, valid PNG of one colour, made with zlib and struct so the tests need no Pillow.
    `pad` > 0 adds a private ancillary chunk of that many bytes (12 more with its header), which
    every decoder skips: a big file that is still a good image, to exercise size caps."""
    if width < 1 or height < 1:
        raise ValueError("a PNG is at least 1x1")
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    rows = (b"\x00" + bytes(rgb) * width) * height  # each scanline starts with filter type 0
    chunks = [_png_chunk(b"IHDR", header)]
    if pad > 0:
        # "paDd": lower-case first letter = ancillary (safe to ignore), second = private,
        # third upper-case as the spec reserves, fourth lower-case = safe to copy.
        chunks.append(_png_chunk(b"paDd", b"\x00" * pad))
    chunks += [_png_chunk(b"IDAT", zlib.compress(rows, 9)), _png_chunk(b"IEND", b"")]
    return PNG_MAGIC + b"".join(chunks)


# The image models the fake knows by default. dall-e-2 and dall-e-3 are left out on purpose: OpenAI
# shut them down on 2026-05-12 and they now answer model_not_found (platforms.md §3.1).
IMAGE_MODELS = frozenset({"gpt-image-1-mini", "gpt-image-1", "gpt-image-1.5", "gpt-image-2", "sd-local"})

# Output tokens per image by quality and size, from OpenAI's image-generation guide ("Cost and
# latency", models before gpt-image-2); other sizes count as square. Only the usage numbers use it.
_OUTPUT_TOKENS = {
    "low": {"1024x1024": 272, "1024x1536": 408, "1536x1024": 400},
    "medium": {"1024x1024": 1056, "1024x1536": 1584, "1536x1024": 1568},
    "high": {"1024x1024": 4160, "1024x1536": 6240, "1536x1024": 6208},
}

# A prompt with this word (any case) is refused as DALL-E's safety system did: HTTP 400, code
# content_policy_violation, type invalid_request_error. Body as captured in LiteLLM's
# ContentPolicyViolationError comment (BerriAI/litellm exceptions.py) and a bot README quoting
# openai-python's BadRequestError; the message is also quoted in mishl-dev/Discord-AI-Chatbot#160
# and RanFeng/clipsketch-ai#6 ("OpenAI Image Error: 400 - Your request was rejected ...").
FORBIDDEN_WORD = "forbidden"
CONTENT_POLICY_VIOLATION: dict[str, Any] = {
    "error": {
        "code": "content_policy_violation",
        "message": "Your request was rejected as a result of our safety system. Your prompt may "
        "contain text that is not allowed by our safety system.",
        "param": None,
        "type": "invalid_request_error",
    }
}

# A prompt with this word (any case) is refused as the GPT image models do: HTTP 400, type
# image_generation_user_error, code moderation_blocked, with optional moderation_details.
# Shape from OpenAI's image-generation guide ("Handling blocked requests and other errors"); the
# message and the "safety_violations=[...]" tail as relayed in jeffstric/ZJT#480 (gpt-image-2, 400)
# and ucx0204/CarrotMangaTranslator#122. The request id in the message is made up.
MODERATE_WORD = "moderate"
MODERATION_BLOCKED: dict[str, Any] = {
    "error": {
        "message": "Your request was rejected by the safety system. If you believe this is an error, "
        "contact us at help.openai.com and include the request ID req_fake0123456789. "
        "safety_violations=[violence].",
        "type": "image_generation_user_error",
        "param": None,
        "code": "moderation_blocked",
        "moderation_details": {"moderation_stage": "input", "categories": ["violence"]},
    }
}

# What a server without the images route answers (images_endpoint = False). This is vLLM's, which
# is FastAPI: an unknown route gets Starlette's 404 {"detail":"Not Found"}. Others differ and can be
# played with image_script: llama.cpp's server answers 404
# {"error":{"code":404,"message":"File Not Found","type":"not_found_error"}} (its set_error_handler
# in tools/server/server.cpp); Ollama (gin) answers a text/plain "404 page not found" [unverified];
# OpenAI itself answers 404 "Invalid URL (POST /v1/...)" (what this fake says for other paths).
NO_ROUTE: dict[str, Any] = {"detail": "Not Found"}

# A chat request with an image part to a model without vision, as OpenAI answers it (gpt-3.5):
# HTTP 400, code null, param "messages.[i].content.[j].type" (sic, with the dots). Quoted whole in
# vllm-project/vllm#11629 and in browser-use/web-ui#274 (Azure OpenAI, same body).
NO_VISION_MESSAGE = "Invalid content type. image_url is only supported by certain models."

# The same mistake on other servers, for tests to play with fail_next(status, body):
# llama.cpp's server started without --mmproj answers HTTP 500 with this body: the parser throws
# std::runtime_error (tools/server/server-common.cpp, "if (!opt.allow_image)"), which the server maps
# to 500 server_error; the body is quoted whole in claraverse-space/ClaraVerse#234, and the 500 in
# llamastash/llamastash#13. (Older builds may differ.)
LLAMACPP_NO_MMPROJ: dict[str, Any] = {
    "error": {
        "code": 500,
        "message": "image input is not supported - hint: if this is unexpected, you may need to "
        "provide the mmproj",
        "type": "server_error",
    }
}
# Ollama: HTTP 400 "this model does not support image input" (ollama/ollama#17301, seen through its
# Anthropic-compatible route); the OpenAI-style wrapping here is [unverified].
OLLAMA_NO_VISION: dict[str, Any] = {
    "error": {
        "message": "this model does not support image input",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
}

IMAGE_TOKENS = 85  # what one image part costs in the usage and context counts (OpenAI's low detail)
_IMAGE_SIGNATURES = (PNG_MAGIC, b"\xff\xd8\xff", b"GIF87a", b"GIF89a")  # and RIFF....WEBP, below
_DATA_URL = re.compile(r"data:([^;,]*)((?:;[^;,]*)*),(.*)", re.DOTALL)


def _is_image(data: bytes) -> bool:
    return data.startswith(_IMAGE_SIGNATURES) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")


def _image_url_of(part: dict[str, Any]) -> Any:
    """The URL an image_url part carries; some clients send the string itself instead of
    {"url": ...}, so that is returned as it is for the checks to judge."""
    value = part.get("image_url")
    return value.get("url") if isinstance(value, dict) else value


def _parts(content: Any) -> list[dict[str, Any]]:
    return [p for p in content if isinstance(p, dict)] if isinstance(content, list) else []


def image_urls(messages: list[dict[str, Any]]) -> list[str]:
    """The URLs (data: or not) of every image part in these messages, in order."""
    return [
        url
        for m in messages
        for p in _parts(m.get("content"))
        if p.get("type") == "image_url" and isinstance(url := _image_url_of(p), str)
    ]


def prompt_chars(content: Any) -> int:
    """A message's size in characters for the token estimates (4 characters a token): its text, and
    IMAGE_TOKENS * 4 for each image part, so a list content counts instead of crashing."""
    if isinstance(content, str):
        return len(content)
    chars = 0
    for part in _parts(content):
        if part.get("type") == "text":
            chars += len(str(part.get("text") or ""))
        elif part.get("type") == "image_url":
            chars += IMAGE_TOKENS * 4
    return chars


def answer(messages: list[dict[str, Any]]) -> str:
    """The default reply: "Answer to: <the last message>". For a list content (vision), its text
    parts joined with a space and "[saw N image(s)]", so a test sees the images arrived."""
    content = messages[-1]["content"]
    if not isinstance(content, list):
        return f"Answer to: {content}"
    parts = _parts(content)
    texts = [str(p.get("text") or "") for p in parts if p.get("type") == "text"]
    seen = sum(1 for p in parts if p.get("type") == "image_url")
    return f"Answer to: {' '.join([*texts, f'[saw {seen} image(s)]'])}"


def _bad_image_url(url: Any, where: str) -> dict[str, Any] | None:
    """OpenAI's 400 body for an image URL it would refuse, or None for a good one. A data: URL must
    be data:image/<type>;base64,<valid base64 of a png/jpeg/gif/webp>; http(s) URLs are taken
    as they are (the fake does not fetch them)."""
    if isinstance(url, str) and url.startswith(("http://", "https://")):
        return None
    # Wording of the invalid_value errors: "Expected a valid URL, but got a value with an invalid
    # format." is quoted in openai/openai-python#1483 (param "messages[0].content[1].image_url.url");
    # "Expected a base64-encoded data URL with an image MIME type (e.g. ...), but got an invalid
    # base64-encoded value." / "... but got unsupported MIME type 'application/pdf'." / "... but got
    # empty base64-encoded bytes." are quoted from the Responses API and Azure's chat completions in
    # several projects (e.g. the Azure one: "Invalid image URL: 'messages[1].content[0].image_url.url'.
    # Expected ..."). The "Invalid '<param>'." prefix on chat completions and the ';base64'
    # separator wording (from a gateway that copies OpenAI's) are [unverified].
    expected = (
        f"Invalid '{where}'. Expected a base64-encoded data URL with an image MIME type "
        "(e.g. 'data:image/png;base64,aW1nIGJ5dGVzIGhlcmU='), but got"
    )
    match = _DATA_URL.fullmatch(url) if isinstance(url, str) else None
    problem = ""
    if match is None:
        problem = f"Invalid '{where}'. Expected a valid URL, but got a value with an invalid format."
    elif not match.group(1).startswith("image/"):
        problem = f"{expected} unsupported MIME type '{match.group(1)}'."
    elif "base64" not in match.group(2).split(";"):
        problem = f"{expected} a value without the ';base64' separator."
    elif not match.group(3):
        problem = f"{expected} empty base64-encoded bytes."
    else:
        try:
            data = base64.b64decode(match.group(3), validate=True)
        except (binascii.Error, ValueError):
            problem = f"{expected} an invalid base64-encoded value."
        else:
            if not _is_image(data):
                # Good base64 of something that is no image: quoted in CosmosShadow/gptpdf#6 and
                # others, code invalid_image_format (once sanitizer_server_error), param null.
                return openai_error(
                    "You uploaded an unsupported image. Please make sure your image has of one the "
                    "following formats: ['png', 'jpeg', 'gif', 'webp'].",
                    code="invalid_image_format",
                )
    if not problem:
        return None
    error = openai_error(problem, code="invalid_value")
    error["error"]["param"] = where
    return error


class FakeOpenAI:
    def __init__(self, api_key: str | None = "sk-test-key-0123456789abcdef") -> None:
        self.api_key = api_key
        self.models = ["fake-model", "fake-small"]  # what GET /v1/models lists, and what answers
        self.models_route = True  # False: GET /v1/models is a 404, as on servers that list none
        # "Answer to: <last message>"; for a vision message "Answer to: <text> [saw N image(s)]".
        self.reply: Callable[[list[dict[str, str]]], str] = answer
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
        # Vision: False plays a text-only model, which refuses any image part with OpenAI's 400.
        self.vision = True
        # Images (POST /v1/images/generations).
        self.image_mode = "b64"  # "b64": data[].b64_json as OpenAI's GPT image models; "url": LocalAI's
        self.image_delay = 0.0  # seconds before an image answer: a slow CPU diffusion model
        self.image_models: set[str] = set(IMAGE_MODELS)  # others answer 404 model_not_found
        self.images_endpoint = True  # False: a server without the route (404 NO_ROUTE)
        # Forced answers for the next image requests, before anything else is judged:
        # {"status": int, "body": dict, "headers"?: dict} a JSON answer; {"raw": bytes,
        # "content_type": str, "status"?: int (200)} anything at all; {"hang": seconds} a wait,
        # then the normal answer.
        self.image_script: deque[dict[str, Any]] = deque()
        self.image_size_bytes: int | None = None  # set: the PNG is padded to about this size
        self.image_files: dict[str, bytes] = {}  # what url mode serves, by name (img-1.png, ...)
        self._image_count = 0
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

    def image_requests(self) -> list[dict[str, Any]]:
        """The JSON bodies of the image requests so far (rejected ones too), in order."""
        return [r["json"] for r in self.requests if r["path"].endswith("/images/generations")]

    def image_parts(self) -> list[list[str]]:
        """Per chat request, the URLs (data: or not) of its image parts; [] for one with none."""
        return [image_urls(r.get("messages") or []) for r in self.chat_requests()]

    def image_png(self) -> bytes:
        """The PNG an image answer carries now (padded to image_size_bytes when that is set)."""
        plain = png()
        if self.image_size_bytes is None:
            return plain
        return png(pad=max(0, self.image_size_bytes - len(plain) - 12))  # 12: the chunk's header

    def token_limits(self) -> list[dict[str, Any]]:
        """Per chat request, the token-limit parameters it carried ({} for none)."""
        names = ("max_tokens", "max_completion_tokens")
        return [{n: r[n] for n in names if n in r} for r in self.chat_requests()]

    def _image_refusal(self, messages: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The 400 body for the first image part this model refuses: any, without vision; else a
        malformed one."""
        for i, message in enumerate(messages):
            for j, part in enumerate(_parts(message.get("content"))):
                if part.get("type") != "image_url":
                    continue
                if not self.vision:
                    error = openai_error(NO_VISION_MESSAGE)
                    error["error"]["param"] = f"messages.[{i}].content.[{j}].type"
                    return error
                if not isinstance(part.get("image_url"), dict):
                    # {"image_url": "data:..."} instead of {"image_url": {"url": ...}}; OpenAI's
                    # usual type error wording, [unverified] for this field.
                    error = openai_error(
                        f"Invalid type for 'messages[{i}].content[{j}].image_url': expected an object, "
                        "but got a string instead.",
                        code="invalid_type",
                    )
                    error["error"]["param"] = f"messages[{i}].content[{j}].image_url"
                    return error
                bad = _bad_image_url(_image_url_of(part), f"messages[{i}].content[{j}].image_url.url")
                if bad is not None:
                    return bad
        return None

    def _image_answer(self, body: dict[str, Any]) -> dict[str, Any]:
        """The 200 body for an image request: base64 with usage as OpenAI's GPT image models
        answer (revised_prompt added as DALL-E 3 did), or URLs to this server as LocalAI does."""
        try:
            count = max(1, int(body.get("n") or 1))
        except (TypeError, ValueError):
            count = 1
        image = self.image_png()
        created = int(time.time())
        if self.image_mode == "url":
            urls = []
            for _ in range(count):
                with self._lock:
                    self._image_count += 1
                    name = f"img-{self._image_count}.png"
                    self.image_files[name] = image
                urls.append({"url": f"{self.url}/files/{name}"})
            return {"created": created, "data": urls}
        prompt = str(body.get("prompt") or "")
        text_tokens = len(prompt) // 4 + 1
        per_image = _OUTPUT_TOKENS.get(str(body.get("quality")), _OUTPUT_TOKENS["medium"])
        output_tokens = per_image.get(str(body.get("size")), per_image["1024x1024"]) * count
        encoded = base64.b64encode(image).decode()
        return {
            "created": created,
            "data": [{"b64_json": encoded, "revised_prompt": prompt} for _ in range(count)],
            "usage": {
                "input_tokens": text_tokens,
                "input_tokens_details": {"text_tokens": text_tokens, "image_tokens": 0},
                "output_tokens": output_tokens,
                "total_tokens": text_tokens + output_tokens,
            },
        }

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

            def _send_raw(self, status: int, content_type: str, data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
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
                path = urlsplit(self.path).path
                if path.startswith(("/v1/files/", "/files/")):
                    # An image url mode handed out. No key asked: LocalAI serves its generated
                    # images as static files, and OpenAI's image URLs were pre-signed.
                    image = fake.image_files.get(path.rsplit("/", 1)[1])
                    if image is None:
                        self._send(404, openai_error(f"No such file: {path}"))
                    else:
                        self._send_raw(200, "image/png", image)
                    return
                if not self._authorised():
                    return
                if path == "/v1/models" and fake.models_route:
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
                    if urlsplit(self.path).path == "/v1/images/generations":
                        self._images(body)
                    else:
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
                refused = fake._image_refusal(messages)
                if refused is not None:
                    self._send(400, refused)
                    return
                chars = sum(prompt_chars(m.get("content")) for m in messages)
                if fake.context_limit is not None and chars / 4 > fake.context_limit:
                    self._send(
                        400,
                        openai_error(
                            f"This model's maximum context length is {fake.context_limit} tokens. "
                            f"However, your messages resulted in {chars // 4} tokens. "
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
                usage = {"prompt_tokens": chars // 4 + 1, "completion_tokens": len(text) // 4 + 1}
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

            def _images(self, body: dict[str, Any]) -> None:
                if not fake.images_endpoint:
                    self._send(404, NO_ROUTE)
                    return
                if not self._authorised():
                    return
                forced = fake.image_script.popleft() if fake.image_script else None
                if forced and "hang" in forced:
                    time.sleep(forced["hang"])
                    forced = None
                if forced and "raw" in forced:  # anything: an HTML error page, a 200 that is no image
                    self._send_raw(forced.get("status", 200), forced["content_type"], forced["raw"])
                    return
                if forced:
                    self._send(forced["status"], forced["body"], forced.get("headers"))
                    return
                if fake.image_delay:
                    time.sleep(fake.image_delay)
                # OpenAI documents dall-e-2 as the default model, now shut down [unverified for an
                # omitted model]. The 404 body is OpenAI's usual model_not_found, as for chat
                # (quoted in abi/screenshot-to-code#332, and for an image tool's call in
                # jdmnk/codex-imagegen-cli#18); [unverified] on /images/generations itself.
                model = body.get("model", "dall-e-2")
                if not isinstance(model, str) or model not in fake.image_models:
                    self._send(
                        404,
                        openai_error(
                            f"The model `{model}` does not exist or you do not have access to it.",
                            code="model_not_found",
                        ),
                    )
                    return
                prompt = str(body.get("prompt") or "").lower()
                if FORBIDDEN_WORD in prompt:
                    self._send(400, CONTENT_POLICY_VIOLATION)
                    return
                if MODERATE_WORD in prompt:
                    self._send(400, MODERATION_BLOCKED)
                    return
                self._send(200, fake._image_answer(body))

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
