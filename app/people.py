"""Who a person is: one string, namespaced by the platform they write from ("synology:4",
"qq:12345678", "dingtalk:<staffId>", "web:mei"), so people of two platforms never share a
quota, a history or a place on a list. Pure."""

from __future__ import annotations

import re

SEP = ":"
SYNOLOGY = "synology"
WEB = "web"
# The settings page's admin in the web chat. Account names cannot be "admin", so no account
# is ever this person.
WEB_ADMIN = f"{WEB}{SEP}admin"
# Platforms whose user names are accounts someone controls (a DSM user, a web chat account),
# so a name on a list may stand for the person. A QQ nickname is whatever its owner types.
VERIFIED_NAMES = frozenset({SYNOLOGY, WEB})
_PLATFORM = re.compile(r"^[a-z][a-z0-9]{0,19}$")
_SAFE = re.compile(r"^[A-Za-z0-9_-]{1,60}$")


def of(platform: str, local: str | int) -> str:
    return f"{platform}{SEP}{local}"


def platform(person: str) -> str:
    return person.partition(SEP)[0]


def local(person: str) -> str:
    return person.partition(SEP)[2]


def from_entry(entry: str) -> str | None:
    """The person a list entry names by id, or None for a user name. Before there were other
    platforms, ids were Synology Chat's bare numbers, and in lists and forms they still are."""
    entry = entry.strip()
    if entry.isascii() and entry.isdigit():
        # Longer than any id: int() of thousands of digits is refused (and slow).
        return of(SYNOLOGY, int(entry)) if len(entry) <= 18 else None
    name, sep, rest = entry.partition(SEP)
    name = name.lower() if name.isascii() else name
    return of(name, rest) if sep and rest and _PLATFORM.match(name) else None


def short(person: str) -> str:
    """How the settings page writes a person: a Synology Chat id bare, as the lists take it."""
    return local(person) if platform(person) == SYNOLOGY else person


def file_stem(person: str) -> str:
    """A file name for the person's own file: readable where the id is plain, hex otherwise
    ("web..e7be8e"), never a path and never two people in one file."""
    name, rest = platform(person), local(person)
    if not _PLATFORM.match(name) or not rest:
        raise ValueError(f"not a person: {person!r}")
    return f"{name}.{rest}" if _SAFE.match(rest) else f"{name}..{rest.encode().hex()}"


def from_stem(stem: str) -> str | None:
    name, _, rest = stem.partition(".")
    if not _PLATFORM.match(name) or not rest:
        return None
    if rest.startswith("."):
        try:
            return of(name, bytes.fromhex(rest[1:]).decode())
        except ValueError:
            return None
    return of(name, rest) if _SAFE.match(rest) else None
