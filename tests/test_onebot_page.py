"""QQ on the settings page, over real HTTP: its section with the event URL and the NapCat guide
in three languages, saving its settings (secrets never shown back), "Send test message" with
NapCat's exact answer or a plain sentence, and QQ events in Recent webhooks and errors."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import Bot, qq_settings
from tests.fake_onebot import FakeNapCat
from tests.webclient import WebClient


@pytest.fixture
def qq_admin(make_bot: Callable[..., Bot], admin_hash: str, fake_qq: FakeNapCat) -> tuple[Bot, WebClient]:
    bot = make_bot(admin_password=admin_hash, **qq_settings(fake_qq))
    client = WebClient(bot.url)
    assert client.login().status_code == 303
    assert client.get("/").status_code == 200
    return bot, client


@pytest.mark.parametrize(
    ("accept", "words"),
    [
        ("en", ["QQ (OneBot v11)", "HTTP client", "Never expose NapCat", "Event secret"]),
        ("zh-CN", ["QQ（OneBot v11）", "HTTP 客户端", "切勿把 NapCat", "事件密钥"]),
        ("zh-TW", ["QQ（OneBot v11）", "HTTP 客戶端", "切勿把 NapCat", "事件金鑰"]),
    ],
)
def test_the_qq_section_gives_the_event_url_and_the_guide(
    qq_admin: tuple[Bot, WebClient], accept: str, words: list[str]
) -> None:
    bot, admin = qq_admin
    page = admin.get("/", headers={"Accept-Language": accept}).text
    assert f'id="onebot-url" value="{bot.url}/onebot"' in page
    assert 'id="group-qq"' in page and 'id="test-qq"' in page
    for word in words:
        assert word in page, word
    assert (
        page.count("<li>", page.index('id="qq-guide"'), page.index("</ol>", page.index('id="qq-guide"'))) == 5
    )


def test_qq_settings_are_saved_and_their_secrets_never_shown(
    qq_admin: tuple[Bot, WebClient], fake_qq: FakeNapCat
) -> None:
    bot, admin = qq_admin
    fields = {**admin.settings_form(), "onebot_prefixes": "/gpt, /ai", "onebot_group_context": "per_user"}
    assert admin.post("/settings", fields).status_code == 303
    values = bot.runtime.settings()
    assert values.onebot_prefixes == ("/gpt", "/ai") and values.onebot_group_context == "per_user"
    assert values.onebot_secret == fake_qq.secret, "a secret left empty on the page is kept"
    page = admin.get("/").text
    assert fake_qq.secret not in page and fake_qq.token not in page
    wrong = admin.post("/settings", {**fields, "onebot_probability": "1.5", "onebot_api_url": "napcat"})
    assert wrong.status_code == 400
    assert 'id="error-onebot_probability"' in wrong.text and 'id="error-onebot_api_url"' in wrong.text
    assert bot.runtime.settings().onebot_probability == 0.0


def test_send_test_message_reaches_qq_and_shows_napcats_answer(
    qq_admin: tuple[Bot, WebClient], fake_qq: FakeNapCat
) -> None:
    _, admin = qq_admin
    answer = admin.api(
        "/api/test-qq", {**admin.settings_form(), "qq_kind": "private", "qq_target": "12345678"}
    )
    body = answer.json()
    assert answer.status_code == 200 and body["ok"] is True
    # NapCat's whole answer, as it sent it.
    assert body["answer"]["status"] == "ok" and body["answer"]["retcode"] == 0
    assert isinstance(body["answer"]["data"]["message_id"], int)
    sent = fake_qq.wait_for(1)[-1]
    assert sent.target == "user:12345678" and "test message" in sent.text
    group = admin.api("/api/test-qq", {**admin.settings_form(), "qq_kind": "group", "qq_target": "987654"})
    assert group.json()["ok"] is True and fake_qq.wait_for(2)[-1].target == "group:987654"


@pytest.mark.parametrize("target", ["", "abc", "0", "12345678901234", "１２３", "-5"])
def test_send_test_message_refuses_a_wrong_number(
    qq_admin: tuple[Bot, WebClient], fake_qq: FakeNapCat, target: str
) -> None:
    _, admin = qq_admin
    answer = admin.api("/api/test-qq", {**admin.settings_form(), "qq_target": target})
    assert answer.status_code == 400 and "QQ number" in answer.json()["fields"]["qq_target"]
    assert fake_qq.sent == []


def test_send_test_message_explains_what_went_wrong(
    qq_admin: tuple[Bot, WebClient], fake_qq: FakeNapCat
) -> None:
    _, admin = qq_admin
    form = {**admin.settings_form(), "qq_target": "12345678"}
    wrong_token = admin.api("/api/test-qq", {**form, "onebot_access_token": "not-the-token"}).json()
    assert wrong_token["ok"] is False and "NapCat refused the token" in wrong_token["error"]
    assert "not-the-token" not in str(wrong_token)
    fake_qq.script.append({"retcode": 100, "message": "SEND_MSG_API_ERROR"})
    risk = admin.api("/api/test-qq", form).json()
    assert "blocked as spam" in risk["error"] and "SEND_MSG_API_ERROR" in risk["error"]
    gone = admin.api("/api/test-qq", {**form, "onebot_api_url": "http://127.0.0.1:9"}).json()
    assert gone["ok"] is False and "Cannot reach the OneBot API" in gone["error"]
    unset = admin.api("/api/test-qq", {**form, "onebot_api_url": ""}).json()
    assert unset["error"] == "Set OneBot API URL first."
    chinese = admin.http.post(
        admin.base + "/api/test-qq",
        data={**form, "onebot_api_url": "http://127.0.0.1:9"},
        headers={"X-CSRF-Token": admin.csrf, "Accept-Language": "zh-TW"},
        timeout=30,
    ).json()
    assert "無法連線 OneBot API" in chinese["error"]


def test_qq_events_and_errors_show_on_the_dashboard(
    qq_admin: tuple[Bot, WebClient], fake_qq: FakeNapCat
) -> None:
    bot, admin = qq_admin
    fake_qq.script.append({"retcode": 100, "message": "SEND_MSG_API_ERROR"})
    fake_qq.push(bot.url, fake_qq.event([{"type": "text", "data": {"text": "hi"}}], name="小明"))
    fake_qq.push(bot.url, fake_qq.event("hi"), secret="wrong")
    bot.idle()
    rows = admin.get("/api/webhooks").json()["rows"]
    assert rows[0]["status"] == 403 and rows[0]["reason"].startswith("refused: wrong signature")
    assert rows[1]["accepted"] and rows[1]["user_id"] == "qq:12345678" and rows[1]["username"] == "小明"
    page = admin.get("/", headers={"Accept-Language": "zh-CN"}).text
    assert "小明 (qq:12345678)" in page and "已拒绝：签名错误" in page
    status = admin.get("/api/status").json()
    assert [(e["source"], e["kind"]) for e in status["errors"]] == [("qq", "qq_risk")]
    assert status["qq_ready"] is True
