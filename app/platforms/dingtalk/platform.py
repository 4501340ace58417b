"""DingTalk behind the platform interface (platforms/base.py): its limits as data, its route
(/dingtalk, for HTTP mode), its Stream connection (started with the server, stopped before it),
and delivery through reply links and the OpenAPI."""

from __future__ import annotations

import time
from collections.abc import Callable

import bottle

from app.platforms.base import Attachment, Limits, Pacing, PictureError, Wiring
from app.platforms.dingtalk import events, wire
from app.platforms.dingtalk.delivery import PART_CHARS, SEND_INTERVAL, TRANSIENT, DingTalkDelivery
from app.platforms.dingtalk.stream import Connector, Status, StreamClient
from app.platforms.fetching import Fetcher
from app.platforms.retrying import Progress
from app.settings import Values
from app.worker import Job


class DingTalk:
    name = events.DINGTALK
    label = "DingTalk"
    limits = Limits(chars=PART_CHARS, interval=SEND_INTERVAL, markdown=True, attachments=False)
    guest_notice = events.GUEST_NOTICE

    def __init__(
        self,
        client: wire.DingTalkClient,
        store: Progress,
        *,
        on_error: Callable[[str, str], None] | None = None,
        clock: Callable[[], float] = time.time,
        connector: Connector | None = None,
    ) -> None:
        self._client = client
        self._delivery = DingTalkDelivery(client, store, on_error=on_error, clock=clock)
        self._clock = clock
        self._connector = connector
        self._stream: StreamClient | None = None
        self._fetcher = Fetcher()

    def configured(self, values: Values) -> bool:
        return bool(values.dingtalk_client_id and values.dingtalk_client_secret)

    def pacing(self, values: Values) -> Pacing:
        return Pacing.read(values)

    def notice(self, job: Job, text: str, values: Values) -> None:
        self._delivery.notice(job, text, values)

    def deliver(self, job: Job, text: str, values: Values) -> None:
        self._delivery(job, text, values)

    def route(self, app: bottle.Bottle, wiring: Wiring) -> None:
        inbox = events.Inbox(wiring, events.Notices(self._client, SEND_INTERVAL), self._clock)
        events.route(app, wiring, inbox, self._clock)
        self._stream = StreamClient(
            self._client,
            wiring.settings,
            lambda data, sent: inbox.receive(data, "stream", sent_ms=sent),
            clock=self._clock,
            connector=self._connector,
        )

    def pictures(self, job: Job, values: Values) -> list[Attachment]:
        found = []
        for picture in job.pictures:
            try:
                url = self._client.download_url(
                    values.dingtalk_api_url,
                    values.dingtalk_client_id,
                    values.dingtalk_client_secret,
                    picture["code"],
                )
            except wire.DingTalkError as exc:  # its text never holds a secret
                kind = "unreachable" if exc.kind in TRANSIENT else "gone"
                raise PictureError(kind, str(exc)) from None
            found.append(self._fetcher.picture(url))
        return found

    def start(self) -> None:
        if self._stream is not None:
            self._stream.start()

    def stop(self) -> None:
        if self._stream is not None:
            self._stream.stop()

    def status(self) -> Status:
        """The Stream connection, for the settings page."""
        return self._stream.status() if self._stream is not None else Status()
