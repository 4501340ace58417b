"""The Synology Chat integrations one server answers: the bot, any number of channels (an
outgoing webhook plus that channel's incoming webhook) and slash commands. Chat sends them all
to the same /webhook; the token says which one spoke. Pure: no I/O."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

from app.declare import split_list

CONTEXTS = ("shared", "per_user")
MAX_CHANNELS = 50
MAX_TRIGGERS = 20


class Problem(ValueError):
    """Why a channel list is refused: a key of settings.PROBLEMS (ours are in this folder's
    settings.py), and its parameters; `row` (from 1) and `field` say where, for the page to
    mark that one field."""

    def __init__(self, key: str, **params: str) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


@dataclasses.dataclass(frozen=True)
class Channel:
    name: str
    outgoing_token: str
    incoming_url: str
    context: str = "shared"  # one conversation for the channel, or one per user in it
    triggers: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "triggers": list(self.triggers)}

    def conversation(self, user_id: int) -> str:
        """The store's key: safe characters only, whatever the channel is called."""
        slug = hashlib.sha256(self.name.encode()).hexdigest()[:16]
        return f"ch-{slug}-u{user_id}" if self.context == "per_user" else f"ch-{slug}"


@dataclasses.dataclass(frozen=True)
class Integration:
    kind: str  # bot, channel, slash
    channel: Channel | None = None


def parse_channels(raw: Any) -> tuple[Channel, ...]:
    """A list of channel objects, from JSON text (the environment) or stored data."""
    if isinstance(raw, str):
        if not raw.strip():
            return ()
        try:
            raw = json.loads(raw)
        except ValueError:
            raise Problem("ch_json") from None
    if isinstance(raw, tuple):
        raw = list(raw)
    if not isinstance(raw, list):
        raise Problem("ch_json")
    if len(raw) > MAX_CHANNELS:
        raise Problem("ch_count", max=str(MAX_CHANNELS))
    channels = [_channel(item, number) for number, item in enumerate(raw, start=1)]
    for kind, key, field in (("name", "ch_same_name", "name"), ("outgoing_token", "ch_same_token", "token")):
        seen: set[str] = set()
        for number, channel in enumerate(channels, start=1):
            value = getattr(channel, kind).casefold()
            if value in seen:
                raise Problem(key, name=channel.name, row=str(number), field=field)
            seen.add(value)
    return tuple(channels)


def _channel(item: Any, number: int) -> Channel:
    if isinstance(item, Channel):
        return item
    if not isinstance(item, dict):
        raise Problem("ch_json")
    at = str(number)
    name = _string(item.get("name"))
    if not name:
        raise Problem("ch_name", n=at, row=at, field="name")
    if len(name) > 64:
        raise Problem("ch_name_long", name=name[:64], row=at, field="name")
    token = _string(item.get("outgoing_token")).strip('"')
    if not token:
        raise Problem("ch_token", name=name, row=at, field="token")
    url = _string(item.get("incoming_url"))
    if not _is_incoming_url(url):
        # The bot's own URL pasted here is the common mistake: said as such.
        bot_url = parse_qs(urlsplit(url).query).get("method", [""])[0] == "chatbot"
        raise Problem("ch_url_bot" if bot_url else "ch_url", name=name, row=at, field="url")
    context = _string(item.get("context")) or "shared"
    if context not in CONTEXTS:
        raise Problem("ch_context", name=name, row=at, field="context")
    triggers = item.get("triggers") or []
    if isinstance(triggers, str):
        triggers = split_list(triggers)
    if not isinstance(triggers, list | tuple) or not all(isinstance(t, str) for t in triggers):
        raise Problem("ch_triggers", name=name, row=at, field="triggers")
    words = tuple(dict.fromkeys(t.strip() for t in triggers if t.strip()))
    if len(words) > MAX_TRIGGERS or any(len(w) > 40 or " " in w for w in words):
        raise Problem("ch_triggers", name=name, row=at, field="triggers")
    return Channel(name, token, url, context, words)


def _string(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _is_incoming_url(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    query = parse_qs(parts.query)
    return query.get("method", [""])[0] == "incoming" and bool(token_from_url(url))


def identify(
    token: str, bot_token: str, channels: Sequence[Channel], slash_tokens: Sequence[str]
) -> Integration | None:
    """Which integration a request's token belongs to, or None. Every comparison runs, in
    constant time, so the answer's timing says nothing about which token was close."""
    found: Integration | None = None
    if token_matches(bot_token, token):
        found = Integration("bot")
    for channel in channels:
        if token_matches(channel.outgoing_token, token) and found is None:
            found = Integration("channel", channel)
    for slash in slash_tokens:
        if token_matches(slash, token) and found is None:
            found = Integration("slash")
    return found


def strip_trigger(text: str, trigger_word: str, triggers: Sequence[str]) -> tuple[str, bool]:
    """The text without the word that triggered the webhook, and whether it began with one.
    Chat's text includes its trigger word; with no triggers configured every message counts.
    Matching is case-sensitive, as Chat's own is."""
    stripped = text.lstrip()
    words = [trigger_word.strip()] if trigger_word.strip() else []
    words += sorted(triggers, key=len, reverse=True)
    for word in words:
        if word and stripped.startswith(word) and not _runs_on(word, stripped[len(word) :]):
            rest = stripped[len(word) :]
            return rest.lstrip(" \t:：,，").strip(), True
    return text.strip(), not triggers


def _runs_on(word: str, rest: str) -> bool:
    """True when the text only starts with the word's letters: 'ai' does not trigger 'aim'."""
    return (
        bool(rest) and word[-1].isascii() and word[-1].isalnum() and rest[0].isascii() and rest[0].isalnum()
    )


def token_from_url(url: str) -> str:
    """The token inside an incoming URL, without the %22 quotes Chat puts around it."""
    values = parse_qs(urlsplit(url).query).get("token", [""])
    return values[0].strip().strip('"')


def expected_token(bot_token: str, incoming_url: str) -> str:
    return bot_token.strip() or (token_from_url(incoming_url) if incoming_url else "")


def token_matches(expected: str, given: str) -> bool:
    """Constant time, and never true for an unconfigured (empty) token."""
    return bool(expected) and hmac.compare_digest(expected.encode(), given.encode())
