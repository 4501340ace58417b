"""Replies to Synology Chat through the real server and the fake Chat: encoding, chunking,
pacing, Chat's error codes, TLS, and resuming after a restart."""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from app.platforms.synology.wire import ChatClient, ChatError
from app.text import size
from tests.conftest import BOT_TOKEN, Bot
from tests.fake_openai import FakeOpenAI
from tests.fake_synology import FakeChat, make_certificate

SPECIAL = "Tom & Jerry + 100% \"quoted\" 'single' <tag> a=b&c=d 😀 你好，世界 \\ / \n second line"
CODE = "\n".join(f"    result_{i} = transform(data[{i}])  # keep this line" for i in range(120))
LONG_REPLY = "Intro.\n\n" + ("Some prose sentence. " * 60 + "\n\n") * 2 + f"```python\n{CODE}\n```\n\nDone."


def answer(bot: Bot, text: str, user_id: int = 4) -> None:
    assert bot.say(text, user_id=user_id).status_code == 200
    bot.idle()


def test_special_characters_arrive_intact(bot: Bot, fake_model: FakeOpenAI, fake_chat: FakeChat) -> None:
    fake_model.reply = lambda messages: SPECIAL
    answer(bot, "say it")
    assert fake_chat.texts() == [SPECIAL]
    assert fake_chat.errors == []


def test_the_fake_chat_rejects_an_unencoded_payload_like_chat_does(fake_chat: FakeChat) -> None:
    """The control for the test above: the naive encoding other bots use breaks on '&'."""
    raw = "payload=" + json.dumps({"text": "Tom & Jerry", "user_ids": [4]})
    reply = requests.post(
        fake_chat.url(),
        data=raw.encode(),
        timeout=5,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert reply.json()["error"]["code"] == 407


def test_reply_goes_to_the_sender_only(bot: Bot, fake_chat: FakeChat) -> None:
    answer(bot, "hi", user_id=123456)
    assert [p.user_ids for p in fake_chat.posts] == [[123456]]
    assert all(p.method == "chatbot" for p in fake_chat.posts)


def test_long_reply_is_split_in_order_with_code_fences_reopened(
    make_bot: Callable[..., Bot], fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    fake_chat.min_interval = 0.5  # Chat's real pacing, on both sides
    bot = make_bot(pacing=0.5)
    fake_model.reply = lambda messages: LONG_REPLY
    answer(bot, "write code")
    posts = fake_chat.posts
    assert len(posts) >= 4
    assert fake_chat.errors == [], "no 410 (too long) and no 411 (too fast)"
    assert all(size(p.text) <= 2000 for p in posts)
    gaps = [b.at - a.at for a, b in itertools.pairwise(posts)]
    assert min(gaps) >= 0.5, gaps
    assert posts[0].text.startswith("Intro.") and posts[-1].text.endswith("Done.")
    code_posts = [p.text for p in posts if "result_" in p.text]
    for text in code_posts[1:]:
        assert text.startswith("```python\n"), text[:40]
    for text in code_posts[:-1]:
        assert text.endswith("```")
    joined = "\n".join(p.text for p in posts)
    for i in range(120):
        assert f"result_{i} = transform(data[{i}])" in joined


def test_too_fast_is_retried_with_backoff(bot: Bot, fake_chat: FakeChat) -> None:
    fake_chat.script.extend([{"code": 411}, {"code": 411}])
    answer(bot, "hello")
    assert fake_chat.errors == [411, 411]
    assert fake_chat.texts() == ["Answer to: hello"]


def test_msg_too_long_is_split_smaller_and_sent(
    bot: Bot, fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    fake_model.reply = lambda messages: "word " * 350
    fake_chat.script.append({"code": 410})  # as if this NAS counted bytes and found it too long
    answer(bot, "hello")
    assert fake_chat.errors == [410]
    assert len(fake_chat.posts) >= 2
    assert all(size(t) <= size(("word " * 350).strip()) // 2 for t in fake_chat.texts())
    assert " ".join(fake_chat.texts()).split() == ["word"] * 350


def test_a_bad_gateway_from_the_nas_is_retried(bot: Bot, fake_chat: FakeChat) -> None:
    fake_chat.script.append({"http": 502})
    answer(bot, "hello")
    assert fake_chat.texts() == ["Answer to: hello"]


def test_a_slow_nas_is_not_posted_to_twice(
    bot: Bot, fake_chat: FakeChat, caplog: pytest.LogCaptureFixture
) -> None:
    fake_chat.script.append({"sleep": 3.5})  # longer than the client's 3 s timeout; Chat still posts it
    with caplog.at_level(logging.ERROR):
        answer(bot, "hello")
    time.sleep(0.5)
    assert fake_chat.texts() == ["Answer to: hello"]
    assert "did not answer within 3 s" in caplog.text


def test_a_wrong_bot_token_in_the_incoming_url_is_logged_without_the_token(
    make_bot: Callable[..., Bot], fake_chat: FakeChat, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = "W" * 64
    bot = make_bot(bot_incoming_url=fake_chat.url(token=wrong), bot_token=BOT_TOKEN)
    with caplog.at_level(logging.INFO):
        answer(bot, "hello")
        answer(bot, "hello again")
    assert fake_chat.errors == [404, 404]
    assert "bot token in the incoming URL is wrong" in caplog.text
    assert wrong not in caplog.text and BOT_TOKEN not in caplog.text


def test_an_unreachable_nas_is_logged(make_bot: Callable[..., Bot], caplog: pytest.LogCaptureFixture) -> None:
    url = "http://127.0.0.1:9/webapi/entry.cgi?api=SYNO.Chat.External&method=chatbot&version=2&token=%22x%22"
    bot = make_bot(bot_incoming_url=url, bot_token=BOT_TOKEN)
    with caplog.at_level(logging.ERROR):
        answer(bot, "hello")
    assert "could not connect to the NAS" in caplog.text


@pytest.fixture
def https_chat(tmp_path: Path) -> Iterator[tuple[FakeChat, Path]]:
    cert, key = make_certificate(tmp_path)
    server = FakeChat(BOT_TOKEN, min_interval=0.1, certificate=(cert, key)).start()
    yield server, cert
    server.stop()


def test_tls_is_verified_by_default(
    make_bot: Callable[..., Bot], https_chat: tuple[FakeChat, Path], caplog: pytest.LogCaptureFixture
) -> None:
    chat, _ = https_chat
    bot = make_bot(bot_incoming_url=chat.url())
    with caplog.at_level(logging.ERROR):
        answer(bot, "hello")
    assert chat.posts == []
    # Named by the page's label, as Recent errors show it (issue 19, point 5).
    assert "certificate could not be verified" in caplog.text and "CA certificate file" in caplog.text


def test_tls_with_a_ca_bundle(make_bot: Callable[..., Bot], https_chat: tuple[FakeChat, Path]) -> None:
    chat, cert = https_chat
    bot = make_bot(bot_incoming_url=chat.url(), ca_bundle=str(cert))
    answer(bot, "hello")
    assert chat.texts() == ["Answer to: hello"]


def test_tls_verification_can_be_turned_off(
    make_bot: Callable[..., Bot], https_chat: tuple[FakeChat, Path]
) -> None:
    chat, _ = https_chat
    bot = make_bot(bot_incoming_url=chat.url(), tls_verify=False)
    answer(bot, "hello")
    assert chat.texts() == ["Answer to: hello"]


def test_a_missing_ca_bundle_file_is_explained(
    make_bot: Callable[..., Bot], https_chat: tuple[FakeChat, Path], caplog: pytest.LogCaptureFixture
) -> None:
    chat, _ = https_chat
    bot = make_bot(bot_incoming_url=chat.url(), ca_bundle="/nonexistent/ca.pem")
    with caplog.at_level(logging.ERROR):
        answer(bot, "hello")
    assert "could not deliver" in caplog.text and ("TLS" in caplog.text or "certificate" in caplog.text)


def test_a_restart_resumes_delivery_after_the_last_chunk_sent(
    bot: Bot, fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    chunks = [f"Part {i}. " + "text " * 300 for i in range(3)]
    bot.runtime.stop()
    bot.runtime.store.add_job(
        {
            "id": "j1",
            "lane": "dm-4",
            "conversation": "dm-4",
            "person": "synology:4",
            "username": "alice",
            "text": "q",
            "kind": "message",
            "dedupe": "post:1",
            "received": time.time(),
            "reply": "\n\n".join(chunks),
            "sent": 1,
            "lang": "en",
        }
    )
    bot.runtime = bot.make()
    bot.runtime.start()
    bot.idle()
    texts = fake_chat.texts()
    # Part 1 was in flight when the bot stopped: it may have arrived, and the user is told.
    assert texts[0].startswith("(The bot restarted while sending this answer")
    assert [t.split(".")[0] for t in texts[1:]] == ["Part 1", "Part 2"]
    assert fake_model.requests == [], "the stored answer is not asked for again"
    assert bot.runtime.store.pending_jobs() == []


def test_client_does_not_retry_a_token_error() -> None:
    """ChatClient.post on its own: a token error is final, not retried."""
    server = FakeChat("right").start()
    try:
        client = ChatClient(min_interval=0.0, backoff=0.01)
        with pytest.raises(ChatError) as caught:
            client.post(server.url(token="Zq9xTokenValue"), {"text": "x", "user_ids": [1]})
        assert caught.value.kind == "token" and caught.value.code == 404
        assert server.errors == [404]
        assert "Zq9xTokenValue" not in str(caught.value)
    finally:
        server.stop()
