"""Who may chat, and how much: roles from the allow-, block- and admin lists, the per-person
rate limits (kept in memory: they guard the next minute, not history) and the token quotas
(counted from the usage the store keeps). Pure but for the limiter's small memory."""

from __future__ import annotations

import dataclasses
import datetime
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from app import i18n, people
from app.settings import Values

ADMIN, ALLOWED, GUEST, BLOCKED = "admin", "allowed", "guest", "blocked"
NOTICE_EVERY = 3600.0  # a refused person is told once an hour, not on every message


def listed(entries: Iterable[str], person: str, username: str) -> bool:
    """An entry is a person ("qq:123"; a bare number is a Synology Chat user id) or a user
    name of a platform whose names are accounts: the same name, ignoring case in ASCII letters
    only. Unicode case folding would make "boßman" the admin "bossman"."""
    name = _ascii_lower(username.strip()) if people.platform(person) in people.VERIFIED_NAMES else ""
    for entry in entries:
        if (entry.isascii() and entry.isdigit()) or people.SEP in entry:
            if people.from_entry(entry) == person:
                return True
        elif name and _ascii_lower(entry) == name:
            return True
    return False


def _ascii_lower(text: str) -> str:
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c for c in text)


def role(values: Values, person: str, username: str) -> str:
    """The block-list wins over everything: a name on it by mistake fails safe."""
    if person == people.WEB_ADMIN:
        return ADMIN
    if listed(values.blocked_users, person, username):
        return BLOCKED
    if listed(values.admin_users, person, username):
        return ADMIN
    if listed(values.allowed_users, person, username):
        return ALLOWED
    return GUEST


def may_chat(values: Values, who: str) -> bool:
    return who != BLOCKED and (values.access == "everyone" or who in (ADMIN, ALLOWED))


@dataclasses.dataclass(frozen=True)
class Hit:
    """A limit a question ran into: which, its size, and when it allows the next one."""

    which: str  # interval, per_minute, daily, monthly
    limit: int
    wait: float = 0.0  # seconds, for the rate limits
    resets: datetime.datetime | None = None  # for the quotas


class RateLimiter:
    """Questions per person in a sliding minute, and the gap since the last one. Only
    questions that were let through count, so a person who keeps trying is not locked out."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._asked: dict[str, deque[float]] = {}
        self._counted: OrderedDict[str, None] = OrderedDict()  # post ids already let through
        self._lock = threading.Lock()

    def check(self, person: str, min_interval: int, per_minute: int, key: str = "") -> Hit | None:
        """None, and the question counted, when it may go ahead; otherwise the limit hit. A
        `key` (Chat's post id) seen before passes uncounted: Chat delivering a post twice is
        not a second question, and the store drops the repeat."""
        if not min_interval and not per_minute:
            return None
        now = self._clock()
        with self._lock:
            if key and key in self._counted:
                return None
            times = self._asked.setdefault(person, deque())
            while times and now - times[0] >= max(60.0, float(min_interval)):
                times.popleft()
            if min_interval and times and now - times[-1] < min_interval:
                return Hit("interval", min_interval, wait=min_interval - (now - times[-1]))
            recent = [t for t in times if now - t < 60.0]
            if per_minute and len(recent) >= per_minute:
                return Hit("per_minute", per_minute, wait=60.0 - (now - recent[-per_minute]))
            times.append(now)
            if key:
                self._counted[key] = None
                if len(self._counted) > 1000:
                    self._counted.popitem(last=False)
            if len(self._asked) > 10_000:  # people who stopped asking long ago
                self._asked = {u: q for u, q in self._asked.items() if q and now - q[-1] < 3600}
            return None


def quotas(values: Values, profile: Mapping[str, Any]) -> tuple[int, int]:
    """The daily and monthly token quotas for a person: their own, set on the settings page,
    else the general ones. 0 means none."""
    own = profile.get("limits") or {}
    daily = own.get("daily_tokens")
    monthly = own.get("monthly_tokens")
    return (
        int(values.daily_tokens if daily is None else daily),
        int(values.monthly_tokens if monthly is None else monthly),
    )


def used(rows: Sequence[Mapping[str, Any]], today: datetime.date) -> tuple[int, int]:
    """Tokens used today and this calendar month, from the store's per-day rows."""
    day, month = today.isoformat(), today.isoformat()[:7]
    total_day = total_month = 0
    for row in rows:
        tokens = int(row.get("prompt", 0)) + int(row.get("completion", 0))
        if row["day"] == day:
            total_day += tokens
        if row["day"].startswith(month):
            total_month += tokens
    return total_day, total_month


def images_on(rows: Sequence[Mapping[str, Any]], today: datetime.date) -> int:
    """Pictures drawn on that day, from the store's per-day rows."""
    day = today.isoformat()
    return sum(int(row.get("images", 0)) for row in rows if row["day"] == day)


def quota_hit(
    rows: Sequence[Mapping[str, Any]], now: datetime.datetime, daily: int, monthly: int
) -> Hit | None:
    """The quota a person has used up, if any. The answer that crosses a quota is still given
    (its size is known only afterwards); the next question is refused."""
    day_used, month_used = used(rows, now.date())
    if monthly and month_used >= monthly:
        first = now.date().replace(day=1) + datetime.timedelta(days=32)
        return Hit(
            "monthly", monthly, resets=datetime.datetime.combine(first.replace(day=1), datetime.time())
        )
    if daily and day_used >= daily:
        return Hit(
            "daily",
            daily,
            resets=datetime.datetime.combine(now.date() + datetime.timedelta(days=1), datetime.time()),
        )
    return None


class Notices:
    """Remembers whom it told what, so a refusal is said once per NOTICE_EVERY, not per message."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, every: float = NOTICE_EVERY) -> None:
        self._clock = clock
        self._every = every
        self._told: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def due(self, person: str, kind: str) -> bool:
        now = self._clock()
        with self._lock:
            last = self._told.get((person, kind))
            if last is not None and now - last < self._every:
                return False
            if len(self._told) > 10_000:
                self._told = {k: t for k, t in self._told.items() if now - t < self._every}
            self._told[(person, kind)] = now
            return True


@dataclasses.dataclass(frozen=True)
class Refusal:
    """Why a message is not answered, and what its sender is told ("" when they were told
    within the hour: a person who keeps writing is not answered with the same refusal)."""

    reason: str  # refused, paused, limited
    text: str


class Policy:
    """The one entry policy for every way in (each platform's webhook and the web chat): role,
    access lists, pause, rate limits and their notices. Two steps, because an entry point may
    have to refuse for its own reasons in between (a full web chat) before a question counts."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.limiter = RateLimiter(clock)
        self.notices = Notices(clock)

    def admit(
        self,
        values: Values,
        person: str,
        username: str,
        lang: str,
        *,
        guest_notice: str = "refused_guest",
        remind: bool = True,
    ) -> tuple[str, Refusal | None]:
        """The sender's role, and the refusal if they may not chat now. With remind=False every
        refusal is said (an interactive page shows each one); guest_notice is the platform's
        sentence telling a guest how the admin can list them."""
        who = role(values, person, username)
        if not may_chat(values, who):
            kind = "refused_blocked" if who == BLOCKED else guest_notice
            text = i18n.t(lang, kind, user_id=people.local(person), name=username)
            return who, Refusal("refused", text if not remind or self.notices.due(person, kind) else "")
        if values.paused and who != ADMIN:
            said = not remind or self.notices.due(person, "paused")
            return who, Refusal("paused", i18n.t(lang, "paused_notice") if said else "")
        return who, None

    def pace(self, values: Values, who: str, person: str, lang: str, key: str = "") -> Refusal | None:
        """Counts a question against the rate limits (admins have none), or says which it hit."""
        if who == ADMIN:
            return None
        hit = self.limiter.check(person, int(values.min_interval), int(values.questions_per_minute), key)
        return Refusal("limited", i18n.limit(lang, hit.which, hit.limit, hit.wait)) if hit else None
