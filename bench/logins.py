"""Memory under parallel wrong logins: 16 wrong passwords posted at once to a running server's
/login, each from its own loopback address (127.0.0.2, .3, …) so that the per-address throttle
does not hide what the hashing itself costs. Each check is scrypt with 16 MiB, so without a
bound 16 of them need 256 MiB at once. Reads the server's VmRSS and VmHWM (peak) from /proc.

Used by `make bench` (the lead wires it into run.py) and by tests/test_hardening_auth.py.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import http.client
import re
import threading
import urllib.parse
from pathlib import Path

FORM_COOKIE = "synochatgpt_form"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclasses.dataclass
class Figures:
    rss_before_mib: float
    rss_after_mib: float
    peak_before_mib: float  # VmHWM: the most the process ever held, before and after the burst
    peak_after_mib: float
    statuses: list[int]


def status_mib(pid: int, field: str) -> float:
    found = re.search(rf"{field}:\s+(\d+)", Path(f"/proc/{pid}/status").read_text())
    return int(found.group(1)) / 1024 if found else 0.0


def _request(
    url: str,
    method: str,
    path: str,
    *,
    body: str = "",
    headers: dict[str, str] | None = None,
    source: str = "",
) -> tuple[int, dict[str, str], str]:
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(
        parts.hostname or "127.0.0.1",
        parts.port or 80,
        timeout=60,
        source_address=(source, 0) if source else None,
    )
    try:
        connection.request(method, path, body=body.encode(), headers=headers or {})
        answer = connection.getresponse()
        text = answer.read().decode("utf-8", "replace")
        found = {k.lower(): v for k, v in answer.getheaders() if k.lower() == "set-cookie"}
        return answer.status, found, text
    finally:
        connection.close()


def login_form(url: str) -> tuple[str, str]:
    """The form cookie and its CSRF token: one pair serves any number of posts."""
    _, headers, text = _request(url, "GET", "/login")
    cookie = re.search(rf"{FORM_COOKIE}=([^;]+)", headers.get("set-cookie", ""))
    token = _CSRF.search(text)
    if not cookie or not token:
        raise RuntimeError("the login page gave no form token")
    return cookie.group(1), token.group(1)


def wrong_logins(url: str, pid: int, count: int = 16, path: str = "/login", spread: bool = True) -> Figures:
    """Post `count` wrong passwords at once, each from its own loopback address (or all from
    127.0.0.1 when not `spread`), and read the server's memory before and after. Loopback only:
    `url` must point at 127.0.0.1."""
    if urllib.parse.urlsplit(url).hostname != "127.0.0.1":
        raise ValueError("wrong_logins sends from 127.0.0.x and needs a server on 127.0.0.1")
    nonce, token = login_form(url)
    body = urllib.parse.urlencode({"csrf": token, "password": "not the password", "name": "nobody"})
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": f"{FORM_COOKIE}={nonce}"}
    rss_before, peak_before = status_mib(pid, "VmRSS"), status_mib(pid, "VmHWM")
    start = threading.Barrier(count)

    def one(number: int) -> int:
        start.wait(30)
        return _request(
            url, "POST", path, body=body, headers=headers, source=f"127.0.0.{2 + number}" if spread else ""
        )[0]

    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        statuses = list(pool.map(one, range(count)))
    return Figures(rss_before, status_mib(pid, "VmRSS"), peak_before, status_mib(pid, "VmHWM"), statuses)


def rss_after_wrong_logins(url: str, pid: int, count: int = 16) -> float:
    """The figure for the bench report: the server's RSS (MiB) after `count` parallel wrong logins."""
    return wrong_logins(url, pid, count).rss_after_mib
