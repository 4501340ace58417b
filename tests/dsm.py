"""A simulated DSM 7 Package Center, close enough to install, run, upgrade and remove an .spk.

It lays the package out as DSM does (/var/packages/<pkg>/{INFO,conf,scripts,target,var,tmp,
home,etc}, the last five linked to a volume's @appstore, @appdata… folders), runs each lifecycle
script as the package's own unprivileged user with DSM's SYNOPKG_* variables and the wizard's
answers in the environment, in DSM's order, and runs postinst with no network (unshare -n).
Needs root, as DSM itself does.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path

PACKAGES = Path("/var/packages")
LINKED = {"target": "@appstore", "var": "@appdata", "tmp": "@apptemp", "home": "@apphome", "etc": "@appconf"}


@dataclasses.dataclass
class Run:
    script: str
    code: int
    message: str  # what Package Center would show the user (SYNOPKG_TEMP_LOGFILE)
    output: str
    seconds: float


class PackageCenter:
    def __init__(self, volume: Path, python311: str, language: str = "enu") -> None:
        self.volume = volume
        self.python311 = python311
        self.language = language
        self.made_python_link = False

    # -- the machine -------------------------------------------------------------------------

    def prepare(self) -> None:
        """The volume, and SynoCommunity's python311 package (a link to this machine's 3.11)."""
        self.volume.mkdir(parents=True, exist_ok=True)
        self.volume.chmod(0o755)
        link = PACKAGES / "python311" / "target" / "bin" / "python3"
        if not link.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(self.python311)
            self.made_python_link = True

    def hide_python(self) -> Path:
        """Uninstall python311 (for the 'Python missing' message); returns where it went."""
        folder = PACKAGES / "python311"
        hidden = PACKAGES / ".python311-hidden"
        folder.rename(hidden)
        return hidden

    def restore_python(self, hidden: Path) -> None:
        hidden.rename(PACKAGES / "python311")

    def cleanup(self) -> None:
        if self.made_python_link:
            shutil.rmtree(PACKAGES / "python311", ignore_errors=True)

    # -- one package ---------------------------------------------------------------------------

    def stage(self, spk: Path) -> Path:
        """Unpack an .spk where DSM does (the volume's @tmp), readable by the package user:
        preinst and preupgrade run from there, before anything is installed."""
        staged = self.volume / "@tmp" / f"pkginstall-{spk.stem}"
        shutil.rmtree(staged, ignore_errors=True)
        staged.mkdir(parents=True)
        with tarfile.open(spk) as archive:
            archive.extractall(staged, filter="data")
        for folder in (staged.parent, staged):
            folder.chmod(0o755)
        return staged

    def paths(self, name: str) -> dict[str, Path]:
        return {key: PACKAGES / name / key for key in LINKED}

    def user_of(self, control: Path) -> str:
        privilege = json.loads((control / "conf" / "privilege").read_text())
        assert privilege["defaults"]["run-as"] == "package"
        return str(privilege.get("username") or read_info((control / "INFO").read_text())["package"])

    def ensure_user(self, user: str) -> None:
        if subprocess.run(["id", "-u", user], capture_output=True, check=False).returncode != 0:
            subprocess.run(
                [
                    "useradd",
                    "--system",
                    "--user-group",
                    "--no-create-home",
                    "--shell",
                    "/usr/sbin/nologin",
                    user,
                ],
                check=True,
            )

    def script(
        self,
        name: str,
        script: str,
        status: str,
        *,
        port: int,
        wizard: dict[str, str] | None = None,
        network: bool = True,
        control: Path | None = None,
        old_version: str = "",
    ) -> Run:
        """Run one lifecycle script as DSM does. `control` is where INFO, conf/ and scripts/
        are: the installed package by default, or a staged .spk (for preinst, preupgrade)."""
        control = control or PACKAGES / name
        info = read_info((control / "INFO").read_text(encoding="utf-8"))
        user = self.user_of(control)
        self.ensure_user(user)
        paths = self.paths(name)
        message_file = Path(tempfile.mkstemp(prefix="synopkg-msg-", dir=self.volume)[1])
        shutil.chown(message_file, user)
        env = {
            "PATH": "/usr/bin:/bin:/usr/sbin:/sbin",
            "LANG": "C.UTF-8",
            "HOME": str(paths["home"]),
            "SYNOPKG_PKGNAME": name,
            "SYNOPKG_PKGVER": info["version"],
            "SYNOPKG_OLD_PKGVER": old_version,
            "SYNOPKG_PKGDEST": str(paths["target"]),
            "SYNOPKG_PKGDEST_VOL": str(self.volume),
            "SYNOPKG_PKGVAR": str(paths["var"]),
            "SYNOPKG_PKGTMP": str(paths["tmp"]),
            "SYNOPKG_PKGHOME": str(paths["home"]),
            "SYNOPKG_PKGPORT": str(port),
            "SYNOPKG_PKG_STATUS": status,
            "SYNOPKG_TEMP_LOGFILE": str(message_file),
            "SYNOPKG_DSM_LANGUAGE": self.language,
            "SYNOPKG_DSM_VERSION_MAJOR": "7",
            "SYNOPKG_DSM_VERSION_MINOR": "2",
            "SYNOPKG_DSM_VERSION_BUILD": "72806",
            "SYNOPKG_DSM_ARCH": "geminilake",
            **(wizard or {}),
        }
        folder = control / "scripts"
        command = ["runuser", "-u", user, "--", "env", "-i", *(f"{k}={v}" for k, v in env.items())]
        command += [str(folder / script.split(maxsplit=1)[0]), *script.split()[1:]]
        if not network:
            command = ["unshare", "--net", *command]
        started = time.monotonic()
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
        seconds = time.monotonic() - started
        message = message_file.read_text(encoding="utf-8")
        message_file.unlink()
        return Run(script, done.returncode, message, done.stdout + done.stderr, seconds)

    def unpack(self, name: str, staged: Path) -> None:
        """What DSM does between preinst and postinst: the payload into target/, the control
        files beside it, every package folder owned by the package user."""
        root = PACKAGES / name
        root.mkdir(parents=True, exist_ok=True)
        for key, store in LINKED.items():
            real = self.volume / store / name
            if key in ("target", "tmp"):  # replaced on every install and upgrade
                shutil.rmtree(real, ignore_errors=True)
            real.mkdir(parents=True, exist_ok=True)
            link = root / key
            if not link.is_symlink():
                link.symlink_to(real)
        with tarfile.open(staged / "package.tgz") as payload:
            payload.extractall(root / "target", filter="data")
        shutil.copy(staged / "INFO", root / "INFO")
        for folder in ("conf", "scripts", "WIZARD_UIFILES"):
            shutil.rmtree(root / folder, ignore_errors=True)
            shutil.copytree(staged / folder, root / folder)
        user = self.user_of(root)
        self.ensure_user(user)
        for store in LINKED.values():
            subprocess.run(["chown", "-hR", f"{user}:{user}", str(self.volume / store / name)], check=True)

    def remove(self, name: str) -> None:
        """After postuninst: DSM drops target/, tmp/ and the control files; var/, etc/ and home/
        stay (DSM never removes them itself)."""
        for key in ("target", "tmp"):
            shutil.rmtree(self.volume / LINKED[key] / name, ignore_errors=True)
        shutil.rmtree(PACKAGES / name, ignore_errors=True)

    def purge(self, name: str) -> None:
        """Test cleanup: everything, including the data DSM would keep."""
        self.remove(name)
        shutil.rmtree(self.volume / "@tmp", ignore_errors=True)
        for store in LINKED.values():
            shutil.rmtree(self.volume / store / name, ignore_errors=True)


def read_info(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        assert sep and value.startswith('"') and value.endswith('"'), f'not key="value": {line!r}'
        values[key] = value[1:-1]
    return values


def is_root() -> bool:
    return os.geteuid() == 0
