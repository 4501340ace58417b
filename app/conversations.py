"""What a conversation is, stored in its meta beside its persona and title, so nothing has to
be read back out of its key: the platform it is on, whether it is one person's or shared by a
channel, whose it is, and the channel its answers go to. Pure."""

from __future__ import annotations

from typing import Any, Protocol

from app import people

PERSON, SHARED = "person", "shared"
FIELDS = ("platform", "scope", "person", "channel")


def meta(person: str, *, platform: str = "", channel: str = "") -> dict[str, Any]:
    """One person's conversation (person given), or a channel's shared one (person "")."""
    found: dict[str, Any] = {
        "platform": platform or people.platform(person),
        "scope": PERSON if person else SHARED,
    }
    if person:
        found["person"] = person
    if channel:
        found["channel"] = channel
    return found


class Asked(Protocol):
    """What a question knows of its conversation (worker.Job)."""

    person: str
    channel: str
    shared: bool


def meta_of(job: Asked) -> dict[str, Any]:
    return meta("" if job.shared else job.person, platform=people.platform(job.person), channel=job.channel)


def is_shared(found: dict[str, Any]) -> bool:
    return found.get("scope") == SHARED


def owner(found: dict[str, Any]) -> str:
    """The person whose conversation it is; "" for a shared one."""
    return str(found.get("person") or "") if found.get("scope") == PERSON else ""
