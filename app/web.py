"""HTTP routes. Thin: parse, hand over, answer. Built by create_app(); nothing global."""

from __future__ import annotations

import html
import json
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

import bottle

from app import __version__, synology
from app.settings import Values
from app.worker import Job

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # Chat's messages are far smaller; anything bigger is not from Chat
TOO_LARGE = "the body is larger than 1 MB"


class Inbox(Protocol):
    def job_for(
        self, user_id: int, username: str, text: str, dedupe: str, conversation: str | None = None
    ) -> Job: ...


class Queue(Protocol):
    def accept(self, job: Job) -> bool: ...
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
    model_ready: Callable[[Values], bool],
    clock: Callable[[], float] = time.monotonic,
) -> bottle.Bottle:
    app = bottle.Bottle()
    started = clock()

    @app.hook("after_request")  # type: ignore[untyped-decorator]
    def security_headers() -> None:
        bottle.response.set_header("X-Content-Type-Options", "nosniff")
        bottle.response.set_header("Referrer-Policy", "no-referrer")
        bottle.response.set_header("X-Frame-Options", "DENY")

    @app.get("/healthz")  # type: ignore[untyped-decorator]
    def healthz() -> bottle.HTTPResponse:
        return _json(
            200, status="ok", version=__version__, uptime=round(clock() - started, 1), queue=queue.pending()
        )

    @app.route("/webhook", method=["GET", "HEAD"])  # type: ignore[untyped-decorator]
    def webhook_probe() -> bottle.HTTPResponse:
        # Chat is reported to probe the URL; a 405 here breaks delivery.
        return _json(200, success=True, service="SynoChatGPT")

    @app.post("/webhook")  # type: ignore[untyped-decorator]
    def webhook() -> bottle.HTTPResponse:
        return _webhook(settings, inbox, queue)

    @app.get("/")  # type: ignore[untyped-decorator]
    def index() -> str:
        values = settings()
        return _status_page(values, model_ready(values))

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


def _webhook(settings: Callable[[], Values], inbox: Inbox, queue: Queue) -> bottle.HTTPResponse:
    try:
        message = synology.parse_inbound(_read_body(), bottle.request.content_type or "")
    except synology.BadRequest as exc:
        log.info("webhook refused (%d): %s", exc.status, exc)
        return _json(exc.status, success=False, error=str(exc))
    values = settings()
    expected = synology.expected_token(values.bot_token, values.bot_incoming_url)
    if not expected:
        log.warning("webhook refused: no bot token is configured yet (set bot_incoming_url)")
        return _json(403, success=False, error="the bot is not configured: no bot token is set")
    if not synology.token_matches(expected, message.token):
        log.warning("webhook refused: wrong token (from user id %s)", message.user_id)
        return _json(403, success=False, error="wrong token")
    if not values.bot_incoming_url:
        # No way to post an answer later: asking the model would only bill the owner and put an
        # answer nobody saw into the history. The reply body is the one channel left to say so.
        log.warning("message from user %s not answered: bot_incoming_url is not set", message.user_id)
        return _json(
            200,
            success=True,
            text="SynoChatGPT: bot_incoming_url is not set, so I cannot answer yet. "
            "/ 尚未设置 bot_incoming_url，暂时无法回复。",
        )
    job = inbox.job_for(
        message.user_id,
        message.username,
        message.text,
        dedupe=f"post:{message.post_id}" if message.post_id else "",
    )
    try:
        fresh = queue.accept(job)
    except OSError as exc:
        # Not stored, so not acknowledged: Chat tells the user the bot failed, which is true.
        log.error("could not store a message from user %s: %s", message.user_id, exc)
        return _json(503, success=False, error="the bot cannot store messages right now")
    if not fresh:
        log.info("ignored a repeated delivery of post %s", message.post_id)
        return _json(200, success=True, duplicate=True)
    log.info("accepted a message from user %s (%d chars)", message.user_id, len(message.text))
    return _json(200, success=True)


def _status_page(values: Values, model_ready: bool) -> str:
    """A plain status page until the settings page exists: no secrets, no settings."""
    root = bottle.request.urlparts
    outgoing = f"{root.scheme}://{root.netloc}/webhook"
    model = "configured" if model_ready else "not set"
    bot = "configured" if synology.expected_token(values.bot_token, values.bot_incoming_url) else "not set"
    return (
        "<!doctype html><meta charset=utf-8><title>SynoChatGPT</title>"
        f"<h1>SynoChatGPT {html.escape(__version__)}</h1>"
        f"<p>Model: {model} · Synology Chat bot: {bot}</p>"
        f"<p>Outgoing URL for the bot in Synology Chat: <code>{html.escape(outgoing)}</code></p>"
    )
