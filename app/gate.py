"""What happens to a message a platform hands over, decided before anything is stored:
whether its sender may chat (lists, pause, rate limits: limits.Policy), and whether it becomes a
job or is answered at once. Reads only settings and memory, so a webhook stays fast; the token
quotas, which need the person's file, are checked by the worker. Platform-blind: what a
platform knows (tokens, triggers, its HTTP answers) is done in its folder before and after."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from app import commands, i18n, limits
from app.platforms.base import Message, Outcome
from app.settings import Values
from app.worker import Job

# Slash commands answered at once; the rest (questions, /ask, /retry, /export) are queued and
# answered by the bot in a direct message.
SLASH_QUEUED = commands.ASKING | {"/export"}


class Inbox(Protocol):
    def job_for(self, message: Message, text: str) -> Job: ...

    def quick_reply(self, job: Job, values: Values) -> str: ...


class Gate:
    def __init__(self, inbox: Inbox, clock: Callable[[], float] = time.monotonic) -> None:
        self._inbox = inbox
        self.policy = limits.Policy(clock)

    def receive(self, message: Message, values: Values, *, guest_notice: str = "refused_guest") -> Outcome:
        lang = i18n.pick(values.language, message.text)
        who, refusal = self.policy.admit(
            values, message.person, message.username, lang, guest_notice=guest_notice
        )
        if refusal is not None:
            return Outcome(refusal.reason, text=refusal.text)
        text = message.text
        if not text.strip() and not message.pictures:
            # Nothing to ask (an empty slash command, "@bot" alone, a file alone): asking the
            # model would bill the owner for nothing. The platform may word it its own way.
            return Outcome("empty", text=i18n.t(lang, "ask_empty"))
        command = commands.command_of(text)
        if command == "/ask" and not commands.argument(text):
            return Outcome("empty", text=i18n.t(lang, "ask_empty"))
        if command == "/image" and not commands.image_prompt(text):
            return Outcome("empty_prompt", text=i18n.t(lang, "image_empty"))
        if message.slash and command is not None and command not in SLASH_QUEUED:
            job = self._inbox.job_for(message, text)
            return Outcome("slash_reply", text=self._inbox.quick_reply(job, values))
        if not message.can_post_later:
            # No way to post an answer later: asking the model would only bill the owner and put
            # an answer nobody saw into the history. The immediate answer is the one way left.
            return Outcome("no_incoming_url", text=i18n.t(lang, "no_incoming_url"))
        if command is None or command in commands.ASKING:
            refusal = self.policy.pace(values, who, message.person, lang, message.dedupe)
            if refusal is not None:
                return Outcome(refusal.reason, text=refusal.text)
        job = self._inbox.job_for(message, text)
        queued = i18n.t(lang, "slash_queued") if message.slash else ""
        return Outcome("accepted", job=job, accepted_text=queued, lang=lang)
