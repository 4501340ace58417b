"""The fake OpenAI server as an image server and a vision model, checked directly with requests:
the tests of the bot lean on these answers, so they must be what the fake says they are."""

from __future__ import annotations

import base64
import struct
import time
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.conftest import API_KEY
from tests.fake_openai import PNG_MAGIC, FakeOpenAI, png

AUTH = {"Authorization": f"Bearer {API_KEY}"}
IMAGE = {"model": "gpt-image-1-mini", "prompt": "a red fox", "size": "1024x1024", "quality": "low"}


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI(api_key=API_KEY).start()
    yield server
    server.stop()


def draw(fake: FakeOpenAI, **changes: Any) -> requests.Response:
    return requests.post(f"{fake.url}/images/generations", json={**IMAGE, **changes}, headers=AUTH, timeout=5)


def chat(fake: FakeOpenAI, content: Any) -> requests.Response:
    body = {"model": "fake-model", "messages": [{"role": "user", "content": content}]}
    return requests.post(f"{fake.url}/chat/completions", json=body, headers=AUTH, timeout=5)


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def looking_at(url: str, text: str = "what is this") -> list[dict[str, Any]]:
    return [{"type": "text", "text": text}, {"type": "image_url", "image_url": {"url": url}}]


def chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """A PNG's chunks, each CRC checked: an independent look at what png() makes."""
    assert data.startswith(PNG_MAGIC)
    found, at = [], len(PNG_MAGIC)
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length : at + 12 + length])
        assert zlib.crc32(kind + body) == crc
        found.append((kind, body))
        at += 12 + length
    return found


def test_png_is_valid_and_pads_with_an_ancillary_chunk() -> None:
    image = chunks(png(3, 2, (1, 2, 3)))
    assert [kind for kind, _ in image] == [b"IHDR", b"IDAT", b"IEND"]
    assert struct.unpack(">II", image[0][1][:8]) == (3, 2)
    assert zlib.decompress(image[1][1]) == (b"\x00" + bytes((1, 2, 3)) * 3) * 2
    padded = png(pad=1000)
    assert len(padded) == len(png()) + 1012
    assert [kind for kind, _ in chunks(padded)] == [b"IHDR", b"paDd", b"IDAT", b"IEND"]


def test_b64_answer_is_a_real_png_with_usage(fake: FakeOpenAI) -> None:
    answer = draw(fake)
    assert answer.status_code == 200
    body = answer.json()
    image = base64.b64decode(body["data"][0]["b64_json"])
    assert image.startswith(PNG_MAGIC) and image == fake.image_png()
    chunks(image)
    assert body["data"][0]["revised_prompt"] == "a red fox"
    assert isinstance(body["created"], int)
    assert body["usage"]["output_tokens"] == 272  # low, square
    assert body["usage"]["total_tokens"] == body["usage"]["input_tokens"] + 272
    assert fake.image_requests() == [IMAGE]


def test_image_size_bytes_pads_the_answer(fake: FakeOpenAI) -> None:
    fake.image_size_bytes = 300_000
    image = base64.b64decode(draw(fake).json()["data"][0]["b64_json"])
    assert len(image) == 300_000
    chunks(image)


def test_url_mode_serves_the_image(fake: FakeOpenAI) -> None:
    fake.image_mode = "url"
    body = draw(fake, n=2).json()
    urls = [item["url"] for item in body["data"]]
    assert urls == [f"{fake.url}/files/img-1.png", f"{fake.url}/files/img-2.png"]
    served = requests.get(urls[0], timeout=5)  # no key: a static file, as LocalAI serves them
    assert served.status_code == 200
    assert served.headers["Content-Type"] == "image/png"
    assert served.content == fake.image_png()
    assert requests.get(f"{fake.url}/files/img-9.png", timeout=5).status_code == 404


@pytest.mark.parametrize("model", ["dall-e-3", "dall-e-2", "no-such-model"])
def test_unknown_or_retired_model_is_not_found(fake: FakeOpenAI, model: str) -> None:
    answer = draw(fake, model=model)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "model_not_found"
    assert draw(fake, model="sd-local").status_code == 200


def test_refusals_by_the_safety_system(fake: FakeOpenAI) -> None:
    refused = draw(fake, prompt="something FORBIDDEN")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "content_policy_violation"
    blocked = draw(fake, prompt="Moderate this")
    assert blocked.status_code == 400
    error = blocked.json()["error"]
    assert (error["type"], error["code"]) == ("image_generation_user_error", "moderation_blocked")


def test_a_wrong_key_gets_the_chat_endpoints_401(fake: FakeOpenAI) -> None:
    wrong = {"Authorization": "Bearer sk-wrong-key-000000000000"}
    image = requests.post(f"{fake.url}/images/generations", json=IMAGE, headers=wrong, timeout=5)
    text = requests.post(f"{fake.url}/chat/completions", json={}, headers=wrong, timeout=5)
    assert image.status_code == text.status_code == 401
    assert image.json() == text.json()


def test_a_server_without_the_route(fake: FakeOpenAI) -> None:
    fake.images_endpoint = False
    answer = draw(fake)
    assert answer.status_code == 404
    assert answer.json() == {"detail": "Not Found"}


def test_image_script_and_delay(fake: FakeOpenAI) -> None:
    fake.image_script.append({"raw": b"<html>Bad gateway</html>", "content_type": "text/html", "status": 502})
    fake.image_script.append(
        {"raw": b'{"data": [{"b64_json": "bm90IGFuIGltYWdl"}]}', "content_type": "application/json"}
    )
    fake.image_script.append({"status": 429, "body": {"error": {"message": "slow down"}}})
    first = draw(fake)
    assert (first.status_code, first.headers["Content-Type"], first.text) == (
        502,
        "text/html",
        "<html>Bad gateway</html>",
    )
    assert base64.b64decode(draw(fake).json()["data"][0]["b64_json"]) == b"not an image"
    assert draw(fake).status_code == 429
    fake.image_delay = 0.3
    start = time.monotonic()
    assert draw(fake).status_code == 200
    assert time.monotonic() - start >= 0.3
    assert len(fake.image_requests()) == 4


def test_a_vision_request_is_answered_and_recorded(fake: FakeOpenAI) -> None:
    url = data_url(png())
    answer = chat(fake, looking_at(url))
    assert answer.status_code == 200
    body = answer.json()
    assert body["choices"][0]["message"]["content"] == "Answer to: what is this [saw 1 image(s)]"
    assert body["usage"]["prompt_tokens"] == (len("what is this") + 85 * 4) // 4 + 1
    assert chat(fake, "hello").json()["choices"][0]["message"]["content"] == "Answer to: hello"
    assert fake.image_parts() == [[url], []]


def test_images_count_against_the_context_limit(fake: FakeOpenAI) -> None:
    fake.context_limit = 50
    answer = chat(fake, looking_at(data_url(png()), "hi"))
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "context_length_exceeded"


def test_a_model_without_vision_refuses_images(fake: FakeOpenAI) -> None:
    fake.vision = False
    answer = chat(fake, looking_at(data_url(png())))
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["message"] == "Invalid content type. image_url is only supported by certain models."
    assert error["param"] == "messages.[0].content.[1].type"
    assert chat(fake, "text still works").status_code == 200


@pytest.mark.parametrize(
    ("url", "code", "says"),
    [
        ("data:image/png;base64,not*base64!", "invalid_value", "invalid base64-encoded value"),
        (data_url(png(), "application/pdf"), "invalid_value", "unsupported MIME type 'application/pdf'"),
        ("data:image/png,iVBORw0KGgo=", "invalid_value", "without the ';base64' separator"),
        ("data:image/png;base64,", "invalid_value", "empty base64-encoded bytes"),
        ("not a url", "invalid_value", "Expected a valid URL"),
        (data_url(b"plain text, no image"), "invalid_image_format", "unsupported image"),
    ],
)
def test_a_malformed_image_url_is_refused(fake: FakeOpenAI, url: str, code: str, says: str) -> None:
    answer = chat(fake, looking_at(url))
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["code"] == code and says in error["message"]
    assert fake.image_parts() == [[url]]  # recorded all the same, to show what the bot sent


def test_an_http_image_url_is_taken_as_it_is(fake: FakeOpenAI) -> None:
    answer = chat(fake, looking_at("https://example.com/cat.jpg"))
    assert answer.status_code == 200
