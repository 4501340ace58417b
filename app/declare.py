"""How a setting is declared, and how a value is refused: pure data shared by the core's
settings (settings.py) and each chat platform's own (app/platforms/<name>/settings.py), so a
platform declares its settings in its folder and the generic code has no branch for it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from app import auth

ENV_PREFIX = "SYNOCHATGPT_"


@dataclasses.dataclass(frozen=True)
class Custom:
    """What a platform adds to a setting that the generic kinds cannot say. Each is optional."""

    parse: Callable[[Any], Any] | None = None  # raw → value, instead of the kind's parsing
    check: Callable[[Any], None] | None = None  # after the kind's parsing; raises Invalid
    secrets: Callable[[Any], list[str]] | None = None  # every secret text the value holds
    store: Callable[[Any], Any] | None = None  # value → what JSON holds
    show: Callable[[Any], str] | None = None  # the value as the command line may print it


@dataclasses.dataclass(frozen=True)
class Setting:
    name: str
    # str, text, int, float, bool, url, choice, path, password (stored as a hash), list (of
    # names or ids), tokens (a list of secrets), accounts (web chat), or a platform's own kind
    # (Synology's channels), whose parsing is in `custom`
    kind: str
    default: Any
    help: str
    group: str
    secret: bool = False
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()  # further environment variable names, weaker than `env`
    label: str = ""
    custom: Custom | None = None
    # (language, label, help) for the page's other languages. A platform's settings carry their
    # words here; the core's are in pagetext.SETTING_TEXTS.
    words: tuple[tuple[str, str, str], ...] = ()
    # The most characters a text value may have (the page's maxlength too); 0: the kind's own.
    max_chars: int = 0
    # A number offered when a typed one does not read as a number; empty: the default. Needed
    # where the default says nothing (an empty optional number, a 0 that means "off").
    example: str = ""

    @property
    def longest(self) -> int:
        return self.max_chars or (MAX_TEXT if self.kind == "text" else MAX_LINE)

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def sample(self) -> str:
        """A value of this setting to give as an example: seconds look like seconds."""
        return self.example or ("" if self.default is None else number_text(self.default))


def number_text(value: float) -> str:
    """A number as a person writes it: 300, not the 300.0 a float setting holds; 0.7 stays 0.7.
    Past 2**53 a float is no longer a whole number one can trust, so it keeps Python's form."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return str(value)


# Long enough for any real prompt or address, short enough that a pasted book is refused on the
# page, next to its field, rather than by the server's 1 MB cap on a request.
MAX_TEXT = 20_000
MAX_LINE = 2_000

# Why a value is refused: a key the page translates, and the English the CLI and logs print.
# A platform's own keys are in its settings module (settings.PROBLEMS has them all).
PROBLEMS: dict[str, str] = {
    "required": "is required",
    "url": "must be an http:// or https:// address",
    "choice": "must be one of {choices}",
    "bool": "must be true or false",
    "int": "must be a whole number",
    "number": "must be a number",
    "finite": "must be a finite number",
    "range": "must be between {low} and {high}",
    "too_long": "must be at most {max} characters (this has {count})",
    "pw_short": f"must be at least {auth.MIN_PASSWORD} characters long",
    "pw_long": f"must be at most {auth.MAX_PASSWORD} characters long",
    "unknown": "is not a setting",
    "list_entry": "has an entry that is too long or contains a space: {entry}",
    "token": "has a token that is too long or contains a space",
    "account_name": "has a name that is empty, too long, 'admin', or contains a space, comma, colon or "
    "slash: {name}",
    "account_twice": "has the name {name} twice",
    "account_password": "needs a password of at least 8 characters for {name}",
    "fixed": "is fixed by the environment variable {env}",
    "image_size": "must be width x height in pixels, such as 1024x1024, or auto",
}


class Invalid(ValueError):
    """A value a setting refuses. str() is the English sentence; `key` and `params` let the
    settings page say it in the reader's language. A platform's own problem gives its English
    (`english`), as its keys are not in PROBLEMS here."""

    def __init__(self, key: str, *, english: str = "", **params: str) -> None:
        super().__init__((english or PROBLEMS[key]).format(**params))
        self.key = key
        self.params = params


def split_list(text: str) -> list[str]:
    """Entries separated by commas, semicolons (also the Chinese ones) or new lines."""
    for separator in ("，", "；", ";", "\n"):
        text = text.replace(separator, ",")
    return [part.strip() for part in text.split(",") if part.strip()]
