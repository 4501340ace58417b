"""QQ's settings (OneBot v11), declared as data like the core's (app/declare.py) and listed by
the registry. Their names are the public interface (README's settings table). Pure."""

from __future__ import annotations

import re

from app.declare import Custom, Invalid, Setting
from app.platforms.onebot.words import SETTING_WORDS

# QQ's risk control blocks long messages and fast senders far below any hard limit (shared/
# reference/platforms.md §2.6: AstrBot sends 1–1.5 k characters 1.5–3.5 s apart).
PART_CHARS = 1500
SEND_INTERVAL = 1.5
# While a slow model writes, fewer and larger parts than elsewhere, for the same reason, and a
# later notice: every message counts towards the spam control.
MIN_PART_CHARS = 600
NOTICE_SECONDS = 30

PROBLEMS: dict[str, str] = {
    "qq_token_chars": "may hold only letters, digits and ASCII punctuation, without spaces (as "
    "NapCat's tokens do), at most 200",
}
_TOKEN = re.compile(r"[!-~]{1,200}")


def _check_token(value: str) -> None:
    # An HTTP header carries no other characters: a token with them could never be sent.
    if value and not _TOKEN.fullmatch(value):
        raise Invalid("qq_token_chars", english=PROBLEMS["qq_token_chars"])


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "onebot_api_url",
        "url",
        "",
        group="qq",
        label="OneBot API URL",
        help="The HTTP API of NapCat (or another OneBot v11 implementation), as seen from this "
        "server, for example http://127.0.0.1:3000. Keep it on this machine or the LAN.",
        words=SETTING_WORDS["onebot_api_url"],
    ),
    Setting(
        "onebot_access_token",
        "str",
        "",
        group="qq",
        label="OneBot API token",
        secret=True,
        help="The token of NapCat's HTTP server, sent as Authorization: Bearer with every call.",
        custom=Custom(check=_check_token),
        words=SETTING_WORDS["onebot_access_token"],
    ),
    Setting(
        "onebot_secret",
        "str",
        "",
        group="qq",
        label="Event secret",
        secret=True,
        help="The token of NapCat's HTTP client, which signs every event it posts here "
        "(X-Signature). Without it no QQ event is accepted.",
        custom=Custom(check=_check_token),
        words=SETTING_WORDS["onebot_secret"],
    ),
    Setting(
        "onebot_prefixes",
        "list",
        ("/gpt",),
        group="qq",
        label="Group prefixes",
        help="In a group the bot answers an @ of itself, or a message starting with one of "
        "these (taken off the question). Separated by commas; empty: only an @.",
        words=SETTING_WORDS["onebot_prefixes"],
    ),
    Setting(
        "onebot_group_context",
        "choice",
        "shared",
        group="qq",
        label="Group conversation",
        choices=("shared", "per_user"),
        help="shared: one conversation per group, where the model is told who asks; per_user: "
        "each member has their own.",
        words=SETTING_WORDS["onebot_group_context"],
    ),
    Setting(
        "onebot_probability",
        "float",
        0.0,
        group="qq",
        label="Random replies",
        minimum=0.0,
        maximum=1.0,
        example="0.1",
        help="The chance, from 0 to 1, that the bot answers a group message not addressed to it. 0: never.",
        words=SETTING_WORDS["onebot_probability"],
    ),
    Setting(
        "onebot_part_chars",
        "int",
        PART_CHARS,
        group="qq",
        label="Longest QQ message (characters)",
        minimum=200,
        maximum=4500,
        help="Longer answers go out in several messages. QQ's spam control blocks long "
        "messages; new accounts are hit first.",
        words=SETTING_WORDS["onebot_part_chars"],
    ),
    Setting(
        "onebot_send_interval",
        "float",
        SEND_INTERVAL,
        group="qq",
        label="Seconds between QQ messages",
        minimum=0.0,
        maximum=60.0,
        help="How long the bot waits between two messages it sends. Below 1 s QQ may take the "
        "bot for a spammer.",
        words=SETTING_WORDS["onebot_send_interval"],
    ),
    Setting(
        "onebot_min_part_chars",
        "int",
        MIN_PART_CHARS,
        group="qq",
        label="Smallest QQ part (characters)",
        minimum=100,
        maximum=4500,
        help="With partial replies on, a part of an answer goes to QQ before the rest only once it "
        "is at least this long and ends a paragraph. Fewer messages keep QQ's spam control calm.",
        words=SETTING_WORDS["onebot_min_part_chars"],
    ),
    Setting(
        "onebot_thinking_notice_seconds",
        "int",
        NOTICE_SECONDS,
        group="qq",
        label="QQ thinking notice after (seconds)",
        minimum=0,
        maximum=3600,
        help="When no part of an answer is ready after this long, the bot says once in QQ that "
        "the model is slow and the answer follows. 0: never.",
        words=SETTING_WORDS["onebot_thinking_notice_seconds"],
    ),
)
