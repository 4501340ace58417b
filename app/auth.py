"""The admin's password, sessions, the login throttle, the first-run setup code and CSRF tokens.

Pure standard library, no HTTP: web.py decides what to do with the answers.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

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
    session is ever written to disk. Capped, so a script that logs in in a loop cannot fill memory."""

    def __init__(
        self,
        idle: float = 12 * 3600,
        lifetime: float = 7 * 24 * 3600,
        cap: int = 64,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.idle = idle
        self.lifetime = lifetime
        self._cap = cap
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def create(self, password_hash: str, user: str = "") -> Session:
        now = self._clock()
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now, now, password_hash, user)
        with self._lock:
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


class Throttle:
    """Growing waits after failed logins, per client address: the first FREE failures cost
    nothing, then each further one doubles the wait (2 s, 4 s, … up to MAX_WAIT). A success
    clears the address. Answers come at once (429 + Retry-After) rather than by sleeping, so a
    guesser cannot tie up the server's threads."""

    FREE = 3
    MAX_WAIT = 15 * 60.0

    def __init__(self, clock: Callable[[], float] = time.monotonic, cap: int = 10_000) -> None:
        self._clock = clock
        self._cap = cap
        self._lock = threading.Lock()
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()  # count, blocked until

    def wait(self, client: str) -> float:
        """Seconds before this client may try again; 0 when it may now."""
        with self._lock:
            _, until = self._failures.get(client, (0, 0.0))
        return max(0.0, until - self._clock())

    def failed(self, client: str) -> float:
        with self._lock:
            count = self._failures.pop(client, (0, 0.0))[0] + 1
            delay = 0.0 if count <= self.FREE else min(self.MAX_WAIT, 2.0 ** (count - self.FREE))
            self._failures[client] = (count, self._clock() + delay)
            while len(self._failures) > self._cap:
                self._failures.popitem(last=False)
        return delay

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._failures.pop(client, None)


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
