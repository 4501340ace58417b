"""The README documents every setting, and the modules keep to their boundaries (design.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from app import config, i18n, settings

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
            assert ast.unparse(node.test) == "__name__ == '__main__'", f"{module}: a module-level if"
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
