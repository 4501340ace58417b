"""Start-up configuration: where to listen and where the data lives.

Separate from the user settings because DSM or Docker decide these before the app runs, while the
user edits the rest at run time. Sources, weakest first: defaults < environment < command line;
every error names the source. Pure: no I/O.
"""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
from collections.abc import Mapping
from pathlib import Path

LOG_LEVELS = ("debug", "info", "warning", "error")
# How this server was started; the login page gives the command that works there. Set by the
# Dockerfile and the package's start script rather than guessed from the file system.
RUNTIMES = ("source", "docker", "dsm")


@dataclasses.dataclass(frozen=True)
class Config:
    host: str = "0.0.0.0"  # noqa: S104 - Synology Chat on the NAS must reach the bot over the LAN
    port: int = 8008
    data_dir: Path = Path("data")
    log_level: str = "info"
    workers: int = 4
    runtime: str = "source"


@dataclasses.dataclass(frozen=True)
class Option:
    name: str
    env: str
    help: str


OPTIONS = (
    Option("host", "SYNOCHATGPT_HOST", "address to listen on (default 0.0.0.0, every interface)"),
    Option("port", "SYNOCHATGPT_PORT", "port to listen on (default 8008; 0 picks a free one)"),
    Option("data_dir", "SYNOCHATGPT_DATA_DIR", "folder for settings and history (default ./data)"),
    Option("log_level", "SYNOCHATGPT_LOG_LEVEL", "debug, info, warning or error (default info)"),
    Option("workers", "SYNOCHATGPT_WORKERS", "conversations answered in parallel (default 4)"),
    Option("runtime", "SYNOCHATGPT_RUNTIME", "how it was started: source, docker or dsm (default source)"),
)


class ConfigError(ValueError):
    pass


def _convert(name: str, raw: str, source: str) -> object:
    raw = raw.strip()
    try:
        if name == "port":
            port = int(raw)
            if not 0 <= port <= 65535:
                raise ValueError
            return port
        if name == "workers":
            workers = int(raw)
            if not 1 <= workers <= 64:
                raise ValueError
            return workers
        if name == "host":
            if raw not in ("localhost", "::") and not _is_ip(raw):
                raise ValueError
            return raw
        if name == "log_level":
            if raw.lower() not in LOG_LEVELS:
                raise ValueError
            return raw.lower()
        if name == "runtime":
            if raw.lower() not in RUNTIMES:
                raise ValueError
            return raw.lower()
        if not raw:
            raise ValueError
        return Path(raw)
    except ValueError:
        expected = {
            "port": "a port number from 0 to 65535",
            "workers": "a whole number from 1 to 64",
            "host": "an IP address such as 0.0.0.0 or 127.0.0.1",
            "log_level": "one of " + ", ".join(LOG_LEVELS),
            "data_dir": "a folder path",
            "runtime": "one of " + ", ".join(RUNTIMES),
        }[name]
        raise ConfigError(f"{source}: expected {expected}, got {raw!r}") from None


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    for option in OPTIONS:
        flag = "--" + option.name.replace("_", "-")
        # SUPPRESS, not None: a subcommand's parser takes these too, and its default would
        # overwrite the same flag given before the subcommand (--data-dir X settings …).
        help_text = f"{option.help}; env {option.env}"
        parser.add_argument(flag, dest=option.name, default=argparse.SUPPRESS, help=help_text)


def load(args: argparse.Namespace, environ: Mapping[str, str]) -> Config:
    values: dict[str, object] = {}
    for option in OPTIONS:
        if option.env in environ:
            values[option.name] = _convert(option.name, environ[option.env], option.env)
        given = getattr(args, option.name, None)
        if given is not None:
            values[option.name] = _convert(option.name, given, "--" + option.name.replace("_", "-"))
    return dataclasses.replace(Config(), **values)  # type: ignore[arg-type]
