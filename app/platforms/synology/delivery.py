"""Delivering an answer in Synology Chat: to the person through the bot's incoming URL, or
into the channel the question came from through that channel's incoming webhook."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Protocol
from urllib.parse import quote

from app import i18n, people
from app.platforms.base import Attachment
from app.platforms.retrying import Progress, record_progress, retry_or_give_up
from app.platforms.synology.downloads import Downloads
from app.platforms.synology.wire import ChatError, split
from app.settings import Values
from app.worker import Job

log = logging.getLogger(__name__)


class Sender(Protocol):
    def send(
        self,
        url: str,
        text: str,
        *,
        user_id: int | None = None,
        verify: bool | str = True,
        start: int = 0,
        on_sent: Callable[[int], None] | None = None,
        file_url: str = "",
        cuts: Sequence[int] = (),
    ) -> int: ...


class Echoes(Protocol):
    def remember(self, channel: str, texts: Sequence[str]) -> None: ...


class ChatDelivery:
    """Posts an answer: to the person through the bot's incoming URL, or into the channel the
    question came from through that channel's incoming webhook, naming the asker. Progress is
    recorded on the job, so a restart resumes after the last chunk that went out. When Chat
    cannot be reached it raises worker.RetryLater, for delivery_retry_hours, then gives up."""

    def __init__(
        self,
        sender: Sender,
        store: Progress,
        on_error: Callable[[str, str], None] | None = None,
        echoes: Echoes | None = None,
        clock: Callable[[], float] = time.time,
        *,
        files: Downloads | None = None,
    ) -> None:
        self._files = files
        self._sender = sender
        self._store = store
        self._on_error = on_error
        self._echoes = echoes
        self._clock = clock

    def __call__(self, job: Job, text: str, values: Values) -> None:
        place = self._place(job, values)
        if place is None:
            return
        url, user_id, head = place
        text, cuts = head + text, [cut + len(head) for cut in job.cuts]
        if job.channel and self._echoes:  # before posting: Chat may hand our own post back at once
            self._echoes.remember(job.channel, split(text, cuts))
        verify: bool | str = values.ca_bundle or bool(values.tls_verify)
        try:
            self._post_all(job, url, text, cuts, user_id=user_id, verify=verify, file_url=self._offer(job))
        except ChatError as exc:  # its text never holds the URL or the token
            retry_or_give_up(
                job,
                exc.kind,
                str(exc),
                transient=exc.kind in TRANSIENT,
                hours=float(values.delivery_retry_hours),
                now=self._clock(),
                give_up=lambda kind, message: self._fail(job, kind, message),
            )

    def _place(self, job: Job, values: Values) -> tuple[str, int | None, str] | None:
        """Where the job's posts go: the URL, the user for the bot's URL, and the head of the
        first post (the asker's name in a channel). None, reported, when there is nowhere."""
        if job.channel:
            channel = next((c for c in values.channels if c.name == job.channel), None)
            if channel is None:
                self._fail(job, "config", f"the channel {job.channel} is no longer configured")
                return None
            return channel.incoming_url, None, f"@{job.username or people.local(job.person)}\n"
        if not values.bot_incoming_url:
            self._fail(job, "config", "bot_incoming_url is not set, so the answer cannot be posted")
            return None
        return values.bot_incoming_url, int(people.local(job.person)), ""

    def notice(self, job: Job, text: str, values: Values) -> None:
        """One short post beside the answer ("thinking…"); not retried, a failure only logged."""
        place = self._place(job, values)
        if place is None:
            return
        url, user_id, head = place
        if job.channel and self._echoes:
            self._echoes.remember(job.channel, [head + text])
        verify: bool | str = values.ca_bundle or bool(values.tls_verify)
        try:
            self._sender.send(url, head + text, user_id=user_id, verify=verify)
        except ChatError as exc:
            log.info("could not post a notice to user %s: %s", job.person, exc)

    def _offer(self, job: Job) -> str:
        """The file_url Chat downloads the reply's file from: Chat attaches a file only that
        way, one per post. Offered for a few minutes at an unguessable address (downloads.py)."""
        if not (job.attachments and self._files and job.base_url):
            return ""
        found = Attachment.from_dict(job.attachments[0])
        key = self._files.add(found.name, found.content, found.mime)
        return f"{job.base_url}/files/{key}/{quote(found.name)}" if key else ""

    def _post_all(
        self,
        job: Job,
        url: str,
        text: str,
        cuts: Sequence[int],
        *,
        user_id: int | None,
        verify: bool | str,
        file_url: str,
    ) -> None:
        def progress(count: int) -> None:
            record_progress(self._store, job, count)

        total = len(split(text, cuts))
        if not job.posting:
            # A stop from here on may leave a post half done: the restart says so.
            job.posting = True
            self._store.update_job(job.id, posting=True)
        if job.interrupted and job.sent < total:
            # Part of the answer went out before the restart, and the chunk in flight then may
            # have arrived: say so, rather than silently sending it a second time or not at all.
            self._post_once(job, url, i18n.t(job.lang, "resent"), user_id, verify)
            job.interrupted = False
        while job.sent < total:
            try:
                try:
                    self._sender.send(
                        url,
                        text,
                        user_id=user_id,
                        verify=verify,
                        start=job.sent,
                        on_sent=progress,
                        file_url=file_url,
                        cuts=cuts,
                    )
                except ChatError as exc:
                    if exc.kind != "file":
                        raise
                    # Chat could not download the file (it cannot reach us at that address): the
                    # text still goes, with a word on why nothing is attached.
                    log.warning("Chat could not fetch the file for user %s: %s", job.person, exc)
                    note = f"{text}\n\n{i18n.t(job.lang, 'file_not_fetched')}"
                    self._sender.send(
                        url, note, user_id=user_id, verify=verify, start=job.sent, on_sent=progress, cuts=cuts
                    )
                return
            except ChatError as exc:
                if exc.kind != "timeout":
                    raise
                # The chunk may have reached Chat (DSM can be slow to answer a post it made):
                # it counts as sent rather than going out twice, and the rest follows.
                self._report(job, exc.kind, str(exc))
                progress(job.sent + 1)

    def _post_once(self, job: Job, url: str, text: str, user_id: int | None, verify: bool | str) -> None:
        try:
            self._sender.send(url, text, user_id=user_id, verify=verify)
        except ChatError as exc:
            if exc.kind != "timeout":
                raise
            self._report(job, exc.kind, str(exc))

    def _fail(self, job: Job, kind: str, message: str) -> None:
        log.error("could not deliver the answer to user %s: %s", job.person, message)
        if self._on_error:
            self._on_error(kind, message)

    def _report(self, job: Job, kind: str, message: str) -> None:
        log.error("a post to user %s may not have arrived: %s", job.person, message)
        if self._on_error:
            self._on_error(kind, message)


# Failures that pass by themselves: the NAS rebooting or updating, Chat restarting (connection
# refused or reset, HTTP 5xx), or Chat's rate limit. Any other refusal is definite.
TRANSIENT = frozenset({"unreachable", "too_fast"})
