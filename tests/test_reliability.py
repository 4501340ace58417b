"""Power cuts, overload and faults: kill -9 in the middle of heavy writes, a full queue, a hung
model, and every model and Chat error on the dashboard."""

from __future__ import annotations

import json
import random
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from app import store as store_module
from tests.conftest import BOT_TOKEN, Bot
from tests.fake_openai import FakeOpenAI
from tests.fake_synology import FakeChat
from tests.test_process import Process
from tests.webclient import WebClient

# -- power cuts ---------------------------------------------------------------------------------


def test_repeated_kill_9_during_heavy_writes_loses_nothing(
    tmp_path: Path, env: dict[str, str], fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    """Four times: senders at once, kill -9 at a random moment, start again. Every file must
    load, and every message answered 200 must get its answer in the end. (Kept to about a
    hundred messages: the server paces its posts 0.5 s apart, as Chat requires.)"""
    data = tmp_path / "data"
    fake_model.delay = 0.05
    accepted: set[int] = set()
    post = iter(range(1, 10_000))
    rng = random.Random(7)  # noqa: S311 (timing, not secrets)
    for _ in range(4):
        server = Process(data, env)  # raises if the data dir no longer loads
        stop = threading.Event()
        lock = threading.Lock()

        def send(server: Process = server, stop: threading.Event = stop, lock: threading.Lock = lock) -> None:
            while not stop.is_set():
                with lock:
                    number = next(post)
                try:
                    answer = server.say(f"q-{number}", post_id=number, user_id=number)
                except requests.RequestException:
                    return  # the server died mid-request: not acknowledged, so not owed
                if answer.status_code == 200 and not answer.json().get("busy"):
                    with lock:
                        accepted.add(number)

        senders = [threading.Thread(target=send) for _ in range(3)]
        for thread in senders:
            thread.start()
        time.sleep(rng.uniform(0.2, 0.5))
        server.proc.send_signal(signal.SIGKILL)
        server.proc.wait(10)
        stop.set()
        for thread in senders:
            thread.join(10)
    for path in data.rglob("*.json"):
        if path.name.startswith(".tmp-"):
            continue  # a write cut short before its rename: the real file is intact, see below
        json.loads(path.read_text())  # every file whole: the old or the new state, never half
    final = Process(data, env)
    assert not list(data.rglob(".tmp-*")), "the store clears cut-short writes at start"
    try:
        deadline = time.monotonic() + 40 + 0.6 * len(accepted)  # Chat's pacing: 0.5 s a post
        missing = accepted
        while time.monotonic() < deadline:
            answered = {t for t in fake_chat.texts() if t.startswith("Answer to: q-")}
            missing = {n for n in accepted if f"Answer to: q-{n}" not in answered}
            if not missing:
                break
            time.sleep(0.5)
        assert len(accepted) >= 20, "the test sent too little to mean anything"
        assert not missing, f"{len(missing)} of {len(accepted)} acknowledged messages were never answered"
        # An answer that came twice is announced: its user also got the restart notice.
        per_user: dict[tuple[int, ...], list[str]] = {}
        for item in fake_chat.posts:
            per_user.setdefault(tuple(item.user_ids), []).append(item.text)
        for texts in per_user.values():
            answers = [t for t in texts if t.startswith("Answer to:")]
            if len(answers) > len(set(answers)):
                assert any(t.startswith("(The bot restarted") for t in texts), texts
    finally:
        final.stop()


# -- overload ---------------------------------------------------------------------------------


def test_a_full_queue_answers_at_once_and_stores_nothing(
    make_bot: Callable[..., Bot], fake_model: FakeOpenAI
) -> None:
    bot = make_bot(workers=1, queue_limit=3)
    fake_model.delay = 1.5
    answers = [bot.say(f"question {n}", user_id=100 + n) for n in range(8)]
    assert all(a.status_code == 200 for a in answers)
    busy = [a for a in answers if a.json().get("busy")]
    assert len(busy) == 5 and all(a.elapsed.total_seconds() < 1 for a in answers)
    assert "too many messages" in busy[0].json()["text"]
    assert bot.runtime.dispatcher.pending() <= 3 and len(bot.runtime.store.pending_jobs()) <= 3
    chinese = bot.say("你好，在吗？", user_id=200)
    assert "消息太多" in chinese.json()["text"]
    bot.idle(30)


def test_one_conversation_cannot_fill_the_queue(make_bot: Callable[..., Bot], fake_model: FakeOpenAI) -> None:
    bot = make_bot(workers=1)
    fake_model.delay = 1.0
    answers = [bot.say(f"flood {n}", user_id=9) for n in range(25)]
    assert sum(1 for a in answers if a.json().get("busy")) == 5, "20 per conversation"
    assert not bot.say("me too", user_id=10).json().get("busy"), "others still get in"


def test_a_hung_model_holds_only_its_worker(
    make_bot: Callable[..., Bot], fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    bot = make_bot(workers=2, request_timeout=5, max_retries=0)
    fake_model.hang_next(4.0)
    bot.say("this one hangs", user_id=1)
    time.sleep(0.2)
    started = time.monotonic()
    bot.say("and this one?", user_id=2)
    post = fake_chat.wait_for(1, timeout=3)[0]
    assert post.user_ids == [2] and time.monotonic() - started < 2


# -- faults, each on the dashboard -----------------------------------------------------------------


def _garbage(model: FakeOpenAI) -> None:
    model.script.append({"raw": b"data: {this is not JSON\n\n"})


MODEL_FAULTS: dict[str, Callable[[FakeOpenAI], None]] = {
    "auth": lambda m: m.fail_next(401),
    "not_found": lambda m: m.fail_next(404),
    "rate_limit": lambda m: m.fail_next(429),
    "server": lambda m: m.fail_next(500),
    "timeout": lambda m: m.hang_next(6.0),  # past request_timeout (5 s, its minimum)
    "bad_response": _garbage,
}


@pytest.mark.parametrize("kind", list(MODEL_FAULTS))
def test_model_faults_are_explained_and_listed(
    make_bot: Callable[..., Bot], admin_hash: str, fake_model: FakeOpenAI, fake_chat: FakeChat, kind: str
) -> None:
    bot = make_bot(admin_password=admin_hash, request_timeout=5, max_retries=0)
    MODEL_FAULTS[kind](fake_model)
    bot.say("hello?")
    reply = fake_chat.wait_for(1, timeout=20)[0].text
    assert "Traceback" not in reply and len(reply) > 20
    web = WebClient(bot.url)
    web.login()
    errors = web.get("/api/status").json()["errors"]
    assert errors and errors[0]["source"] == "model" and errors[0]["kind"] == kind, errors


CHAT_FAULTS: dict[str, Callable[[FakeChat], str]] = {
    "token": lambda c: c.url(token="W" * 64),
    "payload": lambda c: _refuse(c, 407),
    "unreachable": lambda c: (
        "http://127.0.0.1:9/webapi/entry.cgi?api=SYNO.Chat.External&method=chatbot&version=2&token=%22"
        + BOT_TOKEN
        + "%22"
    ),
}


def _refuse(chat: FakeChat, code: int) -> str:
    chat.script.append({"code": code})
    return chat.url()


@pytest.mark.parametrize("kind", list(CHAT_FAULTS))
def test_chat_faults_are_listed(
    make_bot: Callable[..., Bot], admin_hash: str, fake_chat: FakeChat, kind: str
) -> None:
    bot = make_bot(admin_password=admin_hash)
    bot.set(bot_incoming_url=CHAT_FAULTS[kind](fake_chat), bot_token=BOT_TOKEN)
    bot.say("hello?")
    bot.idle(30)
    web = WebClient(bot.url)
    web.login()
    errors = web.get("/api/status").json()["errors"]
    assert errors and errors[0]["source"] == "chat" and errors[0]["kind"] == kind, errors
    assert BOT_TOKEN not in json.dumps(errors) and "W" * 64 not in json.dumps(errors)


# -- the job store ------------------------------------------------------------------------------


def test_the_same_post_delivered_twice_at_once_is_stored_once(tmp_path: Path) -> None:
    data = store_module.Store(tmp_path)
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def deliver(number: int) -> None:
        barrier.wait()
        results.append(data.add_job({"id": f"job{number}", "dedupe": "post:42", "received": number}))

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 7 + [True]
    assert len(data.pending_jobs()) == 1
    data.finish_job(data.pending_jobs()[0]["id"])
    assert data.pending_jobs() == [] and not data.add_job({"id": "late", "dedupe": "post:42", "received": 9})


def test_old_post_ids_are_forgotten_and_finished_jobs_leave_no_text(tmp_path: Path) -> None:
    data = store_module.Store(tmp_path)
    assert data.add_job({"id": "a", "dedupe": "post:1", "received": 1, "text": "secret words"})
    data.finish_job("a")
    assert not any("secret words" in p.read_text() for p in (tmp_path / "jobs").iterdir() if p.is_file())
    data._forget_old_posts(now=time.time() + store_module.SEEN_FOR + 1)
    assert data.add_job({"id": "b", "dedupe": "post:1", "received": 2}), "remembered for a day only"


def test_unfinished_jobs_from_the_old_single_file_are_carried_over(tmp_path: Path) -> None:
    old = {
        "jobs": {
            "1": {"id": "old1", "text": "hi", "received": 1, "done": False},
            "2": {"id": "x", "done": True},
        }
    }
    (tmp_path / "jobs.json").write_text(json.dumps(old))
    data = store_module.Store(tmp_path)
    assert [j["id"] for j in data.pending_jobs()] == ["old1"] and not (tmp_path / "jobs.json").exists()
