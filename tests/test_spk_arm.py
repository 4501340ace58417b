"""The armv8 package on arm64: its aarch64 wheels install with no network and the server answers
a chat, in an arm64 Debian userland run under qemu-user (make spk-arm-test; root).

The userland stands in for a DSM ARM NAS: Debian 12's python3 is 3.11, as SynoCommunity's
python311 is. The package's own postinst and start-stop-status do the work, as on the NAS.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import API_KEY, BOT_TOKEN
from tests.dockerhost import Unavailable, apt_mirror
from tests.fake_http import free_port
from tests.fake_openai import FakeOpenAI
from tests.fake_synology import FakeChat
from tests.test_spk import NAME, built, report

pytestmark = pytest.mark.arm

USERLAND = Path("/var/tmp/synochatgpt-arm64")
ROOTFS = USERLAND / "root"
PKG = Path("/var/packages") / NAME  # inside the userland
BINFMT = Path("/proc/sys/fs/binfmt_misc")


def sh(*command: str, timeout: float = 900, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)  # type: ignore[call-overload, no-any-return]


def enable_emulation() -> None:
    """binfmt_misc sends aarch64 programs to qemu; the package's postinst registers it, but in
    a container the filesystem may need mounting and the entry enabling."""
    if not (BINFMT / "status").exists():
        sh("mount", "-t", "binfmt_misc", "binfmt_misc", str(BINFMT))
    if not (BINFMT / "qemu-aarch64").exists() or "enabled" not in (BINFMT / "qemu-aarch64").read_text():
        sh("update-binfmts", "--enable", "qemu-aarch64")
    if not (BINFMT / "qemu-aarch64").exists():
        pytest.fail("aarch64 emulation is not available: apt-get install qemu-user-static binfmt-support")


def userland() -> Path:
    """Debian 12 arm64 with python3, made once with debootstrap from the host's apt mirror."""
    stamp = USERLAND / ".done"
    if stamp.exists():
        return ROOTFS
    shutil.rmtree(USERLAND, ignore_errors=True)
    USERLAND.mkdir(parents=True)
    try:
        mirror = apt_mirror()
    except Unavailable as exc:
        pytest.fail(str(exc))
    started = time.monotonic()
    made = sh(
        "debootstrap",
        "--arch",
        "arm64",
        "--variant=minbase",
        "--include=python3",
        "bookworm",
        str(ROOTFS),
        mirror,
        timeout=1800,
    )
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    report(f"arm64 userland (debootstrap under qemu): {time.monotonic() - started:.0f} s")
    stamp.touch()
    return ROOTFS


@pytest.fixture
def arm_root() -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("the arm64 userland needs root (debootstrap, chroot, binfmt); CI runs it")
    if not shutil.which("debootstrap") or not Path("/usr/bin/qemu-aarch64-static").exists():
        pytest.fail("install qemu-user-static, binfmt-support and debootstrap (.ci/run does)")
    enable_emulation()
    root = userland()
    mounts = [root / "proc", root / "dev"]
    sh("mount", "-t", "proc", "proc", str(mounts[0]))
    sh("mount", "--bind", "/dev", str(mounts[1]))
    yield root
    for mount in mounts:
        sh("umount", "-l", str(mount))
    shutil.rmtree(root / PKG.relative_to("/"), ignore_errors=True)
    shutil.rmtree(root / "var/packages/python311", ignore_errors=True)


def in_arm(
    root: Path, script: str, env: dict[str, str], network: bool = True
) -> subprocess.CompletedProcess[str]:
    command = [
        "chroot",
        str(root),
        "/usr/bin/env",
        "-i",
        *(f"{k}={v}" for k, v in env.items()),
        *script.split(),
    ]
    return sh(*(["unshare", "--net", *command] if not network else command))


def test_the_armv8_package_installs_offline_and_chats_on_arm64(
    arm_root: Path, fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    machine = sh("chroot", str(arm_root), "uname", "-m")
    assert machine.stdout.strip() == "aarch64", machine
    # The python311 package, as SynoCommunity lays it out, is Debian's 3.11 here.
    python = arm_root / "var/packages/python311/target/bin/python3"
    python.parent.mkdir(parents=True, exist_ok=True)
    if not python.is_symlink():
        python.symlink_to("/usr/bin/python3")
    # Package Center: the payload into target/, the scripts beside it.
    spk = built("armv8")
    package = arm_root / PKG.relative_to("/")
    shutil.rmtree(package, ignore_errors=True)
    for folder in ("target", "var", "tmp", "scripts"):
        (package / folder).mkdir(parents=True)
    with tarfile.open(spk) as archive:
        archive.extractall(package / "staged", filter="data")
    with tarfile.open(package / "staged" / "package.tgz") as payload:
        payload.extractall(package / "target", filter="data")
    for script in (package / "staged" / "scripts").iterdir():
        shutil.copy2(script, package / "scripts" / script.name)
    port = free_port()
    fake_model.models.append("gpt-5-mini")
    env = {
        "PATH": "/usr/bin:/bin",
        "SYNOPKG_PKGNAME": NAME,
        "SYNOPKG_PKGDEST": str(PKG / "target"),
        "SYNOPKG_PKGVAR": str(PKG / "var"),
        "SYNOPKG_PKGTMP": str(PKG / "tmp"),
        "SYNOPKG_PKGPORT": str(port),
        "SYNOPKG_PKG_STATUS": "INSTALL",
        "wizard_admin_password": "arm passphrase",
        "wizard_openai_api_key": API_KEY,
        "wizard_openai_base_url": fake_model.url,
        "wizard_bot_incoming_url": fake_chat.url(),
    }
    assert in_arm(arm_root, f"{PKG}/scripts/preinst", env).returncode == 0
    started = time.monotonic()
    post = in_arm(arm_root, f"{PKG}/scripts/postinst", env, network=False)
    took = time.monotonic() - started
    assert post.returncode == 0, post.stdout + post.stderr + _log(package)
    report(f"armv8 postinst under qemu (offline): {took:.0f} s")
    core = next(
        (package / "target/env/lib/python3.11/site-packages/pydantic_core").glob("_pydantic_core*.so")
    )
    assert core.read_bytes()[18] == 183, "an aarch64 (EM_AARCH64) extension was installed"

    started = time.monotonic()
    start = in_arm(arm_root, f"{PKG}/scripts/start-stop-status start", {**env, "SYNOPKG_PKG_STATUS": "START"})
    assert start.returncode == 0, start.stdout + start.stderr + _log(package)
    report(f"armv8 server start under qemu: {time.monotonic() - started:.0f} s")
    try:
        health = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).json()
        assert health["status"] == "ok"
        fields = {
            "token": BOT_TOKEN,
            "user_id": "4",
            "username": "arm",
            "text": "Hello from arm64",
            "post_id": "1",
        }
        assert requests.post(f"http://127.0.0.1:{port}/webhook", data=fields, timeout=30).status_code == 200
        assert fake_chat.wait_for(1, timeout=120)[0].text == "Answer to: Hello from arm64"
    finally:
        stop = in_arm(
            arm_root, f"{PKG}/scripts/start-stop-status stop", {**env, "SYNOPKG_PKG_STATUS": "STOP"}
        )
    assert stop.returncode == 0
    settings = json.loads((package / "var/data/settings.json").read_text())
    assert settings["_default"]["1"]["admin_password"].startswith("scrypt$")


def _log(package: Path) -> str:
    log = package / "var" / "synochatgpt.log"
    return log.read_text()[-3000:] if log.exists() else ""
