"""The command that sets a forgotten admin password, as it must be typed where this server runs.

The login page shows it. How the server was started (config.RUNTIMES) decides its shape: on DSM
the package's own python, run as the package user because the data folder is theirs alone; in
Docker `docker exec` into the container; otherwise the same python, in the folder the server was
started from. It always names this server's data folder unless the command finds it by itself.
Pure: __main__ passes in the facts about the process.
"""

from __future__ import annotations

import dataclasses
import os
import shlex

CONTAINER = "synochatgpt"  # the container's name in compose.yaml and in the README's docker run
IMAGE_DATA_DIR = "/data"  # the image's SYNOCHATGPT_DATA_DIR, which docker exec inherits


@dataclasses.dataclass(frozen=True)
class Started:
    """How and where this server process was started."""

    runtime: str  # one of config.RUNTIMES
    python: str  # the interpreter running the server
    folder: str  # the folder it was started in
    user: str  # the account it runs as
    data_dir: str  # absolute, symbolic links kept: the path as the start script gave it


def reset_command(started: Started) -> str:
    """One line for a shell; the new password is then typed (or piped) on standard input."""
    if started.runtime == "docker":
        own = [] if started.data_dir == IMAGE_DATA_DIR else ["--data-dir", started.data_dir]
        return _join(["docker", "exec", "-it", CONTAINER, started.python, *_settings(own)])
    if started.runtime == "dsm":
        # The start script gives the data folder in its own environment only, so name it here.
        own = ["--data-dir", started.data_dir]
        return _join(["sudo", "-u", started.user, started.python, *_settings(own)])
    # A source checkout's `app` is found only from the folder the server was started in.
    folder = started.folder
    python = _within(started.python, folder)
    python = python if os.sep in python else "." + os.sep + python  # not looked up in PATH
    own = ["--data-dir", _within(started.data_dir, folder)]
    return f"cd {shlex.quote(folder)} && " + _join([python, *_settings(own)])


def _settings(data_dir: list[str]) -> list[str]:
    # --data-dir after `settings`: argparse lets a subcommand's own default overwrite a flag
    # given before it.
    return ["-m", "app", "settings", *data_dir, "set", "admin_password", "-"]


def _within(path: str, folder: str) -> str:
    """The path relative to folder when it lies inside: shorter, and what the person knows."""
    if not path.startswith(folder.rstrip(os.sep) + os.sep):
        return path
    return os.path.relpath(path, folder)


def _join(words: list[str]) -> str:
    return " ".join(shlex.quote(word) for word in words)
