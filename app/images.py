"""Drawing a picture: `/v1/images/generations` through the openai SDK (the model server's own
SDK, loaded as late as llm.py loads it), on the chat model's server unless image_base_url says
otherwise, so a local LocalAI or stable-diffusion.cpp server works too.

An image is billed per call, so the SDK never retries: the queue decides (bot.py). The answer
may carry the picture as base64 (OpenAI's GPT image models, sd-server) or as a URL to fetch
(LocalAI); either way only the bytes of a real PNG, JPEG, WebP or GIF leave this module, never
SVG or HTML, at most MAX_BYTES of them. Facts: shared/reference/platforms.md §3.1."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import logging
from typing import Any

from app.llm import NO_KEY, _message, _sdk

log = logging.getLogger(__name__)

TIMEOUT = 600.0  # seconds: a diffusion model on a NAS CPU takes minutes
MAX_BYTES = 20 * 1024 * 1024  # a picture bigger than this is not a picture we want to pass on
MAX_READ = 10 * 1024 * 1024  # bytes of one picture someone sends for the model to read
MAX_PROMPT = 4000  # characters; OpenAI's limit for the GPT image models is far above a chat message
REFUSED_CODES = frozenset({"content_policy_violation", "moderation_blocked"})


@dataclasses.dataclass(frozen=True)
class ImageConfig:
    base_url: str
    api_key: str
    model: str
    size: str
    quality: str
    proxy: str = ""
    timeout: float = TIMEOUT


@dataclasses.dataclass(frozen=True)
class Picture:
    content: bytes
    mime: str  # image/png, image/jpeg, image/webp or image/gif: from the bytes, not the server

    @property
    def extension(self) -> str:
        return {"image/jpeg": "jpg"}.get(self.mime, self.mime.partition("/")[2])


class ImageError(Exception):
    """kind: refused (the prompt broke the server's policy), no_model (the model or the
    endpoint does not exist there), auth, rate_limit, quota, timeout, unreachable, server,
    bad_request, bad_answer. transient: worth trying again later."""

    TRANSIENT = frozenset({"rate_limit", "timeout", "unreachable", "server"})

    def __init__(self, kind: str, detail: str = "", status: int | None = None) -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind, self.detail, self.status = kind, detail, status

    @property
    def transient(self) -> bool:
        return self.kind in self.TRANSIENT


def mime_of(content: bytes) -> str:
    """The picture's type from its first bytes, or "" when it is not one we pass on."""
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    if content[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return ""


def draw(config: ImageConfig, prompt: str) -> Picture:
    """One picture for the prompt; ImageError says why not."""
    sdk = _sdk()
    import httpx2  # noqa: PLC0415 (comes with the SDK)

    timeout = httpx2.Timeout(connect=10.0, read=config.timeout, write=30.0, pool=10.0)
    client = sdk.OpenAI(
        api_key=config.api_key or NO_KEY,
        base_url=config.base_url,
        max_retries=0,  # billed per call: the queue decides about another try
        timeout=timeout,
        http_client=sdk.DefaultHttpx2Client(proxy=config.proxy or None),
    )
    try:
        answer = client.images.generate(
            model=config.model, prompt=prompt, size=config.size, quality=config.quality, n=1
        )
        return _picture(answer, client)
    except sdk.APIError as exc:
        raise _translate(exc) from None
    finally:
        client.close()


def _picture(answer: Any, client: Any) -> Picture:
    data = getattr(answer, "data", None) or []
    if not data:
        raise ImageError("bad_answer", "the server's answer holds no picture")
    first = data[0]
    encoded, url = getattr(first, "b64_json", None), getattr(first, "url", None)
    if encoded:
        if len(encoded) > MAX_BYTES * 4 // 3 + 4:
            raise ImageError("bad_answer", "the picture is too big")
        try:
            content = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise ImageError("bad_answer", "the picture is not valid base64") from None
    elif isinstance(url, str) and url.startswith(("http://", "https://")):
        content = _fetch(client, url)
    else:
        raise ImageError("bad_answer", "the server's answer holds no picture")
    mime = mime_of(content)
    if not mime:
        raise ImageError("bad_answer", "what the server sent is not a PNG, JPEG, WebP or GIF picture")
    return Picture(content, mime)


def _fetch(client: Any, url: str) -> bytes:
    """A picture the server left at a URL (LocalAI), through the SDK's own HTTP client, so the
    proxy setting applies; read no further than MAX_BYTES."""
    import httpx2  # noqa: PLC0415

    try:
        with client._client.stream("GET", url, timeout=httpx2.Timeout(60.0)) as response:
            if response.status_code != 200:
                raise ImageError("bad_answer", f"the picture's URL answered HTTP {response.status_code}")
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_BYTES:
                    raise ImageError("bad_answer", "the picture is too big")
                chunks.append(chunk)
            return b"".join(chunks)
    except httpx2.TimeoutException:
        raise ImageError("timeout", "fetching the picture") from None
    except httpx2.HTTPError as exc:
        raise ImageError("unreachable", f"fetching the picture ({type(exc).__name__})") from None


def _translate(exc: Any) -> ImageError:
    sdk = _sdk()
    if isinstance(exc, sdk.APITimeoutError):
        return ImageError("timeout")
    if isinstance(exc, sdk.APIConnectionError):
        return ImageError("unreachable", type(exc.__cause__).__name__ if exc.__cause__ else "")
    if not isinstance(exc, sdk.APIStatusError):
        return ImageError("bad_answer", "unexpected answer")
    status, message = exc.status_code, _message(exc)
    code = str(getattr(exc, "code", "") or "")
    if code in REFUSED_CODES or (status == 400 and "safety system" in message.lower()):
        return ImageError("refused", message, status)
    if status == 404 or code == "model_not_found":
        return ImageError("no_model", message, status)
    if status in (401, 403):
        return ImageError("auth", message, status)
    if status == 429:
        kind = "quota" if code == "insufficient_quota" or "quota" in message.lower() else "rate_limit"
        return ImageError(kind, message, status)
    if status >= 500:
        return ImageError("server", message, status)
    return ImageError("bad_request", message, status)
