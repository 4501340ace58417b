"""The webhook's answer time while 200 slow or idle connections are held against the server:
100 that send a header byte every few seconds and 100 that send nothing, from four loopback
addresses (127.0.0.2-5), for `hold` seconds. A real webhook is sent from 127.0.0.1 every
second meanwhile. Used by `make bench`."""

from __future__ import annotations

import contextlib
import socket
import time
import urllib.parse

import requests


def webhook_times_while_held(url: str, token: str, hold: float = 30.0, count: int = 200) -> list[float]:
    """Seconds each webhook took while the connections were held (loopback only)."""
    parts = urllib.parse.urlsplit(url)
    address = (parts.hostname or "127.0.0.1", parts.port or 80)
    held: list[socket.socket] = []
    for number in range(count):
        sock = socket.create_connection(address, timeout=5, source_address=(f"127.0.0.{2 + number % 4}", 0))
        if number % 2 == 0:
            sock.sendall(b"POST /webhook HTTP/1.1\r\nHost: x\r\n")
        held.append(sock)
    times: list[float] = []
    started = time.monotonic()
    post_id = 90_000_000
    try:
        while time.monotonic() - started < hold:
            for sock in held[::2]:
                # The slow ones: a byte now and then (closed by the server at its deadline).
                with contextlib.suppress(OSError):
                    sock.sendall(b"X")
            post_id += 1
            fields = {
                "token": token,
                "user_id": "4",
                "username": "alice",
                "post_id": str(post_id),
                "text": "hi",
            }
            began = time.monotonic()
            try:
                requests.post(url + "/webhook", data=fields, timeout=30).raise_for_status()
                times.append(time.monotonic() - began)
            except requests.RequestException:
                times.append(float("inf"))
            time.sleep(1.0)
    finally:
        for sock in held:
            sock.close()
    return times
