"""The job queue: accepted messages are stored first, then answered by a bounded pool of worker
threads. Jobs of one lane (one conversation) run one at a time in arrival order; different
lanes run in parallel. Unfinished jobs are picked up again at start.

A job that cannot be finished now (the disk is full, Chat is unreachable) is not dropped: its lane
waits for a retry with growing pauses, holding no worker thread, while other lanes go on. The
retry state is kept with the job (store.py's side record), so it survives a restart."""

from __future__ import annotations

import dataclasses
import errno
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from app import people
from app.store import StoreError

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Job:
    lane: str  # jobs of one lane are handled in order, one at a time
    conversation: str
    person: str  # people.py: "synology:4", "web:mei"
    username: str
    text: str
    kind: str = "message"  # message, command
    dedupe: str = ""  # e.g. the Chat post id; a second job with the same key is dropped
    received: float = dataclasses.field(default_factory=time.time)
    id: str = dataclasses.field(default_factory=lambda: uuid.uuid4().hex)
    reply: str | None = None  # the model's answer once known, so a restart does not ask again
    sent: int = 0  # reply chunks already delivered
    lang: str = "en"
    channel: str = ""  # the channel integration it came from; its answer goes there
    shared: bool = False  # a channel's shared conversation: each question carries its asker's name
    base_url: str = ""  # how Chat reached us, for links Chat must fetch (an export's file)
    # Files going with the reply (platforms.base.Attachment.to_dict), stored with it.
    attachments: list[dict[str, str]] = dataclasses.field(default_factory=list)
    route: dict[str, str] = dataclasses.field(default_factory=dict)  # base.Message.route
    pictures: list[dict[str, str]] = dataclasses.field(default_factory=list)  # base.Message.pictures
    # Set at start for a job whose answer was being posted when the bot stopped: the chunk in
    # flight may or may not have reached Chat, so the user is told it may come twice.
    interrupted: bool = False
    # Progress and retry state, stored in the job's small side record (store.py), not in the
    # job file that holds the answer. posting: a post of this answer may be in flight.
    posting: bool = False
    # The size the platform split the answer by when posting began: `sent` counts those posts,
    # so a setting changed while the job waits must not shift them (0: none recorded).
    post_size: int = 0
    # Partial delivery (partial.py): where the answer was cut into parts posted while the model
    # wrote it, the text up to the last cut (shown, so a restart asks the model to continue it),
    # and how many "thinking…" notices were posted (two at most, never again after a restart).
    cuts: list[int] = dataclasses.field(default_factory=list)
    partial: str = ""
    notices: int = 0
    attempts: int = 0  # failed tries since the last progress
    failing_since: float = 0.0  # wall clock of the first of them; 0 while none failed
    next_try: float = 0.0  # wall clock of the next try while waiting
    waiting_for: str = ""  # "chat" or "storage" while waiting for a retry

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Job:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


class JobStore(Protocol):
    def add_job(self, job: dict[str, Any]) -> bool: ...
    def pending_jobs(self) -> list[dict[str, Any]]: ...
    def finish_job(self, job_id: str) -> None: ...
    def update_job(self, job_id: str, **fields: Any) -> None: ...


class Problems(Protocol):
    """Where the dashboard learns about failures (monitor.Monitor)."""

    def error(self, source: str, kind: str, message: str) -> None: ...


class RetryLater(Exception):
    """Raised by a job's handler when it could not finish for a reason that passes (Chat
    unreachable): the job is kept and run again after a pause. The message is for the log."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


FIRST_RETRY = 2.0  # seconds; doubled after each failed try
MAX_RETRY = 600.0  # a NAS that is down for hours is still tried every ten minutes
STORAGE_ERRORS = (OSError, StoreError)


def _source(job: Job) -> str:
    """Where a delivery failed, for the dashboard: Synology Chat ("chat") or another platform."""
    platform = people.platform(job.person)
    return "chat" if platform == people.SYNOLOGY else platform


def retry_delay(attempts: int, first: float = FIRST_RETRY, most: float = MAX_RETRY) -> float:
    """The pause before try number attempts + 1: first, doubled each time, at most `most`."""
    return float(min(most, first * 2 ** min(max(attempts - 1, 0), 30)))


@dataclasses.dataclass(frozen=True)
class Waiting:
    """What the status page shows of the jobs waiting for a retry."""

    chat: int = 0  # answers waiting for Chat to be reachable again
    storage: int = 0  # messages waiting for the data folder to be writable again
    next_try: float | None = None  # wall clock of the soonest retry
    disk_full: bool = False
    storage_error: str = ""  # the last storage error, in plain words


ACCEPTED, DUPLICATE, BUSY = "accepted", "duplicate", "busy"


class Dispatcher:
    """max_pending bounds the jobs waiting in memory (and in jobs/) overall, max_per_lane
    those of one conversation: beyond them a message is refused at once ('busy') rather than
    queued for an answer that would come far too late."""

    def __init__(
        self,
        store: JobStore,
        handle: Callable[[Job], None],
        workers: int = 4,
        max_pending: int = 500,
        max_per_lane: int = 20,
        *,
        problems: Problems | None = None,
        clock: Callable[[], float] = time.time,
        first_retry: float = FIRST_RETRY,
    ) -> None:
        self._store = store
        self._problems = problems
        self._clock = clock  # the wall clock: retry times are stored and outlive a restart
        self._first_retry = first_retry
        self._handle = handle
        self._workers = workers
        self._max_pending = max_pending
        self._max_per_lane = max_per_lane
        self._count = 0  # jobs queued or running, plus those being stored right now
        self._cond = threading.Condition()
        self._lanes: dict[str, deque[Job]] = {}
        self._ready: deque[str] = deque()  # lanes with work and no worker on them
        self._busy: set[str] = set()
        self._due: dict[str, float] = {}  # lanes waiting for a retry: monotonic time it is due
        self._storage_error = ""  # the last storage error, for the status page
        self._disk_full = False
        self._threads: list[threading.Thread] = []
        self._stopping = False

    def start(self) -> int:
        """Queue the jobs left from the last run, then start the workers. Returns how many."""
        leftover = [Job.from_dict(d) for d in self._store.pending_jobs()]
        with self._cond:
            for job in leftover:
                # Part of its answer went out, or a post was in flight at the stop: what
                # follows may repeat a piece, and its user is told. An answer of which nothing
                # was posted just goes out. (0.1.0's job files know only `sent`.)
                # Parts posted while the model wrote (job.partial) are followed by a clear state
                # (posting False) whenever the model writes on, so only a post in flight counts.
                job.interrupted = (job.reply is not None or bool(job.partial)) and (
                    job.posting or (job.sent > 0 and not job.partial)
                )
                job.posting = False
                # A job that was waiting is tried again at once: a restart often follows the
                # NAS's own (an update), and its attempts keep the pauses growing if not.
                job.waiting_for = ""
                self._count += 1
                self._enqueue(job)
        if leftover:
            log.info("resuming %d unfinished message(s) from the last run", len(leftover))
        for number in range(self._workers):
            thread = threading.Thread(target=self._run, name=f"worker-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return len(leftover)

    def accept(self, job: Job) -> str:
        """Store the job, then queue it: ACCEPTED, DUPLICATE, or BUSY when the queue is full
        (then nothing is stored). Raises OSError when the job could not be stored, so the
        caller must not acknowledge it."""
        with self._cond:
            lane = self._lanes.get(job.lane)
            if self._count >= self._max_pending or (lane is not None and len(lane) >= self._max_per_lane):
                return BUSY
            self._count += 1  # a place held while the job is written, outside the lock
        try:
            stored = self._store.add_job(job.to_dict())
        except BaseException:
            with self._cond:
                self._count -= 1
            raise
        with self._cond:
            if not stored:
                self._count -= 1
                return DUPLICATE
            self._enqueue(job)
        return ACCEPTED

    def _enqueue(self, job: Job) -> None:
        lane = self._lanes.setdefault(job.lane, deque())
        lane.append(job)
        if len(lane) == 1 and job.lane not in self._busy:
            self._ready.append(job.lane)
            self._cond.notify()

    def pending(self) -> int:
        with self._cond:
            return sum(len(q) for q in self._lanes.values())

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if self._stopping:
                        return
                    self._release_due()
                    if self._ready:
                        break
                    self._cond.wait(self._until_due())
                lane = self._ready.popleft()
                job = self._lanes[lane][0]
                self._busy.add(lane)
            if self._attempt(job):
                self._finish(lane, job)
            else:
                with self._cond:
                    self._busy.discard(lane)
                    self._due[lane] = time.monotonic() + max(0.0, job.next_try - self._clock())
                    self._cond.notify_all()  # wakes wait_idle, and a worker to time the retry

    def _attempt(self, job: Job) -> bool:
        """Run the job's handler once. True when the job is done with (answered, told why not,
        or failed in a way a retry cannot mend); False when it waits for a retry."""
        try:
            self._handle(job)
        except RetryLater as exc:
            self._defer(job, "chat", exc.kind, str(exc))
            return False
        except STORAGE_ERRORS as exc:
            self._storage_error = _plain(exc)
            self._disk_full = isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
            kind = "disk_full" if self._disk_full else "storage"
            self._defer(job, "storage", kind, self._storage_error)
            return False
        except Exception:
            # A job that fails this way would fail again after a restart: drop it, loudly.
            log.exception("unexpected error while handling a message from user %s", job.person)
        return True

    def _defer(self, job: Job, reason: str, kind: str, message: str) -> None:
        now = self._clock()
        job.attempts += 1
        job.failing_since = job.failing_since or now
        delay = retry_delay(job.attempts, self._first_retry)
        job.next_try = now + delay
        job.waiting_for = reason
        job.posting = False
        first = job.attempts == 1
        (log.error if first else log.info)(
            "could not %s for user %s yet (%s); trying again in %.0f s (try %d)",
            "deliver the answer" if reason == "chat" else "store what the message needs",
            job.person,
            message,
            delay,
            job.attempts,
        )
        if first and self._problems:  # once per outage, not at every try
            self._problems.error("storage" if reason == "storage" else _source(job), kind, message)
        try:  # so a restart keeps the pauses growing and the deadline where it was
            self._store.update_job(
                job.id,
                attempts=job.attempts,
                failing_since=job.failing_since,
                next_try=job.next_try,
                posting=False,
            )
        except STORAGE_ERRORS as exc:
            log.warning("could not record the retry of a job: %s", _plain(exc))

    def _finish(self, lane: str, job: Job) -> None:
        try:
            self._store.finish_job(job.id)
        except OSError:
            log.exception("could not mark a job finished; it may be answered again after a restart")
        with self._cond:
            queue = self._lanes[lane]
            queue.popleft()
            self._count -= 1
            self._busy.discard(lane)
            if queue:
                self._ready.append(lane)
                self._cond.notify()
            else:
                del self._lanes[lane]
            self._cond.notify_all()  # wakes wait_idle too

    def _release_due(self) -> None:
        """Make the lanes whose retry is due ready again (the lock is held)."""
        now = time.monotonic()
        for lane, due in list(self._due.items()):
            if due <= now:
                del self._due[lane]
                self._ready.append(lane)

    def _until_due(self) -> float | None:
        """Seconds until the next retry is due, None when nothing waits (the lock is held)."""
        if not self._due:
            return None
        return max(0.0, min(self._due.values()) - time.monotonic())

    def waiting(self) -> Waiting:
        """The jobs waiting for a retry, for the status page."""
        with self._cond:
            heads = [self._lanes[lane][0] for lane in self._due if lane in self._lanes]
        chat = sum(1 for job in heads if job.waiting_for == "chat")
        storage = sum(1 for job in heads if job.waiting_for == "storage")
        return Waiting(
            chat=chat,
            storage=storage,
            next_try=min((job.next_try for job in heads), default=None),
            disk_full=self._disk_full and storage > 0,
            storage_error=self._storage_error if storage else "",
        )

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no job is queued or running (for tests). Jobs waiting for a later retry
        do not count: nothing is being done for them until then."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._idle():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                until = self._until_due()
                self._cond.wait(left if until is None else min(left, until + 0.01))
        return True

    def _idle(self) -> bool:
        now = time.monotonic()
        return all(self._due.get(lane, now) > now for lane in self._lanes)

    def stop(self, grace: float) -> None:
        """Let running jobs finish for up to `grace` seconds. Anything unfinished stays stored
        and is resumed at the next start, so nothing accepted is lost."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        deadline = time.monotonic() + grace
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        still = [t.name for t in self._threads if t.is_alive()]
        if still:
            log.info("stopping with %d answer(s) in progress; they resume at the next start", len(still))
        waiting = self.waiting()
        if waiting.chat or waiting.storage:
            log.info(
                "%d message(s) wait for a retry; they resume at the next start",
                waiting.chat + waiting.storage,
            )


def _plain(exc: BaseException) -> str:
    """A storage error in plain words: the OS's text and the file's name, not its whole path."""
    if isinstance(exc, OSError) and exc.strerror:
        name = f" ({exc.filename.rsplit('/', 1)[-1]})" if isinstance(exc.filename, str) else ""
        return f"{exc.strerror}{name}"
    return str(exc) or type(exc).__name__
