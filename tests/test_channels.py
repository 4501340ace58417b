"""Channels (outgoing + incoming webhooks) and slash commands, through the real server and the
fake Chat: contexts, triggers, the asker's name, tokens, and the HTTP reply of a slash command."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from app import settings
from app.platforms.synology import integrations
from tests.conftest import BOT_TOKEN, Bot
from tests.fake_openai import FakeOpenAI
from tests.fake_synology import FakeChat

TEAM = "T" * 64
OPS = "O" * 64
SLASH = "S" * 64


def channel(fake_chat: FakeChat, name: str, token: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "outgoing_token": token,
        "incoming_url": fake_chat.channel_url("in" + token),
        **extra,
    }


@pytest.fixture
def team_bot(make_bot: Callable[..., Bot], fake_chat: FakeChat) -> Bot:
    return make_bot(
        channels=[
            channel(fake_chat, "team", TEAM, context="shared", triggers=["@ai", "小助手"]),
            channel(fake_chat, "ops", OPS, context="per_user"),
        ],
        slash_tokens=[SLASH],
    )


def channel_posts(fake_chat: FakeChat, token: str) -> list[str]:
    return [p.text for p in fake_chat.posts if p.method == "incoming" and token in fake_chat.incoming_tokens]


def last_question(fake_model: FakeOpenAI) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = fake_model.chat_requests()[-1]["messages"]
    return messages


def test_a_shared_channel_answers_in_the_channel_naming_the_asker_and_keeps_one_history(
    team_bot: Bot, fake_chat: FakeChat, fake_model: FakeOpenAI
) -> None:
    answer = team_bot.in_channel(TEAM, "@ai what is RAID 5?", trigger_word="@ai")
    assert answer.status_code == 200 and "text" not in answer.json()  # the answer comes later
    team_bot.idle()
    post = fake_chat.wait_for(1)[-1]
    assert post.method == "incoming" and post.user_ids == []
    assert post.text == "@alice\nAnswer to: alice: what is RAID 5?"
    team_bot.in_channel(TEAM, "@ai and RAID 6?", user_id=5, username="bob", trigger_word="@ai")
    team_bot.idle()
    messages = last_question(fake_model)
    # One conversation for the channel: bob's question comes after alice's exchange, each named.
    assert [m["content"] for m in messages[1:]] == [
        "alice: what is RAID 5?",
        "Answer to: alice: what is RAID 5?",
        "bob: and RAID 6?",
    ]
    assert fake_chat.wait_for(2)[-1].text.startswith("@bob\n")


def test_a_per_user_channel_keeps_one_history_per_person(
    team_bot: Bot, fake_chat: FakeChat, fake_model: FakeOpenAI
) -> None:
    team_bot.in_channel(OPS, "disk 3 is failing", user_id=4, username="alice")
    team_bot.idle()
    team_bot.in_channel(OPS, "what about the UPS?", user_id=5, username="bob")
    team_bot.idle()
    assert [m["content"] for m in last_question(fake_model)[1:]] == ["what about the UPS?"]
    team_bot.in_channel(OPS, "and now?", user_id=4, username="alice")
    team_bot.idle()
    contents = [m["content"] for m in last_question(fake_model)[1:]]
    assert contents[0] == "disk 3 is failing" and contents[-1] == "and now?"
    assert len(fake_chat.wait_for(3)) == 3 and all(p.method == "incoming" for p in fake_chat.posts)


def test_trigger_words_are_stripped_and_other_messages_ignored(
    team_bot: Bot, fake_chat: FakeChat, fake_model: FakeOpenAI
) -> None:
    # Chat fires the webhook for every channel message when it has no trigger word of its own.
    ignored = team_bot.in_channel(TEAM, "lunch at noon?")
    assert ignored.status_code == 200 and ignored.json() == {"success": True}
    assert team_bot.in_channel(TEAM, "aim higher").json() == {"success": True}  # 'ai' is a word
    team_bot.in_channel(TEAM, "小助手，明天天气怎么样？")
    team_bot.idle()
    assert last_question(fake_model)[-1]["content"] == "alice: 明天天气怎么样？"
    assert len(fake_model.chat_requests()) == 1
    only_trigger = team_bot.in_channel(TEAM, "@ai", trigger_word="@ai")
    assert "write the question" in only_trigger.json()["text"].lower()


def test_a_channel_does_not_answer_its_own_posts(
    team_bot: Bot, fake_chat: FakeChat, fake_model: FakeOpenAI
) -> None:
    team_bot.in_channel(OPS, "ping")
    team_bot.idle()
    ours = fake_chat.wait_for(1)[-1].text
    echoed = team_bot.in_channel(OPS, ours, user_id=0, username="SynoChatGPT")
    assert echoed.json() == {"success": True}
    team_bot.idle()
    assert len(fake_model.chat_requests()) == 1


def test_channel_tokens_are_checked_and_a_removed_channel_stops_answering(
    team_bot: Bot, fake_chat: FakeChat
) -> None:
    assert team_bot.in_channel("X" * 64, "@ai hi", trigger_word="@ai").status_code == 403
    values = settings.resolve(team_bot.runtime.store.settings(), {})
    team_bot.set(channels=[c.to_dict() for c in values.channels if c.name != "ops"])
    assert team_bot.in_channel(OPS, "hello").status_code == 403
    assert fake_chat.posts == []


def test_channels_from_the_environment(make_bot: Callable[..., Bot], fake_chat: FakeChat) -> None:
    env = {"SYNOCHATGPT_CHANNELS": json.dumps([channel(fake_chat, "env", TEAM, context="per_user")])}
    bot = make_bot(environ=env)
    assert bot.in_channel(TEAM, "hi from env").status_code == 200
    bot.idle()
    assert fake_chat.wait_for(1)[-1].text == "@alice\nAnswer to: hi from env"


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("not json", "ch_json"),
        ('{"name": "x"}', "ch_json"),
        ('[{"outgoing_token": "t", "incoming_url": "http://n/x?method=incoming&token=a"}]', "ch_name"),
        ('[{"name": "a", "incoming_url": "http://n/x?method=incoming&token=a"}]', "ch_token"),
        (
            '[{"name": "a", "outgoing_token": "t", "incoming_url": "http://n/x?method=chatbot&token=a"}]',
            "ch_url",
        ),
        (
            '[{"name": "a", "outgoing_token": "t", "incoming_url": "ftp://n/?method=incoming&token=a"}]',
            "ch_url",
        ),
        (
            '[{"name": "a", "outgoing_token": "t", "incoming_url": "http://n/?method=incoming&token=a",'
            ' "context": "group"}]',
            "ch_context",
        ),
        (
            '[{"name": "a", "outgoing_token": "t", "incoming_url": "http://n/?method=incoming&token=a",'
            ' "triggers": ["two words"]}]',
            "ch_triggers",
        ),
        (
            '[{"name": "a", "outgoing_token": "t", "incoming_url": "http://n/?method=incoming&token=a"},'
            ' {"name": "A", "outgoing_token": "u", "incoming_url": "http://n/?method=incoming&token=b"}]',
            "ch_same_name",
        ),
        (
            '[{"name": "a", "outgoing_token": "t", "incoming_url": "http://n/?method=incoming&token=a"},'
            ' {"name": "b", "outgoing_token": "t", "incoming_url": "http://n/?method=incoming&token=b"}]',
            "ch_same_token",
        ),
    ],
)
def test_a_wrong_channel_list_is_refused_with_its_reason(raw: str, problem: str) -> None:
    with pytest.raises(settings.SettingsError) as caught:
        settings.from_environment({"SYNOCHATGPT_CHANNELS": raw})
    assert "SYNOCHATGPT_CHANNELS" in str(caught.value)
    assert settings.PROBLEMS[problem].split("{")[0].strip() in str(caught.value)


def test_slash_commands_answer_quick_ones_in_the_reply_and_questions_through_the_bot(
    team_bot: Bot, fake_chat: FakeChat, fake_model: FakeOpenAI
) -> None:
    whoami = team_bot.slash(SLASH, "/whoami", user_id=9, username="carol")
    assert whoami.status_code == 200 and "9" in whoami.json()["text"] and "carol" in whoami.json()["text"]
    assert fake_chat.posts == [] and fake_model.chat_requests() == []  # only carol saw it
    asked = team_bot.slash(SLASH, "/ask how big is a petabyte?", user_id=9, username="carol")
    assert "direct messages" in asked.json()["text"]
    team_bot.idle()
    post = fake_chat.wait_for(1)[-1]
    assert post.method == "chatbot" and post.user_ids == [9]
    assert post.text == "Answer to: how big is a petabyte?"
    # A slash command the owner named otherwise asks the rest of its text.
    team_bot.slash(SLASH, "/gpt and an exabyte?", user_id=9, username="carol")
    team_bot.idle()
    assert [m["content"] for m in last_question(fake_model)[1:]][-1] == "and an exabyte?"
    assert len(last_question(fake_model)) == 4, "the same conversation as carol's direct messages"
    assert "write the question" in team_bot.slash(SLASH, "/ask", user_id=9).json()["text"].lower()


def test_a_slash_command_with_a_wrong_token_is_refused(team_bot: Bot, fake_chat: FakeChat) -> None:
    answer = team_bot.slash("W" * 64, "/ask hi")
    assert answer.status_code == 403 and "text" not in answer.json()
    team_bot.idle()
    assert fake_chat.posts == []


def test_the_bot_token_still_works_beside_channels(team_bot: Bot, fake_chat: FakeChat) -> None:
    assert team_bot.say("plain dm", token=BOT_TOKEN).status_code == 200
    team_bot.idle()
    assert fake_chat.wait_for(1)[-1].user_ids == [4]


def test_only_a_slash_or_channel_token_configured_is_enough(make_bot: Callable[..., Bot]) -> None:
    bot = make_bot(bot_incoming_url="", slash_tokens=[SLASH])
    assert bot.slash(SLASH, "/help").json()["text"].startswith("I answer")
    assert "bot_incoming_url" in bot.slash(SLASH, "/ask hi").json()["text"]


def test_identify_compares_every_token() -> None:
    team = integrations.Channel("team", TEAM, "http://n/?method=incoming&token=x")
    assert integrations.identify(TEAM, BOT_TOKEN, [team], [SLASH]).channel == team  # type: ignore[union-attr]
    assert integrations.identify(SLASH, BOT_TOKEN, [team], [SLASH]) == integrations.Integration("slash")
    assert integrations.identify(BOT_TOKEN, BOT_TOKEN, [team], [SLASH]) == integrations.Integration("bot")
    assert integrations.identify("", "", [team], []) is None
