"""Answers a platform gives at once, outside the paced queue (a refusal, "@bot" alone): at most
one a minute to one person, so someone who repeats the same empty message is not answered each
time, which a platform's spam control (QQ's risk control, DingTalk's 20 a minute) would count
against the bot."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable

QUICK_GAP = 60.0  # seconds: at most one immediate reply a minute to one person
QUICK_PEOPLE = 10_000  # people remembered for that, the oldest forgotten first


class QuickReplies:
    """When each person was last answered at once."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def due(self, person: str) -> bool:
        now = self._clock()
        with self._lock:
            last = self._last.get(person)
            if last is not None and now - last < QUICK_GAP:
                return False
            self._last[person] = now
            self._last.move_to_end(person)
            while len(self._last) > QUICK_PEOPLE:
                self._last.popitem(last=False)
            return True
