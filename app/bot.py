"""What the bot does with a message: commands, the conversation history within a token budget,
the model call, and what the user is told. No HTTP and no database details here."""

from __future__ import annotations

import base64
import datetime
import logging
import re
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from app import conversations, i18n, images, limits, partial
from app.commands import IMMEDIATE, ORDERED, Commands, History, command_of
from app.drawing import Drawing
from app.images import ImageConfig, Picture
from app.llm import (
    CUT_TIME,
    Model,
    ModelConfig,
    ModelError,
    OnText,
    Reply,
    Stop,
    is_configured,
    lone_close,
    strip_thinking,
)
from app.platforms.base import Attachment, Message, Pacing, PictureError
from app.settings import Values, redact
from app.text import closed
from app.worker import Job

log = logging.getLogger(__name__)
__all__ = ["Bot", "History", "build_messages", "command_of", "estimate_tokens", "redact"]


class Observer(Protocol):
    """Where the dashboard learns about model calls (monitor.Monitor)."""

    def model_call(self, seconds: float) -> None: ...
    def error(self, source: str, kind: str, message: str) -> None: ...


class Deliver(Protocol):
    def __call__(self, job: Job, text: str, values: Values) -> None: ...


class Outlet(Protocol):
    """How the job's platform shows an answer still being written (registry.Deliveries)."""

    def pacing(self, job: Job, values: Values) -> Pacing | None: ...
    def notice(self, job: Job, text: str, values: Values) -> None: ...


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
        if exchange.get("pictures"):  # the model saw them then; now only that they were sent
            asked += f"\n[{exchange['pictures']} picture(s) sent]"
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
        clock: Callable[[], float] = time.time,
        observer: Observer | None = None,
        draw: Callable[[ImageConfig, str], Picture] = images.draw,
        pictures: Callable[[Job, Values], list[Attachment]] | None = None,
        outlet: Outlet | None = None,
        models: Callable[[Values], list[str]] | None = None,
    ) -> None:
        self._pictures = pictures
        self._outlet = outlet
        # Models seen writing reasoning with only its closing tag: their parts wait for that tag.
        self._closes_only: set[tuple[str, str]] = set()
        self._observer = observer
        self._store = store
        self._settings = settings
        self._model = model
        self._deliver = deliver
        self._clock = clock
        self.drawing = Drawing(store, deliver, draw=draw, clock=clock, problems=observer)
        self.commands = Commands(
            store, save or (lambda changes: None), self.ask, clock, draw=self.drawing, models=models
        )

    # -- accepting ---------------------------------------------------------------------------

    def job_for(self, message: Message, text: str) -> Job:
        """Turn an accepted message into a job, choosing its lane: commands that answer at once
        do not wait behind a question the model is still answering."""
        conversation = message.conversation
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
            person=message.person,
            username=message.username,
            text=text,
            kind=kind,
            dedupe=message.dedupe,
            channel=message.channel,
            shared=message.shared,
            base_url=message.base_url,
            route=dict(message.route),
            pictures=[dict(p) for p in message.pictures],
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
            answer = self._answer(job, values)  # first: it sets job.partial as parts go out
            job.reply = shown_first(job.partial, answer)
            self._store.update_job(job.id, reply=job.reply, attachments=job.attachments, lang=job.lang)
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
        if job.pictures:
            return self._read_pictures(job, values)
        if not job.text.strip():
            return i18n.t(job.lang, "no_text")
        return self.ask(job, job.text, values)

    def _read_pictures(self, job: Job, values: Values) -> str:
        """A question about pictures someone sent: fetched now (the platform's links expire),
        given to the model as data: URLs. A picture sent alone is described."""
        try:
            found = self._pictures(job, values) if self._pictures else []
        except PictureError as exc:
            log.info("could not fetch a picture from %s: %s", job.person, exc)
            return i18n.t(job.lang, f"picture_{exc.kind}")
        if sum(len(p.content) for p in found) > images.MAX_READ * 2:  # several big ones at once
            return i18n.t(job.lang, "picture_too_big")
        question = job.text.strip() or i18n.t(job.lang, "describe_picture")
        urls = []
        while found:  # each picture's bytes let go as soon as its data: URL exists
            urls.append(data_url(found.pop(0)))
        return self.ask(job, question, values, pictures=urls)

    def ask(
        self,
        job: Job,
        question: str,
        values: Values,
        replace_last: bool = False,
        *,
        on_text: OnText | None = None,
        stop: Stop | None = None,
        pictures: Sequence[str] = (),
    ) -> str:
        """Ask the model and record the exchange. With replace_last (/retry) the previous
        exchange is left out of the context and replaced only once a new answer exists. The web
        chat calls this directly, with on_text to stream the answer and stop to end it early.
        pictures: data: URLs of the pictures the question is about. For a job a platform posts
        later, parts of the answer are posted while the model writes (partial.py); after a
        restart cut that short, the model continues what was shown (job.partial)."""
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
        # A job a platform posts later (the web chat streams its own): parts while the model
        # writes, and what was shown before a restart is continued rather than asked again.
        begun, stream = ("", None) if on_text else (job.partial, self._stream(job, values))
        on_text = stream.add if stream else on_text
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
                pictures=pictures,
                begun=begun,
            )
        except ModelError as exc:
            log.warning("model error for user %s after %d attempt(s): %s", job.person, exc.attempts, exc)
            if self._observer:
                self._observer.error("model", exc.kind, redact(exc.detail, values))
            if pictures and _refuses_pictures(exc):
                return i18n.t(job.lang, "err_vision", model=values.model)
            return self._explain(exc, job.lang, values)
        finally:
            if masked:
                masked.end()
            if stream:
                stream.close()
        if self._observer:
            self._observer.model_call(time.monotonic() - started)
        text = begun + self._shown_text(redact(reply.text, values), values)  # begun: continued
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
            # Cut inside a code block: closed, or the note would read as code.
            text = f"{closed(text)}\n\n{cut_note(job.lang, reply.cut, values)}"
        if replace_last:
            self._store.pop_last_exchange(job.conversation)
        exchange = {
            "user": question,
            "assistant": text,
            "at": self._clock(),
            "job": job.id,
            "uid": job.person,
            **({"pictures": len(pictures)} if pictures else {}),  # a note, never the bytes
            # Stopped by its reader (the web chat's Stop, a closed page): shown so when read again.
            **({"stopped": True} if stop is not None and stop.is_set() else {}),
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

    def _shown_text(self, answer: str, values: Values) -> str:
        """The answer without its reasoning; a model seen opening none is remembered (partial.py)."""
        if not values.strip_thinking:
            return answer.strip()
        if lone_close(answer):
            self._closes_only.add((values.openai_base_url, values.model))
        return strip_thinking(answer)

    def _stream(self, job: Job, values: Values) -> partial.Stream | None:
        """Parts and notices for an answer its platform posts later, as the platform paces them."""
        pacing = self._outlet.pacing(job, values) if self._outlet else None
        if self._outlet is None or pacing is None or not (pacing.parts or pacing.notice_after > 0):
            return None
        return partial.Stream(
            job,
            values,
            pacing,
            post=self._deliver,
            notice=self._outlet.notice,
            store=self._store,
            closes_only=(values.openai_base_url, values.model) in self._closes_only,
        ).start()

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
        pictures: Sequence[str] = (),
        begun: str = "",
    ) -> tuple[Reply, str]:
        """Ask the model; when it says the context is too long (the server's window is smaller
        than context_tokens), keep only the newer half of the history and ask again, down to
        none at all, rather than fail. Halving bounds this to a handful of quick calls."""
        model = self._model(values)
        while True:
            messages, dropped = build_messages(persona, history, question, budget, named)
            if begun:  # what was shown before a restart, to be continued
                messages += [
                    {"role": "assistant", "content": begun.rstrip()},
                    {"role": "user", "content": partial.CONTINUE},
                ]
            sent = "\n".join(m["content"] for m in messages)
            try:
                return model.complete(with_pictures(messages, pictures), on_text, stop), sent
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
            "not_https": "err_not_https",
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


def shown_first(shown: str, reply: str) -> str:
    """The reply as it is posted: it must begin with the parts already shown (job.partial), the
    answer's own beginning unless the model failed after them, or what it wrote had to change
    (reasoning that came without its opening tag); then the reply follows what was shown."""
    if not shown or reply.startswith(shown.rstrip()):
        return reply
    return f"{shown.rstrip()}\n\n{reply}"


def data_url(picture: Attachment) -> str:
    return f"data:{picture.mime};base64,{base64.b64encode(picture.content).decode()}"


def with_pictures(messages: list[dict[str, str]], pictures: Sequence[str]) -> list[dict[str, Any]]:
    """The question as OpenAI's vision format has it: its words, then each picture."""
    if not pictures:
        return list(messages)
    parts: list[dict[str, Any]] = [{"type": "text", "text": messages[-1]["content"]}]
    parts += [{"type": "image_url", "image_url": {"url": url}} for url in pictures]
    return [*messages[:-1], {"role": "user", "content": parts}]


# What servers say when the model takes no pictures (OpenAI, llama.cpp without --mmproj, vLLM,
# Ollama); bad_request, server or bad_response are the kinds these come as.
_NO_VISION = re.compile(r"image|vision|mmproj|multimodal|multi-modal", re.IGNORECASE)


def _refuses_pictures(exc: ModelError) -> bool:
    return exc.kind in ("bad_request", "server", "bad_response", "not_found") and bool(
        _NO_VISION.search(exc.detail)
    )


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
