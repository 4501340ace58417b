"""The README documents every setting, and the modules keep to their boundaries (design.md)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from app import config, i18n, pages, pagetext, pagetext_hant, settings, synology

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("setting", settings.SETTINGS, ids=lambda s: s.name)
def test_every_setting_is_in_the_readme_with_its_variable(setting: settings.Setting) -> None:
    row = next((line for line in README.splitlines() if line.startswith(f"| `{setting.name}` |")), None)
    assert row, f"README has no row for {setting.name}"
    assert f"`{setting.env}`" in row
    for alias in setting.aliases:
        assert f"`{alias}`" in row
    assert setting.help, "every setting has help text"


@pytest.mark.parametrize("option", config.OPTIONS, ids=lambda o: o.name)
def test_every_start_up_option_is_in_the_readme(option: config.Option) -> None:
    assert f"`--{option.name.replace('_', '-')}` | `{option.env}`" in README


def test_readme_gives_the_two_commands() -> None:
    assert "make run" in README and "make test" in README


def test_every_bot_message_is_in_english_and_chinese() -> None:
    for key, table in i18n.MESSAGES.items():
        assert set(table) == set(i18n.LANGUAGES), key
        fields = {name for lang in table for name in _fields(table[lang])}
        for lang in i18n.LANGUAGES:
            assert _fields(table[lang]) == fields, f"{key}/{lang} uses other placeholders"


def _fields(template: str) -> set[str]:
    import string

    return {name.split(":")[0] for _, name, _, _ in string.Formatter().parse(template) if name}


# Which outside libraries each module may import (design.md: one module per outside system).
ALLOWED = {
    "store": {"tinydb"},
    "llm": {"openai", "httpx2"},
    "synology": {"requests", "urllib3"},
    "web": {"bottle"},
    "pages": {"bottle"},
    "webchat": {"bottle"},
    "server": {"cheroot"},
}
OUTSIDE = {"tinydb", "openai", "httpx2", "requests", "urllib3", "bottle", "cheroot"}


@pytest.mark.parametrize("module", sorted(p.stem for p in (ROOT / "app").glob("*.py")))
def test_module_boundaries(module: str) -> None:
    tree = ast.parse((ROOT / "app" / f"{module}.py").read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    outside = imported & OUTSIDE
    assert outside <= ALLOWED.get(module, set()), f"app/{module}.py imports {outside}"


@pytest.mark.parametrize("module", sorted(p.stem for p in (ROOT / "app").glob("*.py")))
def test_nothing_runs_on_import(module: str) -> None:
    """Module level holds only imports, definitions, constants and the __main__ guard."""
    tree = ast.parse((ROOT / "app" / f"{module}.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # docstring
        if isinstance(node, ast.If):
            # The __main__ guard, or imports only for the type checker.
            assert ast.unparse(node.test) in ("__name__ == '__main__'", "TYPE_CHECKING"), module
            continue
        allowed = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef, ast.Assign, ast.AnnAssign)
        assert isinstance(node, allowed), f"{module}: {ast.unparse(node)[:60]} runs on import"
        if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
            for call in ast.walk(node.value):
                if isinstance(call, ast.Call):
                    name = ast.unparse(call.func)
                    assert name in {
                        "Setting",
                        "re.compile",
                        "frozenset",
                        "set",
                        "dict",
                        "tuple",
                        "Option",
                        "Path",
                        "logging.getLogger",
                    }, f"{module}: {name}() runs on import"


# -- the settings page's words ------------------------------------------------------------------


def test_every_page_text_is_in_every_language() -> None:
    for key, table in pagetext.TEXTS.items():
        assert table.get("en") and table.get("zh"), key
        assert pagetext_hant.TEXTS.get(key), f"{key} has no Traditional Chinese"
        expected = _fields(table["en"])
        assert _fields(table["zh"]) == expected, f"{key}/zh uses other placeholders"
        assert _fields(pagetext_hant.TEXTS[key]) == expected, f"{key}/zh-Hant uses other placeholders"
    assert set(pagetext_hant.TEXTS) == set(pagetext.TEXTS), "pagetext_hant.py is out of date"


@pytest.mark.parametrize("setting", settings.SETTINGS, ids=lambda s: s.name)
def test_every_setting_has_a_label_and_help_in_chinese(setting: settings.Setting) -> None:
    assert setting.label, setting.name
    for table in (pagetext.SETTING_TEXTS, pagetext_hant.SETTING_TEXTS):
        assert table[setting.name]["label"] and table[setting.name]["help"]


def test_every_text_the_templates_and_pages_use_exists() -> None:
    used: set[str] = set()
    for path in [*(ROOT / "app" / "views").glob("*.tpl"), ROOT / "app" / "pages.py"]:
        used |= set(re.findall(r"\bt\('([a-z_]+)'", path.read_text(encoding="utf-8")))
        used |= set(re.findall(r'\bt\("([a-z_]+)"', path.read_text(encoding="utf-8")))
    assert len(used) > 50
    missing = sorted(key for key in used if key not in pagetext.TEXTS and not key.endswith("_"))
    assert not missing, missing
    prefixed = {
        "msg_": pages.MESSAGES,
        "g_": settings.GROUPS,
        "p_": settings.PROBLEMS,
        "wh_": _webhook_reasons(),
        "src_": ("model", "chat"),  # Monitor.error's sources
    }
    for prefix, names in prefixed.items():
        absent = [name for name in names if prefix + name not in pagetext.TEXTS]
        assert not absent, (prefix, absent)


def test_every_model_and_chat_error_has_a_sentence() -> None:
    model_kinds = re.findall(r'ModelError\("([a-z_]+)"', (ROOT / "app" / "llm.py").read_text())
    chat_kinds = re.findall(r'ChatError\(\s*"([a-z_]+)"', (ROOT / "app" / "synology.py").read_text())
    chat_kinds += list(synology.ERROR_KINDS.values())
    assert len(set(model_kinds)) >= 8 and len(set(chat_kinds)) >= 6
    assert all(f"me_{kind}" in pagetext.TEXTS for kind in model_kinds), model_kinds
    assert all(f"ce_{kind}" in pagetext.TEXTS for kind in chat_kinds), chat_kinds


def _webhook_reasons() -> set[str]:
    source = (ROOT / "app" / "web.py").read_text(encoding="utf-8")
    found = set(re.findall(r'monitor\.webhook\(\s*\w+,\s*"([a-z_]+)"', source))
    found |= set(re.findall(r'\d{3}: "([a-z_]+)"', source)) | {"bad_body"}
    gate = (ROOT / "app" / "gate.py").read_text(encoding="utf-8")
    found |= set(re.findall(r'Outcome\(\s*\d{3},\s*"([a-z_]+)"', gate))
    assert len(found) >= 8, found
    return found
