"""Pictures in the web chat, over real HTTP: Draw (and /image typed) shows the picture, keeps it
with the chat, exports it and deletes it with the chat; pictures pasted into the page reach the
model as data: URLs, and everything sent wrong is refused with a sentence."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import requests

from tests.conftest import Bot
from tests.fake_openai import PNG_MAGIC, FakeOpenAI, png
from tests.test_webchat import ChatClient, chat_bot, events, mei

__all__ = ["chat_bot", "mei"]  # the fixtures, shared with test_webchat.py

CHAT = "picturechat01"


def send(client: ChatClient, text: str, **fields: Any) -> requests.Response:
    pictures = fields.pop("pictures", [])
    data: list[tuple[str, str]] = [("chat", fields.pop("chat", CHAT)), ("text", text)]
    data += [(k, str(v)) for k, v in fields.items()] + [("picture", p) for p in pictures]
    return client.http.post(
        client.base + "/api/chat/send",
        data=data,
        headers={"X-CSRF-Token": client.csrf, "Origin": client.base},
        stream=True,
        timeout=30,
    )


def finished(answer: requests.Response) -> tuple[list[str], dict[str, Any]]:
    kinds, last = [], {}
    for kind, data, _ in events(answer):
        kinds.append(kind)
        last = data
    return kinds, last


def data_url(content: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(content).decode()}"


# -- drawing -------------------------------------------------------------------------------------


def test_draw_shows_the_picture_keeps_it_exports_it_and_deletes_it_with_the_chat(
    chat_bot: Bot, mei: ChatClient, fake_model: FakeOpenAI
) -> None:
    answer = send(mei, "a teapot on a table", draw="1")
    kinds, done = finished(answer)
    assert kinds == ["drawing", "done"] and done["text"] == "🎨 Here is your picture."
    assert fake_model.image_requests()[0]["prompt"] == "a teapot on a table"
    picture = mei.get(done["image"])
    assert picture.status_code == 200 and picture.headers["Content-Type"] == "image/png"
    assert picture.content == fake_model.image_png() and picture.content.startswith(PNG_MAGIC)
    history = mei.get(f"/api/chat/history?chat={CHAT}").json()["messages"]
    assert history[0]["image"] == done["image"] and history[0]["user"] == "a teapot on a table"
    exported = mei.get(f"/api/chat/export?chat={CHAT}").text
    assert "data:image/png;base64," + base64.b64encode(fake_model.image_png()).decode() in exported
    folder = chat_bot.data_dir / "pictures"
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert len(files) == 1 and files[0].stat().st_mode & 0o777 == 0o600
    assert mei.post("/api/chat/delete", {"chat": CHAT}, headers={"X-CSRF-Token": mei.csrf}).status_code == 200
    assert not [p for p in folder.rglob("*") if p.is_file()]
    assert mei.get(done["image"]).status_code == 404


def test_image_typed_in_the_web_chat_draws_too(mei: ChatClient, fake_model: FakeOpenAI) -> None:
    for text in ("/image a kite", "图片：一只风筝"):
        kinds, done = finished(send(mei, text))
        assert kinds == ["drawing", "done"] and done["image"], text
    assert [r["prompt"] for r in fake_model.image_requests()] == ["a kite", "一只风筝"]


def test_a_refused_drawing_is_a_notice_without_a_picture(mei: ChatClient, fake_model: FakeOpenAI) -> None:
    _, done = finished(send(mei, "something forbidden", draw="1"))
    assert "refused to draw that" in done["text"] and done["notice"] is True and done["image"] == ""
    assert mei.get(f"/api/chat/history?chat={CHAT}").json()["messages"] == []


def test_nothing_to_draw_is_refused(mei: ChatClient, fake_model: FakeOpenAI) -> None:
    answer = send(mei, "   ", draw="1")
    assert answer.status_code == 400 and "What should I draw?" in answer.json()["error"]
    assert fake_model.image_requests() == []


def test_another_persons_picture_cannot_be_fetched(
    chat_bot: Bot, mei: ChatClient, fake_model: FakeOpenAI
) -> None:
    _, done = finished(send(mei, "mine", draw="1"))
    admin = ChatClient(chat_bot.url)
    assert admin.chat_login("admin", "correct horse battery staple").status_code == 303
    assert admin.get(done["image"]).status_code == 404  # the admin's chats are other files
    for query in ("chat=../x&name=a.png", f"chat={CHAT}&name=../../settings.json", f"chat={CHAT}&name=x.svg"):
        assert mei.get("/api/chat/picture?" + query).status_code in (400, 404), query


# -- reading pictures -----------------------------------------------------------------------------


def test_a_pasted_picture_reaches_the_model_as_a_data_url(
    chat_bot: Bot, mei: ChatClient, fake_model: FakeOpenAI
) -> None:
    picture = png(16, 16, (10, 200, 10))
    kinds, done = finished(send(mei, "what colour is this?", pictures=[data_url(picture)]))
    assert kinds[-1] == "done" and done["text"] == "Answer to: what colour is this? [saw 1 image(s)]"
    assert fake_model.image_parts()[-1] == [data_url(picture)]
    history = mei.get(f"/api/chat/history?chat={CHAT}").json()["messages"]
    assert history[0]["pictures"] == 1 and history[0]["user"] == "what colour is this?"
    stored = b"".join(p.read_bytes() for p in (chat_bot.data_dir / "conversations").glob("*.json"))
    assert base64.b64encode(picture) not in stored  # the history keeps a note, never the bytes
    # The next question carries a note, not the picture again.
    finished(send(mei, "and now?"))
    assert fake_model.image_parts()[-1] == []
    sent = fake_model.chat_requests()[-1]["messages"]
    assert any("[1 picture(s) sent]" in str(m["content"]) for m in sent)


def test_a_picture_alone_is_described(mei: ChatClient, fake_model: FakeOpenAI) -> None:
    _, done = finished(send(mei, "", pictures=[data_url(png())]))
    assert done["text"] == "Answer to: Describe this picture. [saw 1 image(s)]"


def test_a_model_without_vision_gets_a_sentence_naming_the_model(
    mei: ChatClient, fake_model: FakeOpenAI
) -> None:
    fake_model.vision = False
    _, done = finished(send(mei, "what is this?", pictures=[data_url(png())]))
    assert "fake-model cannot read pictures" in done["text"] and done["notice"] is True


@pytest.mark.parametrize(
    ("pictures", "says"),
    [
        (["data:image/png;base64,not-base64!"], "not a picture I can read"),
        ([data_url(b"<svg></svg>", "image/png")], "not a picture I can read"),
        (["http://127.0.0.1:9/x.png"], "not a picture I can read"),
        ([data_url(png())] * 5, "At most 4 pictures"),
    ],
)
def test_pictures_sent_wrong_are_refused_with_a_sentence(
    mei: ChatClient, fake_model: FakeOpenAI, pictures: list[str], says: str
) -> None:
    answer = send(mei, "look", pictures=pictures)
    assert answer.status_code == 400 and says in answer.json()["error"]
    assert fake_model.chat_requests() == []


def test_a_picture_over_the_servers_limit_is_refused_before_it_is_read(
    mei: ChatClient, fake_model: FakeOpenAI
) -> None:
    answer = send(mei, "big", pictures=[data_url(png(pad=2 * 1024 * 1024))])
    assert answer.status_code in (400, 413)
    assert fake_model.chat_requests() == []


def test_pictures_of_real_size_arrive_as_the_page_sends_them(mei: ChatClient, fake_model: FakeOpenAI) -> None:
    """The page sends a FormData (multipart): a phone photo shrunk to 1280 px is a few hundred
    KB, more than bottle takes in a form field by default."""
    big, small = png(pad=300_000), png(pad=60_000)
    for pictures in ([big], [small, small]):
        fields: list[tuple[str, tuple[None, str]]] = [
            ("chat", (None, CHAT)),
            ("text", (None, "what is this?")),
        ]
        fields += [("picture", (None, data_url(p))) for p in pictures]
        answer = mei.http.post(
            mei.base + "/api/chat/send",
            files=fields,
            headers={"X-CSRF-Token": mei.csrf, "Origin": mei.base},
            stream=True,
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        _, done = finished(answer)
        assert done["text"] == f"Answer to: what is this? [saw {len(pictures)} image(s)]"
        assert fake_model.image_parts()[-1] == [data_url(p) for p in pictures]


# -- found by review ----------------------------------------------------------------------------


def test_regenerating_a_drawing_keeps_the_old_picture_until_a_new_one_exists(
    chat_bot: Bot, mei: ChatClient, fake_model: FakeOpenAI
) -> None:
    _, first = finished(send(mei, "a boat", draw="1"))
    fake_model.image_script.append(
        {"status": 400, "body": {"error": {"message": "no", "code": "moderation_blocked"}}}
    )
    _, failed = finished(send(mei, "", regenerate="1"))
    assert failed["image"] == "" and "refused" in failed["text"]
    history = mei.get(f"/api/chat/history?chat={CHAT}").json()["messages"]
    assert [m["image"] for m in history] == [first["image"]]
    assert mei.get(first["image"]).status_code == 200
    _, second = finished(send(mei, "", regenerate="1"))
    assert second["image"] and second["image"] != first["image"]
    history = mei.get(f"/api/chat/history?chat={CHAT}").json()["messages"]
    assert [m["image"] for m in history] == [second["image"]]
    assert mei.get(first["image"]).status_code == 404


def test_regenerating_a_question_about_a_picture_asks_for_the_picture_again(
    mei: ChatClient, fake_model: FakeOpenAI
) -> None:
    finished(send(mei, "what is this?", pictures=[data_url(png())]))
    answer = send(mei, "", regenerate="1")
    assert answer.status_code == 400 and "send the picture once more" in answer.json()["error"]
    assert len(fake_model.chat_requests()) == 1


def test_an_export_embeds_pictures_only_up_to_its_limit(
    chat_bot: Bot, mei: ChatClient, fake_model: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app import webchat

    for prompt in ("one", "two", "three"):
        finished(send(mei, prompt, draw="1"))
    size = len(fake_model.image_png())
    monkeypatch.setattr(webchat, "EMBED_BYTES", 2 * size)
    exported = mei.get(f"/api/chat/export?chat={CHAT}").text
    assert exported.count("data:image/png;base64,") == 2 and exported.count("picture was drawn") == 3
