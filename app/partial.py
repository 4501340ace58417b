"""Showing an answer while a slow model writes it, on platforms that cannot stream or edit a
post (Synology Chat, QQ, DingTalk): finished parts go out as they are complete, and a short
"thinking…" notice when none is ready after a while.

A part ends at a paragraph break outside any code block (a code block goes out whole, and the
platform's splitter cuts one that is too long with its fence closed and re-opened), holds at
least `min_chars`, and waits `merge` seconds once ready so paragraphs that come quickly go out
together: a fast model's answer still arrives as one post. Reasoning is never shown: text stays
held while a <think> block is open, while its tag may be arriving, and, for a model known to
write only the closing tag, until that tag has come.

Each cut is stored on the job (`cuts`, and the text up to it in `partial`) before its posts go
out, and the platform posts the answer as sections at those cuts (text.sections), so the whole
answer's posts are the parts already out followed by the rest, and a restart resumes after the
last post: the model is asked to continue what was shown, nothing is posted twice."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from app import i18n
from app.llm import THINK_CLOSE, THINK_OPEN, after_lone_close, remove_thinking
from app.platforms.base import Pacing
from app.settings import Values
from app.text import fence_after
from app.worker import Job, RetryLater

log = logging.getLogger(__name__)

TICK = 0.2  # seconds between two looks at the text: cheap, and finer than any wait here
# The continuation asked for after a restart cut an answer short (the model cannot resume its
# own stream): what was shown is given back as the model's own words.
CONTINUE = (
    "Your answer above was interrupted. Continue it exactly where it stops: do not repeat "
    "anything, do not mention the interruption."
)


class Progress(Protocol):
    def update_job(self, job_id: str, **fields: Any) -> None: ...


def visible(raw: str, *, strip: bool, closes_only: bool = False) -> str:
    """What of an answer so far may be shown, as it will begin once whole (llm.strip_thinking):
    reasoning removed, and nothing that may yet turn out to be reasoning."""
    if not strip:
        return raw.lstrip()
    lower = raw.lower()
    if closes_only and THINK_CLOSE not in lower:
        return ""
    tail = lower.rfind("<")
    if tail != -1 and any(tag.startswith(lower[tail:]) for tag in (THINK_OPEN[:-1], THINK_CLOSE[:-1])):
        raw = raw[:tail]  # a tag may be arriving
    text = after_lone_close(remove_thinking(raw))
    opened = text.lower().find(THINK_OPEN)
    if opened != -1:  # an open block: everything from it waits
        text = text[:opened]
    return text.lstrip()


def ready_cut(text: str, start: int, min_chars: int) -> int:
    """Where the longest part of text[start:] that may go out now ends: after its last paragraph
    break outside a code block with at least min_chars before it. A part with no paragraph break
    (a long list) may end at a line break once it is three times that long. `start` when none.
    text[start:] must begin outside a code block, as every cut does."""
    fence: str | None = None
    best = line_best = start
    position = start
    while True:
        end = text.find("\n", position)
        if end == -1:  # the last line is not finished
            break
        line = text[position:end]
        fence = fence_after(line, fence)
        position = end + 1
        if fence is not None:
            continue
        size = len(text[start:position].strip())
        if not line.strip() and size >= min_chars:
            best = position
        elif size >= 3 * min_chars:
            line_best = position
    return best if best > start else line_best


class Stream:
    """One answer being written: add() takes its text as it comes (from the model's thread);
    a thread of its own posts the parts and the notices; close() ends that, waiting for a post
    in flight, and returns what was shown (job.partial). Failing posts end the parts: the
    answer's rest then goes, whole, through the queue's delivery and its retries."""

    def __init__(
        self,
        job: Job,
        values: Values,
        pacing: Pacing,
        *,
        post: Callable[[Job, str, Values], None],
        notice: Callable[[Job, str, Values], None],
        store: Progress,
        closes_only: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._job = job
        self._values = values
        self._pacing = pacing
        self._post = post
        self._notice = notice
        self._store = store
        self._closes_only = closes_only
        self._clock = clock
        self._strip = bool(values.strip_thinking)
        self._base = job.partial  # shown before a restart; the model continues it
        self._raw = ""
        self._lock = threading.Condition()
        self._closed = False
        self._parts = pacing.parts
        self._started = self._heard = clock()
        self._ready_since: float | None = None
        self._thread = threading.Thread(target=self._run, name=f"parts-{job.id[:8]}", daemon=True)

    def start(self) -> Stream:
        self._thread.start()
        return self

    def add(self, piece: str) -> None:
        with self._lock:
            self._raw += piece
            self._heard = self._clock()

    def close(self) -> str:
        with self._lock:
            self._closed = True
            self._lock.notify()
        self._thread.join()  # a post in flight ends before the rest may be posted
        return self._job.partial

    def _run(self) -> None:
        while True:
            with self._lock:
                self._lock.wait(TICK)
                if self._closed:
                    return
                shown = self._base + visible(self._raw, strip=self._strip, closes_only=self._closes_only)
                now, heard = self._clock(), self._heard
            try:
                self._step(shown, now, heard)
            except Exception:  # never the worker's problem: the answer still goes out whole
                log.exception("showing a part of the answer for %s failed", self._job.person)
                self._parts = False

    def _step(self, shown: str, now: float, heard: float) -> None:
        job = self._job
        if self._parts and not shown.startswith(job.partial):
            # What was shown is no longer how the answer begins (reasoning that showed no opening
            # tag): the rest goes out whole, after what was shown.
            log.info("the answer for %s changed its beginning; the rest goes out whole", job.person)
            self._parts = False
        if self._parts:
            cut = ready_cut(shown, len(job.partial), self._pacing.min_chars)
            if cut > len(job.partial):
                if self._ready_since is None:
                    self._ready_since = now
                elif now - self._ready_since >= self._pacing.merge:
                    self._ready_since = None
                    self._show(shown[:cut])
        self._maybe_notice(now, heard)

    def _show(self, text: str) -> None:
        """Post the answer up to a new cut: stored first, so a restart knows what may be out."""
        job = self._job
        job.cuts = [*job.cuts, len(text)]
        job.partial = text
        self._store.update_job(job.id, partial=text, cuts=job.cuts)
        sent = job.sent
        try:
            self._post(job, text, self._values)
        except RetryLater as exc:  # the platform is away: the queue's delivery retries the rest
            log.info("a part of the answer for %s could not be posted yet: %s", job.person, exc)
            self._parts = False
            return
        if job.sent == sent:  # refused for good (and reported): no further tries from here
            self._parts = False
            return
        job.posting = False  # no post in flight while the model writes on
        self._store.update_job(job.id, posting=False)

    def _maybe_notice(self, now: float, heard: float) -> None:
        after = self._pacing.notice_after
        job = self._job
        if after <= 0 or job.notices >= 2:
            return
        silence = max(self._pacing.silence, 4 * after)  # long, next to the first notice's wait
        if job.notices == 0 and not job.partial and now - self._started >= after:
            self._say(1, "thinking_notice")
        elif now - heard >= silence and now - self._started >= silence:
            # The last one, whatever came before: the model is connected but says nothing.
            self._say(2, "still_thinking", took=i18n.duration(job.lang, now - heard))

    def _say(self, count: int, key: str, **values: Any) -> None:
        job = self._job
        job.notices = count
        self._store.update_job(job.id, notices=count)  # first: a restart never repeats it
        self._notice(job, i18n.t(job.lang, key, **values), self._values)
