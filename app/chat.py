"""What the bot does with a message: commands, the conversation history within a token budget,
the model call, and what the user is told. No HTTP and no database details here."""

from __future__ import annotations

import datetime
import logging
import re
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from app import i18n
from app.llm import Model, ModelConfig, ModelError, Reply, is_configured, strip_thinking
from app.settings import Values
from app.synology import ChatError, split_message
from app.worker import Job

log = logging.getLogger(__name__)

NEW_WORDS = {"new", "refresh", "00", "restart", "刷新", "新话题"}
IMMEDIATE = {"/help", "/whoami", "/usage"}  # read-only: they need not wait for a running answer
ORDERED = {"/new", "/retry"}  # they change the conversation, so they wait their turn
_COMMAND = re.compile(r"^/([A-Za-z][A-Za-z0-9_-]{0,30})(?:\s|$)")


class History(Protocol):
    def history(self, key: str) -> list[dict[str, Any]]: ...
    def append_exchange(self, key: str, exchange: dict[str, Any]) -> None: ...
    def pop_last_exchange(self, key: str) -> dict[str, Any] | None: ...
    def clear_conversation(self, key: str) -> int: ...
    def user(self, user_id: int) -> dict[str, Any]: ...
    def update_user(self, user_id: int, **fields: Any) -> None: ...
    def add_usage(self, user_id: int, day: str, prompt: int, completion: int) -> None: ...
    def usage(self, user_id: int) -> list[dict[str, Any]]: ...
    def update_job(self, job_id: str, **fields: Any) -> None: ...


class Observer(Protocol):
    """Where the dashboard learns about model calls (monitor.Monitor)."""

    def model_call(self, seconds: float) -> None: ...
    def error(self, source: str, kind: str, message: str) -> None: ...


class Deliver(Protocol):
    def __call__(self, job: Job, text: str, values: Values) -> None: ...


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate, erring high: a CJK character is about one token, other text
    about four characters a token, plus a few tokens of framing per message."""
    cjk = sum(
        1 for c in text if "\u2e80" <= c <= "\u9fff" or "\uac00" <= c <= "\ud7af" or "\uf900" <= c <= "\ufaff"
    )
    return cjk + (len(text) - cjk + 3) // 4 + 4


def command_of(text: str) -> str | None:
    """The command a message is, if any: '/name' (lower case), or '/new' for the words that
    mean it when sent alone. A path like '/etc/hosts' is a question, not a command."""
    stripped = text.strip()
    if stripped.lower() in NEW_WORDS:
        return "/new"
    match = _COMMAND.match(stripped)
    return "/" + match.group(1).lower() if match else None


def build_messages(
    system_prompt: str, history: Sequence[dict[str, Any]], question: str, budget: int
) -> tuple[list[dict[str, str]], int]:
    """The system prompt, as many of the newest whole exchanges as fit the budget, and the
    question. Returns the messages and how many exchanges were left out."""
    head = [{"role": "system", "content": system_prompt}] if system_prompt.strip() else []
    used = sum(estimate_tokens(m["content"]) for m in head) + estimate_tokens(question)
    kept: list[dict[str, str]] = []
    for exchange in reversed(history):
        pair = [
            {"role": "user", "content": exchange["user"]},
            {"role": "assistant", "content": exchange["assistant"]},
        ]
        cost = sum(estimate_tokens(m["content"]) for m in pair)
        if used + cost > budget:
            break
        kept[:0] = pair
        used += cost
    dropped = len(history) - len(kept) // 2
    return [*head, *kept, {"role": "user", "content": question}], dropped


def model_config(values: Values) -> ModelConfig:
    return ModelConfig(
        base_url=values.openai_base_url,
        api_key=values.openai_api_key,
        model=values.model,
        temperature=values.temperature,
        timeout=values.request_timeout,
        max_retries=values.max_retries,
        proxy=values.proxy,
    )


class Bot:
    def __init__(
        self,
        store: History,
        settings: Callable[[], Values],
        model: Callable[[Values], Model],
        deliver: Deliver,
        *,
        clock: Callable[[], float] = time.time,
        observer: Observer | None = None,
    ) -> None:
        self._observer = observer
        self._store = store
        self._settings = settings
        self._model = model
        self._deliver = deliver
        self._clock = clock

    # -- accepting ---------------------------------------------------------------------------

    def job_for(
        self, user_id: int, username: str, text: str, dedupe: str, conversation: str | None = None
    ) -> Job:
        """Turn an accepted Chat message into a job, choosing its lane."""
        conversation = conversation or f"dm-{user_id}"
        command = command_of(text)
        if command in IMMEDIATE or (command and command not in ORDERED):
            lane = f"{conversation}:now"
            kind = "command"
        else:
            lane = conversation
            kind = "command" if command else "message"
        return Job(
            lane=lane,
            conversation=conversation,
            user_id=user_id,
            username=username,
            text=text,
            kind=kind,
            dedupe=dedupe,
        )

    def _language(self, values: Values, user_id: int, text: str) -> str:
        if values.language != "auto":
            return str(values.language)
        detected = i18n.detect(text)
        if detected:
            self._store.update_user(user_id, lang=detected)
            return detected
        return str(self._store.user(user_id).get("lang", "en"))

    # -- answering ---------------------------------------------------------------------------

    def handle(self, job: Job) -> None:
        values = self._settings()
        if job.reply is None:
            # Worked out here, not in the webhook: Chat's request is answered without touching
            # the user's file.
            job.lang = self._language(values, job.user_id, job.text)
            job.reply = self._answer(job, values)
            self._store.update_job(job.id, reply=job.reply)
        self._deliver(job, job.reply, values)

    def _answer(self, job: Job, values: Values) -> str:
        command = command_of(job.text) if job.kind == "command" else None
        if command:
            return self._command(command, job, values)
        if not job.text.strip():
            return i18n.t(job.lang, "no_text")
        return self._ask(job, job.text, values)

    def _command(self, command: str, job: Job, values: Values) -> str:
        lang = job.lang
        if command == "/help":
            return i18n.t(lang, "help", model=values.model)
        if command == "/whoami":
            return i18n.t(lang, "whoami", user_id=job.user_id, username=job.username or "?")
        if command == "/usage":
            rows = self._store.usage(job.user_id)
            today = self._today()
            row = next((r for r in rows if r["day"] == today), {})
            return i18n.t(
                lang,
                "usage",
                today=row.get("prompt", 0) + row.get("completion", 0),
                today_requests=row.get("requests", 0),
                total=sum(r["prompt"] + r["completion"] for r in rows),
                total_requests=sum(r.get("requests", 0) for r in rows),
            )
        if command == "/new":
            count = self._store.clear_conversation(job.conversation)
            return i18n.t(lang, "new", count=count) if count else i18n.t(lang, "new_empty")
        if command == "/retry":
            history = self._store.history(job.conversation)
            if not history:
                return i18n.t(lang, "retry_nothing")
            return self._ask(job, str(history[-1]["user"]), values, replace_last=True)
        return i18n.t(lang, "unknown_command", command=command)

    def _ask(self, job: Job, question: str, values: Values, replace_last: bool = False) -> str:
        """Ask the model and record the exchange. With replace_last (/retry) the previous
        exchange is left out of the context and replaced only once a new answer exists."""
        if not is_configured(model_config(values)):
            return i18n.t(job.lang, "not_configured")
        history = self._store.history(job.conversation)
        if replace_last:
            history = history[:-1]
        budget = int(values.context_tokens)
        started = time.monotonic()
        try:
            reply, question_sent = self._complete_within_context(values, history, question, budget)
        except ModelError as exc:
            log.warning("model error for user %s after %d attempt(s): %s", job.user_id, exc.attempts, exc)
            if self._observer:
                self._observer.error("model", exc.kind, redact(str(exc), values))
            return self._explain(exc, job.lang, values)
        if self._observer:
            self._observer.model_call(time.monotonic() - started)
        text = strip_thinking(reply.text) if values.strip_thinking else reply.text.strip()
        log.info("answered user %s in %.1f s (%d chars)", job.user_id, time.monotonic() - started, len(text))
        if not text:
            return i18n.t(job.lang, "empty_answer")
        if replace_last:
            self._store.pop_last_exchange(job.conversation)
        self._store.append_exchange(
            job.conversation, {"user": question, "assistant": text, "at": self._clock(), "job": job.id}
        )
        prompt = reply.prompt_tokens if reply.prompt_tokens is not None else estimate_tokens(question_sent)
        completion = (
            reply.completion_tokens if reply.completion_tokens is not None else estimate_tokens(reply.text)
        )
        self._store.add_usage(job.user_id, self._today(), prompt, completion)
        if job.username:  # for the dashboard's chart; written only when it changes
            self._store.update_user(job.user_id, username=job.username)
        return text

    def _complete_within_context(
        self, values: Values, history: Sequence[dict[str, Any]], question: str, budget: int
    ) -> tuple[Reply, str]:
        """Ask the model; when it says the context is too long (the server's window is smaller
        than context_tokens), keep only the newer half of the history and ask again, down to
        none at all, rather than fail. Halving bounds this to a handful of quick calls."""
        model = self._model(values)
        while True:
            messages, dropped = build_messages(values.system_prompt, history, question, budget)
            try:
                return model.complete(messages), "\n".join(m["content"] for m in messages)
            except ModelError as exc:
                kept = len(history) - dropped
                if exc.kind != "context" or kept == 0:
                    raise
                history = history[len(history) - kept // 2 :] if kept // 2 else []
                log.info(
                    "the model's context is too small; retrying with %d earlier exchange(s)", len(history)
                )

    def _explain(self, exc: ModelError, lang: str, values: Values) -> str:
        status = exc.status or ""
        key = {
            "auth": "err_auth",
            "quota": "err_quota",
            "not_found": "err_not_found",
            "rate_limit": "err_rate_limit",
            "timeout": "err_timeout",
            "unreachable": "err_unreachable",
            "server": "err_server",
            "context": "err_context",
            "bad_request": "err_bad_request",
            "bad_response": "err_bad_response",
        }.get(exc.kind, "err_internal")
        detail = redact(exc.detail, values)
        return i18n.t(
            lang,
            key,
            status=status,
            attempts=exc.attempts,
            model=values.model,
            timeout=float(values.request_timeout),
            detail=detail or str(status),
        )

    def _today(self) -> str:
        return datetime.datetime.fromtimestamp(self._clock()).date().isoformat()


def redact(text: str, values: Values) -> str:
    """A server's error text with any current secret (a key echoed back, say) masked."""
    for secret in values.secrets():
        text = text.replace(secret, "***")
    return text


class Sender(Protocol):
    def send_dm(
        self,
        url: str,
        user_id: int,
        text: str,
        *,
        verify: bool | str = True,
        start: int = 0,
        on_sent: Callable[[int], None] | None = None,
    ) -> int: ...


class ChatDelivery:
    """Posts an answer to the user through the bot's incoming URL, recording progress on the job
    so that a restart resumes after the last chunk that went out."""

    def __init__(
        self, sender: Sender, store: History, on_error: Callable[[str, str], None] | None = None
    ) -> None:
        self._sender = sender
        self._store = store
        self._on_error = on_error

    def __call__(self, job: Job, text: str, values: Values) -> None:
        url = values.bot_incoming_url
        if not url:
            self._fail(job, "config", "bot_incoming_url is not set, so the answer cannot be posted")
            return

        def progress(count: int) -> None:
            job.sent = count
            self._store.update_job(job.id, sent=count)

        verify: bool | str = values.ca_bundle or bool(values.tls_verify)
        try:
            if job.interrupted and job.sent < len(split_message(text)):
                # The chunk that was in flight at the crash may have arrived: say so, rather
                # than silently sending it a second time or not at all.
                self._sender.send_dm(url, job.user_id, i18n.t(job.lang, "resent"), verify=verify)
                job.interrupted = False
            self._sender.send_dm(url, job.user_id, text, verify=verify, start=job.sent, on_sent=progress)
        except ChatError as exc:  # its text never holds the URL or the token
            self._fail(job, exc.kind, str(exc))

    def _fail(self, job: Job, kind: str, message: str) -> None:
        log.error("could not deliver the answer to user %s: %s", job.user_id, message)
        if self._on_error:
            self._on_error(kind, message)
