"""Build dist/SynoChatGPT-<version>-<arch>.spk from a wheelhouse (make spk runs this).

    python -m spk.build --arch x86_64 --version 0.1.0-0001 --wheelhouse build/wheelhouse/x86_64 \
        --pip-wheel build/pip/pip-….whl --out dist

The archive follows DSM 7's rules (see shared/reference/dsm-package.md): an uncompressed tar
with INFO, package.tgz (gzip), scripts/, conf/, WIZARD_UIFILES/ and the two package icons at its
root; package.tgz holds the wheelhouse and the ui/ folder DSM links into its main menu.
Standard library only, and reproducible: fixed mtimes, root ownership, sorted members.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import re
import sys
import tarfile
from pathlib import Path

from spk import icons

ROOT = Path(__file__).resolve().parent.parent
SPK = ROOT / "spk"
ARCHES = ("x86_64", "armv8")  # DSM family names; the wheels must match (make wheelhouse ARCH=…)
SCRIPTS = ("preinst", "postinst", "preuninst", "postuninst", "preupgrade", "postupgrade", "start-stop-status")
MTIME = 1_700_000_000  # fixed, so two builds of the same input are byte-identical
VERSION = re.compile(r"^\d+(\.\d+){0,5}(-\d+)?$")  # DSM 7's own check (pkgverify)


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    tar.addfile(info, io.BytesIO(data))


def _add_dir(tar: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, MTIME
    info.uname = info.gname = "root"
    tar.addfile(info)


def payload(wheelhouse: Path, pip_wheel: Path, version: str, icon_pngs: dict[int, bytes]) -> bytes:
    """package.tgz: what DSM unpacks into /var/packages/SynoChatGPT/target."""
    wheels = sorted(wheelhouse.glob("*.whl"))
    app_wheel = next((w for w in wheels if w.name.startswith("synochatgpt-")), None)
    if app_wheel is None:
        raise SystemExit(f"no synochatgpt wheel in {wheelhouse}: run make wheelhouse first")
    app_version = app_wheel.name.split("-")[1]
    # Everything pinned: the app and the exact set the wheelhouse was downloaded for.
    pins = [line for line in (ROOT / "requirements.txt").read_text().splitlines() if "==" in line]
    requirements = "\n".join([f"synochatgpt=={app_version}", *sorted(p.split("#")[0].strip() for p in pins)])
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buffer, mode="wb", mtime=MTIME, compresslevel=9) as packed,
        tarfile.open(fileobj=packed, mode="w", format=tarfile.GNU_FORMAT) as tar,
    ):
        _add_dir(tar, "wheelhouse")
        for wheel in [*wheels, pip_wheel]:
            _add(tar, f"wheelhouse/{wheel.name}", wheel.read_bytes())
        _add(tar, "wheelhouse/requirements.txt", (requirements + "\n").encode())
        _add_dir(tar, "ui")
        _add(tar, "ui/config", (SPK / "ui" / "config").read_bytes())
        _add(tar, "ui/SynoChatGPT.sc", (SPK / "ui" / "SynoChatGPT.sc").read_bytes())
        _add_dir(tar, "ui/images")
        for size in icons.DSM_SIZES:
            _add(tar, f"ui/images/synochatgpt-{size}.png", icon_pngs[size])
        _add(tar, "VERSION", f"{version}\n".encode())
    return buffer.getvalue()


def extracted_kb(package_tgz: bytes) -> int:
    with tarfile.open(fileobj=io.BytesIO(package_tgz), mode="r:gz") as tar:
        return sum(m.size for m in tar.getmembers()) // 1024 + 1


def info(version: str, arch: str, package_tgz: bytes) -> bytes:
    text = (SPK / "INFO.in").read_text(encoding="utf-8")
    values = {
        "VERSION": version,
        "ARCH": arch,
        "CHECKSUM": hashlib.md5(package_tgz).hexdigest(),  # noqa: S324 (DSM's format, not security)
        "EXTRACTSIZE": str(extracted_kb(package_tgz)),
    }
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    if re.search(r"@[A-Z]+@", text):
        raise SystemExit("INFO.in has a placeholder this script does not fill")
    return text.encode("utf-8")


def build(arch: str, version: str, wheelhouse: Path, pip_wheel: Path, out: Path) -> Path:
    if arch not in ARCHES:
        raise SystemExit(f"arch must be one of {', '.join(ARCHES)}")
    if not VERSION.match(version):
        raise SystemExit(f"version {version!r} is not X.Y.Z-BUILD as DSM requires")
    pngs = {size: icons.png(size) for size in sorted({*icons.DSM_SIZES, 64, 256})}
    package_tgz = payload(wheelhouse, pip_wheel, version, pngs)
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"SynoChatGPT-{version}-{arch}.spk"
    with tarfile.open(target, "w", format=tarfile.GNU_FORMAT) as spk:  # plain tar, as DSM expects
        _add(spk, "INFO", info(version, arch, package_tgz))
        _add(spk, "package.tgz", package_tgz)
        _add_dir(spk, "scripts")
        for name in (*SCRIPTS, "common.sh"):
            data = (ROOT / "scripts" / name).read_bytes()
            if b"\r" in data:
                raise SystemExit(f"scripts/{name} has CR line ends; DSM's sh needs LF")
            _add(spk, f"scripts/{name}", data, 0o755 if name in SCRIPTS else 0o644)
        _add_dir(spk, "conf")
        for name in ("privilege", "resource"):
            _add(spk, f"conf/{name}", (ROOT / "conf" / name).read_bytes())
        _add_dir(spk, "WIZARD_UIFILES")
        for wizard in sorted((SPK / "wizard").iterdir()):
            _add(spk, f"WIZARD_UIFILES/{wizard.name}", wizard.read_bytes())
        _add(spk, "PACKAGE_ICON.PNG", pngs[64])
        _add(spk, "PACKAGE_ICON_256.PNG", pngs[256])
    return target


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", required=True, choices=ARCHES)
    parser.add_argument("--version", required=True, help="X.Y.Z-BUILD")
    parser.add_argument("--wheelhouse", required=True, type=Path)
    parser.add_argument("--pip-wheel", required=True, type=Path)
    parser.add_argument("--out", default=ROOT / "dist", type=Path)
    args = parser.parse_args(argv)
    target = build(args.arch, args.version, args.wheelhouse, args.pip_wheel, args.out)
    print(f"{target} ({target.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
