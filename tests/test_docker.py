"""The Docker image, really built and run (make docker-test): health, a chat through it, a
non-root PID 1 that stops cleanly, and data that outlives the container."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests import dockerhost
from tests.conftest import API_KEY, BOT_TOKEN
from tests.fake_http import free_port
from tests.fake_openai import FakeOpenAI
from tests.fake_synology import FakeChat
from tests.test_recovery_hint import shown_command
from tests.webclient import WebClient

pytestmark = pytest.mark.docker
ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "build" / "docker-report.txt"
IMAGE = "synochatgpt-test"


@pytest.fixture(scope="module")
def docker() -> dict[str, str]:
    try:
        return dockerhost.docker_env()
    except dockerhost.Unavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"Docker is needed in CI: {exc}")
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def image(docker: dict[str, str]) -> str:
    try:
        base = dockerhost.base_image(docker)
    except dockerhost.Unavailable as exc:
        pytest.fail(str(exc))
    started = time.monotonic()
    built = subprocess.run(
        ["make", "docker", f"BASE_IMAGE={base}", f"IMAGE={IMAGE}"],
        cwd=ROOT,
        env=docker,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    size = int(docker_cmd(docker, "image", "inspect", "-f", "{{.Size}}", f"{IMAGE}:latest").strip())
    report(
        f"image {IMAGE}:latest on {base}: {size / 1e6:.0f} MB, built in {time.monotonic() - started:.0f} s"
    )
    return f"{IMAGE}:latest"


def docker_cmd(env: dict[str, str], *args: str, check: bool = True, timeout: float = 120) -> str:
    result = subprocess.run(
        ["docker", *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {result.stderr}")
    return result.stdout


def report(line: str) -> None:
    REPORT.parent.mkdir(exist_ok=True)
    with REPORT.open("a") as handle:
        handle.write(line + "\n")


class Container:
    def __init__(self, env: dict[str, str], image: str, volume: str, settings: dict[str, str]) -> None:
        self.env = env
        self.name = f"synochatgpt-test-{uuid.uuid4().hex[:8]}"
        self.port = free_port()
        args = [
            "run",
            "-d",
            "--name",
            self.name,
            "--network",
            "host",
            "--health-interval",
            "1s",
            "--health-start-period",
            "1s",
            "-v",
            f"{volume}:/data",
            "-e",
            f"SYNOCHATGPT_PORT={self.port}",
            "-e",
            "SYNOCHATGPT_HOST=127.0.0.1",
        ]
        for name, value in settings.items():
            args += ["-e", f"{name}={value}"]
        docker_cmd(env, *args, image)
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_healthy(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = json.loads(docker_cmd(self.env, "inspect", "-f", "{{json .State}}", self.name))
            if state.get("Health", {}).get("Status") == "healthy":
                return
            if not state["Running"]:
                break
            time.sleep(0.5)
        raise AssertionError("not healthy: " + docker_cmd(self.env, "logs", self.name, check=False))

    def say(self, text: str, post_id: int) -> None:
        answer = requests.post(
            self.url + "/webhook",
            timeout=10,
            data={
                "token": BOT_TOKEN,
                "user_id": "4",
                "username": "alice",
                "post_id": str(post_id),
                "text": text,
            },
        )
        assert answer.status_code == 200, answer.text

    def exec_with_input(self, command: str, text: str) -> None:
        """A `docker exec …` command line, its standard input piped in."""
        words = command.split()
        words = words[1:] if words[0] == "docker" else words
        result = subprocess.run(
            ["docker", *words],
            env=self.env,
            input=text,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0 and "saved" in result.stdout, result.stderr

    def logs(self) -> str:
        result = subprocess.run(
            ["docker", "logs", self.name],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return result.stdout + result.stderr

    def remove(self) -> None:
        docker_cmd(self.env, "rm", "-f", self.name, check=False)


@pytest.fixture
def volume(docker: dict[str, str]) -> Iterator[str]:
    name = f"synochatgpt-test-{uuid.uuid4().hex[:8]}"
    docker_cmd(docker, "volume", "create", name)
    yield name
    docker_cmd(docker, "volume", "rm", "-f", name, check=False)


def test_image_is_small_and_carries_no_build_tools(docker: dict[str, str], image: str) -> None:
    found = docker_cmd(
        docker,
        "run",
        "--rm",
        "--network",
        "host",
        "--entrypoint",
        "/bin/sh",
        image,
        "-c",
        "for t in gcc cc make pip pip3 /opt/venv/bin/pip; do command -v $t; done; "
        "ls /wheels /root/.cache/pip 2>/dev/null; id -u",
        check=False,
    )
    assert found.split() == ["8008"], f"left in the image: {found}"
    size = int(docker_cmd(docker, "image", "inspect", "-f", "{{.Size}}", image).strip())
    assert size < 400e6, f"{size / 1e6:.0f} MB"


def test_container_chats_runs_as_non_root_and_keeps_data(
    docker: dict[str, str], image: str, volume: str, fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    settings = {
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_BASE_URL": fake_model.url,
        "SYNOCHATGPT_MODEL": "fake-model",
        "SYNOCHATGPT_BOT_INCOMING_URL": fake_chat.url(),
    }
    first = Container(docker, image, volume, settings)
    try:
        first.wait_healthy()
        assert requests.get(first.url + "/healthz", timeout=5).json()["status"] == "ok"
        assert docker_cmd(docker, "exec", first.name, "id", "-u").strip() == "8008"
        pid1 = docker_cmd(docker, "exec", first.name, "cat", "/proc/1/cmdline").replace("\0", " ")
        assert re.search(r"python3? -m app serve", pid1), pid1

        # The settings page ships in the image: first run asks for the code printed in the log.
        setup = requests.get(first.url + "/", timeout=5, allow_redirects=True)
        assert setup.url.endswith("/setup") and 'name="code"' in setup.text
        assert requests.get(first.url + "/static/app.js", timeout=5).status_code == 200
        assert re.search(r"setup code [2-9A-Z]{4}-[2-9A-Z]{4}", first.logs())

        first.say("Remember: my cat is called Miso.", post_id=1)
        assert fake_chat.wait_for(1, timeout=30)[0].text == "Answer to: Remember: my cat is called Miso."
        set_prompt = [
            "exec",
            first.name,
            "/opt/venv/bin/python",
            "-m",
            "app",
            "settings",
            "set",
            "system_prompt",
            "Talk like a pirate.",
        ]
        assert "saved" in docker_cmd(docker, *set_prompt)

        # A forgotten password: the login page gives docker exec into the container; as shown
        # (with this test's container name, and no terminal to type in) it sets a new one.
        python = "/opt/venv/bin/python -m app settings set admin_password -"
        first.exec_with_input(f"exec -i {first.name} {python}", "first password\n")
        shown = shown_command(requests.get(first.url + "/login", timeout=5).text)
        assert shown == f"docker exec -it synochatgpt {python}", shown
        first.exec_with_input(
            shown.replace("exec -it synochatgpt", f"exec -i {first.name}"), "second password\n"
        )
        assert WebClient(first.url).login("second password").status_code == 303

        time.sleep(2)
        host_pid = docker_cmd(docker, "inspect", "-f", "{{.State.Pid}}", first.name).strip()
        found = re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{host_pid}/status").read_text())
        assert found
        rss = int(found.group(1)) / 1024
        report(f"container idle RSS after one chat: {rss:.1f} MiB")

        started = time.monotonic()
        docker_cmd(docker, "stop", "--time", "20", first.name)
        stopped_in = time.monotonic() - started
        exit_code = docker_cmd(docker, "inspect", "-f", "{{.State.ExitCode}}", first.name).strip()
        assert exit_code == "0", first.logs()
        assert stopped_in < 10, f"docker stop took {stopped_in:.1f} s"
        report(f"docker stop: exit 0 after {stopped_in:.1f} s")
        assert "stopped" in first.logs()
    finally:
        first.remove()

    second = Container(docker, image, volume, settings)
    try:
        second.wait_healthy()
        second.say("What is my cat called?", post_id=2)
        fake_chat.wait_for(2, timeout=30)
        messages = fake_model.chat_requests()[-1]["messages"]
        assert messages[0] == {"role": "system", "content": "Talk like a pirate."}, (
            "a stored setting survived"
        )
        assert messages[1]["content"] == "Remember: my cat is called Miso.", "the history survived"
        second.say("What is my cat called?", post_id=2)
        time.sleep(1)
        assert len(fake_chat.posts) == 2, "a re-delivered post is still recognised after recreation"
        for secret in (API_KEY, BOT_TOKEN):
            assert secret not in second.logs()
    finally:
        second.remove()


def test_an_unwritable_data_folder_is_explained(docker: dict[str, str], image: str, tmp_path: Path) -> None:
    folder = tmp_path / "nas-share"
    folder.mkdir(mode=0o755)  # owned by root: the container's uid 8008 may not write
    result = subprocess.run(
        [
            "docker",
            "run",
            "--rm",
            "--network",
            "host",
            "-v",
            f"{folder}:/data",
            "-e",
            f"SYNOCHATGPT_PORT={free_port()}",
            image,
        ],
        env=docker,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert "cannot write to the data folder /data as user id 8008" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_compose_project_starts(docker: dict[str, str], image: str, tmp_path: Path) -> None:
    """compose.yaml as shipped (only the host port and the image name changed), with the example
    env file: it must validate, start, publish the port, limit memory and write to ./data."""
    if not shutil.which("docker-compose"):
        if os.environ.get("CI"):
            pytest.fail("docker-compose is needed in CI (Debian: apt-get install docker-compose)")
        pytest.skip("docker-compose is not installed")
    port = free_port()
    text = (ROOT / "compose.yaml").read_text()
    assert '"8008:8008"' in text and "image: synochatgpt:latest" in text
    text = text.replace('"8008:8008"', f'"{port}:8008"').replace(
        "image: synochatgpt:latest", f"image: {image}"
    )
    (tmp_path / "compose.yaml").write_text(text)
    shutil.copy(ROOT / "synochatgpt.env.example", tmp_path / "synochatgpt.env")
    (tmp_path / "data").mkdir()
    os.chown(tmp_path / "data", 8008, 8008)
    project = ["docker-compose", "-p", f"sctest{uuid.uuid4().hex[:6]}", "-f", str(tmp_path / "compose.yaml")]

    def compose(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*project, *args],
            env=docker,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )

    assert compose("config", "-q").returncode == 0
    up = compose("up", "-d")
    try:
        assert up.returncode == 0, up.stderr
        deadline = time.monotonic() + 30
        while True:
            try:
                health = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).json()
                break
            except requests.RequestException:
                assert time.monotonic() < deadline, compose("logs").stdout
                time.sleep(0.5)
        assert health["status"] == "ok"
        settings = docker_cmd(
            docker,
            "inspect",
            "-f",
            "{{.HostConfig.Memory}} {{.HostConfig.RestartPolicy.Name}}",
            "synochatgpt",
        ).split()
        assert settings == [str(256 * 1024 * 1024), "unless-stopped"]
        assert (tmp_path / "data" / "conversations").is_dir()
    finally:
        compose("down")
