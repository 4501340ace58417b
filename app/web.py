"""HTTP routes for Synology Chat and health checks; the settings page's routes are in pages.py.
Thin: parse, hand over, answer. Built by create_app(); nothing global."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

import bottle

from app import __version__, i18n, pages, synology, worker
from app.monitor import Monitor
from app.settings import Values

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # Chat's messages are far smaller; anything bigger is not from Chat
TOO_LARGE = "the body is larger than 1 MB"
# No inline script or style anywhere, so the policy can forbid both: an injected <script> in a
# page would not run.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class Inbox(Protocol):
    def job_for(
        self, user_id: int, username: str, text: str, dedupe: str, conversation: str | None = None
    ) -> worker.Job: ...


class Queue(Protocol):
    def accept(self, job: worker.Job) -> str: ...
    def pending(self) -> int: ...


def _json(code: int, **body: Any) -> bottle.HTTPResponse:
    return bottle.HTTPResponse(
        body=json.dumps(body, ensure_ascii=False),
        status=code,
        headers={"Content-Type": "application/json; charset=utf-8"},
    )


def create_app(
    settings: Callable[[], Values],
    inbox: Inbox,
    queue: Queue,
    console: pages.Console,
    clock: Callable[[], float] = time.monotonic,
) -> bottle.Bottle:
    app = bottle.Bottle()
    started = clock()
    monitor = console.monitor

    @app.hook("after_request")  # type: ignore[untyped-decorator]
    def security_headers() -> None:
        bottle.response.set_header("X-Content-Type-Options", "nosniff")
        # Not no-referrer: with it, browsers send "Origin: null" on form posts, and the CSRF
        # check needs the real origin. same-origin still tells other sites nothing.
        bottle.response.set_header("Referrer-Policy", "same-origin")
        bottle.response.set_header("X-Frame-Options", "DENY")
        bottle.response.set_header("Content-Security-Policy", CSP)
        bottle.response.set_header("Cross-Origin-Opener-Policy", "same-origin")

    @app.get("/healthz", public=True)  # type: ignore[untyped-decorator]
    def healthz() -> bottle.HTTPResponse:
        return _json(
            200, status="ok", version=__version__, uptime=round(clock() - started, 1), queue=queue.pending()
        )

    @app.route("/webhook", method=["GET", "HEAD"], public=True)  # type: ignore[untyped-decorator]
    def webhook_probe() -> bottle.HTTPResponse:
        # Chat is reported to probe the URL; a 405 here breaks delivery.
        return _json(200, success=True, service="SynoChatGPT")

    @app.post("/webhook", public=True)  # type: ignore[untyped-decorator]
    def webhook() -> bottle.HTTPResponse:
        return _webhook(settings, inbox, queue, monitor)

    pages.install(app, console)
    for code in (400, 404, 405, 413, 500):
        app.error(code)(_error_page)
    return app


def _error_page(error: bottle.HTTPError) -> str:
    """Bottle's own error pages; kept plain, and never with a traceback."""
    bottle.response.content_type = "application/json; charset=utf-8"
    if error.status_code >= 500:
        log.error("internal error: %s", error.exception or error.body)
        return json.dumps({"success": False, "error": "internal error"})
    return json.dumps({"success": False, "error": str(error.status_line)})


def _read_body() -> bytes:
    length_header = bottle.request.environ.get("CONTENT_LENGTH") or ""
    if length_header.strip():
        try:
            length = int(length_header)
        except ValueError:
            raise synology.BadRequest("Content-Length is not a number") from None
        if length > MAX_BODY:
            raise synology.BadRequest(TOO_LARGE, status=413)
    else:
        length = MAX_BODY + 1  # chunked: read up to the limit and see
    stream = bottle.request.environ["wsgi.input"]
    try:
        body: bytes = stream.read(min(length, MAX_BODY + 1))
    except OSError:  # cheroot enforces max_request_body_size on chunked bodies this way
        raise synology.BadRequest(TOO_LARGE, status=413) from None
    if len(body) > MAX_BODY:
        raise synology.BadRequest(TOO_LARGE, status=413)
    return body


def _webhook(
    settings: Callable[[], Values], inbox: Inbox, queue: Queue, monitor: Monitor
) -> bottle.HTTPResponse:
    client = pages.client_address()
    try:
        message = synology.parse_inbound(_read_body(), bottle.request.content_type or "")
    except synology.BadRequest as exc:
        log.info("webhook refused (%d): %s", exc.status, exc)
        reason = {401: "no_token", 413: "too_large", 415: "bad_type"}.get(exc.status, "bad_body")
        monitor.webhook(exc.status, reason, client=client, detail=str(exc))
        return _json(exc.status, success=False, error=str(exc))
    who = {
        "client": client,
        "user_id": message.user_id,
        "username": message.username,
        "chars": len(message.text),
    }
    values = settings()
    expected = synology.expected_token(values.bot_token, values.bot_incoming_url)
    if not expected:
        log.warning("webhook refused: no bot token is configured yet (set bot_incoming_url)")
        monitor.webhook(403, "not_configured", **who)
        return _json(403, success=False, error="the bot is not configured: no bot token is set")
    if not synology.token_matches(expected, message.token):
        log.warning("webhook refused: wrong token (from user id %s)", message.user_id)
        monitor.webhook(403, "wrong_token", **who)
        return _json(403, success=False, error="wrong token")
    if not values.bot_incoming_url:
        # No way to post an answer later: asking the model would only bill the owner and put an
        # answer nobody saw into the history. The reply body is the one channel left to say so.
        log.warning("message from user %s not answered: bot_incoming_url is not set", message.user_id)
        monitor.webhook(200, "no_incoming_url", **who)
        return _json(200, success=True, text=_in_their_language(message.text, "no_incoming_url"))
    job = inbox.job_for(
        message.user_id,
        message.username,
        message.text,
        dedupe=f"post:{message.post_id}" if message.post_id else "",
    )
    try:
        outcome = queue.accept(job)
    except OSError as exc:
        # Not stored, so not acknowledged: Chat tells the user the bot failed, which is true.
        log.error("could not store a message from user %s: %s", message.user_id, exc)
        monitor.webhook(503, "store_failed", **who)
        return _json(503, success=False, error="the bot cannot store messages right now")
    if outcome == worker.BUSY:
        # Answered at once, in the reply body: better than an answer that comes far too late.
        log.warning("queue full: refused a message from user %s", message.user_id)
        monitor.webhook(200, "busy", **who)
        return _json(200, success=True, busy=True, text=_in_their_language(message.text, "busy"))
    if outcome == worker.DUPLICATE:
        log.info("ignored a repeated delivery of post %s", message.post_id)
        monitor.webhook(200, "duplicate", **who)
        return _json(200, success=True, duplicate=True)
    log.info("accepted a message from user %s (%d chars)", message.user_id, len(message.text))
    monitor.webhook(200, "accepted", **who)
    return _json(200, success=True)


def _in_their_language(text: str, key: str) -> str:
    """A bot message for the reply body, guessed from the message itself: the webhook does not
    read the user's file (the worker does), so this costs nothing on the hot path."""
    return i18n.t(i18n.detect(text) or "en", key)
