"""What every platform's delivery does alike once a post failed or went out: keep trying a
platform that is away for delivery_retry_hours (across restarts, by the queue), then give up
and say so; and record progress on the job after each post, so a restart resumes there."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from app.worker import Job, RetryLater


class Progress(Protocol):
    def update_job(self, job_id: str, **fields: Any) -> None: ...


def retry_or_give_up(
    job: Job,
    kind: str,
    message: str,
    *,
    transient: bool,
    hours: float,
    now: float,
    give_up: Callable[[str, str], None],
) -> None:
    """Raises worker.RetryLater for a failure that passes by itself, until it has lasted
    `hours` since the last progress; a definite failure, or one that lasted, is given up."""
    if not transient:
        give_up(kind, message)
        return
    if job.failing_since and now - job.failing_since >= hours * 3600:
        give_up(kind, f"given up after trying for {hours:g} h: {message}")
        return
    raise RetryLater(kind, message)


def post_in_order(
    store: Progress, job: Job, count: int, post: Callable[[int], None], resent: Callable[[], None]
) -> None:
    """Posts parts job.sent … count - 1 with post(index), in order, progress recorded after each,
    so a restart resumes after the last one. After a stop in the middle of posting, resent()
    first says that a part may come twice: the one in flight then may have arrived."""
    if not job.posting:  # a stop from here on may leave a part half sent
        job.posting = True
        store.update_job(job.id, posting=True, post_size=job.post_size)
    if job.interrupted and job.sent < count:
        resent()
        job.interrupted = False
    while job.sent < count:
        post(job.sent)
        record_progress(store, job, job.sent + 1)


def record_progress(store: Progress, job: Job, count: int) -> None:
    job.sent = count  # first: a failed write below is retried from the right post
    job.attempts, job.failing_since = 0, 0.0  # the retry deadline counts from progress
    store.update_job(job.id, sent=count, attempts=0, failing_since=0.0)
