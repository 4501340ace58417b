"""Synology Chat's inbound side: the one /webhook its bot, channels and slash commands all
post to. Which integration spoke (the token), whether the message is for the bot (an echo of
our own channel post, a trigger word, a slash command's own name), the neutral Message for the
gate, and Chat's answer shape: {"success": true, "text": ...} in the HTTP reply."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

import bottle

from app import commands, i18n, people, worker
from app.platforms import http
from app.platforms.base import Message, Wiring
from app.platforms.synology import integrations
from app.platforms.synology import wire as synology
from app.settings import Values

log = logging.getLogger(__name__)

ECHO_MEMORY = 600.0  # seconds our own channel posts are remembered


class Echoes:
    """Our recent posts per channel: if Chat hands a post of our incoming webhook back to the
    outgoing one, the bot must not answer itself, for ever."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, keep: float = ECHO_MEMORY) -> None:
        self._clock = clock
        self._keep = keep
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(channel: str, text: str) -> str:
        return hashlib.sha256(f"{channel}\0{' '.join(text.split())}".encode()).hexdigest()

    def remember(self, channel: str, texts: Sequence[str]) -> None:
        now = self._clock()
        with self._lock:
            for text in texts:
                self._seen[self._key(channel, text)] = now
                self._seen.move_to_end(self._key(channel, text))
            while self._seen and (
                len(self._seen) > 5000 or now - next(iter(self._seen.values())) > self._keep
            ):
                self._seen.popitem(last=False)

    def seen(self, channel: str, text: str) -> bool:
        with self._lock:
            at = self._seen.get(self._key(channel, text))
        return at is not None and self._clock() - at <= self._keep


class Refused(Exception):
    """Answered by the platform itself, before the gate: a wrong token (403), or a message not
    for the bot (200, maybe with a text Chat shows)."""

    def __init__(self, status: int, reason: str, *, error: str = "", text: str = "") -> None:
        super().__init__(reason)
        self.status, self.reason, self.error, self.text = status, reason, error, text


def message_for(inbound: synology.Inbound, values: Values, echoes: Echoes, base_url: str) -> Message:
    """The gate's Message for what Chat sent, or Refused."""
    bot_token = synology.expected_token(values.bot_token, values.bot_incoming_url)
    if not (bot_token or values.channels or values.slash_tokens):
        raise Refused(403, "not_configured", error="the bot is not configured: no bot token is set")
    found = integrations.identify(inbound.token, bot_token, values.channels, values.slash_tokens)
    if found is None:
        raise Refused(403, "wrong_token", error="wrong token")
    text = inbound.text
    channel = found.channel
    if channel is not None:
        if echoes.seen(channel.name, text):
            raise Refused(200, "own_post")
        text, triggered = integrations.strip_trigger(text, inbound.trigger_word, channel.triggers)
        if not triggered:
            raise Refused(200, "no_trigger")
        if not text:
            raise Refused(200, "empty", text=i18n.t(i18n.pick(values.language, inbound.text), "ask_empty"))
    if found.kind == "slash":
        text = _slash_text(text)
    return Message(
        person=people.of(people.SYNOLOGY, inbound.user_id),
        username=inbound.username,
        text=text,
        conversation=channel.conversation(inbound.user_id) if channel else f"dm-{inbound.user_id}",
        shared=channel is not None and channel.context == "shared",
        channel=channel.name if channel else "",
        dedupe=f"post:{inbound.post_id}" if inbound.post_id else "",
        slash=found.kind == "slash",
        # A channel answers through its own incoming webhook; the bot and slash commands
        # through the bot's.
        can_post_later=channel is not None or bool(values.bot_incoming_url),
        base_url=base_url,
    )


def route(app: bottle.Bottle, wiring: Wiring, echoes: Echoes) -> None:
    @app.route("/webhook", method=["GET", "HEAD"], public=True)  # type: ignore[untyped-decorator]
    def webhook_probe() -> bottle.HTTPResponse:
        # Chat is reported to probe the URL; a 405 here breaks delivery.
        return http.json_answer(200, success=True, service="SynoChatGPT")

    @app.post("/webhook", public=True)  # type: ignore[untyped-decorator]
    def webhook() -> bottle.HTTPResponse:
        return _webhook(wiring, echoes)


def _webhook(wiring: Wiring, echoes: Echoes) -> bottle.HTTPResponse:
    client = wiring.client_address()
    record = wiring.record
    try:
        inbound = synology.parse_inbound(http.read_body(), bottle.request.content_type or "")
    except http.BadRequest as exc:
        log.info("webhook refused (%d): %s", exc.status, exc)
        reason = {401: "no_token", 413: "too_large", 415: "bad_type"}.get(exc.status, "bad_body")
        record(exc.status, reason, client=client, **exc.detail())
        return http.json_answer(exc.status, success=False, error=str(exc))
    who = {
        "client": client,
        "user_id": inbound.user_id,
        "username": inbound.username,
        "chars": len(inbound.text),
    }
    parts = bottle.request.urlparts
    values = wiring.settings()
    try:
        message = message_for(inbound, values, echoes, f"{parts.scheme}://{parts.netloc}")
    except Refused as refused:
        if refused.status != 200:
            # Without a valid token the user id and name are only claims: anyone on the network
            # could put any name in the list, so the list shows the address and the reason alone.
            log.warning("webhook refused from %s: %s", client, refused.error)
            record(refused.status, refused.reason, client=client, chars=len(inbound.text))
            return http.json_answer(refused.status, success=False, error=refused.error)
        return _at_once(record, who, inbound, refused.reason, refused.text)
    outcome = wiring.gate.receive(message, values)
    if outcome.job is None:
        return _at_once(record, who, inbound, outcome.reason, outcome.text)
    try:
        accepted = wiring.queue.accept(outcome.job)
    except OSError as exc:
        # Not stored, so not acknowledged: Chat tells the user the bot failed, which is true.
        log.error("could not store a message from user %s: %s", inbound.user_id, exc)
        record(503, "store_failed", **who)
        return http.json_answer(503, success=False, error="the bot cannot store messages right now")
    if accepted == worker.BUSY:
        # Answered at once, in the reply body: better than an answer that comes far too late.
        log.warning("queue full: refused a message from user %s", inbound.user_id)
        record(200, "busy", **who)
        return http.json_answer(200, success=True, busy=True, text=i18n.t(outcome.lang, "busy"))
    if accepted == worker.DUPLICATE:
        log.info("ignored a repeated delivery of post %s", inbound.post_id)
        record(200, "duplicate", **who)
        return http.json_answer(200, success=True, duplicate=True)
    log.info("accepted a message from user %s (%d chars)", inbound.user_id, len(inbound.text))
    record(200, "accepted", **who)
    extra = {"text": outcome.accepted_text} if outcome.accepted_text else {}
    return http.json_answer(200, success=True, **extra)


def _at_once(
    record: Callable[..., None], who: dict[str, object], inbound: synology.Inbound, reason: str, text: str
) -> bottle.HTTPResponse:
    log.info("webhook from user %s answered at once: %s", inbound.user_id, reason)
    record(200, reason, **who)
    return http.json_answer(200, success=True, **({"text": text} if text else {}))


def _slash_text(text: str) -> str:
    """A slash command's text starts with its own name. A name the bot does not know (say the
    owner called it /gpt) means: ask the rest. '/ask' without a question stays a command, so
    its sender is told what is missing."""
    stripped = text.strip()
    command = commands.command_of(stripped)
    if command in commands.KNOWN:
        return stripped
    return commands.argument(stripped) if stripped.startswith("/") else stripped
