"""The seam between the bot and the chat platforms it answers on. The core (bot, commands,
gate, limits, store, worker, llm) knows a platform only through what is here; everything a
platform knows (its wire format, tokens and signatures, "is this for me", its HTTP answers,
its limits, how a reply and a file reach a person, its settings and live check) stays in its
own folder, app/platforms/<name>/. ARCHITECTURE.md says how to add one.

A platform turns what arrives into a Message (or refuses it itself: a wrong token, an echo of
the bot's own post, a message not addressed to it), hands it to the gate, shapes the gate's
Outcome into its own HTTP answer, and later delivers the job's reply."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # for annotations only: the seam must not import the core at run time
    import bottle

    from app.settings import Values
    from app.worker import Job


@dataclasses.dataclass(frozen=True)
class Limits:
    """What a platform takes in one post, as data: its delivery splits (text.split_message) and
    paces by it, and the contract test holds it to them."""

    chars: int  # per post, in UTF-16 units (text.size): the strictest way any platform counts
    interval: float  # seconds between two posts to one place
    markdown: bool  # whether Markdown is shown as such; otherwise plain text is sent
    attachments: bool  # whether a file can go with a reply


@dataclasses.dataclass(frozen=True)
class Pacing:
    """How a platform that cannot stream shows an answer while the model writes it (partial.py),
    as data each platform reads from its settings: QQ's spam control wants fewer, larger parts."""

    parts: bool  # post finished parts before the answer is done (partial_replies)
    min_chars: int  # the smallest part posted before the answer is done
    notice_after: float  # seconds with no part before the one "thinking…" notice; 0: none
    merge: float = 1.5  # seconds a ready part waits, so paragraphs that come quickly go together
    silence: float = 60.0  # seconds the model may say nothing before the second notice

    @classmethod
    def read(
        cls,
        values: Values,
        *,
        min_chars: str = "min_part_chars",
        notice_after: str = "thinking_notice_seconds",
    ) -> Pacing:
        """From the settings: the core's, or the names of a platform's own two (QQ's)."""
        return cls(
            parts=bool(values.partial_replies),
            min_chars=int(getattr(values, min_chars)),
            notice_after=float(getattr(values, notice_after)),
        )


@dataclasses.dataclass(frozen=True)
class Message:
    """One message for the bot, in the core's terms. The platform has verified it came from
    the platform and decided it is addressed to the bot."""

    person: str  # people.py: "synology:4"
    username: str  # shown to the model in shared conversations; names a person on lists only
    # where the platform's names are accounts (people.VERIFIED_NAMES)
    text: str  # without the trigger word or @-mention that addressed the bot
    conversation: str  # the store's key, built by the platform: safe characters only
    shared: bool = False  # a channel's or group's one conversation for everyone in it
    channel: str = ""  # where in the platform answers go; "" means to the person
    dedupe: str = ""  # the platform's id of the post, so a re-delivery is answered once
    slash: bool = False  # its sender sees only the immediate answer (a slash command)
    can_post_later: bool = True  # False: the only answer possible is the immediate one
    base_url: str = ""  # how the platform reached this server (for files it fetches)
    # Where the platform's answer goes, in its own terms, kept on the job for its delivery and
    # opaque to the core (DingTalk: the message's reply link and when it expires).
    route: dict[str, str] = dataclasses.field(default_factory=dict)
    # Pictures sent with the message, as the platform can fetch them later (its links or
    # codes, opaque to the core); the worker asks the platform for their bytes (pictures()).
    pictures: tuple[dict[str, str], ...] = ()


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What the gate decided: the platform turns it into its own HTTP answer."""

    reason: str  # for the settings page's list of recent messages
    text: str = ""  # an answer to give at once ("" for none)
    job: Job | None = None  # to store, acknowledge and answer later
    accepted_text: str = ""  # the immediate answer once the job is stored (a slash command's)
    lang: str = "en"  # for an answer the platform adds itself (the queue is full)


@dataclasses.dataclass(frozen=True)
class Attachment:
    """A file going with a reply, whatever the platform: each platform decides how it reaches
    the person (Synology Chat downloads it from a file_url this server offers)."""

    name: str
    mime: str
    content: bytes

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "mime": self.mime, "content": base64.b64encode(self.content).decode()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Attachment:
        return cls(str(data["name"]), str(data["mime"]), base64.b64decode(str(data["content"])))


class PictureError(Exception):
    """A picture someone sent that cannot be read: kind gone (its link expired), too_big,
    not_image, unreachable. The text never holds the link."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(detail or kind)
        self.kind = kind


class Receiver(Protocol):
    """The gate, as a platform's inbound route sees it."""

    def receive(
        self, message: Message, values: Values, *, guest_notice: str = "refused_guest"
    ) -> Outcome: ...


class Accepting(Protocol):
    """The queue, as a platform's inbound route sees it: worker.ACCEPTED, BUSY or DUPLICATE."""

    def accept(self, job: Job) -> str: ...


@dataclasses.dataclass(frozen=True)
class Wiring:
    """What the app gives a platform to install its routes: no globals."""

    settings: Callable[[], Values]
    gate: Receiver
    queue: Accepting
    record: Callable[..., None]  # monitor.Monitor.webhook: the settings page's list
    client_address: Callable[[], str]


class Platform(Protocol):
    """One chat platform. Registered in app/platforms/registry.py."""

    name: str  # the people.py prefix and the settings section: "synology"
    label: str  # "Synology Chat", for the settings page and logs
    limits: Limits
    guest_notice: str  # the i18n key telling a guest how the admin can let them in

    def route(self, app: bottle.Bottle, wiring: Wiring) -> None:
        """Install its inbound routes (webhooks, file downloads) on the shared server."""

    def deliver(self, job: Job, text: str, values: Values) -> None:
        """Post a job's reply (and job.attachments), resuming after job.sent posts. The reply is
        cut first at job.cuts (text.sections), where parts already went out while the model
        wrote, so `text` may also be the beginning of an answer, up to its last cut. Raises
        worker.RetryLater while the platform cannot be reached; reports definite failures."""

    def pacing(self, values: Values) -> Pacing:
        """How it shows an answer the model is still writing: parts, and the notice."""

    def notice(self, job: Job, text: str, values: Values) -> None:
        """Post a short note that is not part of the answer ("thinking…") where the answer will
        go: once, not retried, not counted in job.sent; a failure is only logged."""

    def configured(self, values: Values) -> bool:
        """Whether the owner has set it up, so its routes answer and the page shows it so."""

    def pictures(self, job: Job, values: Values) -> list[Attachment]:
        """The pictures sent with the job's message (job.pictures), fetched now; raises
        PictureError. A platform that hands no pictures to bots returns []."""

    def start(self) -> None:
        """Begin what runs beside its routes (DingTalk's Stream connection), once the server
        serves; most platforms have nothing."""

    def stop(self) -> None:
        """End that, within a few seconds, before the server stops."""
