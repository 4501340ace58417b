"""The chat platforms this server answers on: each one's settings (read by settings.py, so
they load with it and stay pure) and its running part (built by build(), when the app is
wired), and the delivery that sends a job's reply through the platform its person writes
from. Adding a platform adds a line to each list here."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from app import people
from app.platforms.dingtalk import settings as dingtalk_settings
from app.platforms.dingtalk import words as dingtalk_words
from app.platforms.onebot import settings as onebot_settings
from app.platforms.onebot import words as onebot_words
from app.platforms.synology import settings as synology_settings
from app.platforms.synology import words as synology_words

if TYPE_CHECKING:
    from app.platforms.base import Attachment, Pacing, Platform
    from app.platforms.dingtalk.wire import DingTalkClient
    from app.platforms.onebot.delivery import Sender as QQSender
    from app.platforms.retrying import Progress
    from app.platforms.synology.delivery import Sender
    from app.settings import Values
    from app.worker import Job

log = logging.getLogger(__name__)

# In the settings page's order; names and environment variables as each platform declares them.
SETTINGS = (*synology_settings.SETTINGS, *onebot_settings.SETTINGS, *dingtalk_settings.SETTINGS)
PROBLEMS = {**synology_settings.PROBLEMS, **onebot_settings.PROBLEMS, **dingtalk_settings.PROBLEMS}
# Their words on the settings page: key → {"en", "zh", "zh-Hant"} (pagetext.py reads them).
TEXTS = {**synology_words.TEXTS, **onebot_words.TEXTS, **dingtalk_words.TEXTS}


def build(
    *,
    synology_sender: Sender,
    qq_sender: QQSender,
    dingtalk_client: DingTalkClient,
    store: Progress,
    on_error: Callable[[str, str, str], None],
    clock: Callable[[], float] = time.time,
) -> list[Platform]:
    """on_error(source, kind, text): a delivery that failed for good, for the settings page."""
    # Imported here, not above: settings.py reads this module's SETTINGS, and a platform's
    # running part imports the worker and the settings in turn.
    from app.platforms.dingtalk.platform import DingTalk  # noqa: PLC0415
    from app.platforms.onebot.platform import OneBot  # noqa: PLC0415
    from app.platforms.synology.platform import SynologyChat  # noqa: PLC0415

    def errors_of(source: str) -> Callable[[str, str], None]:
        return lambda kind, text: on_error(source, kind, text)

    return [
        SynologyChat(synology_sender, store, on_error=errors_of("chat"), clock=clock),
        OneBot(qq_sender, store, on_error=errors_of("qq"), clock=clock),
        DingTalk(dingtalk_client, store, on_error=errors_of("dingtalk"), clock=clock),
    ]


class Deliveries:
    """bot.Deliver for every platform: the job's person says which platform posts the reply.
    The web chat streams its answers itself and stores no jobs."""

    def __init__(self, platforms: Sequence[Platform]) -> None:
        self._by_name = {p.name: p for p in platforms}

    def _platform(self, job: Job) -> Platform | None:
        return self._by_name.get(people.platform(job.person))

    def __call__(self, job: Job, text: str, values: Values) -> None:
        platform = self._platform(job)
        if platform is None:  # a job of a platform removed since; nothing can post it
            log.error("no platform delivers to %s; the answer is dropped", job.person)
            return
        platform.deliver(job, text, values)

    def pacing(self, job: Job, values: Values) -> Pacing | None:
        """How the job's platform shows an answer still being written; None: not at all."""
        platform = self._platform(job)
        return platform.pacing(values) if platform is not None else None

    def notice(self, job: Job, text: str, values: Values) -> None:
        platform = self._platform(job)
        if platform is not None:
            platform.notice(job, text, values)

    def pictures(self, job: Job, values: Values) -> list[Attachment]:
        """The pictures sent with the job's message, from its person's platform."""
        platform = self._platform(job)
        return platform.pictures(job, values) if platform is not None and job.pictures else []
