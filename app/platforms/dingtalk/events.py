"""DingTalk's inbound side, one path for both ways a message arrives: a frame on the Stream
connection (stream.py) or a signed callback at /dingtalk (HTTP mode). A robot message becomes
a Message for the gate; it is stored before it is acknowledged; a message DingTalk pushes twice
(its ack was slow) is answered once; one older than a few minutes (pushed again after the bot
was away) is not answered as new. When the gate answers at once (a refusal, the queue full), the
answer goes to the message's reply link from a thread of its own, after the acknowledgement."""

from __future__ import annotations

import hashlib
import logging
import queue
import threading
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import bottle

from app import i18n, people, worker
from app.platforms import http
from app.platforms.base import Message, Wiring
from app.platforms.dingtalk import wire
from app.platforms.dingtalk.settings import HTTP
from app.platforms.quick import QuickReplies
from app.settings import Values

log = logging.getLogger(__name__)

DINGTALK = "dingtalk"
GUEST_NOTICE = "refused_guest_dingtalk"
STALE_MS = 5 * 60_000  # older than this when it arrives: pushed again after the bot was away
NOTICES = 100  # immediate answers waiting to be posted; beyond that they are dropped


class Refused(Exception):
    def __init__(self, status: int, reason: str, error: str) -> None:
        super().__init__(error)
        self.status, self.reason, self.error = status, reason, error


def conversation_of(inbound: wire.Inbound, per_user: bool) -> str:
    """The store's key: DingTalk's ids hold '$', '+' and '/', so they go in hashed."""

    def short(value: str) -> str:
        return hashlib.sha256(value.encode()).hexdigest()[:20]

    if inbound.group:
        group = f"dt-g{short(inbound.conversation_id)}"
        return f"{group}-{short(inbound.user)}" if per_user else group
    return f"dt-{short(inbound.user)}"


def same_host(url: str, base: str) -> bool:
    """Whether url is on base's scheme, host and port (oapi.dingtalk.com for reply links)."""
    try:
        mine, theirs = urllib.parse.urlsplit(url), urllib.parse.urlsplit(base)
        return (mine.scheme, mine.hostname, mine.port) == (theirs.scheme, theirs.hostname, theirs.port)
    except ValueError:
        return False


def message_for(inbound: wire.Inbound, values: Values) -> Message:
    """In a group only messages that @ the robot reach it (DingTalk's rule): all are for it."""
    per_user = values.dingtalk_group_context == "per_user"
    return Message(
        person=people.of(DINGTALK, inbound.user),
        username=inbound.nick or inbound.user,
        text=inbound.text,
        conversation=conversation_of(inbound, per_user),
        shared=inbound.group and not per_user,
        channel=f"group:{inbound.conversation_id}" if inbound.group else "",
        dedupe=f"dingtalk:{inbound.msg_id}",
        route={
            "webhook": inbound.session_webhook,
            "expires": str(inbound.session_expires),
            "staff": inbound.sender_staff_id,
            "conversation": inbound.conversation_id,  # what DingTalk's 20-a-minute counts by
        },
        pictures=tuple({"code": code} for code in inbound.pictures),
    )


class Notices:
    """Immediate answers, posted to the message's reply link by one thread of their own, so an
    acknowledgement never waits for DingTalk."""

    def __init__(self, client: wire.DingTalkClient, interval: float) -> None:
        self._client, self._interval = client, interval
        self._queue: queue.Queue[tuple[wire.Inbound, str]] = queue.Queue(NOTICES)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def post(self, inbound: wire.Inbound, text: str) -> None:
        try:
            self._queue.put_nowait((inbound, text))
        except queue.Full:
            log.warning("too many immediate DingTalk answers waiting: one is dropped")
            return
        with self._lock:  # one thread, started with the first note, for the process's life
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="dingtalk-notices", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            inbound, text = self._queue.get()
            at = inbound.sender_staff_id if inbound.group else ""
            body = wire.markdown(text[:40], f"@{at} {text}" if at else text, at)
            self._client.pacer.wait(inbound.conversation_id, self._interval)
            try:
                self._client.post_session(inbound.session_webhook, body)
            except wire.DingTalkError as exc:
                log.warning("could not post an immediate answer in DingTalk: %s", exc)


class Signatures:
    """HTTP mode: DingTalk's sign covers the timestamp and the secret, not the body, so one
    seen sign could carry any message for an hour. Each (timestamp, sign) is bound to the first
    message it came with; DingTalk pushing that message again still passes."""

    def __init__(self, most: int = 100_000) -> None:
        self._seen: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._lock = threading.Lock()
        self._most = most

    def bind(self, timestamp: str, sign: str, msg_id: str, now_ms: int) -> bool:
        with self._lock:
            while self._seen and (
                len(self._seen) >= self._most or now_ms - int(next(iter(self._seen))[0]) > wire.SIGN_WINDOW_MS
            ):
                self._seen.popitem(last=False)
            first = self._seen.setdefault((timestamp, sign), msg_id)
            return first == msg_id


class Inbox:
    """Where every robot message goes, whichever way it came."""

    def __init__(self, wiring: Wiring, notices: Notices, clock: Callable[[], float] = time.time) -> None:
        self._wiring = wiring
        self._notices = notices
        self._clock = clock
        self._quick = QuickReplies()

    def receive(self, raw: bytes | str, via: str, client: str = "", *, sent_ms: int = 0) -> int:
        """200 once the message is stored (or refused, or not to be answered): acknowledge it;
        400 for a message that can never be read (acknowledge it too: a re-push would not
        help); 503 when it could not be stored: do not acknowledge, so DingTalk pushes it again.
        sent_ms: when DingTalk sent it, by DingTalk's clock (a frame's time, a callback's
        timestamp), so a NAS whose clock is off does not take every message for an old one."""

        def record(status: int, reason: str, **fields: Any) -> None:
            self._wiring.record(status, reason, client=client or via, platform=DINGTALK, **fields)

        try:
            inbound = wire.parse_message(raw)
        except http.BadRequest as exc:
            log.info("DingTalk message refused: %s", exc)
            record(400, "bad_body", **exc.detail())
            return 400
        if (sent_ms or self._clock() * 1000) - inbound.created_at > STALE_MS:
            record(200, "dingtalk_stale", user_id=inbound.user, username=inbound.nick)
            return 200
        values = self._wiring.settings()
        if not same_host(inbound.session_webhook, values.dingtalk_oapi_url):
            # Answers go to this link: one elsewhere would send them to whoever wrote it there.
            log.warning("DingTalk message refused: its sessionWebhook is not on %s", values.dingtalk_oapi_url)
            record(
                400, "bad_body", detail="the sessionWebhook is not DingTalk's", detail_key="dt_foreign_link"
            )
            return 400
        message = message_for(inbound, values)
        who: dict[str, Any] = {
            "user_id": inbound.user,
            "username": message.username,
            "chars": len(message.text),
        }
        outcome = self._wiring.gate.receive(message, values, guest_notice=GUEST_NOTICE)
        lang = i18n.pick(values.language, message.text)
        if outcome.job is None:
            record(200, outcome.reason, **who)
            said = _in_dingtalk_words(outcome.reason, outcome.text, inbound, lang)
            if said and self._quick.due(message.person):
                self._notices.post(inbound, said)
            return 200
        try:
            accepted = self._wiring.queue.accept(outcome.job)
        except OSError as exc:
            log.error("could not store a DingTalk message from %s: %s", message.person, exc)
            record(503, "store_failed", **who)
            return 503
        if accepted == worker.BUSY:
            log.warning("queue full: refused a DingTalk message from %s", message.person)
            record(200, "busy", **who)
            if self._quick.due(message.person):
                self._notices.post(inbound, i18n.t(outcome.lang, "busy"))
            return 200
        record(200, "duplicate" if accepted == worker.DUPLICATE else "accepted", **who)
        log.info("%s a DingTalk message from %s (%s)", accepted, message.person, via)
        return 200


def _in_dingtalk_words(reason: str, text: str, inbound: wire.Inbound, lang: str) -> str:
    if reason == "empty":  # a picture, a file, or "@bot" alone
        return i18n.t(lang, "text_only" if inbound.other else "ask_empty_dingtalk")
    return text


def verify(values: Values, timestamp: str, signature: str, now_ms: int) -> None:
    if values.dingtalk_mode != HTTP:
        raise Refused(
            403, "dingtalk_not_http", "dingtalk_mode is stream: messages arrive over the bot's own connection"
        )
    if not (values.dingtalk_client_id and values.dingtalk_client_secret):
        raise Refused(
            403, "dingtalk_no_secret", "DingTalk is not configured: dingtalk_client_secret is not set"
        )
    why = wire.check_signature(values.dingtalk_client_secret, timestamp, signature, now_ms)
    if why:
        missing = not (timestamp and signature)
        raise Refused(401 if missing else 403, "dingtalk_no_sign" if missing else "dingtalk_bad_sign", why)


def route(app: bottle.Bottle, wiring: Wiring, inbox: Inbox, clock: Callable[[], float] = time.time) -> None:
    signatures = Signatures()

    @app.route("/dingtalk", method=["GET", "HEAD"], public=True)  # type: ignore[untyped-decorator]
    def probe() -> bottle.HTTPResponse:
        return http.json_answer(
            200, success=True, service="SynoChatGPT", expects="DingTalk robot callbacks by POST"
        )

    @app.post("/dingtalk", public=True)  # type: ignore[untyped-decorator]
    def callback() -> bottle.HTTPResponse:
        client = wiring.client_address()
        try:
            body = http.read_body()
        except http.BadRequest as exc:
            reason = "too_large" if exc.status == 413 else "bad_body"
            wiring.record(exc.status, reason, client=client, platform=DINGTALK, **exc.detail())
            return http.json_answer(exc.status, success=False, error=str(exc))
        headers = bottle.request.headers
        try:
            verify(
                wiring.settings(), headers.get("timestamp", ""), headers.get("sign", ""), int(clock() * 1000)
            )
        except Refused as refused:
            log.warning("DingTalk callback refused from %s: %s", client, refused.error)
            wiring.record(refused.status, refused.reason, client=client, platform=DINGTALK)
            return http.json_answer(refused.status, success=False, error=refused.error)
        timestamp, sign = headers.get("timestamp", ""), headers.get("sign", "").strip()
        try:
            msg_id = wire.parse_message(body).msg_id
        except http.BadRequest:
            msg_id = ""  # the inbox says what is wrong with it
        if msg_id and not signatures.bind(timestamp, sign, msg_id, int(clock() * 1000)):
            log.warning(
                "DingTalk callback refused from %s: its sign came before with another message", client
            )
            wiring.record(403, "dingtalk_replayed", client=client, platform=DINGTALK)
            return http.json_answer(
                403, success=False, error="this sign was already used for another message"
            )
        status = inbox.receive(body, "http", client, sent_ms=int(timestamp))
        if status == 200:
            return bottle.HTTPResponse(status=200, body="")
        error = "the bot cannot store messages right now" if status == 503 else "not a DingTalk robot message"
        return http.json_answer(status, success=False, error=error)
