"""The settings page's live checks: ask the model server, post to Synology Chat. They run with
the values on the page (saved or not), and report what happened without any secret."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any, Protocol

from app.bot import model_config, redact
from app.llm import EchoModel, Model, ModelConfig, ModelError, OpenAIModel, is_configured
from app.platforms.synology.wire import ChatError
from app.settings import Values

PROMPT = "Reply with one short friendly sentence to confirm you are working."
TEST_TIMEOUT = 60.0  # the page waits for this; a cold local model may need most of it
TEST_MESSAGE = "✅ SynoChatGPT: test message from the settings page. / 来自设置页面的测试消息。"


class Poster(Protocol):
    def post(self, url: str, payload: dict[str, Any], *, verify: bool | str = True) -> dict[str, Any]: ...


@dataclasses.dataclass
class Result:
    ok: bool
    kind: str = ""  # the error's kind, for the page to explain
    status: int | None = None
    detail: str = ""
    data: dict[str, Any] = dataclasses.field(default_factory=dict)


def test_model(
    values: Values,
    make: Callable[[ModelConfig], OpenAIModel] = OpenAIModel,
    clock: Callable[[], float] = time.monotonic,
) -> Result:
    """List the server's models (for the picker), then send one short prompt. A fresh client
    with no retries: the page should show the first error, not hide it behind backoff."""
    base = model_config(values)
    config = dataclasses.replace(base, max_retries=0, timeout=min(base.timeout, TEST_TIMEOUT))
    if not is_configured(config):
        return Result(False, "not_configured")
    data: dict[str, Any] = {"model": config.model, "models": []}
    client: OpenAIModel | None = None
    model: Model
    if config.model == "echo":
        model = EchoModel()
    else:
        model = client = make(config)
    if client is not None:
        try:
            data["models"] = client.list_models()[:500]
        except ModelError as exc:  # some servers have no /models; the prompt may still work
            data["models_error"] = redact(str(exc), values)
    started = clock()
    try:
        reply = model.complete([{"role": "user", "content": PROMPT}])
    except ModelError as exc:
        return Result(False, exc.kind, exc.status, redact(exc.detail, values), data)
    data["latency_ms"] = round((clock() - started) * 1000)
    data["answer"] = reply.text.strip()[:1000]
    data["tokens"] = (reply.prompt_tokens or 0) + (reply.completion_tokens or 0)
    return Result(True, data=data)


def test_chat(values: Values, poster: Poster, user_id: int) -> Result:
    """Post one message to one Chat user through the bot's incoming URL and return Chat's answer."""
    url = values.bot_incoming_url
    if not url:
        return Result(False, "no_url")
    verify: bool | str = values.ca_bundle or bool(values.tls_verify)
    try:
        answer = poster.post(url, {"text": TEST_MESSAGE, "user_ids": [user_id]}, verify=verify)
    except ChatError as exc:  # its text never holds the URL or the token
        return Result(False, exc.kind, exc.code, redact(str(exc), values))
    return Result(True, data={"answer": answer})
