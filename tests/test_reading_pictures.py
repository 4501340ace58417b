"""Pictures people send in QQ and DingTalk, end to end: the platform's fake posts or pushes the
message with a picture as the real one does, the bot fetches it from the platform's short-lived
link and the model gets a data: URL; expired links, big files, things that are not pictures and
models without vision each get a sentence."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest

from tests.conftest import Bot, dingtalk_settings, qq_settings
from tests.fake_dingtalk import FakeDingTalk
from tests.fake_http import free_port
from tests.fake_onebot import FakeNapCat, cq_code
from tests.fake_openai import LLAMACPP_NO_MMPROJ, FakeOpenAI, png

GROUP = 987654


def data_url(content: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(content).decode()


def text(words: str) -> dict[str, object]:
    return {"type": "text", "data": {"text": words}}


@pytest.fixture
def qq(make_bot: Callable[..., Bot], fake_qq: FakeNapCat) -> Bot:
    return make_bot(**qq_settings(fake_qq))


@pytest.fixture
def ding(make_bot: Callable[..., Bot], fake_dingtalk: FakeDingTalk) -> Bot:
    bot = make_bot(**dingtalk_settings(fake_dingtalk))
    fake_dingtalk.wait_connected(1)
    return bot


# -- QQ -------------------------------------------------------------------------------------------


def test_a_qq_picture_with_a_question_reaches_the_model(
    qq: Bot, fake_qq: FakeNapCat, fake_model: FakeOpenAI
) -> None:
    picture = png(12, 12, (0, 0, 255))
    event = fake_qq.event([fake_qq.picture(picture), text("what colour?")])
    assert fake_qq.push(qq.url, event).status_code == 204
    assert fake_qq.wait_for(1)[0].text == "Answer to: what colour? [saw 1 image(s)]"
    assert fake_model.image_parts()[-1] == [data_url(picture)]
    assert len(fake_qq.picture_downloads) == 1
    qq.idle()
    history = qq.runtime.store.history("qq-12345678")
    assert history[-1]["pictures"] == 1 and base64.b64encode(picture).decode() not in str(history)


def test_a_qq_picture_alone_is_described_and_in_a_group_too(
    qq: Bot, fake_qq: FakeNapCat, fake_model: FakeOpenAI
) -> None:
    fake_qq.push(qq.url, fake_qq.event([fake_qq.picture(png())]))
    assert fake_qq.wait_for(1)[0].text == "Answer to: Describe this picture. [saw 1 image(s)]"
    at_bot = {"type": "at", "data": {"qq": str(fake_qq.self_id)}}
    fake_qq.push(qq.url, fake_qq.event([at_bot, fake_qq.picture(png())], group_id=GROUP))
    assert "[saw 1 image(s)]" in fake_qq.wait_for(2)[1].text


def test_a_qq_picture_in_the_cq_string_format_is_read_with_its_link_unescaped(
    qq: Bot, fake_qq: FakeNapCat, fake_model: FakeOpenAI
) -> None:
    picture = png(9, 9)
    fake_qq.push(qq.url, fake_qq.event(cq_code(fake_qq.picture(picture)) + "what is it?"))
    assert fake_qq.wait_for(1)[0].text == "Answer to: what is it? [saw 1 image(s)]"
    assert "&amp;" not in fake_qq.picture_downloads[0]
    assert fake_model.image_parts()[-1] == [data_url(picture)]


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda fake: fake.picture(png(), expired=True), "link had expired"),
        (lambda fake: fake.picture(b"%PDF-1.7 not a picture", name="a.png"), "not a picture I can read"),
        (lambda fake: fake.picture(png(pad=11 * 1024 * 1024)), "too big"),
    ],
)
def test_a_qq_picture_that_cannot_be_read_gets_a_sentence_and_no_model_call(
    qq: Bot,
    fake_qq: FakeNapCat,
    fake_model: FakeOpenAI,
    make: Callable[[FakeNapCat], dict[str, object]],
    says: str,
) -> None:
    fake_qq.push(qq.url, fake_qq.event([make(fake_qq), text("and this?")]))
    assert says in fake_qq.wait_for(1)[0].text
    assert fake_model.chat_requests() == []


def test_a_qq_picture_whose_link_cannot_be_reached_gets_a_sentence(
    qq: Bot, fake_qq: FakeNapCat, fake_model: FakeOpenAI
) -> None:
    segment = fake_qq.picture(png())
    segment["data"]["url"] = f"http://127.0.0.1:{free_port()}/download?fileid=x"
    fake_qq.push(qq.url, fake_qq.event([segment, text("and this?")]))
    assert "could not download your picture" in fake_qq.wait_for(1)[0].text
    assert fake_model.chat_requests() == []


def test_llama_cpp_without_a_vision_projector_is_named_and_not_asked_three_times(
    qq: Bot, fake_qq: FakeNapCat, fake_model: FakeOpenAI
) -> None:
    fake_model.fail_next(500, LLAMACPP_NO_MMPROJ)
    fake_qq.push(qq.url, fake_qq.event([fake_qq.picture(png()), text("what is this?")]))
    assert "fake-model cannot read pictures" in fake_qq.wait_for(1)[0].text
    assert len(fake_model.chat_requests()) == 1


def test_a_model_without_vision_is_named_in_qq(qq: Bot, fake_qq: FakeNapCat, fake_model: FakeOpenAI) -> None:
    fake_model.vision = False
    fake_qq.push(qq.url, fake_qq.event([fake_qq.picture(png()), text("what is this?")]))
    said = fake_qq.wait_for(1)[0].text
    assert "fake-model cannot read pictures" in said
    assert len(fake_model.chat_requests()) == 1  # a 400 is not retried


# -- DingTalk -------------------------------------------------------------------------------------


def test_a_dingtalk_picture_is_downloaded_and_described(
    ding: Bot, fake_dingtalk: FakeDingTalk, fake_model: FakeOpenAI
) -> None:
    picture = png(10, 10, (9, 9, 9))
    fake_dingtalk.push(fake_dingtalk.message("", msgtype="picture", picture=picture))
    sent = fake_dingtalk.wait_sent(1)[0]
    assert sent["body"]["markdown"]["text"] == "Answer to: Describe this picture. [saw 1 image(s)]"
    assert fake_model.image_parts()[-1] == [data_url(picture)]
    assert len(fake_dingtalk.downloads) == 1 and len(fake_dingtalk.fetched) == 1


def test_a_dingtalk_rich_text_asks_about_its_picture(
    ding: Bot, fake_dingtalk: FakeDingTalk, fake_model: FakeOpenAI
) -> None:
    picture = png(7, 7)
    fake_dingtalk.push(fake_dingtalk.message("how many pixels?", msgtype="richText", picture=picture))
    sent = fake_dingtalk.wait_sent(1)[0]
    assert sent["body"]["markdown"]["text"] == "Answer to: how many pixels? [saw 1 image(s)]"


def test_a_dingtalk_picture_whose_link_expired_gets_a_sentence(
    ding: Bot, fake_dingtalk: FakeDingTalk, fake_model: FakeOpenAI
) -> None:
    fake_dingtalk.download_url_lifetime = 0.0  # the link is dead when the bot gets to it
    fake_dingtalk.push(fake_dingtalk.message("", msgtype="picture", picture=png()))
    assert "link had expired" in fake_dingtalk.wait_sent(1)[0]["body"]["markdown"]["text"]
    assert fake_model.chat_requests() == []


def test_a_dingtalk_picture_dingtalk_does_not_know_gets_a_sentence(
    ding: Bot, fake_dingtalk: FakeDingTalk, fake_model: FakeOpenAI
) -> None:
    fake_dingtalk.push(fake_dingtalk.message("", msgtype="picture"))  # a code the fake never issued
    assert "link had expired" in fake_dingtalk.wait_sent(1)[0]["body"]["markdown"]["text"]
    assert fake_model.chat_requests() == []
