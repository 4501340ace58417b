"""Synology Chat behind the platform interface (platforms/base.py): its limits as data, its
routes (the /webhook, and /files where Chat fetches an attached file), and delivery."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import bottle

from app import people
from app.platforms import http
from app.platforms.base import Attachment, Limits, Pacing, Wiring
from app.platforms.retrying import Progress
from app.platforms.synology import webhook, wire
from app.platforms.synology.delivery import ChatDelivery, Sender
from app.platforms.synology.downloads import Downloads
from app.settings import Values
from app.worker import Job

log = logging.getLogger(__name__)


class SynologyChat:
    name = people.SYNOLOGY
    label = "Synology Chat"
    limits = Limits(chars=wire.MAX_CHARS, interval=wire.MIN_INTERVAL, markdown=True, attachments=True)
    guest_notice = "refused_guest"

    def __init__(
        self,
        sender: Sender,
        store: Progress,
        *,
        on_error: Callable[[str, str], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.echoes = webhook.Echoes()
        self.files = Downloads()
        self._delivery = ChatDelivery(
            sender, store, on_error=on_error, echoes=self.echoes, clock=clock, files=self.files
        )

    def pictures(self, job: Job, values: Values) -> list[Attachment]:  # Chat gives bots no files
        return []

    def start(self) -> None:  # it only answers what arrives at its route
        pass

    def stop(self) -> None:
        pass

    def configured(self, values: Values) -> bool:
        bot = wire.expected_token(values.bot_token, values.bot_incoming_url)
        return bool(bot or values.channels or values.slash_tokens)

    def pacing(self, values: Values) -> Pacing:
        return Pacing.read(values)

    def notice(self, job: Job, text: str, values: Values) -> None:
        self._delivery.notice(job, text, values)

    def deliver(self, job: Job, text: str, values: Values) -> None:
        self._delivery(job, text, values)

    def route(self, app: bottle.Bottle, wiring: Wiring) -> None:
        webhook.route(app, wiring, self.echoes)

        @app.get("/files/<key>/<name>", public=True)  # type: ignore[untyped-decorator]
        def download(key: str, name: str) -> bottle.HTTPResponse:
            # Chat downloads an attached file from here; the 256-bit key is the permission.
            found = self.files.get(key)
            if found is None or found.name != name:
                return http.json_answer(404, success=False, error="no such file, or its link has expired")
            return bottle.HTTPResponse(
                body=found.content,
                status=200,
                headers={
                    "Content-Type": found.mime,
                    "Content-Disposition": f'attachment; filename="{found.name}"',
                    "Cache-Control": "no-store",
                },
            )
