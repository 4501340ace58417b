"""The settings page's form read back: each field as its setting's kind says (secrets kept when
left empty, defaults removed), and the repeating rows of channels, slash tokens and web chat
accounts. Pure: the posted fields in, changes and problems out; pages.py does the HTTP."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from app import settings
from app.settings import Values


@dataclasses.dataclass
class FormResult:
    changes: dict[str, Any]
    remove: tuple[str, ...]
    errors: dict[str, settings.Invalid]
    # What the user typed, to show again should the form be refused, secrets included: only what
    # came in this request, never a stored secret (those the page shows by their last characters).
    submitted: dict[str, Any]


def read_settings_form(fields: Mapping[str, str], values: Values) -> FormResult:
    """Turn the posted form into changes. A secret's field left empty keeps the stored value,
    `clear_<name>` removes it. A value equal to its default is removed rather than stored, so a
    later version's better default still reaches this NAS."""
    changes: dict[str, Any] = {}
    remove: list[str] = []
    errors: dict[str, settings.Invalid] = {}
    submitted: dict[str, Any] = {}
    for item in settings.SETTINGS:
        if item.group not in settings.GROUPS or item.name in values.fixed:
            continue
        if item.kind in ("channels", "tokens", "accounts"):
            current = values.values[item.name]
            entries: list[Any]
            if item.kind == "channels":
                entries, submitted[item.name] = read_channels(fields, current)
            elif item.kind == "accounts":
                entries, submitted[item.name] = read_accounts(fields, current)
            else:
                entries = read_tokens(fields, current)
            try:
                parsed = settings.parse(item, entries)
            except settings.Invalid as exc:
                errors[item.name] = exc
                continue
            if parsed:
                changes[item.name] = parsed
            else:
                remove.append(item.name)
            continue
        if item.secret and fields.get(f"clear_{item.name}"):
            remove.append(item.name)
            continue
        raw = fields.get(item.name, "")
        if item.kind == "bool":
            raw = "true" if raw else "false"  # an unticked box is not posted at all
        elif item.secret and not raw.strip():
            continue
        submitted[item.name] = raw
        try:
            value = settings.parse(item, raw)
        except settings.Invalid as exc:
            errors[item.name] = exc
            continue
        if value == item.default:
            remove.append(item.name)
        else:
            changes[item.name] = value
    return FormResult(changes, tuple(remove), errors, submitted)


def read_channels(
    fields: Mapping[str, str], current: tuple[Any, ...]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The channel rows of the form: existing ones by position (a secret left empty keeps the
    stored one, a ticked 'delete' drops the row) and the empty row for a new channel. Returns
    the list to validate and the rows to show again, as typed, should it be refused."""
    rows: list[dict[str, Any]] = []
    shown: list[dict[str, Any]] = []
    for index in [*range(len(current)), "new"]:
        old = current[index] if isinstance(index, int) else None
        prefix = f"ch-{index}-"
        typed = {
            k: (fields.get(prefix + k) or "").strip() for k in ("name", "token", "url", "context", "triggers")
        }
        if old is None and not (typed["name"] or typed["token"] or typed["url"]):
            continue
        # The typed token and URL come back too (this request's, never the stored ones).
        view = {"index": index, "name": typed["name"], "context": typed["context"], "old": old}
        view |= {"token": typed["token"], "url": typed["url"]}
        view |= {"triggers": typed["triggers"], "delete": bool(fields.get(prefix + "delete"))}
        shown.append(view)
        if view["delete"]:
            continue
        view["position"] = str(len(rows) + 1)  # as a refusal counts the rows (its `row`)
        row = {
            "name": typed["name"],
            "outgoing_token": typed["token"] or (old.outgoing_token if old else ""),
            "incoming_url": typed["url"] or (old.incoming_url if old else ""),
            "context": typed["context"] or "shared",
            "triggers": typed["triggers"],
        }
        rows.append(row)
    return rows, shown


def channel_rows(value: tuple[Any, ...], shown: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The channel editor's rows: what was just typed when it was refused, else what is stored,
    and an empty row to add one."""
    if shown is None:
        shown = [
            {"index": i, "name": c.name, "context": c.context, "triggers": ", ".join(c.triggers), "old": c}
            | {"delete": False}
            for i, c in enumerate(value)
        ]
    blank = {"index": "new", "name": "", "context": "shared", "triggers": "", "old": None, "delete": False}
    return shown if any(r["index"] == "new" for r in shown) else [*shown, blank]


def read_tokens(fields: Mapping[str, str], current: tuple[str, ...]) -> list[str]:
    """Slash tokens: the stored ones not ticked for removal, plus any pasted."""
    keep = [t for i, t in enumerate(current) if not fields.get(f"remove-slash-{i}")]
    return keep + settings.split_list(fields.get("slash_tokens") or "")


def read_accounts(fields: Mapping[str, str], current: tuple[dict[str, str], ...]) -> tuple[list[Any], str]:
    """Web chat accounts: the stored ones not ticked for removal, plus the one being added.
    Returns them, and the typed name to show again should the form be refused."""
    keep: list[Any] = [a for i, a in enumerate(current) if not fields.get(f"remove-account-{i}")]
    name = (fields.get("account-name") or "").strip()
    password = fields.get("account-password") or ""
    if name or password:
        keep.append({"name": name, "password": password})
    return keep, name


def apply_form(values: Values, result: FormResult) -> Values:
    """The values as they would be after saving: for the live checks on unsaved edits."""
    merged = dict(values.values)
    for name in result.remove:
        merged[name] = settings.BY_NAME[name].default
    merged.update(result.changes)
    return Values(merged, values.fixed)
