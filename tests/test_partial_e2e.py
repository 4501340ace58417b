"""Partial replies through the real server and each platform's fake server: parts of a slow
model's answer reach the chat before the model is done, on every platform, and make up the whole
answer once; a notice when the model is slow to begin; and a kill -9 in the middle of it
loses and repeats nothing. The rules themselves are in tests/test_partial.py."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.partial import CONTINUE
from tests.conftest import Bot
from tests.contract import CASES, Case, cases
from tests.fake_dingtalk import FakeDingTalk
from tests.fake_onebot import FakeNapCat
from tests.fake_openai import FakeOpenAI, drip
from tests.fake_synology import FakeChat
from tests.test_process import Process

# Words each paragraph holds once, to find it in any platform's rendering of it.
MARKS = ["Alpha", "Bravo", "Charlie", "Delta", "Echo"]
FILLER = "a sentence of the kind a model writes when it explains how a NAS works, "
PARAGRAPHS = [f"{mark}: {FILLER * 2}".rstrip() for mark in MARKS[:2]]
PARAGRAPHS += ["```bash\n# Charlie\nsudo synopkg restart SynoChatGPT\n\nsudo synopkg status SynoChatGPT\n```"]
PARAGRAPHS += [f"{mark}: {FILLER * 2}".rstrip() for mark in MARKS[3:]]
ANSWER = "\n\n".join(PARAGRAPHS)


def first_posts(posts: Callable[[], list[str]], timeout: float = 15.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = posts()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError("nothing was posted")


@pytest.fixture(params=CASES)
def case(
    request: pytest.FixtureRequest, fake_chat: FakeChat, fake_qq: FakeNapCat, fake_dingtalk: FakeDingTalk
) -> Case:
    return cases(fake_chat, fake_qq, fake_dingtalk)[request.param]


def test_every_platform_shows_parts_before_the_model_is_done_and_each_once(
    case: Case, make_bot: Callable[..., Bot], fake_model: FakeOpenAI
) -> None:
    bot = case.start(make_bot)
    bot.set(min_part_chars=100, onebot_min_part_chars=100)
    fake_model.pieces = drip(ANSWER, 8)
    fake_model.chunk_delay = 0.04  # 200 characters a second: about 4 s in all
    assert case.ask(bot, "how do I restart the package?").status_code in (200, 204)
    first_posts(case.posts)
    assert fake_model.sent_chars < len(ANSWER), f"{case.name}: a part came before the model was done"
    bot.idle(30)
    posts = case.posts()
    assert len(posts) >= 2, posts
    shown = "\n".join(posts)
    places = [shown.find(mark) for mark in MARKS]
    assert all(shown.count(mark) == 1 for mark in MARKS), f"{case.name}: each paragraph once: {posts}"
    assert places == sorted(places), f"{case.name}: in order"
    assert "sudo synopkg restart" in shown and "sudo synopkg status" in shown
    (conversation,) = bot.runtime.store.conversations("")
    assert bot.runtime.store.history(conversation["key"])[-1]["assistant"] == ANSWER


def test_in_a_direct_message_the_posts_are_the_answer(
    make_bot: Callable[..., Bot], fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    bot = make_bot(min_part_chars=100)
    fake_model.pieces = drip(ANSWER, 8)
    fake_model.chunk_delay = 0.04
    assert bot.say("how do I restart the package?").status_code == 200
    first = fake_chat.wait_for(1, timeout=15)[0]
    assert fake_model.sent_chars < len(ANSWER)
    bot.idle(30)
    posts = fake_chat.texts()
    assert "\n\n".join(posts) == ANSWER, "nothing lost, nothing twice, the code block whole"
    assert all(post.count("```") % 2 == 0 for post in posts)
    assert first.text.startswith(PARAGRAPHS[0])


def test_in_a_channel_only_the_first_part_names_the_asker(
    make_bot: Callable[..., Bot], fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    team = "T" * 64
    bot = make_bot(
        min_part_chars=100,
        channels=[
            {"name": "team", "outgoing_token": team, "incoming_url": fake_chat.channel_url("in" + team),
             "context": "shared", "triggers": ["@ai"]}
        ],
    )  # fmt: skip
    fake_model.pieces = drip(ANSWER, 8)
    fake_model.chunk_delay = 0.04
    assert bot.in_channel(team, "@ai how do I restart it?", trigger_word="@ai").status_code == 200
    bot.idle(30)
    posts = fake_chat.texts()
    assert len(posts) >= 2 and posts[0].startswith("@alice\n" + PARAGRAPHS[0])
    assert not any("@alice" in post for post in posts[1:])
    assert "\n\n".join(posts) == "@alice\n" + ANSWER


def test_a_slow_start_brings_one_notice_and_none_when_switched_off(
    make_bot: Callable[..., Bot], fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    bot = make_bot(thinking_notice_seconds=1)
    fake_model.delay = 2.5  # a local model loading
    assert bot.say("hello?").status_code == 200
    bot.idle(30)
    assert fake_chat.texts() == ["Thinking… the model is slow; the answer follows.", "Answer to: hello?"]
    bot.set(thinking_notice_seconds=0)
    assert bot.say("again?").status_code == 200
    bot.idle(30)
    assert fake_chat.texts()[2:] == ["Answer to: again?"]
    bot.set(thinking_notice_seconds=1, language="zh")
    assert bot.say("你好，模型在吗？").status_code == 200
    bot.idle(30)
    assert fake_chat.texts()[3] == "思考中……模型较慢，回答随后就到。"


def test_kill_9_while_parts_go_out_repeats_and_loses_nothing(
    tmp_path: Path, env: dict[str, str], fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    shown = "\n\n".join(PARAGRAPHS[:2]) + "\n\n"
    released = threading.Event()

    def first_run(messages: list[dict[str, str]]) -> Iterator[str]:
        if messages[-1]["content"] == CONTINUE:
            yield from drip("\n\n".join(PARAGRAPHS[2:]), 8)(messages)
            return
        yield from drip(shown + "Charlie starts", 8)(messages)
        released.wait(30)  # the model writes on slowly; the bot is killed meanwhile

    fake_model.pieces = first_run
    fake_model.chunk_delay = 0.01
    environ = {**env, "SYNOCHATGPT_MIN_PART_CHARS": "100", "SYNOCHATGPT_THINKING_NOTICE_SECONDS": "0"}
    server = Process(tmp_path / "data", environ)
    try:
        assert server.say("how do I restart the package?", post_id=501).status_code == 200
        assert fake_chat.wait_for(1, timeout=15)[0].text == shown.rstrip()
        time.sleep(0.5)  # the post is recorded; a kill inside it is test_reliability's case
        server.stop(signal.SIGKILL)
        again = Process(tmp_path / "data", environ)
        try:
            fake_chat.wait_for(2, timeout=20)
            assert again.say("how do I restart the package?", post_id=501).json().get("duplicate") is True
            deadline = time.monotonic() + 10
            while "\n\n".join(fake_chat.texts()) != ANSWER and time.monotonic() < deadline:
                time.sleep(0.05)
            assert "\n\n".join(fake_chat.texts()) == ANSWER, fake_chat.texts()
            asked = fake_model.chat_requests()[-1]["messages"]
            assert asked[-2] == {"role": "assistant", "content": shown.rstrip()}
            assert asked[-1] == {"role": "user", "content": CONTINUE}
        finally:
            again.stop()
    finally:
        released.set()
        if server.proc.poll() is None:
            server.proc.kill()
