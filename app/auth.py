"""The admin's password, sessions, the login throttle, the first-run setup code and CSRF tokens.

Pure standard library, no HTTP: web.py decides what to do with the answers.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import hmac
import secrets
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterator

# scrypt at OWASP's "N=2^14, r=8, p=5" point: 16 MiB and about 0.25 s on a fast core, so a
# NAS with 1 GB of memory can afford it while each guess stays expensive.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 5
SCRYPT_MAXMEM = 64 * 1024 * 1024
MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # a cap so a megabyte "password" is refused before it is hashed
SETUP_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: it is read from a log


def hash_password(password: str) -> str:
    """A salted scrypt hash that records its own parameters: scrypt$n$r$p$salt$hash."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return "$".join(("scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)))


def is_hash(value: str) -> bool:
    parts = value.split("$")
    return len(parts) == 6 and parts[0] == "scrypt" and all(p.isdigit() for p in parts[1:4])


def verify_password(password: str, encoded: str) -> bool:
    if not encoded or not is_hash(encoded) or len(password) > MAX_PASSWORD:
        return False
    _, n, r, p, salt, digest = encoded.split("$")
    try:
        candidate = _scrypt(password, _unb64(salt), int(n), int(r), int(p))
    except ValueError:  # parameters this machine's OpenSSL refuses
        return False
    return hmac.compare_digest(candidate, _unb64(digest))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8", "surrogatepass"), salt=salt, n=n, r=r, p=p, maxmem=SCRYPT_MAXMEM, dklen=32
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def password_problem(password: str, confirm: str | None = None) -> str | None:
    """Why a new password is refused, as a key of the page's texts, or None."""
    if len(password) < MIN_PASSWORD:
        return "pw_short"
    if len(password) > MAX_PASSWORD:
        return "pw_long"
    if confirm is not None and not hmac.compare_digest(password.encode(), confirm.encode()):
        return "pw_mismatch"
    return None


# -- web chat account identities --------------------------------------------------------------

# 0.1.0 made a web chat account's store id from crc32(name), so two names could share one. Ids
# are now stored with the accounts and unique among them; the crc-derived id stays the first
# choice, so a 0.1.0 data folder keeps its chats (and a name removed and added again, to reset
# its password, finds its chats again).
_ID_BITS = 0x3FFFFFFF


def derived_account_id(name: str, attempt: int = 0) -> int:
    """-2 - crc32(name) in 30 bits (0.1.0's id) for attempt 0; another from the name after."""
    text = name if not attempt else f"{name}\n{attempt}"
    return -2 - (zlib.crc32(text.encode("utf-8", "surrogatepass")) & _ID_BITS)


def stored_account_id(value: object) -> int | None:
    """The value as an account id when it can be one: negative, below the admin's -1, and in
    the range ids are made in; None otherwise."""
    if isinstance(value, int) and not isinstance(value, bool) and -2 - _ID_BITS <= value <= -2:
        return value
    return None


def account_ids(accounts: list[tuple[str, object]]) -> list[int]:
    """A unique id for each (name, stored id or None): valid stored ids are kept (the first
    holder wins a clash in a hand-edited file); the others get their name's derived id, or the
    next derived one not taken."""
    kept: list[int | None] = []
    for _, stored in accounts:
        found = stored_account_id(stored)
        kept.append(None if found in kept else found)
    taken = {i for i in kept if i is not None}
    ids: list[int] = []
    for (name, _), found in zip(accounts, kept, strict=True):
        chosen = found
        if chosen is None:
            attempt = 0
            while derived_account_id(name, attempt) in taken:
                attempt += 1
            chosen = derived_account_id(name, attempt)
            taken.add(chosen)
        ids.append(chosen)
    return ids


# -- sessions ---------------------------------------------------------------------------------


@dataclasses.dataclass
class Session:
    id: str
    csrf: str
    created: float
    seen: float
    password: str  # the hash in force at login: changing the password ends every older session
    user: str = ""  # a web-chat account's name; empty for the admin


class Sessions:
    """Logged-in browsers, in memory: a restart asks for the password again, and nothing about a
    session is ever written to disk. Capped, so a script that logs in in a loop cannot fill memory,
    and capped per web chat account, so one account logging in again and again ends only its
    own oldest sessions, never everyone else's."""

    PER_ACCOUNT = 8  # a phone, a laptop, a few browsers: more is a script

    def __init__(
        self,
        idle: float = 12 * 3600,
        lifetime: float = 7 * 24 * 3600,
        cap: int = 64,
        clock: Callable[[], float] = time.time,
        per_account: int = PER_ACCOUNT,
    ) -> None:
        self.idle = idle
        self.lifetime = lifetime
        self._cap = cap
        self._per_account = per_account
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def create(self, password_hash: str, user: str = "") -> Session:
        now = self._clock()
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now, now, password_hash, user)
        with self._lock:
            if user:  # the admin's table holds one account; its global cap is its own
                # Oldest first: the table is kept in order of last use.
                own = [key for key, s in self._sessions.items() if s.user == user]
                for key in own[: max(0, len(own) + 1 - self._per_account)]:
                    del self._sessions[key]
            self._sessions[session.id] = session
            while len(self._sessions) > self._cap:
                self._sessions.popitem(last=False)
        return session

    def get(self, session_id: str, password_hash: str) -> Session | None:
        """The live session with this id, touched; None when unknown, expired or from before a
        password change."""
        now = self._clock()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            stale = now - session.seen > self.idle or now - session.created > self.lifetime
            if stale or not hmac.compare_digest(session.password, password_hash):
                del self._sessions[session_id]
                return None
            session.seen = now
            self._sessions.move_to_end(session_id)
            return session

    def owner(self, session_id: str) -> str | None:
        """Whose session this is (its `user`), unchecked: to know which password it must match."""
        with self._lock:
            session = self._sessions.get(session_id)
            return None if session is None else session.user

    def end(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    def end_others(self, keep: str, password_hash: str) -> None:
        """After a password change: only the browser that changed it stays logged in."""
        with self._lock:
            for key in [k for k in self._sessions if k != keep]:
                del self._sessions[key]
            if keep in self._sessions:
                self._sessions[keep].password = password_hash

    def __len__(self) -> int:
        return len(self._sessions)


# -- the login throttle -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Verdict:
    """How one password check went."""

    ok: bool = False
    checked: bool = False  # the password was really compared (False: refused before that)
    wait: float = 0.0  # seconds before this address may try again; 0 when it may now
    busy: bool = False  # every hashing slot stayed taken: nothing checked or counted


class Throttle:
    """Growing waits after failed logins, per client address: the first FREE failures cost
    nothing, then each further one doubles the wait (2 s, 4 s, … up to MAX_WAIT). A success
    clears the address. Answers come at once (429 + Retry-After) rather than by sleeping, so a
    guesser cannot tie up the server's threads.

    A check is counted *before* the password is hashed (begin), as if it were going to fail, and
    settled after (finish), so guesses sent all at once get no more checks than guesses sent one
    by one. The admin login, the first-run setup code and the web chat share one throttle.

    It also holds the hashing slots: scrypt takes 16 MiB, so at most SLOTS hashes run at once
    (whoever asks), a few more wait up to SLOT_WAIT for a slot, and the rest are told at once to
    come back, rather than queueing without bound and holding the server's threads."""

    FREE = 3
    MAX_WAIT = 15 * 60.0
    SLOTS = 2
    SLOT_WAIT = 1.0
    MAX_WAITING = 4
    BUSY_RETRY = 2.0  # Retry-After when no slot was free

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        cap: int = 10_000,
        slots: int = SLOTS,
        slot_wait: float = SLOT_WAIT,
        max_waiting: int = MAX_WAITING,
    ) -> None:
        self._clock = clock
        self._cap = cap
        self._lock = threading.Lock()
        # per address: failures, blocked until, checks in flight
        self._failures: OrderedDict[str, tuple[int, float, int]] = OrderedDict()
        self.slots = slots
        self.slot_wait = slot_wait
        self._max_waiting = max_waiting
        self._hashing = threading.BoundedSemaphore(slots)
        self._waiting = 0

    def _delay(self, count: int) -> float:
        return 0.0 if count <= self.FREE else min(self.MAX_WAIT, 2.0 ** (count - self.FREE))

    def _put(self, client: str, entry: tuple[int, float, int]) -> None:
        self._failures.pop(client, None)
        if entry != (0, 0.0, 0):
            self._failures[client] = entry
        while len(self._failures) > self._cap:
            self._failures.popitem(last=False)

    def wait(self, client: str) -> float:
        """Seconds before this client may try again; 0 when it may now."""
        with self._lock:
            _, until, _ = self._failures.get(client, (0, 0.0, 0))
        return max(0.0, until - self._clock())

    def begin(self, client: str) -> float:
        """Reserve one check for this address: 0 when reserved (then finish or cancel it), or
        the seconds to wait. Checks in flight count as failures until they are settled; once the
        free ones are used up, one check at a time."""
        with self._lock:
            count, until, flying = self._failures.get(client, (0, 0.0, 0))
            now = self._clock()
            if until > now:
                return until - now
            if flying and count + flying > self.FREE:
                return max(1.0, self._delay(count + flying))
            self._put(client, (count, until, flying + 1))
            return 0.0

    def finish(self, client: str, ok: bool) -> float:
        """Settle a reserved check: a success clears the address, a failure counts (and
        returns the wait it earned)."""
        with self._lock:
            count, until, flying = self._failures.get(client, (0, 0.0, 1))
            flying = max(0, flying - 1)
            if ok:
                self._put(client, (0, 0.0, flying))
                return 0.0
            delay = self._delay(count + 1)
            self._put(client, (count + 1, max(until, self._clock() + delay), flying))
            return delay

    def cancel(self, client: str) -> None:
        """A reserved check that did not happen (no hashing slot): nothing counted."""
        with self._lock:
            count, until, flying = self._failures.get(client, (0, 0.0, 1))
            self._put(client, (count, until, max(0, flying - 1)))

    def failed(self, client: str) -> float:
        """A failure counted at once, without a reservation."""
        with self._lock:
            count, _, flying = self._failures.get(client, (0, 0.0, 0))
            delay = self._delay(count + 1)
            self._put(client, (count + 1, self._clock() + delay, flying))
        return delay

    def succeeded(self, client: str) -> None:
        with self._lock:
            _, _, flying = self._failures.get(client, (0, 0.0, 0))
            self._put(client, (0, 0.0, flying))

    @contextlib.contextmanager
    def hashing(self) -> Iterator[bool]:
        """A hashing slot for the block; yields False (and the block must not hash) when none
        came free within slot_wait, or when enough others are already waiting."""
        with self._lock:
            crowded = self._waiting >= self._max_waiting
            if not crowded:
                self._waiting += 1
        got = False
        if not crowded:
            try:
                got = self._hashing.acquire(timeout=self.slot_wait)
            finally:
                with self._lock:
                    self._waiting -= 1
        try:
            yield got
        finally:
            if got:
                self._hashing.release()

    @contextlib.contextmanager
    def reserve(self, client: str) -> Iterator[Reservation]:
        """begin() for the block; a reservation the block did not settle is cancelled."""
        reservation = Reservation(self, client, self.begin(client))
        try:
            yield reservation
        finally:
            if not reservation.wait and not reservation.settled:
                self.cancel(client)

    def check(self, client: str, verify: Callable[[], bool]) -> Verdict:
        """One throttled password check: reserve it, take a hashing slot, verify, settle."""
        with self.reserve(client) as reservation:
            if reservation.wait:
                return Verdict(wait=reservation.wait)
            with self.hashing() as free:
                if not free:
                    return Verdict(busy=True, wait=self.BUSY_RETRY)
                ok = verify()
            return Verdict(ok=ok, checked=True, wait=reservation.settle(ok))


@dataclasses.dataclass
class Reservation:
    """One check reserved in the throttle; `wait` > 0 when it was refused."""

    throttle: Throttle
    client: str
    wait: float
    settled: bool = False

    def settle(self, ok: bool) -> float:
        self.settled = True
        return self.throttle.finish(self.client, ok)


# -- first run and CSRF -----------------------------------------------------------------------


def new_setup_code() -> str:
    """Eight characters (40 bits) in two groups: with the throttle, not guessable."""
    raw = "".join(secrets.choice(SETUP_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def setup_code_matches(given: str, code: str) -> bool:
    clean = "".join(c for c in given.upper() if c.isalnum())
    return bool(code) and hmac.compare_digest(clean.encode(), code.replace("-", "").encode())


def form_token(key: bytes, nonce: str) -> str:
    """CSRF token for the forms shown before login (login, first-run): bound to a random cookie
    by an HMAC, so the server keeps no state for visitors who are not logged in."""
    return hmac.new(key, b"form:" + nonce.encode(), hashlib.sha256).hexdigest()


def token_ok(expected: str, given: str) -> bool:
    return bool(expected) and hmac.compare_digest(expected.encode(), given.encode())
