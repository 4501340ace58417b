"""Memory with a huge model answer: the real server (`python -m app serve`, its own process) asks
a fake model that streams a 256 MB answer, made on the fly so the fake holds none of it. The
server must read only max_answer_chars of it and close the stream; its RSS stays flat. Reads
the server's VmRSS and VmHWM (peak) from /proc, as bench/logins.py does.

Used by `make bench` (the lead wires it into run.py). Loopback only.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from bench.logins import status_mib
from tests.fake_http import free_port
from tests.fake_openai import FakeOpenAI, generated
from tests.fake_synology import FakeChat

ROOT = Path(__file__).resolve().parent.parent
API_KEY = "sk-bench-0123456789abcdef"
TOKEN = "B" * 64
ANSWER_BYTES = 256 * 2**20


@dataclasses.dataclass
class Figures:
    rss_before_mib: float
    rss_after_mib: float
    peak_mib: float  # VmHWM: the most the server ever held, the answer included
    answer_chars: int  # what reached Chat, note included
    model_sent_chars: int  # what the fake model wrote before the server closed the stream
    seconds: float


def _serve(model: FakeOpenAI, chat: FakeChat, data: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNOCHATGPT_", "OPENAI_"))}
    env.update(
        SYNOCHATGPT_OPENAI_BASE_URL=model.url,
        SYNOCHATGPT_OPENAI_API_KEY=API_KEY,
        SYNOCHATGPT_MODEL="fake-model",
        SYNOCHATGPT_BOT_INCOMING_URL=chat.url(),
        SYNOCHATGPT_BOT_TOKEN=TOKEN,
        SYNOCHATGPT_LOG_LEVEL="warning",
    )
    command = [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(port)]
    return subprocess.Popen(
        [*command, "--data-dir", str(data)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_ready(url: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.05)
    raise RuntimeError("the server did not start")


def _ask(url: str, post_id: int, text: str) -> None:
    fields = {"token": TOKEN, "user_id": "4", "username": "bench", "post_id": str(post_id), "text": text}
    requests.post(url + "/webhook", data=fields, timeout=10).raise_for_status()


def huge_answer(answer_bytes: int = ANSWER_BYTES, timeout: float = 120.0) -> Figures:
    """Ask once while the model streams `answer_bytes` characters; the server's memory before,
    at its peak and after the answer was posted to Chat."""
    model = FakeOpenAI(api_key=API_KEY).start()
    chat = FakeChat(TOKEN, min_interval=0.05).start()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="bench-answers-") as data:
        server = _serve(model, chat, Path(data), port)
        try:
            _wait_ready(url)
            # One short answer first: the openai SDK is imported on first use (about 40 MiB),
            # which is not what this measures.
            model.pieces = None
            _ask(url, 1, "hello")
            chat.wait_for(1, timeout=30)
            model.pieces = generated(answer_bytes)
            rss_before = status_mib(server.pid, "VmRSS")
            started = time.monotonic()
            _ask(url, 2, "a lot")
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and not any("(The answer was cut" in t for t in chat.texts()):
                time.sleep(0.1)
            seconds = time.monotonic() - started
            return Figures(
                rss_before_mib=rss_before,
                rss_after_mib=status_mib(server.pid, "VmRSS"),
                peak_mib=status_mib(server.pid, "VmHWM"),
                answer_chars=sum(len(t) for t in chat.texts()[1:]),
                model_sent_chars=model.sent_chars,
                seconds=seconds,
            )
        finally:
            server.terminate()
            server.wait(20)
            model.stop()
            chat.stop()


def rss_with_huge_answer() -> tuple[float, float]:
    """The figures for the bench report: the server's peak and after RSS (MiB) with a 256 MB
    answer from the model."""
    figures = huge_answer()
    return figures.peak_mib, figures.rss_after_mib


if __name__ == "__main__":
    print(huge_answer())
