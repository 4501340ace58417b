"""QQ through OneBot v11, end to end: the real server, a fake NapCat (tests/fake_onebot.py)
posting events the way NapCat's HTTP client does and answering sends the way its HTTP server
does, and the fake model."""

from __future__ import annotations

import hmac
import itertools
import json
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from app import settings
from app.platforms.onebot.wire import OneBotClient, OneBotError, Target
from tests.conftest import Bot, qq_environment, qq_settings
from tests.fake_http import free_port
from tests.fake_onebot import SELF_ID, FakeNapCat
from tests.fake_openai import FakeOpenAI
from tests.test_process import Process, processes

__all__ = ["processes"]  # the fixture, used here

ALICE = 12345678
GROUP = 987654


def at(qq: int | str) -> dict[str, object]:
    return {"type": "at", "data": {"qq": str(qq)}}


def text(words: str) -> dict[str, object]:
    return {"type": "text", "data": {"text": words}}


@pytest.fixture
def qq(make_bot: Callable[..., Bot], fake_qq: FakeNapCat) -> Bot:
    return make_bot(**qq_settings(fake_qq))


def asked(fake_model: FakeOpenAI) -> list[str]:
    return [r["messages"][-1]["content"] for r in fake_model.chat_requests()]


# -- private messages ---------------------------------------------------------------------------


def test_a_private_message_is_answered_through_the_api_as_a_segment_array(
    qq: Bot, fake_qq: FakeNapCat, fake_model: FakeOpenAI
) -> None:
    answer = fake_qq.push(qq.url, fake_qq.event([text("what is RAID?")]))
    assert answer.status_code == 204 and answer.content == b""
    sent = fake_qq.wait_for(1)[0]
    assert sent.action == "send_private_msg" and sent.target == f"user:{ALICE}"
    assert isinstance(sent.message, list) and sent.text == "Answer to: what is RAID?"
    assert asked(fake_model) == ["what is RAID?"]


def test_the_cq_string_format_is_read_and_unescaped(
    qq: Bot, fake_qq: FakeNapCat, fake_model: FakeOpenAI
) -> None:
    event = fake_qq.event("[CQ:face,id=14]is &#91;RAID 5&#93; &amp; RAID 6, the same?")
    assert fake_qq.push(qq.url, event).status_code == 204
    fake_qq.wait_for(1)
    assert asked(fake_model) == ["is [RAID 5] & RAID 6, the same?"]


def test_an_answer_that_looks_like_cq_codes_is_sent_as_plain_text(
    qq: Bot, fake_qq: FakeNapCat, fake_model: FakeOpenAI
) -> None:
    tricky = "Use [CQ:at,qq=all] &amp; a list [1, 2] & more"
    fake_model.reply = lambda messages: tricky
    fake_qq.push(qq.url, fake_qq.event([text("hi")]))
    sent = fake_qq.wait_for(1)[0]
    assert sent.message == [{"type": "text", "data": {"text": tricky}}]


def test_ids_as_strings_are_taken_like_numbers(qq: Bot, fake_qq: FakeNapCat) -> None:
    event = fake_qq.event([text("hi")], user_id=str(ALICE), message_id="77")
    event["self_id"] = str(SELF_ID)
    assert fake_qq.push(qq.url, event).status_code == 204
    assert fake_qq.wait_for(1)[0].target == f"user:{ALICE}"


def test_a_repeated_event_is_answered_once(qq: Bot, fake_qq: FakeNapCat, fake_model: FakeOpenAI) -> None:
    event = fake_qq.event([text("once please")], message_id=4242)
    assert fake_qq.push(qq.url, event).status_code == 204
    assert fake_qq.push(qq.url, event).status_code == 204  # go-cqhttp re-posts a slow event
    qq.idle()
    assert len(fake_model.chat_requests()) == 1 and len(fake_qq.sent) == 1
    reasons = [w.reason for w in qq.runtime.console.monitor.webhooks()]
    assert reasons[:2] == ["duplicate", "accepted"]


def test_a_picture_without_a_link_gets_a_short_reply_without_asking_the_model(
    qq: Bot, fake_qq: FakeNapCat, fake_model: FakeOpenAI
) -> None:
    event = fake_qq.event([{"type": "image", "data": {"file": "a.jpg"}}])
    answer = fake_qq.push(qq.url, event)
    assert answer.status_code == 200 and "text" in fake_qq.quick[0].text
    assert fake_model.chat_requests() == [] and fake_qq.sent == []


# -- groups --------------------------------------------------------------------------------------


def test_a_group_mention_is_answered_quoting_the_question_and_mentioning_the_asker(
    qq: Bot, fake_qq: FakeNapCat, fake_model: FakeOpenAI
) -> None:
    event = fake_qq.event([at(SELF_ID), text(" what is btrfs?")], group_id=GROUP, message_id=555)
    assert fake_qq.push(qq.url, event).status_code == 204
    sent = fake_qq.wait_for(1)[0]
    assert sent.action == "send_group_msg" and sent.target == f"group:{GROUP}"
    assert sent.message[0] == {"type": "reply", "data": {"id": "555"}}
    assert sent.message[1] == {"type": "at", "data": {"qq": str(ALICE)}}
    # Shared by default: the model is told who asks, without the @ of the bot.
    assert asked(fake_model) == ["alice: what is btrfs?"]


def test_a_group_mention_in_the_string_format(qq: Bot, fake_qq: FakeNapCat, fake_model: FakeOpenAI) -> None:
    event = fake_qq.event(f"[CQ:at,qq={SELF_ID}] hello [CQ:at,qq=555] there", group_id=GROUP)
    assert fake_qq.push(qq.url, event).status_code == 204
    fake_qq.wait_for(1)
    assert asked(fake_model) == ["alice: hello @555 there"]


def test_group_prefixes_and_what_is_ignored(qq: Bot, fake_qq: FakeNapCat, fake_model: FakeOpenAI) -> None:
    for words in ("lunch anyone?", "/gptfoo hi", "/gpt4 hi", f"@{SELF_ID} not a real mention"):
        assert fake_qq.push(qq.url, fake_qq.event([text(words)], group_id=GROUP)).status_code == 204
    qq.idle()
    assert fake_model.chat_requests() == [] and fake_qq.sent == [] and fake_qq.quick == []
    for words in ("/GPT  how big is 1 TiB?", "/gpt你好"):
        assert fake_qq.push(qq.url, fake_qq.event([text(words)], group_id=GROUP)).status_code == 204
    fake_qq.wait_for(2)
    assert asked(fake_model) == ["alice: how big is 1 TiB?", "alice: 你好"]


def test_a_mention_alone_asks_for_a_question(qq: Bot, fake_qq: FakeNapCat, fake_model: FakeOpenAI) -> None:
    answer = fake_qq.push(qq.url, fake_qq.event([at(SELF_ID)], group_id=GROUP, message_id=9))
    assert answer.status_code == 200 and answer.json()["at_sender"] is True
    quick = fake_qq.quick[0]
    assert quick.message[0]["type"] == "reply" and quick.message[1] == at(ALICE)
    assert "question" in quick.text and fake_model.chat_requests() == []


@pytest.mark.parametrize(
    ("message", "question"),
    [
        ("[CQ:at,qq=all] &amp;#91;not a code&amp;#93; is &#91;a&#93;", "@all &#91;not a code&#93; is [a]"),
        ("[CQ:at,qq=55,name=a&#44;b] hi", "@a,b hi"),
        ("[CQ:image,file=a&#44;b.jpg]what is this?", "what is this?"),
        ("[CQ:unclosed hi", "[CQ:unclosed hi"),
    ],
)
def test_cq_strings_in_groups_and_their_escapes(
    qq: Bot, fake_qq: FakeNapCat, fake_model: FakeOpenAI, message: str, question: str
) -> None:
    event = fake_qq.event(
        f"/gpt {message}" if message.startswith("[CQ:unclosed") else f"[CQ:at,qq={SELF_ID}]{message}",
        group_id=GROUP,
        message_id=-2147483000,
    )  # NapCat's ids can be negative
    assert fake_qq.push(qq.url, event).status_code == 204
    sent = fake_qq.wait_for(1)[0]
    assert sent.message[0] == {"type": "reply", "data": {"id": "-2147483000"}}
    assert asked(fake_model) == [f"alice: {question}"]


def test_a_prefix_after_the_quote_and_at_of_a_reply_counts(
    qq: Bot, fake_qq: FakeNapCat, fake_model: FakeOpenAI
) -> None:
    # Replying to someone, a QQ client puts the quote and an @ of its author before the words.
    reply = [{"type": "reply", "data": {"id": "77"}}, at(555), text(" /gpt explain this")]
    assert fake_qq.push(qq.url, fake_qq.event(reply, group_id=GROUP)).status_code == 204
    fake_qq.wait_for(1)
    assert asked(fake_model) == ["alice: explain this"]


def test_per_user_group_conversations_keep_members_apart(
    make_bot: Callable[..., Bot], fake_qq: FakeNapCat, fake_model: FakeOpenAI
) -> None:
    bot = make_bot(**qq_settings(fake_qq, onebot_group_context="per_user"))
    fake_qq.push(bot.url, fake_qq.event([at(SELF_ID), text("I am alice")], group_id=GROUP))
    fake_qq.wait_for(1)
    bob = fake_qq.event([at(SELF_ID), text("who am I?")], group_id=GROUP, user_id=777, name="bob")
    fake_qq.push(bot.url, bob)
    fake_qq.wait_for(2)
    bob_saw = json.dumps(fake_model.chat_requests()[-1]["messages"])
    assert "I am alice" not in bob_saw and "who am I?" in bob_saw


def test_random_replies_answer_plain_group_messages(
    make_bot: Callable[..., Bot], fake_qq: FakeNapCat, fake_model: FakeOpenAI
) -> None:
    bot = make_bot(**qq_settings(fake_qq, onebot_probability=1))
    fake_qq.push(bot.url, fake_qq.event([text("lunch anyone?")], group_id=GROUP))
    fake_qq.wait_for(1)
    assert asked(fake_model) == ["alice: lunch anyone?"]
    # Someone not allowed to chat, picked at random, is not told so: they did not ask.
    bot.set(access="listed")
    fake_qq.push(bot.url, fake_qq.event([text("dinner?")], group_id=GROUP, user_id=777))
    asked_bot = fake_qq.event([text("/gpt hi")], group_id=GROUP, user_id=777)
    assert fake_qq.push(bot.url, asked_bot).status_code == 200
    bot.idle()
    assert len(fake_model.chat_requests()) == 1 and len(fake_qq.quick) == 1
    assert "qq:777" in fake_qq.quick[0].text


def test_random_picks_never_run_commands_meant_for_other_bots(
    make_bot: Callable[..., Bot], fake_qq: FakeNapCat, fake_model: FakeOpenAI
) -> None:
    bot = make_bot(**qq_settings(fake_qq, onebot_probability=1, admin_users=[f"qq:{ALICE}"]))
    for words in ("/pause", "/new", "刷新"):
        assert fake_qq.push(bot.url, fake_qq.event([text(words)], group_id=GROUP)).status_code == 204
    bot.idle()
    assert bot.runtime.settings().paused is False and fake_qq.sent == [] and fake_model.chat_requests() == []


def test_nothing_to_read_gets_a_reply_only_from_the_gate_and_once_a_minute(
    make_bot: Callable[..., Bot], fake_qq: FakeNapCat, fake_model: FakeOpenAI
) -> None:
    bot = make_bot(**qq_settings(fake_qq, blocked_users=["qq:666"]))
    picture = [{"type": "image", "data": {"file": "a.jpg"}}]
    for _ in range(3):  # "@bot" alone, again and again
        fake_qq.push(bot.url, fake_qq.event([at(SELF_ID)], group_id=GROUP))
        fake_qq.push(bot.url, fake_qq.event([at(SELF_ID), *picture], group_id=GROUP, user_id=777))
        fake_qq.push(bot.url, fake_qq.event([at(SELF_ID)], group_id=GROUP, user_id=666))
    replies = [(q.target, q.segments("at")[0]["data"]["qq"], q.text) for q in fake_qq.quick]
    assert len(replies) == 3, replies  # one each, whatever they send
    assert "question" in replies[0][2] and "text" in replies[1][2] and "not" in replies[2][2]
    assert fake_model.chat_requests() == []
    bot.set(paused=True)
    fake_qq.push(bot.url, fake_qq.event([at(SELF_ID)], group_id=GROUP, user_id=888))
    assert "paused" in fake_qq.quick[-1].text and len(fake_qq.quick) == 4


def test_with_no_api_url_a_qq_user_is_told_in_qq_words(
    make_bot: Callable[..., Bot], fake_qq: FakeNapCat, fake_model: FakeOpenAI
) -> None:
    bot = make_bot(**qq_settings(fake_qq, onebot_api_url=""))
    answer = fake_qq.push(bot.url, fake_qq.event([text("hi")]))
    assert answer.status_code == 200 and "OneBot API URL" in fake_qq.quick[0].text
    assert fake_model.chat_requests() == [] and bot.runtime.store.pending_jobs() == []


def test_events_that_are_not_messages_and_our_own_messages_do_nothing(
    qq: Bot, fake_qq: FakeNapCat, fake_model: FakeOpenAI
) -> None:
    base = {"time": 1, "self_id": SELF_ID}
    others = [
        {**base, "post_type": "meta_event", "meta_event_type": "heartbeat", "interval": 30000},
        {**base, "post_type": "meta_event", "meta_event_type": "lifecycle", "sub_type": "connect"},
        {**base, "post_type": "notice", "notice_type": "group_increase", "user_id": 5},
        {**base, "post_type": "request", "request_type": "friend", "user_id": 5},
        {**base, "post_type": "a_newer_kind"},
        fake_qq.event([text("my own words")], post_type="message_sent", user_id=SELF_ID),
        fake_qq.event([text("also mine")], user_id=SELF_ID),
    ]  # fmt: skip
    for event in others:
        answer = fake_qq.push(qq.url, event)
        assert answer.status_code == 204, (event, answer.text)
    qq.idle()
    assert fake_model.chat_requests() == [] and fake_qq.sent == [] and fake_qq.quick == []
    reasons = [w.reason for w in qq.runtime.console.monitor.webhooks()]
    assert "qq_own" in reasons and "qq_not_message" in reasons
    assert len(reasons) == len(others) - 1  # heartbeats are not listed: one every 30 s


# -- who may chat ---------------------------------------------------------------------------------


def test_qq_people_on_the_lists_and_admin_commands_from_qq(
    make_bot: Callable[..., Bot], fake_qq: FakeNapCat
) -> None:
    # A bare number is a Synology Chat id: it makes nobody in QQ an admin.
    bot = make_bot(**qq_settings(fake_qq, access="listed", admin_users=[str(ALICE)]))
    answer = fake_qq.push(bot.url, fake_qq.event([text("hi")]))
    assert answer.status_code == 200 and f"qq:{ALICE}" in fake_qq.quick[0].text
    bot.set(admin_users=[f"qq:{ALICE}"])
    fake_qq.push(bot.url, fake_qq.event([text("/whoami")]))
    assert fake_qq.wait_for(1)[0].text.startswith(f"You are qq:{ALICE} on the admin's lists")
    fake_qq.push(bot.url, fake_qq.event([text("/gpt /pause")], group_id=GROUP))
    fake_qq.wait_for(2)
    assert bot.runtime.settings().paused is True


def test_a_long_answer_goes_out_in_paced_parts_within_the_set_size(
    make_bot: Callable[..., Bot], fake_qq: FakeNapCat, fake_model: FakeOpenAI
) -> None:
    bot = make_bot(**qq_settings(fake_qq, onebot_part_chars=300, onebot_send_interval=0.3))
    paragraphs = [f"Paragraph {n}. " + "word " * 40 for n in range(8)]
    fake_model.reply = lambda messages: "\n\n".join(paragraphs)
    fake_qq.push(bot.url, fake_qq.event([at(SELF_ID), text("long")], group_id=GROUP))
    bot.idle(30)
    sent = fake_qq.sent
    assert len(sent) >= 6 and all(len(s.text) <= 301 for s in sent)  # 300 and the space after the @
    assert [s.segments("reply") != [] for s in sent] == [True] + [False] * (len(sent) - 1)
    gaps = [b.at - a.at for a, b in itertools.pairwise(sent)]
    assert min(gaps) >= 0.28, gaps
    joined = " ".join(s.text for s in sent)
    assert all(p.strip() in joined for p in paragraphs)


# -- the OneBot API failing -----------------------------------------------------------------------


def test_api_failures_are_reported_in_plain_words(qq: Bot, fake_qq: FakeNapCat) -> None:
    monitor = qq.runtime.console.monitor
    fake_qq.script.append({"retcode": 100, "message": "SEND_MSG_API_ERROR"})
    fake_qq.push(qq.url, fake_qq.event([text("one")]))
    qq.idle()
    assert [(e.source, e.kind) for e in monitor.errors()] == [("qq", "qq_risk")]
    qq.set(onebot_access_token="wrong-token")
    fake_qq.push(qq.url, fake_qq.event([text("two")]))
    qq.idle()
    assert monitor.errors()[0].kind == "qq_token" and "wrong-token" not in monitor.errors()[0].message
    assert fake_qq.sent == [] and fake_qq.refused == [100, 403]


def test_an_answer_waits_while_napcat_is_away_and_arrives_when_it_is_back(
    make_bot: Callable[..., Bot], fake_qq: FakeNapCat, fake_model: FakeOpenAI
) -> None:
    away = f"http://127.0.0.1:{free_port()}"
    bot = make_bot(**qq_settings(fake_qq, onebot_api_url=away, onebot_part_chars=300))
    fake_model.reply = lambda messages: "\n\n".join(f"Paragraph {n}. " + "word " * 30 for n in range(6))
    fake_qq.push(bot.url, fake_qq.event([text("are you there?")]))
    deadline = time.monotonic() + 10
    while bot.runtime.dispatcher.waiting().chat == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert bot.runtime.dispatcher.waiting().chat == 1
    errors = bot.runtime.console.monitor.errors()
    assert [(e.source, e.kind) for e in errors] == [("qq", "qq_unreachable")]
    # NapCat is back (here: at its real address), and meanwhile the part size was raised: the
    # waiting answer keeps the parts it was split into.
    bot.set(onebot_api_url=fake_qq.url, onebot_part_chars=4500)
    sent = fake_qq.wait_for(6, timeout=15)
    assert all(len(s.text) <= 300 for s in sent) and sent[0].text.startswith("Paragraph 0.")


def test_sends_to_two_groups_at_once_take_turns_with_the_pause_between(
    make_bot: Callable[..., Bot], fake_qq: FakeNapCat, fake_model: FakeOpenAI
) -> None:
    bot = make_bot(**qq_settings(fake_qq, onebot_part_chars=200, onebot_send_interval=0.3))
    fake_model.reply = lambda messages: "\n\n".join(f"Part {n}. " + "word " * 30 for n in range(3))
    for group in (111, 222):
        fake_qq.push(bot.url, fake_qq.event([at(SELF_ID), text("go")], group_id=group))
    bot.idle(30)
    starts = sorted(s.at for s in fake_qq.sent)
    assert {s.target for s in fake_qq.sent} == {"group:111", "group:222"} and len(starts) >= 6
    assert min(b - a for a, b in itertools.pairwise(starts)) >= 0.28, starts


def test_a_send_napcat_does_not_answer_in_time_counts_as_sent(qq: Bot, fake_qq: FakeNapCat) -> None:
    fake_qq.script.append({"hang": 4.0})  # the client gives up after 3 s; NapCat still sends it
    fake_qq.push(qq.url, fake_qq.event([text("slow NapCat")]))
    qq.idle(20)
    time.sleep(1.5)
    assert fake_qq.texts() == ["Answer to: slow NapCat"], "sent once, not again after the time-out"
    assert [e.kind for e in qq.runtime.console.monitor.errors()] == ["qq_timeout"]


# -- what arrives wrong ---------------------------------------------------------------------------


def test_events_without_the_right_signature_are_refused(
    make_bot: Callable[..., Bot], fake_qq: FakeNapCat, fake_model: FakeOpenAI
) -> None:
    bot = make_bot(**qq_settings(fake_qq))
    event = fake_qq.event([text("hi")])
    assert fake_qq.push(bot.url, event, secret="").status_code == 401
    assert fake_qq.push(bot.url, event, secret="not-the-secret").status_code == 403
    assert fake_qq.push(bot.url, event, signature="sha1=" + "0" * 40).status_code == 403
    assert fake_qq.push(bot.url, event, signature="md5=whatever").status_code == 403
    # Signed over other bytes than those sent: the same JSON with other spacing.
    body = json.dumps(event, indent=2).encode()
    good = "sha1=" + hmac.new(fake_qq.secret.encode(), json.dumps(event).encode(), "sha1").hexdigest()
    assert fake_qq.push(bot.url, body, signature=good).status_code == 403
    bot.set(onebot_secret="")  # no secret: nothing is taken, however it is signed
    assert fake_qq.push(bot.url, event).status_code == 403
    bot.idle()
    assert fake_model.chat_requests() == [] and fake_qq.sent == []
    assert bot.runtime.store.pending_jobs() == []
    reasons = [w.reason for w in bot.runtime.console.monitor.webhooks()]
    assert reasons[0] == "qq_no_secret" and "qq_bad_signature" in reasons and "qq_no_signature" in reasons


def test_upper_case_headers_and_a_body_with_a_length_are_taken(qq: Bot, fake_qq: FakeNapCat) -> None:
    body = json.dumps(fake_qq.event([text("hi")])).encode()
    signature = "SHA1=" + hmac.new(fake_qq.secret.encode(), body, "sha1").hexdigest().upper()
    answer = requests.post(
        qq.url + "/onebot", data=body, headers={"X-Signature": signature, "Content-Type": "application/json"},
        timeout=10,
    )  # fmt: skip
    assert answer.status_code == 204
    fake_qq.wait_for(1)


def private(**fields: object) -> bytes:
    """A private message event with some fields changed (None: left out)."""
    base: dict[str, object] = {
        "post_type": "message", "message_type": "private", "message_id": 1, "user_id": 5, "message": "hi",
    }  # fmt: skip
    return json.dumps({k: v for k, v in {**base, **fields}.items() if v is not None}).encode()


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b"[1, 2]", 400),
        (b'{"self_id": 1}', 400),
        (b"\xff\xfe", 400),
        (private(message_id=None), 400),
        (private(message_id={"a": 1}), 400),
        (private(user_id="alice"), 400),
        (private(user_id=True), 400),
        (private(user_id="1" * 21), 400),
        (private(self_id="me"), 400),
        (private(user_id=-5), 400),
        (private(message_type="group"), 400),  # no group_id
        (private(message=7), 400),
        (private(message=[1]), 400),
        (private(message=[{"data": {}}]), 400),
        (private(message=[{"type": "face", "data": {}}] * 600), 400),
        (private(message="x" * (1024 * 1024)), 413),
    ],
)
def test_bad_events_get_a_clear_error_and_nothing_is_stored(
    qq: Bot, fake_qq: FakeNapCat, fake_model: FakeOpenAI, body: bytes, status: int
) -> None:
    answer = fake_qq.push(qq.url, body)
    assert answer.status_code == status, answer.text
    if status >= 400:
        assert answer.json()["error"]
    qq.idle()
    assert fake_model.chat_requests() == [] and qq.runtime.store.pending_jobs() == []


def test_a_lone_surrogate_becomes_a_replacement_character_not_an_error(
    qq: Bot, fake_qq: FakeNapCat, fake_model: FakeOpenAI
) -> None:
    # NapCat's JSON.stringify writes half an emoji as \udXXX: a nickname cut mid-emoji is real.
    event = fake_qq.event([text("half \ud83d emoji")], name="bob\ud83d")
    assert fake_qq.push(qq.url, event).status_code == 204
    fake_qq.wait_for(1)
    assert asked(fake_model) == ["half \ufffd emoji"]
    assert qq.runtime.console.monitor.webhooks()[0].username == "bob\ufffd"


def test_a_huge_question_is_answered_within_the_limits(qq: Bot, fake_qq: FakeNapCat) -> None:
    big = "很长的问题。" * 20_000  # 120,000 characters: far over any QQ message, under 1 MB
    assert fake_qq.push(qq.url, fake_qq.event([text(big)])).status_code == 204
    qq.idle(30)
    assert fake_qq.sent and all(len(s.text) <= 1500 for s in fake_qq.sent)


def test_a_token_no_http_header_can_carry_is_an_error_that_does_not_quote_it(fake_qq: FakeNapCat) -> None:
    # The settings refuse such a token (below); the client must not leak one that got through
    # (requests' own error quotes the header).
    client = OneBotClient(timeout=3.0)
    for token in ("中文令牌", "line\nbreak"):
        with pytest.raises(OneBotError) as failed:
            client.send(fake_qq.url, token, Target(user="5"), [text("hi")], 0.0)
        assert failed.value.kind == "qq_http" and token not in str(failed.value)
    assert fake_qq.arrived == 0


# -- the settings page -------------------------------------------------------------------------


def test_settings_sent_wrong_are_refused_with_their_names() -> None:
    wrong = {
        "onebot_api_url": "napcat:3000",
        "onebot_probability": "2",
        "onebot_group_context": "everyone",
        "onebot_part_chars": "50",
        "onebot_send_interval": "-1",
        "onebot_prefixes": "/g pt",
        "onebot_access_token": "中文令牌",
        "onebot_secret": "has space",
    }
    for name, value in wrong.items():
        with pytest.raises(settings.SettingsError) as refused:
            settings.validate({name: value})
        assert name in str(refused.value)
    assert settings.validate({"onebot_prefixes": "/gpt, /ai"})["onebot_prefixes"] == ("/gpt", "/ai")


def test_markdown_is_made_plain_for_qq_but_kept_in_the_history(
    qq: Bot, fake_qq: FakeNapCat, fake_model: FakeOpenAI
) -> None:
    fake_model.reply = lambda messages: (
        "## Steps\n\n**Open** [DSM](https://nas.local:5001) and run `ls **/*.py`:\n\n"
        "```python\nprint('**x**')\n```"
    )
    fake_qq.push(qq.url, fake_qq.event([text("how?")]))
    sent = fake_qq.wait_for(1)[0]
    assert sent.text == (
        "Steps\n\nOpen DSM (https://nas.local:5001) and run `ls **/*.py`:\n\n```python\nprint('**x**')\n```"
    )
    qq.idle()
    assert "**Open**" in json.dumps(qq.runtime.store.history(f"qq-{ALICE}"))


# -- a real process ----------------------------------------------------------------------------------


def test_kill_9_after_the_204_loses_nothing_and_the_log_holds_no_qq_secret(
    tmp_path: Path, env: dict[str, str], fake_model: FakeOpenAI, fake_qq: FakeNapCat, processes: list[Process]
) -> None:
    env = {**env, **qq_environment(fake_qq, onebot_send_interval=0.1), "SYNOCHATGPT_LOG_LEVEL": "debug"}
    fake_model.delay = 30.0
    server = Process(tmp_path / "data", env)
    processes.append(server)
    events = [fake_qq.event([text(f"question {n}")], user_id=ALICE + n, message_id=300 + n) for n in range(3)]
    for event in events:
        assert fake_qq.push(server.url, event).status_code == 204
    server.stop(signal.SIGKILL)
    fake_model.delay = 0.0
    fake_qq.script.append({"retcode": 100, "message": "SEND_MSG_API_ERROR"})  # one send refused: logged
    again = Process(tmp_path / "data", env)
    processes.append(again)
    deadline = time.monotonic() + 20
    while len(fake_qq.sent) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(s.text for s in fake_qq.sent) in (
        [f"Answer to: question {n}" for n in pair] for pair in ((0, 1), (0, 2), (1, 2))
    ), fake_qq.sent
    assert fake_qq.push(again.url, events[0]).status_code == 204
    again.stop()
    assert len(fake_qq.sent) == 2, "a re-posted event is still remembered after the crash"
    log = again.log()
    assert "risk" in log or "SEND_MSG_API_ERROR" in log, log
    for secret in (fake_qq.token, fake_qq.secret):
        assert secret not in log and secret not in server.log()


def test_kill_9_while_a_part_is_in_flight_says_so_and_sends_the_rest(
    tmp_path: Path, env: dict[str, str], fake_qq: FakeNapCat, processes: list[Process]
) -> None:
    env = {**env, **qq_environment(fake_qq, onebot_send_interval=0.1)}
    server = Process(tmp_path / "data", env)
    processes.append(server)
    fake_qq.script.append({"hang": 3.0})  # NapCat takes its time with the first send
    assert fake_qq.push(server.url, fake_qq.event([text("power cut?")])).status_code == 204
    deadline = time.monotonic() + 10
    while fake_qq.arrived == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    server.stop(signal.SIGKILL)  # the send is in flight: it may or may not reach QQ
    again = Process(tmp_path / "data", env)
    processes.append(again)
    texts = [s.text for s in fake_qq.wait_for(3, timeout=20)]
    # The first send did arrive (NapCat finished it); after the restart the person is told a
    # part may come twice, then gets the answer: nothing lost, nothing silently doubled.
    assert texts.count("Answer to: power cut?") == 2 and any("restarted" in t for t in texts), texts


def test_export_in_qq_says_where_to_get_the_file(qq: Bot, fake_qq: FakeNapCat) -> None:
    fake_qq.push(qq.url, fake_qq.event([text("what is RAID?")]))
    fake_qq.wait_for(1)
    fake_qq.push(qq.url, fake_qq.event([text("/export")]))
    export = fake_qq.wait_for(2)[1]
    assert "QQ cannot take the file" in export.text and export.segments("file") == []
