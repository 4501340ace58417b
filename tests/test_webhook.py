"""POST /webhook through the real server: what Chat sends, what gets refused, and how fast."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator

import requests

from tests.conftest import BOT_TOKEN, Bot
from tests.fake_openai import FakeOpenAI
from tests.fake_synology import FakeChat


def stored_jobs(bot: Bot) -> list[dict[str, object]]:
    return bot.runtime.store.pending_jobs()


def test_get_and_head_answer_200(bot: Bot) -> None:
    assert requests.get(bot.url + "/webhook", timeout=5).status_code == 200
    head = requests.head(bot.url + "/webhook", timeout=5)
    assert head.status_code == 200


def test_healthz(bot: Bot) -> None:
    answer = requests.get(bot.url + "/healthz", timeout=5)
    assert answer.status_code == 200
    assert answer.json()["status"] == "ok" and answer.json()["version"]


def test_form_message_reaches_the_model_intact(bot: Bot, fake_model: FakeOpenAI, fake_chat: FakeChat) -> None:
    text = 'Q&A: is 1+1 = 2? 100% "sure" 😀 你好，世界 <b>'
    answer = bot.say(text)
    assert answer.status_code == 200 and answer.json()["success"] is True
    fake_chat.wait_for(1)
    assert fake_model.chat_requests()[0]["messages"][-1] == {"role": "user", "content": text}


def test_json_body_is_accepted_as_a_fallback(bot: Bot, fake_chat: FakeChat) -> None:
    answer = bot.post(
        json.dumps({"token": BOT_TOKEN, "user_id": 7, "username": "bob", "text": "hi json"}),
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 200
    assert fake_chat.wait_for(1)[0].user_ids == [7]


def test_missing_token_is_401_and_does_nothing(bot: Bot, fake_model: FakeOpenAI) -> None:
    answer = bot.post({"user_id": "4", "text": "hi", "post_id": "1"})
    assert answer.status_code == 401
    assert "token is missing" in answer.json()["error"]
    time.sleep(0.3)
    assert stored_jobs(bot) == [] and fake_model.requests == []


def test_wrong_token_is_403_and_does_nothing(bot: Bot, fake_model: FakeOpenAI, fake_chat: FakeChat) -> None:
    answer = bot.say("hi", token=BOT_TOKEN[:-1] + "x")
    assert answer.status_code == 403 and answer.json()["error"] == "wrong token"
    time.sleep(0.3)
    assert stored_jobs(bot) == [] and fake_model.requests == [] and fake_chat.posts == []


def test_without_a_configured_token_every_message_is_refused(
    make_bot: Callable[..., Bot], fake_model: FakeOpenAI
) -> None:
    bot = make_bot(bot_incoming_url="", bot_token="")
    for token in (BOT_TOKEN, "", " "):
        answer = bot.post({"token": token, "user_id": "4", "text": "hi"})
        assert answer.status_code in (401, 403)
    assert bot.say("hi").json()["error"] == "the bot is not configured: no bot token is set"
    assert stored_jobs(bot) == [] and fake_model.requests == []


def test_explicit_bot_token_wins_over_the_url(make_bot: Callable[..., Bot], fake_chat: FakeChat) -> None:
    bot = make_bot(bot_token="another-token")
    assert bot.say("hi").status_code == 403
    assert bot.say("hi", token="another-token").status_code == 200


def test_answers_at_once_while_the_model_is_slow(
    bot: Bot, fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    fake_model.delay = 3.0
    started = time.monotonic()
    answer = bot.say("take your time")
    acknowledged = time.monotonic() - started
    assert answer.status_code == 200
    assert acknowledged < 1.0, f"the webhook took {acknowledged:.2f} s with a 3 s model"
    assert fake_chat.posts == []
    assert len(stored_jobs(bot)) == 1, "the message is stored before the 200"
    fake_chat.wait_for(1, timeout=10)


def test_the_same_post_delivered_twice_is_answered_once(
    bot: Bot, fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    first = bot.say("once please", post_id=42)
    second = bot.say("once please", post_id=42)
    assert first.status_code == second.status_code == 200
    assert second.json().get("duplicate") is True
    bot.idle()
    time.sleep(0.6)
    assert len(fake_chat.posts) == 1 and len(fake_model.chat_requests()) == 1


def test_body_over_1_mb_is_413(bot: Bot, fake_model: FakeOpenAI) -> None:
    big = {"token": BOT_TOKEN, "user_id": "4", "text": "x" * (1024 * 1024 + 10)}
    answer = bot.post(big)
    assert answer.status_code == 413
    assert "Traceback" not in answer.text
    assert fake_model.requests == []


def test_chunked_body_over_1_mb_is_413(bot: Bot) -> None:
    def chunks() -> Iterator[bytes]:
        yield f"token={BOT_TOKEN}&user_id=4&text=".encode()
        for _ in range(1100):
            yield b"y" * 1024

    answer = requests.post(
        bot.url + "/webhook",
        data=chunks(),
        timeout=10,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code == 413


def test_malformed_bodies_get_400_never_500(bot: Bot, fake_model: FakeOpenAI) -> None:
    cases = [
        (b"token=" + BOT_TOKEN.encode() + b"&user_id=abc&text=hi", "application/x-www-form-urlencoded", 400),
        (b"token=" + BOT_TOKEN.encode() + b"&text=hi", "application/x-www-form-urlencoded", 400),
        (b"\xff\xfe\xfd", "application/x-www-form-urlencoded", 400),
        (b"{broken", "application/json", 400),
        (b'"a string"', "application/json", 400),
        (b"<a/>", "application/xml", 415),
        (b"", "application/x-www-form-urlencoded", 401),
    ]
    for body, kind, status in cases:
        answer = bot.post(body, headers={"Content-Type": kind})
        assert answer.status_code == status, (body, answer.text)
        assert answer.json()["success"] is False and answer.json()["error"]
        assert "Traceback" not in answer.text
    assert fake_model.requests == []


def test_bad_content_length_is_400(bot: Bot) -> None:
    host, port = bot.runtime.address
    with socket.create_connection((host, port), timeout=5) as conn:
        conn.sendall(b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
        reply = conn.recv(4096).decode()
    assert reply.startswith("HTTP/1.1 400"), reply


def test_unknown_route_is_a_plain_404(bot: Bot) -> None:
    answer = requests.get(bot.url + "/nope", timeout=5)
    assert answer.status_code == 404 and "Traceback" not in answer.text


def test_without_an_incoming_url_the_user_is_told_and_the_model_is_not_asked(
    make_bot: Callable[..., Bot], fake_model: FakeOpenAI
) -> None:
    bot = make_bot(bot_incoming_url="", bot_token=BOT_TOKEN)
    answer = bot.say("hello?")
    assert answer.status_code == 200
    assert "bot_incoming_url is not set" in answer.json()["text"]
    time.sleep(0.3)
    assert fake_model.requests == [] and stored_jobs(bot) == []
    assert bot.runtime.store.history("dm-4") == []


def test_a_message_with_no_text_is_answered_at_once_without_the_model(
    bot: Bot, fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    # A file sent alone, or only spaces: nothing to ask, so nothing is billed or stored.
    for text in ("", "   \n "):
        answer = bot.say(text)
        assert answer.status_code == 200 and "What would you like to ask?" in answer.json()["text"]
    bot.idle()
    assert fake_model.chat_requests() == [] and fake_chat.posts == []
