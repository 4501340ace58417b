"""What the dashboard shows about the running bot: recent webhooks, recent errors and model
latency. In memory and bounded; it starts empty after a restart, like any "recent" list."""

from __future__ import annotations

import dataclasses
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

RECENT = 50


# What became of a webhook, for the page's colours: answered, ignored on purpose (not for the
# bot), held back by a rule the owner set (the person is told why), refused (the request was
# wrong) or failed (the bot could not take it). Platforms' own reasons go by their status.
ANSWERED = frozenset({"accepted", "duplicate", "slash_reply", "empty", "empty_prompt"})
HELD = frozenset({"paused", "refused", "limited"})
FAILED = frozenset({"store_failed", "busy", "not_configured", "no_incoming_url"})


@dataclasses.dataclass(frozen=True)
class WebhookRecord:
    at: float
    client: str  # the sender's address: usually the NAS itself
    status: int
    accepted: bool
    reason: str  # a key the page translates: accepted, duplicate, wrong_token, bad_body, …
    detail: str = ""  # plain words from the parser (never a token or a message's text)
    # The detail again for the page, in its reader's language: a `whd_` text and its values.
    detail_key: str = ""
    detail_params: Mapping[str, object] = dataclasses.field(default_factory=dict)
    user_id: int | str | None = None  # in the platform's own form: Chat and QQ numbers, DingTalk's staff ids
    username: str = ""
    chars: int = 0
    platform: str = "synology"  # people.py's prefix: whose ids user_id is

    @property
    def outcome(self) -> str:
        if self.reason in ANSWERED:
            return "answered"
        if self.reason in HELD:
            return "held"
        if self.reason in FAILED or self.status >= 500:
            return "failed"
        return "refused" if self.status >= 400 else "ignored"


@dataclasses.dataclass(frozen=True)
class ErrorRecord:
    at: float
    source: str  # model, chat
    kind: str
    message: str  # already free of secrets: the modules that raise make sure of it


class Monitor:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._webhooks: deque[WebhookRecord] = deque(maxlen=RECENT)
        self._errors: deque[ErrorRecord] = deque(maxlen=RECENT)
        self._latencies: deque[float] = deque(maxlen=100)

    def webhook(self, status: int, reason: str, **fields: Any) -> None:
        record = WebhookRecord(
            at=self._clock(),
            status=status,
            accepted=reason in ("accepted", "duplicate"),
            reason=reason,
            **fields,
        )
        with self._lock:
            self._webhooks.append(record)

    def error(self, source: str, kind: str, message: str) -> None:
        # The page names the kind in words; the raw "auth: …" prefix would say it twice.
        message = message.removeprefix(f"{kind}: ")
        with self._lock:
            self._errors.append(ErrorRecord(self._clock(), source, kind, message[:300]))

    def model_call(self, seconds: float) -> None:
        with self._lock:
            self._latencies.append(seconds)

    def webhooks(self) -> list[WebhookRecord]:
        """Newest first."""
        with self._lock:
            return list(reversed(self._webhooks))

    def errors(self) -> list[ErrorRecord]:
        with self._lock:
            return list(reversed(self._errors))

    def latency(self) -> dict[str, float | int | None]:
        """Seconds: the median and the slowest of the last 100 model answers, and the last one."""
        with self._lock:
            values = list(self._latencies)
        if not values:
            return {"count": 0, "median": None, "max": None, "last": None}
        return {
            "count": len(values),
            "median": round(statistics.median(values), 2),
            "max": round(max(values), 2),
            "last": round(values[-1], 2),
        }
