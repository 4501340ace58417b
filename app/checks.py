"""The settings page's live check of the model server, and the Result every live check gives
(each platform's own check is in its folder: Synology's posts a test message). They run with
the values on the page (saved or not), and report what happened without any secret."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from app.bot import model_config, redact
from app.llm import EchoModel, Model, ModelConfig, ModelError, OpenAIModel, is_configured
from app.settings import Values

PROMPT = "Reply with one short friendly sentence to confirm you are working."
TEST_TIMEOUT = 60.0  # the page waits for this; a cold local model may need most of it


# What every platform's "send a test message" posts.
TEST_MESSAGE = "✅ SynoChatGPT: test message from the settings page. / 来自设置页面的测试消息。"


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
            # Kept as a Result for the page to put in words, like the prompt's own error.
            data["models_problem"] = Result(False, exc.kind, exc.status, redact(exc.detail, values))
    started = clock()
    try:
        reply = model.complete([{"role": "user", "content": PROMPT}])
    except ModelError as exc:
        return Result(False, exc.kind, exc.status, redact(exc.detail, values), data)
    data["latency_ms"] = round((clock() - started) * 1000)
    data["answer"] = reply.text.strip()[:1000]
    data["tokens"] = (reply.prompt_tokens or 0) + (reply.completion_tokens or 0)
    return Result(True, data=data)
