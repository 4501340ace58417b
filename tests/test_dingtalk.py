"""DingTalk, end to end: the real server, a fake DingTalk (tests/fake_dingtalk.py) that pushes
robot messages over a real WebSocket the way the Stream gateway does, or posts signed
callbacks in HTTP mode, and takes replies at session webhooks and the OpenAPI with DingTalk's
limits and errors; and the fake model."""

from __future__ import annotations

import errno
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from app.platforms.dingtalk import wire
from tests.conftest import Bot, dingtalk_settings
from tests.fake_dingtalk import FakeDingTalk
from tests.fake_http import free_port
from tests.fake_openai import FakeOpenAI

STAFF = "manager4"


@pytest.fixture
def ding(make_bot: Callable[..., Bot], fake_dingtalk: FakeDingTalk) -> Bot:
    bot = make_bot(**dingtalk_settings(fake_dingtalk))
    fake_dingtalk.wait_connected(1)
    return bot


def asked(fake_model: FakeOpenAI) -> list[str]:
    return [r["messages"][-1]["content"] for r in fake_model.chat_requests()]


def records(bot: Bot) -> list[Any]:
    """DingTalk's recent messages on the settings page, oldest first."""
    return [w for w in reversed(bot.runtime.console.monitor.webhooks()) if w.platform == "dingtalk"]


def wait_for(probe: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError("timed out")


def errors(bot: Bot) -> list[Any]:
    return bot.runtime.console.monitor.errors()


# -- Stream mode: the connection ------------------------------------------------------------------


def test_the_bot_connects_by_itself_and_a_message_is_acked_then_answered_in_markdown(
    ding: Bot, fake_dingtalk: FakeDingTalk, fake_model: FakeOpenAI
) -> None:
    opened = fake_dingtalk.opens[0]
    assert opened["clientId"] == fake_dingtalk.client_id
    assert opened["subscriptions"] == [{"type": "CALLBACK", "topic": wire.BOT_TOPIC}]
    frame = fake_dingtalk.push(fake_dingtalk.message("what is RAID?"))
    ack = fake_dingtalk.wait_ack(frame)
    assert ack["code"] == 200 and ack["headers"]["messageId"] == frame
    sent = fake_dingtalk.wait_sent(1)[0]
    assert sent["via"] == "session"
    body = sent["body"]
    assert body["msgtype"] == "markdown" and body["markdown"]["text"] == "Answer to: what is RAID?"
    assert body["markdown"]["title"] == "Answer to: what is RAID?"
    assert "at" not in body  # one to one: nobody to @
    assert asked(fake_model) == ["what is RAID?"]
    ding.idle()
    assert ding.runtime.store.user("dingtalk:manager4")  # the person, by staff id


def test_the_ack_comes_before_the_answer_and_waits_for_no_model(
    ding: Bot, fake_dingtalk: FakeDingTalk, fake_model: FakeOpenAI
) -> None:
    fake_model.delay = 2.0
    started = time.monotonic()
    frame = fake_dingtalk.push(fake_dingtalk.message("slow question"))
    fake_dingtalk.wait_ack(frame)
    assert time.monotonic() - started < 1.5
    assert not fake_dingtalk.sent
    fake_dingtalk.wait_sent(1)


def test_a_ping_is_answered_with_its_opaque_value(ding: Bot, fake_dingtalk: FakeDingTalk) -> None:
    opaque = fake_dingtalk.ping()
    pong = fake_dingtalk.wait_pong(opaque)
    assert pong["code"] == 200 and json.loads(pong["data"])["opaque"] == opaque


def test_after_a_disconnect_the_bot_reconnects_with_a_fresh_ticket(
    ding: Bot, fake_dingtalk: FakeDingTalk
) -> None:
    fake_dingtalk.disconnect()
    fake_dingtalk.wait_connected(2)
    assert len(fake_dingtalk.opens) == 2  # a new ticket: the first was for one connection
    frame = fake_dingtalk.push(fake_dingtalk.message("still there?"))
    fake_dingtalk.wait_ack(frame)
    assert fake_dingtalk.wait_sent(1)[0]["body"]["markdown"]["text"] == "Answer to: still there?"


def test_after_a_dropped_socket_the_bot_reconnects_and_answers(
    ding: Bot, fake_dingtalk: FakeDingTalk
) -> None:
    fake_dingtalk.drop()
    fake_dingtalk.wait_connected(2)
    frame = fake_dingtalk.push(fake_dingtalk.message("after the drop"))
    fake_dingtalk.wait_ack(frame)
    fake_dingtalk.wait_sent(1)


def test_a_message_pushed_twice_is_answered_once(
    ding: Bot, fake_dingtalk: FakeDingTalk, fake_model: FakeOpenAI
) -> None:
    message = fake_dingtalk.message("once please")
    fake_dingtalk.wait_ack(fake_dingtalk.push(message))
    fake_dingtalk.wait_ack(fake_dingtalk.push(message))  # DingTalk's re-push after a slow ack
    fake_dingtalk.wait_sent(1)
    ding.idle()
    time.sleep(0.3)
    assert len(fake_dingtalk.sent) == 1 and asked(fake_model) == ["once please"]
    assert [w.reason for w in records(ding)] == ["accepted", "duplicate"]


def test_an_unacked_message_is_pushed_again_and_still_answered_once(
    make_bot: Callable[..., Bot], fake_model: FakeOpenAI
) -> None:
    with FakeDingTalk(redeliver_after=0.3) as fake:
        bot = make_bot(**dingtalk_settings(fake))
        fake.wait_connected(1)
        # The bot cannot store it (a full disk): no ack, so DingTalk pushes it again.
        data = bot.runtime.store
        real_add_job = data.add_job
        full = True

        def add_job(job: dict[str, Any]) -> bool:
            if full:
                raise OSError(errno.ENOSPC, "No space left on device")
            return real_add_job(job)

        data.add_job = add_job  # type: ignore[method-assign]
        message = fake.message("stored at last")
        fake.push(message)
        wait_for(lambda: fake.pushes[message["msgId"]] >= 2)
        assert not fake.acks
        assert "store_failed" in [w.reason for w in records(bot)]
        full = False
        wait_for(lambda: any(a["code"] == 200 for a in fake.acks.values()))
        fake.wait_sent(1)
        bot.idle()
        assert asked(fake_model) == ["stored at last"]


def test_a_message_older_than_five_minutes_is_acked_but_not_answered(
    ding: Bot, fake_dingtalk: FakeDingTalk, fake_model: FakeOpenAI
) -> None:
    old = int(time.time() * 1000) - 6 * 60_000
    fake_dingtalk.wait_ack(fake_dingtalk.push(fake_dingtalk.message("from before", created_at=old)))
    fake_dingtalk.wait_ack(fake_dingtalk.push(fake_dingtalk.message("new one")))
    fake_dingtalk.wait_sent(1)
    ding.idle()
    assert asked(fake_model) == ["new one"]
    assert [w.reason for w in records(ding)] == ["dingtalk_stale", "accepted"]


def test_frames_that_are_not_dingtalks_do_not_stop_the_bot(ding: Bot, fake_dingtalk: FakeDingTalk) -> None:
    for raw in (
        "not json",
        "[]",
        json.dumps({"type": "CALLBACK"}),
        json.dumps({"type": "CALLBACK", "headers": {"topic": wire.BOT_TOPIC}}),
        json.dumps(
            {"type": "CALLBACK", "headers": {"topic": wire.BOT_TOPIC, "messageId": "m1"}, "data": "{"}
        ),
        json.dumps(
            {"type": "CALLBACK", "headers": {"topic": wire.BOT_TOPIC, "messageId": "m2"}, "data": "[1]"}
        ),
        json.dumps({"type": "EVENT", "headers": {"topic": "/v1.0/other", "messageId": "m3"}, "data": "{}"}),
    ):
        fake_dingtalk.push_raw(raw)
    # A message that can never be read is acknowledged all the same: a re-push would not help.
    for frame in ("m1", "m2", "m3"):
        fake_dingtalk.wait_ack(frame)
    assert [w.reason for w in records(ding)] == ["bad_body", "bad_body"]
    frame = fake_dingtalk.push(fake_dingtalk.message("are you alive?"))
    fake_dingtalk.wait_ack(frame)
    assert fake_dingtalk.wait_sent(1)[0]["body"]["markdown"]["text"] == "Answer to: are you alive?"


def test_a_frame_over_the_size_limit_costs_one_reconnection(ding: Bot, fake_dingtalk: FakeDingTalk) -> None:
    fake_dingtalk.push_raw("x" * 2_000_000)
    fake_dingtalk.wait_connected(2)
    frame = fake_dingtalk.push(fake_dingtalk.message("still here"))
    fake_dingtalk.wait_ack(frame)
    fake_dingtalk.wait_sent(1)


def test_a_wrong_secret_is_shown_in_plain_words_and_fixing_it_connects_without_a_restart(
    make_bot: Callable[..., Bot], fake_dingtalk: FakeDingTalk
) -> None:
    bot = make_bot(**dingtalk_settings(fake_dingtalk, dingtalk_client_secret="not-the-secret"))
    platform = bot.runtime.console.dingtalk_status
    wait_for(lambda: platform().error_kind == "dingtalk_secret")
    assert platform().state in ("waiting", "connecting")
    assert "not-the-secret" not in platform().error
    bot.set(dingtalk_client_secret=fake_dingtalk.client_secret)
    fake_dingtalk.wait_connected(1, timeout=10)
    wait_for(lambda: platform().state == "connected")
    assert platform().error_kind == ""


def test_changing_the_client_id_reconnects_and_http_mode_closes_the_connection(
    ding: Bot, fake_dingtalk: FakeDingTalk
) -> None:
    status = ding.runtime.console.dingtalk_status
    ding.set(dingtalk_mode="http")
    wait_for(lambda: status().state == "off")
    ding.set(dingtalk_mode="stream")
    fake_dingtalk.wait_connected(2)
    wait_for(lambda: status().state == "connected")


def test_the_app_starts_serves_and_stops_quickly_when_dingtalk_cannot_be_reached(
    make_bot: Callable[..., Bot], fake_dingtalk: FakeDingTalk
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    bot = make_bot(**dingtalk_settings(fake_dingtalk, dingtalk_api_url=dead))
    assert time.monotonic() - started < 5
    assert requests.get(bot.url + "/healthz", timeout=5).status_code == 200
    status = bot.runtime.console.dingtalk_status
    wait_for(lambda: status().error_kind == "dingtalk_unreachable")
    assert status().state in ("waiting", "connecting")
    stopping = time.monotonic()
    bot.runtime.stop()
    assert time.monotonic() - stopping < 5


class ClosingGateway(FakeDingTalk):
    """A gateway that takes the connection and closes it at once (Stream not enabled for the
    app, a proxy that drops WebSockets)."""

    def _serve_connection(self, connection: Any) -> None:
        with self._lock:
            self.connections += 1
        connection.close()


def test_a_connection_closed_at_once_is_not_retried_in_a_tight_loop(make_bot: Callable[..., Bot]) -> None:
    with ClosingGateway() as fake:
        bot = make_bot(**dingtalk_settings(fake))
        fake.wait_connected(1)
        time.sleep(3.0)
        # 1 s, then 2 s: three or four tickets in three seconds, not thousands.
        assert len(fake.opens) <= 4, len(fake.opens)
        status = bot.runtime.console.dingtalk_status()
        assert status.error_kind == "dingtalk_dropped" and status.state in ("waiting", "connecting")


def test_the_app_stops_quickly_while_the_gateway_hangs(
    make_bot: Callable[..., Bot], fake_dingtalk: FakeDingTalk
) -> None:
    fake_dingtalk.script["open"].append({"hang": 30})  # a gateway that takes the call and says nothing
    bot = make_bot(**dingtalk_settings(fake_dingtalk))
    wait_for(lambda: fake_dingtalk.calls["open"] == 1)
    assert bot.runtime.console.dingtalk_status().state == "connecting"
    stopping = time.monotonic()
    bot.runtime.stop()
    assert time.monotonic() - stopping < 5


def test_while_the_gateway_is_down_the_bot_waits_longer_each_time_then_connects(
    make_bot: Callable[..., Bot], fake_dingtalk: FakeDingTalk
) -> None:
    fake_dingtalk.gateway_down = True
    bot = make_bot(**dingtalk_settings(fake_dingtalk))
    wait_for(lambda: len(fake_dingtalk.opens) >= 2, timeout=10)
    status = bot.runtime.console.dingtalk_status()
    assert status.state == "waiting" and status.retry_at > time.time()
    fake_dingtalk.gateway_down = False
    fake_dingtalk.wait_connected(1, timeout=15)


# -- what a message says ------------------------------------------------------------------------


def test_in_a_group_the_leading_space_goes_and_the_reply_mentions_the_asker(
    ding: Bot, fake_dingtalk: FakeDingTalk, fake_model: FakeOpenAI
) -> None:
    fake_dingtalk.push(fake_dingtalk.message("how big is a petabyte?", group=True))
    sent = fake_dingtalk.wait_sent(1)[0]
    body = sent["body"]
    assert body["at"] == {"atUserIds": [STAFF]}
    assert body["markdown"]["text"].startswith(f"@{STAFF}\n\n")
    # The leading space is gone, and in a shared group conversation the model is told who asks.
    assert asked(fake_model) == ["Wang Fang: how big is a petabyte?"]


def test_a_group_is_one_conversation_or_one_per_member(
    make_bot: Callable[..., Bot], fake_dingtalk: FakeDingTalk, fake_model: FakeOpenAI
) -> None:
    bot = make_bot(**dingtalk_settings(fake_dingtalk, dingtalk_group_context="per_user"))
    fake_dingtalk.wait_connected(1)
    fake_dingtalk.push(fake_dingtalk.message("first", group=True, staff_id="a1", nick="A"))
    fake_dingtalk.wait_sent(1)
    bot.idle()
    fake_dingtalk.push(fake_dingtalk.message("second", group=True, staff_id="b2", nick="B"))
    fake_dingtalk.wait_sent(2)
    bot.idle()
    second = fake_model.chat_requests()[1]["messages"]
    assert not any("first" in str(m.get("content")) for m in second)  # B does not see A's question


def test_audio_is_answered_from_its_transcript(
    ding: Bot, fake_dingtalk: FakeDingTalk, fake_model: FakeOpenAI
) -> None:
    fake_dingtalk.push(fake_dingtalk.message("what time is it in Beijing", msgtype="audio"))
    fake_dingtalk.wait_sent(1)
    assert asked(fake_model) == ["what time is it in Beijing"]


@pytest.mark.parametrize("msgtype", ["file", "video", "unknownMsgType"])
def test_other_messages_get_a_short_note_that_the_bot_reads_text(
    ding: Bot, fake_dingtalk: FakeDingTalk, fake_model: FakeOpenAI, msgtype: str
) -> None:
    frame = fake_dingtalk.push(fake_dingtalk.message("", msgtype=msgtype))
    fake_dingtalk.wait_ack(frame)
    sent = fake_dingtalk.wait_sent(1)[0]
    assert "I can read text and pictures, not this" in sent["body"]["markdown"]["text"]
    assert fake_model.chat_requests() == []
    # Again within the minute: not answered again, so DingTalk's limit is not spent on notes.
    fake_dingtalk.wait_ack(fake_dingtalk.push(fake_dingtalk.message("", msgtype=msgtype)))
    time.sleep(0.3)
    assert len(fake_dingtalk.sent) == 1


def test_people_are_dingtalk_staff_ids_and_isadmin_gives_no_rights(
    make_bot: Callable[..., Bot], fake_dingtalk: FakeDingTalk, fake_model: FakeOpenAI
) -> None:
    bot = make_bot(**dingtalk_settings(fake_dingtalk, access="listed", allowed_users=["dingtalk:boss1"]))
    fake_dingtalk.wait_connected(1)
    fake_dingtalk.push(fake_dingtalk.message("let me in", staff_id="someone9", is_admin=True))
    note = fake_dingtalk.wait_sent(1)[0]["body"]["markdown"]["text"]
    assert "dingtalk:someone9" in note
    fake_dingtalk.push(fake_dingtalk.message("hello", staff_id="boss1"))
    assert fake_dingtalk.wait_sent(2)[1]["body"]["markdown"]["text"] == "Answer to: hello"
    bot.idle()
    assert asked(fake_model) == ["hello"]


def test_someone_outside_the_organisation_is_known_by_sender_id(
    ding: Bot, fake_dingtalk: FakeDingTalk
) -> None:
    message = fake_dingtalk.message("I am a guest", staff_id="")
    fake_dingtalk.push(message)
    fake_dingtalk.wait_sent(1)
    ding.idle()
    assert ding.runtime.store.user(f"dingtalk:{message['senderId']}")


# -- delivery -------------------------------------------------------------------------------------


def test_a_long_answer_is_split_under_dingtalks_limits_with_code_fences_closed(
    ding: Bot, fake_dingtalk: FakeDingTalk, fake_model: FakeOpenAI
) -> None:
    code = "\n".join(f'print("line {i} ✓ 引号")' for i in range(700))
    fake_model.reply = lambda messages: f"Here:\n\n```python\n{code}\n```\n\nDone."
    fake_dingtalk.push(fake_dingtalk.message("write a long program"))
    ding.idle()
    sent = wait_for(lambda: fake_dingtalk.sent if len(fake_dingtalk.sent) >= 5 else None)
    texts = [s["body"]["markdown"]["text"] for s in sent]
    assert len(texts) >= 5
    for text in texts:
        assert len(text) <= 3800
        assert text.count("```") % 2 == 0  # each part renders on its own
        assert wire.size(sent[0]["body"]) <= 20_000
    joined = "".join(texts)
    assert all(f'print("line {i} ✓ 引号")' in joined for i in range(700))


def test_parts_stay_under_dingtalks_byte_limits_even_when_json_escaping_grows_them() -> None:
    from app.platforms.dingtalk.delivery import parts_of

    text = '\x01"😀' * 3000  # 6, 2 and 4 bytes each in JSON
    parts = parts_of(text, 3800)
    assert len(parts) > 3 and "".join(parts) == text
    head = "@" + "x" * 64 + "\n\n"
    assert all(wire.size(wire.markdown("x" * 30, head + p, "x" * 64)) <= 20_000 for p in parts)
    assert all(
        wire.size({"title": "x" * 30, "text": "**" + "王" * 100 + "**\n\n" + p}) <= 15_000 for p in parts
    )
    chinese = parts_of("数据" * 5000, 3800)  # 3 bytes a character: within both limits as they are
    assert len(chinese) == 3 and all(len(p) <= 3800 for p in chinese)


def test_a_long_chinese_answer_reaches_a_group_whole_through_the_openapi(
    ding: Bot, fake_dingtalk: FakeDingTalk, fake_model: FakeOpenAI
) -> None:
    lines = [f"第{n}行：" + "数据" * 30 for n in range(200)]
    fake_model.reply = lambda messages: "\n".join(lines)
    message = fake_dingtalk.message("写长一点", group=True, nick="王" * 40)
    fake_dingtalk.expire_sessions()
    fake_dingtalk.push(message)
    ding.idle(30)
    sent = wait_for(lambda: fake_dingtalk.sent if len(fake_dingtalk.sent) >= 4 else None)
    assert all(s["via"] == "group" for s in sent)
    joined = "".join(s["msgParam"]["text"] for s in sent)
    assert all(line in joined for line in lines)
    assert errors(ding) == []


def test_after_the_reply_link_expired_a_person_is_answered_through_the_openapi(
    ding: Bot, fake_dingtalk: FakeDingTalk, fake_model: FakeOpenAI
) -> None:
    fake_model.delay = 1.0
    fake_dingtalk.push(fake_dingtalk.message("slow model", session_minutes=0.5))  # expires within the margin
    sent = fake_dingtalk.wait_sent(1)[0]
    assert sent["via"] == "otm" and sent["user"] == STAFF
    assert sent["body"]["robotCode"] == fake_dingtalk.client_id and sent["body"]["msgKey"] == "sampleMarkdown"
    assert sent["msgParam"]["text"] == "Answer to: slow model"


def test_after_the_reply_link_expired_a_group_is_answered_through_the_openapi(
    ding: Bot, fake_dingtalk: FakeDingTalk
) -> None:
    message = fake_dingtalk.message("slow group", group=True)
    fake_dingtalk.expire_sessions()
    fake_dingtalk.push(message)
    sent = fake_dingtalk.wait_sent(1)[0]
    assert sent["via"] == "group" and sent["conversation"] == message["conversationId"]
    assert sent["msgParam"]["text"].startswith("**Wang Fang**\n\n")


def test_a_session_dingtalk_says_is_gone_falls_back_to_the_openapi_and_the_token_is_reused(
    ding: Bot, fake_dingtalk: FakeDingTalk
) -> None:
    fake_dingtalk.script["session"] += [{"errcode": 300001}, {"errcode": 300001}]
    fake_dingtalk.push(fake_dingtalk.message("one"))
    fake_dingtalk.wait_sent(1)
    ding.idle()
    fake_dingtalk.push(fake_dingtalk.message("two"))
    sent = fake_dingtalk.wait_sent(2)
    assert [s["via"] for s in sent] == ["otm", "otm"]
    assert fake_dingtalk.tokens_issued == 1  # cached, not fetched for every message


def test_a_token_dingtalk_stopped_taking_is_renewed_once(ding: Bot, fake_dingtalk: FakeDingTalk) -> None:
    fake_dingtalk.script["session"] += [{"errcode": 300001}, {"errcode": 300001}]
    fake_dingtalk.push(fake_dingtalk.message("one"))
    fake_dingtalk.wait_sent(1)
    ding.idle()
    fake_dingtalk.expire_tokens()  # the secret was reset, say
    fake_dingtalk.push(fake_dingtalk.message("two"))
    assert fake_dingtalk.wait_sent(2)[1]["msgParam"]["text"] == "Answer to: two"
    assert fake_dingtalk.tokens_issued == 2


def test_too_fast_is_retried_after_a_wait_and_nothing_is_lost(ding: Bot, fake_dingtalk: FakeDingTalk) -> None:
    fake_dingtalk.script["session"] += [{"errcode": 130101}]
    fake_dingtalk.push(fake_dingtalk.message("under throttling"))
    sent = fake_dingtalk.wait_sent(1, timeout=15)
    assert sent[0]["body"]["markdown"]["text"] == "Answer to: under throttling"
    assert fake_dingtalk.calls["session"] == 2


def test_a_person_dingtalk_does_not_deliver_to_is_reported_not_retried(
    ding: Bot, fake_dingtalk: FakeDingTalk
) -> None:
    fake_dingtalk.invalid_staff.add(STAFF)
    fake_dingtalk.expire_sessions()
    message = fake_dingtalk.message("nobody home")
    fake_dingtalk.expire_sessions()
    fake_dingtalk.push(message)
    ding.idle()
    found = wait_for(lambda: [e for e in errors(ding) if e.kind == "dingtalk_not_delivered"])
    assert found[0].source == "dingtalk"
    assert fake_dingtalk.calls["otm"] == 1


def test_a_held_back_person_is_retried(ding: Bot, fake_dingtalk: FakeDingTalk) -> None:
    fake_dingtalk.flow_controlled.add(STAFF)
    message = fake_dingtalk.message("wait for it")
    fake_dingtalk.expire_sessions()
    fake_dingtalk.push(message)
    wait_for(lambda: fake_dingtalk.calls["otm"] >= 1)
    fake_dingtalk.flow_controlled.clear()
    assert fake_dingtalk.wait_sent(1, timeout=15)[0]["msgParam"]["text"] == "Answer to: wait for it"


def test_a_guest_after_the_reply_link_expired_cannot_be_reached_and_that_is_said(
    ding: Bot, fake_dingtalk: FakeDingTalk
) -> None:
    message = fake_dingtalk.message("late", staff_id="")
    fake_dingtalk.expire_sessions()
    fake_dingtalk.push(message)
    ding.idle()
    wait_for(lambda: [e for e in errors(ding) if e.kind == "dingtalk_no_staff"])
    assert fake_dingtalk.sent == []


def test_an_answer_waiting_while_dingtalk_is_away_is_sent_when_it_is_back(
    ding: Bot, fake_dingtalk: FakeDingTalk
) -> None:
    fake_dingtalk.script["session"] += [{"http": 502}, {"hang": 4}]  # down, then too slow (3 s here)
    fake_dingtalk.push(fake_dingtalk.message("patience"))
    assert fake_dingtalk.wait_sent(1, timeout=20)[0]["body"]["markdown"]["text"] == "Answer to: patience"
    assert fake_dingtalk.calls["session"] >= 2


def test_the_pacer_keeps_twenty_a_minute_per_conversation() -> None:
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    pacer = wire.Pacer(clock=lambda: now[0], sleep=sleep)
    for _ in range(20):
        pacer.wait("a", 0.0)
    assert waits == []
    pacer.wait("b", 0.0)  # another conversation has its own budget
    assert waits == []
    pacer.wait("a", 0.0)
    assert waits == [60.0]
    pacer.wait("a", 1.0)
    assert waits[-1] == pytest.approx(1.0)


# -- HTTP mode ------------------------------------------------------------------------------------


@pytest.fixture
def ding_http(make_bot: Callable[..., Bot], fake_dingtalk: FakeDingTalk) -> Bot:
    return make_bot(**dingtalk_settings(fake_dingtalk, dingtalk_mode="http"))


def test_the_signature_matches_dingtalks_test_vector() -> None:
    assert (
        wire.sign("client-secret-for-test", "1684493546276") == "nwBJQmaBLv9+5/sSS/66jcFc1/kGY5wo38L88LOGfRU="
    )


def test_a_signed_callback_is_answered_and_no_connection_is_opened(
    ding_http: Bot, fake_dingtalk: FakeDingTalk, fake_model: FakeOpenAI
) -> None:
    answer = fake_dingtalk.callback(ding_http.url + "/dingtalk", fake_dingtalk.message("over http"))
    assert answer.status_code == 200 and answer.content == b""
    assert fake_dingtalk.wait_sent(1)[0]["body"]["markdown"]["text"] == "Answer to: over http"
    assert fake_dingtalk.opens == [] and fake_dingtalk.connections == 0


HOUR_MS = 3_600_000


@pytest.mark.parametrize(
    ("change", "status", "reason"),
    [
        ({"sign": "bm90IHRoZSBzaWdu"}, 403, "dingtalk_bad_sign"),
        ({"secret": "another-secret"}, 403, "dingtalk_bad_sign"),
        ({"sign": ""}, 401, "dingtalk_no_sign"),
        ({"timestamp_ms": -HOUR_MS - 60_000}, 403, "dingtalk_bad_sign"),  # a replay
        ({"timestamp_ms": HOUR_MS + 60_000}, 403, "dingtalk_bad_sign"),
    ],
)
def test_a_callback_signed_wrong_is_refused_and_nothing_is_stored(  # noqa: PLR0917
    ding_http: Bot,
    fake_dingtalk: FakeDingTalk,
    fake_model: FakeOpenAI,
    change: dict[str, Any],
    status: int,
    reason: str,
) -> None:
    if "timestamp_ms" in change:
        change = {"timestamp_ms": int(time.time() * 1000) + change["timestamp_ms"]}
    answer = fake_dingtalk.callback(ding_http.url + "/dingtalk", fake_dingtalk.message("forged"), **change)
    assert answer.status_code == status
    assert "app-secret" not in answer.text
    assert [w.reason for w in records(ding_http)] == [reason]
    time.sleep(0.2)
    assert fake_model.chat_requests() == [] and ding_http.runtime.dispatcher.pending() == 0


def test_a_timestamp_that_is_not_a_number_is_refused(ding_http: Bot, fake_dingtalk: FakeDingTalk) -> None:
    body = json.dumps(fake_dingtalk.message("x")).encode()
    for stamp in ("soon", "1" * 40, "-5", ""):
        answer = requests.post(
            ding_http.url + "/dingtalk", data=body, headers={"timestamp": stamp, "sign": "abc"}, timeout=5
        )
        assert answer.status_code in (401, 403), stamp


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"[]",
        json.dumps({"msgtype": "text", "conversationType": "3"}).encode(),
        json.dumps({"msgtype": "text", "conversationType": "1", "msgId": "m"}).encode(),
    ],
)
def test_a_signed_callback_that_is_not_a_robot_message_gets_400(
    ding_http: Bot, fake_dingtalk: FakeDingTalk, payload: bytes
) -> None:
    stamp = str(int(time.time() * 1000))
    headers = {"timestamp": stamp, "sign": wire.sign(fake_dingtalk.client_secret, stamp)}
    answer = requests.post(ding_http.url + "/dingtalk", data=payload, headers=headers, timeout=5)
    assert answer.status_code == 400 and answer.json()["success"] is False


def test_callbacks_are_refused_in_stream_mode_and_without_a_secret(
    ding: Bot, make_bot: Callable[..., Bot], fake_dingtalk: FakeDingTalk
) -> None:
    answer = fake_dingtalk.callback(ding.url + "/dingtalk", fake_dingtalk.message("wrong door"))
    assert answer.status_code == 403 and "stream" in answer.json()["error"]
    bare = make_bot(dingtalk_mode="http")
    answer = fake_dingtalk.callback(bare.url + "/dingtalk", fake_dingtalk.message("nobody set me up"))
    assert answer.status_code == 403


def test_the_same_message_by_http_twice_is_answered_once(
    ding_http: Bot, fake_dingtalk: FakeDingTalk, fake_model: FakeOpenAI
) -> None:
    message = fake_dingtalk.message("twice")
    for _ in range(2):
        assert fake_dingtalk.callback(ding_http.url + "/dingtalk", message).status_code == 200
    fake_dingtalk.wait_sent(1)
    ding_http.idle()
    time.sleep(0.2)
    assert asked(fake_model) == ["twice"] and len(fake_dingtalk.sent) == 1


# -- secrets -------------------------------------------------------------------------------------


def test_no_secret_token_or_reply_link_reaches_the_log_or_an_error(
    make_bot: Callable[..., Bot], fake_dingtalk: FakeDingTalk, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="app")
    bot = make_bot(**dingtalk_settings(fake_dingtalk, dingtalk_client_secret="wrong-secret-123"))
    wait_for(lambda: bot.runtime.console.dingtalk_status().error_kind == "dingtalk_secret")
    bot.set(dingtalk_client_secret=fake_dingtalk.client_secret)
    fake_dingtalk.wait_connected(1)
    fake_dingtalk.script["session"] += [{"errcode": 300001}, {"http": 502}]
    fake_dingtalk.invalid_staff.add("left9")
    first = fake_dingtalk.message("one")
    fake_dingtalk.push(first)
    fake_dingtalk.wait_sent(1)
    second = fake_dingtalk.message("two", staff_id="left9")
    fake_dingtalk.expire_sessions()
    fake_dingtalk.push(second)
    wait_for(lambda: [e for e in errors(bot) if e.kind == "dingtalk_not_delivered"])
    bot.idle()
    secrets = [
        "wrong-secret-123",
        fake_dingtalk.client_secret,
        *fake_dingtalk._tokens,  # the access tokens it issued
        first["sessionWebhook"].rpartition("=")[2],
        second["sessionWebhook"].rpartition("=")[2],
    ]
    said = caplog.text + str([(e.kind, e.message) for e in errors(bot)])
    said += str(bot.runtime.console.dingtalk_status())
    assert "DingTalk" in caplog.text
    for secret in secrets:
        assert secret not in said, secret[:8]


# -- kill -9 ----------------------------------------------------------------------------------------


def test_an_acknowledged_message_survives_a_restart(
    make_bot: Callable[..., Bot], fake_dingtalk: FakeDingTalk, fake_model: FakeOpenAI
) -> None:
    fake_model.delay = 30.0  # the model is still thinking when the bot stops
    bot = make_bot(**dingtalk_settings(fake_dingtalk))
    fake_dingtalk.wait_connected(1)
    fake_dingtalk.wait_ack(fake_dingtalk.push(fake_dingtalk.message("do not lose me")))
    fake_model.delay = 0.0
    bot.restart()
    assert (
        fake_dingtalk.wait_sent(1, timeout=20)[0]["body"]["markdown"]["text"] == "Answer to: do not lose me"
    )


# -- found by review ----------------------------------------------------------------------------


def test_a_seen_sign_cannot_carry_another_message(ding_http: Bot, fake_dingtalk: FakeDingTalk) -> None:
    """DingTalk's sign covers the timestamp, not the body: one captured pair must not let
    anyone post as an admin for an hour."""
    stamp = int(time.time() * 1000)
    first = fake_dingtalk.message("hello")
    assert fake_dingtalk.callback(ding_http.url + "/dingtalk", first, timestamp_ms=stamp).status_code == 200
    # DingTalk pushing the same message again with the same sign still passes (and is deduped).
    assert fake_dingtalk.callback(ding_http.url + "/dingtalk", first, timestamp_ms=stamp).status_code == 200
    forged = fake_dingtalk.message("/pause", staff_id="boss1")
    answer = fake_dingtalk.callback(ding_http.url + "/dingtalk", forged, timestamp_ms=stamp)
    assert answer.status_code == 403 and records(ding_http)[-1].reason == "dingtalk_replayed"


@pytest.mark.parametrize(
    "webhook", ["http://127.0.0.1:9/steal", "https://evil.example/robot/sendBySession?session=x"]
)
def test_a_reply_link_that_is_not_dingtalks_is_refused(
    ding: Bot, fake_dingtalk: FakeDingTalk, fake_model: FakeOpenAI, webhook: str
) -> None:
    message = fake_dingtalk.message("where do answers go?")
    message["sessionWebhook"] = webhook
    fake_dingtalk.wait_ack(fake_dingtalk.push(message))
    assert records(ding)[-1].reason == "bad_body"
    time.sleep(0.3)
    assert fake_model.chat_requests() == []


def test_a_nas_clock_minutes_fast_still_answers_by_dingtalks_own_times(
    make_bot: Callable[..., Bot], fake_dingtalk: FakeDingTalk, fake_model: FakeOpenAI
) -> None:
    from tests.conftest import FakeClock

    clock = FakeClock()
    clock.advance(20 * 60)  # the NAS thinks it is 20 minutes later than it is
    make_bot(clock=clock, **dingtalk_settings(fake_dingtalk))
    fake_dingtalk.wait_connected(1)
    fake_dingtalk.push(fake_dingtalk.message("is my clock wrong?"))
    assert fake_dingtalk.wait_sent(1)[0]["body"]["markdown"]["text"] == "Answer to: is my clock wrong?"


def test_a_missing_permission_is_named_not_taken_for_a_token_problem(
    ding: Bot, fake_dingtalk: FakeDingTalk
) -> None:
    denied = {"http": 403, "code": "Forbidden.AccessDenied.AccessTokenPermissionDenied"}
    fake_dingtalk.script["otm"] += [denied]
    message = fake_dingtalk.message("no rights")
    fake_dingtalk.expire_sessions()
    fake_dingtalk.push(message)
    found = wait_for(lambda: [e for e in errors(ding) if e.source == "dingtalk"])
    assert found[0].kind == "dingtalk_permission"
    assert fake_dingtalk.tokens_issued == 1  # no pointless fresh token
