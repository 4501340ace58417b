"""People are strings namespaced by platform: lists take "synology:4" and "web:mei" beside bare
Synology ids and user names; each person has a file of their own; conversations say what they
are in their meta, and /forget goes by it; a 0.1.0 folder is migrated once, and a stop half way
through the migration is finished by the next start."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from app import conversations, limits, migrate, people
from app.store import Store
from tests.conftest import Bot
from tests.fake_synology import FakeChat
from tests.test_access import dm, refused
from tests.test_channels import channel

FIXTURE = Path(__file__).parent / "fixtures" / "data-0.1.0"
# The fixture's web chat accounts and channels (its MANIFEST.md): numbers as 0.1.0 gave them.
WEB_ACCOUNTS = {-724127204: "wendy", -121554404: "walter"}
CHANNELS = ["team", "help"]


def test_a_person_is_one_string_and_lists_take_every_form() -> None:
    assert people.from_entry("4") == people.from_entry("synology:4") == "synology:4"
    assert people.from_entry("0004") == "synology:4", "a bare number is read as Chat's id"
    assert people.from_entry("QQ:12345678") == "qq:12345678", "the platform's case does not matter"
    assert people.from_entry("dingtalk:manager4521") == "dingtalk:manager4521"
    for not_an_id in ("alice", "9" * 19, ":4", "synology:", "a b:4", "ꝗq:1"):
        assert people.from_entry(not_an_id) is None, not_an_id
    assert limits.listed(["synology:4"], "synology:4", "")
    assert limits.listed(["4"], "synology:4", "")
    assert not limits.listed(["4"], "qq:4", ""), "a bare number is never another platform's id"
    assert not limits.listed(["qq:4"], "synology:4", "")
    assert limits.listed(["web:mei"], "web:mei", "mei")
    assert limits.listed(["Mei"], "web:mei", "mei"), "web chat names are accounts: a name works"
    assert not limits.listed(["mei"], "qq:777", "mei"), "a QQ nickname is anyone's to choose"


@pytest.mark.parametrize(
    "person",
    ["synology:4", "web:mei", "web:王小明", "web:../x", "qq:12345678", "dingtalk:$:abc", "web:#5"],
)
def test_each_person_has_a_file_of_their_own(person: str, tmp_path: Path) -> None:
    stem = people.file_stem(person)
    assert "/" not in stem and not stem.startswith(".")
    assert people.from_stem(stem) == person
    store = Store(tmp_path)
    store.add_usage(person, "2026-12-02", 3, 4)
    assert [p["person"] for p in store.people()] == [person]
    assert list((tmp_path / "users").iterdir()) == [tmp_path / "users" / f"{stem}.json"]


def test_namespaced_ids_work_in_every_list(make_bot: Callable[..., Bot], fake_chat: FakeChat) -> None:
    bot = make_bot(
        access="listed",
        allowed_users=["synology:5", "6"],
        blocked_users=["SYNOLOGY:6"],
        admin_users=["synology:9"],
    )
    assert dm(bot, fake_chat, "allowed by a namespaced id", user_id=5, username="bob").startswith("Answer to")
    assert (
        refused(bot, "blocked by one", user_id=6, username="carol")
        == "Sorry, this bot is not available to you."
    )
    assert "your Synology Chat user id is 7" in refused(bot, "not listed", user_id=7, username="dave")
    assert dm(bot, fake_chat, "/pause", user_id=5, username="bob") == "Only the bot's admins can use /pause."
    assert dm(bot, fake_chat, "/pause", user_id=9, username="erin").startswith("Paused")


def test_forget_goes_by_what_each_conversation_is(make_bot: Callable[..., Bot], fake_chat: FakeChat) -> None:
    bot = make_bot(
        channels=[
            channel(fake_chat, "team", "T" * 30, context="shared"),
            channel(fake_chat, "help", "H" * 30, context="per_user"),
        ]
    )
    store = bot.runtime.store
    for user, name in ((4, "alice"), (5, "bob")):
        dm(bot, fake_chat, f"{name} in private", user_id=user, username=name)
        for token in ("T" * 30, "H" * 30):
            before = len(fake_chat.posts)
            assert (
                bot.in_channel(token, f"{name} in a channel", user_id=user, username=name).status_code == 200
            )
            bot.idle()
            fake_chat.wait_for(before + 1)
    kinds = {c["key"]: c["meta"] for c in store.conversations("")}
    assert kinds["dm-4"] == conversations.meta("synology:4")
    shared = [k for k, m in kinds.items() if conversations.is_shared(m)]
    assert len(shared) == 1 and kinds[shared[0]]["channel"] == "team"
    help_alice = next(
        k for k, m in kinds.items() if m.get("channel") == "help" and m.get("person") == "synology:4"
    )
    assert "deleted 3 stored exchanges" in dm(bot, fake_chat, "/forget", user_id=4)
    left = {c["key"] for c in store.conversations("")}
    assert "dm-4" not in left and help_alice not in left and "dm-5" in left
    assert [e["name"] for e in store.history(shared[0])] == ["bob"], "bob's words in the channel stay"


def copy_fixture(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(FIXTURE, data, ignore=shutil.ignore_patterns("MANIFEST.md"))
    return data


def test_a_0_1_0_folder_is_migrated_once(tmp_path: Path) -> None:
    data = copy_fixture(tmp_path)
    assert migrate.upgrade(data, WEB_ACCOUNTS, CHANNELS) > 0
    users = sorted(p.name for p in (data / "users").iterdir())
    assert users == [
        "synology.10.json",
        "synology.4.json",
        "synology.5.json",
        "synology.6.json",
        "synology.9.json",
        "web.admin.json",
        "web.walter.json",
        "web.wendy.json",
    ]
    store = Store(data)
    jobs = store.pending_jobs()
    assert jobs and all(people.platform(j["person"]) == "synology" and "user_id" not in j for j in jobs)
    metas = {c["key"]: c["meta"] for c in store.conversations("")}
    assert metas["dm-4"]["person"] == "synology:4" and metas["dm-4"]["persona"] == "You are a storage expert."
    assert metas["ch-ca8b22d0db83a22d"] == conversations.meta("", platform="synology", channel="team")
    assert metas["ch-106a5842fc5fce6f-u6"] == conversations.meta("synology:6", channel="help")
    assert metas["web724127204-wendychat0001"]["person"] == "web:wendy"
    assert metas["web1-adminchat0001"]["person"] == people.WEB_ADMIN
    uids = {e["uid"] for e in store.history("ch-ca8b22d0db83a22d")}
    assert uids == {"synology:5", "synology:6"}
    snapshot = {p: p.read_bytes() for p in data.rglob("*") if p.is_file()}
    assert migrate.upgrade(data, WEB_ACCOUNTS, CHANNELS) == 0
    assert {p: p.read_bytes() for p in data.rglob("*") if p.is_file()} == snapshot, (
        "the second start rewrites nothing"
    )


def test_a_stop_half_way_through_the_migration_is_finished_next_time(tmp_path: Path) -> None:
    whole = copy_fixture(tmp_path / "whole")
    migrate.upgrade(whole, WEB_ACCOUNTS, CHANNELS)
    half = copy_fixture(tmp_path / "half")
    # As a stop after the people's files were renamed and one job rewritten would leave it.
    migrate._users(half / "users", migrate._Old(WEB_ACCOUNTS, CHANNELS))
    job = next(p for p in sorted((half / "jobs").glob("*.json")))
    data = json.loads(job.read_text())
    data["person"] = people.of("synology", data.pop("user_id"))
    data["shared"] = False
    job.write_text(json.dumps(data))
    migrate.upgrade(half, WEB_ACCOUNTS, CHANNELS)

    def contents(root: Path) -> dict[str, object]:
        return {
            str(p.relative_to(root)): json.loads(p.read_text()) if p.suffix == ".json" else p.read_bytes()
            for p in root.rglob("*")
            if p.is_file()
        }

    assert contents(half) == contents(whole)


def test_a_removed_web_account_keeps_its_own_files(tmp_path: Path) -> None:
    data = copy_fixture(tmp_path)
    migrate.upgrade(data, {-724127204: "wendy"}, CHANNELS)  # walter was removed before the upgrade
    assert (data / "users" / f"{people.file_stem('web:#121554404')}.json").exists()
    assert Store(data).conversation_meta("web121554404-walterchat001")["person"] == "web:#121554404"
