"""What /image does (and img:, 图片：, the web chat's Draw): the daily picture limit, a short
"drawing…" note first where the platform shows no progress, the picture from the image server
(images.py), and the picture handed on as the job's attachment, which each platform delivers its
own way. A failure that passes (the server busy or away) is tried again by the queue, at most
TRIES times in all, since every call is billed; any other is one plain sentence. The history
keeps the description and a note that a picture was drawn, never the picture."""

from __future__ import annotations

import dataclasses
import datetime
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from app import conversations, i18n, images, limits
from app.images import ImageConfig, ImageError, Picture
from app.platforms.base import Attachment
from app.settings import Values, redact
from app.worker import Job, RetryLater

log = logging.getLogger(__name__)

TRIES = 3  # calls for one picture at most, the first included


class Store(Protocol):
    def usage(self, person: str) -> list[dict[str, Any]]: ...
    def add_image(self, person: str, day: str) -> None: ...
    def append_exchange(self, key: str, exchange: dict[str, Any]) -> None: ...
    def conversation_meta(self, key: str) -> dict[str, Any]: ...
    def update_conversation_meta(self, key: str, **fields: Any) -> None: ...


class Problems(Protocol):
    def error(self, source: str, kind: str, message: str) -> None: ...


def image_config(values: Values) -> ImageConfig:
    """The image server: its own, or the chat model's. The chat model's key goes only to the
    chat model's server, never to another one named in image_base_url."""
    own = bool(values.image_base_url)
    return ImageConfig(
        base_url=values.image_base_url or values.openai_base_url,
        api_key=values.image_api_key or ("" if own else values.openai_api_key),
        model=values.image_model,
        size=values.image_size,
        quality=values.image_quality,
        proxy=values.proxy,
    )


class Drawing:
    def __init__(
        self,
        store: Store,
        deliver: Callable[[Job, str, Values], None],
        *,
        draw: Callable[[ImageConfig, str], Picture] = images.draw,
        clock: Callable[[], float] = time.time,
        problems: Problems | None = None,
    ) -> None:
        self._store = store
        self._deliver = deliver
        self._draw = draw
        self._clock = clock
        self._problems = problems

    def __call__(self, job: Job, prompt: str, values: Values, *, queued: bool = True) -> str:
        """The reply to a request for a picture; the picture itself, when there is one, is in
        job.attachments. queued: run by the queue (a note first, transient failures retried);
        False for the web chat, which shows its own progress and has no queue."""
        lang = job.lang
        if len(prompt) > images.MAX_PROMPT:
            return i18n.t(lang, "image_long", max=images.MAX_PROMPT)
        config = image_config(values)
        if not (config.base_url and config.model):
            return i18n.t(lang, "image_not_configured")
        today = datetime.date.fromtimestamp(self._clock())
        limit = int(values.daily_images)
        exempt = limits.role(values, job.person, job.username) == limits.ADMIN
        if limit and not exempt and limits.images_on(self._store.usage(job.person), today) >= limit:
            return i18n.t(lang, "image_limit", limit=limit)
        if queued and job.attempts == 0:
            self._note(job, i18n.t(lang, "drawing"), values)
        started = time.monotonic()
        try:
            picture = self._draw(config, prompt)
        except ImageError as exc:
            detail = redact(str(exc), values)
            if queued and exc.transient and job.attempts + 1 < TRIES:
                raise RetryLater(f"image_{exc.kind}", detail) from None
            log.warning("could not draw for %s: %s", job.person, detail)
            if self._problems:
                self._problems.error("image", exc.kind, detail)
            return explain(exc, lang, config.model, values)
        log.info(
            "drew a picture for %s in %.1f s (%d bytes)",
            job.person,
            time.monotonic() - started,
            len(picture.content),
        )
        self._store.add_image(job.person, today.isoformat())
        now = datetime.datetime.fromtimestamp(self._clock())
        name = f"picture-{now:%Y%m%d-%H%M%S}-{now.microsecond // 1000:03d}.{picture.extension}"
        job.attachments = [Attachment(name, picture.mime, picture.content).to_dict()]
        self._remember(job, prompt, name)
        return i18n.t(lang, "image_done")

    def _note(self, job: Job, text: str, values: Values) -> None:
        """A note before the picture, posted like an answer of its own: the job's progress is
        not touched, and a note that cannot be posted now is not worth a retry."""
        note = dataclasses.replace(
            job, id=uuid.uuid4().hex, sent=0, posting=False, post_size=0, attachments=[], interrupted=False
        )
        try:
            self._deliver(note, text, values)
        except RetryLater as exc:
            log.info("the drawing note for %s was not posted: %s", job.person, exc)

    def _remember(self, job: Job, prompt: str, name: str) -> None:
        exchange = {
            "user": prompt,
            "assistant": i18n.t(job.lang, "drawn_note"),
            "at": self._clock(),
            "job": job.id,
            "uid": job.person,
            "name": job.username,
            "image": name,
        }
        self._store.append_exchange(job.conversation, exchange)
        if not self._store.conversation_meta(job.conversation).get("platform"):
            self._store.update_conversation_meta(job.conversation, **conversations.meta_of(job))


def explain(exc: ImageError, lang: str, model: str, values: Values) -> str:
    if exc.kind == "refused":
        return i18n.t(lang, "image_refused")
    if exc.kind == "no_model":
        return i18n.t(lang, "image_no_model", model=model)
    reason = i18n.t(lang, f"image_why_{exc.kind}") if i18n.has(f"image_why_{exc.kind}") else exc.kind
    if exc.kind in ("bad_request", "bad_answer") and exc.detail:
        reason = f"{reason} ({redact(exc.detail, values)[:200]})"
    return i18n.t(lang, "image_failed", reason=reason)
