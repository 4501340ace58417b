"""`python -m app` as a real process: start, stop on SIGTERM, crash and resume, the settings
command, errors a user can make on the command line, and logs without secrets."""

from __future__ import annotations

import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import API_KEY, BOT_TOKEN
from tests.fake_openai import FakeOpenAI
from tests.fake_synology import FakeChat
from tests.webclient import ADMIN_PASSWORD, WebClient

ROOT = Path(__file__).resolve().parent.parent


class Process:
    """The server in a child process; stderr is collected in the background."""

    def __init__(
        self,
        data_dir: Path,
        env: dict[str, str],
        *args: str,
        cwd: Path = ROOT,
        python: str | Path = sys.executable,
    ) -> None:
        # cwd and python are there for another release's code (tests/make_upgrade_fixture.py).
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("SYNOCHATGPT_", "OPENAI_"))}
        full_env.update(env)
        self.proc = subprocess.Popen(
            [
                str(python),
                "-m",
                "app",
                *args,
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--data-dir",
                str(data_dir),
            ],
            cwd=cwd,
            env=full_env,
            stderr=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.url = self._wait_for_address()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)

    def _wait_for_address(self, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines:
                match = re.search(r"listening on (http://[\d.]+:\d+)", line)
                if match:
                    return match.group(1)
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError("the server did not start:\n" + self.log())

    def log(self) -> str:
        return "".join(self.lines)

    def say(self, text: str, post_id: int, user_id: int = 4) -> requests.Response:
        return requests.post(
            self.url + "/webhook",
            timeout=5,
            data={
                "token": BOT_TOKEN,
                "user_id": str(user_id),
                "username": "alice",
                "post_id": str(post_id),
                "thread_id": "0",
                "timestamp": "1738829459265",
                "text": text,
            },
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> tuple[int, float]:
        started = time.monotonic()
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code, time.monotonic() - started


def run_app(
    *args: str, extra: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """One short `python -m app …` run with a clean environment plus `extra`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SYNOCHATGPT_", "OPENAI_"))}
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        env={**clean, **(extra or {})},
        check=False,
        timeout=30,
    )


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for process in started:
        if process.proc.poll() is None:
            process.proc.kill()
            process.proc.wait()


def test_serves_answers_and_stops_cleanly_on_sigterm(
    tmp_path: Path, env: dict[str, str], fake_chat: FakeChat, processes: list[Process]
) -> None:
    server = Process(tmp_path / "data", env)
    processes.append(server)
    assert requests.get(server.url + "/healthz", timeout=5).json()["status"] == "ok"
    assert server.say("hello", post_id=1).status_code == 200
    assert fake_chat.wait_for(1)[0].text == "Answer to: hello"
    code, took = server.stop()
    assert code == 0, server.log()
    assert took < 3.0
    assert "stopped" in server.log()


def test_sigterm_with_an_answer_in_flight_loses_nothing(
    tmp_path: Path, env: dict[str, str], fake_model: FakeOpenAI, fake_chat: FakeChat, processes: list[Process]
) -> None:
    fake_model.delay = 8.0  # longer than the stop grace: the answer cannot finish before exit
    server = Process(tmp_path / "data", env)
    processes.append(server)
    assert server.say("slow question", post_id=7).status_code == 200
    time.sleep(0.5)
    code, took = server.stop()
    assert code == 0 and took < 8.0, f"took {took:.1f} s; DSM allows 20"
    fake_model.delay = 0.0
    again = Process(tmp_path / "data", env)
    processes.append(again)
    posts = fake_chat.wait_for(1, timeout=15)
    assert posts[0].text == "Answer to: slow question"
    assert "1 message(s) resumed" in again.log()


def test_kill_9_after_the_200_loses_nothing(
    tmp_path: Path, env: dict[str, str], fake_model: FakeOpenAI, fake_chat: FakeChat, processes: list[Process]
) -> None:
    fake_model.delay = 30.0
    server = Process(tmp_path / "data", env)
    processes.append(server)
    for i in range(3):
        assert server.say(f"question {i}", post_id=100 + i).status_code == 200
    server.stop(signal.SIGKILL)
    fake_model.delay = 0.0
    again = Process(tmp_path / "data", env)
    processes.append(again)
    posts = fake_chat.wait_for(3, timeout=20)
    assert [p.text for p in posts] == [f"Answer to: question {i}" for i in range(3)]
    assert again.say("question 0", post_id=100).json().get("duplicate") is True, (
        "still remembered after the crash"
    )


def test_logs_and_files_hold_no_secret_in_the_clear(
    tmp_path: Path, env: dict[str, str], fake_model: FakeOpenAI, fake_chat: FakeChat, processes: list[Process]
) -> None:
    env = {**env, "SYNOCHATGPT_LOG_LEVEL": "debug", "SYNOCHATGPT_ADMIN_PASSWORD": ADMIN_PASSWORD}
    fake_chat.script.append({"code": 404})  # a delivery error, logged
    fake_model.fail_next(401, {"error": {"message": f"Incorrect API key provided: {API_KEY}"}})
    server = Process(tmp_path / "data", env)
    processes.append(server)
    server.say("hello", post_id=1)
    requests.post(
        server.url + "/webhook", data={"token": BOT_TOKEN + "x", "user_id": "4", "text": "x"}, timeout=5
    )
    time.sleep(1.0)
    server.say("again", post_id=2)
    fake_chat.wait_for(1)
    web = WebClient(server.url)
    assert web.login("a wrong password").status_code == 401
    assert web.login().status_code == 303 and web.get("/").status_code == 200
    form = {**web.settings_form(), "openai_api_key": API_KEY + "2"}
    assert web.post("/settings", form).status_code == 303
    server.stop()
    log = server.log()
    assert "wrong token" in log and "could not deliver" in log and "failed login" in log, log
    for secret in (API_KEY, BOT_TOKEN, fake_chat.url(), ADMIN_PASSWORD):
        assert secret not in log
    for path in (tmp_path / "data").rglob("*.json"):
        assert ADMIN_PASSWORD not in path.read_text()
    for path in (tmp_path / "data").rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), f"{path} is {oct(mode)}"


def test_the_setup_code_in_the_log_opens_the_first_run_page(
    tmp_path: Path, env: dict[str, str], processes: list[Process]
) -> None:
    server = Process(tmp_path / "data", env)
    processes.append(server)
    found = re.search(r"enter the setup code ([2-9A-Z]{4}-[2-9A-Z]{4})", server.log())
    assert found, server.log()
    web = WebClient(server.url)
    assert web.get("/").headers["Location"] == "/setup"
    web.get("/setup")
    fields = {"code": found.group(1), "password": ADMIN_PASSWORD, "confirm": ADMIN_PASSWORD}
    assert web.post("/setup", fields).status_code == 303
    assert web.get("/").status_code == 200
    server.stop()
    assert "the admin password was set on the first-run page" in server.log()
    assert ADMIN_PASSWORD not in server.log()


def test_settings_command(tmp_path: Path) -> None:
    data = tmp_path / "data"

    def run(
        *args: str, stdin: str = "", extra: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return run_app("settings", "--data-dir", str(data), *args, stdin=stdin, extra=extra)

    assert run("set", "openai_api_key", "-", stdin="sk-from-stdin-abcdefgh1234\n").returncode == 0
    assert run("set", "temperature", "0.3").returncode == 0
    shown = run().stdout
    assert "openai_api_key = (set, ends in …1234)" in shown and "sk-from-stdin" not in shown
    assert "temperature = 0.3" in shown
    bad = run("set", "temperature", "hot")
    assert bad.returncode == 2 and "temperature must be a number" in bad.stderr
    fixed = run("set", "model", "x", extra={"SYNOCHATGPT_MODEL": "qwen"})
    assert fixed.returncode == 2 and "fixed by the environment variable SYNOCHATGPT_MODEL" in fixed.stderr
    assert "[fixed by SYNOCHATGPT_MODEL]" in run(extra={"SYNOCHATGPT_MODEL": "qwen"}).stdout
    assert run("unset", "temperature").returncode == 0
    assert "temperature = (not set)" in run().stdout
    fixed_unset = run("unset", "model", extra={"SYNOCHATGPT_MODEL": "qwen"})
    assert (
        fixed_unset.returncode == 2
        and "fixed by the environment variable SYNOCHATGPT_MODEL" in fixed_unset.stderr
    )
    assert stat.S_IMODE((data / "settings.json").stat().st_mode) == 0o600


def test_a_start_up_option_before_the_subcommand_counts(tmp_path: Path) -> None:
    """`python -m app --data-dir X settings …` once wrote to ./data: the subcommand's own
    default for the flag replaced the one given before it."""
    data = tmp_path / "before"
    done = run_app("--data-dir", str(data), "settings", "set", "temperature", "0.3")
    assert done.returncode == 0, done.stderr
    assert "temperature = 0.3" in run_app("settings", "--data-dir", str(data)).stdout


@pytest.mark.parametrize(
    ("args", "extra", "message"),
    [
        (["--port", "http"], {}, "--port: expected a port number"),
        ([], {"SYNOCHATGPT_PORT": "99999"}, "SYNOCHATGPT_PORT: expected a port number"),
        ([], {"SYNOCHATGPT_TEMPERATURE": "warm"}, "SYNOCHATGPT_TEMPERATURE must be a number"),
        ([], {"SYNOCHATGPT_BOT_INCOMING_URL": "nas:5000"}, "SYNOCHATGPT_BOT_INCOMING_URL must be an http"),
    ],
)
def test_start_up_errors_are_explained(
    tmp_path: Path, args: list[str], extra: dict[str, str], message: str
) -> None:
    result = run_app("serve", "--data-dir", str(tmp_path), *args, extra=extra)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_a_busy_port_is_explained(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = run_app("--host", "127.0.0.1", "--port", port, "--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "Traceback" not in result.stderr


def test_a_corrupt_settings_file_is_explained(tmp_path: Path) -> None:
    (tmp_path / "settings.json").write_text("{broken")
    result = run_app("--port", "0", "--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert "settings.json is not valid JSON" in result.stderr
