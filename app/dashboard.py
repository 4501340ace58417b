"""The settings page's dashboard: the bot's status (uptime, queue, what waits for a retry,
model latency, whether the model and each platform are set up), the people table, and the
recent webhooks and errors, as data for the page and for its script's /api calls."""

from __future__ import annotations

import dataclasses
import datetime
import time
from typing import TYPE_CHECKING, Any

from app import __version__, limits, pagetext, people
from app.monitor import WebhookRecord
from app.platforms.synology import wire as synology
from app.settings import Values
from app.worker import Waiting

if TYPE_CHECKING:
    from app.pages import Console

PEOPLE_SHOWN = 200  # the most recently active; the rest still have their limits


def status_info(console: Console, values: Values, t: pagetext.Translator) -> dict[str, Any]:
    return {
        "version": __version__,
        "uptime": duration(console.clock() - console.started, t),
        "queue": console.queue.pending(),
        **_retry_status(console.queue.waiting(), t),
        "latency": console.monitor.latency(),
        "model_ready": console.model_ready(values),
        "bot_ready": bool(synology.expected_token(values.bot_token, values.bot_incoming_url)),
        "incoming_ready": bool(values.bot_incoming_url),
        "qq_ready": bool(values.onebot_api_url and values.onebot_secret),
        **_dingtalk_status(console, values, t),
    }


def _dingtalk_status(console: Console, values: Values, t: pagetext.Translator) -> dict[str, Any]:
    """DingTalk's state in words: in Stream mode whether the bot's connection is up, since when,
    and its last problem; in HTTP mode that it waits for callbacks."""
    status = console.dingtalk_status()
    ready = bool(values.dingtalk_client_id and values.dingtalk_client_secret)
    if not ready:
        text, good = t("dt_state_off"), False
    elif values.dingtalk_mode == "http":
        text, good = t("dt_state_http"), True
    elif status.state == "connected":
        text, good = t("dt_state_connected", since=fmt_time(status.since)), True
    elif status.state == "waiting":
        text, good = t("dt_state_waiting", at=fmt_time(status.retry_at)), False
    else:
        text, good = t("dt_state_connecting"), False
    error = ""
    if ready and values.dingtalk_mode != "http" and status.error_kind:
        error = t("dt_last_error", error=pagetext.chat_error(t, _Failure(status.error_kind, status.error)))
    return {"dingtalk_ready": good, "dingtalk_state": text, "dingtalk_error": error}


@dataclasses.dataclass
class _Failure:
    kind: str
    detail: str
    ok: bool = False
    status: int | None = None


def people_rows(console: Console, values: Values) -> list[dict[str, Any]]:
    """Everyone who has chatted, with their role, use and own quotas, for the people table."""
    today = datetime.date.fromtimestamp(console.clock())
    rows = []
    for person in console.people()[:PEOPLE_SHOWN]:
        profile = person["profile"]
        day, month = limits.used(person["usage"], today)
        own = profile.get("limits") or {}
        name = name_of(person["person"], profile)
        rows.append(
            {
                # How the page and its form name the person: a Synology id bare, as lists do.
                "user_id": people.short(person["person"]),
                "username": name,
                "web": people.platform(person["person"]) == people.WEB,
                "role": role_text(values, limits.role(values, person["person"], name)),  # a text's key
                "today": day,
                "month": month,
                "pictures": limits.images_on(person["usage"], today),
                "daily": own.get("daily_tokens"),
                "monthly": own.get("monthly_tokens"),
                "seen": person["seen"],
            }
        )
    return rows


def name_of(person: str, profile: dict[str, Any]) -> str:
    """The name a person goes by. A web chat account's name is its id ("web:mei"), so it is
    known even where none was stored with its use (a drawing, a quota set before any chat)."""
    if people.platform(person) == people.WEB:
        return people.local(person)
    return str(profile.get("username") or "")


def role_text(values: Values, role: str) -> str:
    """The key of the words for a role, as the access setting makes it: while everyone may
    chat, the allow-list changes nothing, so the allowed and the unlisted read alike."""
    if role in (limits.ALLOWED, limits.GUEST) and values.access == "everyone":
        return "role_everyone"
    return f"role_{role}"


def webhook_rows(console: Console, t: pagetext.Translator) -> list[dict[str, Any]]:
    return [
        {
            "time": fmt_time(w.at),
            "client": w.client,
            "status": w.status,
            "accepted": w.accepted,
            "outcome": w.outcome,
            "reason": t(f"wh_{w.reason}"),
            "detail": webhook_detail(w, t),
            # As the lists write the person: a Synology id bare, others with their platform.
            "user_id": None if w.user_id is None else sender_of(w),
            "username": w.username,
            "chars": w.chars,
        }
        for w in console.monitor.webhooks()
    ]


def webhook_detail(record: WebhookRecord, t: pagetext.Translator) -> str:
    """What the parser found, in the reader's language. A detail the page has no words for is
    the parser's English: shown to English readers only, as Chinese readers could not read it."""
    key = f"whd_{record.detail_key}"
    if record.detail_key and pagetext.has(key):
        return t(key, **record.detail_params)
    return record.detail if t.lang == "en" else ""


def sender_of(record: WebhookRecord) -> str:
    """As the lists write a sender: a Synology id bare, others with their platform (qq:123)."""
    return people.short(people.of(record.platform, record.user_id or 0))


def last_sender(records: list[WebhookRecord], platform: str) -> str:
    """The id of the last person answered from a platform: the live check's likely target."""
    found = (w.user_id for w in records if w.accepted and w.user_id and w.platform == platform)
    return str(next(found, ""))


def error_rows(console: Console) -> list[dict[str, Any]]:
    return [
        {"time": fmt_time(e.at), "source": e.source, "kind": e.kind, "message": e.message}
        for e in console.monitor.errors()
    ]


def _retry_status(waiting: Waiting, t: pagetext.Translator) -> dict[str, Any]:
    """What waits for a retry, in numbers for /api/status and in words for the page: answers
    waiting for Chat to be reachable, messages waiting for the data folder to be writable."""
    next_try = fmt_time(waiting.next_try) if waiting.next_try else None
    if waiting.storage:
        key = "st_storage_full" if waiting.disk_full else "st_storage_failing"
        storage_text = t(key, count=waiting.storage, error=waiting.storage_error)
    else:
        storage_text = t("st_storage_ok")
    return {
        "waiting": {"answers": waiting.chat, "next_try": next_try},
        "waiting_text": t("st_waiting_value", count=waiting.chat, time=next_try) if waiting.chat else "",
        "storage": {
            "ok": not waiting.storage,
            "disk_full": waiting.disk_full,
            "waiting": waiting.storage,
            "error": waiting.storage_error,
        },
        "storage_text": storage_text,
    }


def fmt_time(at: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


def duration(seconds: float, t: pagetext.Translator) -> str:
    """How long the bot has run, in the reader's units: the two or three that matter."""
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return t("dur_days", days=days, hours=hours, minutes=minutes)
    if hours:
        return t("dur_hours", hours=hours, minutes=minutes)
    return t("dur_minutes", minutes=minutes, seconds=seconds)
