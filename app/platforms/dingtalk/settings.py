"""DingTalk's settings, declared as data like the core's (app/declare.py) and listed by the
registry. Their names are the public interface (README's settings table). Pure."""

from __future__ import annotations

import re

from app.declare import Custom, Invalid, Setting
from app.platforms.dingtalk.words import SETTING_WORDS

API_URL = "https://api.dingtalk.com"
OAPI_URL = "https://oapi.dingtalk.com"
STREAM, HTTP = "stream", "http"

PROBLEMS: dict[str, str] = {
    "dingtalk_key_chars": "may hold only letters, digits and ASCII punctuation, without spaces (as "
    "DingTalk's Client IDs and Secrets do), at most 200",
}
_KEY = re.compile(r"[!-~]{1,200}")


def _check_key(value: str) -> None:
    # Pasted with a space or a line break, a Client Secret signs nothing right, and the page
    # would only say "wrong secret": say what is wrong with it instead.
    if value and not _KEY.fullmatch(value):
        raise Invalid("dingtalk_key_chars", english=PROBLEMS["dingtalk_key_chars"])


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "dingtalk_client_id",
        "str",
        "",
        group="dingtalk",
        label="Client ID (AppKey)",
        help="The internal app's Client ID from DingTalk's developer console (Credentials). It is "
        "also the robot's robotCode.",
        custom=Custom(check=_check_key),
        words=SETTING_WORDS["dingtalk_client_id"],
    ),
    Setting(
        "dingtalk_client_secret",
        "str",
        "",
        group="dingtalk",
        label="Client Secret (AppSecret)",
        secret=True,
        help="The internal app's Client Secret. It opens the Stream connection, signs HTTP "
        "callbacks and gets the tokens replies are sent with.",
        custom=Custom(check=_check_key),
        words=SETTING_WORDS["dingtalk_client_secret"],
    ),
    Setting(
        "dingtalk_mode",
        "choice",
        STREAM,
        group="dingtalk",
        label="How messages arrive",
        choices=(STREAM, HTTP),
        help="stream: this server connects to DingTalk itself; no port to open, no certificate. "
        "http: DingTalk posts to /dingtalk, which must be reachable from the internet over HTTPS.",
        words=SETTING_WORDS["dingtalk_mode"],
    ),
    Setting(
        "dingtalk_group_context",
        "choice",
        "shared",
        group="dingtalk",
        label="Group conversation",
        choices=("shared", "per_user"),
        help="shared: one conversation per group, where the model is told who asks; per_user: "
        "each member has their own.",
        words=SETTING_WORDS["dingtalk_group_context"],
    ),
    Setting(
        "dingtalk_api_url",
        "url",
        API_URL,
        group="dingtalk",
        label="DingTalk API URL",
        help="Tokens, replies after a conversation's reply link expired, and the Stream gateway. "
        "Change it only for a private deployment.",
        words=SETTING_WORDS["dingtalk_api_url"],
    ),
    Setting(
        "dingtalk_oapi_url",
        "url",
        OAPI_URL,
        group="dingtalk",
        label="DingTalk OAPI URL",
        help="Where files are uploaded. Change it only for a private deployment.",
        words=SETTING_WORDS["dingtalk_oapi_url"],
    ),
)
