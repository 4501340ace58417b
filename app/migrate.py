"""A data folder written by an older version, brought to this version's layout at start, once,
under the data folder's lock, before any job is resumed. The DSM package's upgrade and a
Docker volume keep the folder, so nothing in it may be lost or misread.

Format 1 (0.1.0): people were numbers, Synology Chat's user ids, and web chat accounts below
0 (the admin -1): users/<n>.json, a job's "user_id", an exchange's "uid". What a conversation
was could be told only from its key: dm-<id>, ch-<slug> (a shared channel), ch-<slug>-u<id> (a
channel's per-person one), web<n>-<chat>.
Format 2: people are strings (people.py): users/<people.file_stem>.json, a job's "person", an
exchange's "uid" a person, and each conversation's meta says its platform, scope, owner and
channel (conversations.py).

Every step is a rename or an atomic rewrite of one file and a file already in the new form is
left alone, so a stop half way through is finished by the next start; the marker comes last."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from app import conversations, people
from app.store import fsync_dir, write_atomic

log = logging.getLogger(__name__)
FORMAT = 2
MARKER = "format.json"
_OLD_DM = re.compile(r"^dm-(\d{1,18})$")
_OLD_CHANNEL = re.compile(r"^ch-([0-9a-f]{16})(?:-u(\d{1,18}))?$")
_OLD_WEB = re.compile(r"^web(\d{1,18})-[a-z0-9]{8,32}$")


def upgrade(data_dir: Path, web_accounts: Mapping[int, str], channels: Sequence[str]) -> int:
    """Bring the folder to FORMAT; returns how many files were rewritten or renamed.
    web_accounts: the web chat accounts' stored numbers (below 0) and names; channels: the
    configured channels' names (a 0.1.0 key holds only a hash of the name)."""
    marker = data_dir / MARKER
    try:
        if json.loads(marker.read_text(encoding="utf-8")).get("format", 0) >= FORMAT:
            return 0
    except (OSError, ValueError, AttributeError):
        pass
    old = _Old(web_accounts, channels)
    changed = _users(data_dir / "users", old) + _jobs(data_dir / "jobs", old)
    changed += _conversations(data_dir / "conversations", old)
    write_atomic(marker, {"format": FORMAT})
    if changed:
        log.info("data folder brought to format %d: %d file(s) rewritten", FORMAT, changed)
    return changed


class _Old:
    """How format 1 named people and conversations."""

    def __init__(self, web_accounts: Mapping[int, str], channels: Sequence[str]) -> None:
        self._web = {**web_accounts, -1: people.local(people.WEB_ADMIN)}
        self._channels = {hashlib.sha256(n.encode()).hexdigest()[:16]: n for n in channels}

    def person(self, number: int) -> str:
        if number >= 0:
            return people.of(people.SYNOLOGY, number)
        # An account removed since: its files stay its own, under a name no account can have.
        return people.of(people.WEB, self._web.get(number) or f"#{-number}")

    def meta(self, key: str) -> dict[str, Any]:
        if found := _OLD_DM.match(key):
            return conversations.meta(self.person(int(found[1])))
        if found := _OLD_CHANNEL.match(key):
            # A channel renamed or removed since keeps its history; its answers had nowhere to go.
            channel = self._channels.get(found[1], "")
            if found[2] is None:
                return conversations.meta("", platform=people.SYNOLOGY, channel=channel)
            return conversations.meta(self.person(int(found[2])), channel=channel)
        if found := _OLD_WEB.match(key):
            return conversations.meta(self.person(-int(found[1])))
        return {}


def _users(folder: Path, old: _Old) -> int:
    moved = 0
    for path in sorted(folder.glob("*.json")):
        stem = path.stem
        if not re.fullmatch(r"-?\d{1,18}", stem):
            continue
        target = folder / f"{people.file_stem(old.person(int(stem)))}.json"
        if target.exists():  # two numbers for one person cannot happen; never overwrite one
            log.error("not renaming %s: %s exists", path.name, target.name)
            continue
        os.replace(path, target)
        moved += 1
    if moved:
        fsync_dir(folder)
    return moved


def _jobs(folder: Path, old: _Old) -> int:
    rewritten = 0
    for path in sorted(folder.glob("*.json")):
        if path.name.startswith(".tmp-"):
            continue
        try:
            job = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # store.pending_jobs reports it
        if not isinstance(job, dict) or "person" in job or not isinstance(job.get("user_id"), int):
            continue
        number = job.pop("user_id")
        key = str(job.get("conversation", ""))
        meta = old.meta(key)
        job["person"] = old.person(number)
        job["shared"] = bool(meta) and not meta.get("person")
        write_atomic(path, job, sync_dir=False)
        rewritten += 1
    return rewritten


def _conversations(folder: Path, old: _Old) -> int:
    rewritten = 0
    for path in sorted(folder.glob("*.json")):
        if path.name.startswith(".tmp-"):
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # the store reports it when the conversation is read
        if not isinstance(data, dict):
            continue
        changed = False
        for exchange in (data.get("_default") or {}).values():
            if isinstance(exchange, dict) and isinstance(exchange.get("uid"), int):
                exchange["uid"] = old.person(exchange["uid"])
                changed = True
        meta_table = data.setdefault("meta", {})
        current = meta_table.get("1") if isinstance(meta_table, dict) else None
        if isinstance(meta_table, dict) and not (current or {}).get("platform"):
            found = old.meta(path.stem)
            if found:
                meta_table["1"] = {**(current or {}), **found}
                changed = True
        if changed:
            write_atomic(path, data, sync_dir=False)
            rewritten += 1
    return rewritten
