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
from app.downloads import Downloads
from app.gate import Gate
from app.monitor import Monitor
from app.settings import Values
from app.webchat import WebChat

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # Chat's messages are far smaller; anything bigger is not from Chat
TOO_LARGE = "the body is larger than 1 MB"
# No inline script or style anywhere, so the policy can forbid both: an injected <script> in a
# page would not run.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


# On every answer, error pages and the server's own refusals (server.py) included.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    # Not no-referrer: with it, browsers send "Origin: null" on form posts, and the CSRF check
    # needs the real origin. same-origin still tells other sites nothing.
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": CSP,
    "Cross-Origin-Opener-Policy": "same-origin",
}


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
    *,
    gate: Gate,
    queue: Queue,
    console: pages.Console,
    files: Downloads,
    web_chat: Callable[[pages.Pages], WebChat],
    clock: Callable[[], float] = time.monotonic,
) -> bottle.Bottle:
    app = bottle.Bottle()
    started = clock()
    monitor = console.monitor

    @app.hook("before_request")  # type: ignore[untyped-decorator]
    def guard_chunked_body() -> None:
        environ = bottle.request.environ
        if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            environ["wsgi.input"] = _Chunked(environ["wsgi.input"])

    @app.hook("after_request")  # type: ignore[untyped-decorator]
    def security_headers() -> None:
        for name, value in SECURITY_HEADERS.items():
            bottle.response.set_header(name, value)

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
        return _webhook(settings, gate, queue, monitor)

    @app.get("/files/<key>/<name>", public=True)  # type: ignore[untyped-decorator]
    def download(key: str, name: str) -> bottle.HTTPResponse:
        # Chat downloads an attached export from here; the 256-bit key is the permission.
        found = files.get(key)
        if found is None or found.name != name:
            return _json(404, success=False, error="no such file, or its link has expired")
        return bottle.HTTPResponse(
            body=found.content,
            status=200,
            headers={
                "Content-Type": "text/markdown; charset=utf-8",
                "Content-Disposition": f'attachment; filename="{found.name}"',
                "Cache-Control": "no-store",
            },
        )

    web_chat(pages.install(app, console)).route(app)
    for code in (400, 404, 405, 413, 500):
        app.error(code)(_error_page)
    return app


class _Chunked:
    """A chunked body whose bad chunk size ("zz") is the client's error (400), wherever it is
    read (a webhook, a form): cheroot raises ValueError for it, which would be a 500."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def read(self, size: int | None = None) -> bytes:
        try:
            return bytes(self._stream.read(size))
        except ValueError:
            raise bottle.HTTPError(400, "the chunked body is malformed") from None

    def readline(self, size: int | None = None) -> bytes:
        try:
            return bytes(self._stream.readline(size))
        except ValueError:
            raise bottle.HTTPError(400, "the chunked body is malformed") from None


def _error_page(error: bottle.HTTPError) -> str:
    """Bottle's own error pages; kept plain, and never with a traceback. Bottle replaces the
    headers the after_request hook set with the error's own, so they are set again here."""
    for name, value in SECURITY_HEADERS.items():
        bottle.response.set_header(name, value)
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
    except bottle.HTTPError as exc:  # a malformed chunked body (_Chunked)
        raise synology.BadRequest(str(exc.body)) from None
    if len(body) > MAX_BODY:
        raise synology.BadRequest(TOO_LARGE, status=413)
    return body


def _webhook(
    settings: Callable[[], Values], gate: Gate, queue: Queue, monitor: Monitor
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
    parts = bottle.request.urlparts
    outcome = gate.receive(message, settings(), f"{parts.scheme}://{parts.netloc}")
    if outcome.status != 200:
        # Without a valid token the user id and name are only claims: anyone on the network
        # could put any name in the list, so the list shows the address and the reason alone.
        log.warning("webhook refused from %s: %s", client, outcome.error)
        monitor.webhook(outcome.status, outcome.reason, client=client, chars=len(message.text))
        return _json(outcome.status, success=False, error=outcome.error)
    if outcome.job is None:
        log.info("webhook from user %s answered at once: %s", message.user_id, outcome.reason)
        monitor.webhook(200, outcome.reason, **who)
        return _json(200, success=True, **({"text": outcome.text} if outcome.text else {}))
    try:
        accepted = queue.accept(outcome.job)
    except OSError as exc:
        # Not stored, so not acknowledged: Chat tells the user the bot failed, which is true.
        log.error("could not store a message from user %s: %s", message.user_id, exc)
        monitor.webhook(503, "store_failed", **who)
        return _json(503, success=False, error="the bot cannot store messages right now")
    if accepted == worker.BUSY:
        # Answered at once, in the reply body: better than an answer that comes far too late.
        log.warning("queue full: refused a message from user %s", message.user_id)
        monitor.webhook(200, "busy", **who)
        return _json(200, success=True, busy=True, text=i18n.t(outcome.lang, "busy"))
    if accepted == worker.DUPLICATE:
        log.info("ignored a repeated delivery of post %s", message.post_id)
        monitor.webhook(200, "duplicate", **who)
        return _json(200, success=True, duplicate=True)
    log.info("accepted a message from user %s (%d chars)", message.user_id, len(message.text))
    monitor.webhook(200, "accepted", **who)
    return _json(200, success=True, **({"text": outcome.accepted_text} if outcome.accepted_text else {}))
