"""The bot's commands: what each one says and changes. Questions to the model are bot.py's;
/ask and /retry hand theirs back to it through `ask`."""

from __future__ import annotations

import datetime
import difflib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from app import conversations, export, i18n, limits, people, settings
from app.llm import ModelError
from app.platforms.base import Attachment
from app.settings import Values
from app.worker import Job

NEW_WORDS = {"new", "refresh", "00", "restart", "刷新", "新话题"}
# Read-only or about the bot as a whole: they need not wait for a running answer.
IMMEDIATE = {"/help", "/whoami", "/usage", "/model", "/pause", "/resume"}
# They read or change the conversation, so they wait their turn behind its questions.
ORDERED = {"/new", "/retry", "/ask", "/forget", "/export", "/persona", "/image"}
KNOWN = IMMEDIATE | ORDERED
ASKING = {"/ask", "/retry", "/image"}  # commands that end in a model call
ADMIN_ONLY = {"/pause", "/resume"}  # /model and /persona only when given an argument
MAX_PERSONA = 4000
MAX_ATTACHMENT = 8 * 1024 * 1024  # bytes; a bigger export is saved to export_dir only
MODELS_SHOWN = 8  # names offered when /model names one the server lacks
_COMMAND = re.compile(r"^/([A-Za-z][A-Za-z0-9_-]{0,30})(?:\s|$)")
# The first Synology bot drew on "img:"; Chinese keyboards type the full-width colon.
_DRAW = re.compile(r"^(?:img|图片|圖片)\s*[:：]", re.IGNORECASE)


class History(Protocol):
    def history(self, key: str) -> list[dict[str, Any]]: ...
    def append_exchange(self, key: str, exchange: dict[str, Any]) -> None: ...
    def pop_last_exchange(self, key: str) -> dict[str, Any] | None: ...
    def clear_conversation(self, key: str) -> int: ...
    def conversation_meta(self, key: str) -> dict[str, Any]: ...
    def update_conversation_meta(self, key: str, **fields: Any) -> None: ...
    def forget_user(self, person: str) -> int: ...
    def user(self, person: str) -> dict[str, Any]: ...
    def update_user(self, person: str, **fields: Any) -> None: ...
    def add_usage(self, person: str, day: str, prompt: int, completion: int) -> None: ...
    def add_image(self, person: str, day: str) -> None: ...
    def usage(self, person: str) -> list[dict[str, Any]]: ...
    def update_job(self, job_id: str, **fields: Any) -> None: ...


def command_of(text: str) -> str | None:
    """The command a message is, if any: '/name' (lower case), or '/new' for the words that
    mean it when sent alone. A path like '/etc/hosts' is a question, not a command."""
    stripped = text.strip()
    if stripped.lower() in NEW_WORDS:
        return "/new"
    if _DRAW.match(stripped):
        return "/image"
    match = _COMMAND.match(stripped)
    return "/" + match.group(1).lower() if match else None


def argument(text: str) -> str:
    """What follows the command word."""
    parts = text.strip().split(maxsplit=1)
    return parts[1].strip() if len(parts) > 1 else ""


def _some(name: str, known: list[str]) -> str:
    """A few of the server's names, those most like the one typed first (qwen2.5:7b for
    qwen2.5:7), then in the server's order; '…' when there are more."""
    close = difflib.get_close_matches(name, known, n=MODELS_SHOWN, cutoff=0.5)
    shown = [*close, *(m for m in known if m not in close)][:MODELS_SHOWN]
    return ", ".join(shown) + (", …" if len(known) > len(shown) else "")


def image_prompt(text: str) -> str:
    """What to draw: the text after /image, img: or 图片：."""
    stripped = text.strip()
    found = _DRAW.match(stripped)
    return stripped[found.end() :].strip() if found else argument(stripped)


class Commands:
    def __init__(
        self,
        store: History,
        save: Callable[[dict[str, Any]], None],
        ask: Callable[[Job, str, Values, bool], str],
        clock: Callable[[], float],
        *,
        draw: Callable[[Job, str, Values], str] | None = None,
        models: Callable[[Values], list[str]] | None = None,
    ) -> None:
        self._models = models  # the model server's names; raises ModelError when it has none
        self._store = store
        self._save = save
        self._ask = ask
        self._clock = clock
        self._draw = draw

    def run(self, command: str, job: Job, values: Values) -> str:
        lang = job.lang
        who = limits.role(values, job.person, job.username)
        arg = argument(job.text)
        changes = command in ADMIN_ONLY or (command in ("/model", "/persona") and arg)
        if changes and who != limits.ADMIN:
            return i18n.t(lang, "admin_only", command=command)
        handler = {
            "/help": self._help,
            "/whoami": self._whoami,
            "/usage": self._usage,
            "/new": self._new,
            "/retry": self._retry,
            "/ask": self._ask_command,
            "/image": self._image,
            "/forget": self._forget,
            "/export": self._export,
            "/model": self._model,
            "/persona": self._persona,
            "/pause": self._pause,
            "/resume": self._pause,
        }.get(command)
        if handler is None:
            return i18n.t(lang, "unknown_command", command=command)
        return handler(job, values, arg, who, command)

    # Every handler takes (job, values, argument, role, command) and returns the reply.

    def _help(self, job: Job, values: Values, arg: str, who: str, command: str) -> str:
        text = i18n.t(job.lang, "help", model=values.model)
        return text + "\n\n" + i18n.t(job.lang, "help_admin") if who == limits.ADMIN else text

    def _whoami(self, job: Job, values: Values, arg: str, who: str, command: str) -> str:
        # A Synology Chat id is written bare on the lists; anyone else with their platform (qq:…).
        key = "whoami" if people.platform(job.person) == people.SYNOLOGY else "whoami_other"
        return i18n.t(job.lang, key, user_id=people.short(job.person), username=job.username or "?")

    def _usage(self, job: Job, values: Values, arg: str, who: str, command: str) -> str:
        rows = self._store.usage(job.person)
        today = self._now().date()
        row = next((r for r in rows if r["day"] == today.isoformat()), {})
        _, month = limits.used(rows, today)
        text = i18n.t(
            job.lang,
            "usage",
            today=row.get("prompt", 0) + row.get("completion", 0),
            today_requests=row.get("requests", 0),
            month=month,
            total=sum(r["prompt"] + r["completion"] for r in rows),
            total_requests=sum(r.get("requests", 0) for r in rows),
        )
        drawn = limits.images_on(rows, today)
        if drawn or values.daily_images:
            limit = int(values.daily_images)
            if limit and who != limits.ADMIN:
                text += "\n" + i18n.t(job.lang, "image_usage_limit", count=drawn, limit=limit)
            else:
                text += "\n" + i18n.t(job.lang, "image_usage", count=drawn)
        daily, monthly = limits.quotas(values, self._store.user(job.person))
        if who == limits.ADMIN or not (daily or monthly):
            return text
        none = i18n.t(job.lang, "no_limit")
        return text + "\n" + i18n.t(job.lang, "usage_limits", daily=daily or none, monthly=monthly or none)

    def _new(self, job: Job, values: Values, arg: str, who: str, command: str) -> str:
        count = self._store.clear_conversation(job.conversation)
        return i18n.t(job.lang, "new", count=count) if count else i18n.t(job.lang, "new_empty")

    def _retry(self, job: Job, values: Values, arg: str, who: str, command: str) -> str:
        history = self._store.history(job.conversation)
        if not history:
            return i18n.t(job.lang, "retry_nothing")
        return self._ask(job, str(history[-1]["user"]), values, True)

    def _ask_command(self, job: Job, values: Values, arg: str, who: str, command: str) -> str:
        return self._ask(job, arg, values, False) if arg else i18n.t(job.lang, "ask_empty")

    def _image(self, job: Job, values: Values, arg: str, who: str, command: str) -> str:
        prompt = image_prompt(job.text)
        if not prompt:
            return i18n.t(job.lang, "image_empty")
        if self._draw is None:
            return i18n.t(job.lang, "image_not_configured")
        return self._draw(job, prompt, values)

    def _forget(self, job: Job, values: Values, arg: str, who: str, command: str) -> str:
        count = self._store.forget_user(job.person)
        return i18n.t(job.lang, "forget", count=count) if count else i18n.t(job.lang, "forget_empty")

    def _export(self, job: Job, values: Values, arg: str, who: str, command: str) -> str:
        history = self._store.history(job.conversation)
        if not history:
            return i18n.t(job.lang, "export_empty")
        now = self._now()
        persona = self._store.conversation_meta(job.conversation).get("persona", "")
        title = "SynoChatGPT: " + (
            f"#{job.channel}" if job.channel else (job.username or people.short(job.person))
        )
        text = export.to_markdown(history, title=title, model=values.model, persona=persona, exported=now)
        name = export.file_name(now, job.conversation)
        replies = []
        if values.export_dir:
            try:
                path = export.save(
                    Path(values.export_dir), export.folder_for(job.username, job.person), name, text
                )
                replies.append(i18n.t(job.lang, "export_saved", count=len(history), path=str(path)))
            except OSError as exc:
                replies.append(i18n.t(job.lang, "export_failed", reason=exc.strerror or type(exc).__name__))
        content = text.encode()
        if len(content) <= MAX_ATTACHMENT:  # each platform decides how the file reaches the person
            job.attachments = [Attachment(name, "text/markdown; charset=utf-8", content).to_dict()]
            replies.append(i18n.t(job.lang, "export_attached", count=len(history)))
        return "\n".join(replies) or i18n.t(job.lang, "export_nowhere")

    def _model(self, job: Job, values: Values, arg: str, who: str, command: str) -> str:
        if not arg:
            return i18n.t(job.lang, "model_now", model=values.model)
        refused = self._fixed("model", values, job.lang)
        if refused:
            return refused
        try:
            name = settings.parse(settings.BY_NAME["model"], arg)
        except settings.Invalid as exc:
            return i18n.t(job.lang, "model_bad", problem=str(exc))
        known = self._known_models(name, values)
        if known and name not in known:
            # Saved, a misspelt name would fail every question until someone noticed.
            return i18n.t(
                job.lang, "model_unknown", model=name, current=values.model, models=_some(name, known)
            )
        self._save({"model": name})
        return i18n.t(job.lang, "model_set" if known or name == "echo" else "model_unchecked", model=name)

    def _known_models(self, name: str, values: Values) -> list[str]:
        """The server's model names, or [] when they cannot be had: some servers have no
        /models, or list none (a proxy, a single-model server), and then the name is taken
        on trust. 'echo' is built in and asks no server."""
        if name == "echo" or self._models is None:
            return []
        try:
            return self._models(values)
        except ModelError:
            return []

    def _persona(self, job: Job, values: Values, arg: str, who: str, command: str) -> str:
        current = self._store.conversation_meta(job.conversation).get("persona", "")
        if not arg:
            if current:
                return i18n.t(job.lang, "persona_now", persona=current)
            return i18n.t(job.lang, "persona_default", persona=values.system_prompt.strip() or "–")
        if arg.lower() in ("reset", "default", "默认", "重置"):
            self._store.update_conversation_meta(job.conversation, persona=None)
            return i18n.t(job.lang, "persona_reset")
        if len(arg) > MAX_PERSONA:
            return i18n.t(job.lang, "persona_long", max=MAX_PERSONA)
        # With what the conversation is: /forget must find a persona set before any question.
        self._store.update_conversation_meta(job.conversation, persona=arg, **conversations.meta_of(job))
        return i18n.t(job.lang, "persona_set")

    def _pause(self, job: Job, values: Values, arg: str, who: str, command: str) -> str:
        refused = self._fixed("paused", values, job.lang)
        if refused:
            return refused
        pause = command == "/pause"
        self._save({"paused": pause})
        return i18n.t(job.lang, "paused" if pause else "resumed")

    def _fixed(self, name: str, values: Values, lang: str) -> str:
        if name not in values.fixed:
            return ""
        return i18n.t(lang, "setting_fixed", name=name, env=settings.BY_NAME[name].env)

    def _now(self) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(self._clock())
