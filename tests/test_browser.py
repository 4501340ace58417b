"""The settings page in headless Chromium (Debian's package, driven by Playwright): a new owner's
whole walk, from the first-run page to logout. Screenshots go to tests/artifacts/screenshots/."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.conftest import BOT_TOKEN, Bot, shot
from tests.fake_dingtalk import FakeDingTalk
from tests.fake_onebot import FakeNapCat
from tests.fake_openai import FakeOpenAI
from tests.fake_synology import FakeChat

PASSWORD = "browser walk passphrase"


def test_a_new_owner_sets_everything_up_in_the_browser(
    make_bot: Callable[..., Bot], page: Page, fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    bot = make_bot(model="fake-small")
    code = bot.runtime.console.setup_code

    # First run: the page asks for the code from the log.
    page.goto(bot.url + "/")
    expect(page).to_have_url(re.compile(r"/setup$"))
    expect(page.locator("h1")).to_have_text("Welcome: choose the admin password")
    shot(page, "01-first-run")
    page.fill("#code", "WRONG-CODE")
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.click("#setup-submit")
    expect(page.locator("#error")).to_contain_text("setup code is not right")
    page.fill("#code", code)
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.click("#setup-submit")
    expect(page.locator("#message")).to_contain_text("The admin password is set")

    # Log out, a wrong password, then in again.
    page.click("#logout")
    expect(page.locator("#message")).to_have_text("You are logged out.")
    page.fill("#password", "not my password")
    page.click("#login-submit")
    expect(page.locator("#error")).to_have_text("Wrong password.")
    shot(page, "02-login-wrong-password")
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    expect(page.locator("#settings h2")).to_have_text("Settings")

    # A conversation first, so the dashboard has something to show.
    bot.say("What is a NAS?", user_id=4, username="alice")
    bot.say("And RAID?", user_id=9, username="bob")
    fake_chat.wait_for(2)
    bot.idle()
    page.reload()
    expect(page.locator("#usage-chart svg.chart")).to_be_visible()
    expect(page.locator("#st-latency")).to_contain_text("median")
    shot(page, "03-settings-page")

    # The outgoing URL and its copy button.
    expect(page.locator("#outgoing-url")).to_have_value(bot.url + "/webhook")
    page.click("[data-copy=outgoing-url]")
    expect(page.locator("[data-copy=outgoing-url]")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == bot.url + "/webhook"

    # Save a change.
    page.fill("input[name=system_prompt], textarea[name=system_prompt]", "Answer like a pirate.")
    page.click("#save")
    expect(page.locator("#message")).to_contain_text("Settings saved")
    assert bot.runtime.settings().system_prompt == "Answer like a pirate."

    # A field that is wrong: explained next to it, and nothing saved.
    page.fill("#temperature", "hot")
    page.fill("#system_prompt", "Not saved.")
    page.click("#save")
    expect(page.locator("#error-temperature")).to_have_text("Enter a number, such as 0.7.")
    expect(page.locator("#error-summary")).to_contain_text("Nothing was saved")
    page.locator("#field-temperature").scroll_into_view_if_needed()
    shot(page, "04-validation-error", full=False)
    assert bot.runtime.settings().system_prompt == "Answer like a pirate."
    page.fill("#temperature", "")

    # Test model: the answer, the latency and the server's models in a picker.
    page.click("#test-model")
    expect(page.locator("#model-result")).to_contain_text("The model answered in")
    expect(page.locator("#model-result")).to_contain_text("2 model(s) on the server")
    expect(page.locator("#model-picker option")).to_have_count(2)
    page.select_option("#model-picker", "fake-model")
    expect(page.locator("#model")).to_have_value("fake-model")
    page.locator("#model-check").scroll_into_view_if_needed()
    shot(page, "05-test-model", full=False)
    page.fill("#openai_api_key", "sk-this-is-not-the-key")
    page.click("#test-model")
    expect(page.locator("#model-result")).to_contain_text("refused the API key (HTTP 401)")
    expect(page.locator("#model-result")).not_to_contain_text("sk-this-is-not-the-key")
    page.fill("#openai_api_key", "")

    # Send test message: the sender's id is offered, Chat's answer shown; then a wrong token.
    expect(page.locator("#test-user")).to_have_value("9")
    page.fill("#test-user", "4")
    page.click("#test-chat")
    expect(page.locator("#chat-result")).to_contain_text("Chat accepted the message")
    assert fake_chat.wait_for(3)[-1].user_ids == [4]
    page.fill("#bot_incoming_url", fake_chat.url(token="W" * 64))
    page.click("#test-chat")
    expect(page.locator("#chat-result")).to_contain_text("Chat answered 404")
    page.locator("#chat-check").scroll_into_view_if_needed()
    shot(page, "06-test-message-wrong-token", full=False)
    page.fill("#bot_incoming_url", "")

    # Recent webhooks: a refused request appears after Refresh, with the reason.
    bot.say("who am I?", token="Q" * 64, user_id=11, username="mallory")
    page.click("#refresh-webhooks")
    first_row = page.locator("#webhook-list tbody tr").first
    expect(first_row).to_contain_text("wrong token")
    # Unverified without the right token: the claimed name and id are not shown.
    expect(first_row).not_to_contain_text("mallory")
    page.locator("#webhooks").scroll_into_view_if_needed()
    shot(page, "07-recent-webhooks", full=False)

    # Chinese, then back.
    page.click("a[hreflang=zh]")
    expect(page.locator("#save")).to_have_text("保存设置")
    expect(page.locator("#group-model legend")).to_have_text("模型")
    shot(page, "08-chinese")
    page.click("a[hreflang=zh-Hant]")
    expect(page.locator("#save")).to_have_text("儲存設定")
    page.click("a[hreflang=en]")
    expect(page.locator("#save")).to_have_text("Save settings")

    # Logout.
    page.click("#logout")
    expect(page).to_have_url(re.compile(r"/login\?msg=logged_out$"))
    page.goto(bot.url + "/")
    expect(page).to_have_url(re.compile(r"/login$"))
    assert BOT_TOKEN not in page.content()


def test_the_page_fits_a_phone(browser: Browser, make_bot: Callable[..., Bot], admin_hash: str) -> None:
    bot = make_bot(admin_password=admin_hash)
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    phone = context.new_page()
    try:
        phone.goto(bot.url + "/login")
        phone.fill("#password", "correct horse battery staple")
        phone.click("#login-submit")
        expect(phone.locator("#save")).to_be_visible()
        overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow}px wider than the phone"
        shot(phone, "09-phone")
    finally:
        context.close()


XSS = 'Careful: <script>window.pwned = 1</script> and <img src=x onerror="window.pwned = 2"> stay text.'


def chat_reply(messages: list[dict[str, str]]) -> str:
    question = messages[-1]["content"]
    if "xss" in question:
        return XSS + "\n\n```html\n<img src=x onerror=alert(1)>\n```"
    if "long" in question:
        return "word " * 300
    if "again" in question:
        return "A **second** answer."
    return "Here is **bold**, a list:\n\n- one\n- two\n\n```python\nprint('hi')\n```\n\nand [a link](https://example.com)."


def test_a_whole_web_chat_in_the_browser(
    make_bot: Callable[..., Bot], page: Page, fake_model: FakeOpenAI, admin_hash: str
) -> None:
    from app import auth

    bot = make_bot(
        admin_password=admin_hash, webchat_users=[{"name": "mei", "hash": auth.hash_password(PASSWORD)}]
    )
    fake_model.reply = chat_reply
    fake_model.chunk_delay = 0.03
    page.goto(bot.url + "/chat")
    expect(page).to_have_url(re.compile(r"/chat/login$"))
    page.fill("#name", "mei")
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    expect(page.locator("#empty-chat")).to_be_visible()

    # A question: the answer streams in, Markdown rendered, the stop button shown meanwhile.
    page.fill("#input", "show me markdown")
    started = time.monotonic()
    page.press("#input", "Enter")
    expect(page.locator("#stop")).to_be_visible()
    expect(page.locator(".msg.assistant .body").first).to_have_text(re.compile(r"\S"), timeout=10_000)
    first_token = time.monotonic() - started
    answer = page.locator(".msg.assistant .body").last
    expect(answer.locator("strong")).to_have_text("bold")
    expect(answer.locator("pre code.language-python")).to_have_text("print('hi')")
    expect(answer.locator("li")).to_have_count(2)
    expect(answer.locator("a")).to_have_attribute("href", "https://example.com")
    expect(page.locator("#send")).to_be_visible()
    expect(page.locator("#chat-list a")).to_have_text(["show me markdown"])
    expect(page.locator("#chat-title")).to_have_text("show me markdown")
    print(f"browser: first streamed text {first_token * 1000:.0f} ms after Enter")

    # Stop in the middle: what came so far stays, marked as stopped.
    fake_model.chunk_delay = 0.08
    page.fill("#input", "a long answer please")
    page.press("#input", "Enter")
    expect(page.locator(".msg.assistant .body").nth(1)).to_have_text(re.compile(r"(word ){5}"))
    with page.expect_response("**/api/chat/stop", timeout=10_000) as stopping:
        page.click("#stop", timeout=5_000)
    assert stopping.value.status == 200
    expect(page.locator(".stopped")).to_have_text("(stopped)")
    stopped = page.locator(".msg.assistant .body").nth(1).text_content() or ""
    assert 20 < len(stopped) < len("word " * 300)

    # Regenerate the last answer: it is replaced, not added.
    fake_model.chunk_delay = 0.01
    fake_model.reply = lambda messages: "A **second** answer."
    page.click("#regenerate")
    expect(page.locator(".msg.assistant .body").nth(1)).to_have_text("A second answer.")
    expect(page.locator(".msg.assistant")).to_have_count(2)
    expect(page.locator("#send")).to_be_visible()  # the answer is done, not only painted

    # Typed while an answer is still coming: kept in the box, not cleared and lost.
    fake_model.chunk_delay = 0.08
    fake_model.reply = lambda messages: "word " * 100
    page.click("#regenerate")
    expect(page.locator("#stop")).to_be_visible()
    page.fill("#input", "wait for me")
    page.press("#input", "Enter")
    expect(page.locator("#input")).to_have_value("wait for me")
    page.click("#stop")
    expect(page.locator("#send")).to_be_visible()
    page.fill("#input", "")
    fake_model.chunk_delay = 0.01
    fake_model.reply = lambda messages: "A **second** answer."
    page.click("#regenerate")
    expect(page.locator(".msg.assistant .body").nth(1)).to_have_text("A second answer.")
    expect(page.locator("#send")).to_be_visible()

    # Model output with HTML in it is shown as text, never run.
    fake_model.chunk_delay = 0.01
    fake_model.reply = chat_reply
    page.fill("#input", "xss test")
    page.press("#input", "Enter")
    expect(page.locator(".msg.assistant .body").nth(2)).to_contain_text("<script>window.pwned = 1</script>")
    expect(page.locator("#messages img")).to_have_count(0)
    expect(page.locator("#messages script")).to_have_count(0)
    assert page.evaluate("window.pwned") is None
    expect(page.locator(".msg.assistant .body").nth(2).locator("pre code")).to_have_text(
        "<img src=x onerror=alert(1)>"
    )
    shot(page, "20-web-chat")

    # A reload keeps the whole conversation, from the server.
    page.reload()
    expect(page.locator(".msg.user")).to_have_count(3)
    expect(page.locator(".msg.assistant .body").nth(1)).to_have_text("A second answer.")
    expect(page.locator("#chat-title")).to_have_text("show me markdown")
    with page.expect_download() as download:
        page.click("#export")
    exported = Path(download.value.path()).read_text(encoding="utf-8")
    assert "## mei" in exported and "A **second** answer." in exported and "<script>window.pwned" in exported

    # A new chat starts empty; the old one is in the list.
    page.click("#new-chat")
    expect(page.locator("#empty-chat")).to_be_visible()
    expect(page.locator("#chat-list a")).to_have_count(1)


def test_the_last_frame_wins_over_a_late_paint(
    make_bot: Callable[..., Bot], page: Page, fake_model: FakeOpenAI, admin_hash: str
) -> None:
    """A busy machine or a background tab runs animation frames late: the answer's last frames
    (done, stopped, a notice) arrive before the paint of the tokens before them. That paint
    must not put the streamed text back over the final answer and its "(stopped)" mark (CI on
    two cores lost the mark this way)."""
    from app import auth

    bot = make_bot(
        admin_password=admin_hash, webchat_users=[{"name": "mei", "hash": auth.hash_password(PASSWORD)}]
    )
    page.add_init_script(
        "window.requestAnimationFrame = (paint) => setTimeout(() => paint(performance.now()), 400);"
    )
    fake_model.reply = lambda messages: "word " * 300
    fake_model.chunk_delay = 0.02
    page.goto(bot.url + "/chat")
    page.fill("#name", "mei")
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    expect(page.locator("#empty-chat")).to_be_visible()
    page.fill("#input", "a long answer please")
    page.press("#input", "Enter")
    expect(page.locator(".msg.assistant .body").first).to_have_text(re.compile(r"(word ){5}"))
    with page.expect_response("**/api/chat/stop", timeout=10_000):
        page.click("#stop", timeout=5_000)
    expect(page.locator(".stopped")).to_have_text("(stopped)")
    page.wait_for_timeout(1_000)  # longer than the late paint
    expect(page.locator(".stopped")).to_have_count(1)
    expect(page.locator("#send")).to_be_visible()


def test_the_web_chat_on_a_phone_in_chinese(
    make_bot: Callable[..., Bot], browser: Browser, fake_model: FakeOpenAI, admin_hash: str
) -> None:
    from app import auth

    bot = make_bot(
        admin_password=admin_hash, webchat_users=[{"name": "mei", "hash": auth.hash_password(PASSWORD)}]
    )
    fake_model.reply = chat_reply
    phone = browser.new_context(
        locale="zh-CN",
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
    )
    page = phone.new_page()
    page.goto(bot.url + "/chat/login")
    expect(page.locator("h1")).to_have_text("登录网页聊天")
    page.fill("#name", "mei")
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    expect(page.locator("#send")).to_have_text("发送")
    expect(page.locator("#sidebar")).not_to_be_in_viewport()
    page.fill("#input", "你好")
    page.click("#send")
    expect(page.locator(".msg.assistant .body strong")).to_have_text("bold")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "nothing sticks out sideways on a phone"
    shot(page, "21-web-chat-phone", full=False)
    page.click("#menu")
    expect(page.locator("#sidebar")).to_be_in_viewport()
    expect(page.locator("#chat-list a")).to_have_text(["你好"])
    shot(page, "22-web-chat-phone-menu", full=False)
    phone.close()


def test_setting_up_qq_in_the_browser_in_chinese(
    browser: Browser, make_bot: Callable[..., Bot], admin_hash: str, fake_qq: FakeNapCat
) -> None:
    """A NAS owner who runs NapCat: the QQ section, the event URL copied, the settings saved and
    a test message sent, all on the Simplified Chinese page."""
    bot = make_bot(admin_password=admin_hash)
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    try:
        tab.goto(bot.url + "/login")
        tab.fill("#password", "correct horse battery staple")
        tab.click("#login-submit")
        section = tab.locator("#group-qq")
        expect(section.locator("legend")).to_have_text("QQ（OneBot v11）")
        expect(tab.locator("#onebot-url")).to_have_value(bot.url + "/onebot")
        section.locator(".copy-button").first.click()
        assert tab.evaluate("navigator.clipboard.readText()") == bot.url + "/onebot"
        tab.fill("#onebot_api_url", fake_qq.url)
        tab.fill("#onebot_access_token", fake_qq.token)
        tab.fill("#onebot_secret", fake_qq.secret)
        tab.fill("#qq-target", "12345678")
        tab.click("#test-qq")
        expect(tab.locator("#qq-result")).to_contain_text("NapCat 已接受消息", timeout=15_000)
        expect(tab.locator("#qq-result")).to_contain_text("message_id")
        assert fake_qq.wait_for(1)[0].target == "user:12345678"
        tab.fill("#onebot_access_token", "not-the-token")
        tab.click("#test-qq")
        expect(tab.locator("#qq-result")).to_contain_text("NapCat 拒绝了 token", timeout=15_000)
        section.scroll_into_view_if_needed()
        shot(tab, "10-qq-section-zh", full=False)
        tab.fill("#onebot_access_token", fake_qq.token)
        tab.click("#save")
        expect(tab.locator("#st-qq")).to_have_text("已配置")
        values = bot.runtime.settings()
        assert (values.onebot_api_url, values.onebot_secret) == (fake_qq.url, fake_qq.secret)
        assert fake_qq.secret not in tab.content() and fake_qq.token not in tab.content()
    finally:
        context.close()
    assert errors == []


def test_setting_up_dingtalk_in_the_browser_in_traditional_chinese(
    browser: Browser, make_bot: Callable[..., Bot], admin_hash: str, fake_dingtalk: FakeDingTalk
) -> None:
    """An office on DingTalk: the credentials checked, a test message sent, the settings saved,
    and the Stream connection shown as connected, all on the Traditional Chinese page."""
    bot = make_bot(admin_password=admin_hash)
    context = browser.new_context(locale="zh-TW", viewport={"width": 1280, "height": 900})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    try:
        tab.goto(bot.url + "/login")
        tab.fill("#password", "correct horse battery staple")
        tab.click("#login-submit")
        section = tab.locator("#group-dingtalk")
        expect(section.locator("legend")).to_have_text("釘釘")
        expect(tab.locator("#st-dingtalk")).to_have_text("未設定")
        expect(tab.locator("#dingtalk-url")).to_have_value(bot.url + "/dingtalk")
        tab.fill("#dingtalk_client_id", fake_dingtalk.client_id)
        tab.fill("#dingtalk_client_secret", "not-the-secret")
        tab.fill("#dingtalk_api_url", fake_dingtalk.api_url)
        tab.click("#test-dingtalk")
        expect(tab.locator("#dt-result")).to_contain_text(
            "釘釘拒絕了 Client ID 或 Client Secret", timeout=15_000
        )
        tab.fill("#dingtalk_client_secret", fake_dingtalk.client_secret)
        tab.fill("#dt-user", "manager4")
        tab.click("#test-dingtalk")
        expect(tab.locator("#dt-result")).to_contain_text("Client ID 和 Secret 有效", timeout=15_000)
        assert fake_dingtalk.wait_sent(1)[0]["user"] == "manager4"
        tab.click("#save")
        fake_dingtalk.wait_connected(1)
        tab.reload()
        expect(tab.locator("#st-dingtalk")).to_contain_text("已連線")
        tab.locator("#group-dingtalk").scroll_into_view_if_needed()
        shot(tab, "11-dingtalk-section-zh-hant", full=False)
        assert fake_dingtalk.client_secret not in tab.content()
    finally:
        context.close()
    assert errors == []


def test_drawing_and_sending_a_picture_in_the_web_chat(
    make_bot: Callable[..., Bot], page: Page, fake_model: FakeOpenAI, admin_hash: str, tmp_path: Path
) -> None:
    """Draw shows the picture under its answer and it is still there after a reload; a picture
    added with 🖼 shows as a thumbnail, goes with the question, and the model reads it."""
    from app import auth
    from tests.fake_openai import png

    bot = make_bot(
        admin_password=admin_hash, webchat_users=[{"name": "mei", "hash": auth.hash_password(PASSWORD)}]
    )
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(bot.url + "/chat")
    page.fill("#name", "mei")
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    expect(page.locator("#empty-chat")).to_be_visible()
    page.fill("#input", "a teapot on a table")
    page.click("#draw")
    picture = page.locator(".msg.assistant img.picture")
    expect(picture).to_be_visible(timeout=15_000)
    assert page.evaluate("document.querySelector('img.picture').naturalWidth") > 0
    expect(page.locator(".msg.assistant .body").last).to_contain_text("Here is your picture")
    page.reload()
    expect(page.locator(".msg.assistant img.picture")).to_be_visible()

    photo = tmp_path / "photo.png"
    photo.write_bytes(png(2000, 1000, (0, 120, 255)))  # shrunk to 1280 px wide before it is sent
    page.set_input_files("#picture-file", str(photo))
    expect(page.locator("#pictures img")).to_have_count(1)
    page.fill("#input", "what colour is it?")
    page.press("#input", "Enter")
    expect(page.locator(".msg.assistant .body").last).to_contain_text("[saw 1 image(s)]", timeout=15_000)
    expect(page.locator(".msg.user img.sent-picture")).to_have_count(1)
    expect(page.locator("#pictures")).to_be_hidden()
    sent = fake_model.image_parts()[-1]
    assert len(sent) == 1 and sent[0].startswith("data:image/jpeg;base64,")
    shot(page, "23-web-chat-pictures", full=False)
    assert errors == []
