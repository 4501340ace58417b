"""What happens to a request Chat sent, decided before anything is stored: which integration
sent it, whether its sender may chat (lists, pause, rate limits), and whether it becomes a job
or is answered at once in the HTTP reply. Reads only settings and memory, so the webhook stays
fast; the token quotas, which need the person's file, are checked by the worker."""

from __future__ import annotations

import dataclasses
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Protocol

from app import commands, i18n, integrations, limits, people, synology
from app.settings import Values
from app.worker import Job

ECHO_MEMORY = 600.0  # seconds our own channel posts are remembered
# Slash commands answered in the HTTP reply; the rest (questions, /ask, /retry, /export) are
# queued and answered by the bot in a direct message.
SLASH_QUEUED = commands.ASKING | {"/export"}


@dataclasses.dataclass
class Outcome:
    status: int
    reason: str  # for the settings page's list of recent webhooks
    text: str = ""  # a reply Chat shows (in the HTTP body)
    job: Job | None = None
    error: str = ""  # for a refused request's JSON
    accepted_text: str = ""  # the reply once the job is stored (a slash command's "asked")
    lang: str = "en"  # for a reply the webhook adds itself (the queue is full)


class Inbox(Protocol):
    def job_for(
        self,
        person: str,
        username: str,
        text: str,
        dedupe: str,
        conversation: str,
        *,
        channel: str = "",
        shared: bool = False,
        base_url: str = "",
    ) -> Job: ...

    def quick_reply(self, job: Job, values: Values) -> str: ...


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


class Gate:
    def __init__(
        self, inbox: Inbox, echoes: Echoes | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._inbox = inbox
        self.policy = limits.Policy(clock)
        self.echoes = echoes or Echoes(clock)

    def receive(self, message: synology.Inbound, values: Values, base_url: str) -> Outcome:
        bot_token = synology.expected_token(values.bot_token, values.bot_incoming_url)
        if not (bot_token or values.channels or values.slash_tokens):
            return Outcome(403, "not_configured", error="the bot is not configured: no bot token is set")
        found = integrations.identify(message.token, bot_token, values.channels, values.slash_tokens)
        if found is None:
            return Outcome(403, "wrong_token", error="wrong token")
        lang = i18n.pick(values.language, message.text)
        text = message.text
        if found.channel is not None:
            if self.echoes.seen(found.channel.name, text):
                return Outcome(200, "own_post")
            text, triggered = integrations.strip_trigger(text, message.trigger_word, found.channel.triggers)
            if not triggered:
                return Outcome(200, "no_trigger")
            if not text:
                return Outcome(200, "empty", text=i18n.t(lang, "ask_empty"))
        person = people.of(people.SYNOLOGY, message.user_id)
        who, refusal = self.policy.admit(values, person, message.username, lang)
        if refusal is not None:
            return Outcome(200, refusal.reason, text=refusal.text)
        if found.kind == "slash":
            text = _slash_text(text)
            if not text:
                return Outcome(200, "empty", text=i18n.t(lang, "ask_empty"))
        command = commands.command_of(text)
        if command == "/ask" and not commands.argument(text):
            return Outcome(200, "empty", text=i18n.t(lang, "ask_empty"))
        if found.kind == "slash" and command is not None and command not in SLASH_QUEUED:
            job = self._job(message, text, found, base_url)
            return Outcome(200, "slash_reply", text=self._inbox.quick_reply(job, values))
        if found.kind != "channel" and not values.bot_incoming_url:
            # No way to post an answer later: asking the model would only bill the owner and put
            # an answer nobody saw into the history. The reply body is the one way left to say so.
            return Outcome(200, "no_incoming_url", text=i18n.t(lang, "no_incoming_url"))
        if command is None or command in commands.ASKING:
            refusal = self.policy.pace(values, who, person, lang, message.post_id)
            if refusal is not None:
                return Outcome(200, refusal.reason, text=refusal.text)
        job = self._job(message, text, found, base_url)
        queued = i18n.t(lang, "slash_queued") if found.kind == "slash" else ""
        return Outcome(200, "accepted", job=job, accepted_text=queued, lang=lang)

    def _job(
        self, message: synology.Inbound, text: str, found: integrations.Integration, base_url: str
    ) -> Job:
        channel = found.channel
        return self._inbox.job_for(
            people.of(people.SYNOLOGY, message.user_id),
            message.username,
            text,
            dedupe=f"post:{message.post_id}" if message.post_id else "",
            conversation=channel.conversation(message.user_id) if channel else f"dm-{message.user_id}",
            channel=channel.name if channel else "",
            shared=channel is not None and channel.context == "shared",
            base_url=base_url,
        )


def _slash_text(text: str) -> str:
    """A slash command's text starts with its own name. A name the bot does not know (say the
    owner called it /gpt) means: ask the rest. '/ask' without a question stays a command, so
    its sender is told what is missing."""
    stripped = text.strip()
    command = commands.command_of(stripped)
    if command in commands.KNOWN:
        return stripped
    return commands.argument(stripped) if stripped.startswith("/") else stripped
