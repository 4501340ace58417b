"""DingTalk's wire format and HTTP client: the signature of an HTTP-mode callback, a robot
message as DingTalk sends it (by Stream or by HTTP, the same JSON), replies to a message's
sessionWebhook, and the OpenAPI (an app token, sends to people and groups, the Stream
gateway's tickets). The only module that talks HTTP to DingTalk. Facts and sources:
shared/reference/platforms.md §1."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import requests

from app.platforms.http import BadRequest

log = logging.getLogger(__name__)

TIMEOUT = 10.0  # DingTalk's own OpenAPI gives up after 3 s (504); a slow network is not slower
SIGN_WINDOW_MS = 3_600_000  # DingTalk's rule: a callback more than an hour off is refused
BOT_TOPIC = "/v1.0/im/bot/messages/get"
PER_MINUTE = 20  # messages a robot may send to one conversation in a minute (130101 beyond)
TOKEN_MARGIN = 300.0  # seconds: a token is renewed this long before DingTalk says it expires
MAX_ID = 200  # characters: ids are short; a longer one is not DingTalk's
MAX_PICTURES = 4  # read with one question

# errcodes of a session webhook: the session is gone, so the OpenAPI must send instead.
SESSION_GONE = frozenset({300001, 300002, 400013})
TOO_FAST = 130101
TOKEN_GONE = frozenset({40014, 42001, "40014", "42001"})  # oapi: a token unknown or expired
TOO_LONG = 460101


# -- callbacks (HTTP mode) -------------------------------------------------------------------


def sign(secret: str, timestamp: str) -> str:
    """base64(HMAC-SHA256(secret, timestamp + "\\n" + secret)), DingTalk's callback signature."""
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def check_signature(secret: str, timestamp: str, signature: str, now_ms: int) -> str:
    """ "" when the callback is DingTalk's; else why not, in the words the log gets."""
    if not timestamp or not signature:
        return "the timestamp or sign header is missing"
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 15):
        return "the timestamp header is not a time in milliseconds"
    if abs(now_ms - int(timestamp)) > SIGN_WINDOW_MS:  # a replay of an old callback
        return "the timestamp is more than an hour from now"
    expected = sign(secret, timestamp).encode()
    if not hmac.compare_digest(expected, signature.strip().encode("ascii", "replace")):
        return "the sign does not match"
    return ""


# -- messages ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Inbound:
    """A robot message, as much of it as the bot uses."""

    msg_id: str
    msgtype: str
    text: str  # what to answer ("" for a picture or a file), the group's leading space trimmed
    other: bool  # it carried something the bot cannot read (a file, a video)
    conversation_id: str  # encrypted; a group's openConversationId for the OpenAPI
    group: bool
    sender_staff_id: str  # "" for people outside the organisation
    sender_id: str
    nick: str
    created_at: int  # ms
    session_webhook: str
    session_expires: int  # ms
    pictures: tuple[str, ...] = ()  # the downloadCodes of its pictures

    @property
    def user(self) -> str:
        return self.sender_staff_id or self.sender_id


def parse_message(raw: bytes | str) -> Inbound:
    """A robot message; BadRequest says what is wrong with it."""
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadRequest("the message is not JSON", key="not_json") from None
    if not isinstance(value, dict):
        raise BadRequest("the message must be a JSON object", key="not_object")
    msgtype = _str(value, "msgtype") or "text"
    conversation_type = str(value.get("conversationType", ""))
    if conversation_type not in ("1", "2"):
        raise BadRequest("conversationType must be 1 (one to one) or 2 (a group)", key="dt_conversation")
    content = value.get("content")
    content = content if isinstance(content, dict) else {}
    text, other, pictures = "", False, []
    if msgtype == "text":
        body = value.get("text")
        text = _str(body, "content") if isinstance(body, dict) else ""
    elif msgtype == "audio":  # DingTalk's own speech recognition: the words said
        text = _str(content, "recognition")
    elif msgtype == "richText":
        parts = content.get("richText")
        parts = [p for p in parts if isinstance(p, dict)] if isinstance(parts, list) else []
        text = "".join(_str(p, "text") for p in parts)
        pictures = [_str(p, "downloadCode") for p in parts if p.get("type") == "picture"]
        other = any("text" not in p and p.get("type") != "picture" for p in parts)
    elif msgtype == "picture":
        pictures = [_str(content, "downloadCode")]
    else:
        other = True
    pictures = [code for code in pictures if code and len(code) <= 4 * MAX_ID][:MAX_PICTURES]
    inbound = Inbound(
        msg_id=_id(value, "msgId"),
        msgtype=msgtype[:40],
        text=text.strip(),
        other=other,
        conversation_id=_id(value, "conversationId"),
        group=conversation_type == "2",
        sender_staff_id=_str(value, "senderStaffId")[:MAX_ID],
        sender_id=_str(value, "senderId")[:MAX_ID],
        nick=_str(value, "senderNick")[:100],
        created_at=_ms(value, "createAt"),
        session_webhook=_str(value, "sessionWebhook"),
        session_expires=_ms(value, "sessionWebhookExpiredTime"),
        pictures=tuple(pictures),
    )
    if not inbound.user:
        raise BadRequest("senderStaffId and senderId are both missing", key="dt_no_sender")
    if not inbound.session_webhook.startswith(("https://", "http://")):
        raise BadRequest("sessionWebhook is missing", key="missing", field="sessionWebhook")
    return inbound


def _str(value: Any, key: str) -> str:
    item = value.get(key) if isinstance(value, dict) else None
    return item if isinstance(item, str) else ""


def _id(value: dict[str, Any], key: str) -> str:
    item = _str(value, key)
    if not item or len(item) > MAX_ID:
        raise BadRequest(f"{key} is missing or too long", key="missing_or_long", field=key)
    return item


def _ms(value: dict[str, Any], key: str) -> int:
    item = value.get(key)
    if isinstance(item, str) and item.isascii() and item.isdigit() and len(item) <= 15:
        return int(item)
    if isinstance(item, int) and not isinstance(item, bool) and 0 <= item < 10**15:
        return item
    raise BadRequest(f"{key} is not a time in milliseconds", key="not_ms", field=key)


def markdown(title: str, text: str, at: str = "") -> dict[str, Any]:
    """A session webhook's markdown message; at: the staff id to @-mention (shown only when the
    text names it too, so the caller puts "@<id>" in the text)."""
    body: dict[str, Any] = {"msgtype": "markdown", "markdown": {"title": title, "text": text}}
    if at:
        body["at"] = {"atUserIds": [at]}
    return body


def size(body: dict[str, Any]) -> int:
    """A message's size in bytes, as DingTalk counts it against its limits (20,000 for a reply
    link's body, 15,000 for an OpenAPI message's msgParam)."""
    return len(json.dumps(body, ensure_ascii=False).encode())


# -- errors --------------------------------------------------------------------------------------


class DingTalkError(Exception):
    """A call that failed. kind: for the dashboard and the page's sentence; code: DingTalk's own
    errcode or code, when it gave one. The text never holds a secret, a token or a URL."""

    def __init__(self, kind: str, message: str, code: str = "") -> None:
        super().__init__(message)
        self.kind, self.code = kind, code


def _network_error(exc: Exception, what: str) -> DingTalkError:
    # requests' texts quote the URL (a session webhook is a credential for 90 minutes): never them.
    if isinstance(exc, requests.Timeout):
        return DingTalkError("dingtalk_timeout", f"{what}: DingTalk did not answer in time")
    chain = repr(exc)
    if "NameResolution" in chain or "Name or service not known" in chain or "resolution" in chain:
        return DingTalkError("dingtalk_dns", f"{what}: DingTalk's address could not be looked up (DNS)")
    return DingTalkError("dingtalk_unreachable", f"{what}: DingTalk cannot be reached (no internet?)")


# -- the client ------------------------------------------------------------------------------------


class Pacer:
    """At most PER_MINUTE posts a minute to one conversation, whichever way they go: DingTalk
    throttles a robot for minutes once it is over. A long answer waits rather than fail."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
    ):
        self._clock, self._sleep = clock, sleep
        self._sent: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def wait(self, conversation: str, interval: float) -> None:
        while True:
            with self._lock:
                now = self._clock()
                sent = self._sent.setdefault(conversation, deque())
                while sent and now - sent[0] >= 60.0:
                    sent.popleft()
                pause = 0.0
                if len(sent) >= PER_MINUTE:
                    pause = 60.0 - (now - sent[0])
                elif sent and now - sent[-1] < interval:
                    pause = interval - (now - sent[-1])
                if pause <= 0:
                    sent.append(now)
                    if len(self._sent) > 10_000:  # conversations long quiet are forgotten
                        self._sent = {k: v for k, v in self._sent.items() if v and now - v[-1] < 60.0}
                    return
            self._sleep(min(pause, 60.0))


class DingTalkClient:
    """Every call to DingTalk. Thread-safe: the workers deliver in parallel, the page checks."""

    def __init__(
        self,
        timeout: float = TIMEOUT,
        clock: Callable[[], float] = time.time,
        pacer: Pacer | None = None,
    ) -> None:
        self._timeout = timeout
        self._clock = clock
        self.pacer = pacer or Pacer()
        self._http = requests.Session()
        self._http.headers["User-Agent"] = "SynoChatGPT"
        self._tokens: dict[tuple[str, str, str], tuple[str, float]] = {}
        self._token_lock = threading.Lock()

    # -- session webhooks --

    def post_session(self, url: str, body: dict[str, Any]) -> None:
        """Post a reply to the message's sessionWebhook; DingTalkError when it was not taken
        (HTTP 200 with an errcode is a refusal too)."""
        try:
            answer = self._http.post(url, json=body, timeout=self._timeout)
        except (requests.RequestException, UnicodeError) as exc:
            raise _network_error(exc, "reply") from None
        data = _json(answer)
        code = data.get("errcode")
        if answer.status_code == 200 and code in (0, "0"):
            return
        if code is None and answer.status_code >= 500:  # DingTalk or a proxy on the way is down
            raise DingTalkError("dingtalk_unreachable", f"reply: DingTalk answered HTTP {answer.status_code}")
        if code is None:
            raise DingTalkError("dingtalk_http", f"reply: DingTalk answered HTTP {answer.status_code}")
        raise _errcode(code, str(data.get("errmsg", ""))[:200], "reply")

    # -- the OpenAPI --

    def access_token(self, api_url: str, client_id: str, secret: str, *, fresh: bool = False) -> str:
        """The app's token, kept until shortly before it expires."""
        key = (api_url, client_id, hashlib.sha256(secret.encode()).hexdigest())
        with self._token_lock:
            token, until = self._tokens.get(key, ("", 0.0))
            if token and not fresh and self._clock() < until:
                return token
            data = self._call(
                "POST", api_url, "/v1.0/oauth2/accessToken", {"appKey": client_id, "appSecret": secret}
            )
            given = data.get("accessToken")
            if not isinstance(given, str) or not given:
                raise DingTalkError("dingtalk_http", "token: DingTalk's answer had no accessToken")
            token = given
            lifetime = data.get("expireIn")
            lifetime = float(lifetime) if isinstance(lifetime, int | float) and lifetime > 0 else 7200.0
            self._tokens[key] = (token, self._clock() + max(lifetime - TOKEN_MARGIN, lifetime / 2))
            return token

    def send_to_person(
        self, api_url: str, client_id: str, secret: str, staff_id: str, *, key: str, param: dict[str, Any]
    ) -> None:
        """robot/oToMessages/batchSend to one person. HTTP 200 is not delivery: DingTalk lists
        the people it did not deliver to."""
        body = {
            "robotCode": client_id,
            "userIds": [staff_id],
            "msgKey": key,
            "msgParam": json.dumps(param, ensure_ascii=False),
        }
        data = self._with_token(api_url, client_id, secret, "/v1.0/robot/oToMessages/batchSend", body)
        if staff_id in _list(data, "flowControlledStaffIdList"):
            raise DingTalkError(
                "dingtalk_too_fast", "DingTalk held the message back: too many sent", "flowControlled"
            )
        if staff_id in _list(data, "invalidStaffIdList"):
            raise DingTalkError(
                "dingtalk_not_delivered",
                "DingTalk did not deliver: the person is not in the organisation",
                "invalidStaff",
            )

    def send_to_group(
        self,
        api_url: str,
        client_id: str,
        secret: str,
        conversation_id: str,
        *,
        key: str,
        param: dict[str, Any],
    ) -> None:
        body = {
            "robotCode": client_id,
            "openConversationId": conversation_id,
            "msgKey": key,
            "msgParam": json.dumps(param, ensure_ascii=False),
        }
        self._with_token(api_url, client_id, secret, "/v1.0/robot/groupMessages/send", body)

    def upload(
        self,
        oapi_url: str,
        api_url: str,
        client_id: str,
        secret: str,
        *,
        name: str,
        content: bytes,
        mime: str,
    ) -> str:
        """A picture uploaded to DingTalk (media/upload, type image): its media id, which a
        Markdown reply shows as ![](<media id>) and the OpenAPI takes as photoURL."""
        for fresh in (False, True):
            token = self.access_token(api_url, client_id, secret, fresh=fresh)
            try:
                answer = self._http.post(
                    oapi_url.rstrip("/") + "/media/upload",
                    params={"access_token": token, "type": "image"},
                    files={"media": (name, content, mime)},
                    timeout=max(self._timeout, 30.0),
                )
            except (requests.RequestException, UnicodeError) as exc:
                raise _network_error(exc, "upload") from None
            data = _json(answer)
            code = data.get("errcode")
            media = data.get("media_id")
            if answer.status_code == 200 and code in (0, "0") and isinstance(media, str) and media:
                return media
            if code in TOKEN_GONE and not fresh:
                continue  # a token DingTalk no longer takes: one fresh one, once
            if code is None:
                kind = "dingtalk_unreachable" if answer.status_code >= 500 else "dingtalk_http"
                raise DingTalkError(kind, f"upload: DingTalk answered HTTP {answer.status_code}")
            raise _errcode(code, str(data.get("errmsg", ""))[:200], "upload")
        raise DingTalkError("dingtalk_token", "upload: DingTalk refused a fresh token")

    def download_url(self, api_url: str, client_id: str, secret: str, code: str) -> str:
        """Where a picture someone sent can be fetched (for a short while), by its downloadCode."""
        body = {"robotCode": client_id, "downloadCode": code}
        data = self._with_token(api_url, client_id, secret, "/v1.0/robot/messageFiles/download", body)
        url = data.get("downloadUrl")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise DingTalkError("dingtalk_http", "download: DingTalk's answer had no downloadUrl")
        return url

    def open_connection(
        self, api_url: str, client_id: str, secret: str, local_ip: str = ""
    ) -> tuple[str, str]:
        """A Stream endpoint and its one-time ticket (valid 90 s, for one connection)."""
        body = {
            "clientId": client_id,
            "clientSecret": secret,
            "subscriptions": [{"type": "CALLBACK", "topic": BOT_TOPIC}],
            "ua": "synochatgpt",
            "localIp": local_ip,
        }
        data = self._call("POST", api_url, "/v1.0/gateway/connections/open", body)
        endpoint, ticket = data.get("endpoint"), data.get("ticket")
        if not (
            isinstance(endpoint, str) and endpoint.startswith(("wss://", "ws://")) and isinstance(ticket, str)
        ):
            raise DingTalkError("dingtalk_http", "the Stream gateway's answer had no endpoint or ticket")
        return endpoint, ticket

    def _with_token(
        self, api_url: str, client_id: str, secret: str, path: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        token = self.access_token(api_url, client_id, secret)
        try:
            return self._call("POST", api_url, path, body, token)
        except DingTalkError as exc:
            if exc.kind != "dingtalk_token":
                raise
        # Revoked or expired early (the secret was reset): one fresh token, once.
        return self._call(
            "POST", api_url, path, body, self.access_token(api_url, client_id, secret, fresh=True)
        )

    def _call(
        self, method: str, api_url: str, path: str, body: dict[str, Any], token: str = ""
    ) -> dict[str, Any]:
        what = path.rsplit("/", 1)[-1]
        headers = {"x-acs-dingtalk-access-token": token} if token else {}
        try:
            answer = self._http.request(
                method, api_url.rstrip("/") + path, json=body, headers=headers, timeout=self._timeout
            )
        except (requests.RequestException, UnicodeError) as exc:
            raise _network_error(exc, what) from None
        data = _json(answer)
        if answer.status_code == 200:
            return data
        code = str(data.get("code", ""))[:100]
        said = str(data.get("message", ""))[:200]
        raise _openapi_error(answer.status_code, code, said, what)


def _json(answer: requests.Response) -> dict[str, Any]:
    try:
        data = answer.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _list(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    return value if isinstance(value, list) else []


def _errcode(code: Any, said: str, what: str) -> DingTalkError:
    try:
        number = int(code)
    except (TypeError, ValueError):
        number = -1
    text = f"{what}: DingTalk answered errcode {code}" + (f" ({said})" if said else "")
    if number == TOO_FAST:
        return DingTalkError("dingtalk_too_fast", text, str(code))
    if number == TOO_LONG:
        return DingTalkError("dingtalk_too_long", text, str(code))
    if number in SESSION_GONE:
        return DingTalkError("dingtalk_session", text, str(code))
    return DingTalkError("dingtalk_failed", text, str(code))


def _openapi_error(status: int, code: str, said: str, what: str) -> DingTalkError:
    text = (
        f"{what}: DingTalk answered HTTP {status}"
        + (f" {code}" if code else "")
        + (f" ({said})" if said else "")
    )
    lowered = code.lower()
    if what in ("accessToken", "open") and status in (400, 401, 403):
        return DingTalkError("dingtalk_secret", text, code)
    # A token DingTalk no longer takes: HTTP 400 InvalidAuthentication in practice, 401 in its docs.
    if status == 401 or lowered == "invalidauthentication":
        return DingTalkError("dingtalk_token", text, code)
    if "accessdenied" in lowered or "permission" in lowered:  # the app lacks a permission
        return DingTalkError("dingtalk_permission", text, code)
    if status == 429 or "qps" in lowered or "flowcontrol" in lowered:
        return DingTalkError("dingtalk_too_fast", text, code)
    if status >= 500:
        return DingTalkError("dingtalk_unreachable", text, code)
    return DingTalkError("dingtalk_failed", text, code)
