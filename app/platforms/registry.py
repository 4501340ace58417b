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
from app.platforms.synology import settings as synology_settings
from app.platforms.synology import words as synology_words

if TYPE_CHECKING:
    from app.platforms.base import Platform
    from app.platforms.synology.delivery import Progress, Sender
    from app.settings import Values
    from app.worker import Job

log = logging.getLogger(__name__)

# In the settings page's order; names and environment variables as each platform declares them.
SETTINGS = (*synology_settings.SETTINGS,)
PROBLEMS = {**synology_settings.PROBLEMS}
# Their words on the settings page: key → {"en", "zh", "zh-Hant"} (pagetext.py reads them).
TEXTS = {**synology_words.TEXTS}


def build(
    *,
    synology_sender: Sender,
    store: Progress,
    on_error: Callable[[str, str], None],
    clock: Callable[[], float] = time.time,
) -> list[Platform]:
    # Imported here, not above: settings.py reads this module's SETTINGS, and a platform's
    # running part imports the worker and the settings in turn.
    from app.platforms.synology.platform import SynologyChat  # noqa: PLC0415

    return [SynologyChat(synology_sender, store, on_error=on_error, clock=clock)]


class Deliveries:
    """bot.Deliver for every platform: the job's person says which platform posts the reply.
    The web chat streams its answers itself and stores no jobs."""

    def __init__(self, platforms: Sequence[Platform]) -> None:
        self._by_name = {p.name: p for p in platforms}

    def __call__(self, job: Job, text: str, values: Values) -> None:
        platform = self._by_name.get(people.platform(job.person))
        if platform is None:  # a job of a platform removed since; nothing can post it
            log.error("no platform delivers to %s; the answer is dropped", job.person)
            return
        platform.deliver(job, text, values)
