"""Synology Chat's settings, declared as data like the core's (app/declare.py) and listed by
the registry: the bot's incoming URL and token, TLS towards the NAS, channels and slash
commands. Their names and SYNOCHATGPT_* variables are those of 0.1.0: DSM's wizard, Docker env
files and stored settings.json use them. Pure."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from app.declare import Custom, Invalid, Setting
from app.platforms.synology import integrations
from app.platforms.synology.words import SETTING_WORDS

PROBLEMS: dict[str, str] = {
    "url_incoming": "is a channel's incoming-webhook URL (method=incoming); paste the bot's incoming "
    "URL, which contains method=chatbot",
    "url_chatbot": "must be the bot's incoming URL as Chat shows it, with method=chatbot and token=…",
    "ch_json": "must be a JSON list of objects with name, outgoing_token and incoming_url",
    "ch_count": "can hold at most {max} channels",
    "ch_name": "channel {n} needs a name",
    "ch_name_long": "channel {name} has a name longer than 64 characters",
    "ch_token": "channel {name} needs the outgoing webhook's token",
    "ch_url": "channel {name} needs the channel's incoming webhook URL (with method=incoming and token=…)",
    "ch_url_bot": "channel {name} has the bot's incoming URL (method=chatbot); paste the channel's incoming "
    "webhook URL, which contains method=incoming",
    "ch_context": "channel {name}: context must be shared or per_user",
    "ch_triggers": "channel {name}: trigger words must be single words (at most 20, 40 characters each)",
    "ch_same_name": "two channels are called {name}",
    "ch_same_token": "channel {name} has the same outgoing token as another one",
}


def _check_incoming_url(url: str) -> None:
    query = parse_qs(urlsplit(url).query)
    method = query.get("method", [""])[0]
    if method == "incoming":
        raise Invalid("url_incoming", english=PROBLEMS["url_incoming"])
    if method != "chatbot" or not query.get("token", [""])[0].strip('"'):
        raise Invalid("url_chatbot", english=PROBLEMS["url_chatbot"])


def _url_secrets(url: str) -> list[str]:
    # The token inside the incoming URL is a secret of its own, even when bot_token is empty.
    return [url, integrations.token_from_url(url)]


def _channels(raw: Any) -> tuple[integrations.Channel, ...]:
    try:
        return integrations.parse_channels(raw)
    except integrations.Problem as exc:
        raise Invalid(exc.key, english=PROBLEMS[exc.key], **exc.params) from None


def _channel_secrets(channels: tuple[integrations.Channel, ...]) -> list[str]:
    found: list[str] = []
    for channel in channels:
        found += [
            channel.outgoing_token,
            channel.incoming_url,
            integrations.token_from_url(channel.incoming_url),
        ]
    return found


def _stored_channels(channels: tuple[integrations.Channel, ...]) -> list[dict[str, Any]]:
    return [c.to_dict() if isinstance(c, integrations.Channel) else c for c in channels]


def _shown_channels(channels: tuple[integrations.Channel, ...]) -> str:
    return f"({len(channels)}: {', '.join(c.name for c in channels)})"


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "bot_incoming_url",
        "url",
        "",
        group="chat",
        label="Bot incoming URL",
        secret=True,
        help="The bot's incoming URL exactly as Synology Chat shows it (Integration > Bots); it "
        "contains method=chatbot and the bot's token.",
        custom=Custom(check=_check_incoming_url, secrets=_url_secrets),
        words=SETTING_WORDS["bot_incoming_url"],
    ),
    Setting(
        "bot_token",
        "str",
        "",
        group="chat",
        label="Bot token",
        secret=True,
        help="The bot's token. Taken from the incoming URL when left empty.",
        words=SETTING_WORDS["bot_token"],
    ),
    Setting(
        "tls_verify",
        "bool",
        True,
        group="advanced",
        label="Verify the NAS's HTTPS certificate",
        help="Check the NAS's HTTPS certificate when sending to Synology Chat. Turn off only for "
        "a NAS with a self-signed certificate on a trusted network; better, give its CA in CA "
        "certificate file.",
        words=SETTING_WORDS["tls_verify"],
    ),
    Setting(
        "ca_bundle",
        "path",
        "",
        group="advanced",
        label="CA certificate file",
        help="PEM file with the certificate authority that signed the NAS's certificate.",
        words=SETTING_WORDS["ca_bundle"],
    ),
    Setting(
        "channels",
        "channels",
        (),
        group="channels",
        label="Channels",
        secret=True,
        help="Channels the bot answers in: for each, an outgoing webhook (its token) and that "
        "channel's incoming webhook (its URL, with method=incoming). In the environment, a JSON "
        'list: [{"name": "team", "outgoing_token": "…", "incoming_url": "…", "context": '
        '"shared", "triggers": ["@ai"]}].',
        custom=Custom(
            parse=_channels, secrets=_channel_secrets, store=_stored_channels, show=_shown_channels
        ),
        words=SETTING_WORDS["channels"],
    ),
    Setting(
        "slash_tokens",
        "tokens",
        (),
        group="channels",
        label="Slash command tokens",
        secret=True,
        help="The token of each Synology Chat slash command that points at this server (for "
        "example /ask). In the environment, separated by commas.",
        words=SETTING_WORDS["slash_tokens"],
    ),
)
