"""Small things a person meets on the page and in Chat (issue 19, point 14): seconds shown as
300, not 300.0; a mistyped number answered with an example that fits the setting; /model
checked against the server's own list; the bot's language decided by the whole message."""

from __future__ import annotations

import re
from collections.abc import Callable

from app import i18n, settings
from tests.conftest import Bot
from tests.fake_openai import FakeOpenAI
from tests.fake_synology import FakeChat
from tests.webclient import WebClient

ADMIN = 7


def dm(bot: Bot, chat: FakeChat, text: str, user_id: int = 4) -> str:
    """A direct message and the bot's whole answer to it."""
    before = len(chat.posts)
    assert bot.say(text, user_id=user_id).status_code == 200
    bot.idle()
    return "\n".join(p.text for p in chat.wait_for(before + 1)[before:])


def page_of(bot: Bot) -> WebClient:
    web = WebClient(bot.url)
    assert web.login().status_code == 303
    return web


# -- (a) a float setting as a person writes it ---------------------------------------------------


def test_numbers_are_shown_as_people_write_them() -> None:
    timeout = settings.BY_NAME["request_timeout"]
    assert settings.typed(timeout, 300.0) == "300"
    assert settings.typed(timeout, 0.5) == "0.5"
    assert settings.typed(settings.BY_NAME["delivery_retry_hours"], 0.01) == "0.01"
    assert settings.typed(settings.BY_NAME["temperature"], None) == ""
    assert settings.typed(settings.BY_NAME["context_tokens"], 8000) == "8000"
    assert settings.typed(timeout, 1e20) == "1e+20", "too big to be a trusted whole number"
    assert settings.masked(timeout, 300.0) == "300"


def test_whole_seconds_have_no_point_zero_and_stay_floats(
    make_bot: Callable[..., Bot], admin_hash: str
) -> None:
    bot = make_bot(admin_password=admin_hash, request_timeout=300, temperature=0.7)
    web = page_of(bot)
    page = web.get("/").text
    assert 'id="request_timeout" value="300"' in page
    assert 'id="answer_timeout" value="1200"' in page  # the default, never saved
    assert 'id="delivery_retry_hours" value="24"' in page
    assert 'id="temperature" value="0.7"' in page, "a fraction keeps its point"
    assert 'id="onebot_send_interval" value="1.5"' in page
    assert not re.search(r'value="[0-9]+\.0" inputmode="decimal"', page), "no number field ends in .0"

    assert web.post("/settings", web.settings_form()).status_code == 303
    values = bot.runtime.settings()
    assert values.request_timeout == 300.0 and isinstance(values.request_timeout, float)
    assert values.temperature == 0.7


def test_a_float_fixed_by_the_environment_is_shown_whole(
    make_bot: Callable[..., Bot], admin_hash: str
) -> None:
    bot = make_bot(environ={"SYNOCHATGPT_REQUEST_TIMEOUT": "300"}, admin_password=admin_hash)
    page = page_of(bot).get("/").text
    assert '<output id="request_timeout">300</output>' in page


# -- (b) the example in "Enter a number" fits the setting -----------------------------------------


def test_every_float_setting_has_an_example_it_accepts() -> None:
    floats = [s for s in settings.SETTINGS if s.kind == "float"]
    assert floats
    for setting in floats:
        assert setting.sample, setting.name
        assert settings.parse(setting, setting.sample) is not None, setting.name
    assert settings.BY_NAME["request_timeout"].sample == "300"
    assert settings.BY_NAME["temperature"].sample == "0.7"


def test_a_mistyped_number_gets_an_example_of_its_own(admin_bot: Bot, admin: WebClient) -> None:
    fields = admin.settings_form()
    fields.update(request_timeout="abc", answer_timeout="abc", delivery_retry_hours="abc", temperature="hot")
    page = admin.post("/settings", fields).text
    assert 'id="error-request_timeout">Enter a number, such as 300.' in page
    assert 'id="error-answer_timeout">Enter a number, such as 1200.' in page
    assert 'id="error-delivery_retry_hours">Enter a number, such as 24.' in page
    assert 'id="error-temperature">Enter a number, such as 0.7.' in page

    admin.get("/?lang=zh")
    page = admin.post("/settings", fields).text
    assert 'id="error-request_timeout">请输入数字，例如 300。' in page

    admin.get("/?lang=zh-Hant")
    page = admin.post("/settings", fields).text
    assert 'id="error-answer_timeout">請輸入數字，例如 1200。' in page

    # The page's live check says the same.
    refused = admin.api("/api/test-model", {**admin.settings_form(), "request_timeout": "abc"})
    assert refused.status_code == 400
    assert refused.json()["fields"]["request_timeout"] == "請輸入數字，例如 300。"


# -- (c) /model checked against the server's list ---------------------------------------------------


def test_model_refuses_a_name_the_server_does_not_list(
    make_bot: Callable[..., Bot], fake_chat: FakeChat, fake_model: FakeOpenAI
) -> None:
    bot = make_bot(admin_users=[str(ADMIN)])
    reply = dm(bot, fake_chat, "/model no-such-model", user_id=ADMIN)
    assert reply == (
        "The model server has no model called no-such-model, so I keep answering with fake-model. "
        "It has: fake-model, fake-small"
    )
    assert bot.runtime.settings().model == "fake-model"
    assert (
        "model" not in bot.runtime.store.settings() or bot.runtime.store.settings()["model"] == "fake-model"
    )

    # A name it lists is taken as before.
    reply = dm(bot, fake_chat, "/model fake-small", user_id=ADMIN)
    assert reply == "From now on I answer everyone with the model fake-small."

    # In Chinese, to someone who writes Chinese.
    dm(bot, fake_chat, "你好", user_id=ADMIN)
    reply = dm(bot, fake_chat, "/model gpt-9", user_id=ADMIN)
    assert reply.startswith("模型服务器上没有名为 gpt-9 的模型，所以我继续用 fake-small 回答。")
    assert bot.runtime.settings().model == "fake-small"


def test_model_offers_a_few_names_the_closest_first(
    make_bot: Callable[..., Bot], fake_chat: FakeChat, fake_model: FakeOpenAI
) -> None:
    bot = make_bot(admin_users=[str(ADMIN)])
    fake_model.models = [*(f"llama-{n}" for n in range(20)), "qwen2.5:7b", "fake-model"]
    reply = dm(bot, fake_chat, "/model qwen2.5:7", user_id=ADMIN)
    names = reply.split("It has: ")[1]
    assert names.startswith("qwen2.5:7b, ") and names.endswith(", …")
    assert len(names.split(", ")) == 8 + 1  # eight names and the ellipsis
    assert bot.runtime.settings().model == "fake-model"


def test_model_is_taken_on_trust_when_the_server_lists_none(
    make_bot: Callable[..., Bot], fake_chat: FakeChat, fake_model: FakeOpenAI
) -> None:
    bot = make_bot(admin_users=[str(ADMIN)])
    fake_model.models_route = False  # GET /v1/models answers 404
    reply = dm(bot, fake_chat, "/model fake-small", user_id=ADMIN)
    assert reply.startswith("From now on I answer everyone with the model fake-small.")
    assert "could not check the name" in reply
    assert bot.runtime.settings().model == "fake-small"
    dm(bot, fake_chat, "which model?")
    assert fake_model.chat_requests()[-1]["model"] == "fake-small"

    fake_model.models_route = True
    fake_model.models = []  # a list, but an empty one
    dm(bot, fake_chat, "你好", user_id=ADMIN)
    reply = dm(bot, fake_chat, "/model other-model", user_id=ADMIN)
    assert "模型服务器没有列出它的模型，所以我无法核对这个名称" in reply
    assert bot.runtime.settings().model == "other-model"


# -- (d) the language of the whole message ------------------------------------------------------


def test_language_is_decided_by_the_whole_message() -> None:
    english = [
        "Hello 你好, could you help me write a short email to my boss?",
        "Can you translate 你好吗 into English?",
        "Hi 你好! Please summarise this article for me.",
    ]
    chinese = [
        "请帮我写一个 Python 脚本，用 requests 下载文件",
        "用 Docker Compose 部署 Nextcloud 的步骤",
        "我想问一下 OpenAI API 的 rate limit 是多少",
        "你好",
        "/ask 今天天气怎么样",
    ]
    assert [i18n.detect(text) for text in english] == ["en"] * len(english)
    assert [i18n.detect(text) for text in chinese] == ["zh"] * len(chinese)
    assert i18n.detect("/ask what does 你好 mean in English?") is None, "a command alone keeps the language"
    assert i18n.detect("/help") is None and i18n.detect("42") is None


def test_a_greeting_in_chinese_does_not_switch_an_english_speaker(bot: Bot, fake_chat: FakeChat) -> None:
    dm(bot, fake_chat, "Hello 你好, could you help me write a short email to my boss?")
    assert dm(bot, fake_chat, "/help").startswith("I answer with the AI model fake-model.")
    assert dm(bot, fake_chat, "/whoami") == "Your Synology Chat user id is 4, name alice."
    assert dm(bot, fake_chat, "/usage").startswith("Tokens used today:")

    # And the other way: Chinese with English words in it stays Chinese.
    dm(bot, fake_chat, "请帮我写一个 Python 脚本，用 requests 下载文件", user_id=5)
    assert "帮助" in dm(bot, fake_chat, "/help", user_id=5)
