"""The job queue: accepted messages are stored first, then answered by a bounded pool of worker
threads. Jobs of one lane (one conversation) run one at a time in arrival order; different
lanes run in parallel. Unfinished jobs are picked up again at start."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Job:
    lane: str  # jobs of one lane are handled in order, one at a time
    conversation: str
    user_id: int
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
    base_url: str = ""  # how Chat reached us, for links Chat must fetch (an export's file)
    file: str = ""  # a file_url to post with the reply
    # Set at start for a job whose answer was being posted when the bot stopped: the chunk in
    # flight may or may not have reached Chat, so the user is told it may come twice.
    interrupted: bool = False

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
    ) -> None:
        self._store = store
        self._handle = handle
        self._workers = workers
        self._max_pending = max_pending
        self._max_per_lane = max_per_lane
        self._count = 0  # jobs queued or running, plus those being stored right now
        self._cond = threading.Condition()
        self._lanes: dict[str, deque[Job]] = {}
        self._ready: deque[str] = deque()  # lanes with work and no worker on them
        self._busy: set[str] = set()
        self._threads: list[threading.Thread] = []
        self._stopping = False

    def start(self) -> int:
        """Queue the jobs left from the last run, then start the workers. Returns how many."""
        leftover = [Job.from_dict(d) for d in self._store.pending_jobs()]
        with self._cond:
            for job in leftover:
                job.interrupted = job.reply is not None  # its answer was being posted
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
                while not self._ready and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                lane = self._ready.popleft()
                job = self._lanes[lane][0]
                self._busy.add(lane)
            try:
                self._handle(job)
            except Exception:
                # A job that fails this way would fail again after a restart: drop it, loudly.
                log.exception("unexpected error while handling a message from user %s", job.user_id)
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

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no job is queued or running (for a clean stop, and for tests)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._lanes:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

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
