"""Delivering an answer in QQ: split for QQ (parts far below any hard limit, since its risk
control hits long messages), sent through the OneBot API one part at a time, paced, in order,
progress recorded after each part so a restart resumes after the last one. In a group the
first part quotes the question and @-mentions the asker."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from app import i18n, people
from app.platforms.base import Attachment
from app.platforms.onebot import events, wire
from app.platforms.retrying import Progress, post_in_order, retry_or_give_up
from app.settings import Values
from app.text import plain, sections, split_message
from app.worker import Job

log = logging.getLogger(__name__)


class Sender(Protocol):
    def send(
        self, api_url: str, token: str, target: wire.Target, message: list[dict[str, Any]], interval: float
    ) -> dict[str, Any]: ...


# Failures that pass by themselves: NapCat restarting or QQ logging in again. Anything else
# (a wrong token, QQ's risk control) would only get worse by trying again.
TRANSIENT = frozenset({"qq_unreachable"})


def target_of(job: Job) -> wire.Target:
    group = job.channel.partition("group:")[2]
    return wire.Target(group=group) if group else wire.Target(user=people.local(job.person))


class QQDelivery:
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
        if not values.onebot_api_url:
            self._report(job, "qq_no_url", "onebot_api_url is not set, so the answer cannot be sent")
            return
        pictures = [a for a in map(Attachment.from_dict, job.attachments) if a.mime.startswith("image/")]
        if len(pictures) < len(job.attachments):  # QQ takes no file through a message: say where
            text = f"{text}\n\n{i18n.t(job.lang, 'file_not_sent_qq')}"
        if not job.post_size:  # split by the size of the first try, whatever the setting is later
            job.post_size = int(values.onebot_part_chars)
        size = job.post_size
        # QQ shows text as it is: Markdown's ** and # would stand there (platform.limits). Each
        # section (partial.py) on its own, as its parts may have gone out already.
        parts = [part for piece in sections(text, job.cuts) for part in split_message(plain(piece), size)]
        target = target_of(job)

        def post(index: int) -> None:
            if index >= len(parts):  # after the words, the pictures, each a message of its own
                self._send(values, target, [wire.image_segment(pictures[index - len(parts)].content)], job)
                return
            message = [wire.text_segment(parts[index])]
            if target.group and index == 0:
                head = events.reply_head(events.quoted_id(job.dedupe), people.local(job.person))
                message = [*head, wire.text_segment(" " + parts[0])]
            self._send(values, target, message, job)

        def resent() -> None:
            self._send(values, target, [wire.text_segment(i18n.t(job.lang, "resent"))], job)

        try:
            post_in_order(self._store, job, len(parts) + len(pictures), post, resent)
        except wire.OneBotError as exc:  # its text never holds the token
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
        if not values.onebot_api_url:
            return
        try:
            self._send(values, target_of(job), [wire.text_segment(text)], job)
        except wire.OneBotError as exc:
            log.info("could not send a notice to %s in QQ: %s", job.person, exc)

    def _send(self, values: Values, target: wire.Target, message: list[dict[str, Any]], job: Job) -> None:
        try:
            self._sender.send(
                values.onebot_api_url,
                values.onebot_access_token,
                target,
                message,
                float(values.onebot_send_interval),
            )
        except wire.OneBotError as exc:
            if exc.kind != "qq_timeout":
                raise
            # It may have reached QQ: count it as sent rather than post it twice.
            self._report(job, exc.kind, str(exc))

    def _report(self, job: Job, kind: str, message: str) -> None:
        log.error("could not deliver the answer to %s in QQ: %s", job.person, message)
        if self._on_error:
            self._on_error(kind, message)
