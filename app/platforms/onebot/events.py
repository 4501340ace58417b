"""QQ's inbound side: the events a OneBot v11 implementation POSTs to /onebot. The signature
first (over the raw bytes, before anything is parsed), then what kind of event it is, whether a
message is for the bot (private; in a group an @ of the bot, a prefix, or the optional random
pick), the neutral Message for the gate, and the answer: 204 at once, or a quick operation that
replies in QQ when the gate answers without the model (a refusal, the queue full)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import bottle

from app import commands, i18n, limits, people, worker
from app.platforms import http
from app.platforms.base import Message, Wiring
from app.platforms.onebot import wire
from app.platforms.quick import QuickReplies
from app.settings import Values

log = logging.getLogger(__name__)

QQ = "qq"
GUEST_NOTICE = "refused_guest_qq"
NO_CONTENT = 204


class Refused(Exception):
    """Answered before the gate: refused (401/403), or not for the bot (204)."""

    def __init__(self, status: int, reason: str, *, error: str = "") -> None:
        super().__init__(reason)
        self.status, self.reason, self.error = status, reason, error


def verify(values: Values, body: bytes, header: str) -> None:
    """Every event must carry the signature of onebot_secret; without a secret none is taken,
    since anyone on the network could post as QQ."""
    if not values.onebot_secret:
        raise Refused(403, "qq_no_secret", error="QQ is not configured: onebot_secret is not set")
    if not header:
        raise Refused(401, "qq_no_signature", error="X-Signature is missing")
    if not wire.signature_ok(values.onebot_secret, body, header):
        raise Refused(403, "qq_bad_signature", error="X-Signature does not match")


def message_for(
    event: wire.Event, values: Values, chance: Callable[[], float]
) -> tuple[Message, wire.Reading, bool]:
    """The gate's Message for a message event, how it was read, and whether it was addressed
    to the bot (False: picked at random); or Refused. A message with nothing to read ("@bot"
    alone, a picture alone) goes to the gate too, which checks who sent it before it answers
    at once, so a blocked or paused sender hears nothing new."""
    if event.post_type != "message":
        raise Refused(NO_CONTENT, "qq_own" if event.post_type == "message_sent" else "qq_not_message")
    if event.user_id == event.self_id:
        raise Refused(NO_CONTENT, "qq_own")
    group = event.group_id if event.detail_type == "group" else ""
    if event.detail_type not in ("private", "group"):
        raise Refused(NO_CONTENT, "qq_not_message")
    reading = wire.read(event, tuple(values.onebot_prefixes))
    person = people.of(QQ, event.user_id)
    addressed = not group or reading.mentioned or reading.prefixed
    if not addressed:
        probability = float(values.onebot_probability)
        if not (reading.text and probability > 0 and chance() < probability):
            raise Refused(NO_CONTENT, "no_trigger")
        # Picked at random: never a command meant for another bot in the group ("/new"), and
        # nothing from someone who may not chat, whose once-an-hour notice is kept for when
        # they do ask the bot.
        may = not values.paused and limits.may_chat(values, limits.role(values, person, ""))
        if commands.command_of(reading.text) is not None or not may:
            raise Refused(NO_CONTENT, "no_trigger")
    per_user = values.onebot_group_context == "per_user"
    if group:
        conversation = f"qq-g{group}-{event.user_id}" if per_user else f"qq-g{group}"
    else:
        conversation = f"qq-{event.user_id}"
    message = Message(
        person=person,
        username=event.name or event.user_id,
        text=reading.text,
        conversation=conversation,
        shared=bool(group) and not per_user,
        channel=f"group:{group}" if group else "",
        dedupe=dedupe_key(event),
        can_post_later=bool(values.onebot_api_url),
        pictures=tuple({"url": url} for url in reading.pictures),
    )
    return message, reading, addressed


def dedupe_key(event: wire.Event) -> str:
    # The delivery reads the message id back from it, to quote the question.
    return f"qq:{event.self_id}:{event.message_id}"


def quoted_id(dedupe: str) -> str:
    return dedupe.rpartition(":")[2] if dedupe.startswith("qq:") else ""


def route(app: bottle.Bottle, wiring: Wiring, chance: Callable[[], float]) -> None:
    quick = QuickReplies()

    @app.route("/onebot", method=["GET", "HEAD"], public=True)  # type: ignore[untyped-decorator]
    def probe() -> bottle.HTTPResponse:
        return http.json_answer(200, success=True, service="SynoChatGPT", expects="OneBot v11 events by POST")

    @app.post("/onebot", public=True)  # type: ignore[untyped-decorator]
    def event() -> bottle.HTTPResponse:
        return _event(wiring, chance, quick)


# OneBot v11's events that are not messages, which the page names in words (`whd_qq_…`).
OTHER_EVENTS = ("notice", "request", "meta_event")


def _event_detail(post_type: str) -> dict[str, Any]:
    """What the page's list says of an event the bot ignores: which kind it was."""
    if post_type in ("message", "message_sent"):
        return {}
    key = f"qq_{post_type}" if post_type in OTHER_EVENTS else "qq_event"
    return {"detail": post_type, "detail_key": key, "detail_params": {"type": post_type}}


def _event(wiring: Wiring, chance: Callable[[], float], quick: QuickReplies) -> bottle.HTTPResponse:
    client = wiring.client_address()

    def record(status: int, reason: str, **fields: Any) -> None:
        wiring.record(status, reason, client=client, platform=QQ, **fields)

    try:
        body = http.read_body()
    except http.BadRequest as exc:
        record(exc.status, "too_large" if exc.status == 413 else "bad_body", **exc.detail())
        return http.json_answer(exc.status, success=False, error=str(exc))
    values = wiring.settings()
    try:
        verify(values, body, bottle.request.headers.get("X-Signature", ""))
        event = wire.parse_event(body)
    except Refused as refused:
        log.warning("OneBot event refused from %s: %s", client, refused.error)
        record(refused.status, refused.reason)
        return http.json_answer(refused.status, success=False, error=refused.error)
    except http.BadRequest as exc:
        log.info("OneBot event refused (%d): %s", exc.status, exc)
        record(exc.status, "bad_body", **exc.detail())
        return http.json_answer(exc.status, success=False, error=str(exc))
    who: dict[str, Any] = {}
    if event.user_id:
        who = {"user_id": int(event.user_id), "username": event.name}
    try:
        message, reading, addressed = message_for(event, values, chance)
    except Refused as refused:
        if event.detail_type != "heartbeat":  # every 30 s: it would push everything else out
            record(200, refused.reason, **_event_detail(event.post_type), **who)
        return bottle.HTTPResponse(status=NO_CONTENT)
    who["chars"] = len(message.text)
    outcome = wiring.gate.receive(message, values, guest_notice=GUEST_NOTICE)
    if outcome.job is None:
        record(200, outcome.reason, **who)
        # A random pick was not addressed to the bot: its sender is not told about limits.
        said = _in_qq_words(outcome.reason, outcome.text, reading, i18n.pick(values.language, message.text))
        return _answer(event, said if said and addressed and quick.due(message.person) else "")
    try:
        accepted = wiring.queue.accept(outcome.job)
    except OSError as exc:
        # Not stored, so not acknowledged: the implementation logs a failed post.
        log.error("could not store a QQ message from %s: %s", message.person, exc)
        record(503, "store_failed", **who)
        return http.json_answer(503, success=False, error="the bot cannot store messages right now")
    if accepted == worker.BUSY:
        log.warning("queue full: refused a QQ message from %s", message.person)
        record(200, "busy", **who)
        return _answer(event, i18n.t(outcome.lang, "busy") if addressed and quick.due(message.person) else "")
    record(200, "duplicate" if accepted == worker.DUPLICATE else "accepted", **who)
    log.info("%s a QQ message from %s", accepted, message.person)
    return bottle.HTTPResponse(status=NO_CONTENT)


def _in_qq_words(reason: str, text: str, reading: wire.Reading, lang: str) -> str:
    """The gate's immediate answer, where QQ needs other words than Synology Chat's."""
    if reason == "empty":  # "@bot" alone, or a picture alone
        return i18n.t(lang, "text_only" if reading.other else "ask_empty_qq")
    if reason == "no_incoming_url":  # onebot_api_url is not set: no answer can be sent later
        return i18n.t(lang, "no_api_url_qq")
    return text


def _answer(event: wire.Event, text: str) -> bottle.HTTPResponse:
    """Nothing to say: 204. Something: OneBot's quick operation, which the implementation sends
    as a reply to the event. In a group NapCat itself quotes the question, and @-mentions the
    sender when at_sender is true (with no space after the @)."""
    if not text:
        return bottle.HTTPResponse(status=NO_CONTENT)
    group = event.detail_type == "group"
    reply = [wire.text_segment(" " + text if group else text)]
    return http.json_answer(200, reply=reply, at_sender=group)


def reply_head(message_id: str, user_id: str) -> list[dict[str, Any]]:
    """What starts a group reply: a quote of the question and an @ of the asker."""
    head: list[dict[str, Any]] = [{"type": "reply", "data": {"id": message_id}}] if message_id else []
    return [*head, {"type": "at", "data": {"qq": user_id}}]
