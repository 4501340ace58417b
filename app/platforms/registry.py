"""The chat platforms this server answers on, and the delivery that sends a job's reply
through the platform its person writes from. Adding a platform adds one line here."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from app import people
from app.platforms.base import Platform
from app.platforms.synology.delivery import Progress, Sender
from app.platforms.synology.platform import SynologyChat
from app.settings import Values
from app.worker import Job

log = logging.getLogger(__name__)


def build(
    *,
    synology_sender: Sender,
    store: Progress,
    on_error: Callable[[str, str], None],
    clock: Callable[[], float] = time.time,
) -> list[Platform]:
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
