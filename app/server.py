"""The HTTP server: cheroot, built directly so it can be stopped from a signal or a test
(bottle.run gives no handle to stop it), with a front door that holds each connection until
its request has arrived (frontdoor.py says why)."""

from __future__ import annotations

import collections
import contextlib
import logging
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from cheroot import wsgi

from app import frontdoor

log = logging.getLogger(__name__)

WAITING_CAP = 512  # connections waiting for their request, in all (each costs one descriptor)
WAITING_PER_ADDRESS = 128  # from one address: its oldest is closed to make room


class _Waiting:
    __slots__ = ("address", "conn", "since")

    def __init__(self, conn: Any, address: str, since: float) -> None:
        self.conn, self.address, self.since = conn, address, since


class FrontDoor:
    """Connections whose request has not fully arrived, watched by one thread with an
    edge-triggered epoll: each new byte wakes it once, it peeks (reads nothing, so cheroot
    later reads the request as if nothing had happened) and passes a complete request on.
    A request that is malformed or too large is answered at once and closed; one that is not
    complete within frontdoor.HEAD_SECONDS is answered 408 and closed."""

    def __init__(
        self,
        hand_over: Callable[[Any], None],
        max_body: int,
        headers: Mapping[str, str],
        *,
        clock: Callable[[], float] = time.monotonic,
        cap: int = WAITING_CAP,
        per_address: int = WAITING_PER_ADDRESS,
    ) -> None:
        self._hand_over = hand_over
        self._max_body = max_body
        self._headers = dict(headers)
        self._clock = clock
        self._cap = cap
        self._per_address = per_address
        self.head_seconds = frontdoor.HEAD_SECONDS
        self._lock = threading.Lock()
        self._waiting: dict[int, _Waiting] = {}  # by descriptor, oldest first
        self._by_address: collections.Counter[str] = collections.Counter()
        self._epoll = select.epoll()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="front-door", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping = True
        if self._thread:
            self._thread.join(5)
        with self._lock:
            for entry in list(self._waiting.values()):
                self._drop(entry)
        self._epoll.close()

    def waiting(self) -> int:
        with self._lock:
            return len(self._waiting)

    def admit(self, conn: Any) -> None:
        """A connection with something to read (new, or kept alive and readable again)."""
        verdict = self._look(conn)
        if verdict is None:
            return  # closed by the client
        if verdict.ready:
            self._hand_over(conn)
            return
        if verdict.status:
            self._refuse(conn, verdict)
            return
        address = _address(conn)
        with self._lock:
            if self._by_address[address] >= self._per_address:
                self._drop(next(e for e in self._waiting.values() if e.address == address))
            elif len(self._waiting) >= self._cap:
                self._drop(next(iter(self._waiting.values())))
            entry = _Waiting(conn, address, self._clock())
            fd = conn.socket.fileno()
            self._waiting[fd] = entry
            self._by_address[address] += 1
            # Edge-triggered: woken once per arrival of new bytes, not again and again for the
            # bytes already there (a peek leaves them in place).
            self._epoll.register(fd, select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLET)

    def _run(self) -> None:
        while not self._stopping:
            try:
                events = self._epoll.poll(0.5)
            except OSError:
                return  # closed by stop()
            for fd, _ in events:
                with self._lock:
                    entry = self._waiting.get(fd)
                if entry is not None:
                    self._recheck(entry)
            self._expire()

    def _recheck(self, entry: _Waiting) -> None:
        verdict = self._look(entry.conn)
        if verdict is not None and not verdict.ready and not verdict.status:
            return  # still waiting
        with self._lock:
            if not self._forget(entry):
                return
        if verdict is None:
            _close(entry.conn)
        elif verdict.ready:
            self._hand_over(entry.conn)
        else:
            self._refuse(entry.conn, verdict)

    def _expire(self) -> None:
        limit = self._clock() - self.head_seconds
        with self._lock:
            late = [e for e in self._waiting.values() if e.since < limit]
            for entry in late:
                self._forget(entry)
        for entry in late:
            self._refuse(
                entry.conn, frontdoor.Verdict(status=408, reason="the request took too long to arrive")
            )

    def _forget(self, entry: _Waiting) -> bool:
        """Take the entry out (under the lock); False if it was already out."""
        fd = entry.conn.socket.fileno()
        if self._waiting.get(fd) is not entry:
            return False
        del self._waiting[fd]
        self._by_address[entry.address] -= 1
        if self._by_address[entry.address] <= 0:
            del self._by_address[entry.address]
        with contextlib.suppress(OSError, ValueError):
            self._epoll.unregister(fd)
        return True

    def _drop(self, entry: _Waiting) -> None:
        """Close a waiting connection to make room (under the lock)."""
        if self._forget(entry):
            _close(entry.conn)

    def _look(self, conn: Any) -> frontdoor.Verdict | None:
        """The verdict on what has arrived; None when the client closed without a request."""
        rfile = conn.rfile
        buffered = bytes(rfile._read_buf[rfile._read_pos :]) if rfile.has_data() else b""
        want = frontdoor.MAX_HEAD + frontdoor.BODY_WAIT + 1 - len(buffered)
        try:
            with _nonblocking(conn.socket) as sock:
                peeked = sock.recv(max(want, 1), socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            peeked = None
        except OSError:
            return None
        if peeked == b"" and not buffered:
            return None
        return frontdoor.check(buffered + (peeked or b""), self._max_body)

    def _refuse(self, conn: Any, verdict: frontdoor.Verdict) -> None:
        log.info("refused a request from %s (%d): %s", _address(conn), verdict.status, verdict.reason)
        with contextlib.suppress(OSError), _nonblocking(conn.socket) as sock:
            sock.send(frontdoor.response(verdict.status, verdict.reason, self._headers, verdict.language))
        _close(conn)


@contextlib.contextmanager
def _nonblocking(sock: socket.socket) -> Iterator[socket.socket]:
    """The socket without its timeout for a moment: with one set (cheroot sets one), Python
    first waits for the socket to be ready, even for a peek that must not wait at all."""
    timeout = sock.gettimeout()
    sock.settimeout(0.0)
    try:
        yield sock
    finally:
        with contextlib.suppress(OSError):
            sock.settimeout(timeout)


def _address(conn: Any) -> str:
    remote = getattr(conn, "remote_addr", None)
    return str(remote) if remote else "?"


def _close(conn: Any) -> None:
    with contextlib.suppress(OSError):
        conn.close()


class _Cheroot(wsgi.Server):
    """cheroot's server with the front door before its threads."""

    door: FrontDoor

    def process_conn(self, conn: Any) -> None:
        self.door.admit(conn)


class Server:
    def __init__(
        self,
        app: Any,
        host: str,
        port: int,
        *,
        threads: int = 16,
        max_body: int,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.app = app
        self._server = _Cheroot(
            (host, port),
            app,
            numthreads=threads,
            shutdown_timeout=5,
            server_name="SynoChatGPT",
            # cheroot's default backlog is 5: a burst of 64 webhooks got connections reset.
            request_queue_size=128,
        )
        # cheroot leaves both unlimited by default; the front door checks them first, these
        # are the second line (a chunked body, a head that grew after the door let it in).
        self._server.max_request_body_size = max_body
        self._server.max_request_header_size = frontdoor.MAX_HEAD
        self.door = FrontDoor(
            lambda conn: wsgi.Server.process_conn(self._server, conn), max_body, headers or {}
        )
        self._server.door = self.door
        self._thread: threading.Thread | None = None

    def bind(self) -> tuple[str, int]:
        """Take the port (0 picks a free one) without answering yet."""
        self._server.prepare()
        host, port = self._server.bind_addr[:2]
        return str(host), int(port)

    def serve(self) -> None:
        """Answer requests, in background threads."""
        self.door.start()
        self._thread = threading.Thread(target=self._server.serve, name="http", daemon=True)
        self._thread.start()

    def start(self) -> tuple[str, int]:
        address = self.bind()
        self.serve()
        return address

    def stop(self) -> None:
        """Stop listening and let requests in flight finish (up to shutdown_timeout)."""
        self._server.stop()
        if self._thread:
            self._thread.join(10)
        self.door.stop()
