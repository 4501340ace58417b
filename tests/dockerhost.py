"""A Docker engine and a base image for the image tests, on machines where neither exists yet.

CI machines have no Docker daemon and reach no image registry, only Debian's packages (see
shared/reference/build-environment.md). So, as root: start dockerd without networking of its
own (containers use the host network), and when the official Python image cannot be pulled,
build an equivalent Debian base image with debootstrap from the host's own apt mirror."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import IO

WORK = Path(os.environ.get("SYNOCHATGPT_DOCKER_WORK", "/var/tmp/synochatgpt-docker"))
SOCKET = WORK / "docker.sock"
LOCAL_BASE = "synochatgpt-base:bookworm"


class Unavailable(RuntimeError):
    """Docker cannot be provided here; the text says why."""


def run(
    args: list[str], env: dict[str, str], timeout: float = 600, stdin: IO[bytes] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        env=env,
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def docker_env() -> dict[str, str]:
    """An environment whose `docker` reaches a running engine, starting one if need be."""
    env = dict(os.environ)
    if shutil.which("docker") and run(["docker", "info"], env, timeout=20).returncode == 0:
        return env
    env["DOCKER_HOST"] = f"unix://{SOCKET}"
    if SOCKET.exists() and run(["docker", "info"], env, timeout=20).returncode == 0:
        return env
    if os.geteuid() != 0:
        raise Unavailable("no Docker engine runs and starting one needs root")
    dockerd = shutil.which("dockerd")
    if not dockerd or not shutil.which("docker"):
        raise Unavailable("Docker is not installed (Debian: apt-get install docker.io)")
    WORK.mkdir(parents=True, exist_ok=True)
    log = (WORK / "dockerd.log").open("ab")
    subprocess.Popen(
        [
            dockerd,
            "--iptables=false",
            "--bridge=none",
            "--storage-driver=vfs",
            "--host",
            f"unix://{SOCKET}",
            "--data-root",
            str(WORK / "root"),
            "--exec-root",
            str(WORK / "exec"),
            "--pidfile",
            str(WORK / "dockerd.pid"),
        ],
        stdout=log,
        stderr=log,
        start_new_session=True,  # it outlives the test run and is reused by the next
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if run(["docker", "info"], env, timeout=20).returncode == 0:
            return env
        time.sleep(0.5)
    raise Unavailable(f"dockerd did not start; see {WORK / 'dockerd.log'}")


def base_image(env: dict[str, str], wanted: str = "python:3.11-slim") -> str:
    """`wanted` when it is present or can be pulled, else a local Debian 12 image with Python 3.11."""
    for image in (wanted, LOCAL_BASE):
        if run(["docker", "image", "inspect", image], env, timeout=30).returncode == 0:
            return image
    try:
        if run(["docker", "pull", wanted], env, timeout=60).returncode == 0:
            return wanted
    except subprocess.TimeoutExpired:
        pass
    if os.geteuid() != 0 or not shutil.which("debootstrap"):
        raise Unavailable(f"{wanted} cannot be pulled, and building a base needs root and debootstrap")
    rootfs = WORK / "rootfs"
    shutil.rmtree(rootfs, ignore_errors=True)
    made = run(
        [
            "debootstrap",
            "--variant=minbase",
            "--include=python3,python3-venv,ca-certificates",
            "bookworm",
            str(rootfs),
            apt_mirror(),
        ],
        env,
        timeout=900,
    )
    if made.returncode != 0:
        raise Unavailable("debootstrap failed:\n" + made.stdout[-2000:] + made.stderr[-2000:])
    # What a slim image leaves out too: package lists, caches, docs, man pages and translations.
    for clutter in (
        "var/lib/apt/lists",
        "var/cache/apt",
        "usr/share/doc",
        "usr/share/man",
        "usr/share/info",
        "usr/share/locale",
    ):
        shutil.rmtree(rootfs / clutter, ignore_errors=True)
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    imported = run(["docker", "import", "-", LOCAL_BASE], env, timeout=600, stdin=tar.stdout)
    tar.wait()
    shutil.rmtree(rootfs, ignore_errors=True)
    if imported.returncode != 0:
        raise Unavailable("docker import failed: " + imported.stderr[-2000:])
    return LOCAL_BASE


def apt_mirror() -> str:
    """The Debian mirror this machine's apt uses, so debootstrap goes where apt-get already can."""
    sources = Path("/etc/apt/sources.list.d/debian.sources")
    texts = [sources.read_text()] if sources.exists() else []
    legacy = Path("/etc/apt/sources.list")
    if legacy.exists():
        texts.append(legacy.read_text())
    for text in texts:
        for match in re.finditer(
            r"^URIs:\s*(\S+)|^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+bookworm\s", text, re.MULTILINE
        ):
            uri = match.group(1) or match.group(2)
            if "security" not in uri:
                return uri
    raise Unavailable("no Debian mirror found in this machine's apt sources")
