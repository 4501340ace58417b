"""The login page's command for a forgotten password (issue 19, point 15): the one that works
where this server runs (a source checkout, Docker, the DSM package), with its data folder, in
every language; and from a checkout it really sets the password, typed or piped, as shown."""

from __future__ import annotations

import html
import os
import pwd
import re
import select
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import pagetext, pagetext_hant, recovery, store
from tests.test_process import ROOT, Process
from tests.webclient import ADMIN_PASSWORD, WebClient

NEW_PASSWORD = "a brand new password"
_COMMAND = re.compile(r'<pre class="example" id="reset-command">(.*?)</pre>', re.S)


def shown_command(page: str) -> str:
    """The command as the login page shows it, as a person would copy it."""
    found = _COMMAND.search(page)
    assert found, "the login page shows no command for a forgotten password"
    return html.unescape(found.group(1))


def words(key: str, lang: str) -> str:
    return pagetext_hant.TEXTS[key] if lang == "zh-Hant" else pagetext.TEXTS[key][lang]


@pytest.fixture
def server(tmp_path: Path, admin_hash: str) -> Iterator[tuple[Path, list[Process]]]:
    """A data folder with the admin password ADMIN_PASSWORD, and the servers started on it."""
    data = tmp_path / "my data"  # not the default, and with a space the command must quote
    store.Store(data).save_settings({"admin_password": admin_hash})
    started: list[Process] = []
    yield data, started
    for process in started:
        if process.proc.poll() is None:
            process.stop()


def start(server: tuple[Path, list[Process]], runtime: str | None) -> Process:
    data, started = server
    process = Process(data, {"SYNOCHATGPT_RUNTIME": runtime} if runtime else {})
    started.append(process)
    return process


def clean_environment() -> dict[str, str]:
    """A person's shell: none of the server's own variables."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("SYNOCHATGPT_", "OPENAI_"))}


def checkout_command(data: Path) -> str:
    python = sys.executable
    if python.startswith(f"{ROOT}/"):
        python = os.path.relpath(python, ROOT)
    tail = shlex.join(
        [python, "-m", "app", "settings", "--data-dir", str(data), "set", "admin_password", "-"]
    )
    return f"cd {shlex.quote(str(ROOT))} && {tail}"


def expected(runtime: str | None, data: Path) -> str:
    if runtime is None:
        return checkout_command(data)
    args = ["-m", "app", "settings", "--data-dir", str(data), "set", "admin_password", "-"]
    if runtime == "docker":
        return shlex.join(["docker", "exec", "-it", "synochatgpt", sys.executable, *args])
    user = pwd.getpwuid(os.geteuid()).pw_name
    return shlex.join(["sudo", "-u", user, sys.executable, *args])


@pytest.mark.parametrize("runtime", [None, "docker", "dsm"], ids=["checkout", "docker", "dsm"])
def test_the_login_page_gives_the_command_for_how_the_server_was_started(
    server: tuple[Path, list[Process]], runtime: str | None
) -> None:
    process = start(server, runtime)
    key = f"login_forgot_{runtime or 'source'}"
    for lang in ("en", "zh", "zh-Hant"):
        page = WebClient(process.url).get(f"/login?lang={lang}").text
        assert words(key, lang) in html.unescape(page), lang
        assert shown_command(page) == expected(runtime, server[0]), lang
    english = WebClient(process.url).get("/login?lang=en").text
    chinese = WebClient(process.url).get("/login?lang=zh").text
    assert "python -m app settings set admin_password -" not in english + chinese
    if runtime == "dsm":
        assert "SSH" in english and "sudo" in english and "sudo" in chinese
    if runtime == "docker":
        assert "docker ps" in english and "docker ps" in chinese


def test_a_password_from_the_environment_is_changed_there(server: tuple[Path, list[Process]]) -> None:
    data, started = server
    process = Process(data, {"SYNOCHATGPT_RUNTIME": "docker", "SYNOCHATGPT_ADMIN_PASSWORD": ADMIN_PASSWORD})
    started.append(process)
    for lang in ("en", "zh"):
        page = html.unescape(WebClient(process.url).get(f"/login?lang={lang}").text)
        assert words("pw_fixed", lang) in page and "SYNOCHATGPT_ADMIN_PASSWORD" in page
        assert "reset-command" not in page, "the command would be refused: the variable wins"


def test_the_checkout_command_sets_the_password_when_piped(
    server: tuple[Path, list[Process]], tmp_path: Path
) -> None:
    process = start(server, None)
    command = shown_command(WebClient(process.url).get("/login").text)
    # Typed into a shell elsewhere, with the server still running: no restart needed.
    done = subprocess.run(
        ["sh", "-c", command],
        cwd=tmp_path,
        env=clean_environment(),
        input=NEW_PASSWORD + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "admin_password saved" in done.stdout
    assert WebClient(process.url).login(ADMIN_PASSWORD).status_code == 401
    assert WebClient(process.url).login(NEW_PASSWORD).status_code == 303


def test_the_checkout_command_asks_for_the_password_in_a_terminal(
    server: tuple[Path, list[Process]], tmp_path: Path
) -> None:
    """A person types the password and Enter, as the page says; it is not shown on the screen."""
    process = start(server, None)
    command = shown_command(WebClient(process.url).get("/login").text)
    main, terminal = os.openpty()
    shell = subprocess.Popen(
        ["sh", "-c", command],
        cwd=tmp_path,
        env=clean_environment(),
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        start_new_session=True,
    )
    os.close(terminal)
    try:
        screen = read_until(main, "admin_password: ")
        os.write(main, (NEW_PASSWORD + "\n").encode())
        screen += read_until(main, "saved")
        assert shell.wait(30) == 0, screen
    finally:
        if shell.poll() is None:
            shell.kill()
            shell.wait()
        os.close(main)
    assert NEW_PASSWORD not in screen, "the password was shown on the screen"
    assert WebClient(process.url).login(NEW_PASSWORD).status_code == 303


def read_until(main: int, text: str, timeout: float = 30) -> str:
    seen = ""
    deadline = time.monotonic() + timeout
    while text not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"waited for {text!r}, the terminal shows {seen!r}"
        if select.select([main], [], [], left)[0]:
            try:
                chunk = os.read(main, 1024)
            except OSError:  # the command ended and closed the terminal
                chunk = b""
            assert chunk, f"the command ended before {text!r}: {seen!r}"
            seen += chunk.decode(errors="replace")
    return seen


# -- what the image and the package set, and their commands with their real paths ------------------


def test_the_image_and_the_package_say_how_they_were_started() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    env = re.search(r"^ENV (.*?[^\\])$", dockerfile, re.M | re.S)
    assert env and "SYNOCHATGPT_RUNTIME=docker" in env.group(1)
    assert f"SYNOCHATGPT_DATA_DIR={recovery.IMAGE_DATA_DIR} " in env.group(1)
    assert f"container_name: {recovery.CONTAINER}\n" in (ROOT / "compose.yaml").read_text()
    start_script = (ROOT / "scripts" / "start-stop-status").read_text().replace("\\\n", " ")
    serve = next(line for line in start_script.splitlines() if "-m app serve" in line)
    assert "SYNOCHATGPT_RUNTIME=dsm" in serve and 'SYNOCHATGPT_DATA_DIR="$DATA_DIR"' in serve


def test_the_package_and_image_commands_with_their_own_paths() -> None:
    package = "/var/packages/SynoChatGPT"
    dsm = recovery.Started(
        "dsm", f"{package}/target/env/bin/python", f"{package}/var", "synochatgpt", f"{package}/var/data"
    )
    assert recovery.reset_command(dsm) == (
        "sudo -u synochatgpt /var/packages/SynoChatGPT/target/env/bin/python -m app settings "
        "--data-dir /var/packages/SynoChatGPT/var/data set admin_password -"
    )
    # The image's own data folder comes with docker exec (its environment); another is named.
    docker = recovery.Started("docker", "/opt/venv/bin/python", "/data", "synochatgpt", "/data")
    assert recovery.reset_command(docker) == (
        "docker exec -it synochatgpt /opt/venv/bin/python -m app settings set admin_password -"
    )
    elsewhere = recovery.Started("docker", "/opt/venv/bin/python", "/data", "synochatgpt", "/srv/bot")
    assert "--data-dir /srv/bot set admin_password -" in recovery.reset_command(elsewhere)
    # make run: the venv and data folder inside the checkout, named as the person knows them.
    checkout = recovery.Started(
        "source", "/home/mei/bot/.venv/bin/python", "/home/mei/bot", "mei", "/home/mei/bot/data"
    )
    assert recovery.reset_command(checkout) == (
        "cd /home/mei/bot && .venv/bin/python -m app settings --data-dir data set admin_password -"
    )
