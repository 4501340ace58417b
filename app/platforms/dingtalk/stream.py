"""DingTalk's Stream mode: the bot opens one outgoing WebSocket to DingTalk, so the NAS needs no
open port and no certificate. One thread keeps it: a one-time ticket from the gateway, the
connection, every frame acknowledged as soon as its message is stored, pings answered, and a
new ticket and connection after DingTalk's `disconnect` or a dropped socket, with a growing
pause (capped) while DingTalk cannot be reached. It follows the settings: it connects when the
Client ID and Secret are set, reconnects when they change, and closes in HTTP mode.

Written on the websockets library's threaded client rather than the dingtalk-stream SDK: the
SDK runs its own asyncio loop and pulls aiohttp, while the app is threads; its protocol is four
frame shapes (shared/reference/platforms.md §1.5)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import random
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any, Protocol

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.sync.client import ClientConnection, connect

from app.platforms.dingtalk import wire
from app.platforms.dingtalk.settings import STREAM
from app.settings import Values

log = logging.getLogger(__name__)

FIRST_PAUSE = 1.0  # seconds before the second try; doubled after each failure
MOST_PAUSE = 60.0  # a NAS offline for a day still tries every minute
POLL = 1.0  # seconds: how soon it sees a changed setting (a stop closes the socket at once)
OPEN_TIMEOUT = 10.0
STEADY = 30.0  # seconds up, without a frame, for a connection to count as one that worked
PING_INTERVAL = 30.0  # the library's pings find a connection that died silently (NAT, sleep)
MAX_FRAME = 1 << 20

OFF, CONNECTING, CONNECTED, WAITING = "off", "connecting", "connected", "waiting"


@dataclasses.dataclass(frozen=True)
class Status:
    """What the settings page shows."""

    state: str = OFF
    since: float = 0.0  # wall clock of the last change of state
    error_kind: str = ""  # the last failure, for the page's sentence
    error: str = ""  # in plain words, never a secret
    retry_at: float = 0.0  # while waiting: when it tries again
    connections: int = 0  # connections opened since start


class Gateway(Protocol):
    def open_connection(
        self, api_url: str, client_id: str, secret: str, local_ip: str = ""
    ) -> tuple[str, str]: ...


# (a message's JSON, when DingTalk sent it in ms by its own clock or 0) → Inbox.receive's status
Handler = Callable[[str, int], int]
Connector = Callable[..., ClientConnection]


class StreamClient:
    def __init__(
        self,
        gateway: Gateway,
        settings: Callable[[], Values],
        handle: Handler,
        *,
        clock: Callable[[], float] = time.time,
        connector: Connector | None = None,
    ) -> None:
        self._gateway = gateway
        self._settings = settings
        self._handle = handle
        self._clock = clock
        self._connect = connector or connect
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._status = Status(since=clock())
        self._socket: ClientConnection | None = None

    def status(self) -> Status:
        with self._lock:
            return self._status

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="dingtalk-stream", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 3.0) -> None:
        self._stop.set()
        current = self._socket
        if current is not None:
            current.close()
        if self._thread is not None:
            # A ticket request can hang on a dead network for its whole timeout: the thread is
            # a daemon, so the process still stops in time.
            self._thread.join(timeout)

    # -- the loop --

    def _set(self, state: str, **fields: Any) -> None:
        with self._lock:
            changes: dict[str, Any] = {"state": state, "since": self._clock(), "retry_at": 0.0}
            if state == CONNECTED:  # the last problem is over
                changes.update(error_kind="", error="")
            self._status = dataclasses.replace(self._status, **{**changes, **fields})

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._keep_connected()
            except Exception:  # a bug must not end Stream mode for good: log it, start over
                log.exception("DingTalk Stream: unexpected error; starting over")
                self._stop.wait(MOST_PAUSE / 4)

    def _keep_connected(self) -> None:
        pause = 0.0
        while not self._stop.is_set():
            values = self._settings()
            wanted = _wanted(values)
            if wanted is None:
                if self.status().state != OFF:
                    self._set(OFF, error_kind="", error="")
                self._stop.wait(POLL)
                pause = 0.0
                continue
            if pause:
                self._set(WAITING, retry_at=self._clock() + pause)
                if self._wait_or_changed(pause, wanted):
                    pause = 0.0
                    continue
            self._set(CONNECTING)
            try:
                served = self._session(values, wanted)
            except wire.DingTalkError as exc:
                self._failed(exc.kind, str(exc))
                served = False
            except InvalidStatus as exc:
                status = exc.response.status_code
                self._failed("dingtalk_ticket", f"the Stream gateway refused the connection (HTTP {status})")
                served = False
            except socket.gaierror:
                self._failed("dingtalk_dns", "the Stream gateway's address could not be looked up (DNS)")
                served = False
            except TimeoutError:
                self._failed("dingtalk_timeout", "the Stream gateway did not answer in time")
                served = False
            except (OSError, InvalidHandshake, InvalidURI, ConnectionClosed) as exc:
                self._failed(
                    "dingtalk_unreachable", f"the Stream gateway cannot be reached ({type(exc).__name__})"
                )
                served = False
            # After a connection that worked, try again at once; after a failure, wait longer
            # each time, with a little jitter so many NAS do not return all at once.
            pause = 0.0 if served else min(MOST_PAUSE, max(FIRST_PAUSE, pause * 2)) * random.uniform(0.9, 1.1)  # noqa: S311

    def _failed(self, kind: str, text: str) -> None:
        log.warning("DingTalk Stream: %s", text)
        with self._lock:
            self._status = dataclasses.replace(self._status, error_kind=kind, error=text)

    def _wait_or_changed(self, seconds: float, wanted: tuple[str, ...]) -> bool:
        """Waits `seconds`; True as soon as the settings change (retry at once), or on stop."""
        end = time.monotonic() + seconds
        while not self._stop.is_set() and time.monotonic() < end:
            self._stop.wait(min(POLL, end - time.monotonic()))
            if _wanted(self._settings()) != wanted:
                return True
        return self._stop.is_set()

    def _session(self, values: Values, wanted: tuple[str, ...]) -> bool:
        """One connection, from its ticket to its end. True when it was up and ended by
        DingTalk or by a change of settings: the next one is opened at once."""
        endpoint, ticket = self._gateway.open_connection(
            values.dingtalk_api_url, values.dingtalk_client_id, values.dingtalk_client_secret
        )
        separator = "&" if "?" in endpoint else "?"
        url = f"{endpoint}{separator}ticket={urllib.parse.quote(ticket, safe='')}"
        with self._connect(
            url,
            open_timeout=OPEN_TIMEOUT,
            ping_interval=PING_INTERVAL,
            ping_timeout=PING_INTERVAL,
            close_timeout=2.0,
            max_size=MAX_FRAME,
            compression=None,
            user_agent_header="SynoChatGPT",
        ) as ws:
            self._socket = ws
            with self._lock:
                connections = self._status.connections + 1
            self._set(CONNECTED, connections=connections)
            log.info("DingTalk Stream connected")
            try:
                return self._serve(ws, wanted)
            finally:
                self._socket = None

    def _serve(self, ws: ClientConnection, wanted: tuple[str, ...]) -> bool:
        opened, frames = time.monotonic(), 0
        while not self._stop.is_set():
            try:
                raw = ws.recv(timeout=POLL)
            except TimeoutError:
                if _wanted(self._settings()) != wanted:
                    log.info("DingTalk settings changed: reconnecting")
                    return True
                continue
            except ConnectionClosed as exc:
                log.info("DingTalk Stream closed (%s)", exc.rcvd.code if exc.rcvd else "no close frame")
                self._failed("dingtalk_dropped", "DingTalk closed the connection")
                # Only a connection that worked is opened again at once: one that DingTalk (or a
                # proxy) closes as soon as it opens would otherwise be retried in a tight loop.
                return frames > 0 or time.monotonic() - opened >= STEADY
            frames += 1
            if isinstance(raw, bytes):
                log.warning("DingTalk Stream: a binary frame, ignored")
                continue
            if self._frame(ws, raw) == "disconnect":
                log.info("DingTalk asked the bot to reconnect")
                return True
        return True

    def _frame(self, ws: ClientConnection, raw: str) -> str:
        """Handles one frame; returns its topic."""
        try:
            frame = json.loads(raw)
            headers = frame["headers"]
            kind, topic = str(frame.get("type", "")), str(headers.get("topic", ""))
            message_id = str(headers["messageId"])
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
            log.warning("DingTalk Stream: a frame that is not DingTalk's, ignored")
            return ""
        data = frame.get("data")
        if kind == "SYSTEM":
            if topic == "ping":  # echoed back as it came, with its opaque value
                self._ack(ws, message_id, data if isinstance(data, str) else "{}")
            return topic
        if kind == "CALLBACK" and topic == wire.BOT_TOPIC:
            sent = str(headers.get("time", ""))
            status = self._handle(
                data if isinstance(data, str) else json.dumps(data),
                int(sent) if sent.isdigit() and len(sent) < 16 else 0,
            )
            if status == 503:
                return topic  # not stored: no ack, so DingTalk pushes it again
        # Anything else (an EVENT the app never subscribed to) is acknowledged too, so it is
        # not pushed again and again.
        self._ack(ws, message_id, json.dumps({"response": None}))
        return topic

    @staticmethod
    def _ack(ws: ClientConnection, message_id: str, data: str) -> None:
        ack = {
            "code": 200,
            "headers": {"messageId": message_id, "contentType": "application/json"},
            "message": "OK",
            "data": data,
        }
        # Unacknowledged when the socket is gone: DingTalk pushes it again, and dedupe answers once.
        with contextlib.suppress(ConnectionClosed):
            ws.send(json.dumps(ack))


def _wanted(values: Values) -> tuple[str, ...] | None:
    """What the connection is opened with, or None when there should be none."""
    if values.dingtalk_mode != STREAM or not (values.dingtalk_client_id and values.dingtalk_client_secret):
        return None
    return (values.dingtalk_api_url, values.dingtalk_client_id, values.dingtalk_client_secret)
