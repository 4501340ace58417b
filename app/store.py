"""Persistence: the only module that uses TinyDB.

Layout of the data dir (all files mode 600, folders 700: they hold keys and people's chats):
    settings.json             user settings
    jobs/<id>.json            one accepted webhook message not yet answered, and its answer
    jobs/<id>.state           that job's progress and retry state (chunks sent, next try)
    jobs/seen-<hash>          a recent post id, so a re-delivered post is answered once
    conversations/<key>.json  one conversation's exchanges
    users/<person>.json       one person's profile (language, own quotas) and token usage per day
                              (people.file_stem: synology.4.json, web.mei.json)

One file per job, per conversation and per user keeps the cost of a write independent of how
many people use the bot and how much work is waiting: TinyDB rewrites a whole file on every
write.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import os
import re
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from tinydb import Query, TinyDB
from tinydb.storages import Storage

from app import conversations, people
from app.pictures import Pictures

log = logging.getLogger(__name__)
FILE_MODE = 0o600
DIR_MODE = 0o700
SEEN_FOR = 24 * 3600.0  # seconds a post id is remembered; Chat re-delivers within seconds
PRUNE_EVERY = 256  # jobs stored between two sweeps of old post ids
HISTORY_LIMIT = 200  # exchanges kept per conversation; the model sees only what fits its budget
_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
# A job's fields that change while it is delivered or retried. They go to the job's small side
# record, so posting a long answer does not rewrite (and fsync) the whole answer per chunk.
JOB_STATE = frozenset(
    {"sent", "posting", "post_size", "attempts", "failing_since", "next_try", "cuts", "partial", "notices"}
)


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
        write_atomic(self.path, data)  # mkstemp makes it 0600

    def close(self) -> None:
        pass


def write_atomic(path: Path, data: dict[str, Any], sync_dir: bool = True) -> None:
    """The file whole or not at all: a temporary file, fsync, rename."""
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if sync_dir:
        fsync_dir(path.parent)


def _restrict(folder: Path) -> None:
    """Folders hold people's chats: owner only. A bind-mounted folder owned by someone else
    (Docker on a NAS) cannot be chmod-ed; being able to write to it is what matters."""
    with suppress(PermissionError):
        folder.chmod(DIR_MODE)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _pictures_of(exchanges: list[Any]) -> list[str]:
    return [str(e["image"]) for e in exchanges if e.get("image")]


class StoreError(RuntimeError):
    pass


class Store:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.pictures = Pictures(data_dir / "pictures")
        self._locks: dict[Path, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        try:
            for folder in (data_dir, data_dir / "conversations", data_dir / "users", data_dir / "jobs"):
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
        self._jobs = data_dir / "jobs"
        self._stored = 0  # jobs stored since the last sweep of old post ids
        self._remove_stale_temp_files()
        self._remove_orphan_states()
        self._move_old_job_file()

    # -- plumbing ---------------------------------------------------------------------------

    def _remove_stale_temp_files(self) -> None:
        """A crash between mkstemp and rename leaves a temporary file; the real file is intact."""
        for folder in (self.data_dir, self.data_dir / "conversations", self.data_dir / "users", self._jobs):
            for stale in folder.glob(".tmp-*.json"):
                stale.unlink(missing_ok=True)

    def _remove_orphan_states(self) -> None:
        """A stop between removing a finished job and its side record leaves the record."""
        for state in self._jobs.glob("*.state"):
            if not state.with_suffix(".json").exists():
                state.unlink(missing_ok=True)

    def _move_old_job_file(self) -> None:
        """Before 0.1.0's release, jobs lived in one jobs.json: carry unfinished ones over."""
        old = self.data_dir / "jobs.json"
        if not old.exists():
            return
        with self._db(old) as db:
            pending = [dict(d) for d in db.table("jobs").all() if not d.get("done")]
        for job in pending:
            self.add_job({**job, "dedupe": ""})
        old.unlink()

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

    def _user_path(self, person: str) -> Path:
        return self.data_dir / "users" / f"{people.file_stem(person)}.json"

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
        """Persist an accepted message: one small file, so the cost does not grow with the work
        waiting. False when a job with the same non-empty `dedupe` key was stored in the last
        SEEN_FOR seconds (Chat delivered the same post twice); then nothing is kept."""
        path = self._job_path(str(job["id"]))
        write_atomic(path, {**job, "done": False}, sync_dir=False)
        if job.get("dedupe"):
            digest = hashlib.sha256(str(job["dedupe"]).encode()).hexdigest()[:40]
            try:  # created exclusively: of two deliveries at the same moment, one wins
                os.close(
                    os.open(self._jobs / f"seen-{digest}", os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
                )
            except FileExistsError:
                path.unlink(missing_ok=True)
                return False
        fsync_dir(self._jobs)  # the job and its marker are on disk before the webhook's 200
        self._stored += 1
        if self._stored % PRUNE_EVERY == 0:
            self._forget_old_posts()
        return True

    def _job_path(self, job_id: str) -> Path:
        if not _KEY.match(job_id):
            raise ValueError(f"bad job id {job_id!r}")
        return self._jobs / f"{job_id}.json"

    def _forget_old_posts(self, now: float | None = None) -> None:
        cutoff = (time.time() if now is None else now) - SEEN_FOR
        for marker in self._jobs.glob("seen-*"):
            with suppress(FileNotFoundError):
                if marker.stat().st_mtime < cutoff:
                    marker.unlink()

    def pending_jobs(self) -> list[dict[str, Any]]:
        """Jobs stored and not finished, oldest first, with their progress and retry state."""
        jobs = []
        for path in self._jobs.glob("*.json"):
            if path.name.startswith(".tmp-"):
                continue
            try:
                job = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:  # cannot happen with atomic writes; never stop for it
                log.error("skipping an unreadable job file %s: %s", path.name, exc)
                continue
            jobs.append({**job, **self._job_state(path.with_suffix(".state"))})
        return sorted(jobs, key=lambda d: d.get("received", 0))

    def _job_state(self, path: Path) -> dict[str, Any]:
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}  # none yet, or a job file from 0.1.0, whose progress is in the job itself
        except (OSError, ValueError) as exc:
            log.error("ignoring an unreadable job state %s: %s", path.name, exc)
            return {}
        return {k: v for k, v in state.items() if k in JOB_STATE} if isinstance(state, dict) else {}

    def update_job(self, job_id: str, **fields: Any) -> None:
        """Only the worker handling a job touches its files, so no lock is needed. Progress and
        retry fields (JOB_STATE) go to the small side record; the rest (the answer, once)
        rewrites the job file."""
        path = self._job_path(job_id)
        state = {k: v for k, v in fields.items() if k in JOB_STATE}
        rest = {k: v for k, v in fields.items() if k not in JOB_STATE}
        if rest:
            try:
                current = json.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                return
            write_atomic(path, {**current, **rest}, sync_dir=False)
        if state and path.exists():  # a finished job gets no side record back
            side = path.with_suffix(".state")
            write_atomic(side, {**self._job_state(side), **state}, sync_dir=False)

    def finish_job(self, job_id: str) -> None:
        """Forget the job and its text; its post id stays known for SEEN_FOR. The folder is not
        synced: if a power cut brings the job back, it runs again, and as its answer is stored
        with it, that costs at most a notice to its user."""
        path = self._job_path(job_id)
        path.unlink(missing_ok=True)
        path.with_suffix(".state").unlink(missing_ok=True)

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
                old = sorted(db.all(), key=lambda d: d.doc_id)[: len(db) - HISTORY_LIMIT]
                db.remove(doc_ids=[d.doc_id for d in old])
                self.pictures.drop(key, _pictures_of(old))

    def drop_exchange(self, key: str, job_id: str) -> None:
        """Forget the exchange a job left (and its picture): a drawing replaced by a new one."""
        path = self._conversation_path(key)
        if not job_id or not path.exists():
            return
        with self._db(path) as db:
            gone = [d for d in db.all() if d.get("job") == job_id]
            db.remove(doc_ids=[d.doc_id for d in gone])
        self.pictures.drop(key, _pictures_of(gone))

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
            self.pictures.drop(key, _pictures_of([last]))
            return dict(last)

    def clear_conversation(self, key: str) -> int:
        """Forget the exchanges; the conversation's persona stays (/new is not /forget)."""
        path = self._conversation_path(key)
        if not path.exists():
            return 0
        with self._db(path) as db:
            count = len(db)
            db.truncate()
        self.pictures.drop(key)
        return count

    def conversation_meta(self, key: str) -> dict[str, Any]:
        path = self._conversation_path(key)
        if not path.exists():
            return {}
        with self._db(path) as db:
            doc = db.table("meta").get(doc_id=1)
            return dict(doc) if doc else {}

    def update_conversation_meta(self, key: str, **fields: Any) -> None:
        """Set fields of the conversation's own settings (its persona); None removes one."""
        with self._db(self._conversation_path(key)) as db:
            meta = db.table("meta")
            current = {k: v for k, v in {**(meta.get(doc_id=1) or {}), **fields}.items() if v is not None}
            meta.truncate()
            if current:
                meta.insert(current)

    def conversations(self, prefix: str) -> list[dict[str, Any]]:
        """The conversations whose key starts with `prefix`: {"key", "meta", "changed"}, most
        recently changed first (the web chat's list of past chats)."""
        found = []
        for path in (self.data_dir / "conversations").glob(f"{prefix}*.json"):
            if path.name.startswith(".tmp-"):
                continue
            try:
                changed = path.stat().st_mtime
            except OSError:
                continue
            found.append({"key": path.stem, "meta": self.conversation_meta(path.stem), "changed": changed})
        return sorted(found, key=lambda c: -c["changed"])

    def delete_conversation(self, key: str) -> None:
        path = self._conversation_path(key)
        with self._lock(path):
            path.unlink(missing_ok=True)
        self.pictures.drop(key)

    def forget_user(self, person: str) -> int:
        """Delete what a person said and was answered: the conversations that are theirs alone
        entirely, and their exchanges in shared ones, as each conversation's meta tells
        (conversations.py). Their usage stays: it is what their quota counts. Returns the
        exchanges removed."""
        removed = 0
        folder = self.data_dir / "conversations"
        for path in sorted(folder.glob("*.json")):
            if path.name.startswith(".tmp-"):
                continue
            meta = self.conversation_meta(path.stem)
            if conversations.owner(meta) == person:
                with self._lock(path):
                    with suppress(OSError, ValueError):
                        removed += len(json.loads(path.read_text(encoding="utf-8")).get("_default", {}))
                    path.unlink(missing_ok=True)
                self.pictures.drop(path.stem)
            elif conversations.is_shared(meta):
                with self._db(path) as db:
                    theirs = [d for d in db.all() if d.get("uid") == person]
                    if theirs:
                        db.remove(doc_ids=[d.doc_id for d in theirs])
                        removed += len(theirs)
                self.pictures.drop(path.stem, _pictures_of(theirs))
        fsync_dir(folder)
        return removed

    # -- users ------------------------------------------------------------------------------

    def user(self, person: str) -> dict[str, Any]:
        path = self._user_path(person)
        if not path.exists():
            return {}
        with self._db(path) as db:
            doc = db.table("profile").get(doc_id=1)
            return dict(doc) if doc else {}

    def update_user(self, person: str, **fields: Any) -> None:
        with self._db(self._user_path(person)) as db:
            profile = db.table("profile")
            current = dict(profile.get(doc_id=1) or {})
            if all(current.get(k) == v for k, v in fields.items()):
                return  # nothing changed: spare the disk a write
            current.update(fields)
            profile.truncate()
            profile.insert(current)

    def add_usage(self, person: str, day: str, prompt: int, completion: int) -> None:
        with self._db(self._user_path(person)) as db:
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

    def add_image(self, person: str, day: str) -> None:
        """One picture drawn for the person on that day (daily_images counts them)."""
        with self._db(self._user_path(person)) as db:
            usage = db.table("usage")
            row = usage.get(Query().day == day)
            if row is None:
                usage.insert({"day": day, "prompt": 0, "completion": 0, "requests": 0, "images": 1})
            else:
                usage.update({"images": row.get("images", 0) + 1}, doc_ids=[row.doc_id])

    def usage(self, person: str) -> list[dict[str, Any]]:
        """Per-day usage rows {"day", "prompt", "completion", "requests", "images"?}, oldest first."""
        path = self._user_path(person)
        if not path.exists():
            return []
        with self._db(path) as db:
            return sorted((dict(d) for d in db.table("usage").all()), key=lambda d: d["day"])

    def people(self) -> list[dict[str, Any]]:
        """Everyone who has chatted: {"person", "profile", "usage", "seen"} (seen: the time
        their file last changed), most recently seen first. For the settings page."""
        found = []
        for path in (self.data_dir / "users").glob("*.json"):
            person = people.from_stem(path.stem)
            try:
                seen = path.stat().st_mtime
            except OSError:
                continue
            if person is None:
                continue
            found.append(
                {
                    "person": person,
                    "profile": self.user(person),
                    "usage": self.usage(person),
                    "seen": seen,
                }
            )
        return sorted(found, key=lambda p: -p["seen"])

    def recent_usage(self, since: str) -> dict[str, dict[str, Any]]:
        """Every person's usage from day `since` (ISO date) on: {person: {"username", "days":
        {day: tokens}}}. Files untouched since well before that day are skipped unread, so the
        dashboard stays cheap with many users who no longer chat."""
        folder = self.data_dir / "users"
        if not folder.is_dir():
            return {}
        cutoff = datetime.date.fromisoformat(since)
        found: dict[str, dict[str, Any]] = {}
        for path in folder.glob("*.json"):
            person = people.from_stem(path.stem)
            try:
                changed = datetime.date.fromtimestamp(path.stat().st_mtime)
            except OSError:
                continue
            if person is None:
                continue
            if changed < cutoff - datetime.timedelta(days=1):
                continue
            days = {
                row["day"]: int(row.get("prompt", 0)) + int(row.get("completion", 0))
                for row in self.usage(person)
                if row["day"] >= since
            }
            if days:
                found[person] = {"username": self.user(person).get("username", ""), "days": days}
        return found
