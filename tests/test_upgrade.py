"""Upgrading from 0.1.0: the current code, started as `python -m app` on a data folder that
release 0.1.0 wrote (tests/fixtures/data-0.1.0, made by tests/make_upgrade_fixture.py; its
MANIFEST.md lists what is in it), keeps every item. Each one is checked the way a person
would notice it was lost: an answer that never comes, history the model no longer gets, a
setting the page no longer shows, a quota or a block-list that no longer holds, a web chat that
is gone. Nothing here reads the stored format, which is about to change; only the fixture,
which 0.1.0 wrote and which never changes, is read to prepare its copy."""

from __future__ import annotations

import contextlib
import datetime
import html
import json
import re
import shutil
import signal
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from app import i18n
from tests.fake_openai import FakeOpenAI
from tests.fake_synology import FakeChat, Post

# The values tests/make_upgrade_fixture.py gave 0.1.0 (see the fixture's MANIFEST.md).
from tests.make_upgrade_fixture import (
    ALICE,
    BOB,
    BOT_TOKEN,
    CAROL,
    ERIN,
    FRANK,
    HELP_INCOMING,
    HELP_TOKEN,
    PERSONA,
    PLACEHOLDERS,
    SLASH_TOKEN,
    SYSTEM_PROMPT,
    TEAM_INCOMING,
    TEAM_TOKEN,
    WALTER_PASSWORD,
    WENDY_PASSWORD,
    message,
    ports_of,
    start_fakes,
)
from tests.test_process import Process
from tests.webclient import ADMIN_PASSWORD, WebClient

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "data-0.1.0"
MALLORY, EVE, TRENT = 66, 77, 99

# The settings page's fields as 0.1.0 was given them (numbers compared as numbers).
PAGE_FIELDS = {
    "model": "fake-model",
    "temperature": 0.3,
    "system_prompt": SYSTEM_PROMPT,
    "context_tokens": 6000,
    "request_timeout": 20,
    "max_retries": 1,
    "language": "en",
    "access": "listed",
    "allowed_users": "5\ncarol\n10\nwendy\nwalter",
    "blocked_users": "77\nmallory",
    "admin_users": "4\nerin",
    "questions_per_minute": 30,
    "daily_tokens": 0,
    "monthly_tokens": 900000,
    "strip_thinking": "true",
    "ch-0-name": "team",
    "ch-0-context": "shared",
    "ch-0-triggers": "@ai",
    "ch-1-name": "help",
    "ch-1-context": "per_user",
    "ch-1-triggers": "",
}
SECRETS_SET = ("openai_api_key", "bot_incoming_url", "bot_token", "admin_password")


def answer_to(messages: list[dict[str, str]]) -> str:
    return f"Answer to: {messages[-1]['content']}"


@pytest.fixture
def fakes() -> Iterator[dict[str, Any]]:
    servers = start_fakes()
    servers["team"].channel_url(TEAM_INCOMING)  # registers the channel's incoming token
    servers["help"].channel_url(HELP_INCOMING)
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture
def start() -> Iterator[Callable[[Path], Process]]:
    """Starts the current code on a data folder; whatever is still running at the end is killed."""
    with contextlib.ExitStack() as running:

        def started(data: Path) -> Process:
            process = Process(data, {})
            running.callback(process.proc.wait)
            running.callback(process.proc.kill)  # does nothing to a process that has ended
            return process

        yield started


def prepare(tmp_path: Path, fakes: dict[str, Any]) -> Path:
    """A copy of the fixture as a 0.1.0 folder on a NAS has it: pointing at this test's fake
    servers, modes 600/700 (git keeps 644), and its usage dated today, as if the upgrade came on
    the day the fixture was made (quotas and the People table count by day and month)."""
    data = tmp_path / "data"
    shutil.copytree(FIXTURE, data, ignore=shutil.ignore_patterns("MANIFEST.md"))
    ports = ports_of(fakes)
    today = datetime.date.today().isoformat()
    for path in data.rglob("*.json"):
        text = path.read_text(encoding="utf-8")
        for name, placeholder in PLACEHOLDERS.items():
            text = text.replace(f"{placeholder}/", f"127.0.0.1:{ports[name]}/")
        if path.parent.name == "users":
            text = re.sub(r'"day":"\d{4}-\d{2}-\d{2}"', f'"day":"{today}"', text)
        path.write_text(text, encoding="utf-8")
    for path in [data, *data.rglob("*")]:
        path.chmod(0o700 if path.is_dir() else 0o600)
    return data


def fixture_usage() -> dict[str, int]:
    """Tokens each person had used when 0.1.0 stopped, by user name (from 0.1.0's own files)."""
    found = {}
    for path in (FIXTURE / "users").glob("*.json"):
        tables = json.loads(path.read_text(encoding="utf-8"))
        name = tables["profile"]["1"]["username"]
        found[name] = sum(r["prompt"] + r["completion"] for r in tables["usage"].values())
    return found


def fixture_post_id(user_id: int) -> str:
    """The Chat post id of the person's message that 0.1.0 acknowledged and had not answered."""
    for path in (FIXTURE / "jobs").glob("*.json"):
        job = json.loads(path.read_text(encoding="utf-8"))
        if job["user_id"] == user_id:
            return str(job["dedupe"]).removeprefix("post:")
    raise AssertionError(f"the fixture has no job of user {user_id}")


# -- talking to the server as Chat does ------------------------------------------------------


_POST_IDS = iter(range(900_000_000_000, 10**13))


def dm(url: str, user_id: int, username: str, text: str, post_id: str = "") -> dict[str, Any]:
    fields = message(BOT_TOKEN, user_id, username, text, post_id or str(next(_POST_IDS)))
    answer = requests.post(url + "/webhook", data=fields, timeout=10)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def in_channel(url: str, token: str, user_id: int, username: str, text: str) -> dict[str, Any]:
    channel = ("7", "team" if token == TEAM_TOKEN else "help")
    fields = message(token, user_id, username, text, str(next(_POST_IDS)), channel=channel)
    answer = requests.post(url + "/webhook", data=fields, timeout=10)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def slash(url: str, user_id: int, username: str, text: str) -> str:
    fields = {"token": SLASH_TOKEN, "user_id": str(user_id), "username": username, "text": text}
    answer = requests.post(url + "/webhook", data=fields, timeout=10)
    assert answer.status_code == 200, answer.text
    return str(answer.json().get("text", ""))


def request_for(model: FakeOpenAI, question: str, timeout: float = 15.0) -> list[dict[str, str]]:
    """The messages of the model request that asked `question` last."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for body in model.chat_requests():
            messages = body.get("messages") or []
            if messages and messages[-1]["content"] == question:
                return [{"role": m["role"], "content": m["content"]} for m in messages]
        time.sleep(0.05)
    raise AssertionError(f"the model was never asked {question!r}: {model.chat_requests()}")


def posts_to(chat: FakeChat, check: Callable[[Post], bool], timeout: float = 15.0) -> list[Post]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [p for p in list(chat.posts) if check(p)]
        if found:
            time.sleep(0.3)  # a second, duplicate post would come right after
            return [p for p in list(chat.posts) if check(p)]
        time.sleep(0.05)
    raise AssertionError(f"no such post; got {chat.posts}")


def history(system: str, *pairs: tuple[str, str]) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": system}]
    for asked, answered in pairs:
        messages += [{"role": "user", "content": asked}, {"role": "assistant", "content": answered}]
    return messages


def ask(question: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": question}]


ALICE_HISTORY = (
    ("What is a NAS?", "Answer to: What is a NAS?"),
    ("And what is RAID?", "Answer to: And what is RAID?"),
)
TEAM_HISTORY = (
    ("bob: which disk is best?", "Answer to: bob: which disk is best?"),
    ("carol: and for video?", "Answer to: carol: and for video?"),
)
CAROL_HELP_HISTORY = (("how do I reset my password?", "Answer to: how do I reset my password?"),)


# -- the pages -------------------------------------------------------------------------------


def admin_login(url: str) -> WebClient:
    admin = WebClient(url)
    answer = admin.login(ADMIN_PASSWORD)
    assert answer.status_code == 303, "the 0.1.0 admin password no longer logs in"
    assert admin.get("/").status_code == 200
    return admin


def check_settings_page(admin: WebClient, fakes: dict[str, Any]) -> None:
    form = admin.settings_form()
    expected: dict[str, object] = {**PAGE_FIELDS, "openai_base_url": fakes["model"].url}
    for name, value in expected.items():
        assert name in form, f"the settings page has no field {name}"
        shown: object = float(form[name]) if isinstance(value, int | float) else form[name]
        assert shown == value, f"{name}: the page shows {form[name]!r}, 0.1.0 had {value!r}"
    page = admin.get("/").text
    for name in SECRETS_SET[:3]:
        state = re.search(rf'id="state-{name}">([^<]*)<', page)
        assert state and state.group(1).startswith("Set"), f"{name} is no longer set"
    key_state = re.search(r'id="state-openai_api_key">([^<]*)<', page)
    assert key_state and "…cdef" in key_state.group(1), "not 0.1.0's API key"
    accounts = re.search(r'id="webchat_users-list">(.*?)</ul>', page, re.S)
    assert accounts and re.findall(r"<strong>([^<]*)</strong>", accounts.group(1)) == ["wendy", "walter"]
    slash_tokens = re.search(r'id="slash_tokens-list">(.*?)</ul>', page, re.S)
    assert slash_tokens and "…abcd" in slash_tokens.group(1), "the slash command token is gone"
    for index in (0, 1):
        fieldset = re.search(rf'id="channel-{index}">(.*?)</fieldset>', page, re.S)
        assert fieldset and fieldset.group(1).count("Set, ends in") == 2, f"channel {index}'s secrets"


def people(admin: WebClient) -> dict[str, dict[str, str]]:
    """The People table by user name: role, used today and this month, own quotas."""
    page = admin.get("/").text
    table = re.search(r'id="people-list">(.*?)</table>', page, re.S)
    assert table, "the People table is gone"
    rows: dict[str, dict[str, str]] = {}
    for row in re.findall(r"<tr id=\"person-[^\"]*\"[^>]*>(.*?)</tr>", table.group(1), re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        name = html.unescape(cells[0].split(" (", 1)[0].strip())
        inputs = re.findall(r'<input[^>]*value="([^"]*)"', row)
        rows[name] = {
            "role": html.unescape(cells[1]),
            "today": cells[2].strip(),
            "month": cells[3].strip(),
            "own_daily": inputs[0],
            "own_monthly": inputs[1],
        }
    return rows


def web_chat_login(url: str, name: str, password: str) -> WebClient:
    client = WebClient(url)
    client.get("/chat/login")
    answer = client.post("/chat/login", {"name": name, "password": password})
    assert answer.status_code == 303, f"the web chat account {name} no longer logs in"
    assert client.get("/chat").status_code == 200
    return client


def chats(client: WebClient) -> dict[str, str]:
    answer = client.get("/api/chat/list")
    assert answer.status_code == 200, answer.text
    return {c["id"]: c["title"] for c in answer.json()["chats"]}


def chat_messages(client: WebClient, chat: str) -> list[tuple[str, str]]:
    answer = client.get(f"/api/chat/history?chat={chat}")
    assert answer.status_code == 200, answer.text
    return [(m["user"], m["assistant"]) for m in answer.json()["messages"]]


def check_modes(data: Path) -> None:
    for path in [data, *data.rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path.relative_to(data)} is {oct(mode)}"


def snapshot(data: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(data)): p.read_bytes()
        for p in sorted(data.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


# -- the tests -------------------------------------------------------------------------------


def test_a_0_1_0_data_folder_loses_nothing(
    tmp_path: Path, fakes: dict[str, Any], start: Callable[[Path], Process]
) -> None:
    model: FakeOpenAI = fakes["model"]
    bot, team, help_ = fakes["bot"], fakes["team"], fakes["help"]
    # The model holds its answers until the pages have been read, so the usage they show is
    # exactly what 0.1.0 left.
    release = threading.Event()

    def held(messages: list[dict[str, str]]) -> str:
        release.wait(15)
        return answer_to(messages)

    model.reply = held
    data = prepare(tmp_path, fakes)
    server = start(data)
    url = server.url

    # The jobs 0.1.0 acknowledged go to the model with their conversation's history (and the
    # DM's own persona); erin's, answered before the crash, is not asked again.
    assert request_for(model, "Is RAID a backup?") == [
        *history(PERSONA, *ALICE_HISTORY),
        *ask("Is RAID a backup?"),
    ]
    assert request_for(model, "bob: summarise please") == [
        *history(SYSTEM_PROMPT, *TEAM_HISTORY),
        *ask("bob: summarise please"),
    ]
    assert request_for(model, "it did not work") == [
        *history(SYSTEM_PROMPT, *CAROL_HELP_HISTORY),
        *ask("it did not work"),
    ]
    sent = model.chat_requests()
    assert all(r["model"] == "fake-model" and r.get("temperature") == 0.3 for r in sent), sent
    assert not any(r["messages"][-1]["content"] == "Tell me a joke" for r in sent)
    assert len(posts_to(bot, lambda p: p.user_ids == [ERIN] and p.text == "Answer to: Tell me a joke")) == 1
    assert dm(url, ALICE, "alice", "Is RAID a backup?", post_id=fixture_post_id(ALICE)).get("duplicate")

    # The settings page: the admin password, and every setting as 0.1.0 had it.
    admin = admin_login(url)
    check_settings_page(admin, fakes)

    # The People table: each person's use, role and own quotas.
    shown = people(admin)
    used = fixture_usage()
    assert set(used) <= set(shown), f"people missing from the table: {set(used) - set(shown)}"
    for name, tokens in used.items():
        assert shown[name]["today"] == shown[name]["month"] == str(tokens), (name, shown[name])
    assert {n: shown[n]["role"] for n in ("alice", "erin", "bob", "carol", "frank")} == {
        "alice": "admin",
        "erin": "admin",
        "bob": "allowed",
        "carol": "allowed",
        "frank": "allowed",
    }
    assert (shown["frank"]["own_daily"], shown["frank"]["own_monthly"]) == ("20", "")
    assert (shown["bob"]["own_daily"], shown["bob"]["own_monthly"]) == ("", "500000")

    # Slash commands: the token still works, /usage counts 0.1.0's tokens and frank's own
    # quota, and /help shows the admin part to the admins by id and by name only.
    usage = slash(url, FRANK, "frank", "/usage")
    assert f"In total: {used['frank']} (1 questions)" in usage and "20 tokens a day" in usage, usage
    admin_help = i18n.t("en", "help_admin")
    assert admin_help in slash(url, ERIN, "erin", "/help")
    assert admin_help in slash(url, ALICE, "alice", "/help")
    assert admin_help not in slash(url, BOB, "bob", "/help")

    # The access lists: blocked by name and by id, a guest refused, the allowed let through.
    assert dm(url, MALLORY, "mallory", "hi").get("text") == i18n.t("en", "refused_blocked")
    assert dm(url, EVE, "eve", "hi").get("text") == i18n.t("en", "refused_blocked")
    assert dm(url, TRENT, "trent", "hi").get("text") == i18n.t("en", "refused_guest", user_id=TRENT)
    assert "text" not in dm(url, BOB, "bob", "bob is allowed by id")
    assert "text" not in dm(url, CAROL, "carol", "carol is allowed by name")
    # frank is over his own daily quota: told so, and the model is not asked.
    over_quota = dm(url, FRANK, "frank", "frank over quota").get("text", "")

    # The web chat: each account logs in and finds its own past chats, and only those.
    wendy = web_chat_login(url, "wendy", WENDY_PASSWORD)
    assert chats(wendy) == {"wendychat0001": "What is Btrfs?"}
    assert chat_messages(wendy, "wendychat0001") == [
        ("What is Btrfs?", "Answer to: What is Btrfs?"),
        ("Is it safe?", "Answer to: Is it safe?"),
    ]
    walter = web_chat_login(url, "walter", WALTER_PASSWORD)
    assert chats(walter) == {"walterchat001": "How big is a petabyte?"}
    assert chat_messages(walter, "wendychat0001") == []
    admin_chat = web_chat_login(url, "admin", ADMIN_PASSWORD)
    assert chats(admin_chat) == {"adminchat0001": "Admin question one"}

    release.set()
    # The acknowledged jobs are delivered once, to the right person and the right channel.
    assert [p.text for p in posts_to(bot, lambda p: p.user_ids == [ALICE])] == [
        "Answer to: Is RAID a backup?"
    ]
    assert [(p.method, p.text) for p in posts_to(team, lambda p: "summarise" in p.text)] == [
        ("incoming", "@bob\nAnswer to: bob: summarise please")
    ]
    assert [(p.method, p.text) for p in posts_to(help_, lambda p: "did not work" in p.text)] == [
        ("incoming", "@carol\nAnswer to: it did not work")
    ]
    assert posts_to(bot, lambda p: p.user_ids == [BOB] and p.text == "Answer to: bob is allowed by id")
    assert posts_to(bot, lambda p: p.user_ids == [CAROL] and p.text == "Answer to: carol is allowed by name")
    # Told in the webhook's reply or by the bot afterwards: either way, once.
    told = [over_quota] if over_quota else [p.text for p in posts_to(bot, lambda p: p.user_ids == [FRANK])]
    assert len(told) == 1 and told[0].startswith("You have used today's quota of 20 tokens"), told
    assert not any(r["messages"][-1]["content"] == "frank over quota" for r in model.chat_requests())

    # Asking again: the conversations go on where 0.1.0 left them.
    dm(url, ALICE, "alice", "One more?")
    assert request_for(model, "One more?") == [
        *history(PERSONA, *ALICE_HISTORY, ("Is RAID a backup?", "Answer to: Is RAID a backup?")),
        *ask("One more?"),
    ]
    in_channel(url, TEAM_TOKEN, CAROL, "carol", "@ai last one")
    assert request_for(model, "carol: last one") == [
        *history(SYSTEM_PROMPT, *TEAM_HISTORY, ("bob: summarise please", "Answer to: bob: summarise please")),
        *ask("carol: last one"),
    ]
    # "help" is still one conversation per person: erin does not get carol's.
    in_channel(url, HELP_TOKEN, ERIN, "erin", "erin asks for help")
    assert request_for(model, "erin asks for help") == [
        *history(SYSTEM_PROMPT),
        *ask("erin asks for help"),
    ]
    answer = wendy.api("/api/chat/send", {"chat": "wendychat0001", "text": "Why?"})
    assert answer.status_code == 200 and "event: done" in answer.text, answer.text
    assert request_for(model, "Why?") == [
        *history(
            SYSTEM_PROMPT,
            ("What is Btrfs?", "Answer to: What is Btrfs?"),
            ("Is it safe?", "Answer to: Is it safe?"),
        ),
        *ask("Why?"),
    ]
    code, _ = server.stop()
    assert code == 0, server.log()
    check_modes(data)


def test_a_second_start_changes_nothing_and_loses_nothing(
    tmp_path: Path, fakes: dict[str, Any], start: Callable[[Path], Process]
) -> None:
    model: FakeOpenAI = fakes["model"]
    bot = fakes["bot"]
    data = prepare(tmp_path, fakes)
    first = start(data)
    posts_to(bot, lambda p: p.user_ids == [ALICE])
    posts_to(fakes["team"], lambda p: "summarise" in p.text)
    posts_to(fakes["help"], lambda p: "did not work" in p.text)
    assert first.stop()[0] == 0, first.log()
    before = snapshot(data)

    second = start(data)
    assert "0 message(s) resumed" in second.log(), "a job was left behind, or taken up twice"
    time.sleep(0.5)
    after = snapshot(data)
    assert sorted(after) == sorted(before), "files came or went at the second start"
    changed = [name for name in before if before[name] != after[name]]
    assert not changed, f"the second start rewrote {changed}"

    admin = admin_login(second.url)
    check_settings_page(admin, fakes)
    shown = people(admin)
    for name, tokens in fixture_usage().items():
        if name in ("frank", "erin", "wendy", "walter", "admin"):  # nobody asked for them since
            assert shown[name]["today"] == str(tokens), (name, shown[name])
    assert shown["frank"]["own_daily"] == "20"
    wendy = web_chat_login(second.url, "wendy", WENDY_PASSWORD)
    assert len(chat_messages(wendy, "wendychat0001")) == 2
    dm(second.url, ALICE, "alice", "After the second start?")
    assert request_for(model, "After the second start?") == [
        *history(PERSONA, *ALICE_HISTORY, ("Is RAID a backup?", "Answer to: Is RAID a backup?")),
        *ask("After the second start?"),
    ]
    assert [p.text for p in posts_to(bot, lambda p: p.user_ids == [ALICE])] == [
        "Answer to: Is RAID a backup?",
        "Answer to: After the second start?",
    ]
    assert second.stop(signal.SIGTERM)[0] == 0, second.log()
    check_modes(data)
