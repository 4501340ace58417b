"""The settings page tells a person, where they are looking, what happened, and never throws
away what they typed (issue 19): in headless Chromium where it is about what a person sees,
over HTTP where it is about what the server answers. Screenshots go to
tests/artifacts/screenshots/19-*.png."""

from __future__ import annotations

import html
import re
import socket
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.conftest import API_KEY, Bot, shot
from tests.fake_http import free_port
from tests.fake_openai import FakeOpenAI, openai_error
from tests.fake_synology import FakeChat
from tests.webclient import ADMIN_PASSWORD, WebClient

TYPED_KEY = "sk-typed-but-not-saved-4321"


def logged_in(page: Page, bot: Bot) -> None:
    page.goto(bot.url + "/login")
    page.fill("#password", ADMIN_PASSWORD)
    page.click("#login-submit")
    expect(page.locator("#save")).to_be_visible()


def test_each_save_is_confirmed_where_the_person_is_looking(
    page: Page, admin_bot: Bot, fake_chat: FakeChat
) -> None:
    admin_bot.say("hello")  # someone in the people table, for its save
    admin_bot.idle()
    logged_in(page, admin_bot)
    page.locator("#save").scroll_into_view_if_needed()
    page.click("#save")
    confirmation = page.locator("#message")
    expect(confirmation).to_have_text("Settings saved. They apply to the next message.")
    expect(confirmation).to_have_attribute("role", "status")
    expect(confirmation).to_be_in_viewport()
    shot(page, "19-saved", full=False)

    page.click("#save-people")
    expect(confirmation).to_have_text("The quotas are saved.")
    expect(confirmation).to_be_in_viewport()

    page.fill("#current", "not the password")
    page.fill("#new-password", "a new passphrase")
    page.fill("#confirm", "a new passphrase")
    page.click("#change-password")
    expect(page.locator("#password-error")).to_be_in_viewport()
    page.fill("#current", ADMIN_PASSWORD)
    page.fill("#new-password", "a new passphrase")
    page.fill("#confirm", "a new passphrase")
    page.click("#change-password")
    expect(confirmation).to_have_text("Password changed. Other browsers were logged out.")
    expect(confirmation).to_be_in_viewport()
    shot(page, "19-password-changed", full=False)


def test_a_refused_save_keeps_what_was_typed_secrets_included(
    page: Page, admin_bot: Bot, fake_chat: FakeChat
) -> None:
    logged_in(page, admin_bot)
    page.fill("#openai_api_key", TYPED_KEY)
    page.fill("#bot_incoming_url", fake_chat.url())
    page.fill("#temperature", "hot")
    page.click("#save")
    expect(page.locator("#error-temperature")).to_be_visible()
    expect(page.locator("#openai_api_key")).to_have_value(TYPED_KEY)
    expect(page.locator("#bot_incoming_url")).to_have_value(fake_chat.url())
    expect(page.locator("#state-openai_api_key")).to_contain_text("As you typed it")
    expect(page.locator("#error-summary a")).to_have_text(["Temperature"])
    page.locator("#field-openai_api_key").scroll_into_view_if_needed()
    shot(page, "19-refused-keeps-typed", full=False)
    page.fill("#temperature", "0.5")
    page.click("#save")
    expect(page.locator("#message")).to_have_text("Settings saved. They apply to the next message.")
    values = admin_bot.runtime.settings()
    assert values.openai_api_key == TYPED_KEY and values.temperature == 0.5


def test_a_refused_form_gives_back_only_what_this_request_typed(admin_bot: Bot, admin: WebClient) -> None:
    fields = admin.settings_form()
    fields["temperature"] = "hot"
    page = admin.post("/settings", fields).text
    assert API_KEY not in page, "a stored secret is never written into the page"
    assert 'id="openai_api_key" autocomplete="new-password" spellcheck="false"' in page
    assert 'placeholder="Paste a new value to replace it" value=""' in page
    fields["openai_api_key"] = TYPED_KEY
    page = admin.post("/settings", fields).text
    assert f'value="{TYPED_KEY}"' in page and API_KEY not in page
    assert admin_bot.runtime.settings().openai_api_key == API_KEY, "nothing saved"


def test_a_channel_row_keeps_its_typed_url_when_refused(admin: WebClient, fake_chat: FakeChat) -> None:
    fields = admin.settings_form()
    url = fake_chat.channel_url("in" + "T" * 64)
    fields.update({"ch-new-name": "team", "ch-new-url": url, "ch-new-token": ""})
    answer = admin.post("/settings", fields)
    assert answer.status_code == 400
    assert 'id="ch-new-url" name="ch-new-url"' in answer.text
    assert f'value="{html.escape(url)}"' in answer.text, "the typed URL comes back"


# -- 3, 4: text too long for a field, and a prompt too big for the context budget ------------------


def test_an_oversized_prompt_is_refused_next_to_its_field_with_the_limit(
    admin_bot: Bot, admin: WebClient
) -> None:
    page = admin.get("/").text
    assert 'id="system_prompt" rows="4" maxlength="20000"' in page, "the browser stops at the limit"
    fields = admin.settings_form()
    fields["system_prompt"] = "x" * 300_000
    answer = admin.post("/settings", fields, headers={"Accept-Language": "zh-CN"})
    assert answer.status_code == 400 and answer.headers["Content-Type"].startswith("text/html")
    assert 'id="error-system_prompt">最多 20,000 个字符，这里有 300,000 个。请缩短。' in answer.text
    assert admin_bot.runtime.settings().system_prompt != "x" * 300_000


def test_a_form_over_the_servers_cap_gets_a_page_in_the_readers_language(admin_bot: Bot) -> None:
    host, port = admin_bot.runtime.address
    head = (
        "POST /settings HTTP/1.1\r\nHost: nas\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        "Accept: text/html,application/xhtml+xml\r\nAccept-Language: zh-TW,zh;q=0.9\r\n"
        f"Content-Length: {3 * 1024 * 1024}\r\n\r\n"
    )
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(head.encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    text = answer.decode()
    assert text.startswith("HTTP/1.1 413") and "Content-Type: text/html" in text
    assert "表單超過伺服器可接收的大小（1 MB）" in text and "20,000" in text
    webhook = head.replace("Accept: text/html,application/xhtml+xml\r\n", "").replace("/settings", "/webhook")
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(webhook.encode())
        assert b'"success": false' in sock.recv(65536), "a webhook still gets JSON"


def test_a_prompt_that_crowds_out_the_history_is_saved_with_a_warning(
    admin_bot: Bot, admin: WebClient, fake_model: FakeOpenAI
) -> None:
    fields = admin.settings_form()
    fields.update(
        system_prompt="Follow these rules. " * 900, context_tokens="4000"
    )  # 18,000 characters: about 4,500 tokens, more than the whole budget
    answer = admin.post("/settings", fields)
    assert answer.status_code == 303 and "warn=prompt" in answer.headers["Location"]
    page = admin.get(answer.headers["Location"]).text
    assert 'id="prompt-warning"' in page and "of the 4,000-token context budget" in page
    # What the warning says happens: the prompt goes whole, the history is dropped to fit.
    admin_bot.say("first question")
    admin_bot.idle()
    admin_bot.say("second question")
    admin_bot.idle()
    sent = fake_model.chat_requests()[-1]["messages"]
    assert sent[0]["content"].startswith("Follow these rules") and len(sent) == 2, "no earlier exchange fits"
    fields = admin.settings_form()
    fields["system_prompt"] = "Be brief."
    assert "warn" not in admin.post("/settings", fields).headers["Location"]


# -- 9: recent webhooks coloured by meaning ------------------------------------------------------

RED = "rgb(185, 28, 28)"


def result_colours(page: Page) -> dict[str, str]:
    """Each recent webhook's result text and the colour it is shown in."""
    found: dict[str, str] = page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('#webhook-list tbody tr')].map(
             tr => [tr.lastElementChild.textContent, getComputedStyle(tr.lastElementChild).color]))"""
    )
    return found


def test_recent_webhooks_are_red_only_when_something_went_wrong(
    page: Page, make_bot: Callable[..., Bot], admin_hash: str, fake_chat: FakeChat
) -> None:
    team, slash = "T" * 64, "S" * 64
    bot = make_bot(
        admin_password=admin_hash,
        slash_tokens=[slash],
        channels=[{"name": "team", "outgoing_token": team, "incoming_url": fake_chat.channel_url("in" + team),
                   "context": "shared", "triggers": ["@ai"]}],
    )  # fmt: skip
    bot.slash(slash, "/help")
    bot.in_channel(team, "lunch, anyone?")
    bot.say("hi", token="W" * 64)
    bot.set(paused=True)
    bot.say("are you there?")
    bot.idle()
    logged_in(page, bot)
    for _ in range(2):  # as the page draws them, then as its Refresh button does
        colours = result_colours(page)
        by_words = {words: colours[next(k for k in colours if words in k)]
                    for words in ("answered at once", "no trigger word", "paused", "wrong")}  # fmt: skip
        assert by_words["wrong"] == RED, colours
        for normal in ("answered at once", "no trigger word", "paused"):
            assert by_words[normal] != RED, (normal, colours)
        page.click("#refresh-webhooks")
        page.wait_for_timeout(300)
    page.locator("#webhooks").scroll_into_view_if_needed()
    shot(page, "19-webhook-colours", full=False)


# -- 7: the model list of an earlier test does not stay ----------------------------------------------


def test_a_failing_model_test_takes_away_the_last_servers_list(page: Page, admin_bot: Bot) -> None:
    logged_in(page, admin_bot)
    page.click("#test-model")
    expect(page.locator("#model-picker-box")).to_be_visible()
    expect(page.locator("#model-picker option")).not_to_have_count(0)
    page.fill("#openai_base_url", f"http://127.0.0.1:{free_port()}/v1")  # nothing listens there
    page.click("#test-model")
    expect(page.locator("#model-result")).to_have_class(re.compile(r"\berror\b"))
    expect(page.locator("#model-picker-box")).to_be_hidden()
    expect(page.locator("#model-picker option")).to_have_count(0)


# -- 5, 6, 8: the live checks speak in the page's words and test only what they use -----------------


def test_send_test_message_is_not_blocked_by_a_wrong_model_url(admin: WebClient, fake_chat: FakeChat) -> None:
    fields = {**admin.settings_form(), "user_id": "4", "openai_base_url": "ftp://not-a-model-server"}
    answer = admin.api("/api/test-chat", fields)
    assert answer.status_code == 200 and answer.json()["ok"] is True, answer.text
    model = admin.api("/api/test-model", fields)
    assert model.status_code == 400, "the model's own check still refuses it"
    assert model.json()["labels"] == {"openai_base_url": "Model server URL"}


def test_https_to_a_plain_http_port_is_called_that(admin: WebClient, fake_chat: FakeChat) -> None:
    plain = fake_chat.url().replace("http://", "https://")
    answer = admin.api("/api/test-chat", {**admin.settings_form(), "user_id": "4", "bot_incoming_url": plain})
    said = answer.json()["error"]
    assert "speaks plain HTTP" in said and "http://" in said and "Certificate" not in said
    model = admin.api("/api/test-model", {**admin.settings_form(), "openai_base_url": plain})
    assert "speaks plain HTTP" in model.json()["error"]


def test_checks_and_recent_errors_name_no_internal_codes(
    page: Page, admin_bot: Bot, fake_model: FakeOpenAI
) -> None:
    logged_in(page, admin_bot)
    page.fill("#openai_base_url", "ftp://x")
    page.click("#test-model")
    result = page.locator("#model-result")
    expect(result).to_contain_text("Model server URL: ")
    assert "openai_base_url" not in result.inner_text()
    page.fill("#openai_base_url", fake_model.url)
    page.fill("#test-user", "alice")
    page.click("#test-chat")
    chat = page.locator("#chat-result")
    expect(chat).to_contain_text("a number such as 4")
    assert chat.inner_text().count("a number such as 4") == 1 and "user_id" not in chat.inner_text()
    # A model error in a conversation, then in Recent errors: its kind in words, once.
    fake_model.fail_next(401, openai_error("Incorrect API key provided"))
    admin_bot.say("hello")
    admin_bot.idle()
    page.reload()
    row = page.locator("#error-list tbody tr").first
    expect(row).to_contain_text("API key refused")
    assert "auth" not in row.inner_text()
    shot(page, "19-checks-in-words", full=False)


# -- 12: a channel row's mistake is marked on its own field and explained ----------------------------


def red_fields(page: Page, row: str) -> list[str]:
    """The inputs of a channel row drawn with the error colour."""
    found: list[str] = page.evaluate(
        f"""() => [...document.querySelectorAll('#channel-{row} input, #channel-{row} select')]
             .filter(e => getComputedStyle(e).borderTopColor === '{RED}').map(e => e.id)"""
    )
    return found


def test_a_channel_mistake_marks_only_its_field_and_keeps_the_rest(
    page: Page, admin_bot: Bot, fake_chat: FakeChat
) -> None:
    logged_in(page, admin_bot)
    url = fake_chat.channel_url("in" + "T" * 64)
    page.fill("#ch-new-name", "team")
    page.fill("#ch-new-url", url)
    page.click("#save")
    expect(page.locator("#error-channels")).to_contain_text("needs its outgoing webhook's token")
    assert red_fields(page, "new") == ["ch-new-token"]
    expect(page.locator("#ch-new-url")).to_have_value(url)
    expect(page.locator("#ch-new-name")).to_have_value("team")
    page.fill("#ch-new-token", "T" * 64)
    page.fill("#ch-new-url", fake_chat.url())  # the bot's URL, method=chatbot, in the channel's place
    page.click("#save")
    expect(page.locator("#error-channels")).to_contain_text("this is the bot's incoming URL (method=chatbot)")
    assert red_fields(page, "new") == ["ch-new-url"]
    page.locator("#channel-new").scroll_into_view_if_needed()
    shot(page, "19-channel-mistake", full=False)
