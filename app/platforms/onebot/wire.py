"""OneBot v11's wire format, as NapCat (and LLOneBot, Lagrange) speak it: the events an
implementation POSTs to us (signed with HMAC-SHA1 over the raw body), their messages in either
format (segment arrays, or strings with CQ codes), and the HTTP API replies go out through
(Bearer token, `{status, retcode, data}` answers). Facts and sources:
shared/reference/platforms.md §2."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import requests

from app.platforms.http import BadRequest

log = logging.getLogger(__name__)

# NapCat waits for QQ's own answer to a send (10 s and more for big messages) before it answers.
SEND_TIMEOUT = 30.0
MAX_PICTURES = 4  # read with one question; more is an album, not a question
MAX_ID = 20  # digits: QQ numbers and group numbers fit in 64 bits


# -- events --------------------------------------------------------------------------------------


def signature_ok(secret: str, body: bytes, header: str) -> bool:
    """X-Signature: sha1=<hex HMAC-SHA1(secret, raw body)>, compared in constant time."""
    expected = "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()
    return hmac.compare_digest(expected.encode(), header.strip().lower().encode("ascii", "replace"))


@dataclasses.dataclass(frozen=True)
class Segment:
    type: str
    data: dict[str, str]


@dataclasses.dataclass(frozen=True)
class Event:
    post_type: str  # message, message_sent, meta_event, notice, request, or a newer one
    self_id: str = ""
    detail_type: str = ""  # message_type, meta_event_type, notice_type or request_type
    message_id: str = ""
    user_id: str = ""
    group_id: str = ""
    segments: tuple[Segment, ...] = ()
    name: str = ""  # the sender's group card, or else their nickname: shown to the model only


def parse_event(body: bytes) -> Event:
    """An event as the implementation posted it; BadRequest says what is wrong with it."""
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadRequest("the body is not JSON", key="not_json") from None
    if not isinstance(value, dict):
        raise BadRequest("the event must be a JSON object", key="not_object")
    post_type = value.get("post_type")
    if not isinstance(post_type, str) or not post_type:
        raise BadRequest("post_type is missing", key="missing", field="post_type")
    detail = value.get(f"{post_type}_type") or value.get("message_type") or ""
    self_id = _id(value, "self_id", needed=False)
    event = Event(post_type=post_type[:40], self_id=self_id, detail_type=_str(detail)[:40])
    if post_type not in ("message", "message_sent"):
        return event
    sender = value.get("sender")
    sender = sender if isinstance(sender, dict) else {}
    name = _str(sender.get("card")) or _str(sender.get("nickname"))
    return dataclasses.replace(
        event,
        detail_type=_str(value.get("message_type"))[:40],
        message_id=_message_id(value.get("message_id")),
        user_id=_id(value, "user_id"),
        group_id=_id(value, "group_id", needed=value.get("message_type") == "group"),
        segments=segments(value.get("message")),
        name=name[:64],
    )


def _str(value: Any) -> str:
    if isinstance(value, bool | dict | list) or value is None:
        return ""
    # JSON's \ud800 escapes give lone surrogates (a nickname cut in the middle of an emoji),
    # which no file, log or UTF-8 send can hold: each becomes U+FFFD, the rest is kept.
    return _SURROGATE.sub("\ufffd", str(value))


_SURROGATE = re.compile("[\ud800-\udfff]")
_DIGITS = re.compile(rf"[0-9]{{1,{MAX_ID}}}")
_MESSAGE_ID = re.compile(r"-?[0-9A-Za-z_]{1,40}")


def _id(value: dict[str, Any], field: str, *, needed: bool = True) -> str:
    """Ids come as numbers or as strings (implementations differ); they are kept as strings."""
    raw = value.get(field)
    if raw is None or raw == "":
        if needed:
            raise BadRequest(f"{field} is missing", key="missing", field=field)
        return ""
    if isinstance(raw, bool) or not isinstance(raw, int | str) or not _DIGITS.fullmatch(str(raw)):
        raise BadRequest(f"{field} must be a number", key="not_number", field=field)
    return str(int(raw))


def _message_id(raw: Any) -> str:
    if raw is None or isinstance(raw, bool) or not isinstance(raw, int | str):
        raise BadRequest("message_id is missing or not a number", key="missing_or_nan", field="message_id")
    if not _MESSAGE_ID.fullmatch(str(raw)):
        raise BadRequest("message_id is malformed", key="malformed", field="message_id")
    return str(raw)


MAX_SEGMENTS = 500


def segments(message: Any) -> tuple[Segment, ...]:
    """A message in either format: an array of segments, or a string with CQ codes."""
    if isinstance(message, str):
        return parse_cq(_str(message))
    if not isinstance(message, list):
        raise BadRequest("message must be a segment array or a string", key="qq_message")
    if len(message) > MAX_SEGMENTS:
        raise BadRequest(
            f"the message has more than {MAX_SEGMENTS} segments", key="qq_segments", count=MAX_SEGMENTS
        )
    found: list[Segment] = []
    for item in message:
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            raise BadRequest("a message segment is not an object with a type", key="qq_segment")
        data = item.get("data")
        data = data if isinstance(data, dict) else {}
        found.append(Segment(item["type"], {str(k): _str(v) for k, v in data.items()}))
    return tuple(found)


_CQ = re.compile(r"\[CQ:([A-Za-z0-9_.-]+)((?:,[^\]]*)?)\]")


def parse_cq(text: str) -> tuple[Segment, ...]:
    """The string format: text, escaped (&amp; &#91; &#93;), between [CQ:type,key=value,…]
    codes whose values also escape the comma (&#44;)."""
    found: list[Segment] = []
    at = 0
    for code in _CQ.finditer(text):
        if code.start() > at:
            found.append(Segment("text", {"text": unescape(text[at : code.start()])}))
        data: dict[str, str] = {}
        for pair in code.group(2).split(",")[1:]:
            key, _, value = pair.partition("=")
            data[key.strip()] = unescape(value)
        found.append(Segment(code.group(1), data))
        at = code.end()
        if len(found) > MAX_SEGMENTS:
            raise BadRequest(
                f"the message has more than {MAX_SEGMENTS} segments", key="qq_segments", count=MAX_SEGMENTS
            )
    if at < len(text):
        found.append(Segment("text", {"text": unescape(text[at:])}))
    return tuple(found)


def unescape(text: str) -> str:
    # &amp; last: "&amp;#91;" is the text "&#91;", not "[".
    return text.replace("&#91;", "[").replace("&#93;", "]").replace("&#44;", ",").replace("&amp;", "&")


@dataclasses.dataclass(frozen=True)
class Reading:
    """A message as the bot reads it."""

    text: str  # the question: the bot's own @ and a prefix taken out
    mentioned: bool  # it @-mentions the bot
    prefixed: bool  # it starts with one of the prefixes
    other: bool  # it held something the bot cannot read (a file, a voice message)
    pictures: tuple[str, ...] = ()  # the links of the pictures it held (NapCat's, short-lived)


def read(event: Event, prefixes: tuple[str, ...]) -> Reading:
    """An @ of someone else stays in the text as @<name or number>; the bot's own @ is taken out.
    A prefix counts at the start of the words, after a quote and the @ a QQ client puts before
    a reply to someone ("[reply][@author] /gpt explain this")."""
    pieces: list[tuple[str, str]] = []  # (kind, text)
    pictures: list[str] = []
    mentioned = other = False
    for segment in event.segments:
        url = segment.data.get("url", "")
        if (
            segment.type == "image"
            and url.startswith(("http://", "https://"))
            and len(pictures) < MAX_PICTURES
        ):
            pictures.append(url)
        elif segment.type == "text":
            pieces.append(("text", segment.data.get("text", "")))
        elif segment.type == "at":
            qq = segment.data.get("qq", "")
            if event.self_id and qq == event.self_id:
                mentioned = True
            else:
                pieces.append(("at", f"@{segment.data.get('name') or qq}"))
        elif segment.type not in ("reply", "face"):  # a quote, a small emoji: nothing to read
            other = True
    text = _joined(pieces)
    lead = 0
    while lead < len(pieces) and (pieces[lead][0] == "at" or not pieces[lead][1].strip()):
        lead += 1
    rest, prefixed = strip_prefix(_joined(pieces[lead:]), prefixes)
    return Reading(rest if prefixed else text, mentioned, prefixed, other, tuple(pictures))


def _joined(pieces: list[tuple[str, str]]) -> str:
    """The pieces as one text, an @ kept apart from the words beside it by one space."""
    out, previous = "", ""
    for kind, words in pieces:
        touching = out and words and not (out[-1].isspace() or words[0].isspace())
        if touching and "at" in (kind, previous):
            out += " "
        out += words
        previous = kind
    return out.strip()


def strip_prefix(text: str, prefixes: tuple[str, ...]) -> tuple[str, bool]:
    """The text without a leading prefix ("/gpt hi" → "hi"). A prefix must end there, before a
    space or the end or a non-ASCII character: "/gptfoo", "/gpt4" and "/gpt-4o" are other
    commands, while "/gpt你好" is a question to the bot."""
    folded = text.casefold()
    for prefix in sorted(prefixes, key=len, reverse=True):
        if prefix and folded.startswith(prefix.casefold()):
            rest = text[len(prefix) :]
            if not rest or rest[0].isspace() or not rest[0].isascii():
                return rest.strip(), True
    return text, False


# -- the HTTP API ----------------------------------------------------------------------------------


def text_segment(text: str) -> dict[str, Any]:
    return {"type": "text", "data": {"text": text}}


def image_segment(content: bytes) -> dict[str, Any]:
    """A picture sent as it is: NapCat takes base64:// (no URL it would have to reach)."""
    return {"type": "image", "data": {"file": "base64://" + base64.b64encode(content).decode()}}


class OneBotError(RuntimeError):
    """An API call failed. `kind` (the settings page explains each): qq_token, qq_risk,
    qq_failed, qq_unreachable, qq_timeout, qq_http. `code` is the retcode, or the HTTP status.
    The message never holds the token."""

    def __init__(self, kind: str, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code


# QQ itself refused: go-cqhttp's retcode 100 (SEND_MSG_API_ERROR) is its risk control; NapCat
# answers retcode 200 with "Timeout: NTEvent … sendMsg" when QQ never confirms a send.
RISK_RETCODES = frozenset({100})


class OneBotClient:
    """Calls the implementation's HTTP API (POST /<action>, JSON). The sends of one account go
    one at a time, `interval` seconds from the end of one to the start of the next, across all
    threads: QQ's risk control punishes fast senders, and NapCat sends one after the other
    anyway. Safe to share between threads."""

    def __init__(
        self,
        *,
        timeout: float = SEND_TIMEOUT,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._timeout = timeout
        self._sleep = sleep
        self._clock = clock
        self._sending = threading.Lock()  # held for a send and the pause before it
        self._next_send = -1e9
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def send(
        self, api_url: str, token: str, target: Target, message: list[dict[str, Any]], interval: float
    ) -> dict[str, Any]:
        """One message (always a segment array, so no text is read as a CQ code) to a person or
        a group. Returns the implementation's whole answer ({status, retcode, data, …})."""
        if target.group:
            action, params = "send_group_msg", {"group_id": int(target.group), "message": message}
        else:
            action, params = "send_private_msg", {"user_id": int(target.user), "message": message}
        with self._sending:
            wait = self._next_send - self._clock()
            if wait > 0:
                self._sleep(wait)
            try:
                return self.call(api_url, token, action, params)
            finally:
                self._next_send = self._clock() + interval

    def call(self, api_url: str, token: str, action: str, params: dict[str, Any]) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            response = self._session().post(
                f"{api_url.rstrip('/')}/{action}", json=params, headers=headers, timeout=self._timeout
            )
        except requests.exceptions.SSLError:
            raise OneBotError("qq_http", "the HTTPS certificate of the OneBot API was refused") from None
        except requests.exceptions.ConnectTimeout:
            raise OneBotError("qq_unreachable", "timed out connecting to the OneBot API") from None
        except requests.exceptions.Timeout:
            # QQ may still have sent it: a retry could post it twice.
            said = f"the OneBot API did not answer within {self._timeout:g} s"
            raise OneBotError("qq_timeout", said) from None
        except (requests.exceptions.ConnectionError, requests.exceptions.InvalidURL):
            raise OneBotError("qq_unreachable", "could not connect to the OneBot API") from None
        except (requests.RequestException, UnicodeError, ValueError):
            # A token that no HTTP header can carry, a broken answer, too many redirects: the
            # exception's own text may quote the header, so it is not passed on.
            raise OneBotError("qq_http", "the request to the OneBot API could not be made or read") from None
        return _check_answer(response)


@dataclasses.dataclass(frozen=True)
class Target:
    user: str = ""  # a private message to this QQ number
    group: str = ""  # or a group message to this group number


def _check_answer(response: requests.Response) -> dict[str, Any]:
    status = response.status_code
    if status in (401, 403):  # NapCat: 403 {"message": "token verify failed!"}, with or without one
        raise OneBotError("qq_token", f"HTTP {status}: the access token was refused", status)
    if status >= 500:
        raise OneBotError("qq_unreachable", f"the OneBot API answered HTTP {status}", status)
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise OneBotError(
            "qq_http", f"HTTP {status} without a OneBot answer; is the API URL NapCat's HTTP server?", status
        )
    if status != 200:
        raise OneBotError("qq_http", f"HTTP {status}: {_said(answer)}", status)
    retcode = answer.get("retcode")
    code = retcode if type(retcode) is int else None
    if answer.get("status") in ("ok", "async") and code in (0, 1):
        return answer
    said = _said(answer)
    risky = code in RISK_RETCODES or ("Timeout" in said and "sendMsg" in said)
    raise OneBotError("qq_risk" if risky else "qq_failed", f"retcode {code}: {said}", code)


def _said(answer: dict[str, Any]) -> str:
    words = [str(answer.get(k))[:200] for k in ("wording", "message", "msg") if answer.get(k)]
    return " / ".join(dict.fromkeys(words)) or "no reason given"
