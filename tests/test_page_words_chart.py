"""Issue 19, points 10 and 13: the Chinese settings pages say everything in Chinese (the uptime,
what was wrong with a refused webhook), and the token chart labels today and stays readable on
a phone."""

from __future__ import annotations

import datetime
import html
import itertools
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from app import chart, pagetext, pagetext_hant
from app.platforms import registry
from app.platforms.onebot import events as onebot_events
from tests.conftest import BOT_TOKEN, Bot, qq_settings, shot
from tests.fake_onebot import FakeNapCat
from tests.fake_synology import FakeChat
from tests.webclient import ADMIN_PASSWORD, WebClient

CHINESE = ("zh", "zh-Hant")
UNKNOWN = "a detail from a parser that has no words on the page yet"


def english_sentences(lang: str) -> Iterator[tuple[str, re.Pattern[str]]]:
    """Each English page text of three words or more (placeholders matching anything) whose
    Chinese differs: the ones a Chinese page must not show."""
    for key, entry in {**pagetext.TEXTS, **registry.TEXTS}.items():
        english = entry["en"]
        hant = pagetext_hant.TEXTS.get(key) if key in pagetext.TEXTS else entry.get(lang)
        chinese = (hant if lang == "zh-Hant" else entry.get(lang)) or entry["zh"]
        if chinese == english:  # the same on purpose: a log line, a product's name
            continue
        fixed = re.split(r"\{\w+\}", english)
        if len(" ".join(fixed).split()) < 3:
            continue
        yield key, re.compile(".+?".join(re.escape(part) for part in fixed))


def visible_text(page: str) -> str:
    """What the page says: tags gone, entities read, spaces as one."""
    text = re.sub(r"<[^>]+>", " ", page)
    return re.sub(r"\s+", " ", html.unescape(text))


def refused_webhooks(bot: Bot, fake_qq: FakeNapCat) -> None:
    """Webhooks the list shows with a detail, and one with a detail the page has no words for."""
    assert bot.post({"user_id": "4", "text": "hi"}).status_code == 401  # no token
    assert bot.say("hello", token="X" * 64).status_code == 403  # a wrong token
    assert bot.post({"token": BOT_TOKEN, "text": "who"}).status_code == 400  # no user_id
    assert bot.post({"token": BOT_TOKEN, "user_id": "x4"}).status_code == 400  # not a number
    assert bot.post(b"{oops", headers={"Content-Type": "application/json"}).status_code == 400
    assert bot.post(b"hi", headers={"Content-Type": "text/plain"}).status_code == 415
    assert fake_qq.push(bot.url, fake_qq.event("hi"), secret="").status_code == 401  # not signed
    notice = {"post_type": "notice", "notice_type": "friend_add", "self_id": fake_qq.self_id, "user_id": 5}
    assert fake_qq.push(bot.url, notice).status_code == 204
    assert fake_qq.push(bot.url, b"not json at all").status_code == 400
    bot.runtime.console.monitor.webhook(400, "bad_body", client="10.0.0.9", detail=UNKNOWN)


@pytest.fixture
def qq_bot(make_bot: Callable[..., Bot], admin_hash: str, fake_qq: FakeNapCat) -> Bot:
    bot = make_bot(admin_password=admin_hash, **qq_settings(fake_qq))
    bot.runtime.console.started -= 4 * 60 + 48  # running for 4m 48s
    return bot


def logged_in(bot: Bot) -> WebClient:
    client = WebClient(bot.url)
    assert client.login(ADMIN_PASSWORD).status_code == 303
    return client


@pytest.mark.parametrize("lang", CHINESE)
def test_the_chinese_pages_show_no_english(qq_bot: Bot, fake_qq: FakeNapCat, lang: str) -> None:
    refused_webhooks(qq_bot, fake_qq)
    client = logged_in(qq_bot)
    page = client.get(f"/?lang={lang}").text
    assert f'<html lang="{lang}"' in page
    text = visible_text(page)

    uptime = re.search(r'id="st-uptime">([^<]*)<', page)
    assert uptime and uptime.group(1) == "4 分 48 秒", uptime and uptime.group(1)

    found = [key for key, sentence in english_sentences(lang) if sentence.search(text)]
    assert found == [], f"English page texts on the {lang} page: {found}"

    records = qq_bot.runtime.console.monitor.webhooks()
    details = {w.detail for w in records if w.detail}
    assert {"token is missing", "user_id is missing", "notice", UNKNOWN} <= details
    shown = [d for d in details if f"— {d}" in text or (len(d.split()) > 1 and d in text)]
    assert shown == [], f"English details on the {lang} page: {shown}"

    # In their place, the reader's words; and the same in the list the script redraws.
    assert "— 缺少 token" in text and "— 缺少 user_id" in text and "— 通知事件" in text
    rows = client.get(f"/api/webhooks?lang={lang}").json()["rows"]
    said = [r["detail"] for r in rows]
    assert [d == "" for d in said] == [not w.detail_key for w in records], said  # the unknown one too
    assert not details & set(said), said


def test_the_english_page_keeps_every_detail(qq_bot: Bot, fake_qq: FakeNapCat) -> None:
    refused_webhooks(qq_bot, fake_qq)
    client = logged_in(qq_bot)
    text = visible_text(client.get("/?lang=en").text)
    assert "4m 48s" in text
    for detail in ("token is missing", "user_id is missing", "user_id must be a number", UNKNOWN):
        assert f"— {detail}" in text, detail
    assert "— a notice (a friend added" in text and "unsupported content type text/plain" in text


def test_every_detail_a_parser_gives_has_words_on_the_page() -> None:
    app = Path(__file__).resolve().parent.parent / "app"
    keys = {"dt_foreign_link", "qq_event", *(f"qq_{kind}" for kind in onebot_events.OTHER_EVENTS)}
    for source in app.rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        keys.update(re.findall(r'BadRequest\((?:[^()]|\([^()]*\))*?key="(\w+)"', text, re.S))
    assert len(keys) > 20
    assert sorted(k for k in keys if not pagetext.has(f"whd_{k}")) == []


# -- the chart --------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [8, 14, 15, 30])
def test_the_chart_labels_today(count: int) -> None:
    days = chart.days_back(datetime.date(2025, 3, 31), count)
    rows = [("alice", [100 * (i + 1) for i in range(count)])]
    svg = chart.svg(rows, days, "Tokens")
    labels = re.findall(r'<text [^>]*class="(axis[^"]*)"[^>]*>(\d\d-\d\d)</text>', svg)
    assert ("axis", "03-31") in labels, f"today has no label that a phone shows: {labels}"
    # Fewer on a phone: the ones marked minor are hidden there.
    assert len(labels) <= chart.WIDE_LABELS
    assert len([c for c, _ in labels if "minor" not in c]) <= chart.NARROW_LABELS


def test_the_chart_is_readable_on_a_phone(
    browser: Browser, make_bot: Callable[..., Bot], admin_hash: str, fake_chat: FakeChat
) -> None:
    bot = make_bot(admin_password=admin_hash)
    for user, name in ((4, "alice"), (9, "bob"), (12, "a person with a long name")):
        bot.say("What is a NAS?", user_id=user, username=name)
    fake_chat.wait_for(3)
    bot.idle()
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True
    )
    phone = context.new_page()
    try:
        phone.goto(bot.url + "/login")
        phone.fill("#password", ADMIN_PASSWORD)
        phone.click("#login-submit")
        figure = phone.locator("#usage-chart")
        expect(figure.locator("svg.chart")).to_be_visible()
        figure.scroll_into_view_if_needed()
        today = datetime.date.today().isoformat()[5:]
        sizes = phone.evaluate(
            """() => [...document.querySelectorAll('#usage-chart svg.chart text, #usage-chart li')]
                .filter((node) => node.getBoundingClientRect().width > 0)
                .map((node) => {
                  const box = node.getBoundingClientRect();
                  const scale = node.ownerSVGElement
                    ? node.ownerSVGElement.getScreenCTM().a : 1;
                  const size = parseFloat(getComputedStyle(node).fontSize) * scale;
                  return {text: node.textContent, size, height: box.height, left: box.left, right: box.right};
                })"""
        )
        assert any(s["text"] == today for s in sizes), f"today's label is not shown: {sizes}"
        small = [s for s in sizes if s["size"] < 11 or s["height"] < 11]
        assert small == [], f"text smaller than 11 px on a phone: {small}"
        labels = sorted((s for s in sizes if re.fullmatch(r"\d\d-\d\d", s["text"])), key=lambda s: s["left"])
        overlaps = [(a["text"], b["text"]) for a, b in itertools.pairwise(labels) if a["right"] > b["left"]]
        assert overlaps == [], f"day labels overlap: {overlaps}"
        edge = figure.locator("svg.chart").bounding_box()
        assert edge and labels
        cut = [s["text"] for s in labels if s["right"] > edge["x"] + edge["width"] or s["left"] < edge["x"]]
        assert cut == [], f"day labels cut off at the chart's edge: {cut}"
        overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the page is {overflow}px wider than the phone"
        shot(phone, "19-chart-phone", full=False)
    finally:
        context.close()
