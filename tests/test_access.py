"""Who may chat and how much, through the real server and the fakes: allow- and block-lists,
admins and their commands, pause, each rate limit and quota and its reset, /export, /forget."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from app import settings
from tests.conftest import Bot, FakeClock
from tests.fake_openai import FakeOpenAI
from tests.fake_synology import FakeChat

ADMIN = 1


def dm(bot: Bot, chat: FakeChat, text: str, user_id: int = 4, username: str = "alice") -> str:
    """A direct message and the bot's whole answer to it."""
    before = len(chat.posts)
    answer = bot.say(text, user_id=user_id, username=username)
    assert answer.status_code == 200 and "text" not in answer.json(), answer.text
    bot.idle()
    return "\n".join(p.text for p in chat.wait_for(before + 1)[before:])


def refused(bot: Bot, text: str, user_id: int = 4, username: str = "alice") -> str:
    """A message answered at once in the HTTP reply (refused or limited); '' when silent."""
    answer = bot.say(text, user_id=user_id, username=username)
    assert answer.status_code == 200
    text_: str = answer.json().get("text", "")
    return text_


# -- access --------------------------------------------------------------------------------------


def test_unknown_people_are_refused_politely_once_an_hour(
    make_bot: Callable[..., Bot], fake_chat: FakeChat, fake_model: FakeOpenAI
) -> None:
    clock = FakeClock()
    bot = make_bot(access="listed", allowed_users=["4"], admin_users=["boss"], clock=clock)
    first = refused(bot, "hello?", user_id=5, username="mallory")
    assert "only answers the people its admin has allowed" in first and "5" in first
    assert refused(bot, "hello??", user_id=5, username="mallory") == ""  # not a flood
    assert "抱歉" in refused(bot, "你好", user_id=6, username="eve")  # in their language
    clock.advance(3601)
    assert refused(bot, "still no?", user_id=5, username="mallory")
    assert dm(bot, fake_chat, "I am listed", user_id=4) == "Answer to: I am listed"
    assert dm(bot, fake_chat, "admins may too", user_id=9, username="Boss") == "Answer to: admins may too"
    assert len(fake_model.chat_requests()) == 2


def test_the_block_list_wins_even_over_admin_and_matches_names_in_any_case(
    make_bot: Callable[..., Bot], fake_model: FakeOpenAI
) -> None:
    bot = make_bot(blocked_users=["Bob", "77"], admin_users=["77"])
    assert refused(bot, "hi", user_id=5, username="bob") == "Sorry, this bot is not available to you."
    assert refused(bot, "hi", user_id=77, username="root")
    bot.idle()
    assert fake_model.chat_requests() == []


def test_admin_commands_are_refused_to_others_and_change_nothing(
    make_bot: Callable[..., Bot], fake_chat: FakeChat
) -> None:
    bot = make_bot(admin_users=[str(ADMIN)])
    for command in ("/model gpt-x", "/persona Talk like a pirate", "/pause", "/resume"):
        name = command.split()[0]
        assert dm(bot, fake_chat, command) == f"Only the bot's admins can use {name}."
    stored = bot.runtime.store.settings()
    assert stored["model"] == "fake-model" and "paused" not in stored
    assert bot.runtime.store.conversation_meta("dm-4") == {}
    assert "Admin commands" not in dm(bot, fake_chat, "/help")
    assert "Admin commands" in dm(bot, fake_chat, "/help", user_id=ADMIN)


def test_an_admin_switches_the_model_for_everyone(
    make_bot: Callable[..., Bot], fake_chat: FakeChat, fake_model: FakeOpenAI
) -> None:
    bot = make_bot(admin_users=[str(ADMIN)])
    assert dm(bot, fake_chat, "/model fake-small", user_id=ADMIN) == (
        "From now on I answer everyone with the model fake-small."
    )
    dm(bot, fake_chat, "which model?", user_id=4)
    assert fake_model.chat_requests()[-1]["model"] == "fake-small"
    assert dm(bot, fake_chat, "/model") == "I answer with the model fake-small."


def test_a_model_fixed_by_the_environment_is_not_switched(
    make_bot: Callable[..., Bot], fake_chat: FakeChat
) -> None:
    bot = make_bot(environ={"SYNOCHATGPT_MODEL": "fake-model"}, admin_users=[str(ADMIN)])
    answer = dm(bot, fake_chat, "/model other", user_id=ADMIN)
    assert "SYNOCHATGPT_MODEL" in answer


def test_persona_is_per_conversation_and_resets(
    make_bot: Callable[..., Bot], fake_chat: FakeChat, fake_model: FakeOpenAI
) -> None:
    bot = make_bot(admin_users=[str(ADMIN)], system_prompt="Default prompt.")
    assert "New instructions" in dm(bot, fake_chat, "/persona You are a pirate.", user_id=ADMIN)
    dm(bot, fake_chat, "hello", user_id=ADMIN)
    assert fake_model.chat_requests()[-1]["messages"][0] == {"role": "system", "content": "You are a pirate."}
    dm(bot, fake_chat, "hello", user_id=4)
    assert fake_model.chat_requests()[-1]["messages"][0]["content"] == "Default prompt."
    dm(bot, fake_chat, "/new", user_id=ADMIN)  # a new conversation keeps its instructions
    assert "pirate" in dm(bot, fake_chat, "/persona", user_id=ADMIN)
    dm(bot, fake_chat, "/persona reset", user_id=ADMIN)
    dm(bot, fake_chat, "hello again", user_id=ADMIN)
    assert fake_model.chat_requests()[-1]["messages"][0]["content"] == "Default prompt."
    too_long = dm(bot, fake_chat, "/persona " + "x" * 4001, user_id=ADMIN)
    assert "too long" in too_long


def test_pause_answers_only_admins_until_resume(
    make_bot: Callable[..., Bot], fake_chat: FakeChat, fake_model: FakeOpenAI
) -> None:
    bot = make_bot(admin_users=[str(ADMIN)])
    assert dm(bot, fake_chat, "/pause", user_id=ADMIN).startswith("Paused")
    assert "paused by its admin" in refused(bot, "anyone there?")
    assert refused(bot, "hello?") == ""  # told once
    assert dm(bot, fake_chat, "admin question", user_id=ADMIN) == "Answer to: admin question"
    assert dm(bot, fake_chat, "/resume", user_id=ADMIN).startswith("Resumed")
    assert dm(bot, fake_chat, "back?") == "Answer to: back?"
    assert len(fake_model.chat_requests()) == 2


# -- limits --------------------------------------------------------------------------------------


def test_minimum_interval_between_questions_and_its_reset(
    make_bot: Callable[..., Bot], fake_chat: FakeChat
) -> None:
    clock = FakeClock()
    bot = make_bot(min_interval=30, admin_users=[str(ADMIN)], clock=clock)
    dm(bot, fake_chat, "first")
    told = refused(bot, "second")
    assert told.startswith("Please wait") and "one question every 30 seconds" in told
    assert dm(bot, fake_chat, "/usage").startswith("Tokens used today")  # commands are not questions
    assert dm(bot, fake_chat, "other person", user_id=5) == "Answer to: other person"
    dm(bot, fake_chat, "admin", user_id=ADMIN)
    dm(bot, fake_chat, "admin again", user_id=ADMIN)  # admins are not limited
    clock.advance(31)
    assert dm(bot, fake_chat, "third") == "Answer to: third"


def test_questions_per_minute_and_its_reset(make_bot: Callable[..., Bot], fake_chat: FakeChat) -> None:
    clock = FakeClock()
    bot = make_bot(questions_per_minute=2, clock=clock)
    dm(bot, fake_chat, "one")
    dm(bot, fake_chat, "two")
    told = refused(bot, "three")
    assert "2 questions in the last minute" in told and "again in" in told
    clock.advance(61)
    assert dm(bot, fake_chat, "three") == "Answer to: three"


def test_a_repeated_delivery_is_not_a_second_question(
    make_bot: Callable[..., Bot], fake_chat: FakeChat
) -> None:
    bot = make_bot(min_interval=60)
    first = bot.say("once", post_id=123)
    again = bot.say("once", post_id=123)
    assert first.json() == {"success": True}
    assert again.json() == {"success": True, "duplicate": True}


def test_daily_quota_is_told_with_its_reset_and_resets_at_midnight(
    make_bot: Callable[..., Bot], fake_chat: FakeChat, fake_model: FakeOpenAI
) -> None:
    clock = FakeClock()
    bot = make_bot(daily_tokens=20, admin_users=[str(ADMIN)], clock=clock)
    dm(bot, fake_chat, "a question that costs more than twenty tokens " * 3)
    told = dm(bot, fake_chat, "another")
    assert told.startswith("You have used today's quota of 20 tokens") and "resets at midnight" in told
    assert len(fake_model.chat_requests()) == 1
    assert "20 tokens a day" in dm(bot, fake_chat, "/usage")
    assert dm(bot, fake_chat, "admin " * 30, user_id=ADMIN).startswith("Answer to")
    assert dm(bot, fake_chat, "admin " * 30, user_id=ADMIN).startswith("Answer to")
    now = datetime.datetime.fromtimestamp(clock.wall())
    midnight = datetime.datetime.combine(now.date() + datetime.timedelta(days=1), datetime.time())
    clock.advance((midnight - now).total_seconds() + 1)
    assert dm(bot, fake_chat, "a new day") == "Answer to: a new day"


def test_monthly_quota_and_a_personal_quota_from_the_profile(
    make_bot: Callable[..., Bot], fake_chat: FakeChat
) -> None:
    clock = FakeClock()
    bot = make_bot(monthly_tokens=20, clock=clock)
    dm(bot, fake_chat, "spend " * 40)
    told = dm(bot, fake_chat, "more")
    now = datetime.datetime.fromtimestamp(clock.wall()).date()
    first = (now.replace(day=1) + datetime.timedelta(days=32)).replace(day=1)
    assert told == f"You have used this month's quota of 20 tokens. It resets on {first.isoformat()}."
    bot.runtime.store.update_user("synology:4", limits={"monthly_tokens": 0})  # set on the settings page
    assert dm(bot, fake_chat, "unlimited now") == "Answer to: unlimited now"
    bot.runtime.store.update_user("synology:5", limits={"daily_tokens": 1, "monthly_tokens": 0})
    dm(bot, fake_chat, "five", user_id=5)
    assert "today's quota of 1 tokens" in dm(bot, fake_chat, "five again", user_id=5)


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("min_interval", "-1"),
        ("questions_per_minute", "ten"),
        ("daily_tokens", "1.5"),
        ("access", "friends"),
        ("allowed_users", "bob smith"),
        ("slash_tokens", "a b"),
        ("paused", "maybe"),
    ],
)
def test_a_wrong_limit_or_list_from_the_environment_stops_the_start(name: str, raw: str) -> None:
    with pytest.raises(settings.SettingsError) as caught:
        settings.from_environment({f"SYNOCHATGPT_{name.upper()}": raw})
    assert f"SYNOCHATGPT_{name.upper()}" in str(caught.value)


def test_lists_accept_commas_new_lines_and_at_signs() -> None:
    values = settings.from_environment({"SYNOCHATGPT_ALLOWED_USERS": "4, @bob\n张三；4"})
    assert values["allowed_users"] == ("4", "bob", "张三")


# -- export and forget -------------------------------------------------------------------------------


def test_export_writes_markdown_and_attaches_it(
    make_bot: Callable[..., Bot], fake_chat: FakeChat, tmp_path: Path
) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    bot = make_bot(export_dir=str(folder))
    dm(bot, fake_chat, "用中文回答")
    dm(bot, fake_chat, "What is **RAID**?")
    answer = dm(bot, fake_chat, "/export")
    [saved] = list((folder / "4-alice").glob("chat-*-dm-4.md"))
    assert f"saved as {saved}" in answer and "attached as a Markdown file" in answer
    text = saved.read_text(encoding="utf-8")
    assert text.startswith("# SynoChatGPT: alice\n")
    assert "## alice · " in text and "What is **RAID**?" in text and "Answer to: 用中文回答" in text
    assert oct(saved.stat().st_mode & 0o777) == "0o640"
    post = fake_chat.posts[-1]
    assert post.file is not None and post.file.decode() == text, "Chat fetched the same file"
    fetched = requests.get(post.file_url, timeout=5)
    assert fetched.status_code == 200 and fetched.content == post.file
    # The attachment's own type, carried from the command through the job: not guessed from
    # the name, never text/html.
    assert fetched.headers["Content-Type"] == "text/markdown; charset=utf-8"
    wrong = post.file_url.rsplit("/", 2)[0] + "/other.md"
    assert requests.get(wrong, timeout=5).status_code == 404


def test_export_without_a_folder_or_a_reachable_link(
    make_bot: Callable[..., Bot], fake_chat: FakeChat, tmp_path: Path
) -> None:
    bot = make_bot(export_dir=str(tmp_path / "missing"))
    assert dm(bot, fake_chat, "/export") == "There is nothing to export yet: this conversation is empty."
    dm(bot, fake_chat, "hello")
    fake_chat.script.append({"code": 117})  # Chat could not download the file
    answer = dm(bot, fake_chat, "/export")
    assert "could not save the export" in answer and "does not exist" in answer
    assert "could not fetch the file" in answer
    assert fake_chat.posts[-1].file is None


def test_forget_deletes_the_persons_history_everywhere_but_keeps_usage(
    make_bot: Callable[..., Bot], fake_chat: FakeChat, fake_model: FakeOpenAI
) -> None:
    token = "T" * 64
    channels = [
        {
            "name": "team",
            "outgoing_token": token,
            "incoming_url": fake_chat.channel_url("in"),
            "context": "shared",
        }
    ]
    bot = make_bot(channels=channels)
    dm(bot, fake_chat, "my secret plan")
    for user, name in ((4, "alice"), (5, "bob")):
        bot.in_channel(token, f"channel words of {name}", user_id=user, username=name)
        bot.idle()
    store = bot.runtime.store
    usage_before = store.usage("synology:4")
    assert "deleted 2 stored exchanges" in dm(bot, fake_chat, "/forget")
    assert store.history("dm-4") == []
    shared = next((bot.data_dir / "conversations").glob("ch-*.json"))
    remaining = json.loads(shared.read_text())["_default"]
    assert [e["name"] for e in remaining.values()] == ["bob"]
    assert store.usage("synology:4") == usage_before
    assert dm(bot, fake_chat, "/forget") == "I had nothing stored from your conversations."
    dm(bot, fake_chat, "what was my plan?")
    assert "my secret plan" not in json.dumps(fake_model.chat_requests()[-1])
