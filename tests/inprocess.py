"""The in-process test layer: the real core (gate, bot, commands, limits, store, worker) and
the fake model server, with an in-memory platform in place of a chat platform's HTTP. It is
what a new platform's folder plugs into, seen from the core's side; the end-to-end suite
drives the same core over real HTTP. No mocks: only the platform's wire is left out."""

from __future__ import annotations

import dataclasses
import threading
import time
from pathlib import Path
from typing import Any

from app import bot as answering
from app import gate, people, settings, store, text, worker
from app.llm import ModelFactory, OpenAIModel
from app.monitor import Monitor
from app.platforms.base import Attachment, Limits, Message, Outcome, Pacing
from app.platforms.registry import Deliveries
from app.settings import Values
from app.worker import Job

NAME = "memory"


class MemoryPlatform:
    """A platform whose posts are a list: small posts, so splitting shows; files allowed."""

    name = NAME
    label = "Memory"
    limits = Limits(chars=120, interval=0.0, markdown=True, attachments=True)
    guest_notice = "refused_guest"

    def __init__(self) -> None:
        self.posts: list[tuple[str, str]] = []  # (the person or channel, the text)
        self.files: list[Attachment] = []
        self.notices: list[tuple[str, str]] = []
        self._changed = threading.Condition()

    def route(self, app: Any, wiring: Any) -> None:
        """Nothing arrives over HTTP: tests hand messages to the gate."""

    def pictures(self, job: Job, values: Values) -> list[Attachment]:  # in-memory messages carry none
        return []

    def start(self) -> None:  # nothing runs beside it
        pass

    def stop(self) -> None:
        pass

    def configured(self, values: Values) -> bool:
        return True

    def deliver(self, job: Job, reply: str, values: Values) -> None:
        with self._changed:
            parts = text.split_sections(reply, job.cuts, self.limits.chars)
            for part in parts[job.sent :]:
                self.posts.append((job.channel or job.person, part))
            job.sent = len(parts)
            self.files.extend(Attachment.from_dict(a) for a in job.attachments)
            self._changed.notify_all()

    def pacing(self, values: Values) -> Pacing:
        return dataclasses.replace(Pacing.read(values), merge=0.3, silence=1.0)  # quick tests

    def notice(self, job: Job, reply: str, values: Values) -> None:
        with self._changed:
            self.notices.append((job.channel or job.person, reply))
            self._changed.notify_all()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[tuple[str, str]]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.posts) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} posts, got {self.posts}")
                self._changed.wait(left)
            return list(self.posts)


class Core:
    """The core wired as __main__.build wires it, around one MemoryPlatform."""

    def __init__(self, folder: Path, model_url: str, api_key: str, **values: Any) -> None:
        self.store = store.Store(folder)
        self.store.save_settings(
            settings.storable(
                {
                    "openai_base_url": model_url,
                    "openai_api_key": api_key,
                    "model": "fake-model",
                    "request_timeout": 5,
                    "max_retries": 1,
                    **values,
                }
            )
        )
        self.platform = MemoryPlatform()
        self.monitor = Monitor()
        models = ModelFactory(lambda cfg: OpenAIModel(cfg, backoff=0.05))
        self.bot = answering.Bot(
            self.store,
            self.values,
            lambda v: models.get(answering.model_config(v)),
            deliveries := Deliveries([self.platform]),
            save=lambda changes: self.store.save_settings(settings.storable(changes)),
            observer=self.monitor,
            outlet=deliveries,
        )
        self.gate = gate.Gate(self.bot)
        self.queue = self._dispatcher()
        self.queue.start()

    def _dispatcher(self) -> worker.Dispatcher:
        return worker.Dispatcher(self.store, self.bot.handle, workers=2, problems=self.monitor)

    def restart_queue(self) -> int:
        """What a restart does with the jobs left stored: a new queue resumes them."""
        self.queue.stop(2.0)
        self.queue = self._dispatcher()
        return self.queue.start()

    def values(self) -> Values:
        return settings.resolve(self.store.settings(), {})

    def set(self, **values: Any) -> None:
        self.store.save_settings(settings.storable(values))

    def message(self, local: str, text: str, **fields: Any) -> Message:
        person = people.of(NAME, local)
        fields.setdefault("conversation", f"{NAME}-{local}")
        return Message(person=person, username=local, text=text, **fields)

    def say(self, local: str, question: str, **fields: Any) -> Outcome:
        """What a platform's inbound route does: the gate decides, an accepted job is queued."""
        outcome = self.gate.receive(self.message(local, question, **fields), self.values())
        if outcome.job is not None:
            assert self.queue.accept(outcome.job) == worker.ACCEPTED
        return outcome

    def idle(self, timeout: float = 10.0) -> None:
        assert self.queue.wait_idle(timeout), "the queue did not empty"

    def close(self) -> None:
        self.queue.stop(2.0)
