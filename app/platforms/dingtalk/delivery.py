"""Delivering an answer in DingTalk: Markdown, split under DingTalk's limits (about 3,800
characters a message for it to render, never over 20,000 bytes, code fences closed in each
part), at most 20 messages a minute to one conversation, progress recorded after each part so a
restart resumes after the last one. Parts go to the message's reply link (sessionWebhook) while
it is valid; after it expires (a slow model, a queue after a restart), or when DingTalk says the
session is gone, through the OpenAPI with the app's token. In a group the first part
@-mentions the asker."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from app import i18n, people
from app.platforms.base import Attachment
from app.platforms.dingtalk import wire
from app.platforms.retrying import Progress, post_in_order, retry_or_give_up
from app.settings import Values
from app.text import sections, split_message
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

    def upload(
        self,
        oapi_url: str,
        api_url: str,
        client_id: str,
        secret: str,
        *,
        name: str,
        content: bytes,
        mime: str,
    ) -> str: ...

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


@dataclasses.dataclass(frozen=True)
class Words:
    """A part of the answer, as a reply-link message or an OpenAPI one."""

    text: str

    def reply(self, at: str) -> dict[str, Any]:
        return wire.markdown(title_of(self.text), f"@{at}\n\n{self.text}" if at else self.text, at)

    def openapi(self, asker: str) -> tuple[str, dict[str, Any]]:
        text = f"**{asker}**\n\n{self.text}" if asker else self.text
        return "sampleMarkdown", {"title": title_of(self.text), "text": text}


@dataclasses.dataclass(frozen=True)
class Image:
    """An uploaded picture, by its media id."""

    media: str

    def reply(self, at: str) -> dict[str, Any]:
        return wire.markdown("🎨", f"![picture]({self.media})")

    def openapi(self, asker: str) -> tuple[str, dict[str, Any]]:
        return "sampleImageMsg", {"photoURL": self.media}


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
        found = [Attachment.from_dict(a) for a in job.attachments]
        # A picture goes up to DingTalk and is shown in a message of its own; that needs the
        # app's credentials. A file cannot go through a robot's reply: say where to get it.
        can_upload = bool(values.dingtalk_client_id and values.dingtalk_client_secret)
        pictures = [a for a in found if a.mime.startswith("image/")] if can_upload else []
        if len(pictures) < len(found):
            text = f"{text}\n\n{i18n.t(job.lang, 'file_not_sent_dingtalk')}"
        if not job.post_size:  # split by the size of the first try, whatever happens later
            job.post_size = PART_CHARS
        # Each section (partial.py) on its own, as its parts may have gone out already.
        parts = [part for piece in sections(text, job.cuts) for part in parts_of(piece, job.post_size)]

        def post(index: int) -> None:
            if index < len(parts):
                self._send(values, job, Words(parts[index]), mention=index == 0)
                return
            picture = pictures[index - len(parts)]
            media = self._sender.upload(
                values.dingtalk_oapi_url,
                values.dingtalk_api_url,
                values.dingtalk_client_id,
                values.dingtalk_client_secret,
                name=picture.name,
                content=picture.content,
                mime=picture.mime,
            )
            self._send(values, job, Image(media), mention=False)

        try:
            post_in_order(
                self._store,
                job,
                len(parts) + len(pictures),
                post,
                lambda: self._send(values, job, Words(i18n.t(job.lang, "resent")), mention=False),
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

    def notice(self, job: Job, text: str, values: Values) -> None:
        """One short message beside the answer ("thinking…"); not retried, a failure only logged."""
        try:
            self._send(values, job, Words(text), mention=False)
        except wire.DingTalkError as exc:
            log.info("could not send a notice to %s in DingTalk: %s", people.short(job.person), exc)

    def _send(self, values: Values, job: Job, item: Words | Image, *, mention: bool) -> None:
        group = job.channel.partition("group:")[2]
        staff = job.route.get("staff", "")
        self._sender.pacer.wait(job.route.get("conversation") or group or job.person, SEND_INTERVAL)
        webhook = job.route.get("webhook", "")
        expires = int(job.route.get("expires", "0") or 0)
        if webhook and self._clock() * 1000 < expires - EXPIRY_MARGIN_MS:
            at = staff if group and mention and staff else ""
            body = item.reply(at)
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
        self._send_openapi(values, job, group, item, mention=mention)

    def _send_openapi(
        self, values: Values, job: Job, group: str, item: Words | Image, *, mention: bool
    ) -> None:
        client_id, secret = values.dingtalk_client_id, values.dingtalk_client_secret
        if not (client_id and secret):
            raise wire.DingTalkError(
                "dingtalk_no_credentials", "the reply link expired and dingtalk_client_secret is not set"
            )
        api = values.dingtalk_api_url
        if group:
            # The OpenAPI has no @ for a group message: the asker is named instead.
            key, param = item.openapi(job.username if mention else "")
            self._sender.send_to_group(api, client_id, secret, group, key=key, param=param)
            return
        staff = job.route.get("staff", "") or ""
        if not staff:  # someone from outside the organisation has no staff id to send to
            raise wire.DingTalkError(
                "dingtalk_no_staff",
                "the reply link expired, and DingTalk sends later only to its organisation's members",
            )
        key, param = item.openapi("")
        self._sender.send_to_person(api, client_id, secret, staff, key=key, param=param)

    def _report(self, job: Job, kind: str, message: str) -> None:
        log.error("could not deliver the answer to %s in DingTalk: %s", people.short(job.person), message)
        if self._on_error:
            self._on_error(kind, message)
