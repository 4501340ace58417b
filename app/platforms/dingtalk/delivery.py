"""Delivering an answer in DingTalk: Markdown, split under DingTalk's limits (about 3,800
characters a message for it to render, never over 20,000 bytes, code fences closed in each
part), at most 20 messages a minute to one conversation, progress recorded after each part so a
restart resumes after the last one. Parts go to the message's reply link (sessionWebhook) while
it is valid; after it expires (a slow model, a queue after a restart), or when DingTalk says the
session is gone, through the OpenAPI with the app's token. In a group the first part
@-mentions the asker."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from app import i18n, people
from app.platforms.dingtalk import wire
from app.platforms.retrying import Progress, post_in_order, retry_or_give_up
from app.settings import Values
from app.text import split_message
from app.worker import Job

log = logging.getLogger(__name__)

PART_CHARS = 3800  # what renders reliably in DingTalk's Markdown (shared/reference/platforms.md §1.4)
MAX_BYTES = 20_000  # a session webhook refuses a bigger body (460101)
MAX_PARAM_BYTES = 15_000  # the OpenAPI's limit for a message's msgParam
SEND_INTERVAL = 1.0  # seconds between two parts, besides the 20-a-minute cap
EXPIRY_MARGIN_MS = 60_000  # a reply link this close to its end is not trusted with a part
TITLE_CHARS = 30  # the notification's preview

# Failures that pass by themselves: no internet for a while, DingTalk's throttling.
TRANSIENT = frozenset({"dingtalk_unreachable", "dingtalk_timeout", "dingtalk_dns", "dingtalk_too_fast"})


class Sender(Protocol):
    pacer: wire.Pacer

    def post_session(self, url: str, body: dict[str, Any]) -> None: ...

    def send_to_person(
        self, api_url: str, client_id: str, secret: str, staff_id: str, *, key: str, param: dict[str, Any]
    ) -> None: ...

    def send_to_group(
        self,
        api_url: str,
        client_id: str,
        secret: str,
        conversation_id: str,
        *,
        key: str,
        param: dict[str, Any],
    ) -> None: ...


def parts_of(text: str, limit: int) -> list[str]:
    """The answer split at `limit` characters, each part small enough in bytes for both ways it
    may go, even when escaping in JSON makes it grow (quotes, control characters, emoji)."""
    parts: list[str] = []
    for part in split_message(text, limit):
        size = limit
        pieces = [part]
        while not all(_fits(p) for p in pieces):
            size //= 2
            pieces = split_message(part, size)
        parts.extend(pieces)
    return parts


def _fits(part: str) -> bool:
    # The longest title, and the longest head a part gets: "@<staffId>" or "**<nickname>**".
    title, head = "x" * TITLE_CHARS, "x" * 320
    return (
        wire.size(wire.markdown(title, head + part, "x" * 64)) <= MAX_BYTES
        and wire.size({"title": title, "text": head + part}) <= MAX_PARAM_BYTES
    )


def title_of(text: str) -> str:
    first = next((line.strip(" #>*-`") for line in text.splitlines() if line.strip(" #>*-`")), "SynoChatGPT")
    return first[:TITLE_CHARS]


class DingTalkDelivery:
    def __init__(
        self,
        sender: Sender,
        store: Progress,
        on_error: Callable[[str, str], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sender = sender
        self._store = store
        self._on_error = on_error
        self._clock = clock

    def __call__(self, job: Job, text: str, values: Values) -> None:
        if job.attachments:  # no file through a reply link: say where to get it
            text = f"{text}\n\n{i18n.t(job.lang, 'file_not_sent_dingtalk')}"
        if not job.post_size:  # split by the size of the first try, whatever happens later
            job.post_size = PART_CHARS
        parts = parts_of(text, job.post_size)
        try:
            post_in_order(
                self._store,
                job,
                len(parts),
                lambda index: self._send(values, job, parts[index], mention=index == 0),
                lambda: self._send(values, job, i18n.t(job.lang, "resent"), mention=False),
            )
        except wire.DingTalkError as exc:  # its text never holds a secret or a link
            retry_or_give_up(
                job,
                exc.kind,
                str(exc),
                transient=exc.kind in TRANSIENT,
                hours=float(values.delivery_retry_hours),
                now=self._clock(),
                give_up=lambda kind, message: self._report(job, kind, message),
            )

    def _send(self, values: Values, job: Job, part: str, *, mention: bool) -> None:
        group = job.channel.partition("group:")[2]
        staff = job.route.get("staff", "")
        self._sender.pacer.wait(job.route.get("conversation") or group or job.person, SEND_INTERVAL)
        webhook = job.route.get("webhook", "")
        expires = int(job.route.get("expires", "0") or 0)
        if webhook and self._clock() * 1000 < expires - EXPIRY_MARGIN_MS:
            at = staff if group and mention and staff else ""
            body = wire.markdown(title_of(part), f"@{at}\n\n{part}" if at else part, at)
            try:
                self._sender.post_session(webhook, body)
                return
            except wire.DingTalkError as exc:
                if exc.kind != "dingtalk_session":
                    raise
                log.info(
                    "DingTalk's reply link for %s is gone (%s): sending through the OpenAPI",
                    job.person,
                    exc.code,
                )
        self._send_openapi(values, job, group, part, mention=mention)

    def _send_openapi(self, values: Values, job: Job, group: str, part: str, *, mention: bool) -> None:
        client_id, secret = values.dingtalk_client_id, values.dingtalk_client_secret
        if not (client_id and secret):
            raise wire.DingTalkError(
                "dingtalk_no_credentials", "the reply link expired and dingtalk_client_secret is not set"
            )
        if group:
            # The OpenAPI has no @ for a group message: the asker is named instead.
            text = f"**{job.username}**\n\n{part}" if mention else part
            param = {"title": title_of(part), "text": text}
            self._sender.send_to_group(
                values.dingtalk_api_url, client_id, secret, group, key="sampleMarkdown", param=param
            )
            return
        staff = job.route.get("staff", "") or ""
        if not staff:  # someone from outside the organisation has no staff id to send to
            raise wire.DingTalkError(
                "dingtalk_no_staff",
                "the reply link expired, and DingTalk sends later only to its organisation's members",
            )
        param = {"title": title_of(part), "text": part}
        self._sender.send_to_person(
            values.dingtalk_api_url, client_id, secret, staff, key="sampleMarkdown", param=param
        )

    def _report(self, job: Job, kind: str, message: str) -> None:
        log.error("could not deliver the answer to %s in DingTalk: %s", people.short(job.person), message)
        if self._on_error:
            self._on_error(kind, message)
