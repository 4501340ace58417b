"""The settings page's security rules: login everywhere, CSRF on every change, no secret in any
answer, headers that stop injected script and framing; and the auth module's parts."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from app import auth, config, settings
from app.__main__ import settings_command
from tests.conftest import API_KEY, BOT_TOKEN, Bot
from tests.fake_synology import FakeChat
from tests.webclient import ADMIN_PASSWORD, WebClient

PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/webhook"),
    ("HEAD", "/webhook"),
    ("POST", "/webhook"),
    # NapCat posts QQ events here, each signed with onebot_secret (tests/test_onebot.py).
    ("GET", "/onebot"),
    ("HEAD", "/onebot"),
    ("POST", "/onebot"),
    # DingTalk posts robot messages here in HTTP mode, each signed with the Client Secret
    # within an hour (tests/test_dingtalk.py); in Stream mode it refuses everything.
    ("GET", "/dingtalk"),
    ("HEAD", "/dingtalk"),
    ("POST", "/dingtalk"),
    ("GET", "/setup"),
    ("POST", "/setup"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/static/<name:path>"),
    ("GET", "/files/<key>/<name>"),
    ("GET", "/chat/login"),
    ("POST", "/chat/login"),  # Chat fetches an export here; the random key is the permission
}


def routes(bot: Bot) -> list[tuple[str, str]]:
    return [(route.method, route.rule) for route in bot.runtime.server.app.routes]


def concrete(rule: str) -> str:
    return re.sub(r"<[^>]+>", "x", rule)


def test_only_the_login_and_chat_routes_are_public(admin_bot: Bot) -> None:
    public = {(r.method, r.rule) for r in admin_bot.runtime.server.app.routes if r.config.get("public")}
    assert public == PUBLIC


def test_every_other_route_refuses_without_a_login(admin_bot: Bot) -> None:
    protected = [r for r in routes(admin_bot) if r not in PUBLIC]
    assert len(protected) >= 8
    for method, rule in protected:
        answer = requests.request(method, admin_bot.url + concrete(rule), timeout=10, allow_redirects=False)
        if method == "GET" and not rule.startswith("/api/"):
            login = "/chat/login" if rule.startswith("/chat") else "/login"
            assert answer.status_code == 303 and answer.headers["Location"] == login, rule
        else:
            assert answer.status_code == 401, (method, rule)
        assert "synochatgpt_session" not in answer.headers.get("Set-Cookie", "")


def test_a_forged_session_cookie_is_refused(admin_bot: Bot) -> None:
    answer = requests.get(
        admin_bot.url + "/", cookies={"synochatgpt_session": "forged"}, timeout=10, allow_redirects=False
    )
    assert answer.status_code == 303


def test_every_change_needs_the_csrf_token(admin_bot: Bot, admin: WebClient) -> None:
    changes = [r for r in routes(admin_bot) if r not in PUBLIC and r[0] == "POST"]
    assert {rule for _, rule in changes} >= {"/settings", "/password", "/logout", "/api/test-model"}
    before = admin_bot.runtime.store.settings()
    for _, rule in changes:
        fields = {
            "model": "hijacked",
            "current": ADMIN_PASSWORD,
            "password": "hijacked!",
            "confirm": "hijacked!",
        }
        missing = admin.http.post(admin.base + rule, data=fields, timeout=10, allow_redirects=False)
        assert missing.status_code == 403, rule
        wrong = admin.http.post(
            admin.base + rule, data={**fields, "csrf": "wrong"}, timeout=10, allow_redirects=False
        )
        assert wrong.status_code == 403, rule
        elsewhere = admin.http.post(
            admin.base + rule,
            data={**fields, "csrf": admin.csrf},
            headers={"Origin": "http://evil.example"},
            timeout=10,
            allow_redirects=False,
        )
        assert elsewhere.status_code == 403, rule
    assert admin_bot.runtime.store.settings() == before
    assert admin.get("/").status_code == 200, "still logged in: logout was refused too"


def test_the_login_and_setup_forms_need_their_token(admin_bot: Bot, make_bot: Callable[..., Bot]) -> None:
    answer = requests.post(admin_bot.url + "/login", data={"password": ADMIN_PASSWORD}, timeout=10)
    assert answer.status_code == 403 and "synochatgpt_session" not in answer.headers.get("Set-Cookie", "")
    fresh = make_bot()
    code = fresh.runtime.console.setup_code
    answer = requests.post(
        fresh.url + "/setup", data={"code": code, "password": "p" * 10, "confirm": "p" * 10}, timeout=10
    )
    assert answer.status_code == 403 and "admin_password" not in fresh.runtime.store.settings()


def test_no_answer_ever_contains_a_secret(
    make_bot: Callable[..., Bot], admin_hash: str, fake_chat: FakeChat
) -> None:
    bot = make_bot(admin_password=admin_hash, bot_token=BOT_TOKEN)
    incoming = fake_chat.url()
    digest = admin_hash.rsplit("$", maxsplit=1)[-1]
    secrets = [API_KEY, BOT_TOKEN, incoming, admin_hash, digest, ADMIN_PASSWORD]
    web = WebClient(bot.url)
    answers = [web.get("/login"), web.login("wrong password"), web.login()]
    bot.say("hello")
    bot.idle()
    answers += [web.get(concrete(rule)) for method, rule in routes(bot) if method == "GET"]
    answers += [web.get(f"/?lang={lang}") for lang in ("zh", "zh-Hant", "en")]
    form = web.settings_form()
    answers.append(web.post("/settings", {**form, "temperature": "bad"}))
    answers.append(web.post("/password", {"current": "x", "password": "y", "confirm": "z"}))
    answers.append(web.api("/api/test-model", {**form, "openai_api_key": ""}))
    answers.append(web.api("/api/test-model", form))
    answers.append(web.api("/api/test-chat", {**form, "user_id": "4"}))
    answers.append(web.api("/api/test-chat", {**form, "user_id": "x"}))
    answers.append(requests.get(bot.url + "/nope", timeout=5))
    answers.append(bot.say("again"))
    answers.append(bot.say("forged", token="Z" * 64))
    for answer in answers:
        text = answer.text + str(answer.headers)
        for secret in secrets:
            assert secret not in text, (answer.request.method, answer.url, secret[:6])
    assert f"…{API_KEY[-4:]}" in web.get("/").text, "only the last four characters show"


def test_headers_forbid_inline_script_and_framing(admin: WebClient) -> None:
    for path in ("/", "/login", "/static/app.css", "/api/webhooks"):
        answer = admin.get(path)
        policy = answer.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["X-Frame-Options"] == "DENY"
    page = admin.get("/").text
    assert admin.get("/").headers["Cache-Control"] == "no-store"
    scripts = re.findall(r"<script\b([^>]*)>", page)
    assert all('src="/static/' in attrs or 'type="application/json"' in attrs for attrs in scripts)
    assert not re.search(r"\son[a-z]+=", page), "no inline event handlers"
    assert not re.search(r'\sstyle="', page), "no inline style (the policy would block it)"


def test_static_files_stay_in_their_folder(admin_bot: Bot) -> None:
    assert requests.get(admin_bot.url + "/static/app.js", timeout=5).status_code == 200
    for path in ("/static/../pages.py", "/static/%2e%2e/pages.py", "/static/..%2f..%2fsettings.json"):
        answer = requests.get(admin_bot.url + path, timeout=5)
        assert answer.status_code in (403, 404), path
        assert "import" not in answer.text


# -- the auth module ---------------------------------------------------------------------------


def test_password_hashes_are_salted_and_verify() -> None:
    first, second = auth.hash_password("hunter2hunter2"), auth.hash_password("hunter2hunter2")
    assert first != second and first.startswith("scrypt$16384$8$5$")
    assert auth.verify_password("hunter2hunter2", first) and auth.verify_password("hunter2hunter2", second)
    assert not auth.verify_password("hunter2hunter3", first)
    assert not auth.verify_password("hunter2hunter2", "plain-text")
    assert not auth.verify_password("x" * 2000, first)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_sessions_expire_when_idle_or_old_and_are_capped() -> None:
    clock = Clock()
    sessions = auth.Sessions(idle=60, lifetime=300, cap=3, clock=clock)
    one = sessions.create("h1")
    assert sessions.get(one.id, "h1") is one
    assert sessions.get(one.id, "h2") is None, "a password change ends it"
    two = sessions.create("h1")
    clock.now += 61
    assert sessions.get(two.id, "h1") is None, "idle too long"
    three = sessions.create("h1")
    for _ in range(5):
        clock.now += 50
        assert sessions.get(three.id, "h1") is three
    clock.now += 51
    assert sessions.get(three.id, "h1") is None, "older than its lifetime"
    for _ in range(10):
        sessions.create("h1")
    assert len(sessions) == 3


def test_the_throttle_doubles_and_forgets_after_a_success() -> None:
    clock = Clock()
    throttle = auth.Throttle(clock=clock, cap=2)
    delays = [throttle.failed("a") for _ in range(6)]
    assert delays == [0, 0, 0, 2, 4, 8]
    assert throttle.wait("a") == 8 and throttle.wait("b") == 0
    clock.now += 8
    assert throttle.wait("a") == 0
    throttle.succeeded("a")
    assert throttle.failed("a") == 0
    patient = auth.Throttle(clock=clock)
    assert max(patient.failed("c") for _ in range(40)) == auth.Throttle.MAX_WAIT
    throttle.failed("b")
    throttle.failed("c")
    assert throttle.failed("a") == 0, "the oldest address was dropped at the cap"


def test_setup_codes_are_random_and_forgiving_about_format() -> None:
    code = auth.new_setup_code()
    assert re.fullmatch(r"[2-9A-Z]{4}-[2-9A-Z]{4}", code) and code != auth.new_setup_code()
    assert auth.setup_code_matches(code.lower().replace("-", " "), code)
    assert not auth.setup_code_matches("", code) and not auth.setup_code_matches(code, "")


def test_a_password_is_hashed_wherever_it_comes_from(tmp_path: Path) -> None:
    fixed = settings.from_environment({"SYNOCHATGPT_ADMIN_PASSWORD": ADMIN_PASSWORD})
    assert auth.verify_password(ADMIN_PASSWORD, fixed["admin_password"])
    with pytest.raises(settings.SettingsError, match="at least 8"):
        settings.from_environment({"SYNOCHATGPT_ADMIN_PASSWORD": "short"})
    cfg = config.Config(data_dir=tmp_path)
    parser_args = type("Args", (), {"action": "set", "name": "admin_password", "value": "-"})()
    out = io.StringIO()
    settings_command(cfg, {}, parser_args, out, io.StringIO(ADMIN_PASSWORD + "\n"))
    stored = (tmp_path / "settings.json").read_text()
    assert ADMIN_PASSWORD not in stored and "scrypt$" in stored
    shown = io.StringIO()
    show_args = type("Args", (), {"action": "show"})()
    settings_command(cfg, {}, show_args, shown, io.StringIO())
    assert "admin_password = (set)\n" in shown.getvalue() and "scrypt" not in shown.getvalue()


def test_a_hand_edited_plain_password_is_ignored() -> None:
    values = settings.resolve({"admin_password": "plain text!"}, {})
    assert values.admin_password == ""
