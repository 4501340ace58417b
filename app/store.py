"""Persistence: the only module that uses TinyDB.

Layout of the data dir (all files mode 600, folders 700: they hold keys and people's chats):
    settings.json             user settings
    jobs.json                 accepted webhook messages not yet answered, and recent post ids
    conversations/<key>.json  one conversation's exchanges
    users/<id>.json           one Chat user's profile (language) and token usage per day

One file per conversation and per user keeps the cost of a write independent of how many
people use the bot: TinyDB rewrites a whole file on every write.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import tempfile
import threading
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from tinydb import Query, TinyDB
from tinydb.storages import Storage

FILE_MODE = 0o600
DIR_MODE = 0o700
SEEN_LIMIT = 2000  # post ids remembered for de-duplication; Chat re-delivers within seconds
HISTORY_LIMIT = 200  # exchanges kept per conversation; the model sees only what fits its budget
_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


class AtomicJSONStorage(Storage):
    """TinyDB storage whose writes survive a power cut: write a temporary file beside the real
    one, fsync, rename over it, fsync the folder. TinyDB's own JSONStorage rewrites the file in
    place and was seen to leave broken JSON after kill -9 (see shared/reference/dependencies.md)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> dict[str, Any] | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        if not text.strip():
            return None
        data: dict[str, Any] = json.loads(text)
        return data

    def write(self, data: dict[str, Any]) -> None:
        payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))  # fails before disk
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)  # mkstemp already made it 0600
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(self.path.parent)

    def close(self) -> None:
        pass


def _strip_finished(doc: MutableMapping[Any, Any]) -> None:
    for key in [k for k in doc if k not in ("id", "dedupe", "received")]:
        del doc[key]
    doc["done"] = True


def _restrict(folder: Path) -> None:
    """Folders hold people's chats: owner only. A bind-mounted folder owned by someone else
    (Docker on a NAS) cannot be chmod-ed; being able to write to it is what matters."""
    with suppress(PermissionError):
        folder.chmod(DIR_MODE)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class StoreError(RuntimeError):
    pass


class Store:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._locks: dict[Path, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        try:
            for folder in (data_dir, data_dir / "conversations", data_dir / "users"):
                folder.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
                _restrict(folder)
            probe = data_dir / ".write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise StoreError(
                f"cannot write to the data folder {data_dir.resolve()} as user id {os.getuid()} "
                f"({exc.strerror or exc}); give that user write access to it"
            ) from None
        self._remove_stale_temp_files()

    # -- plumbing ---------------------------------------------------------------------------

    def _remove_stale_temp_files(self) -> None:
        """A crash between mkstemp and rename leaves a temporary file; the real file is intact."""
        for folder in (self.data_dir, self.data_dir / "conversations", self.data_dir / "users"):
            for stale in folder.glob(".tmp-*.json"):
                stale.unlink(missing_ok=True)

    def _lock(self, path: Path) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(path, threading.Lock())

    @contextmanager
    def _db(self, path: Path) -> Iterator[TinyDB]:
        """TinyDB is not thread-safe: hold the file's lock for the whole call. Instances are
        short-lived, so no query cache outlives a write by another thread."""
        with self._lock(path):
            db = TinyDB(path, storage=AtomicJSONStorage)
            try:
                yield db  # TinyDB reads lazily: a broken file shows up at the first query
            except json.JSONDecodeError as exc:
                raise StoreError(f"{path.name} is not valid JSON ({exc})") from exc
            finally:
                db.close()

    def _conversation_path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError(f"bad conversation key {key!r}")
        return self.data_dir / "conversations" / f"{key}.json"

    def _user_path(self, user_id: int) -> Path:
        return self.data_dir / "users" / f"{int(user_id)}.json"

    # -- settings ---------------------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        with self._db(self.data_dir / "settings.json") as db:
            doc = db.get(doc_id=1)
            return dict(doc) if doc else {}

    def save_settings(self, changes: dict[str, Any], remove: tuple[str, ...] = ()) -> None:
        with self._db(self.data_dir / "settings.json") as db:
            current = dict(db.get(doc_id=1) or {})
            current.update(changes)
            for name in remove:
                current.pop(name, None)
            db.truncate()
            db.insert(current)

    # -- jobs -------------------------------------------------------------------------------

    def add_job(self, job: dict[str, Any]) -> bool:
        """Persist an accepted message in one write. False when a job with the same non-empty
        `dedupe` key exists (Chat delivered the same post twice); then nothing is stored."""
        with self._db(self.data_dir / "jobs.json") as db:
            jobs = db.table("jobs")
            if job.get("dedupe") and jobs.contains(Query().dedupe == job["dedupe"]):
                return False
            jobs.insert({**job, "done": False})
            return True

    def pending_jobs(self) -> list[dict[str, Any]]:
        with self._db(self.data_dir / "jobs.json") as db:
            pending = db.table("jobs").search(Query().done == False)  # noqa: E712 - a TinyDB query
            return sorted((dict(d) for d in pending), key=lambda d: d["received"])

    def update_job(self, job_id: str, **fields: Any) -> None:
        with self._db(self.data_dir / "jobs.json") as db:
            db.table("jobs").update(fields, Query().id == job_id)

    def finish_job(self, job_id: str) -> None:
        """Keep only the id and dedupe key of a finished job (no message text stays behind), so a
        late re-delivery is still recognised; forget the oldest beyond SEEN_LIMIT."""
        with self._db(self.data_dir / "jobs.json") as db:
            jobs = db.table("jobs")
            jobs.update(_strip_finished, Query().id == job_id)
            done = jobs.search(Query().done == True)  # noqa: E712 - a TinyDB query
            if len(done) > SEEN_LIMIT + SEEN_LIMIT // 10:  # prune in batches, not on every job
                oldest = sorted(done, key=lambda d: d.doc_id)[: len(done) - SEEN_LIMIT]
                jobs.remove(doc_ids=[d.doc_id for d in oldest])

    # -- conversations ----------------------------------------------------------------------

    def history(self, key: str) -> list[dict[str, Any]]:
        """The conversation's exchanges, oldest first: {"user", "assistant", "at"}."""
        path = self._conversation_path(key)
        if not path.exists():
            return []
        with self._db(path) as db:
            return [dict(d) for d in db.all()]

    def append_exchange(self, key: str, exchange: dict[str, Any]) -> None:
        """Add an exchange. One carrying the same "job" as the last one replaces it: after a
        crash between storing an answer and marking its job, the job runs again and must not
        leave the exchange twice."""
        with self._db(self._conversation_path(key)) as db:
            if exchange.get("job") and len(db):
                last = max(db.all(), key=lambda d: d.doc_id)
                if last.get("job") == exchange["job"]:
                    db.update(exchange, doc_ids=[last.doc_id])
                    return
            db.insert(exchange)
            if len(db) > HISTORY_LIMIT:
                ids = sorted(d.doc_id for d in db.all())
                db.remove(doc_ids=ids[: len(ids) - HISTORY_LIMIT])

    def pop_last_exchange(self, key: str) -> dict[str, Any] | None:
        path = self._conversation_path(key)
        if not path.exists():
            return None
        with self._db(path) as db:
            docs = db.all()
            if not docs:
                return None
            last = max(docs, key=lambda d: d.doc_id)
            db.remove(doc_ids=[last.doc_id])
            return dict(last)

    def clear_conversation(self, key: str) -> int:
        path = self._conversation_path(key)
        if not path.exists():
            return 0
        with self._db(path) as db:
            count = len(db)
            db.truncate()
            return count

    # -- users ------------------------------------------------------------------------------

    def user(self, user_id: int) -> dict[str, Any]:
        path = self._user_path(user_id)
        if not path.exists():
            return {}
        with self._db(path) as db:
            doc = db.table("profile").get(doc_id=1)
            return dict(doc) if doc else {}

    def update_user(self, user_id: int, **fields: Any) -> None:
        with self._db(self._user_path(user_id)) as db:
            profile = db.table("profile")
            current = dict(profile.get(doc_id=1) or {})
            if all(current.get(k) == v for k, v in fields.items()):
                return  # nothing changed: spare the disk a write
            current.update(fields)
            profile.truncate()
            profile.insert(current)

    def add_usage(self, user_id: int, day: str, prompt: int, completion: int) -> None:
        with self._db(self._user_path(user_id)) as db:
            usage = db.table("usage")
            row = usage.get(Query().day == day)
            if row is None:
                usage.insert({"day": day, "prompt": prompt, "completion": completion, "requests": 1})
            else:
                usage.update(
                    {
                        "prompt": row["prompt"] + prompt,
                        "completion": row["completion"] + completion,
                        "requests": row.get("requests", 0) + 1,
                    },
                    doc_ids=[row.doc_id],
                )

    def usage(self, user_id: int) -> list[dict[str, Any]]:
        """Per-day usage rows {"day", "prompt", "completion", "requests"}, oldest first."""
        path = self._user_path(user_id)
        if not path.exists():
            return []
        with self._db(path) as db:
            return sorted((dict(d) for d in db.table("usage").all()), key=lambda d: d["day"])

    def recent_usage(self, since: str) -> dict[int, dict[str, Any]]:
        """Every user's usage from day `since` (ISO date) on: {user_id: {"username", "days":
        {day: tokens}}}. Files untouched since well before that day are skipped unread, so the
        dashboard stays cheap with many users who no longer chat."""
        folder = self.data_dir / "users"
        if not folder.is_dir():
            return {}
        cutoff = datetime.date.fromisoformat(since)
        found: dict[int, dict[str, Any]] = {}
        for path in folder.glob("*.json"):
            try:
                user_id = int(path.stem)
                changed = datetime.date.fromtimestamp(path.stat().st_mtime)
            except (ValueError, OSError):
                continue
            if changed < cutoff - datetime.timedelta(days=1):
                continue
            days = {
                row["day"]: int(row.get("prompt", 0)) + int(row.get("completion", 0))
                for row in self.usage(user_id)
                if row["day"] >= since
            }
            if days:
                found[user_id] = {"username": self.user(user_id).get("username", ""), "days": days}
        return found
