"""The .spk packages: DSM 7's rules checked on the built files (both architectures), then the
x86_64 one installed, run, chatted with, upgraded and removed in a simulated DSM (as root)."""

from __future__ import annotations

import functools
import hashlib
import io
import json
import re
import socket
import stat
import subprocess
import tarfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from spk import icons
from tests.conftest import API_KEY, BOT_TOKEN
from tests.dsm import PACKAGES, PackageCenter, is_root, read_info
from tests.fake_http import free_port
from tests.fake_openai import FakeOpenAI
from tests.fake_synology import FakeChat
from tests.test_recovery_hint import shown_command
from tests.webclient import WebClient

pytestmark = pytest.mark.spk

ROOT = Path(__file__).resolve().parent.parent
VERSION = re.search(r'__version__ = "([^"]+)"', (ROOT / "app" / "__init__.py").read_text()).group(1)  # type: ignore[union-attr]
SCRIPTS = ("preinst", "postinst", "preuninst", "postuninst", "preupgrade", "postupgrade", "start-stop-status")
NAME = "SynoChatGPT"
VOLUME = Path("/var/tmp/synochatgpt-dsm/volume1")
PASSWORD = "nas owner passphrase"
REPORT = ROOT / "build" / "spk-report.txt"


@functools.cache
def built(arch: str, build: str = "0001") -> Path:
    """The package, rebuilt by make if any of its sources changed since."""
    subprocess.run(["make", "--quiet", "spk", f"ARCH={arch}", f"SPK_BUILD={build}"], cwd=ROOT, check=True)
    return ROOT / "dist" / f"{NAME}-{VERSION}-{build}-{arch}.spk"


def members(spk: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(spk, "r:") as archive:  # "r:" refuses a compressed outer archive
        return {m.name: m for m in archive.getmembers()}


def read(spk: Path, name: str) -> bytes:
    with tarfile.open(spk, "r:") as archive:
        handle = archive.extractfile(name)
        assert handle is not None, name
        return handle.read()


def payload(spk: Path) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(read(spk, "package.tgz")), mode="r:gz") as tgz:
        return {m.name: (tgz.extractfile(m).read() if m.isfile() else b"") for m in tgz.getmembers()}  # type: ignore[union-attr]


def report(line: str) -> None:
    REPORT.parent.mkdir(exist_ok=True)
    with REPORT.open("a") as out:
        out.write(line + "\n")


# -- DSM's rules, on both packages --------------------------------------------------------------

ARCHES = ("x86_64", "armv8")


@pytest.mark.parametrize("arch", ARCHES)
def test_the_archive_has_what_dsm_requires(arch: str) -> None:
    spk = built(arch)
    found = members(spk)
    for required in ("INFO", "package.tgz", "PACKAGE_ICON.PNG", "PACKAGE_ICON_256.PNG", "conf/privilege"):
        assert required in found, required
    assert all(not name.startswith(("/", "./", "..")) for name in found), "members sit at the root"
    for script in SCRIPTS:
        member = found[f"scripts/{script}"]
        assert member.mode & stat.S_IXUSR and member.mode & stat.S_IXOTH, f"{script} is not executable"
        text = read(spk, f"scripts/{script}")
        assert text.startswith(b"#!/bin/sh\n") and b"\r" not in text, script
        subprocess.run(["sh", "-n"], input=text, check=True)  # parses as POSIX sh
    report(f"{spk.name}: {spk.stat().st_size / 1e6:.1f} MB")


@pytest.mark.parametrize("arch", ARCHES)
def test_info_follows_dsm_7(arch: str) -> None:
    spk = built(arch)
    text = read(spk, "INFO").decode("utf-8")
    info = read_info(text)
    assert info["package"] == NAME and not re.search(r"[:/><|=]", info["package"])
    assert re.fullmatch(r"\d+(\.\d+){0,5}(-\d+)?", info["version"]), "DSM's own version check"
    assert info["version"] == f"{VERSION}-0001"
    major, minor, build = re.fullmatch(r"(\d+)\.(\d+)-(\d+)", info["os_min_ver"]).groups()  # type: ignore[union-attr]
    assert (int(major), int(minor), int(build)) >= (7, 0, 40000)
    assert info["arch"] == arch and arch in ("x86_64", "armv8"), "a DSM family name, not aarch64"
    for key in ("maintainer", "displayname", "description"):
        assert info[key], key
    for lang in ("enu", "chs", "cht"):
        assert info[f"displayname_{lang}"] and info[f"description_{lang}"], lang
    assert (
        re.search(r"[\u4e00-\u9fff]", info["description_chs"])
        and info["description_chs"] != info["description_cht"]
    )
    assert info["install_dep_packages"] == "python311"
    assert (info["adminprotocol"], info["adminport"], info["adminurl"]) == ("http", "8008", "/")
    assert info["checksum"] == hashlib.md5(read(spk, "package.tgz")).hexdigest()  # noqa: S324
    assert int(info["extractsize"]) > 1000
    assert "firmware" not in info and "startable" not in info, "deprecated on DSM 7"
    # The toolkit sources INFO as shell: it must say the same there.
    shell = subprocess.run(
        ["sh", "-c", '. "$1"; printf "%s\\n%s" "$package" "$description_chs"', "sh", "/dev/stdin"],
        input=text,
        capture_output=True,
        text=True,
        check=True,
    )
    assert shell.stdout == f"{NAME}\n{info['description_chs']}"
    ui = payload(spk)
    config = json.loads(ui[f"{info['dsmuidir']}/config"])
    app = config[".url"][info["dsmappname"]]
    assert app["type"] == "url" and app["port"] == "8008" and app["url"] == "/"
    for size in icons.DSM_SIZES:
        png = ui[f"{info['dsmuidir']}/" + app["icon"].replace("{0}", str(size))]
        assert icons.png_size(png) == (size, size)


@pytest.mark.parametrize("arch", ARCHES)
def test_privilege_resource_and_icons(arch: str) -> None:
    spk = built(arch)
    privilege = json.loads(read(spk, "conf/privilege"))
    assert privilege["defaults"]["run-as"] == "package"
    assert "root" not in json.dumps(privilege), "DSM 7 refuses third-party packages that run as root"
    resource = json.loads(read(spk, "conf/resource"))
    protocol_file = resource["port-config"]["protocol-file"]
    sc = payload(spk)[protocol_file].decode()
    assert protocol_file == f"ui/{NAME}.sc"
    assert re.search(r'^dst\.ports="8008/tcp"$', sc, re.M) and re.search(r'^title="[^"]+"$', sc, re.M)
    assert re.search(r'^desc="[^"]+"$', sc, re.M) and sc.startswith(f"[{NAME}]\n")
    assert icons.png_size(read(spk, "PACKAGE_ICON.PNG")) == (64, 64)
    assert icons.png_size(read(spk, "PACKAGE_ICON_256.PNG")) == (256, 256)


@pytest.mark.parametrize("arch", ARCHES)
def test_wizards_ask_what_the_issue_says(arch: str) -> None:
    spk = built(arch)
    for lang in ("", "_chs", "_cht"):
        install = json.loads(read(spk, f"WIZARD_UIFILES/install_uifile{lang}"))
        fields = {
            sub["key"]: (item["type"], sub)
            for step in install
            for item in step["items"]
            for sub in item.get("subitems", [])
        }
        kind, password = fields["wizard_admin_password"]
        assert kind == "password" and password["validator"]["allowBlank"] is False
        assert password["validator"]["minLength"] == 8
        assert fields["wizard_openai_api_key"][0] == "password"
        for optional in ("wizard_openai_api_key", "wizard_openai_base_url", "wizard_bot_incoming_url"):
            assert fields[optional][1]["validator"]["allowBlank"] is True
        uninstall = json.loads(read(spk, f"WIZARD_UIFILES/uninstall_uifile{lang}"))
        choice = uninstall[0]["items"][0]
        assert choice["type"] == "singleselect"
        defaults = {sub["key"]: sub["defaultValue"] for sub in choice["subitems"]}
        assert defaults == {"wizard_keep_data": True, "wizard_delete_data": False}
    chinese = read(spk, "WIZARD_UIFILES/install_uifile_chs").decode()
    assert "管理员密码" in chinese and "管理員密碼" in read(spk, "WIZARD_UIFILES/install_uifile_cht").decode()


@pytest.mark.parametrize("arch", ARCHES)
def test_the_payload_brings_every_wheel_for_dsm_7_0(arch: str) -> None:
    files = payload(built(arch))
    wheels = [Path(name).name for name in files if name.endswith(".whl")]
    platform = {"x86_64": "x86_64", "armv8": "aarch64"}[arch]
    for wheel in wheels:
        tags = wheel[:-4].split("-")[-3:]
        assert tags[0] in ("py3", "py2.py3", "cp311"), wheel
        for tag in tags[2].split("."):
            if tag == "any":
                continue
            # manylinux1 (glibc 2.5), 2010 (2.12) and 2014 (2.17) are the old names of _2_5,
            # _2_12 and _2_17: all below DSM's glibc (websockets' wheels carry manylinux1).
            found = re.fullmatch(r"manylinux(?:1|2010|2014|_(\d+)_(\d+))_(\w+)", tag)
            assert found and found.group(3) == platform, wheel
            if found.group(1):  # DSM 7.0 and 7.1 have glibc 2.26
                assert (int(found.group(1)), int(found.group(2))) <= (2, 26) or len(tags[2].split(".")) > 1, (
                    wheel
                )
    names = {re.sub(r"[-_.]+", "-", w.split("-")[0].lower()) for w in wheels}
    pinned = {
        re.sub(r"[-_.]+", "-", line.split("==")[0].strip().lower())
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if "==" in line
    }
    assert pinned <= names, pinned - names
    assert {"synochatgpt", "pip"} <= names
    requirements = files["wheelhouse/requirements.txt"].decode()
    assert f"synochatgpt=={VERSION}" in requirements
    assert not any(name.startswith("target/") for name in files), "no extra top folder"


# -- the simulated Package Center -------------------------------------------------------------


@pytest.mark.parametrize("arch", ARCHES)
def test_the_app_wheel_holds_every_module_and_page_file(arch: str) -> None:
    """Each platform's folder is a package of its own: a wheel that lists only `app` installs a
    server that cannot start (what the seam's first build did)."""
    files = payload(built(arch))
    [name] = [n for n in files if Path(n).name.startswith("synochatgpt-") and n.endswith(".whl")]
    with zipfile.ZipFile(io.BytesIO(files[name])) as wheel:
        inside = {n for n in wheel.namelist() if n.startswith("app/")}
    wanted = {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "app").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix in (".py", ".tpl", ".js", ".css", ".svg")
    }
    assert wanted - inside == set()


@pytest.fixture
def center() -> Iterator[PackageCenter]:
    if not is_root():
        pytest.skip("the simulated DSM needs root (package users, /var/packages, unshare -n); CI runs it")
    python = "/usr/bin/python3.11"
    if not Path(python).exists():
        pytest.fail(
            f"{python} is missing: the simulated python311 package links to it (apt-get install python3)"
        )
    dsm = PackageCenter(VOLUME, python)
    dsm.purge(NAME)
    dsm.prepare()
    yield dsm
    if (PACKAGES / NAME / "scripts").exists():
        dsm.script(NAME, "start-stop-status stop", "STOP", port=8008)
    dsm.purge(NAME)
    dsm.cleanup()


def install(dsm: PackageCenter, spk: Path, port: int, wizard: dict[str, str]) -> float:
    """Package Center's install: preinst from the unpacked .spk, then the payload, then
    postinst with no network. Returns postinst's time."""
    staged = dsm.stage(spk)
    pre = dsm.script(NAME, "preinst", "INSTALL", port=port, wizard=wizard, control=staged)
    assert pre.code == 0, pre.output
    dsm.unpack(NAME, staged)
    post = dsm.script(NAME, "postinst", "INSTALL", port=port, wizard=wizard, network=False)
    assert post.code == 0, post.output + post.message
    return post.seconds


def test_install_chat_upgrade_and_remove_in_a_simulated_dsm(
    center: PackageCenter, fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    port = free_port()
    fake_model.models.append("gpt-5-mini")  # the wizard leaves the default model
    wizard = {
        "wizard_admin_password": PASSWORD,
        "wizard_openai_api_key": API_KEY,
        "wizard_openai_base_url": fake_model.url,
        "wizard_bot_incoming_url": fake_chat.url(),
    }
    took = install(center, built("x86_64"), port, wizard)
    report(f"postinst (venv from the bundled wheels, no network): {took:.1f} s")
    var = PACKAGES / NAME / "var"
    settings_file = var / "data" / "settings.json"
    assert stat.S_IMODE(settings_file.stat().st_mode) == 0o600
    assert settings_file.stat().st_uid == (PACKAGES / NAME / "target").stat().st_uid != 0
    stored = settings_file.read_text()
    assert PASSWORD not in stored and "scrypt$" in stored and API_KEY in stored

    started = center.script(NAME, "start-stop-status start", "START", port=port)
    assert started.code == 0, started.output + started.message
    assert center.script(NAME, "start-stop-status status", "", port=port).code == 0
    base = f"http://127.0.0.1:{port}"
    say = {"token": BOT_TOKEN, "user_id": "4", "username": "owner", "text": "Hello from DSM", "post_id": "1"}
    assert requests.post(base + "/webhook", data=say, timeout=10).status_code == 200
    assert fake_chat.wait_for(1, timeout=30)[0].text == "Answer to: Hello from DSM"
    web = WebClient(base)
    # A forgotten password: the package's own python, as the package user, on its data folder.
    assert shown_command(web.get("/login").text) == (
        f"sudo -u synochatgpt {PACKAGES / NAME / 'target' / 'env' / 'bin' / 'python'} -m app settings "
        f"--data-dir {var / 'data'} set admin_password -"
    )
    assert web.login(PASSWORD).status_code == 303 and web.get("/").status_code == 200

    stop = center.script(NAME, "start-stop-status stop", "STOP", port=port)
    assert stop.code == 0 and stop.seconds < 20
    report(f"start-stop-status stop: {stop.seconds:.1f} s")
    assert center.script(NAME, "start-stop-status status", "", port=port).code == 3
    log = (var / "synochatgpt.log").read_text()
    assert "listening on" in log and "stopped" in log
    for secret in (PASSWORD, API_KEY, BOT_TOKEN):
        assert secret not in log

    # Upgrade to a newer build, in DSM's order; the old scripts run their uninstall half.
    newer = built("x86_64", "0002")
    staged = center.stage(newer)
    assert center.script(NAME, "preupgrade", "UPGRADE", port=port, control=staged).code == 0
    for old in ("preuninst", "postuninst"):
        assert center.script(NAME, old, "UPGRADE", port=port).code == 0
    assert center.script(NAME, "preinst", "UPGRADE", port=port, control=staged).code == 0
    center.unpack(NAME, staged)
    post = center.script(NAME, "postinst", "UPGRADE", port=port, network=False, old_version=f"{VERSION}-0001")
    assert post.code == 0, post.output
    assert center.script(NAME, "postupgrade", "UPGRADE", port=port).code == 0
    assert read_info((PACKAGES / NAME / "INFO").read_text())["version"] == f"{VERSION}-0002"
    assert center.script(NAME, "start-stop-status start", "START", port=port).code == 0
    web = WebClient(base)
    assert web.login(PASSWORD).status_code == 303, "the admin password survived the upgrade"
    say.update(text="Do you remember me?", post_id="2")
    requests.post(base + "/webhook", data=say, timeout=10)
    fake_chat.wait_for(2, timeout=30)
    history = fake_model.chat_requests()[-1]["messages"]
    assert any(m["content"] == "Hello from DSM" for m in history), "the conversation survived"

    # Uninstall, keeping the data (the default), then install again: everything is there.
    assert center.script(NAME, "start-stop-status stop", "UNINSTALL", port=port).code == 0
    keep = {"wizard_keep_data": "true", "wizard_delete_data": "false"}
    for script in ("preuninst", "postuninst"):
        assert center.script(NAME, script, "UNINSTALL", port=port, wizard=keep).code == 0
    center.remove(NAME)
    kept = VOLUME / "@appdata" / NAME / "data" / "settings.json"
    assert kept.exists() and not (PACKAGES / NAME).exists()
    install(center, built("x86_64", "0002"), port, {"wizard_admin_password": "a different one"})
    assert center.script(NAME, "start-stop-status start", "START", port=port).code == 0
    # A reinstall finds the old data; the password just typed in the wizard is the one that works.
    assert WebClient(base).login("a different one").status_code == 303
    assert API_KEY in kept.read_text() and list((kept.parent / "conversations").glob("*.json"))

    # Uninstall, deleting the data.
    assert center.script(NAME, "start-stop-status stop", "UNINSTALL", port=port).code == 0
    delete = {"wizard_keep_data": "false", "wizard_delete_data": "true"}
    for script in ("preuninst", "postuninst"):
        run = center.script(NAME, script, "UNINSTALL", port=port, wizard=delete)
        assert run.code == 0 and not run.output, run.output
    center.remove(NAME)
    left = sorted(p.name for p in (VOLUME / "@appdata" / NAME).iterdir())
    assert left == [], (left, (VOLUME / "@appdata" / NAME / "synochatgpt.log").read_text()[-1500:])


def test_missing_python_and_bad_wizard_answers_are_explained(center: PackageCenter) -> None:
    spk = built("x86_64")
    staged = center.stage(spk)
    if not center.made_python_link:
        pytest.skip("a real python311 package is installed here; not hiding it")
    hidden = center.hide_python()
    try:
        for language, words in (("enu", "https://packages.synocommunity.com"), ("chs", "套件来源")):
            center.language = language
            run = center.script(NAME, "preinst", "INSTALL", port=8008, control=staged)
            assert run.code == 1 and "Python 3.11" in run.message and words in run.message, run.message
    finally:
        center.restore_python(hidden)
        center.language = "enu"
    port = free_port()
    wizard = {
        "wizard_admin_password": PASSWORD,
        "wizard_bot_incoming_url": "https://nas:5001/?method=incoming&token=x",
    }
    center.unpack(NAME, staged)
    post = center.script(NAME, "postinst", "INSTALL", port=port, wizard=wizard, network=False)
    assert post.code == 0, "a wrong optional answer does not break the install"
    assert "bot_incoming_url was not saved" in post.message and "method=incoming" in post.message
    assert "token=x" not in post.message
    # A server that cannot start (its port is taken) is explained too.
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", port))
        busy.listen()
        run = center.script(NAME, "start-stop-status start", "START", port=port)
    assert run.code == 1 and "stopped right after starting" in run.message and "cannot listen" in run.message
    time.sleep(0.1)
