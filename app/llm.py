"""Calls to the model server: the only module that uses the openai SDK.

Answers are streamed even though Chat cannot show them streaming: then the timeout bounds the
model's silence rather than the whole answer, so a slow local model that keeps producing tokens
is never cut off, while a hung one is noticed.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import openai

log = logging.getLogger(__name__)

NO_KEY = "no-key"  # the SDK insists on a key; local servers ignore it
_CONTEXT_ERRORS = re.compile(
    r"context[ _-]?length|context window|context size|maximum context|too many tokens|"
    r"prompt is too long|input is too long|exceeds? the (?:available )?context|reduce the length",
    re.IGNORECASE,
)
_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)


def _sdk() -> ModuleType:
    """The openai SDK, imported on first use: it costs about 40 MiB and 0.4 s, which a bot
    that is not configured yet, or only runs the echo model, never needs to pay."""
    first = "openai" not in sys.modules
    import openai  # noqa: PLC0415

    if first:
        # Its tens of thousands of long-lived objects would otherwise be scanned by every full
        # garbage collection, a pause that showed in the webhook's slowest answers.
        gc.freeze()
    return openai


class ModelError(Exception):
    """kind: auth, quota, not_found, rate_limit, timeout, unreachable, server, context,
    bad_request, bad_response. `attempts` is how many calls were made."""

    def __init__(
        self,
        kind: str,
        detail: str = "",
        *,
        status: int | None = None,
        retry_after: float | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind
        self.detail = detail
        self.status = status
        self.retry_after = retry_after
        self.attempts = attempts


class Stop(Protocol):
    """Anything with is_set(), such as a threading.Event: set, the answer ends where it is."""

    def is_set(self) -> bool: ...


OnText = Callable[[str], None]  # called with each piece of the answer as it arrives


@dataclasses.dataclass(frozen=True)
class Reply:
    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class Model(Protocol):
    def complete(
        self, messages: Sequence[dict[str, str]], on_text: OnText | None = None, stop: Stop | None = None
    ) -> Reply: ...


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    base_url: str
    api_key: str
    model: str
    temperature: float | None  # None: the server's default (some models accept no other)
    timeout: float
    max_retries: int
    proxy: str = ""


def is_configured(config: ModelConfig) -> bool:
    """False while the default OpenAI address has no key: asking would only earn a 401."""
    return bool(config.model) and (
        config.model == "echo" or bool(config.api_key) or "api.openai.com" not in config.base_url
    )


class EchoModel:
    """A model that needs no server: it repeats the question. For checking the Chat wiring
    before a real model is set up, and for demos."""

    def complete(
        self, messages: Sequence[dict[str, str]], on_text: OnText | None = None, stop: Stop | None = None
    ) -> Reply:
        question = messages[-1]["content"] if messages else ""
        text = f"Echo: {question}"
        if on_text:
            on_text(text)
        return Reply(text, prompt_tokens=0, completion_tokens=0)


class OpenAIModel:
    def __init__(
        self, config: ModelConfig, *, sleep: Callable[[float], None] = time.sleep, backoff: float = 1.0
    ) -> None:
        self.config = config
        self._sleep = sleep
        self._backoff = backoff
        sdk = self._sdk = _sdk()
        import httpx2  # noqa: PLC0415 (comes with the SDK, and as late)

        http_client = sdk.DefaultHttpx2Client(proxy=config.proxy or None)
        self._client: openai.OpenAI = sdk.OpenAI(
            api_key=config.api_key or NO_KEY,
            base_url=config.base_url,
            max_retries=0,  # retried below, where a timeout and a 429 are told apart
            timeout=httpx2.Timeout(connect=10.0, read=config.timeout, write=30.0, pool=10.0),
            http_client=http_client,
        )

    def close(self) -> None:
        self._client.close()

    def complete(
        self, messages: Sequence[dict[str, str]], on_text: OnText | None = None, stop: Stop | None = None
    ) -> Reply:
        """The answer, streamed to on_text piece by piece when given. A call that failed after
        some text was shown is not retried: the reader would see the answer start twice."""
        attempts = self.config.max_retries + 1
        shown = [False]

        def show(piece: str) -> None:
            shown[0] = True
            if on_text:
                on_text(piece)

        for attempt in range(1, attempts + 1):
            try:
                return self._complete_once(messages, show, stop)
            except ModelError as exc:
                exc.attempts = attempt
                retryable = exc.kind in ("rate_limit", "server", "timeout", "unreachable") and not shown[0]
                if not retryable or attempt == attempts:
                    raise
                delay = min(exc.retry_after or self._backoff * 2 ** (attempt - 1), 60.0)
                log.warning(
                    "model call failed (%s); retry %d of %d in %.1f s", exc, attempt, attempts - 1, delay
                )
                self._sleep(delay)
        raise AssertionError("unreachable")

    def _complete_once(self, messages: Sequence[dict[str, str]], show: OnText, stop: Stop | None) -> Reply:
        parts: list[str] = []
        usage: Any = None
        try:
            stream = self._client.chat.completions.create(  # type: ignore[call-overload]
                model=self.config.model,
                messages=list(messages),
                temperature=self._sdk.omit if self.config.temperature is None else self.config.temperature,
                stream=True,
                stream_options={"include_usage": True},
            )
            with stream:
                for chunk in stream:
                    if chunk.usage is not None:
                        usage = chunk.usage
                    if chunk.choices and chunk.choices[0].delta.content:
                        parts.append(chunk.choices[0].delta.content)
                        show(chunk.choices[0].delta.content)
                    if stop is not None and stop.is_set():
                        break  # leaving the with-block closes the connection: the server stops too
        except self._sdk.APIError as exc:
            raise _translate(exc) from None
        except (ValueError, TypeError) as exc:  # a body that is not a chat-completion stream
            raise ModelError("bad_response", type(exc).__name__) from None
        return Reply(
            "".join(parts),
            prompt_tokens=getattr(usage, "prompt_tokens", None),
            completion_tokens=getattr(usage, "completion_tokens", None),
        )

    def list_models(self) -> list[str]:
        try:
            return sorted(str(m.id) for m in self._client.models.list())
        except self._sdk.APIError as exc:
            raise _translate(exc) from None


def _translate(exc: openai.APIError) -> ModelError:
    """Map the SDK's exceptions to the few cases a user can act on. APITimeoutError is a kind of
    APIConnectionError, so it is tested first."""
    sdk = _sdk()
    if isinstance(exc, sdk.APITimeoutError):
        return ModelError("timeout")
    if isinstance(exc, sdk.APIConnectionError):
        return ModelError("unreachable", type(exc.__cause__).__name__ if exc.__cause__ else "")
    if isinstance(exc, sdk.APIResponseValidationError):
        return ModelError("bad_response", "unexpected answer")
    if isinstance(exc, sdk.APIStatusError):
        status = exc.status_code
        message = _message(exc)
        code = str(getattr(exc, "code", "") or "")
        if status in (401, 403):
            return ModelError("auth", message, status=status)
        if status == 404:
            return ModelError("not_found", message, status=status)
        if status == 429:
            if code == "insufficient_quota" or "quota" in message.lower():
                return ModelError("quota", message, status=status)
            return ModelError("rate_limit", message, status=status, retry_after=_retry_after(exc))
        if status >= 500:
            return ModelError("server", message, status=status)
        if code == "context_length_exceeded" or _CONTEXT_ERRORS.search(message):
            return ModelError("context", message, status=status)
        return ModelError("bad_request", message, status=status)
    # An error event inside the stream.
    message = _message(exc)
    if _CONTEXT_ERRORS.search(message):
        return ModelError("context", message)
    return ModelError("server", message)


def _message(exc: openai.APIError) -> str:
    """The server's own words. The SDK unwraps {"error": …}; what is left is an object with a
    message (OpenAI, vLLM) or a bare string (llama.cpp, some proxies)."""
    body = exc.body
    if isinstance(body, dict) and "error" in body:
        body = body["error"]
    if isinstance(body, dict):
        body = body.get("message")
    if isinstance(body, str) and body.strip():
        return body[:300]
    return str(exc.message)[:300]


def _retry_after(exc: openai.APIStatusError) -> float | None:
    value = exc.response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def strip_thinking(text: str) -> str:
    """Remove reasoning. Besides whole <think>…</think> blocks, some chat templates put the
    opening tag in the prompt so only </think> shows up; then everything before it goes."""
    text = _THINK_BLOCK.sub("", text)
    close = text.lower().find("</think>")
    if close != -1 and "<think>" not in text[:close].lower():
        text = text[close + len("</think>") :]
    return text.strip()


class ModelFactory:
    """One client per distinct configuration, reused so its connection pool is: settings are
    read per message, and rebuilding a client each time would open a new connection."""

    def __init__(self, make: Callable[[ModelConfig], OpenAIModel] = OpenAIModel) -> None:
        self.make = make
        self._lock = threading.Lock()
        self._current: tuple[ModelConfig, OpenAIModel] | None = None

    def get(self, config: ModelConfig) -> Model:
        if config.model == "echo":
            return EchoModel()
        with self._lock:
            if self._current is None or self._current[0] != config:
                # The old client is left to the garbage collector: a worker may still use it.
                self._current = (config, self.make(config))
            return self._current[1]
