"""What each chat platform provides to the contract test (tests/test_contract.py): canned
inbound payloads as the real platform sends them, with what must become of each; the posts its
fake server received; its error codes and the kinds they must map to. A new platform adds one
class here, with its fake server and fixtures, and one entry in CASES."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

import requests

from app import checks, settings
from app.platforms.base import Limits
from app.platforms.dingtalk import check as dingtalk_check
from app.platforms.dingtalk.platform import DingTalk
from app.platforms.dingtalk.wire import DingTalkClient
from app.platforms.dingtalk.wire import sign as dingtalk_wire_sign
from app.platforms.onebot import check as onebot_check
from app.platforms.onebot.platform import OneBot
from app.platforms.onebot.wire import OneBotClient, Target
from app.platforms.synology import check
from app.platforms.synology.platform import SynologyChat
from tests.conftest import BOT_TOKEN, Bot, dingtalk_settings, fast_client, qq_settings
from tests.fake_dingtalk import FakeDingTalk
from tests.fake_onebot import SELF_ID, FakeNapCat
from tests.fake_synology import FakeChat

# What must become of a canned inbound message:
ANSWERED = "answered"  # acknowledged at once, then the model's answer reaches the platform
AT_ONCE = "at_once"  # answered in the HTTP reply itself; the model is not asked
IGNORED = "ignored"  # not for the bot: a success, no answer, no model call
REFUSED = "refused"  # an HTTP error (a wrong token, a bad body); nothing stored, nothing asked


@dataclasses.dataclass(frozen=True)
class Canned:
    label: str
    send: Callable[[Bot], requests.Response]
    expect: str
    says: str = ""  # for ANSWERED: a piece of the answer's text; for AT_ONCE: of the reply


class Case(Protocol):
    name: str
    limits: Limits
    error_kinds: ClassVar[dict[int, str]]  # the platform's error codes and the kinds they must give

    def start(self, make_bot: Callable[..., Bot]) -> Bot: ...
    def canned(self) -> list[Canned]: ...
    def immediate(self, answer: requests.Response) -> str: ...
    def posts(self) -> list[str]: ...
    def ask(self, bot: Bot, question: str) -> requests.Response: ...
    def live_check(self, bot: Bot, code: int) -> checks.Result: ...


TEAM = "T" * 64
SLASH = "S" * 64


class SynologyCase:
    name = "synology"
    limits = SynologyChat.limits
    # Written out from shared/reference/synology-chat.md, not read from wire.py: the test must
    # be able to catch a wrong table.
    error_kinds: ClassVar[dict[int, str]] = {
        404: "token", 117: "file", 407: "payload", 120: "payload", 101: "payload", 800: "payload",
        410: "too_long", 411: "too_fast", 102: "api", 103: "api", 104: "api",
    }  # fmt: skip

    def __init__(self, fake: FakeChat) -> None:
        self.fake = fake

    def start(self, make_bot: Callable[..., Bot]) -> Bot:
        return make_bot(
            channels=[
                {
                    "name": "team",
                    "outgoing_token": TEAM,
                    "incoming_url": self.fake.channel_url("in" + TEAM),
                    "context": "shared",
                    "triggers": ["@ai"],
                }
            ],
            slash_tokens=[SLASH],
        )

    def canned(self) -> list[Canned]:
        def form(**fields: Any) -> Callable[[Bot], requests.Response]:
            def send(bot: Bot) -> requests.Response:
                base = {"user_id": "4", "username": "alice", "timestamp": str(int(time.time() * 1000))}
                return bot.post({**base, "post_id": str(next(bot.post_ids)), **fields})

            return send

        return [
            Canned("a direct message", form(token=BOT_TOKEN, text="what is RAID?"), ANSWERED, "RAID?"),
            Canned("a channel message with its trigger", form(token=TEAM, text="@ai hi", trigger_word="@ai"),
                   ANSWERED, "alice: hi"),
            Canned("a channel message without a trigger", form(token=TEAM, text="lunch?"), IGNORED),
            Canned("a slash command answered at once", form(token=SLASH, text="/help"), AT_ONCE, "/ask"),
            Canned("a direct message with a wrong token", form(token="W" * 64, text="hi"), REFUSED),
            Canned("a message without a token", form(text="hi"), REFUSED),
            Canned("a body that is no form", lambda bot: bot.post(b"\xff\xfe{", headers={
                "Content-Type": "application/json"}), REFUSED),
            Canned("a user id that is no number", form(token=BOT_TOKEN, user_id="4; rm", text="hi"), REFUSED),
        ]  # fmt: skip

    def immediate(self, answer: requests.Response) -> str:
        """Chat shows the "text" of the HTTP answer to the person."""
        return str(answer.json().get("text", ""))

    def posts(self) -> list[str]:
        return self.fake.texts()

    def ask(self, bot: Bot, question: str) -> requests.Response:
        return bot.say(question)

    def live_check(self, bot: Bot, code: int) -> checks.Result:
        self.fake.script.append({"code": code})
        values = settings.resolve(bot.runtime.store.settings(), {})
        return check.test_chat(values, fast_client(), 4)


class QQCase:
    name = "qq"
    limits = OneBot.limits
    # retcodes (and HTTP statuses for the token and a broken server), from
    # shared/reference/platforms.md §2.5: NapCat's 403 for a wrong token, retcode 200 for a
    # failed send or an unknown action, go-cqhttp's 100 for its risk control, NapCat's 1200.
    error_kinds: ClassVar[dict[int, str]] = {
        401: "qq_token", 403: "qq_token", 502: "qq_unreachable",
        100: "qq_risk", 200: "qq_failed", 1200: "qq_failed",
    }  # fmt: skip

    def __init__(self, fake: FakeNapCat) -> None:
        self.fake = fake

    def start(self, make_bot: Callable[..., Bot]) -> Bot:
        return make_bot(**qq_settings(self.fake))

    def canned(self) -> list[Canned]:
        fake = self.fake

        def event(message: Any, group: bool = False, **more: Any) -> Callable[[Bot], requests.Response]:
            def send(bot: Bot) -> requests.Response:
                return fake.push(bot.url, fake.event(message, group_id=4321 if group else None), **more)

            return send

        def at_bot(words: str) -> list[dict[str, Any]]:
            return [{"type": "at", "data": {"qq": str(SELF_ID)}}, {"type": "text", "data": {"text": words}}]

        def raw(body: bytes) -> Callable[[Bot], requests.Response]:
            return lambda bot: fake.push(bot.url, body)

        heartbeat = {"post_type": "meta_event", "meta_event_type": "heartbeat", "self_id": SELF_ID}
        return [
            Canned("a private message", event([{"type": "text", "data": {"text": "what is RAID?"}}]),
                   ANSWERED, "RAID?"),
            Canned("a private message in the CQ string format", event("what is &#91;RAID&#93;?"),
                   ANSWERED, "[RAID]?"),
            Canned("a group message that @-mentions the bot", event(at_bot(" hi"), group=True),
                   ANSWERED, "alice: hi"),
            Canned("a group message with the prefix", event("/gpt hello", group=True),
                   ANSWERED, "alice: hello"),
            Canned("a group message for others", event("lunch?", group=True), IGNORED),
            Canned("only an @ of the bot", event(at_bot(""), group=True), AT_ONCE, "question"),
            Canned("a heartbeat", lambda bot: fake.push(bot.url, heartbeat), IGNORED),
            Canned("a wrong signature", event("hi", secret="W" * 20), REFUSED),
            Canned("no signature", event("hi", secret=""), REFUSED),
            Canned("a body that is no JSON", raw(b"\xff\xfe{"), REFUSED),
            Canned("a user id that is no number", raw(b'{"post_type": "message", "message_type": "private", '
                   b'"message_id": 1, "user_id": "4; rm", "message": "hi"}'), REFUSED),
        ]  # fmt: skip

    def immediate(self, answer: requests.Response) -> str:
        """A quick operation's reply, which NapCat sends at once; a 204 says nothing."""
        if answer.status_code == 204 or not answer.content:
            return ""
        reply = answer.json().get("reply") or []
        return "".join(s["data"].get("text", "") for s in reply if s.get("type") == "text")

    def posts(self) -> list[str]:
        return self.fake.texts()

    def ask(self, bot: Bot, question: str) -> requests.Response:
        return self.fake.push(bot.url, self.fake.event([{"type": "text", "data": {"text": question}}]))

    def live_check(self, bot: Bot, code: int) -> checks.Result:
        self.fake.script.append({"http": code} if code in (401, 403, 502) else {"retcode": code})
        values = settings.resolve(bot.runtime.store.settings(), {})
        return onebot_check.test_qq(values, OneBotClient(timeout=3.0), Target(user="12345678"))


Sender = Callable[[Bot], requests.Response]


class DingTalkCase:
    """Through HTTP mode, whose callbacks answer over HTTP; Stream mode hands the same message
    to the same inbox (tests/test_dingtalk.py). DingTalk's immediate answers are posts to the
    reply link, not the callback's answer, so no canned message here is AT_ONCE."""

    name = "dingtalk"
    limits = DingTalk.limits
    # HTTP statuses of robot/oToMessages/batchSend, from shared/reference/platforms.md §1.4 and
    # §1.6: 400 with a string code for a wrong parameter, 429 for its rate limit, a gateway's 5xx.
    error_kinds: ClassVar[dict[int, str]] = {
        400: "dingtalk_failed", 429: "dingtalk_too_fast",
        502: "dingtalk_unreachable", 503: "dingtalk_unreachable",
    }  # fmt: skip

    def __init__(self, fake: FakeDingTalk) -> None:
        self.fake = fake

    def start(self, make_bot: Callable[..., Bot]) -> Bot:
        return make_bot(**dingtalk_settings(self.fake, dingtalk_mode="http"))

    def canned(self) -> list[Canned]:
        fake = self.fake

        def callback(words: str = "hi", *, sign: dict[str, Any] | None = None, **message: Any) -> Sender:
            def send(bot: Bot) -> requests.Response:
                return fake.callback(bot.url + "/dingtalk", fake.message(words, **message), **(sign or {}))

            return send

        def raw(body: bytes) -> Callable[[Bot], requests.Response]:
            def send(bot: Bot) -> requests.Response:
                stamp = str(int(time.time() * 1000))
                headers = {"timestamp": stamp, "sign": dingtalk_wire_sign(fake.client_secret, stamp)}
                return requests.post(bot.url + "/dingtalk", data=body, headers=headers, timeout=10)

            return send

        old = int(time.time() * 1000) - 10 * 60_000
        hour_ago = int(time.time() * 1000) - 2 * 3_600_000
        return [
            Canned("a one to one message", callback("what is RAID?"), ANSWERED, "RAID?"),
            Canned("a group message that @-mentions it", callback(group=True), ANSWERED, "Wang Fang: hi"),
            Canned("a voice message", callback("what is NAS", msgtype="audio"), ANSWERED, "what is NAS"),
            Canned("a message from before the bot was back", callback(created_at=old), IGNORED),
            Canned("a wrong signature", callback(sign={"secret": "W" * 20}), REFUSED),
            Canned("no signature", callback(sign={"sign": ""}), REFUSED),
            Canned("a replayed callback", callback(sign={"timestamp_ms": hour_ago}), REFUSED),
            Canned("a body that is no JSON", raw(b"\xff\xfe{"), REFUSED),
            Canned("not a conversation", raw(b'{"msgtype": "text", "conversationType": "9"}'), REFUSED),
        ]  # fmt: skip

    def immediate(self, answer: requests.Response) -> str:
        return ""  # a callback's answer is always empty; notes go to the reply link

    def posts(self) -> list[str]:
        return self.fake.texts()

    def ask(self, bot: Bot, question: str) -> requests.Response:
        return self.fake.callback(bot.url + "/dingtalk", self.fake.message(question))

    def live_check(self, bot: Bot, code: int) -> checks.Result:
        self.fake.script["otm"].append(
            {"http": code, "code": "invalidParameter.robotCode.auth"} if code < 500 else {"http": code}
        )
        values = settings.resolve(bot.runtime.store.settings(), {})
        return dingtalk_check.test_dingtalk(values, DingTalkClient(timeout=3.0), "manager4")


def cases(fake_chat: FakeChat, fake_qq: FakeNapCat, fake_dingtalk: FakeDingTalk) -> dict[str, Case]:
    return {
        "synology": SynologyCase(fake_chat),
        "qq": QQCase(fake_qq),
        "dingtalk": DingTalkCase(fake_dingtalk),
    }


CASES = ("synology", "qq", "dingtalk")
