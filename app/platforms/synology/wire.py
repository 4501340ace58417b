"""Synology Chat's wire format: what Chat POSTs to us, and posting replies back through the
SYNO.Chat.External API. Facts and sources: shared/reference/synology-chat.md."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs

import requests
import urllib3

from app.plainhttp import plain_http
from app.platforms.http import BadRequest
from app.platforms.synology.integrations import expected_token, token_from_url, token_matches
from app.text import size, split_message, split_sections

__all__ = [
    "BadRequest",
    "expected_token",
    "token_from_url",
    "token_matches",
]  # the token rules, for callers here

log = logging.getLogger(__name__)

MAX_CHARS = 2000  # Chat answers 410 "msg too long" above about 2000 characters
MIN_INTERVAL = 0.5  # Chat answers 411 "too fast" to posts closer together than this
SEND_TIMEOUT = 30.0  # DSM 7 was seen taking over 10 s to answer a post it did deliver


def split(text: str, cuts: Sequence[int] = ()) -> list[str]:
    """The posts an answer becomes in Chat: cut first where parts went out while the model
    wrote it (job.cuts), then each piece within Chat's limit."""
    return split_sections(text, cuts, MAX_CHARS)


@dataclasses.dataclass(frozen=True)
class Inbound:
    token: str
    user_id: int
    username: str
    text: str
    post_id: str = ""
    thread_id: str = ""
    timestamp: str = ""
    file_name: str = ""
    channel_id: str = ""
    channel_name: str = ""
    trigger_word: str = ""  # an outgoing webhook's: the word that made it fire


def parse_inbound(body: bytes, content_type: str) -> Inbound:
    """Chat sends application/x-www-form-urlencoded. JSON bodies and a button click's
    `payload=<json>` are accepted too, since some set-ups are reported to send those."""
    fields = _fields(body, content_type)
    token = _text(fields.get("token")).strip().strip('"')
    if not token:
        raise BadRequest("token is missing", status=401, key="missing", field="token")
    raw_user = _text(fields.get("user_id")).strip()
    if not raw_user:
        raise BadRequest("user_id is missing", key="missing", field="user_id")
    # Not str.isdigit(): it takes "²" and "٤", which int() refuses or reads as another number.
    if not _DIGITS.fullmatch(raw_user):
        raise BadRequest("user_id must be a number", key="not_number", field="user_id")
    return Inbound(
        token=token,
        user_id=int(raw_user),
        username=_text(fields.get("username"))[:200],
        text=_text(fields.get("text")),
        post_id=_text(fields.get("post_id"))[:40],
        thread_id=_text(fields.get("thread_id"))[:40],
        timestamp=_text(fields.get("timestamp"))[:40],
        file_name=_text(fields.get("file_name"))[:400],
        channel_id=_text(fields.get("channel_id"))[:40],
        channel_name=_text(fields.get("channel_name"))[:200],
        trigger_word=_text(fields.get("trigger_word"))[:100],
    )


_DIGITS = re.compile(r"[0-9]{1,18}")


def _fields(body: bytes, content_type: str) -> dict[str, Any]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the body is not UTF-8", key="not_utf8") from None
    kind = content_type.split(";", maxsplit=1)[0].strip().lower()
    if kind == "application/json" or (not kind and text.lstrip().startswith("{")):
        return _json_object(text)
    if kind not in ("", "application/x-www-form-urlencoded"):
        raise BadRequest(
            f"unsupported content type {kind!r}; Chat sends a form",
            status=415,
            key="chat_form",
            kind=kind[:60],
        )
    try:
        form = parse_qs(
            text, keep_blank_values=True, strict_parsing=False, errors="strict", max_num_fields=100
        )
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("the form body is malformed", key="bad_form") from None
    fields: dict[str, Any] = {k: v[0] for k, v in form.items()}
    if "payload" in fields and "token" not in fields:  # a button click: the fields sit in JSON
        click = _json_object(fields["payload"])
        user = click.get("user")
        user = user if isinstance(user, dict) else {}
        actions = click.get("actions")
        first = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}
        fields = {
            "token": click.get("token"),
            "user_id": user.get("user_id"),
            "username": user.get("username"),
            "post_id": click.get("post_id"),
            "text": first.get("value", ""),
        }
    return fields


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested thousands deep
        raise BadRequest("the JSON body is malformed", key="not_json") from None
    if not isinstance(value, dict):
        raise BadRequest("the JSON body must be an object", key="not_object")
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool | dict | list):
        raise BadRequest("a field has the wrong type", key="wrong_type")
    text = str(value)
    if not text.isascii() and _SURROGATE.search(text):
        # JSON's \ud800 escapes give lone surrogates, which no file, log or UTF-8 post can hold.
        raise BadRequest("a field holds an invalid character", key="bad_character")
    return text


_SURROGATE = re.compile("[\ud800-\udfff]")


# -- sending ---------------------------------------------------------------------------------


class ChatError(RuntimeError):
    """A post to Chat failed. `kind`: token, payload, file, too_long, too_fast, tls, timeout,
    unreachable, http, api. The message never contains the URL (it holds the token)."""

    def __init__(self, kind: str, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code


ERROR_KINDS = {
    404: "token",
    117: "file",
    407: "payload",
    120: "payload",
    101: "payload",
    410: "too_long",
    411: "too_fast",
    800: "payload",
    102: "api",
    103: "api",
    104: "api",
}


class ChatClient:
    """Posts to Chat's incoming URLs: form-encoded payloads, posts paced per bot, 411 retried
    with backoff, a 410 re-split smaller. One instance serves every thread."""

    def __init__(
        self,
        *,
        min_interval: float = MIN_INTERVAL,
        timeout: float = SEND_TIMEOUT,
        attempts: int = 6,
        backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._min_interval = min_interval
        self._timeout = timeout
        self._attempts = attempts
        self._backoff = backoff
        self._sleep = sleep
        self._clock = clock
        self._guard = threading.Lock()
        self._next_slot: dict[str, float] = {}  # per bot: the earliest time its next post may start
        self._local = threading.local()  # requests.Session is not documented as thread-safe

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def send_dm(
        self,
        url: str,
        user_id: int,
        text: str,
        *,
        verify: bool | str = True,
        start: int = 0,
        on_sent: Callable[[int], None] | None = None,
    ) -> int:
        """Post `text` to one user through the bot's incoming URL (method=chatbot)."""
        return self.send(url, text, user_id=user_id, verify=verify, start=start, on_sent=on_sent)

    def send(
        self,
        url: str,
        text: str,
        *,
        user_id: int | None = None,
        verify: bool | str = True,
        start: int = 0,
        on_sent: Callable[[int], None] | None = None,
        file_url: str = "",
        cuts: Sequence[int] = (),
    ) -> int:
        """Post `text` in as many posts as it needs, from chunk `start` on: to one user (the
        bot's URL) or to a channel (a channel's incoming URL, user_id None). A file_url goes with
        the last post; Chat downloads it itself. Calls on_sent(n) after the n-th chunk went out,
        so a restart can resume. Returns the count."""
        chunks = split(text, cuts)
        for index in range(start, len(chunks)):
            payload: dict[str, Any] = {"text": chunks[index]}
            if user_id is not None:
                payload["user_ids"] = [user_id]
            if file_url and index == len(chunks) - 1:
                payload["file_url"] = file_url
            self._post_fitting(url, payload, verify)
            if on_sent:
                on_sent(index + 1)
        return len(chunks)

    def _post_fitting(self, url: str, payload: dict[str, Any], verify: bool | str) -> None:
        try:
            self.post(url, payload, verify=verify)
        except ChatError as exc:
            if exc.kind != "too_long" or size(payload["text"]) < 200:
                raise
            # Chat's limit is not documented exactly (it may count bytes): halve and try again.
            parts = split_message(payload["text"], size(payload["text"]) // 2)
            plain = {k: v for k, v in payload.items() if k != "file_url"}
            for number, part in enumerate(parts, start=1):
                self._post_fitting(
                    url, {**(payload if number == len(parts) else plain), "text": part}, verify
                )

    def post(self, url: str, payload: dict[str, Any], *, verify: bool | str = True) -> dict[str, Any]:
        """One API call, paced and retried where that is safe. Returns Chat's JSON answer."""
        for attempt in range(1, self._attempts + 1):
            try:
                return self._post_once(url, payload, verify)
            except ChatError as exc:
                # One quick retry for a dropped connection; a NAS that stays away is retried by
                # the dispatcher, with growing pauses and without holding a worker meanwhile.
                retry = exc.kind == "too_fast" or (exc.kind == "unreachable" and attempt < 2)
                if not retry or attempt == self._attempts:
                    raise
                delay = self._backoff * attempt
                log.info("Chat answered %s; retrying in %.1f s (attempt %d)", exc.kind, delay, attempt)
                self._sleep(delay)
        raise AssertionError("unreachable")

    def _post_once(self, url: str, payload: dict[str, Any], verify: bool | str) -> dict[str, Any]:
        body = {"payload": json.dumps(payload, ensure_ascii=False)}  # requests form-encodes it
        with self._paced(url):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
                    response = self._session().post(url, data=body, timeout=self._timeout, verify=verify)
            except requests.exceptions.SSLError as exc:
                if plain_http(exc):
                    said = "the address starts with https:// but the NAS answers in plain HTTP there"
                    raise ChatError("not_https", said) from None
                raise ChatError(
                    "tls",
                    "the NAS's HTTPS certificate could not be verified: give its CA in CA certificate "
                    "file, or on a trusted LAN turn off Verify the NAS's HTTPS certificate",
                ) from None
            except requests.exceptions.ConnectTimeout:
                raise ChatError("unreachable", "timed out connecting to the NAS") from None
            except requests.exceptions.Timeout:
                # It may have been delivered (DSM 7 can be slow to answer): do not post it again.
                raise ChatError("timeout", f"the NAS did not answer within {self._timeout:g} s") from None
            except requests.exceptions.ConnectionError:
                raise ChatError("unreachable", "could not connect to the NAS") from None
            except OSError as exc:  # e.g. an unreadable ca_bundle file
                raise ChatError(
                    "tls", f"cannot use the TLS settings ({exc.strerror or type(exc).__name__})"
                ) from None
        return _check_answer(response)

    @contextmanager
    def _paced(self, url: str) -> Iterator[None]:
        """Posts of one bot (one token) stay at least min_interval apart, across all threads:
        Chat answers 411 otherwise. A post's slot is reserved under the lock, but the wait and
        the post happen outside it, so one hung post (up to the timeout) delays nobody else.
        A post that ends pushes the next slot to min_interval after its end, as Chat counts
        the gap from the post it made."""
        key = token_from_url(url) or url
        with self._guard:
            now = self._clock()
            slot = max(now, self._next_slot.get(key, -1e9))
            self._next_slot[key] = slot + self._min_interval
        if slot > now:
            self._sleep(slot - now)
        try:
            yield
        finally:
            with self._guard:
                ended = self._clock() + self._min_interval
                self._next_slot[key] = max(self._next_slot.get(key, -1e9), ended)


def _check_answer(response: requests.Response) -> dict[str, Any]:
    if response.status_code >= 500:  # DSM's web server in front of Chat: restarting or overloaded
        raise ChatError("unreachable", f"the NAS answered HTTP {response.status_code}")
    try:
        answer = response.json()
    except ValueError:
        raise ChatError(
            "http", f"the NAS answered HTTP {response.status_code} without JSON; is the incoming URL right?"
        ) from None
    if not isinstance(answer, dict):
        raise ChatError("http", "the NAS answered with unexpected JSON")
    if answer.get("success") is True:
        return answer
    error = answer.get("error")
    error = error if isinstance(error, dict) else {}
    code = error.get("code") if isinstance(error.get("code"), int) else None
    detail = error.get("errors")
    kind = ERROR_KINDS.get(code, "api") if code is not None else "api"
    hint = {
        "token": "the bot token in the incoming URL is wrong or the bot was deleted",
        "too_long": "the message is too long",
        "too_fast": "posting too fast",
        "payload": "Chat could not read the message",
        "file": "Chat could not fetch the attached file",
    }.get(kind, "Chat refused the message")
    text = f"{hint} (Chat error {code}" + (f": {str(detail)[:100]}" if detail else "") + ")"
    raise ChatError(kind, text, code)
