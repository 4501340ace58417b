"""The settings page over real HTTP: first run, login, the form, the live checks, the data the
dashboard shows. The browser walk is in test_browser.py; the security rules in test_security.py."""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from app import checks
from tests.conftest import API_KEY, BOT_TOKEN, Bot
from tests.fake_openai import FakeOpenAI
from tests.fake_synology import FakeChat, make_certificate
from tests.webclient import ADMIN_PASSWORD, WebClient

NEW_PASSWORD = "a new and longer passphrase"


def stored(bot: Bot) -> dict[str, object]:
    return bot.runtime.store.settings()


# -- first run -------------------------------------------------------------------------------


def test_first_run_needs_the_setup_code_from_the_log(
    make_bot: Callable[..., Bot], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="app"):
        bot = make_bot()
    code = bot.runtime.console.setup_code
    assert any(code in r.getMessage() for r in caplog.records), "the setup code is printed in the log"
    web = WebClient(bot.url)
    assert web.get("/").headers["Location"].endswith("/setup")
    assert web.get("/login").headers["Location"].endswith("/setup")
    page = web.get("/setup")
    assert page.status_code == 200 and 'name="code"' in page.text and code not in page.text

    wrong = web.post("/setup", {"code": "AAAA-BBBB", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert wrong.status_code == 401 and "setup code is not right" in wrong.text
    mismatch = web.post("/setup", {"code": code, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD + "x"})
    assert mismatch.status_code == 400 and "not the same" in mismatch.text
    short = web.post("/setup", {"code": code, "password": "short", "confirm": "short"})
    assert short.status_code == 400 and "at least 8" in short.text
    assert "admin_password" not in stored(bot)

    done = web.post(
        "/setup", {"code": code.lower().replace("-", " "), "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert done.status_code == 303 and done.headers["Location"].endswith("/?msg=welcome")
    saved = str(stored(bot)["admin_password"])
    assert saved.startswith("scrypt$") and NEW_PASSWORD not in saved
    welcome = web.get("/?msg=welcome")
    assert welcome.status_code == 200 and "The admin password is set" in welcome.text
    # Once set, nobody else can use the first-run page.
    other = WebClient(bot.url)
    assert other.get("/setup").headers["Location"].endswith("/login")
    other.get("/login")
    again = other.post("/setup", {"code": code, "password": "attacker-pass", "confirm": "attacker-pass"})
    assert again.status_code in (303, 403) and stored(bot)["admin_password"] == saved


def test_a_removed_password_brings_the_code_back_to_the_log(
    admin_bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    admin_bot.runtime.store.save_settings({}, remove=("admin_password",))  # settings unset admin_password
    web = WebClient(admin_bot.url)
    with caplog.at_level("WARNING", logger="app"):
        assert web.get("/").headers["Location"] == "/setup"
        assert web.get("/setup").status_code == 200
        web.get("/setup")
    code = admin_bot.runtime.console.setup_code
    assert sum(code in r.getMessage() for r in caplog.records) == 1, "announced once"


def test_a_password_from_the_environment_needs_no_setup(make_bot: Callable[..., Bot]) -> None:
    bot = make_bot(environ={"SYNOCHATGPT_ADMIN_PASSWORD": NEW_PASSWORD})
    web = WebClient(bot.url)
    assert web.get("/setup").headers["Location"].endswith("/login")
    assert web.login(NEW_PASSWORD).status_code == 303
    page = web.get("/").text
    assert "SYNOCHATGPT_ADMIN_PASSWORD" in page and 'id="change-password"' not in page
    assert "admin_password" not in stored(bot), "the environment's password is never written down"


# -- login, logout, sessions ---------------------------------------------------------------------


def test_login_sets_a_strict_http_only_cookie(admin_bot: Bot) -> None:
    web = WebClient(admin_bot.url)
    assert web.get("/").headers["Location"].endswith("/login")
    wrong = web.login("not the password")
    assert wrong.status_code == 401 and "Wrong password" in wrong.text
    answer = web.login()
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/")
    cookie = next(c for c in answer.raw.headers.getlist("Set-Cookie") if c.startswith("synochatgpt_session="))
    assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower() and "Secure" not in cookie
    assert web.get("/").status_code == 200


def test_the_cookie_is_secure_behind_https(admin_bot: Bot) -> None:
    web = WebClient(admin_bot.url)
    web.get("/login")
    answer = web.post("/login", {"password": ADMIN_PASSWORD}, headers={"X-Forwarded-Proto": "https"})
    cookie = next(c for c in answer.raw.headers.getlist("Set-Cookie") if c.startswith("synochatgpt_session="))
    assert "Secure" in cookie


def test_logout_ends_the_session(admin: WebClient) -> None:
    answer = admin.post("/logout")
    assert answer.status_code == 303 and "logged_out" in answer.headers["Location"]
    assert admin.get("/").headers["Location"].endswith("/login")
    assert "You are logged out" in admin.get("/login?msg=logged_out").text


def test_growing_waits_after_wrong_passwords(admin_bot: Bot) -> None:
    web = WebClient(admin_bot.url)
    for _ in range(3):
        assert web.login("wrong password!").status_code == 401
    locked = web.login("wrong password!")
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) >= 2
    assert "Too many wrong attempts" in locked.text
    # While locked, even the right password is not tried.
    assert web.login().status_code == 429
    time.sleep(2.1)
    assert web.login().status_code == 303, "the wait is over and the right password works"
    # A success clears the count.
    other = WebClient(admin_bot.url)
    assert other.login("wrong again!").status_code == 401


def test_changing_the_password_logs_out_other_browsers(admin_bot: Bot, admin: WebClient) -> None:
    other = WebClient(admin_bot.url)
    assert other.login().status_code == 303
    wrong = admin.post(
        "/password", {"current": "nope nope", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert wrong.status_code == 400 and "current password is wrong" in wrong.text
    mismatch = admin.post("/password", {"current": ADMIN_PASSWORD, "password": NEW_PASSWORD, "confirm": "x"})
    assert mismatch.status_code == 400 and "not the same" in mismatch.text
    done = admin.post(
        "/password", {"current": ADMIN_PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert done.status_code == 303
    assert admin.get("/").status_code == 200, "the browser that changed it stays logged in"
    assert other.get("/").headers["Location"].endswith("/login")
    assert WebClient(admin_bot.url).login(ADMIN_PASSWORD).status_code == 401
    assert WebClient(admin_bot.url).login(NEW_PASSWORD).status_code == 303


# -- the settings form -------------------------------------------------------------------------


def test_saving_settings(admin_bot: Bot, admin: WebClient) -> None:
    fields = admin.settings_form()
    assert fields["model"] == "fake-model" and "openai_api_key" in fields and fields["openai_api_key"] == ""
    fields.update(model="qwen2.5:7b", temperature="0.4", system_prompt="Be brief.\nAnswer in French.")
    fields.pop("strip_thinking", None)  # unticked boxes are not posted
    answer = admin.post("/settings", fields)
    assert answer.status_code == 303 and "msg=saved" in answer.headers["Location"]
    values = admin_bot.runtime.settings()
    assert values.model == "qwen2.5:7b" and values.temperature == 0.4
    assert values.system_prompt == "Be brief.\nAnswer in French." and values.strip_thinking is False
    assert values.openai_api_key == API_KEY, "an empty secret field keeps the stored key"
    assert "Settings saved" in admin.get("/?msg=saved").text
    # Back to a default: removed from the store, so a later version's default applies.
    fields = admin.settings_form()
    fields["context_tokens"] = "8000"
    assert admin.post("/settings", fields).status_code == 303
    assert "context_tokens" not in stored(admin_bot)


def test_a_wrong_field_is_explained_next_to_it_and_nothing_is_saved(admin_bot: Bot, admin: WebClient) -> None:
    fields = admin.settings_form()
    fields.update(model="changed-model", temperature="hot", context_tokens="10", openai_base_url="ftp://x")
    answer = admin.post("/settings", fields)
    assert answer.status_code == 400
    page = answer.text
    assert "Nothing was saved: 3 setting(s) need attention" in page
    assert 'id="error-temperature">Enter a number, such as 0.7.' in page
    assert 'id="error-context_tokens">Enter a number from 256 to 2000000.' in page
    assert 'id="error-openai_base_url">Enter an http:// or https:// address.' in page
    assert 'value="hot"' in page, "what the user typed is shown again"
    assert admin_bot.runtime.settings().model == "fake-model"


def test_a_channel_webhook_url_is_refused_with_a_hint(admin: WebClient, fake_chat: FakeChat) -> None:
    fields = admin.settings_form()
    fields["bot_incoming_url"] = fake_chat.url("incoming")
    page = admin.post("/settings", fields).text
    assert "channel&#039;s incoming-webhook URL" in page or "channel's incoming-webhook URL" in page
    # What was typed comes back to be corrected (issue 19), escaped, in its field only.
    assert page.count(html.escape(fake_chat.url("incoming"))) == 1


def test_secrets_are_replaced_or_cleared_never_shown(admin_bot: Bot, admin: WebClient) -> None:
    page = admin.get("/").text
    assert API_KEY not in page and f"Set, ends in …{API_KEY[-4:]}" in page
    fields = admin.settings_form()
    fields["openai_api_key"] = "sk-replaced-key-99999999"
    assert admin.post("/settings", fields).status_code == 303
    assert admin_bot.runtime.settings().openai_api_key == "sk-replaced-key-99999999"
    fields = admin.settings_form()
    fields["clear_openai_api_key"] = "1"
    assert admin.post("/settings", fields).status_code == 303
    assert admin_bot.runtime.settings().openai_api_key == ""
    assert 'id="state-openai_api_key">Not set' in admin.get("/").text


def test_a_setting_fixed_by_the_environment_is_read_only(
    make_bot: Callable[..., Bot], admin_hash: str
) -> None:
    bot = make_bot(environ={"SYNOCHATGPT_MODEL": "env-model"}, admin_password=admin_hash)
    web = WebClient(bot.url)
    web.login()
    page = web.get("/").text
    assert "Set by the environment variable SYNOCHATGPT_MODEL" in page
    assert 'name="model"' not in page
    fields = web.settings_form()
    fields["model"] = "sneaky"
    assert web.post("/settings", fields).status_code == 303
    assert bot.runtime.settings().model == "env-model" and stored(bot)["model"] == "fake-model"


def test_the_setup_guide_gives_the_outgoing_url_of_this_address(admin_bot: Bot, admin: WebClient) -> None:
    page = admin.get("/").text
    assert f'id="outgoing-url" value="{admin_bot.url}/webhook"' in page
    # requests drops the cookie when Host is set by hand, so send it explicitly.
    session = admin.http.cookies["synochatgpt_session"]
    behind_proxy = requests.get(
        admin.base + "/",
        headers={"Host": "nas.local:8008", "Cookie": f"synochatgpt_session={session}"},
        allow_redirects=False,
        timeout=10,
    )
    assert behind_proxy.status_code == 200, (behind_proxy.status_code, behind_proxy.headers)
    assert 'value="http://nas.local:8008/webhook"' in behind_proxy.text


# -- languages -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "保存设置"),
        ("zh-TW,zh;q=0.9", "儲存設定"),
        ("en-US,en;q=0.9", "Save settings"),
        ("fr-FR,de;q=0.5", "Save settings"),
        ("en;q=0.2,zh-Hans;q=0.9", "保存设置"),
    ],
)
def test_the_language_follows_the_browser(admin: WebClient, accept: str, expected: str) -> None:
    assert expected in admin.get("/", headers={"Accept-Language": accept}).text


def test_the_language_switch_is_remembered(admin: WebClient) -> None:
    chinese = admin.get("/?lang=zh", headers={"Accept-Language": "en"})
    assert "保存设置" in chinese.text and '<html lang="zh">' in chinese.text
    assert "保存设置" in admin.get("/", headers={"Accept-Language": "en"}).text
    assert "Save settings" in admin.get("/?lang=en").text
    assert "Save settings" in admin.get("/", headers={"Accept-Language": "zh"}).text


def test_field_errors_in_chinese(admin: WebClient) -> None:
    admin.get("/?lang=zh")
    fields = admin.settings_form()
    fields["temperature"] = "9"
    page = admin.post("/settings", fields).text
    assert "请输入 0 到 2 之间的数字。" in page


# -- live checks -----------------------------------------------------------------------------


def test_test_model_lists_models_and_shows_the_answer(admin: WebClient, fake_model: FakeOpenAI) -> None:
    answer = admin.api("/api/test-model", admin.settings_form()).json()
    assert answer["ok"] is True and answer["models"] == ["fake-model", "fake-small"]
    assert answer["answer"] == f"Answer to: {checks.PROMPT}" and answer["latency_ms"] >= 0
    assert fake_model.chat_requests()[-1]["model"] == "fake-model"


def test_test_model_uses_unsaved_values_and_explains_errors(
    admin_bot: Bot, admin: WebClient, fake_model: FakeOpenAI
) -> None:
    fields = admin.settings_form()
    fields["openai_api_key"] = "sk-wrong-key-123456789"
    answer = admin.api("/api/test-model", fields).json()
    assert answer["ok"] is False and "refused the API key (HTTP 401)" in answer["error"]
    assert "sk-wrong-key-123456789" not in str(answer) and API_KEY not in str(answer)
    assert admin_bot.runtime.settings().openai_api_key == API_KEY, "a check never saves"

    fields = admin.settings_form()
    fields["model"] = "missing-model"
    fake_model.fail_next(404, times=1)
    answer = admin.api("/api/test-model", fields).json()
    assert answer["ok"] is False and "model name or the server URL is wrong" in answer["error"]

    fields["openai_base_url"] = "http://127.0.0.1:9/v1"
    answer = admin.api("/api/test-model", fields).json()
    assert answer["ok"] is False and "Cannot connect to the model server" in answer["error"]

    fields["temperature"] = "warm"
    refused = admin.api("/api/test-model", fields)
    assert (
        refused.status_code == 400
        and refused.json()["fields"]["temperature"] == "Enter a number, such as 0.7."
    )


def test_send_test_message_reaches_the_user(admin: WebClient, fake_chat: FakeChat) -> None:
    answer = admin.api("/api/test-chat", {**admin.settings_form(), "user_id": "4"}).json()
    assert answer["ok"] is True and answer["answer"]["success"] is True
    post = fake_chat.wait_for(1)[-1]
    assert post.text == checks.TEST_MESSAGE and post.user_ids == [4]


def test_send_test_message_explains_chat_errors(admin: WebClient, fake_chat: FakeChat) -> None:
    fields = {**admin.settings_form(), "user_id": "4", "bot_incoming_url": fake_chat.url(token="W" * 64)}
    answer = admin.api("/api/test-chat", fields).json()
    assert answer["ok"] is False and "404" in answer["error"] and "token" in answer["error"]
    assert "W" * 64 not in str(answer)
    bad_user = admin.api("/api/test-chat", {**admin.settings_form(), "user_id": "alice"})
    assert bad_user.status_code == 400 and "a number such as 4" in bad_user.json()["error"]
    unreachable = {
        **admin.settings_form(),
        "user_id": "4",
        "bot_incoming_url": "http://127.0.0.1:9/webapi/entry.cgi?api=SYNO.Chat.External&method=chatbot&version=2&token=%22x%22",
    }
    answer = admin.api("/api/test-chat", unreachable).json()
    assert answer["ok"] is False and "Cannot reach the NAS" in answer["error"]


def test_send_test_message_explains_a_certificate_error(admin: WebClient, tmp_path: Path) -> None:
    nas = FakeChat(BOT_TOKEN, certificate=make_certificate(tmp_path)).start()
    try:
        fields = {**admin.settings_form(), "user_id": "4", "bot_incoming_url": nas.url()}
        answer = admin.api("/api/test-chat", fields).json()
        assert answer["ok"] is False and answer["error"].startswith("Certificate error")
        fields["ca_bundle"] = str(tmp_path / "nas.crt")
        assert admin.api("/api/test-chat", fields).json()["ok"] is True
    finally:
        nas.stop()


# -- recent webhooks and the dashboard -----------------------------------------------------------


def test_recent_webhooks_say_why_a_request_was_refused(admin_bot: Bot, admin: WebClient) -> None:
    admin_bot.say("hello", user_id=7, username="bob")
    admin_bot.say("hello", token="X" * 64, user_id=8, username="eve")
    admin_bot.post({"token": BOT_TOKEN, "text": "no user"})
    rows = admin.get("/api/webhooks").json()["rows"]
    assert [(r["status"], r["accepted"]) for r in rows] == [(400, False), (403, False), (200, True)]
    assert rows[0]["detail"] == "user_id is missing"
    # Refused without a valid token: the claimed id and name are not shown (anyone could send them).
    assert rows[1]["reason"].startswith("wrong token") and rows[1]["user_id"] is None
    assert rows[1]["username"] == ""
    assert rows[2]["username"] == "bob" and rows[2]["chars"] == 5 and rows[2]["client"] == "127.0.0.1"
    text = str(rows)
    assert BOT_TOKEN not in text and "X" * 64 not in text and "hello" not in text
    page = admin.get("/").text
    assert 'id="test-user" name="user_id" inputmode="numeric" value="7"' in page, "the sender's id is offered"


def test_the_dashboard_counts_tokens_and_lists_errors(
    admin_bot: Bot, admin: WebClient, fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    admin_bot.say("first question", user_id=5, username="<script>carol</script>")
    fake_chat.wait_for(1)
    fake_model.fail_next(500, times=3)
    admin_bot.say("second question", user_id=5, username="<script>carol</script>")
    fake_chat.wait_for(2)
    admin_bot.idle()
    status = admin.get("/api/status").json()
    assert status["latency"]["count"] == 1 and status["queue"] == 0
    assert status["errors"][0]["source"] == "model" and status["errors"][0]["kind"] == "server"
    page = admin.get("/").text
    assert 'class="chart"' in page and "&lt;script&gt;carol&lt;/script&gt;" in page
    assert "<script>carol" not in page
    assert 'id="error-list"' in page and "server" in page


def test_an_empty_dashboard_says_so(admin: WebClient) -> None:
    page = admin.get("/").text
    assert 'id="usage-empty"' in page and 'id="errors-empty"' in page and "No webhook requests yet" in page
