"""What the bot does with a message: commands, the conversation history within a token budget,
the model call, and what the user is told. No HTTP and no database details here."""

from __future__ import annotations

import datetime
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from app import conversations, i18n, limits, people
from app.commands import IMMEDIATE, ORDERED, Commands, History, command_of
from app.downloads import Downloads
from app.llm import (
    CUT_TIME,
    Model,
    ModelConfig,
    ModelError,
    OnText,
    Reply,
    Stop,
    is_configured,
    strip_thinking,
)
from app.settings import Values
from app.synology import ChatError, split
from app.worker import Job, RetryLater

log = logging.getLogger(__name__)
__all__ = ["Bot", "ChatDelivery", "History", "build_messages", "command_of", "estimate_tokens"]


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


def build_messages(
    system_prompt: str,
    history: Sequence[dict[str, Any]],
    question: str,
    budget: int,
    named: bool = False,
) -> tuple[list[dict[str, str]], int]:
    """The system prompt, as many of the newest whole exchanges as fit the budget, and the
    question. Returns the messages and how many exchanges were left out. With `named` (a
    channel's shared conversation) each question carries its asker's name, so the model can
    tell the people apart; `question` is then expected to carry it already."""
    head = [{"role": "system", "content": system_prompt}] if system_prompt.strip() else []
    used = sum(estimate_tokens(m["content"]) for m in head) + estimate_tokens(question)
    kept: list[dict[str, str]] = []
    for exchange in reversed(history):
        asked = str(exchange["user"])
        pair = [
            {"role": "user", "content": f"{exchange.get('name') or '?'}: {asked}" if named else asked},
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
        answer_timeout=float(values.answer_timeout),
        max_answer_chars=int(values.max_answer_chars),
    )


class Bot:
    def __init__(
        self,
        store: History,
        settings: Callable[[], Values],
        model: Callable[[Values], Model],
        deliver: Deliver,
        *,
        save: Callable[[dict[str, Any]], None] | None = None,
        files: Downloads | None = None,
        clock: Callable[[], float] = time.time,
        observer: Observer | None = None,
    ) -> None:
        self._observer = observer
        self._store = store
        self._settings = settings
        self._model = model
        self._deliver = deliver
        self._clock = clock
        self.commands = Commands(store, save or (lambda changes: None), self.ask, files, clock)

    # -- accepting ---------------------------------------------------------------------------

    def job_for(
        self,
        person: str,
        username: str,
        text: str,
        dedupe: str,
        conversation: str,
        *,
        channel: str = "",
        shared: bool = False,
        base_url: str = "",
    ) -> Job:
        """Turn an accepted Chat message into a job, choosing its lane. A channel's answer goes
        to that channel; everything else to the person, from the bot."""
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
            person=person,
            username=username,
            text=text,
            kind=kind,
            dedupe=dedupe,
            channel=channel,
            shared=shared,
            base_url=base_url,
        )

    def _language(self, values: Values, person: str, text: str) -> str:
        if values.language != "auto":
            return str(values.language)
        detected = i18n.detect(text)
        if detected:
            self._store.update_user(person, lang=detected)
            return detected
        return str(self._store.user(person).get("lang", "en"))

    # -- answering ---------------------------------------------------------------------------

    def handle(self, job: Job) -> None:
        values = self._settings()
        if job.reply is None:
            # Worked out here, not in the webhook: Chat's request is answered without touching
            # the user's file.
            job.lang = self._language(values, job.person, job.text)
            job.reply = self._answer(job, values)
            self._store.update_job(job.id, reply=job.reply, file=job.file, lang=job.lang)
        self._deliver(job, job.reply, values)

    def quick_reply(self, job: Job, values: Values) -> str:
        """A command's answer at once, for a slash command's HTTP reply (only its sender sees
        it). Only for commands that do not ask the model."""
        job.lang = self._language(values, job.person, job.text)
        return self._answer(job, values)

    def _answer(self, job: Job, values: Values) -> str:
        command = command_of(job.text) if job.kind == "command" else None
        if command:
            return self.commands.run(command, job, values)
        if not job.text.strip():
            return i18n.t(job.lang, "no_text")
        return self.ask(job, job.text, values)

    def ask(
        self,
        job: Job,
        question: str,
        values: Values,
        replace_last: bool = False,
        *,
        on_text: OnText | None = None,
        stop: Stop | None = None,
    ) -> str:
        """Ask the model and record the exchange. With replace_last (/retry) the previous
        exchange is left out of the context and replaced only once a new answer exists. The web
        chat calls this directly, with on_text to stream the answer and stop to end it early."""
        if not is_configured(model_config(values)):
            return i18n.t(job.lang, "not_configured")
        refused = self._over_quota(job, values)
        if refused:
            return refused
        history = self._store.history(job.conversation)
        if replace_last:
            history = history[:-1]
        meta = self._store.conversation_meta(job.conversation)
        persona = meta.get("persona") or values.system_prompt
        named = job.shared
        asked = f"{job.username or job.person}: {question}" if named else question
        budget = int(values.context_tokens)
        started = time.monotonic()
        # The model may echo a secret (the API key, say): masked before anyone sees or stores it.
        masked = SecretMask(values.secrets(), on_text) if on_text else None
        try:
            reply, question_sent = self._complete_within_context(
                values,
                persona=persona,
                history=history,
                question=asked,
                budget=budget,
                named=named,
                on_text=masked.add if masked else None,
                stop=stop,
            )
        except ModelError as exc:
            log.warning("model error for user %s after %d attempt(s): %s", job.person, exc.attempts, exc)
            if self._observer:
                self._observer.error("model", exc.kind, redact(str(exc), values))
            return self._explain(exc, job.lang, values)
        finally:
            if masked:
                masked.end()
        if self._observer:
            self._observer.model_call(time.monotonic() - started)
        answer = redact(reply.text, values)
        text = strip_thinking(answer) if values.strip_thinking else answer.strip()
        log.info(
            "answered user %s in %.1f s (%d chars%s)",
            job.person,
            time.monotonic() - started,
            len(text),
            f", cut: {reply.cut}" if reply.cut else "",
        )
        if not text:
            return i18n.t(job.lang, "empty_answer")
        if reply.cut:
            text = f"{text}\n\n{cut_note(job.lang, reply.cut, values)}"
        if replace_last:
            self._store.pop_last_exchange(job.conversation)
        exchange = {
            "user": question,
            "assistant": text,
            "at": self._clock(),
            "job": job.id,
            "uid": job.person,
        }
        self._store.append_exchange(job.conversation, {**exchange, "name": job.username})
        if not meta.get("platform"):  # a new conversation: say what it is, once
            self._store.update_conversation_meta(job.conversation, **conversations.meta_of(job))
        prompt = reply.prompt_tokens if reply.prompt_tokens is not None else estimate_tokens(question_sent)
        completion = (
            reply.completion_tokens if reply.completion_tokens is not None else estimate_tokens(reply.text)
        )
        self._store.add_usage(job.person, self._today(), prompt, completion)
        if job.username:  # for the dashboard's chart; written only when it changes
            self._store.update_user(job.person, username=job.username)
        return text

    def _over_quota(self, job: Job, values: Values) -> str:
        """The reason a question may not go to the model: a used-up token quota. Admins have none."""
        if limits.role(values, job.person, job.username) == limits.ADMIN:
            return ""
        daily, monthly = limits.quotas(values, self._store.user(job.person))
        if not daily and not monthly:
            return ""
        now = datetime.datetime.fromtimestamp(self._clock())
        hit = limits.quota_hit(self._store.usage(job.person), now, daily, monthly)
        if hit is None or hit.resets is None:
            return ""
        log.info("user %s is over the %s token quota (%d)", job.person, hit.which, hit.limit)
        return i18n.limit(job.lang, hit.which, hit.limit, resets=hit.resets, now=now)

    def _complete_within_context(
        self,
        values: Values,
        *,
        persona: str,
        history: Sequence[dict[str, Any]],
        question: str,
        budget: int,
        named: bool,
        on_text: OnText | None = None,
        stop: Stop | None = None,
    ) -> tuple[Reply, str]:
        """Ask the model; when it says the context is too long (the server's window is smaller
        than context_tokens), keep only the newer half of the history and ask again, down to
        none at all, rather than fail. Halving bounds this to a handful of quick calls."""
        model = self._model(values)
        while True:
            messages, dropped = build_messages(persona, history, question, budget, named)
            try:
                return model.complete(messages, on_text, stop), "\n".join(m["content"] for m in messages)
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
            "deadline": "err_deadline",
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
            took=took(lang, float(values.answer_timeout)),
        )

    def _today(self) -> str:
        return datetime.datetime.fromtimestamp(self._clock()).date().isoformat()


def redact(text: str, values: Values | Sequence[str]) -> str:
    """A server's error text, or a model's answer, with any current secret (a key echoed back,
    say) masked. Takes the settings or their secrets."""
    for secret in values.secrets() if isinstance(values, Values) else values:
        text = text.replace(secret, "***")
    return text


class SecretMask:
    """Masks secrets in an answer streamed piece by piece. A secret can be split across pieces,
    so an end of the text that could begin a secret is held back until more text comes or end()
    says the answer is over. Only such an end, usually nothing: holding a fixed tail as long as
    the longest secret (a password hash) would make the stream stutter."""

    def __init__(self, secrets: Sequence[str], on_text: OnText) -> None:
        self._secrets = [s for s in secrets if s]
        self._on_text = on_text
        self._pending = ""

    def add(self, piece: str) -> None:
        text = redact(self._pending + piece, self._secrets)
        keep = max((_begun(text, secret) for secret in self._secrets), default=0)
        self._pending = text[len(text) - keep :]
        if len(text) > keep:
            self._on_text(text[: len(text) - keep])

    def end(self) -> None:
        if self._pending:
            self._on_text(self._pending)
            self._pending = ""


def _begun(text: str, secret: str) -> int:
    """The length of the longest end of `text` that is a beginning of `secret` (0: none)."""
    for length in range(min(len(secret) - 1, len(text)), 0, -1):
        if text.endswith(secret[:length]):
            return length
    return 0


def took(lang: str, seconds: float) -> str:
    """'45 seconds' / '20 min': how long an answer may take, in the user's words."""
    if seconds < 120:
        return i18n.t(lang, "answer_seconds", seconds=round(seconds))
    return i18n.duration(lang, seconds)


def cut_note(lang: str, cut: str, values: Values) -> str:
    """The plain-language note after an answer the bounds ended early."""
    if cut == CUT_TIME:
        return i18n.t(lang, "answer_cut_time", took=took(lang, float(values.answer_timeout)))
    return i18n.t(lang, "answer_cut_length", limit=f"{int(values.max_answer_chars):,}")


class Sender(Protocol):
    def send(
        self,
        url: str,
        text: str,
        *,
        user_id: int | None = None,
        verify: bool | str = True,
        start: int = 0,
        on_sent: Callable[[int], None] | None = None,
        file_url: str = "",
    ) -> int: ...


class Echoes(Protocol):
    def remember(self, channel: str, texts: Sequence[str]) -> None: ...


class ChatDelivery:
    """Posts an answer: to the person through the bot's incoming URL, or into the channel the
    question came from through that channel's incoming webhook, naming the asker. Progress is
    recorded on the job, so a restart resumes after the last chunk that went out. When Chat
    cannot be reached it raises worker.RetryLater, for delivery_retry_hours, then gives up."""

    def __init__(
        self,
        sender: Sender,
        store: History,
        on_error: Callable[[str, str], None] | None = None,
        echoes: Echoes | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sender = sender
        self._store = store
        self._on_error = on_error
        self._echoes = echoes
        self._clock = clock

    def __call__(self, job: Job, text: str, values: Values) -> None:
        user_id: int | None = int(people.local(job.person))
        if job.channel:
            channel = next((c for c in values.channels if c.name == job.channel), None)
            if channel is None:
                self._fail(job, "config", f"the channel {job.channel} is no longer configured")
                return
            url, user_id = channel.incoming_url, None
            text = f"@{job.username or job.person}\n{text}"
            if self._echoes:  # before posting: Chat may hand our own post back at once
                self._echoes.remember(channel.name, split(text))
        else:
            url = values.bot_incoming_url
            if not url:
                self._fail(job, "config", "bot_incoming_url is not set, so the answer cannot be posted")
                return
        verify: bool | str = values.ca_bundle or bool(values.tls_verify)
        try:
            self._post_all(job, url, text, user_id, verify)
        except ChatError as exc:  # its text never holds the URL or the token
            if exc.kind not in TRANSIENT:
                self._fail(job, exc.kind, str(exc))
                return
            hours = float(values.delivery_retry_hours)
            if job.failing_since and self._clock() - job.failing_since >= hours * 3600:
                self._fail(job, exc.kind, f"given up after trying for {hours:g} h: {exc}")
                return
            raise RetryLater(exc.kind, str(exc)) from None

    def _post_all(self, job: Job, url: str, text: str, user_id: int | None, verify: bool | str) -> None:
        def progress(count: int) -> None:
            job.sent = count  # first: a failed write below is retried from the right chunk
            job.attempts, job.failing_since = 0, 0.0  # the retry deadline counts from progress
            self._store.update_job(job.id, sent=count, attempts=0, failing_since=0.0)

        total = len(split(text))
        if not job.posting:
            # A stop from here on may leave a post half done: the restart says so.
            job.posting = True
            self._store.update_job(job.id, posting=True)
        if job.interrupted and job.sent < total:
            # Part of the answer went out before the restart, and the chunk in flight then may
            # have arrived: say so, rather than silently sending it a second time or not at all.
            self._post_once(job, url, i18n.t(job.lang, "resent"), user_id, verify)
            job.interrupted = False
        while job.sent < total:
            try:
                try:
                    self._sender.send(
                        url,
                        text,
                        user_id=user_id,
                        verify=verify,
                        start=job.sent,
                        on_sent=progress,
                        file_url=job.file,
                    )
                except ChatError as exc:
                    if exc.kind != "file":
                        raise
                    # Chat could not download the file (it cannot reach us at that address): the
                    # text still goes, with a word on why nothing is attached.
                    log.warning("Chat could not fetch the file for user %s: %s", job.person, exc)
                    note = f"{text}\n\n{i18n.t(job.lang, 'file_not_fetched')}"
                    self._sender.send(
                        url, note, user_id=user_id, verify=verify, start=job.sent, on_sent=progress
                    )
                return
            except ChatError as exc:
                if exc.kind != "timeout":
                    raise
                # The chunk may have reached Chat (DSM can be slow to answer a post it made):
                # it counts as sent rather than going out twice, and the rest follows.
                self._report(job, exc.kind, str(exc))
                progress(job.sent + 1)

    def _post_once(self, job: Job, url: str, text: str, user_id: int | None, verify: bool | str) -> None:
        try:
            self._sender.send(url, text, user_id=user_id, verify=verify)
        except ChatError as exc:
            if exc.kind != "timeout":
                raise
            self._report(job, exc.kind, str(exc))

    def _fail(self, job: Job, kind: str, message: str) -> None:
        log.error("could not deliver the answer to user %s: %s", job.person, message)
        if self._on_error:
            self._on_error(kind, message)

    def _report(self, job: Job, kind: str, message: str) -> None:
        log.error("a post to user %s may not have arrived: %s", job.person, message)
        if self._on_error:
            self._on_error(kind, message)


# Failures that pass by themselves: the NAS rebooting or updating, Chat restarting (connection
# refused or reset, HTTP 5xx), or Chat's rate limit. Any other refusal is definite.
TRANSIENT = frozenset({"unreachable", "too_fast"})
