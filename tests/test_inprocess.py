"""The core through the in-process layer (tests/inprocess.py): what every platform gets from the
gate, the bot and the commands, without any platform's HTTP in between."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app import text
from tests.fake_openai import FakeOpenAI
from tests.inprocess import Core

CODE = "\n".join(f"print({n})  # a line of code" for n in range(12))
FENCED = f"Intro line.\n\n```python\n{CODE}\n```\n\nEnd."


@pytest.fixture
def core(tmp_path: Path, fake_model: FakeOpenAI) -> Iterator[Core]:
    found = Core(tmp_path / "data", fake_model.url, fake_model.api_key or "")
    yield found
    found.close()


def test_a_question_is_answered_in_posts_within_the_platforms_limit(
    core: Core, fake_model: FakeOpenAI
) -> None:
    fake_model.reply = lambda messages: FENCED
    outcome = core.say("ann", "show me code")
    assert outcome.reason == "accepted" and outcome.job is not None
    posts = core.platform.wait_for(2)
    core.idle()
    parts = [part for _, part in core.platform.posts]
    assert len(parts) > 1 and all(text.size(p) <= core.platform.limits.chars for p in parts)
    assert all(p.count("```") % 2 == 0 for p in parts), "a code fence is closed and re-opened"
    assert {where for where, _ in posts} == {"memory:ann"}
    # The conversation says what it is: the platform's, one person's.
    meta = core.store.conversation_meta("memory-ann")
    assert (meta["platform"], meta["scope"], meta["person"]) == ("memory", "person", "memory:ann")


def test_a_paused_bot_refuses_everyone_but_admins_without_asking_the_model(
    core: Core, fake_model: FakeOpenAI
) -> None:
    core.set(paused=True, admin_users=["memory:boss"])
    refused = core.say("ann", "hello?")
    assert (refused.reason, refused.job) == ("paused", None) and refused.text
    assert core.say("ann", "still there?").text == "", "the notice is said once, not per message"
    assert core.say("boss", "hello").reason == "accepted"
    core.platform.wait_for(1)
    core.idle()
    assert len(fake_model.chat_requests()) == 1
    assert [where for where, _ in core.platform.posts] == ["memory:boss"]


def test_namespaced_people_on_every_list(core: Core) -> None:
    core.set(blocked_users=["memory:mallory"])
    assert core.say("mallory", "hi").reason == "refused"
    assert core.say("ann", "hi").reason == "accepted"
    # A bare number is a Synology Chat id: it never names a person of another platform.
    core.set(access="listed", blocked_users=["7"], allowed_users=["memory:ann", "MEMORY:bob"])
    assert core.say("7", "hi").reason == "refused", "not on the allow list"
    assert core.say("bob", "hi").reason == "accepted", "the platform part is not case-sensitive"
    core.idle()


def test_export_reaches_the_platform_as_a_neutral_attachment(core: Core, fake_model: FakeOpenAI) -> None:
    fake_model.reply = lambda messages: "Forty-two."
    core.say("ann", "what is the answer?")
    core.platform.wait_for(1)
    core.idle()
    core.say("ann", "/export")
    core.idle()
    assert len(core.platform.files) == 1
    found = core.platform.files[0]
    assert found.mime == "text/markdown; charset=utf-8" and found.name.endswith(".md")
    body = found.content.decode()
    assert "what is the answer?" in body and "Forty-two." in body


def test_a_redelivered_message_is_answered_once(core: Core) -> None:
    assert core.say("ann", "once", dedupe="post-1").reason == "accepted"
    core.idle()
    again = core.gate.receive(core.message("ann", "once", dedupe="post-1"), core.values())
    assert again.job is not None and core.queue.accept(again.job) != "accepted"
    core.idle()
    assert len(core.platform.posts) == 1
