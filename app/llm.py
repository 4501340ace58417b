"""Calls to the model server: the only module that uses the openai SDK.

Answers are streamed even though Chat cannot show them streaming: then the timeout bounds the
model's silence rather than the whole answer, so a slow local model that keeps producing tokens
is not cut off early, while a hung one is noticed. Two bounds hold for the whole answer, however
steadily the model writes: a deadline (answer_timeout) and a size (max_answer_chars). Either
ends the stream, so the server stops generating, and what arrived by then is the answer, marked
as cut; only the cap's worth of text is ever kept.
"""

from __future__ import annotations

import dataclasses
import gc
import logging
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

from app.plainhttp import innermost, plain_http

if TYPE_CHECKING:
    import openai

log = logging.getLogger(__name__)

NO_KEY = "no-key"  # the SDK insists on a key; local servers ignore it
LIST_SECONDS = 15.0  # the most /model waits for the server's list of models
_CONTEXT_ERRORS = re.compile(
    r"context[ _-]?length|context window|context size|maximum context|too many tokens|"
    r"prompt is too long|input is too long|exceeds? the (?:available )?context|reduce the length",
    re.IGNORECASE,
)
_NO_PICTURES = re.compile(r"image input is not supported|mmproj", re.IGNORECASE)
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
    """kind: auth, quota, not_found, rate_limit, timeout, unreachable, not_https, server, context,
    bad_request, bad_response, deadline (nothing arrived within answer_timeout). `attempts` is
    how many calls were made."""

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


CUT_LENGTH = "length"  # the answer reached max_answer_chars (or the server's token limit)
CUT_TIME = "time"  # answer_timeout passed while the answer was arriving


@dataclasses.dataclass(frozen=True)
class Reply:
    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cut: str = ""  # "", CUT_LENGTH or CUT_TIME: whether and why the answer ends early


class Model(Protocol):
    def complete(
        self, messages: Sequence[dict[str, Any]], on_text: OnText | None = None, stop: Stop | None = None
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
    answer_timeout: float = 1200.0  # seconds for the whole answer, retries included
    max_answer_chars: int = 20_000


def is_configured(config: ModelConfig) -> bool:
    """False while the default OpenAI address has no key: asking would only earn a 401."""
    return bool(config.model) and (
        config.model == "echo" or bool(config.api_key) or "api.openai.com" not in config.base_url
    )


class EchoModel:
    """A model that needs no server: it repeats the question. For checking the Chat wiring
    before a real model is set up, and for demos."""

    def complete(
        self, messages: Sequence[dict[str, Any]], on_text: OnText | None = None, stop: Stop | None = None
    ) -> Reply:
        question = messages[-1]["content"] if messages else ""
        if isinstance(question, list):  # a question with pictures: the echo repeats its words
            question = " ".join(str(p.get("text", "")) for p in question if p.get("type") == "text")
        text = f"Echo: {question}"
        if on_text:
            on_text(text)
        return Reply(text, prompt_tokens=0, completion_tokens=0)


# The request parameters that bound the answer's tokens, in the order they are tried: OpenAI's
# newer models refuse max_tokens and ask for max_completion_tokens; some servers refuse both
# (unknown parameter, or more than the model's window), and then the character cap alone holds.
MAX_TOKENS = "max_tokens"
MAX_COMPLETION_TOKENS = "max_completion_tokens"
_NAMES_LIMIT = re.compile(r"max_tokens|max_completion_tokens|max[ _]new[ _]tokens|in the completion", re.I)


def token_limit(max_answer_chars: int) -> int:
    """The max_tokens sent for a character cap: as many tokens as characters. A token is rarely
    less than one character (English averages about four, a CJK character about one), so the
    server never stops before the character cap would, and the cap stays the one limit people
    see, while the server still has a bound on what it generates, and bills."""
    return max(1, max_answer_chars)


class OpenAIModel:
    def __init__(
        self, config: ModelConfig, *, sleep: Callable[[float], None] = time.sleep, backoff: float = 1.0
    ) -> None:
        self.config = config
        self._sleep = sleep
        self._backoff = backoff
        # Which token-limit parameter this server accepts, learnt from its first refusal so that
        # later calls do not pay the extra round-trip again ("" : none).
        self._limit_param = MAX_TOKENS
        sdk = self._sdk = _sdk()
        import httpx2  # noqa: PLC0415 (comes with the SDK, and as late)

        self._httpx = httpx2
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
        self, messages: Sequence[dict[str, Any]], on_text: OnText | None = None, stop: Stop | None = None
    ) -> Reply:
        """The answer, streamed to on_text piece by piece when given. A call that failed after
        some text was shown is not retried: the reader would see the answer start twice. Retries
        and their waits count against the answer's deadline too."""
        attempts = self.config.max_retries + 1
        deadline = time.monotonic() + self.config.answer_timeout
        shown = [False]

        def show(piece: str) -> None:
            shown[0] = True
            if on_text:
                on_text(piece)

        for attempt in range(1, attempts + 1):
            try:
                return self._complete_once(messages, show, stop, deadline)
            except ModelError as exc:
                exc.attempts = attempt
                retryable = exc.kind in ("rate_limit", "server", "timeout", "unreachable") and not shown[0]
                delay = min(exc.retry_after or self._backoff * 2 ** (attempt - 1), 60.0)
                if not retryable or attempt == attempts or time.monotonic() + delay >= deadline:
                    raise
                log.warning(
                    "model call failed (%s); retry %d of %d in %.1f s", exc, attempt, attempts - 1, delay
                )
                self._sleep(delay)
        raise AssertionError("unreachable")

    def _complete_once(
        self, messages: Sequence[dict[str, Any]], show: OnText, stop: Stop | None, deadline: float
    ) -> Reply:
        answer = _Answer(self.config.max_answer_chars)
        watchdog = _Watchdog()
        try:
            stream = self._create(messages, deadline)
            with stream, watchdog.watch(stream.response, deadline - time.monotonic()):
                for chunk in stream:
                    if chunk.usage is not None:
                        answer.usage = chunk.usage
                    choice = chunk.choices[0] if chunk.choices else None
                    if choice is not None and choice.delta.content:
                        piece = answer.add(choice.delta.content)
                        if piece:
                            show(piece)
                    if choice is not None and choice.finish_reason == "length":
                        answer.cut = CUT_LENGTH  # the server's own token limit ended it
                    if answer.cut == CUT_LENGTH and answer.full:
                        break  # leaving the with-block closes the connection: the server stops too
                    if time.monotonic() >= deadline:
                        answer.cut = CUT_TIME
                        break
                    if stop is not None and stop.is_set():
                        break
        except self._sdk.APIError as exc:
            if not (watchdog.fired or time.monotonic() >= deadline):
                raise _translate(exc) from None
            answer.cut = CUT_TIME  # the deadline ended a silent wait (the watchdog, or the timeout)
        except (ValueError, TypeError) as exc:  # a body that is not a chat-completion stream
            raise ModelError("bad_response", type(exc).__name__) from None
        if answer.cut == CUT_TIME and not answer.count:
            raise ModelError("deadline", f"nothing within {self.config.answer_timeout:g} s")
        return answer.reply()

    def _create(self, messages: Sequence[dict[str, Any]], deadline: float) -> Any:
        """Start the streamed call, with the token limit this server accepts. A 400 that names
        the limit is answered once by the next parameter (max_completion_tokens, then none) and
        the choice is kept, so only the first call to such a server costs an extra round-trip."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ModelError("deadline", "no time left")
            param = self._limit_param
            limit = {param: token_limit(self.config.max_answer_chars)} if param else {}
            temperature = self._sdk.omit if self.config.temperature is None else self.config.temperature
            try:
                return self._client.chat.completions.create(  # type: ignore[call-overload]
                    model=self.config.model,
                    messages=list(messages),
                    temperature=temperature,
                    stream=True,
                    stream_options={"include_usage": True},
                    # The model's silence may not outlast the answer's deadline either.
                    timeout=self._httpx.Timeout(
                        connect=min(10.0, remaining),
                        read=min(self.config.timeout, remaining),
                        write=30.0,
                        pool=min(10.0, remaining),
                    ),
                    **limit,
                )
            except self._sdk.BadRequestError as exc:
                if not param or not _NAMES_LIMIT.search(_message(exc) + " " + str(getattr(exc, "param", ""))):
                    raise
                told = _message(exc)
                self._limit_param = (
                    MAX_COMPLETION_TOKENS if param == MAX_TOKENS and MAX_COMPLETION_TOKENS in told else ""
                )
                log.info(
                    "the model server refused %s; asking with %s", param, self._limit_param or "no limit"
                )

    def list_models(self) -> list[str]:
        try:
            return sorted(str(m.id) for m in self._client.models.list())
        except self._sdk.APIError as exc:
            raise _translate(exc) from None


class _Answer:
    """The text collected so far, never more than the cap: a piece that would pass it is cut to
    fit. Kept as pieces and joined once at the end."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.parts: list[str] = []
        self.count = 0
        self.cut = ""
        self.usage: Any = None

    @property
    def full(self) -> bool:
        return self.count >= self.cap

    def add(self, piece: str) -> str:
        """The part of `piece` that fits (all of it, usually)."""
        room = self.cap - self.count
        if len(piece) >= room:
            piece = piece[: max(0, room)]
            self.cut = CUT_LENGTH
        self.parts.append(piece)
        self.count += len(piece)
        return piece

    def reply(self) -> Reply:
        return Reply(
            "".join(self.parts),
            prompt_tokens=getattr(self.usage, "prompt_tokens", None),
            completion_tokens=getattr(self.usage, "completion_tokens", None),
            cut=self.cut,
        )


class _Watchdog:
    """Ends a read that waits past the answer's deadline. A read's timeout was set when the call
    began, so a model that falls silent near the deadline could otherwise hold the worker for a
    whole request_timeout more: at the deadline this shuts the connection's socket down, which
    wakes the blocked read at once (closing it from another thread would not)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._response: Any = None
        self._timer: threading.Timer | None = None
        self._done = False
        self.fired = False

    def watch(self, response: Any, seconds: float) -> _Watchdog:
        self._response = response
        self._timer = threading.Timer(max(0.0, seconds), self._fire)
        self._timer.daemon = True
        self._timer.start()
        return self

    def __enter__(self) -> _Watchdog:
        return self

    def __exit__(self, *exc: object) -> None:
        # Under the lock, so that once the answer is over a late timer cannot touch the
        # connection (by then it may serve another call).
        with self._lock:
            self._done = True
        if self._timer is not None:
            self._timer.cancel()

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            stream = (getattr(self._response, "extensions", None) or {}).get("network_stream")
            sock = stream.get_extra_info("socket") if stream is not None else None
            try:
                if isinstance(sock, socket.socket):
                    sock.shutdown(socket.SHUT_RDWR)
                else:
                    self._response.close()
            except (OSError, RuntimeError):
                pass  # already closed: the read has ended anyway


def _translate(exc: openai.APIError) -> ModelError:
    """Map the SDK's exceptions to the few cases a user can act on. APITimeoutError is a kind of
    APIConnectionError, so it is tested first."""
    sdk = _sdk()
    if isinstance(exc, sdk.APITimeoutError):
        return ModelError("timeout")
    if isinstance(exc, sdk.APIConnectionError):
        if plain_http(exc):
            return ModelError("not_https", "the server answered in plain HTTP")
        # The cause's own words ("Connection refused"), not a class name people cannot act on.
        return ModelError("unreachable", innermost(exc.__cause__) if exc.__cause__ else "")
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
        if status >= 500 and _NO_PICTURES.search(message):
            # llama.cpp without --mmproj answers a picture with a 500: asking again cannot help.
            return ModelError("bad_request", message, status=status)
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


THINK_OPEN, THINK_CLOSE = "<think>", "</think>"


def strip_thinking(text: str) -> str:
    """Remove reasoning. Besides whole <think>…</think> blocks, some chat templates put the
    opening tag in the prompt so only </think> shows up; then everything before it goes."""
    return after_lone_close(remove_thinking(text)).strip()


def remove_thinking(text: str) -> str:
    """Whole <think>…</think> blocks removed."""
    return _THINK_BLOCK.sub("", text)


def after_lone_close(text: str) -> str:
    """What follows a </think> with no <think> before it (then everything before it was
    reasoning), or all of text."""
    close = text.lower().find(THINK_CLOSE)
    if close != -1 and THINK_OPEN not in text[:close].lower():
        return text[close + len(THINK_CLOSE) :]
    return text


def lone_close(text: str) -> bool:
    """Whether the model wrote reasoning with only its closing tag (its template opens it)."""
    kept = remove_thinking(text)
    return after_lone_close(kept) != kept


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

    def names(self, config: ModelConfig) -> list[str]:
        """The server's model names (GET /models), asked once and briefly by a client of its
        own: an admin's /model waits for them. ModelError when the server gives no list."""
        brief = dataclasses.replace(config, max_retries=0, timeout=min(config.timeout, LIST_SECONDS))
        client = self.make(brief)
        try:
            return client.list_models()
        finally:
            client.close()
