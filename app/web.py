"""The one HTTP app: health checks, each platform's own routes (app/platforms), the settings
page (pages.py) and the web chat. Built by create_app(); nothing global."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import bottle

from app import __version__, pages, worker
from app.gate import Gate
from app.platforms import http
from app.platforms.base import Platform, Wiring
from app.settings import Values
from app.webchat import WebChat

log = logging.getLogger(__name__)

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


def create_app(
    settings: Callable[[], Values],
    *,
    gate: Gate,
    queue: Queue,
    console: pages.Console,
    platforms: Sequence[Platform],
    web_chat: Callable[[pages.Pages], WebChat],
    clock: Callable[[], float] = time.monotonic,
) -> bottle.Bottle:
    # bottle keeps a form field bigger than 100 KB (a picture pasted into the web chat) out of
    # request.forms, and refuses several that add up to more; the front door already holds every
    # body to http.MAX_BODY, so the same limit applies here. A class attribute: bottle reads it
    # from there, and every app in this process wants the same.
    bottle.BaseRequest.MEMFILE_MAX = http.MAX_BODY
    app = bottle.Bottle()
    started = clock()
    wiring = Wiring(
        settings, gate, queue, record=console.monitor.webhook, client_address=pages.client_address
    )

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
        return http.json_answer(
            200, status="ok", version=__version__, uptime=round(clock() - started, 1), queue=queue.pending()
        )

    for platform in platforms:
        platform.route(app, wiring)
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
