"""Issue 13, the model's answers: an overall deadline (answer_timeout) and a size cap
(max_answer_chars, also sent as max_tokens) with plain-language notes, servers that refuse
max_tokens, and secrets masked in answers. Real loopback HTTP to the fake model and fake Chat."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable, Iterator

import pytest

from app import auth
from app.llm import CUT_TIME, ModelConfig, OpenAIModel
from tests.conftest import API_KEY, Bot
from tests.fake_openai import REFUSE_ANY_LIMIT, REFUSE_LIKE_OPENAI, FakeOpenAI, generated
from tests.fake_synology import FakeChat
from tests.test_webchat import MEI, ChatClient, events

CUT_LENGTH_NOTE = "(The answer was cut here: it reached the {limit}-character limit.)"


def texts_to(chat: FakeChat, user_id: int) -> str:
    return "\n".join(p.text for p in chat.posts if user_id in p.user_ids)


def wait_until(check: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def by_question(slow: float = 1.0, silent: float = 40.0) -> Callable[[list[dict[str, str]]], Iterator[str]]:
    """Answers by question: "drip" a word every `slow` seconds for a minute, "silent" nothing at
    all for `silent` seconds (after the headers), anything else at once."""

    def pieces(messages: list[dict[str, str]]) -> Iterator[str]:
        question = messages[-1]["content"]
        if "drip" in question:
            for number in range(int(60 / slow)):
                yield f"word{number} "
                time.sleep(slow)
        elif "silent" in question:
            time.sleep(silent)
            yield "too late"
        else:
            yield f"Answer to: {question}"

    return pieces


def test_a_dripping_or_silent_model_is_cut_at_the_deadline_while_others_get_answers(
    make_bot: Callable[..., Bot], fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    """0.1.0: a model dripping a token a second held every worker for its whole minute."""
    fake_model.pieces = by_question()
    bot = make_bot(workers=3, answer_timeout=10, request_timeout=60)
    started = time.monotonic()
    for user, text in ((5, "please drip"), (6, "drip too"), (8, "be silent")):
        assert bot.say(text, user_id=user, username=f"u{user}").status_code == 200
    assert wait_until(lambda: fake_model.active == 3, 5), "all three workers are busy"
    assert bot.say("a one-line question", user_id=7, username="u7").status_code == 200
    fake_chat.wait_for(4, timeout=20)
    assert time.monotonic() - started < 16, "the deadline freed the workers"
    assert texts_to(fake_chat, 7) == "Answer to: a one-line question"
    for user in (5, 6):
        answer = texts_to(fake_chat, user)
        assert answer.startswith("word0 word1 "), answer
        assert answer.endswith("\n\n(The answer was cut off here: the model took longer than 10 seconds.)")
    assert texts_to(fake_chat, 8).startswith("The model had not started its answer after 10 seconds")
    assert wait_until(lambda: fake_model.disconnects >= 2, 5), "the dripping streams were closed"
    stored = bot.runtime.store.history("dm-5")[-1]["assistant"]
    assert stored.endswith("took longer than 10 seconds.)")


def test_a_model_that_falls_silent_is_cut_at_the_deadline_not_at_its_read_timeout(
    fake_model: FakeOpenAI,
) -> None:
    """The read timeout (30 s here) was set when the call began; the deadline (2 s) still holds."""

    def pieces(messages: list[dict[str, str]]) -> Iterator[str]:
        yield "The start"
        time.sleep(30)
        yield " and the rest"

    fake_model.pieces = pieces
    config = ModelConfig(fake_model.url, API_KEY, "fake-model", None, 30.0, 0, answer_timeout=2.0)
    model = OpenAIModel(config)
    started = time.monotonic()
    reply = model.complete([{"role": "user", "content": "x"}])
    assert time.monotonic() - started < 5
    assert reply.text == "The start" and reply.cut == CUT_TIME
    model.close()


def test_a_huge_answer_is_cut_at_the_cap_without_memory_growing(
    make_bot: Callable[..., Bot], fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    """0.1.0 read a 200 MB answer whole (RSS 940 MB). Here the model offers 64 MB."""
    fake_model.pieces = generated(64 * 2**20, fill="y")
    bot = make_bot()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        assert bot.say("write a lot").status_code == 200
        bot.idle(60)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    answer = texts_to(fake_chat, 4)
    assert answer.endswith("\n\n" + CUT_LENGTH_NOTE.format(limit="20,000"))
    assert answer.count("y") == 20_000
    assert peak < 16 * 2**20, f"{peak / 2**20:.1f} MiB held for a 64 MB answer"
    assert fake_model.sent_chars < 8 * 2**20, "the stream was closed, so the server stopped"
    assert wait_until(lambda: fake_model.disconnects == 1, 5)


@pytest.mark.parametrize(
    ("refuse", "sent"),
    [
        ("", ["max_tokens", "max_tokens"]),
        (REFUSE_LIKE_OPENAI, ["max_tokens", "max_completion_tokens", "max_completion_tokens"]),
        (REFUSE_ANY_LIMIT, ["max_tokens", None, None]),
    ],
)
def test_max_tokens_is_sent_where_the_server_accepts_it(
    make_bot: Callable[..., Bot],
    fake_model: FakeOpenAI,
    fake_chat: FakeChat,
    refuse: str,
    sent: list[str | None],
) -> None:
    """0.1.0 sent no token limit at all. A server that refuses it costs one extra call, once."""
    fake_model.refuse_limit = refuse
    bot = make_bot(max_answer_chars=5000)
    for number, text in enumerate(("first question", "second question"), start=1):
        assert bot.say(text).status_code == 200
        assert fake_chat.wait_for(number)[-1].text == f"Answer to: {text}"
    expected = [{name: 5000} if name else {} for name in sent]
    assert fake_model.token_limits() == expected


@pytest.fixture
def chat_bot(make_bot: Callable[..., Bot], admin_hash: str) -> Bot:
    return make_bot(
        admin_password=admin_hash,
        webchat_users=[{"name": "mei", "hash": auth.hash_password(MEI)}],
        max_answer_chars=1000,
    )


def test_an_echoed_api_key_is_masked_in_chat_and_in_the_web_chat(
    chat_bot: Bot, fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    """0.1.0 passed a model's answer on as it came, the API key in it too. The fake streams in
    pieces of 7 characters, so the key arrives split across several of them."""
    fake_model.reply = lambda messages: f"Your key is {API_KEY}, it ends with {API_KEY[-6:]}."
    masked = "Your key is ***, it ends with abcdef."
    assert chat_bot.say("what is my key?").status_code == 200
    assert fake_chat.wait_for(1)[0].text == masked
    assert chat_bot.runtime.store.history("dm-4")[-1]["assistant"] == masked

    web = ChatClient(chat_bot.url)
    assert web.chat_login("mei", MEI).headers["Location"] == "/chat"
    web.open_chat()
    seen = list(events(web.send("abcdefgh01", "and in the web chat?")))
    streamed = "".join(data["t"] for kind, data, _ in seen if kind == "token")
    done = next(data for kind, data, _ in seen if kind == "done")
    assert streamed == masked and done["text"] == masked
    assert len([kind for kind, _, _ in seen if kind == "token"]) > 3, "it still streams in pieces"


def test_the_web_chat_gets_the_same_size_cap_and_note(
    chat_bot: Bot, fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    fake_model.pieces = generated(10 * 2**20, size=300, fill="z")
    web = ChatClient(chat_bot.url)
    assert web.chat_login("mei", MEI).headers["Location"] == "/chat"
    web.open_chat()
    seen = list(events(web.send("abcdefgh02", "a long one")))
    streamed = "".join(data["t"] for kind, data, _ in seen if kind == "token")
    done = next(data for kind, data, _ in seen if kind == "done")
    assert streamed == "z" * 1000
    assert done["text"] == "z" * 1000 + "\n\n" + CUT_LENGTH_NOTE.format(limit="1,000")
    history = web.get("/api/chat/history?chat=abcdefgh02").json()
    assert "1,000-character limit" in str(history)
