"""Issue 19, points 11 and 14: what the web chat and the settings page's People table tell the
person looking. A chat's title in plain words, a stopped answer still marked stopped after a
reload, no grey strip down a phone's left edge; each person's role in the words of the access
setting, and web chat accounts by their names. Over the real server and in headless Chromium."""

from __future__ import annotations

import base64
import datetime
import re
from collections.abc import Callable
from typing import Any

from playwright.sync_api import Browser, Page, expect

from app import auth
from tests.conftest import Bot, shot
from tests.fake_openai import FakeOpenAI
from tests.test_webchat import MEI, ChatClient, events
from tests.webclient import ADMIN_PASSWORD

MARKDOWN_QUESTION = "# Plan for **today**\n```python\nprint(1)\n```\nsee [the docs](https://example.com)"
PLAIN_TITLE = "Plan for today print(1) see the docs"


def mei_bot(make_bot: Callable[..., Bot], admin_hash: str, **settings: Any) -> Bot:
    accounts = [{"name": "mei", "hash": auth.hash_password(MEI)}]
    return make_bot(admin_password=admin_hash, webchat_users=accounts, **settings)


def as_mei(bot: Bot) -> ChatClient:
    client = ChatClient(bot.url)
    assert client.chat_login("mei", MEI).headers["Location"] == "/chat"
    client.open_chat()
    return client


def log_in(page: Page, bot: Bot) -> None:
    page.goto(bot.url + "/chat/login")
    page.fill("#name", "mei")
    page.fill("#password", MEI)
    page.click("#login-submit")
    expect(page.locator("#send")).to_be_visible()


# -- point 14 (e): a chat's title is plain words ------------------------------------------------


def test_a_chats_title_is_its_question_without_markdown(
    make_bot: Callable[..., Bot], admin_hash: str, fake_model: FakeOpenAI
) -> None:
    bot = mei_bot(make_bot, admin_hash)
    mei = as_mei(bot)
    list(events(mei.send("abcdefgh01", MARKDOWN_QUESTION)))
    assert mei.get("/api/chat/list").json()["chats"][0]["title"] == PLAIN_TITLE
    assert mei.get("/api/chat/history?chat=abcdefgh01").json()["title"] == PLAIN_TITLE
    assert mei.get("/api/chat/export?chat=abcdefgh01").text.startswith(f"# SynoChatGPT: {PLAIN_TITLE}\n")
    # A chat titled by an older version, with the question's lines joined: shown plain too.
    list(events(mei.send("abcdefgh02", "hi")))
    store = bot.runtime.store
    key = next(c["key"] for c in store.conversations("web") if c["key"].endswith("-abcdefgh02"))
    store.update_conversation_meta(key, title="# Title ```python print(1) ```")
    titles = {c["id"]: c["title"] for c in mei.get("/api/chat/list").json()["chats"]}
    assert titles["abcdefgh02"] == "Title print(1)"


def test_the_page_shows_the_plain_title(
    make_bot: Callable[..., Bot], admin_hash: str, fake_model: FakeOpenAI, page: Page
) -> None:
    bot = mei_bot(make_bot, admin_hash)
    log_in(page, bot)
    page.fill("#input", MARKDOWN_QUESTION)
    page.press("#input", "Enter")
    expect(page.locator(".msg.assistant .body")).to_contain_text("Answer to:")
    expect(page.locator("#send")).to_be_visible()
    expect(page.locator("#chat-title")).to_have_text(PLAIN_TITLE)
    expect(page.locator("#chat-list a")).to_have_text([PLAIN_TITLE])
    shot(page, "19-web-chat-plain-title", full=False)
    page.reload()
    expect(page.locator("#chat-title")).to_have_text(PLAIN_TITLE)


# -- point 14 (f): a stopped answer stays marked stopped ----------------------------------------


def test_a_stopped_answer_is_stored_as_stopped(
    make_bot: Callable[..., Bot], admin_hash: str, fake_model: FakeOpenAI
) -> None:
    bot = mei_bot(make_bot, admin_hash)
    mei = as_mei(bot)
    list(events(mei.send("abcdefgh03", "a short one")))
    fake_model.chunk_delay = 0.05
    fake_model.reply = lambda messages: "word " * 200
    stream = events(mei.send("abcdefgh03", "a long one"))
    next(e for e in stream if e[0] == "token")
    assert mei.api("/api/chat/stop", {"chat": "abcdefgh03"}).json()["stopped"] is True
    assert list(stream)[-1][1]["stopped"] is True
    messages = mei.get("/api/chat/history?chat=abcdefgh03").json()["messages"]
    assert [m["stopped"] for m in messages] == [False, True]


def test_a_stopped_answer_is_marked_after_a_reload_in_chinese(
    make_bot: Callable[..., Bot], admin_hash: str, fake_model: FakeOpenAI, browser: Browser
) -> None:
    bot = mei_bot(make_bot, admin_hash)
    fake_model.chunk_delay = 0.05
    fake_model.reply = lambda messages: "word " * 300
    context = browser.new_context(locale="zh-CN", viewport={"width": 1000, "height": 700})
    try:
        page = context.new_page()
        log_in(page, bot)
        page.fill("#input", "一个很长的回答")
        page.press("#input", "Enter")
        expect(page.locator(".msg.assistant .body")).to_have_text(re.compile(r"(word ){5}"), timeout=10_000)
        with page.expect_response("**/api/chat/stop"):
            page.click("#stop")
        expect(page.locator(".stopped")).to_have_text("（已停止）")
        expect(page.locator("#send")).to_be_visible()
        page.reload()
        expect(page.locator(".msg.assistant .body")).to_contain_text("word word")
        expect(page.locator(".msg.assistant .stopped")).to_have_text("（已停止）")
        shot(page, "19-web-chat-stopped-after-reload-zh", full=False)
    finally:
        context.close()


# -- point 14 (g): nothing grey down a phone's left edge ----------------------------------------


def pixels(browser: Browser, png: bytes, points: list[tuple[int, int]]) -> list[list[int]]:
    """The RGB colour of a screenshot at each point, read by the browser's own PNG decoder
    (in a page of its own, so nothing is drawn over the page under test)."""
    reader = browser.new_page()
    try:
        found: list[list[int]] = reader.evaluate(
            """async ([src, points]) => {
                const img = new Image();
                img.src = src;
                await img.decode();
                const canvas = document.createElement("canvas");
                canvas.width = img.width;
                canvas.height = img.height;
                const context = canvas.getContext("2d");
                context.drawImage(img, 0, 0);
                return points.map(([x, y]) => Array.from(context.getImageData(x, y, 1, 1).data.slice(0, 3)));
            }""",
            ["data:image/png;base64," + base64.b64encode(png).decode(), points],
        )
        return found
    finally:
        reader.close()


def test_nothing_grey_down_a_phones_left_edge(
    make_bot: Callable[..., Bot], admin_hash: str, fake_model: FakeOpenAI, browser: Browser
) -> None:
    bot = mei_bot(make_bot, admin_hash)
    context = browser.new_context(
        locale="en-US", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    try:
        page = context.new_page()
        log_in(page, bot)
        page.fill("#input", "hello")
        page.click("#send")
        expect(page.locator("#regenerate")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, "nothing sticks out sideways"
        png = page.screenshot()
        shot(page, "19-web-chat-phone-left-edge", full=False)
        # Down the empty part of the conversation: the left edge is the page's background,
        # the same as 100 px further in, not the closed sidebar's shadow.
        rows = (500, 650)
        found = pixels(browser, png, [(x, y) for y in rows for x in (0, 2, 5, 100)])
        background = found[3]
        assert all(colour == background for colour in found), f"a strip at the left edge: {found}"
        page.click("#menu")
        expect(page.locator("#sidebar")).to_be_in_viewport()
        expect(page.locator("#chat-list a")).to_have_text(["hello"])
        page.wait_for_timeout(300)  # the slide's end
        shot(page, "19-web-chat-phone-menu-open", full=False)
    finally:
        context.close()


# -- point 11: the People table's roles and names -----------------------------------------------


def test_the_people_table_says_each_role_as_access_makes_it(
    make_bot: Callable[..., Bot], admin_hash: str, fake_model: FakeOpenAI, page: Page
) -> None:
    bot = mei_bot(make_bot, admin_hash)
    for user_id, name in ((4, "alice"), (5, "bob"), (6, "carol")):
        bot.say("hello", user_id=user_id, username=name)
    bot.idle()
    list(events(as_mei(bot).send("abcdefgh04", "hello from the web")))
    # A web chat account that has only drawn: its use is stored without a user name.
    bot.runtime.store.add_image("web:li", datetime.date.today().isoformat())
    bot.set(blocked_users=["5"], admin_users=["6", "li"])
    page.goto(bot.url + "/login")
    page.fill("#password", ADMIN_PASSWORD)
    page.click("#login-submit")
    expect(page.locator("#people-list")).to_be_visible()

    def roles() -> dict[str, str]:
        rows = page.locator("#people-list tbody tr")
        found = {}
        for index in range(rows.count()):
            cells = rows.nth(index).locator("td")
            found[cells.nth(0).inner_text().split("\n")[0].strip()] = cells.nth(1).inner_text()
        return found

    everyone = "may chat (everyone may)"
    assert roles() == {
        "alice (4)": everyone,
        "bob (5)": "blocked",
        "carol (6)": "admin",
        "mei (web chat)": everyone,
        "li (web chat)": "admin",
    }
    page.locator("#people").scroll_into_view_if_needed()
    shot(page, "19-people-roles-everyone", full=False)

    bot.set(access="listed", allowed_users=["4"])
    page.reload()
    assert roles() == {
        "alice (4)": "allowed",
        "bob (5)": "blocked",
        "carol (6)": "admin",
        "mei (web chat)": "not allowed",
        "li (web chat)": "admin",
    }
    page.goto(bot.url + "/?lang=zh-Hant#people")
    assert roles()["mei (網頁聊天)"] == "未獲允許"
    page.locator("#people").scroll_into_view_if_needed()
    shot(page, "19-people-roles-listed-zh-hant", full=False)
