"""Drawing on request, end to end: /image (and img:, 图片：) through the real server to the fake
image server (tests/fake_openai.py) and back to each platform's fake: Synology Chat downloads
the picture from its file_url, QQ gets an image segment, DingTalk an uploaded image; and every
way it can go wrong, sent wrong."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from app import images
from tests.conftest import API_KEY, Bot, dingtalk_settings, qq_settings
from tests.fake_dingtalk import FakeDingTalk
from tests.fake_onebot import FakeNapCat
from tests.fake_openai import PNG_MAGIC, FakeOpenAI
from tests.fake_synology import FakeChat


def until(probe: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError("timed out")


def texts(fake_chat: FakeChat) -> list[str]:
    return [p.text for p in fake_chat.posts]


# -- Synology Chat -------------------------------------------------------------------------------


def test_image_draws_and_chat_downloads_the_picture_with_its_real_type(
    bot: Bot, fake_chat: FakeChat, fake_model: FakeOpenAI
) -> None:
    assert bot.say("/image a red fox in the snow").status_code == 200
    posts = fake_chat.wait_for(2)
    assert "Drawing" in posts[0].text and posts[0].file is None  # the note comes first
    picture = posts[1]
    assert picture.text == "🎨 Here is your picture." and picture.file is not None
    assert picture.file.startswith(PNG_MAGIC)
    served = requests.get(picture.file_url, timeout=5)
    assert served.headers["Content-Type"] == "image/png" and served.content == picture.file
    request = fake_model.image_requests()[0]
    assert request["prompt"] == "a red fox in the snow"
    assert (request["model"], request["size"], request["quality"]) == ("gpt-image-1-mini", "1024x1024", "low")
    assert fake_model.chat_requests() == []
    bot.idle()
    history = bot.runtime.store.history("dm-4")
    assert history[-1]["user"] == "a red fox in the snow" and "picture was drawn" in history[-1]["assistant"]
    assert "b64" not in str(history) and len(str(history)) < 1000  # never the picture itself


@pytest.mark.parametrize(
    ("text", "prompt"),
    [("img: a cat", "a cat"), ("IMG:a dog", "a dog"), ("图片：一只猫", "一只猫"), ("图片: 一只狗", "一只狗")],
)
def test_the_seed_bots_prefixes_draw_too(
    bot: Bot, fake_chat: FakeChat, fake_model: FakeOpenAI, text: str, prompt: str
) -> None:
    bot.say(text)
    fake_chat.wait_for(2)
    assert fake_model.image_requests()[0]["prompt"] == prompt


def test_the_settings_choose_model_size_and_quality(
    make_bot: Callable[..., Bot], fake_chat: FakeChat, fake_model: FakeOpenAI
) -> None:
    bot = make_bot(image_model="gpt-image-1", image_size="1536x1024", image_quality="high")
    bot.say("/image a wide beach")
    fake_chat.wait_for(2)
    request = fake_model.image_requests()[0]
    assert (request["model"], request["size"], request["quality"]) == ("gpt-image-1", "1536x1024", "high")


def test_nothing_to_draw_is_answered_at_once(bot: Bot, fake_chat: FakeChat, fake_model: FakeOpenAI) -> None:
    for text in ("/image", "/image   ", "img:", "图片："):
        answer = bot.say(text)
        said = answer.json()["text"]  # in the language it was asked in
        assert answer.status_code == 200 and ("What should I draw?" in said or "要画什么？" in said), text
    bot.idle()
    assert fake_model.image_requests() == [] and fake_chat.posts == []


def test_a_description_too_long_is_refused_without_a_call(
    bot: Bot, fake_chat: FakeChat, fake_model: FakeOpenAI
) -> None:
    bot.say("/image " + "x" * (images.MAX_PROMPT + 1))
    assert "too long to draw" in fake_chat.wait_for(1)[0].text
    bot.idle()
    assert fake_model.image_requests() == []


def test_a_refused_prompt_is_one_plain_sentence_and_not_retried(
    bot: Bot, fake_chat: FakeChat, fake_model: FakeOpenAI
) -> None:
    bot.say("/image something forbidden")
    posts = fake_chat.wait_for(2)
    assert "refused to draw that" in posts[1].text and posts[1].file is None
    bot.idle()
    assert len(fake_model.image_requests()) == 1


def test_a_model_that_cannot_draw_names_the_setting(
    make_bot: Callable[..., Bot], fake_chat: FakeChat, fake_model: FakeOpenAI
) -> None:
    bot = make_bot(image_model="dall-e-3")  # shut down on 2026-05-12
    bot.say("/image a cat")
    assert "image_model" in fake_chat.wait_for(2)[1].text
    fake_model.images_endpoint = False  # a server with no images route at all
    bot.set(image_model="gpt-image-1-mini")
    bot.say("/image a dog")
    assert "image_model" in fake_chat.wait_for(4)[3].text
    bot.idle()
    assert len(fake_model.image_requests()) == 2  # each tried once: a 404 is not retried


def test_a_busy_server_is_tried_again_by_the_queue_three_calls_at_most(
    bot: Bot, fake_chat: FakeChat, fake_model: FakeOpenAI
) -> None:
    fake_model.image_script.extend([{"status": 500, "body": {"error": {"message": "overloaded"}}}] * 5)
    bot.say("/image a storm")
    posts = fake_chat.wait_for(2, timeout=30)
    assert "Drawing" in posts[0].text and "image server had an error" in posts[1].text
    bot.idle(30)
    assert len(fake_model.image_requests()) == 3
    assert len(fake_chat.posts) == 2  # one note, not one per try


def test_a_server_busy_once_still_draws(bot: Bot, fake_chat: FakeChat, fake_model: FakeOpenAI) -> None:
    fake_model.image_script.append({"status": 503, "body": {"error": {"message": "busy"}}})
    bot.say("/image a calm sea")
    posts = fake_chat.wait_for(2, timeout=30)
    assert posts[1].file is not None and posts[1].file.startswith(PNG_MAGIC)


def test_a_picture_left_at_a_url_is_fetched(bot: Bot, fake_chat: FakeChat, fake_model: FakeOpenAI) -> None:
    fake_model.image_mode = "url"  # LocalAI's default
    bot.say("/image a lighthouse")
    assert fake_chat.wait_for(2)[1].file == fake_model.image_png()


@pytest.mark.parametrize(
    "body",
    [
        {"created": 1, "data": [{"b64_json": base64.b64encode(b"<svg onload=alert(1)></svg>").decode()}]},
        {"created": 1, "data": [{"b64_json": base64.b64encode(b"<html>hi</html>").decode()}]},
        {"created": 1, "data": [{"b64_json": "not base64!!"}]},
        {"created": 1, "data": []},
    ],
)
def test_an_answer_that_is_not_a_picture_is_never_passed_on(
    bot: Bot, fake_chat: FakeChat, fake_model: FakeOpenAI, body: dict[str, Any]
) -> None:
    fake_model.image_script.append({"status": 200, "body": body})
    bot.say("/image a trick")
    post = fake_chat.wait_for(2)[1]
    assert "did not send a picture" in post.text and post.file is None


def test_the_daily_limit_counts_pictures_and_admins_have_none(
    make_bot: Callable[..., Bot], fake_chat: FakeChat, fake_model: FakeOpenAI
) -> None:
    bot = make_bot(daily_images=1, admin_users=["5"])
    bot.say("/image one")
    fake_chat.wait_for(2)
    bot.idle()
    bot.say("/image two")
    assert "your 1 pictures for today" in fake_chat.wait_for(3)[2].text
    bot.idle()
    bot.say("/usage")
    assert "Pictures today: 1 of 1." in fake_chat.wait_for(4)[3].text
    bot.say("/image for the admin", user_id=5, username="boss")
    until(lambda: len(fake_chat.posts) >= 6)
    assert len(fake_model.image_requests()) == 2


def test_another_image_server_never_gets_the_model_servers_key(
    make_bot: Callable[..., Bot], fake_chat: FakeChat, fake_model: FakeOpenAI
) -> None:
    # A server that would take the model server's key, had it been sent: it must see none.
    other = FakeOpenAI(api_key=API_KEY).start()
    try:
        bot = make_bot(image_base_url=other.url)
        bot.say("/image a local picture")
        post = fake_chat.wait_for(2)[1]
        assert "refused the API key" in post.text and post.file is None
        bot.set(image_api_key=API_KEY)  # given on purpose, it is used
        bot.say("/image a local picture")
        assert fake_chat.wait_for(4)[3].file is not None
        assert fake_model.image_requests() == [] and len(other.image_requests()) == 2
    finally:
        other.stop()


def test_a_channel_gets_the_picture_too(make_bot: Callable[..., Bot], fake_chat: FakeChat) -> None:
    token = "C" * 64
    bot = make_bot(
        channels=[
            {
                "name": "team",
                "outgoing_token": token,
                "incoming_url": fake_chat.channel_url("in" + token),
                "context": "shared",
                "triggers": ["@ai"],
            }
        ]
    )
    bot.in_channel(token, "@ai /image our logo", trigger_word="@ai")
    posts = fake_chat.wait_for(2)
    assert posts[1].file is not None and posts[1].file.startswith(PNG_MAGIC)


def test_a_slash_command_draws_and_the_picture_comes_in_a_direct_message(
    make_bot: Callable[..., Bot], fake_chat: FakeChat, fake_model: FakeOpenAI
) -> None:
    slash = "S" * 64
    bot = make_bot(slash_tokens=[slash])
    answer = bot.slash(slash, "/image a rainbow")
    assert answer.status_code == 200 and answer.json()["text"]  # "queued": only its sender sees it
    picture = fake_chat.wait_for(2)[1]
    assert picture.file is not None and picture.user_ids == [4]


# -- QQ and DingTalk --------------------------------------------------------------------------


def test_qq_gets_the_picture_as_an_image_segment(
    make_bot: Callable[..., Bot], fake_qq: FakeNapCat, fake_model: FakeOpenAI
) -> None:
    bot = make_bot(**qq_settings(fake_qq))
    fake_qq.push(bot.url, fake_qq.event([{"type": "text", "data": {"text": "/image a panda"}}]))
    sent = fake_qq.wait_for(3)
    assert "Drawing" in sent[0].text
    assert sent[1].text == "🎨 Here is your picture."
    segment = sent[2].message[0]
    assert segment["type"] == "image" and segment["data"]["file"].startswith("base64://")
    assert base64.b64decode(segment["data"]["file"][9:]) == fake_model.image_png()


def test_dingtalk_gets_the_picture_uploaded_and_shown(
    make_bot: Callable[..., Bot], fake_dingtalk: FakeDingTalk, fake_model: FakeOpenAI
) -> None:
    bot = make_bot(**dingtalk_settings(fake_dingtalk))
    fake_dingtalk.wait_connected(1)
    fake_dingtalk.push(fake_dingtalk.message("/image a crane"))
    sent = fake_dingtalk.wait_sent(3)
    assert "Drawing" in sent[0]["body"]["markdown"]["text"]
    upload = fake_dingtalk.uploads[0]
    assert upload["type"] == "image" and upload["data"] == fake_model.image_png()
    assert sent[2]["body"]["markdown"]["text"] == f"![picture]({upload['media_id']})"
    bot.idle()


def test_dingtalk_after_the_reply_link_expired_sends_the_picture_through_the_openapi(
    make_bot: Callable[..., Bot], fake_dingtalk: FakeDingTalk, fake_model: FakeOpenAI
) -> None:
    bot = make_bot(**dingtalk_settings(fake_dingtalk))
    fake_dingtalk.wait_connected(1)
    message = fake_dingtalk.message("/image a bridge", group=True)
    fake_dingtalk.expire_sessions()
    fake_dingtalk.push(message)
    sent = fake_dingtalk.wait_sent(3)
    last = sent[-1]
    assert last["via"] == "group" and last["body"]["msgKey"] == "sampleImageMsg"
    assert last["msgParam"] == {"photoURL": fake_dingtalk.uploads[0]["media_id"]}
    bot.idle()
