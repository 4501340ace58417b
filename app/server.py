"""The HTTP server: cheroot, built directly so it can be stopped from a signal or a test
(bottle.run gives no handle to stop it)."""

from __future__ import annotations

import logging
import threading
from typing import Any

from cheroot import wsgi

log = logging.getLogger(__name__)


class Server:
    def __init__(self, app: Any, host: str, port: int, *, threads: int = 16, max_body: int) -> None:
        self.app = app
        self._server = wsgi.Server(
            (host, port),
            app,
            numthreads=threads,
            shutdown_timeout=5,
            server_name="SynoChatGPT",
            # cheroot's default backlog is 5: a burst of 64 webhooks got connections reset.
            request_queue_size=128,
        )
        # Refuse oversized bodies before they are read; the app checks again for chunked ones.
        self._server.max_request_body_size = max_body
        self._thread: threading.Thread | None = None

    def start(self) -> tuple[str, int]:
        """Bind (port 0 picks a free port) and serve in a background thread."""
        self._server.prepare()
        self._thread = threading.Thread(target=self._server.serve, name="http", daemon=True)
        self._thread.start()
        host, port = self._server.bind_addr[:2]
        return str(host), int(port)

    def stop(self) -> None:
        """Stop listening and let requests in flight finish (up to shutdown_timeout)."""
        self._server.stop()
        if self._thread:
            self._thread.join(10)
