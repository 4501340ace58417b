"""The README documents every setting, and the modules keep to their boundaries (design.md)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from app import config, i18n, pages, pagetext, pagetext_hant, settings
from app.platforms import registry
from app.platforms.synology import wire as synology

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
    "images": {"openai", "httpx2"},
    "platforms.synology.wire": {"requests", "urllib3"},
    "platforms.synology.webhook": {"bottle"},
    "platforms.synology.platform": {"bottle"},
    "platforms.onebot.wire": {"requests"},
    "platforms.onebot.events": {"bottle"},
    "platforms.onebot.platform": {"bottle"},
    "platforms.dingtalk.wire": {"requests"},
    "platforms.dingtalk.stream": {"websockets"},
    "platforms.dingtalk.events": {"bottle"},
    "platforms.dingtalk.platform": {"bottle"},
    "platforms.http": {"bottle"},
    "platforms.fetching": {"requests"},
    "web": {"bottle"},
    "pages": {"bottle"},
    "webchat": {"bottle"},
    "server": {"cheroot"},
}
OUTSIDE = {"tinydb", "openai", "httpx2", "requests", "urllib3", "bottle", "cheroot", "websockets"}
# Every module under app/, platforms' folders included, as "bot" or "platforms.synology.wire".
MODULES = sorted(
    ".".join(p.relative_to(ROOT / "app").with_suffix("").parts) for p in (ROOT / "app").rglob("*.py")
)
# The core knows chat platforms only through the interface (issue 14): a platform's folder can
# change, or a new one appear, without the core changing.
CORE = ("bot", "commands", "gate", "limits", "store", "worker", "llm", "people", "conversations", "migrate",
        "text", "export", "i18n", "settings", "declare", "monitor", "datalock", "chart", "drawing", "images",
        "pictures", "partial", "plainhttp")  # fmt: skip
INTERFACE = ("app.platforms.base",)  # the module and the names it defines


def _path(module: str) -> Path:
    return ROOT / "app" / (module.replace(".", "/") + ".py")


def _imports(module: str) -> set[str]:
    """The modules it imports at run time, by full name (imports for the type checker only, in
    `if TYPE_CHECKING:`, are left out: they never load)."""
    tree = ast.parse(_path(module).read_text(encoding="utf-8"))
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


@pytest.mark.parametrize("module", MODULES)
def test_module_boundaries(module: str) -> None:
    outside = {name.split(".")[0] for name in _imports(module)} & OUTSIDE
    assert outside <= ALLOWED.get(module, set()), f"app/{module} imports {outside}"


# settings.py reads the registry's list of every platform's settings (declared as data in
# each folder), and no platform module itself.
ALSO = {"settings": ("app.platforms.registry",)}


def _beyond_the_interface(module: str) -> set[str]:
    reached = {name for name in _imports(module) if name.startswith("app.platforms.")}
    return {name for name in reached if not name.startswith(INTERFACE + ALSO.get(module, ()))}


@pytest.mark.parametrize("module", CORE)
def test_the_core_knows_platforms_only_through_the_interface(module: str) -> None:
    assert _beyond_the_interface(module) == set(), f"app/{module}.py reaches into a platform"


def test_the_boundary_check_sees_a_platform_import() -> None:
    """The check above can fail: the dashboard does reach into Synology's folder."""
    assert "app.platforms.synology.wire" in _beyond_the_interface("dashboard")


ARCHITECTURE = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("module", MODULES)
def test_every_module_is_on_the_map(module: str) -> None:
    path = module.replace(".", "/") + ".py"
    assert f"`{path}`" in ARCHITECTURE, f"ARCHITECTURE.md has no line for app/{path}"


def test_every_module_on_the_map_exists() -> None:
    named = set(re.findall(r"`([\w/.]+\.py)`", ARCHITECTURE))
    assert len(named) > len(MODULES) // 2
    for path in named:
        where = ROOT / path if path.startswith(("app/", "tests/")) else ROOT / "app" / path
        assert where.is_file(), f"ARCHITECTURE.md names {path}, which does not exist"


def test_the_readme_points_to_the_map() -> None:
    assert "ARCHITECTURE.md" in README


@pytest.mark.parametrize("module", MODULES)
def test_nothing_runs_on_import(module: str) -> None:
    """Module level holds only imports, definitions, constants and the __main__ guard."""
    tree = ast.parse(_path(module).read_text(encoding="utf-8"))
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
                        "Custom",
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
    # A platform's words, from its folder: all three languages in one table.
    for key, table in registry.TEXTS.items():
        assert key not in pagetext.TEXTS, f"{key} is both the core's and a platform's"
        expected = _fields(table["en"])
        for lang in ("zh", "zh-Hant"):
            assert table.get(lang) and _fields(table[lang]) == expected, (key, lang)


@pytest.mark.parametrize("setting", settings.SETTINGS, ids=lambda s: s.name)
def test_every_setting_has_a_label_and_help_in_chinese(setting: settings.Setting) -> None:
    assert setting.label, setting.name
    own = {lang: (label, help_text) for lang, label, help_text in setting.words}
    for lang, table in (("zh", pagetext.SETTING_TEXTS), ("zh-Hant", pagetext_hant.SETTING_TEXTS)):
        label, help_text = own.get(lang) or (table[setting.name]["label"], table[setting.name]["help"])
        assert label and help_text, (setting.name, lang)
        shown = pagetext.Translator(lang)
        assert (shown.label(setting), shown.help(setting)) == (label, help_text)


def test_every_text_the_templates_and_pages_use_exists() -> None:
    used: set[str] = set()
    for path in [
        *(ROOT / "app" / "views").glob("*.tpl"),
        *(ROOT / "app" / n for n in ("pages.py", "dashboard.py", "settingsform.py")),
    ]:
        used |= set(re.findall(r"\bt\('([a-z_]+)'", path.read_text(encoding="utf-8")))
        used |= set(re.findall(r'\bt\("([a-z_]+)"', path.read_text(encoding="utf-8")))
    assert len(used) > 50
    missing = sorted(key for key in used if not pagetext.has(key) and not key.endswith("_"))
    assert not missing, missing
    prefixed = {
        "msg_": pages.MESSAGES,
        "g_": settings.GROUPS,
        "p_": settings.PROBLEMS,
        "wh_": _webhook_reasons(),
        "src_": ("model", "chat"),  # Monitor.error's sources
        "login_forgot_": config.RUNTIMES,  # login.tpl: where to type the password command
    }
    for prefix, names in prefixed.items():
        absent = [name for name in names if not pagetext.has(prefix + name)]
        assert not absent, (prefix, absent)


def test_every_model_and_chat_error_has_a_sentence() -> None:
    model_kinds = re.findall(r'ModelError\("([a-z_]+)"', (ROOT / "app" / "llm.py").read_text())
    chat_kinds = re.findall(
        r'ChatError\(\s*"([a-z_]+)"', (ROOT / "app" / "platforms" / "synology" / "wire.py").read_text()
    )
    chat_kinds += list(synology.ERROR_KINDS.values())
    assert len(set(model_kinds)) >= 8 and len(set(chat_kinds)) >= 6
    assert all(f"me_{kind}" in pagetext.TEXTS for kind in model_kinds), model_kinds
    assert all(f"ce_{kind}" in pagetext.TEXTS for kind in chat_kinds), chat_kinds


def _webhook_reasons() -> set[str]:
    """Every reason a platform's webhook records (each needs a wh_ text on the page)."""
    found = {"bad_body"}
    for path in (ROOT / "app" / "platforms").rglob("webhook.py"):
        source = path.read_text(encoding="utf-8")
        found |= set(re.findall(r'record\(\s*\w+,\s*"([a-z_]+)"', source))
        found |= set(re.findall(r'\d{3}: "([a-z_]+)"', source))  # a refused body's reasons
        found |= set(re.findall(r'Refused\(\s*\d{3},\s*"([a-z_]+)"', source))
    gate = (ROOT / "app" / "gate.py").read_text(encoding="utf-8")
    found |= set(re.findall(r'Outcome\(\s*"([a-z_]+)"', gate))
    assert len(found) >= 8, found
    return found
