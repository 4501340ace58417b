"""/export: a conversation as a Markdown file, and writing it into the export folder."""

from __future__ import annotations

import datetime
import os
import re
from collections.abc import Callable, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

from app import people

FILE_MODE = 0o640  # the owner's group (on DSM, the shared folder's users) may read it
DIR_MODE = 0o750
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def to_markdown(
    exchanges: Sequence[dict[str, Any]],
    *,
    title: str,
    model: str,
    persona: str,
    exported: datetime.datetime,
    picture: Callable[[str], str | None] | None = None,
) -> str:
    """picture(name): a drawn picture kept with the conversation, as a data: URL, so the file
    holds it whole (the web chat's); None where none is kept."""
    lines = [f"# {title}", "", f"- Exported: {exported:%Y-%m-%d %H:%M}", f"- Model: {model}"]
    if persona:
        lines.append("- Instructions: " + " ".join(persona.split()))
    lines.append("")
    for exchange in exchanges:
        at = exchange.get("at")
        when = (
            f" · {datetime.datetime.fromtimestamp(at):%Y-%m-%d %H:%M}" if isinstance(at, int | float) else ""
        )
        lines += [f"## {exchange.get('name') or 'You'}{when}", "", str(exchange["user"]).strip(), ""]
        lines += ["## SynoChatGPT", "", str(exchange["assistant"]).strip(), ""]
        found = picture(str(exchange["image"])) if picture and exchange.get("image") else None
        if found:
            lines += [f"![{exchange['image']}]({found})", ""]
    return "\n".join(lines)


def file_name(exported: datetime.datetime, conversation: str) -> str:
    return f"chat-{exported:%Y%m%d-%H%M%S}-{conversation}.md"


def folder_for(username: str, person: str) -> str:
    """One folder per person, never shared: the person's id first (ids are unique, and the
    first "-" after a Synology id's digits ends it), then the user name where it makes a safe
    file name, so the owner can tell the folders apart. A name alone could be chosen to match
    another person's ("../../x" is "x", a user named "301" is user id 301). A web chat
    account's id is its name already ("web.mei")."""
    if people.platform(person) == people.SYNOLOGY:
        ident = people.local(person)
    else:
        ident = people.file_stem(person)
        if people.platform(person) == people.WEB:
            return ident
    safe = _UNSAFE.sub("_", username).strip("._-")[:64]
    return f"{ident}-{safe}" if safe else ident


def save(root: Path, folder: str, name: str, text: str) -> Path:
    """Write the file (never over an existing one). Raises OSError with the reason."""
    if not root.is_dir():
        raise FileNotFoundError(2, "the folder does not exist")
    target = root / folder
    target.mkdir(mode=DIR_MODE, exist_ok=True)
    path = target / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    with suppress(OSError):  # a shared folder with ACLs may refuse chmod; the ACL decides then
        path.chmod(FILE_MODE)
    return path
