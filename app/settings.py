"""User-editable settings, declared once as data.

Everything else is derived from SETTINGS: environment variables, parsing and validation, the
README check in the tests and the settings page. Pure: no I/O here.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from app import auth
from app.declare import ENV_PREFIX, Custom, Invalid, Setting, number_text, split_list
from app.declare import PROBLEMS as CORE_PROBLEMS
from app.platforms import registry

__all__ = ["ENV_PREFIX", "Custom", "Invalid", "Setting", "split_list"]

DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful assistant answering in a chat. Be concise. Answer in the language the user writes in."
)


# Partial replies: a part is about a paragraph or two, so a model writing 20 characters a second
# shows its first words within about ten seconds; the notice comes when even that does not.
PART_CHARS = 150
NOTICE_SECONDS = 15
_SIZE = re.compile(r"auto|[1-9][0-9]{1,4}x[1-9][0-9]{1,4}")


def _check_size(value: str) -> None:
    if not _SIZE.fullmatch(value):
        raise Invalid("image_size", english=CORE_PROBLEMS["image_size"])


SETTINGS: tuple[Setting, ...] = (
    # Model
    Setting(
        "openai_base_url",
        "url",
        "https://api.openai.com/v1",
        group="model",
        label="Model server URL",
        required=True,
        aliases=("OPENAI_BASE_URL",),
        help="Address of the OpenAI-compatible server, for example http://192.168.1.10:11434/v1 "
        "for Ollama or https://api.deepseek.com for DeepSeek.",
    ),
    Setting(
        "openai_api_key",
        "str",
        "",
        group="model",
        label="API key",
        secret=True,
        aliases=("OPENAI_API_KEY",),
        help="API key of the model server. Local servers (Ollama, LM Studio, llama.cpp) need none.",
    ),
    Setting(
        "model",
        "str",
        "gpt-5-mini",
        group="model",
        label="Model",
        required=True,
        help="Model name as the server knows it, for example qwen2.5:7b or deepseek-v4-flash. "
        "'echo' is a built-in model that repeats the question, for testing the Chat wiring.",
    ),
    Setting(
        "temperature",
        "float",
        None,
        group="model",
        label="Temperature",
        minimum=0.0,
        maximum=2.0,
        example="0.7",
        help="Sampling temperature from 0 to 2: lower is more focused, higher more varied. Empty "
        "uses the server's default; OpenAI's reasoning models accept no other.",
    ),
    Setting(
        "system_prompt",
        "text",
        DEFAULT_SYSTEM_PROMPT,
        group="model",
        label="System prompt",
        help="Instructions sent before every conversation.",
    ),
    Setting(
        "context_tokens",
        "int",
        8000,
        group="model",
        label="Context budget (tokens)",
        minimum=256,
        maximum=2_000_000,
        help="Token budget for the system prompt, the history and the question. The oldest "
        "exchanges are dropped to fit; keep it below the model's context window.",
    ),
    # Pictures
    Setting(
        "image_model",
        "str",
        "gpt-image-1-mini",
        group="images",
        label="Image model",
        help="The model that draws for /image, as the image server knows it, for example "
        "gpt-image-1 or a local stable-diffusion model's name.",
    ),
    Setting(
        "image_size",
        "str",
        "1024x1024",
        group="images",
        label="Picture size",
        custom=Custom(check=_check_size),
        help="Width x height in pixels, or auto; sent with every picture request. OpenAI's "
        "GPT image models take 1024x1024, 1536x1024 and 1024x1536.",
    ),
    Setting(
        "image_quality",
        "choice",
        "low",
        group="images",
        label="Picture quality",
        choices=("low", "medium", "high", "auto"),
        help="Higher quality costs more per picture and takes longer.",
    ),
    Setting(
        "image_base_url",
        "url",
        "",
        group="images",
        label="Image server URL",
        help="Empty: the model server above. Set it to draw elsewhere, for example a LocalAI or "
        "stable-diffusion.cpp server at http://192.168.1.10:8080/v1.",
    ),
    Setting(
        "image_api_key",
        "str",
        "",
        group="images",
        label="Image server API key",
        secret=True,
        help="Empty: the model server's key (used only when the image server is the model server).",
    ),
    Setting(
        "daily_images",
        "int",
        0,
        group="images",
        label="Pictures per day",
        minimum=0,
        maximum=100_000,
        help="How many pictures one person may have drawn a day; 0 means no limit. Admins have none.",
    ),
    Setting(
        "request_timeout",
        "float",
        300.0,
        group="advanced",
        label="Model timeout (seconds)",
        minimum=5.0,
        maximum=3600.0,
        help="Seconds to wait for the model to start or continue its answer. Local models on "
        "a NAS CPU can be slow: the default allows five minutes of silence.",
    ),
    Setting(
        "answer_timeout",
        "float",
        1200.0,
        group="advanced",
        label="Longest answer time (seconds)",
        minimum=10.0,
        maximum=86_400.0,
        help="Seconds one answer may take in all, however steadily the model writes. What "
        "arrived by then is sent, with a note that it was cut off.",
    ),
    Setting(
        "max_answer_chars",
        "int",
        20_000,
        group="advanced",
        label="Longest answer (characters)",
        minimum=200,
        maximum=1_000_000,
        help="Characters one answer may have; the model is asked for at most as many tokens "
        "where it accepts that. A longer answer is cut there, with a note saying so.",
    ),
    Setting(
        "max_retries",
        "int",
        2,
        group="advanced",
        label="Model retries",
        minimum=0,
        maximum=10,
        help="How often a model call is retried after a rate limit, server error or timeout.",
    ),
    Setting(
        "proxy",
        "url",
        "",
        group="advanced",
        label="Proxy",
        help="HTTP(S) proxy for calls to the model server, for example http://192.168.1.2:3128.",
    ),
    Setting(
        "strip_thinking",
        "bool",
        True,
        group="behaviour",
        label="Hide the model's reasoning",
        help="Remove <think>…</think> reasoning (DeepSeek-R1, Qwen3 and others) from replies.",
    ),
    Setting(
        "partial_replies",
        "bool",
        True,
        group="behaviour",
        label="Send long answers in parts as they are written",
        help="While a slow model writes, finished paragraphs are posted at once in Synology Chat, "
        "QQ and DingTalk, never cutting a code block. Off: only whole answers are posted.",
    ),
    Setting(
        "min_part_chars",
        "int",
        PART_CHARS,
        group="behaviour",
        label="Smallest part (characters)",
        minimum=50,
        maximum=4000,
        help="A part of an answer is posted before the rest only once it is at least this long "
        "and ends a paragraph. QQ has its own setting.",
    ),
    Setting(
        "thinking_notice_seconds",
        "int",
        NOTICE_SECONDS,
        group="behaviour",
        label="Thinking notice after (seconds)",
        minimum=0,
        maximum=3600,
        help="When no part of an answer is ready after this long, the bot says once that the "
        "model is slow and the answer follows. 0: never. QQ has its own setting.",
    ),
    Setting(
        "delivery_retry_hours",
        "float",
        24.0,
        group="advanced",
        label="Keep trying to deliver (hours)",
        minimum=0.01,
        maximum=720.0,
        help="How long an answer that cannot be posted (the NAS restarting, Chat down) is "
        "retried, with growing pauses and across restarts, before it is given up.",
    ),
    *registry.SETTINGS,  # each chat platform's own, declared in its folder
    # Behaviour
    Setting(
        "language",
        "choice",
        "auto",
        group="behaviour",
        label="Bot language",
        choices=("auto", "en", "zh"),
        help="Language of the bot's own messages: auto follows each user's writing.",
    ),
    Setting(
        "export_dir",
        "path",
        "",
        group="behaviour",
        label="Export folder",
        help="Folder where /export saves conversations as Markdown files, one sub-folder per "
        "user. On DSM, a shared folder the package may write to (for example /volume1/chat-exports); "
        "empty: the file is only sent in Chat.",
    ),
    # Access and limits
    Setting(
        "access",
        "choice",
        "everyone",
        group="access",
        label="Who may chat",
        choices=("everyone", "listed"),
        help="Everyone who can reach the bot, or only the people in the allow-list and the admins.",
    ),
    Setting(
        "allowed_users",
        "list",
        (),
        group="access",
        label="Allow-list",
        help="Chat user ids or user names, separated by commas or new lines. /whoami shows a "
        "person's id; ids are safer, as a user name can be changed.",
    ),
    Setting(
        "blocked_users",
        "list",
        (),
        group="access",
        label="Block-list",
        help="Chat user ids or user names who may not use the bot, even when everyone may.",
    ),
    Setting(
        "admin_users",
        "list",
        (),
        group="access",
        label="Admins",
        help="Chat user ids or user names who may use /model, /persona, /pause and /resume, and "
        "who are not limited.",
    ),
    Setting(
        "paused",
        "bool",
        False,
        group="access",
        label="Paused",
        help="While paused, only admins get answers; others are told so. /pause and /resume set it.",
    ),
    Setting(
        "min_interval",
        "int",
        0,
        group="access",
        label="Seconds between questions",
        minimum=0,
        maximum=86400,
        help="Shortest time between two questions of one person; 0 means no limit.",
    ),
    Setting(
        "questions_per_minute",
        "int",
        0,
        group="access",
        label="Questions per minute",
        minimum=0,
        maximum=1000,
        help="Most questions one person may ask in any 60 seconds; 0 means no limit.",
    ),
    Setting(
        "daily_tokens",
        "int",
        0,
        group="access",
        label="Tokens per day",
        minimum=0,
        maximum=10**10,
        help="Tokens (question, history and answer) one person may use per day, counted from "
        "midnight; 0 means no limit. The user table below can set other limits per person.",
    ),
    Setting(
        "monthly_tokens",
        "int",
        0,
        group="access",
        label="Tokens per month",
        minimum=0,
        maximum=10**11,
        help="Tokens one person may use per calendar month; 0 means no limit.",
    ),
    # The web chat's accounts, each with its own history and limits.
    Setting(
        "webchat_users",
        "accounts",
        (),
        group="webchat",
        label="Web chat accounts",
        secret=True,
        help="People who may use the web chat at /chat, each with a name and a password of at least 8 "
        "characters (stored only as a salted hash). The admin may always use it. In the environment: "
        "name:password pairs separated by commas.",
    ),
    # The settings page's own account. Never shown; kept only as a salted scrypt hash.
    Setting(
        "admin_password",
        "password",
        "",
        group="account",
        label="Admin password",
        secret=True,
        help="Password of the settings page (at least 8 characters). Stored only as a salted "
        "hash. When unset, the first visit asks for the setup code printed in the log.",
    ),
)

GROUPS: tuple[str, ...] = (
    "model",
    "images",
    "chat",
    "behaviour",
    "access",
    "channels",
    "qq",
    "dingtalk",
    "webchat",
    "advanced",
)

BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


# Every problem's English, the core's and each platform's (the page has a translation of each).
PROBLEMS: dict[str, str] = {**CORE_PROBLEMS, **registry.PROBLEMS}


class SettingsError(ValueError):
    """One or more values are invalid; each message names the setting and where it came from.
    `fields` maps a setting's name to its problem, for showing next to the field."""

    def __init__(self, problems: list[str], fields: dict[str, Invalid] | None = None) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems
        self.fields = fields or {}


def parse(setting: Setting, raw: Any) -> Any:
    """Turn a raw value (a string from a form or the environment, or a stored value) into the
    setting's type. Raises Invalid with a sentence a user can act on. A password comes back
    hashed (already hashed values are kept), so no caller ever holds one in plain text."""
    if setting.kind == "password":
        text = "" if raw is None else str(raw)
        if not text or auth.is_hash(text):
            return text
        problem = auth.password_problem(text)
        if problem:
            raise Invalid(problem)
        return auth.hash_password(text)
    if setting.kind in ("list", "tokens"):
        return _parse_list(setting, raw)
    if setting.kind == "accounts":
        return _parse_accounts(raw)
    if setting.custom and setting.custom.parse:
        return setting.custom.parse(raw)
    if setting.kind in ("str", "text", "path", "url", "choice"):
        value = "" if raw is None else str(raw)
        value = value if setting.kind == "text" else value.strip()
        if not value:
            if setting.required:
                raise Invalid("required")
            return ""
        if len(value) > setting.longest:
            raise Invalid("too_long", max=f"{setting.longest:,}", count=f"{len(value):,}")
        if setting.kind == "url":
            _check_url(value)
        if setting.kind == "choice" and value not in setting.choices:
            raise Invalid("choice", choices=", ".join(setting.choices))
        if setting.custom and setting.custom.check:
            setting.custom.check(value)
        return value
    if setting.kind == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise Invalid("bool")
    if setting.kind in ("int", "float"):
        if setting.default is None and (raw is None or str(raw).strip() == ""):
            return None  # an optional number: left to the server
        return _parse_number(setting, raw)
    raise AssertionError(f"unknown kind {setting.kind}")


def _parse_list(setting: Setting, raw: Any) -> tuple[str, ...]:
    """Names, ids or tokens: from text (commas or new lines) or a stored list. Duplicates go;
    a leading @ on a name is dropped, as people paste names the way Chat shows them."""
    if raw is None:
        return ()
    items = split_list(raw) if isinstance(raw, str) else [str(v).strip() for v in raw]
    if setting.kind == "list":
        items = [item.lstrip("@").strip() for item in items]
    clean = tuple(dict.fromkeys(item for item in items if item))
    for item in clean:
        if len(item) > (100 if setting.kind == "tokens" else 64) or any(c.isspace() for c in item):
            raise Invalid("token") if setting.kind == "tokens" else Invalid("list_entry", entry=item[:64])
        if setting.kind == "list" and _odd_digits(item):
            raise Invalid("list_entry", entry=item[:64])
    return clean


def _odd_digits(entry: str) -> bool:
    """Digits other than 0-9 ("²", "٣") or an id too long to be one: str.isdigit() takes them,
    so they would look like a user id that int() cannot read."""
    if any(c.isdigit() and not "0" <= c <= "9" for c in entry):
        return True
    return entry.isdigit() and len(entry) > 18


_ACCOUNT_NAME = re.compile(r"^[^\s:,/]{1,32}$")


def _parse_accounts(raw: Any) -> tuple[dict[str, Any], ...]:
    """Web chat accounts: {"name", "hash", "id"}. From the environment as name:password pairs;
    from a form or the store as objects with a hash, or with a new password, which is hashed
    here. The id (the store's user id for the account's chats) is kept when stored, and made
    unique among the accounts otherwise (auth.account_ids)."""
    if raw is None or raw == "":
        return ()
    if isinstance(raw, str):
        pairs = []
        for item in split_list(raw):
            name, _, password = item.partition(":")
            pairs.append({"name": name.strip(), "password": password})
        raw = pairs
    accounts: list[dict[str, Any]] = []
    stored_ids: list[object] = []
    for item in raw:
        name = str(item.get("name", "")).strip() if isinstance(item, dict) else ""
        if not _ACCOUNT_NAME.match(name) or name.casefold() == "admin":
            raise Invalid("account_name", name=name[:32])
        if any(a["name"].casefold() == name.casefold() for a in accounts):
            raise Invalid("account_twice", name=name)
        stored = str(item.get("hash", ""))
        if not auth.is_hash(stored):
            problem = auth.password_problem(str(item.get("password", "")))
            if problem:
                raise Invalid("account_password", name=name)
            stored = auth.hash_password(str(item["password"]))
        accounts.append({"name": name, "hash": stored})
        stored_ids.append(item.get("id"))
    ids = auth.account_ids([(a["name"], i) for a, i in zip(accounts, stored_ids, strict=True)])
    return tuple({**a, "id": i} for a, i in zip(accounts, ids, strict=True))


def _parse_number(setting: Setting, raw: Any) -> int | float:
    # A mistyped number is told what one looks like for this setting (300 for seconds).
    refused = Invalid("int") if setting.kind == "int" else Invalid("number", example=setting.sample)
    if isinstance(raw, bool):
        raise refused
    try:
        number: int | float = int(str(raw).strip()) if setting.kind == "int" else float(str(raw).strip())
    except ValueError:
        raise refused from None
    if isinstance(number, float) and not math.isfinite(number):
        raise Invalid("finite")
    low, high = setting.minimum, setting.maximum
    if (low is not None and number < low) or (high is not None and number > high):
        raise Invalid("range", low=_fmt(low), high=_fmt(high))
    return number


def _fmt(number: float | None) -> str:
    return "" if number is None else number_text(number)


def _check_url(value: str) -> None:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid("url")


@dataclasses.dataclass(frozen=True)
class Values:
    """The effective settings: defaults < stored < environment. `fixed` names the settings the
    environment decides (read-only elsewhere)."""

    values: Mapping[str, Any]
    fixed: frozenset[str] = frozenset()

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    def secrets(self) -> list[str]:
        """Every secret text in force, to keep out of logs and messages."""
        found: list[str] = []
        for setting in SETTINGS:
            value = self.values.get(setting.name)
            if not setting.secret or not value:
                continue
            if setting.custom and setting.custom.secrets:
                found += setting.custom.secrets(value)
            elif setting.kind == "tokens":
                found += [str(v) for v in value]
            elif setting.kind == "accounts":
                found += [a["hash"] for a in value]
            else:
                found.append(str(value))
        return [s for s in found if s]


def from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings the environment fixes, parsed. Raises SettingsError naming each variable.
    An empty variable counts as unset: env files for Docker list every name with blank values."""
    found: dict[str, Any] = {}
    problems: list[str] = []
    for setting in SETTINGS:
        for var in (setting.env, *setting.aliases):
            if environ.get(var, "").strip():
                try:
                    found[setting.name] = parse(setting, environ[var])
                except ValueError as exc:
                    problems.append(f"{var} {exc}")
                break
    if problems:
        raise SettingsError(problems)
    return found


def resolve(stored: Mapping[str, Any], fixed_by_env: Mapping[str, Any]) -> Values:
    """Combine stored values with the environment. A stored value that no longer parses (an
    older version's format) falls back to the default rather than stopping the bot."""
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        if setting.name in fixed_by_env:
            values[setting.name] = fixed_by_env[setting.name]
            continue
        if setting.kind == "accounts" and isinstance(stored.get(setting.name), list):
            # As for the admin password: only hashed entries count on disk, so a hand-edited
            # file is not hashed again (slowly, and differently) on every read.
            stored = {
                **stored,
                setting.name: [
                    a
                    for a in stored[setting.name]
                    if isinstance(a, dict) and auth.is_hash(str(a.get("hash", "")))
                ],
            }
        if setting.kind == "password":
            # Only ever a hash on disk; anything else (edited by hand) is ignored, not hashed
            # again on every read, and the first-run page then asks for a new one.
            raw = stored.get(setting.name)
            values[setting.name] = raw if isinstance(raw, str) and auth.is_hash(raw) else setting.default
            continue
        try:
            values[setting.name] = (
                parse(setting, stored[setting.name]) if setting.name in stored else setting.default
            )
        except ValueError:
            values[setting.name] = setting.default
    return Values(values, frozenset(fixed_by_env))


def validate(changes: Mapping[str, Any], fixed: Iterable[str] = ()) -> dict[str, Any]:
    """Validate a set of edits (from a form or the command line); SettingsError lists each
    problem as '<name> <what is wrong>'."""
    fixed = set(fixed)
    clean: dict[str, Any] = {}
    problems: list[str] = []
    fields: dict[str, Invalid] = {}
    for name, raw in changes.items():
        setting = BY_NAME.get(name)
        if setting is None:
            problems.append(f"{name} is not a setting (known: {', '.join(BY_NAME)})")
            continue
        try:
            if name in fixed:
                raise Invalid("fixed", env=setting.env)
            clean[name] = parse(setting, raw)
        except Invalid as exc:
            fields[name] = exc
            problems.append(f"{name} {exc}")
    if problems:
        raise SettingsError(problems, fields)
    return clean


def masked(setting: Setting, value: Any) -> str:
    """How a value may be shown: secrets only as set/unset and their last four characters."""
    if setting.kind == "list":
        return ", ".join(value) if value else "(not set)"
    if setting.kind == "tokens":
        return f"({len(value)} set)" if value else "(not set)"
    if setting.custom and setting.custom.show:
        return setting.custom.show(value) if value else "(not set)"
    if setting.kind == "accounts":
        return f"({len(value)}: {', '.join(a['name'] for a in value)})" if value else "(not set)"
    if not setting.secret:
        return "(not set)" if value is None or value == "" else typed(setting, value)
    text = str(value or "")
    if not text:
        return "(not set)"
    if setting.kind == "password":
        return "(set)"
    return f"(set, ends in …{text[-4:]})" if len(text) >= 12 else "(set)"


def typed(setting: Setting, value: Any) -> str:
    """A value as its field on the page holds it: what a person would type, so a float setting
    shows 300, not the 300.0 it is stored as. None (an optional number unset) is empty."""
    if value is None:
        return ""
    if setting.kind in ("int", "float") and not isinstance(value, bool):
        return number_text(value)
    return str(value)


def storable(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Parsed values as JSON can hold them: lists for tuples, a platform's objects its way."""
    out: dict[str, Any] = {}
    for name, value in changes.items():
        setting = BY_NAME.get(name)
        if setting and setting.custom and setting.custom.store:
            out[name] = setting.custom.store(value)
        else:
            out[name] = list(value) if isinstance(value, tuple) else value
    return out


def redact(text: str, values: Values | Sequence[str]) -> str:
    """A server's error text, or a model's answer, with any current secret (a key echoed back,
    say) masked. Takes the settings or their secrets."""
    for secret in values.secrets() if isinstance(values, Values) else values:
        text = text.replace(secret, "***")
    return text
