"""Pictures' figures for `make bench`: the time from `/image` in a Synology Chat message to the
picture arriving in Chat (downloaded from its file_url) with an image server that takes 5 s, and
the memory the server uses while it reads a 10 MB picture someone sent in QQ (fetched from the
fake NapCat's link, given to the model as a data: URL). The real server in its own process."""

from __future__ import annotations

import re
import statistics
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from tests.fake_onebot import FakeNapCat
from tests.fake_openai import FakeOpenAI, png
from tests.fake_synology import FakeChat

DRAW_SECONDS = 5.0
BIG = 10 * 1024 * 1024 - 64 * 1024  # just under the 10 MB a picture may have


class Running(Protocol):
    url: str
    proc: subprocess.Popen[bytes]

    def stop(self) -> None: ...


def _rss(pid: int) -> float:
    found = re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text())
    return int(found.group(1)) / 1024 if found else 0.0


def _until(probe: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise SystemExit(f"pictures bench: {what} did not happen within {timeout:g} s")
        time.sleep(0.005)


def measure(
    start: Callable[[dict[str, str]], Running],
    model: FakeOpenAI,
    chat: FakeChat,
    say: Callable[[str, int, str], None],
) -> dict[str, Any]:
    """say(url, user, text): a Synology Chat direct message to the server at url."""
    found: dict[str, Any] = {}
    delay, model.image_delay = model.image_delay, DRAW_SECONDS
    server = start({})
    try:
        draws = []
        for n in range(3):
            user = 80_000 + n
            began = time.monotonic()
            say(server.url, user, "/image a fox in the snow")
            _until(_pictured(chat, user), "a picture")
            draws.append(time.monotonic() - began)
        found["draw_p50"], found["draw_max"] = statistics.median(draws), max(draws)
    finally:
        server.stop()
        model.image_delay = delay
    found.update(_reading(start))
    print(
        f"/image to the picture in Chat with a {DRAW_SECONDS:g} s image server: p50 {found['draw_p50']:.2f} s, "
        f"max {found['draw_max']:.2f} s; reading a {BIG / 1024 / 1024:.1f} MB picture from QQ: RSS "
        f"+{found['read_peak']:.1f} MiB at most (idle {found['read_idle']:.1f} MiB), answered in "
        f"{found['read_seconds']:.2f} s",
        flush=True,
    )
    return found


def _pictured(chat: FakeChat, user: int) -> Callable[[], bool]:
    return lambda: any(p.file and user in p.user_ids for p in list(chat.posts))


def _reading(start: Callable[[dict[str, str]], Running]) -> dict[str, Any]:
    qq = FakeNapCat().start()
    env = {
        "SYNOCHATGPT_ONEBOT_API_URL": qq.url,
        "SYNOCHATGPT_ONEBOT_ACCESS_TOKEN": qq.token,
        "SYNOCHATGPT_ONEBOT_SECRET": qq.secret,
    }
    server = start(env)
    try:
        # A small picture first: the SDK and the connections are loaded before the figure.
        qq.push(server.url, qq.event([qq.picture(png()), {"type": "text", "data": {"text": "warm up"}}]))
        _until(lambda: len(qq.sent) >= 1, "the first answer in QQ")
        time.sleep(0.5)
        idle = _rss(server.proc.pid)
        peak = [idle]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], _rss(server.proc.pid))
                time.sleep(0.005)

        sampler = threading.Thread(target=sample)
        sampler.start()
        began = time.monotonic()
        big = qq.picture(png(pad=BIG))
        qq.push(server.url, qq.event([big, {"type": "text", "data": {"text": "what is this?"}}]))
        _until(lambda: len(qq.sent) >= 2, "the answer about the big picture")
        took = time.monotonic() - began
        done.set()
        sampler.join()
        if "saw 1 image" not in qq.sent[1].text:
            raise SystemExit(f"pictures bench: the big picture was not read: {qq.sent[1].text}")
        return {"read_idle": idle, "read_peak": peak[0] - idle, "read_seconds": took}
    finally:
        server.stop()
        qq.stop()


def report(figures: dict[str, Any]) -> list[str]:
    if "draw_p50" not in figures:
        return []
    return [
        f"- Pictures: from `/image` in a Chat message to the picture arriving in Chat (downloaded from its "
        f"file_url) with an image server that takes {DRAW_SECONDS:g} s: p50 {figures['draw_p50']:.2f} s, max "
        f"{figures['draw_max']:.2f} s (3 pictures); reading a {BIG / 1024 / 1024:.1f} MB picture sent in QQ "
        f"(fetched, sent to the model as a data: URL): RSS at most {figures['read_peak']:.1f} MiB above the "
        f"{figures['read_idle']:.1f} MiB before it, answered {figures['read_seconds']:.2f} s after the event.",
    ]
