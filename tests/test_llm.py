"""The model client against the fake OpenAI-compatible server: the contract other servers
share (bearer key, streaming, usage), proxies, and how each error is classified."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.llm import ModelConfig, ModelError, ModelFactory, OpenAIModel
from tests.conftest import API_KEY
from tests.fake_openai import FakeOpenAI, openai_error


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    fake = FakeOpenAI(api_key=API_KEY).start()
    yield fake
    fake.stop()


def client(base_url: str, **changes: object) -> OpenAIModel:
    values: dict[str, object] = {
        "base_url": base_url,
        "api_key": API_KEY,
        "model": "fake-model",
        "temperature": None,
        "timeout": 5.0,
        "max_retries": 0,
    }
    values.update(changes)
    return OpenAIModel(ModelConfig(**values), backoff=0.01)  # type: ignore[arg-type]


def test_streamed_answer_with_usage(server: FakeOpenAI) -> None:
    reply = client(server.url).complete([{"role": "user", "content": "hello"}])
    assert reply.text == "Answer to: hello"
    assert reply.prompt_tokens == len("hello") // 4 + 1
    request = server.chat_requests()[0]
    assert request["stream"] is True and request["stream_options"] == {"include_usage": True}
    assert server.requests[0]["headers"]["authorization"] == f"Bearer {API_KEY}"


def test_a_server_that_reports_no_usage(server: FakeOpenAI) -> None:
    server.usage = False
    reply = client(server.url).complete([{"role": "user", "content": "hello"}])
    assert reply.text == "Answer to: hello" and reply.prompt_tokens is None


def test_keyless_local_servers_get_a_placeholder_key(server: FakeOpenAI) -> None:
    server.api_key = None
    assert client(server.url, api_key="").complete([{"role": "user", "content": "x"}]).text


def test_list_models(server: FakeOpenAI) -> None:
    assert client(server.url).list_models() == ["fake-model", "fake-small"]


def test_the_proxy_setting_is_used(server: FakeOpenAI) -> None:
    root = server.url.removesuffix("/v1")
    reply = client("http://model.invalid/v1", proxy=root).complete([{"role": "user", "content": "via proxy"}])
    assert reply.text == "Answer to: via proxy"
    assert server.requests[-1]["path"].startswith("http://model.invalid/v1/"), "it came as a proxy request"


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (401, openai_error("Incorrect API key provided", code="invalid_api_key"), "auth"),
        (403, openai_error("Country not supported"), "auth"),
        (404, openai_error("The model `x` does not exist", code="model_not_found"), "not_found"),
        (
            429,
            openai_error("Rate limit reached for requests", "requests", "rate_limit_exceeded"),
            "rate_limit",
        ),
        (
            429,
            openai_error("You exceeded your current quota", "insufficient_quota", "insufficient_quota"),
            "quota",
        ),
        (500, openai_error("The server had an error"), "server"),
        (503, {"error": "model is loading"}, "server"),
        (
            400,
            openai_error(
                "This model's maximum context length is 4096 tokens", code="context_length_exceeded"
            ),
            "context",
        ),
        (400, {"error": "the request exceeds the available context size, try increasing it"}, "context"),
        (400, openai_error("Unsupported value: 'temperature'"), "bad_request"),
    ],
)
def test_errors_are_classified(server: FakeOpenAI, status: int, body: dict[str, object], kind: str) -> None:
    server.fail_next(status, body)
    with pytest.raises(ModelError) as caught:
        client(server.url).complete([{"role": "user", "content": "x"}])
    assert caught.value.kind == kind
    assert caught.value.status == status


def test_retry_after_is_honoured_and_counted(server: FakeOpenAI) -> None:
    server.fail_next(429, openai_error("slow down"), headers={"Retry-After": "0.3"}, times=3)
    with pytest.raises(ModelError) as caught:
        client(server.url, max_retries=2).complete([{"role": "user", "content": "x"}])
    assert caught.value.kind == "rate_limit" and caught.value.attempts == 3
    assert len(server.chat_requests()) == 3


def test_auth_errors_are_not_retried(server: FakeOpenAI) -> None:
    with pytest.raises(ModelError) as caught:
        client(server.url, api_key="sk-wrong", max_retries=3).complete([{"role": "user", "content": "x"}])
    assert caught.value.kind == "auth" and len(server.chat_requests()) == 1


def test_a_closed_port_is_unreachable() -> None:
    with pytest.raises(ModelError) as caught:
        client("http://127.0.0.1:9/v1").complete([{"role": "user", "content": "x"}])
    assert caught.value.kind == "unreachable"


def test_a_server_that_is_not_openai_compatible(server: FakeOpenAI) -> None:
    with pytest.raises(ModelError) as caught:
        client(server.url.removesuffix("/v1") + "/other").complete([{"role": "user", "content": "x"}])
    assert caught.value.kind == "not_found"


def test_the_factory_reuses_a_client_until_the_settings_change(server: FakeOpenAI) -> None:
    made: list[ModelConfig] = []

    def make(cfg: ModelConfig) -> OpenAIModel:
        made.append(cfg)
        return OpenAIModel(cfg)

    factory = ModelFactory(make)
    cfg = ModelConfig(server.url, API_KEY, "fake-model", None, 5.0, 0)
    assert factory.get(cfg) is factory.get(cfg)
    factory.get(ModelConfig(server.url, API_KEY, "fake-small", None, 5.0, 0))
    assert len(made) == 2
    assert type(factory.get(ModelConfig(server.url, "", "echo", None, 5.0, 0))).__name__ == "EchoModel"
