"""Issue 13, unauthenticated input and identity: each request here made 0.1.0 answer 500 (with
a traceback in the log), answer twice, or mix two people up. All run through the real server."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from app import export, limits, settings
from app.store import StoreError
from tests.conftest import BOT_TOKEN, Bot
from tests.fake_synology import FakeChat
from tests.test_access import dm
from tests.test_process import Process, run_app
from tests.webclient import WebClient

NESTED = "[" * 50_000 + "]" * 50_000


def _no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not errors, [r.getMessage() for r in errors]


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ({"token": BOT_TOKEN, "user_id": "²", "text": "hi"}, None),  # isdigit() but not int()
        ({"token": BOT_TOKEN, "user_id": "٤", "text": "hi"}, None),  # an Arabic-Indic four
        ('{"token": "\\ud800", "user_id": "4", "text": "hi"}', "application/json"),
        (f'{{"token": "{BOT_TOKEN}", "user_id": "4", "text": {NESTED}}}', "application/json"),
        ({"payload": '{"token": "x", "actions": ' + NESTED + "}"}, None),
        (
            f'{{"token": "{BOT_TOKEN}", "user_id": "4", "username": "\\udc80", "text": "hi"}}',
            "application/json",
        ),
        (f'{{"token": "{BOT_TOKEN}", "user_id": "4", "text": "hi \\ud83d"}}', "application/json"),
    ],
    ids=[
        "superscript-id",
        "arabic-digit-id",
        "surrogate-token",
        "nested-json",
        "nested-payload",
        "surrogate-name",
        "surrogate-text",
    ],
)
def test_bad_input_gets_400_not_500(
    bot: Bot, fake_chat: FakeChat, caplog: pytest.LogCaptureFixture, body: object, content_type: str | None
) -> None:
    caplog.set_level(logging.INFO)
    headers = {"Content-Type": content_type} if content_type else {}
    answer = bot.post(body, headers=headers)
    assert answer.status_code == 400, answer.text
    assert answer.json()["success"] is False
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    _no_traceback(caplog)
    bot.idle()
    assert fake_chat.posts == []
    assert bot.say("still here?").status_code == 200  # and the server still answers


@pytest.mark.parametrize("entry", ["²", "1²", "٣"])
@pytest.mark.parametrize("name", ["blocked_users", "allowed_users", "admin_users"])
def test_list_entries_that_are_not_plain_digits_are_refused(name: str, entry: str) -> None:
    with pytest.raises(settings.SettingsError):
        settings.validate({name: f"alice, {entry}"})


def test_a_hand_edited_list_entry_does_not_break_every_webhook(
    make_bot: Callable[..., Bot], fake_chat: FakeChat, caplog: pytest.LogCaptureFixture
) -> None:
    bot = make_bot()
    bot.set(blocked_users=["²"], admin_users=["٣"], allowed_users=["x" * 5000])  # as if edited by hand
    answer = bot.say("hello")
    assert answer.status_code == 200, answer.text
    bot.idle()
    assert fake_chat.posts, "the message was not answered"
    _no_traceback(caplog)


@pytest.mark.parametrize("ids", ["²", "9" * 4301, "-1", "4,²,5"])
def test_people_form_with_odd_ids(admin: WebClient, ids: str, caplog: pytest.LogCaptureFixture) -> None:
    answer = admin.post("/people", {"ids": ids, "daily_tokens-4": "10"})
    assert answer.status_code in (303, 400), answer.text[:300]
    _no_traceback(caplog)


def test_names_match_exactly_and_only_ascii_ignores_case() -> None:
    assert limits.listed(["Alice"], "synology:9", "alice")
    assert limits.listed(["@BOB"], "synology:9", "bob") is False  # the @ is dropped when settings are parsed
    assert limits.listed(["boßman"], "synology:9", "bossman") is False
    assert limits.listed(["BOSSMAN"], "synology:9", "boßman") is False
    assert limits.listed(["ǅemal"], "synology:9", "ǆemal") is False  # no Unicode case folding
    assert limits.listed(["ÉLODIE"], "synology:9", "élodie") is False
    assert limits.listed(["élodie"], "synology:9", "élodie")


def test_casefold_lookalike_is_not_an_admin(make_bot: Callable[..., Bot], fake_chat: FakeChat) -> None:
    bot = make_bot(admin_users=["boßman"])
    assert (
        dm(bot, fake_chat, "/pause", user_id=77, username="bossman")
        == "Only the bot's admins can use /pause."
    )
    assert dm(bot, fake_chat, "/pause", user_id=78, username="boßman").startswith("Paused")


def test_refused_webhooks_do_not_show_claimed_names(admin_bot: Bot, admin: WebClient) -> None:
    answer = admin_bot.say("hi", token="W" * 64, user_id=31337, username="EvilClaimedName")
    assert answer.status_code in (401, 403)
    page = admin.get("/").text
    assert "EvilClaimedName" not in page
    assert "31337" not in page


def test_export_folders_never_shared() -> None:
    folders = {
        export.folder_for("../../x", "synology:4"),
        export.folder_for("x", "synology:5"),
        export.folder_for("301", "synology:6"),
        export.folder_for("", "synology:301"),
        export.folder_for("alice-", "synology:5"),
        export.folder_for("alice", "web:alice"),
        export.folder_for("", "web:x"),
    }
    assert len(folders) == 7
    for folder in folders:
        assert "/" not in folder and folder not in (".", "..") and not folder.startswith(".")


def test_export_of_a_crafted_name_lands_in_its_own_folder(
    make_bot: Callable[..., Bot], fake_chat: FakeChat, tmp_path: Path
) -> None:
    root = tmp_path / "exports"
    root.mkdir()
    bot = make_bot(export_dir=str(root))
    for user_id, name in ((4, "../../x"), (5, "x"), (6, "301"), (301, "")):
        bot.say("hello", user_id=user_id, username=name)
        bot.idle()
        bot.say("/export", user_id=user_id, username=name)
        bot.idle()
    folders = sorted(p.name for p in root.iterdir())
    assert len(folders) == 4, folders
    assert all(len(list((root / f).iterdir())) == 1 for f in folders)


# -- two servers on one data folder ----------------------------------------------------------


def test_a_second_server_on_the_same_folder_is_refused(bot: Bot) -> None:
    second = bot.make()
    with pytest.raises(StoreError) as refused:
        second.start()
    assert str(bot.data_dir.resolve()) in str(refused.value)
    assert "another" in str(refused.value)
    assert bot.say("hello").status_code == 200  # the first one goes on


def test_a_second_process_exits_with_a_message_and_answers_nothing(
    tmp_path: Path, fake_chat: FakeChat, env: dict[str, str]
) -> None:
    data = tmp_path / "data"
    full = {**env, "SYNOCHATGPT_BOT_TOKEN": BOT_TOKEN}
    first = Process(data, full)
    try:
        second = run_app("serve", "--port", "0", "--data-dir", str(data), extra=full)
        assert second.returncode != 0
        assert str(data.resolve()) in second.stderr, second.stderr
        assert first.say("hi", post_id=9).status_code == 200
        deadline = time.monotonic() + 15
        while not fake_chat.posts and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        assert len(fake_chat.posts) == 1
    finally:
        first.stop()


def test_jobs_resume_only_after_the_port_is_bound(bot: Bot, fake_chat: FakeChat) -> None:
    """A server that cannot bind its port must not answer the stored jobs of the one that can."""
    bot.runtime.store.add_job(
        {
            "id": "j1",
            "lane": "dm-4",
            "conversation": "dm-4",
            "person": "synology:4",
            "username": "a",
            "text": "hi",
        }
    )
    bot.set(model="echo")  # answers at once, so a resumed job would be posted within the wait
    runtime = bot.make()
    runtime.server._server.bind_addr = ("203.0.113.1", 1)
    bot.runtime.stop()
    with pytest.raises((OSError, StoreError)):
        runtime.start()
    time.sleep(1.5)
    assert fake_chat.posts == []
    assert json.loads((bot.data_dir / "jobs" / "j1.json").read_text())["text"] == "hi"
