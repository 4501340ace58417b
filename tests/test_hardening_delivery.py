"""An acknowledged message is never lost (issue 13): a full disk, a NAS that is away for seconds
or across a restart, a hung post, the restart notice, and progress that does not rewrite the
answer. Real loopback HTTP to the real server (and the real process for restarts)."""

from __future__ import annotations

import errno
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app import store as store_module
from tests.conftest import Bot, FakeClock
from tests.fake_openai import FakeOpenAI
from tests.fake_synology import FakeChat
from tests.test_process import Process
from tests.webclient import ADMIN_PASSWORD, WebClient

NOTICE = "(The bot restarted while sending this answer"
CHUNKS = [f"Part {i}. " + "text " * 300 for i in range(3)]  # each about 1,500 characters: one post


def until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll `check` until it gives something true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def status(web: WebClient) -> dict[str, Any]:
    answer: dict[str, Any] = web.get("/api/status").json()
    return answer


def waiting_answers(web: WebClient) -> int:
    return int(status(web).get("waiting", {}).get("answers", 0))


def logged_in(url: str) -> WebClient:
    web = WebClient(url)
    assert web.login().status_code == 303
    return web


def stored_job(job_id: str, reply: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": job_id,
        "lane": "dm-4",
        "conversation": "dm-4",
        "person": "synology:4",
        "username": "alice",
        "text": "q",
        "kind": "message",
        "dedupe": "",
        "received": time.time(),
        "reply": reply,
        "lang": "en",
        **fields,
    }


# -- (a) a full disk -------------------------------------------------------------------------------


def test_a_full_disk_keeps_both_acknowledged_messages_and_answers_them_in_order(
    make_bot: Callable[..., Bot], admin_hash: str, fake_chat: FakeChat
) -> None:
    bot = make_bot(admin_password=admin_hash)
    data = bot.runtime.store
    real_update_user = data.update_user
    full = True
    failed: list[str] = []

    def update_user(person: str, **fields: Any) -> None:
        if full:
            failed.append(person)
            raise OSError(
                errno.ENOSPC, "No space left on device", str(data.data_dir / "users" / "synology.4.json")
            )
        real_update_user(person, **fields)

    data.update_user = update_user  # type: ignore[method-assign]
    assert bot.say("first question").status_code == 200
    assert bot.say("second question").status_code == 200
    until(lambda: failed, 10, "the write that fails")
    time.sleep(0.5)  # 0.1.0 dropped each job at once here
    assert len(data.pending_jobs()) == 2, "both acknowledged jobs are kept"
    web = logged_in(bot.url)
    shown = until(lambda: status(web)["storage"]["disk_full"] and status(web), 10, "the disk-full status")
    assert shown["storage"]["waiting"] == 1 and not shown["storage"]["ok"]
    assert "No space left on device" in shown["storage_text"]
    page = web.get("/").text
    assert 'id="st-storage"' in page and "The disk is full" in page
    assert any(e["source"] == "storage" and e["kind"] == "disk_full" for e in shown["errors"])
    assert len(data.pending_jobs()) == 2
    assert fake_chat.posts == []
    full = False  # space was freed
    posts = fake_chat.wait_for(2, timeout=20)
    assert [p.text for p in posts] == ["Answer to: first question", "Answer to: second question"]
    bot.idle()
    assert data.pending_jobs() == []
    assert status(web)["storage"]["ok"]


# -- (b) the NAS away for a few seconds ------------------------------------------------------------


def test_an_answer_waits_while_the_nas_reboots_and_arrives_once(
    make_bot: Callable[..., Bot], admin_hash: str, fake_chat: FakeChat
) -> None:
    bot = make_bot(admin_password=admin_hash)
    web = logged_in(bot.url)
    fake_chat.down_for(4.0)
    started = time.monotonic()
    assert bot.say("hello").status_code == 200
    shown = until(lambda: waiting_answers(web) == 1 and status(web), 5, "a waiting answer")
    assert shown["waiting"]["next_try"] and "next try at" in shown["waiting_text"]
    assert 'id="st-waiting"' in web.get("/").text
    posts = fake_chat.wait_for(1, timeout=20)
    assert time.monotonic() - started >= 4.0
    assert [p.text for p in posts] == ["Answer to: hello"], "no restart notice, posted once"
    bot.idle()
    assert bot.runtime.store.pending_jobs() == [] and status(web)["waiting"]["answers"] == 0


# -- (c) the NAS away across a restart, and giving up ----------------------------------------------


def test_the_nas_down_across_a_restart_keeps_the_answers_and_their_order(
    tmp_path: Path, env: dict[str, str], fake_chat: FakeChat
) -> None:
    env = {**env, "SYNOCHATGPT_ADMIN_PASSWORD": ADMIN_PASSWORD}
    data = tmp_path / "data"
    fake_chat.go_down()
    first = Process(data, env)
    try:
        assert first.say("first", post_id=1).status_code == 200
        until(lambda: "could not deliver the answer" in first.log(), 10, "the failed try")
        assert first.stop()[0] == 0
    finally:
        if first.proc.poll() is None:
            first.proc.kill()
    state = json.loads(next((data / "jobs").glob("*.state")).read_text())
    assert state["attempts"] >= 1 and state["next_try"] > 0, "the retry state outlives the process"
    second = Process(data, env)
    try:
        assert "1 message(s) resumed" in second.log()
        assert second.say("second", post_id=2).status_code == 200
        web = logged_in(second.url)
        until(lambda: waiting_answers(web) == 1, 10, "the answer shown as waiting")
        fake_chat.come_back()
        posts = fake_chat.wait_for(2, timeout=30)
        assert [p.text for p in posts] == ["Answer to: first", "Answer to: second"]
        time.sleep(0.3)
        assert len(fake_chat.posts) == 2, "nothing was posted of it before: no restart notice"
    finally:
        second.stop()


def test_an_answer_is_given_up_after_delivery_retry_hours(
    make_bot: Callable[..., Bot], admin_hash: str, fake_chat: FakeChat, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    bot = make_bot(admin_password=admin_hash, clock=clock, delivery_retry_hours=0.01)  # 36 s
    web = logged_in(bot.url)
    fake_chat.go_down()
    assert bot.say("hello").status_code == 200
    until(lambda: "could not deliver the answer" in caplog.text, 10, "the failed try")
    time.sleep(0.3)
    assert bot.runtime.store.pending_jobs(), "still kept within the 36 s"
    assert waiting_answers(web) == 1
    clock.advance(40)
    until(lambda: not bot.runtime.store.pending_jobs(), 10, "the answer given up")
    assert "given up after trying for 0.01 h" in caplog.text
    shown = status(web)
    assert shown["waiting"]["answers"] == 0
    assert any("given up" in e["message"] for e in shown["errors"] if e["source"] == "chat"), shown
    fake_chat.come_back()
    time.sleep(0.5)
    assert fake_chat.posts == []


# -- (d) a hung post ---------------------------------------------------------------------------------


def test_a_hung_post_to_one_person_does_not_delay_another(
    make_bot: Callable[..., Bot], fake_chat: FakeChat
) -> None:
    bot = make_bot()
    fake_chat.hang_posts_to(1, 5.0)  # past the client's 3 s timeout
    assert bot.say("slow", user_id=1).status_code == 200
    until(lambda: fake_chat.attempts >= 1, 5, "the post to user 1 in flight")
    started = time.monotonic()
    assert bot.say("quick", user_id=2).status_code == 200
    post = fake_chat.wait_for(1, timeout=5)[0]
    took = time.monotonic() - started
    assert post.user_ids == [2] and took < 1.5, f"user 2 waited {took:.1f} s"
    posts = fake_chat.wait_for(2, timeout=8)
    bot.idle()
    time.sleep(0.5)
    to_one = [p.text for p in fake_chat.posts if p.user_ids == [1]]
    assert to_one == ["Answer to: slow"], "a post that timed out is not sent again"
    assert len(posts) == 2


# -- (e) the restart notice --------------------------------------------------------------------------


def test_the_restart_notice_only_where_a_post_went_out_or_was_in_flight(
    bot: Bot, fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    """Stopped between storing an answer and its first post (user 4: no notice), and while a
    post was in flight (user 5, its side record says so: the notice)."""
    bot.runtime.stop()
    bot.runtime.store.add_job(stored_job("j1", "\n\n".join(CHUNKS), sent=0))
    bot.runtime.store.add_job(
        stored_job("j2", "\n\n".join(CHUNKS), person="synology:5", lane="dm-5", conversation="dm-5")
    )
    (bot.data_dir / "jobs" / "j2.state").write_text(json.dumps({"sent": 0, "posting": True}))
    bot.runtime = bot.make()
    bot.runtime.start()
    fake_chat.wait_for(7, timeout=20)
    bot.idle()
    time.sleep(0.3)
    to = {u: [p.text for p in fake_chat.posts if p.user_ids == [u]] for u in (4, 5)}
    assert [t.split(".")[0] for t in to[4]] == ["Part 0", "Part 1", "Part 2"], to[4]
    assert to[5][0].startswith(NOTICE) and [t.split(".")[0] for t in to[5][1:]] == [
        "Part 0",
        "Part 1",
        "Part 2",
    ]
    assert fake_model.requests == []


def test_no_restart_notice_after_restarts_while_the_nas_was_away(
    bot: Bot, fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    fake_model.reply = lambda messages: "\n\n".join(CHUNKS)
    fake_chat.go_down()
    assert bot.say("long one").status_code == 200
    for _ in range(3):
        until(lambda: bot.runtime.dispatcher.waiting().chat == 1, 10, "the answer waiting")
        bot.restart()  # each start tries again at once, and fails
    fake_chat.come_back()
    fake_chat.wait_for(3, timeout=30)
    bot.idle()
    time.sleep(0.3)
    assert [t.split(".")[0] for t in fake_chat.texts()] == ["Part 0", "Part 1", "Part 2"]


def test_a_restart_notice_when_part_of_the_answer_went_out(
    bot: Bot, fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    fake_model.reply = lambda messages: "\n\n".join(CHUNKS)
    fake_chat.script.extend([{}] + [{"http": 503}] * 100)  # the first post goes out, then the NAS is down
    assert bot.say("long one").status_code == 200
    until(lambda: bot.runtime.store.pending_jobs() and fake_chat.attempts >= 3, 10, "the failed tries")
    time.sleep(0.3)
    assert [t.split(".")[0] for t in fake_chat.texts()] == ["Part 0"]
    bot.runtime.stop()
    fake_chat.script.clear()
    bot.runtime = bot.make()
    bot.runtime.start()
    fake_chat.wait_for(4, timeout=15)
    bot.idle()
    texts = fake_chat.texts()
    assert texts[1].startswith(NOTICE), texts
    assert [t.split(".")[0] for t in texts[:1] + texts[2:]] == ["Part 0", "Part 1", "Part 2"]


# -- (f) progress without rewriting the answer ---------------------------------------------------


def test_progress_is_recorded_without_rewriting_the_answer(
    bot: Bot, fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    chunks = [f"Part {i}. " + "text " * 300 for i in range(6)]
    fake_model.reply = lambda messages: "\n\n".join(chunks)
    data = bot.runtime.store
    real_update_job = data.update_job
    seen: list[tuple[dict[str, Any], int, int, int]] = []

    def update_job(job_id: str, **fields: Any) -> None:
        real_update_job(job_id, **fields)
        job = data.data_dir / "jobs" / f"{job_id}.json"
        side = job.with_suffix(".state")
        if job.exists():
            info = job.stat()
            seen.append((fields, info.st_ino, info.st_mtime_ns, side.stat().st_size if side.exists() else -1))

    data.update_job = update_job  # type: ignore[method-assign]
    assert bot.say("long one").status_code == 200
    fake_chat.wait_for(6, timeout=15)
    bot.idle()
    assert [t.split(".")[0] for t in fake_chat.texts()] == [f"Part {i}" for i in range(6)]
    progress = [s for s in seen if "sent" in s[0]]
    assert [s[0]["sent"] for s in progress] == [1, 2, 3, 4, 5, 6]
    answer_write = next(s for s in seen if "reply" in s[0])
    assert {(s[1], s[2]) for s in progress} == {(answer_write[1], answer_write[2])}, (
        "the job file is untouched"
    )
    assert all(0 < s[3] < 200 for s in progress), "the side record stays small"
    assert data.pending_jobs() == [] and not list((data.data_dir / "jobs").glob("*.state"))


def test_a_side_record_overrides_an_old_job_files_progress_and_orphans_go(tmp_path: Path) -> None:
    data = store_module.Store(tmp_path)
    data.add_job(stored_job("old", "x", sent=1))  # as 0.1.0 left it: progress inside the job
    assert data.pending_jobs()[0]["sent"] == 1
    data.update_job("old", sent=2)
    assert json.loads((tmp_path / "jobs" / "old.json").read_text())["sent"] == 1
    assert data.pending_jobs()[0]["sent"] == 2
    (tmp_path / "jobs" / "gone.state").write_text("{}")
    store_module.Store(tmp_path)
    assert not (tmp_path / "jobs" / "gone.state").exists()
    assert oct((tmp_path / "jobs" / "old.state").stat().st_mode & 0o777) == "0o600"
    data.finish_job("old")
    assert not list((tmp_path / "jobs").glob("old.*"))
