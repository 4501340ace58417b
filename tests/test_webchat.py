"""The web chat's server side over real HTTP: who may use it, the streamed answer (server-sent
events), stop, regenerate, the list of chats, export, and the bot's limits applied to it."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from app import auth
from tests.conftest import Bot
from tests.fake_openai import FakeOpenAI
from tests.webclient import ADMIN_PASSWORD, WebClient

MEI = "mei-password-1"


class ChatClient(WebClient):
    def chat_login(self, name: str, password: str) -> requests.Response:
        self.get("/chat/login")
        return self.post("/chat/login", {"name": name, "password": password}, headers={"Origin": self.base})

    def open_chat(self) -> None:
        page = self.get("/chat")
        assert page.status_code == 200, page.status_code
        self.csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]

    def send(self, chat: str, text: str = "", regenerate: bool = False) -> requests.Response:
        return self.http.post(
            self.base + "/api/chat/send",
            data={"chat": chat, "text": text, "regenerate": "1" if regenerate else "0"},
            headers={"X-CSRF-Token": self.csrf, "Origin": self.base},
            stream=True,
            timeout=30,
        )


def events(answer: requests.Response) -> Iterator[tuple[str, dict[str, Any], float]]:
    """The SSE events of an answer, with the time each arrived."""
    kind = ""
    for line in answer.iter_lines(decode_unicode=True):
        if line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            yield kind, json.loads(line[6:]), time.monotonic()


@pytest.fixture
def chat_bot(make_bot: Callable[..., Bot], admin_hash: str) -> Bot:
    return make_bot(
        admin_password=admin_hash, webchat_users=[{"name": "mei", "hash": auth.hash_password(MEI)}]
    )


@pytest.fixture
def mei(chat_bot: Bot) -> ChatClient:
    client = ChatClient(chat_bot.url)
    assert client.chat_login("mei", MEI).headers["Location"] == "/chat"
    client.open_chat()
    return client


def test_the_web_chat_needs_a_login(chat_bot: Bot) -> None:
    anonymous = ChatClient(chat_bot.url)
    assert anonymous.get("/chat").headers["Location"] == "/chat/login"
    for path in ("/api/chat/list", "/api/chat/history?chat=abcdefgh"):
        assert anonymous.get(path).status_code == 401
    assert anonymous.send("abcdefgh", "hi").status_code == 401
    for name, password in (("mei", "wrong password"), ("nobody", MEI), ("", MEI)):
        answer = anonymous.chat_login(name, password)
        assert answer.status_code == 401 and "Wrong name or password" in answer.text
    admin = ChatClient(chat_bot.url)
    assert admin.chat_login("admin", ADMIN_PASSWORD).headers["Location"] == "/chat"
    assert admin.get("/").status_code == 200, "the admin's login also opens the settings page"


def test_an_answer_streams_in_pieces_and_is_stored(
    chat_bot: Bot, mei: ChatClient, fake_model: FakeOpenAI
) -> None:
    fake_model.chunk_delay = 0.05
    fake_model.reply = lambda messages: "Here is **bold** and `code`, " * 4
    started = time.monotonic()
    answer = mei.send("abcdefgh01", "tell me")
    assert answer.headers["Content-Type"].startswith("text/event-stream")
    seen = list(events(answer))
    tokens = [e for e in seen if e[0] == "token"]
    assert len(tokens) >= 10, "the answer came in pieces, not at once"
    assert tokens[-1][2] - tokens[0][2] > 0.3, "pieces arrived as they were written"
    first = tokens[0][2] - started
    again = time.monotonic()
    warm = next(e for e in events(mei.send("abcdefgh00", "again")) if e[0] == "token")[2] - again
    assert warm < 1.0
    print(f"time to first streamed token: {first * 1000:.0f} ms cold (SDK import), {warm * 1000:.0f} ms warm")
    kind, done, _ = seen[-1]
    assert kind == "done" and done == {
        "text": ("Here is **bold** and `code`, " * 4).strip(),
        "notice": False,
        "stopped": False,
    }
    assert "".join(t[1]["t"] for t in tokens).strip() == done["text"]
    history = mei.get("/api/chat/history?chat=abcdefgh01").json()
    assert history["title"] == "tell me" and history["messages"][0]["assistant"] == done["text"]
    time.sleep(0.5)  # the second answer finishes
    assert [c["id"] for c in mei.get("/api/chat/list").json()["chats"]] == ["abcdefgh00", "abcdefgh01"]


def test_stop_ends_the_answer_and_keeps_what_came(
    chat_bot: Bot, mei: ChatClient, fake_model: FakeOpenAI
) -> None:
    fake_model.chunk_delay = 0.1
    fake_model.reply = lambda messages: "word " * 200
    answer = mei.send("abcdefgh02", "a long one")
    stream = events(answer)
    for kind, _, _ in stream:
        if kind == "token":
            break
    assert mei.api("/api/chat/stop", {"chat": "abcdefgh02"}).json() == {"ok": True, "stopped": True}
    kind, done, _ = list(stream)[-1]
    assert kind == "done" and done["stopped"] is True
    kept = mei.get("/api/chat/history?chat=abcdefgh02").json()["messages"][0]["assistant"]
    assert 0 < len(kept) < len("word " * 200)
    deadline = time.monotonic() + 5
    while fake_model.disconnects == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fake_model.disconnects == 1, "the model server was told to stop too"


def test_regenerate_replaces_the_last_answer(chat_bot: Bot, mei: ChatClient, fake_model: FakeOpenAI) -> None:
    answers = iter(["first answer", "second answer"])
    fake_model.reply = lambda messages: next(answers)
    list(events(mei.send("abcdefgh03", "question")))
    done = list(events(mei.send("abcdefgh03", regenerate=True)))[-1][1]
    assert done["text"] == "second answer"
    messages = mei.get("/api/chat/history?chat=abcdefgh03").json()["messages"]
    assert [(m["user"], m["assistant"]) for m in messages] == [("question", "second answer")]
    assert [m["content"] for m in fake_model.chat_requests()[-1]["messages"][1:]] == ["question"]
    nothing = mei.send("abcdefgh99", regenerate=True)
    assert nothing.status_code == 400 and "no earlier question" in nothing.json()["error"]


def test_chats_are_private_exported_and_deleted(chat_bot: Bot, mei: ChatClient, make_bot: Any) -> None:
    list(events(mei.send("abcdefgh04", "what is <b>RAID</b>?")))
    export = mei.get("/api/chat/export?chat=abcdefgh04")
    assert export.headers["Content-Type"].startswith("text/markdown")
    assert "attachment" in export.headers["Content-Disposition"]
    assert "what is <b>RAID</b>?" in export.text and "Answer to: what is <b>RAID</b>?" in export.text
    admin = ChatClient(chat_bot.url)
    admin.chat_login("admin", ADMIN_PASSWORD)
    assert admin.get("/api/chat/list").json()["chats"] == [], "the admin has their own chats"
    assert admin.get("/api/chat/history?chat=abcdefgh04").json()["messages"] == []
    assert mei.api("/api/chat/delete", {"chat": "abcdefgh04"}).json()["ok"] is True
    assert mei.get("/api/chat/list").json()["chats"] == []


def test_wrong_requests_are_refused_clearly(chat_bot: Bot, mei: ChatClient) -> None:
    assert mei.send("../../etc", "hi").status_code == 400
    assert mei.send("abcdefgh05", "   ").status_code == 400
    assert mei.send("abcdefgh05", "x" * 32_001).status_code == 413
    no_token = requests.post(
        chat_bot.url + "/api/chat/send",
        data={"chat": "abcdefgh05", "text": "hi"},
        cookies=mei.http.cookies,
        timeout=10,
    )
    assert no_token.status_code == 403


def test_a_running_chat_takes_no_second_question(mei: ChatClient, fake_model: FakeOpenAI) -> None:
    fake_model.delay = 1.0
    first = mei.send("abcdefgh06", "slow")
    time.sleep(0.3)
    second = mei.send("abcdefgh06", "again")
    assert second.status_code == 409 and "still answering" in second.json()["error"]
    assert list(events(first))[-1][0] == "done"


def test_the_bots_limits_apply_to_web_accounts_not_the_admin(
    chat_bot: Bot, mei: ChatClient, fake_model: FakeOpenAI
) -> None:
    chat_bot.set(min_interval=60, daily_tokens=10)
    list(events(mei.send("abcdefgh07", "one " * 30)))
    limited = mei.send("abcdefgh07", "two")
    assert limited.status_code == 429 and "one question every 60 seconds" in limited.json()["error"]
    chat_bot.set(min_interval=0)
    done = list(events(mei.send("abcdefgh07", "three")))[-1][1]
    assert done["notice"] is True and "today's quota of 10 tokens" in done["text"]
    admin = ChatClient(chat_bot.url)
    admin.chat_login("admin", ADMIN_PASSWORD)
    admin.open_chat()
    for _ in range(2):
        assert list(events(admin.send("abcdefgh08", "admin " * 30)))[-1][1]["notice"] is False


def test_the_entry_policy_is_the_webhooks_one(chat_bot: Bot, mei: ChatClient, fake_model: FakeOpenAI) -> None:
    """Pause, access lists and their sentences are the same as in Synology Chat: a paused bot
    answers no web account (only the admin), and a guest is told how to be let in."""
    asked = len(fake_model.requests)
    chat_bot.set(paused=True)
    paused = mei.send("abcdefgh09", "are you there?")
    assert paused.status_code == 403 and "paused by its admin" in paused.json()["error"]
    chat_bot.set(paused=False, access="listed", allowed_users=["someone-else"])
    guest = mei.send("abcdefgh09", "let me in")
    assert guest.status_code == 403
    assert "add your web chat account mei to the allowed users" in guest.json()["error"]
    chat_bot.set(blocked_users=["mei"])
    blocked = mei.send("abcdefgh09", "and now?")
    assert blocked.status_code == 403 and "not available to you" in blocked.json()["error"]
    assert len(fake_model.requests) == asked, "no refused question reached the model"
    chat_bot.set(paused=True, blocked_users=[], allowed_users=["mei"])
    admin = ChatClient(chat_bot.url)
    admin.chat_login("admin", ADMIN_PASSWORD)
    admin.open_chat()
    assert list(events(admin.send("abcdefgh10", "admin asks")))[-1][0] == "done"


def test_a_removed_account_is_logged_out(chat_bot: Bot, mei: ChatClient) -> None:
    chat_bot.set(webchat_users=[])
    assert mei.get("/api/chat/list").status_code == 401


def test_a_background_thread_is_not_left_behind(chat_bot: Bot, mei: ChatClient) -> None:
    before = threading.active_count()
    for number in range(3):
        list(events(mei.send(f"abcdefgh1{number}", "hi")))
    time.sleep(0.2)
    assert threading.active_count() <= before + 1
