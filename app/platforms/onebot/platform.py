"""QQ (OneBot v11) behind the platform interface (platforms/base.py): its limits as data, its
route (/onebot, where the implementation posts events), and delivery through the OneBot API."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import bottle

from app.platforms.base import Attachment, Limits, Pacing, Wiring
from app.platforms.fetching import Fetcher
from app.platforms.onebot import events
from app.platforms.onebot.delivery import QQDelivery, Sender
from app.platforms.onebot.settings import PART_CHARS, SEND_INTERVAL
from app.platforms.retrying import Progress
from app.settings import Values
from app.worker import Job


class OneBot:
    name = events.QQ
    label = "QQ (OneBot v11)"
    # The defaults; onebot_part_chars and onebot_send_interval change them. QQ shows no Markdown.
    limits = Limits(chars=PART_CHARS, interval=SEND_INTERVAL, markdown=False, attachments=False)
    guest_notice = events.GUEST_NOTICE

    def __init__(
        self,
        sender: Sender,
        store: Progress,
        *,
        on_error: Callable[[str, str], None] | None = None,
        clock: Callable[[], float] = time.time,
        chance: Callable[[], float] = random.random,
    ) -> None:
        self._delivery = QQDelivery(sender, store, on_error=on_error, clock=clock)
        self._chance = chance
        self._fetcher = Fetcher()

    def pictures(self, job: Job, values: Values) -> list[Attachment]:
        return [self._fetcher.picture(p["url"]) for p in job.pictures if p.get("url")]

    def start(self) -> None:  # it only answers what arrives at its route
        pass

    def stop(self) -> None:
        pass

    def configured(self, values: Values) -> bool:
        return bool(values.onebot_api_url and values.onebot_secret)

    def pacing(self, values: Values) -> Pacing:
        # Fewer, larger parts, later: QQ's risk control dislikes bursts of messages.
        return Pacing.read(
            values, min_chars="onebot_min_part_chars", notice_after="onebot_thinking_notice_seconds"
        )

    def notice(self, job: Job, text: str, values: Values) -> None:
        self._delivery.notice(job, text, values)

    def deliver(self, job: Job, text: str, values: Values) -> None:
        self._delivery(job, text, values)

    def route(self, app: bottle.Bottle, wiring: Wiring) -> None:
        events.route(app, wiring, self._chance)
