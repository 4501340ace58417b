"""The conversation through the real server: history, trimming, ordering, commands, model
errors, retries and what the user is told."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from tests.conftest import API_KEY, Bot
from tests.fake_openai import FakeOpenAI, openai_error
from tests.fake_synology import FakeChat


def ask(bot: Bot, chat: FakeChat, text: str, user_id: int = 4) -> str:
    """Send one message and return the bot's (whole) answer to it."""
    before = len(chat.posts)
    assert bot.say(text, user_id=user_id).status_code == 200
    bot.idle()
    posts = chat.posts[before:]
    assert posts, f"no answer to {text!r}"
    assert all(p.user_ids == [user_id] for p in posts)
    return "\n".join(p.text for p in posts)


def test_history_is_sent_and_survives_a_restart(
    bot: Bot, fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    ask(bot, fake_chat, "My name is Mei.")
    bot.restart()
    ask(bot, fake_chat, "What is my name?")
    messages = fake_model.chat_requests()[-1]["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[1]["content"] == "My name is Mei."
    assert messages[2]["content"] == "Answer to: My name is Mei."


def test_users_have_separate_histories(bot: Bot, fake_model: FakeOpenAI, fake_chat: FakeChat) -> None:
    ask(bot, fake_chat, "secret of user 4", user_id=4)
    ask(bot, fake_chat, "hello from 5", user_id=5)
    contents = [m["content"] for m in fake_model.chat_requests()[-1]["messages"]]
    assert "secret of user 4" not in contents


def test_history_is_trimmed_to_the_budget_keeping_the_system_prompt(
    make_bot: Callable[..., Bot], fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    bot = make_bot(context_tokens=600, system_prompt="Be brief.")
    for i in range(6):
        ask(bot, fake_chat, f"question {i} " + "words " * 60)
    messages = fake_model.chat_requests()[-1]["messages"]
    assert messages[0] == {"role": "system", "content": "Be brief."}
    assert messages[-1]["content"].startswith("question 5")
    kept = [m["content"] for m in messages if m["role"] == "user"][:-1]
    assert kept and not any(k.startswith("question 0") for k in kept), "the oldest exchange went first"
    assert len(messages) % 2 == 0, "system + whole exchanges + question"


def test_context_too_long_on_the_server_retries_with_less_history(
    bot: Bot, fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    for i in range(4):
        ask(bot, fake_chat, f"q{i} " + "x" * 800)
    fake_model.context_limit = 700  # the server's window is smaller than context_tokens (8000)
    answer = ask(bot, fake_chat, "still there?")
    assert answer == "Answer to: still there?"
    sizes = [len(r["messages"]) for r in fake_model.chat_requests()[4:]]
    assert sizes[0] > sizes[-1] and len(sizes) >= 2, sizes


def test_a_message_too_long_even_alone_is_explained(
    bot: Bot, fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    fake_model.context_limit = 50
    assert "too long for this model" in ask(bot, fake_chat, "y" * 1000)


def test_one_users_messages_are_answered_in_order(
    bot: Bot, fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    fake_model.delay = 0.3
    for i in range(4):
        assert bot.say(f"m{i}").status_code == 200
    posts = fake_chat.wait_for(4, timeout=15)
    assert [p.text for p in posts] == [f"Answer to: m{i}" for i in range(4)]
    for index, request in enumerate(fake_model.chat_requests()):
        assert request["messages"][-1]["content"] == f"m{index}"
        assert len(request["messages"]) == 2 + 2 * index, "each question sees the answers before it"


def test_different_users_are_served_in_parallel(
    bot: Bot, fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    fake_model.delay = 1.0
    for user in range(4, 8):
        assert bot.say("hi", user_id=user).status_code == 200
    fake_chat.wait_for(4, timeout=15)
    assert fake_model.max_active >= 3, "answers for different users overlap"


def test_worker_pool_is_bounded(
    make_bot: Callable[..., Bot], fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    bot = make_bot(workers=2)
    fake_model.delay = 0.4
    for user in range(10, 16):
        assert bot.say("hi", user_id=user).status_code == 200
    fake_chat.wait_for(6, timeout=20)
    assert fake_model.max_active == 2


def test_rate_limit_and_server_errors_are_retried(
    bot: Bot, fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    fake_model.fail_next(
        429,
        openai_error("Rate limit reached", "requests", "rate_limit_exceeded"),
        headers={"Retry-After": "0.2"},
    )
    fake_model.fail_next(500, openai_error("The server had an error"))
    assert ask(bot, fake_chat, "persist") == "Answer to: persist"
    assert len(fake_model.chat_requests()) == 3


def test_a_timeout_is_retried(
    make_bot: Callable[..., Bot], fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    bot = make_bot(request_timeout=5)
    fake_model.hang_next(6.0)
    assert ask(bot, fake_chat, "slow start") == "Answer to: slow start"


def test_thinking_is_stripped_by_default_and_kept_when_off(
    make_bot: Callable[..., Bot], fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    fake_model.reply = lambda messages: "<think>\nLet me think about it.\n</think>\n\nThe answer is 42."
    bot = make_bot()
    assert ask(bot, fake_chat, "why?") == "The answer is 42."
    history_sent = fake_model.chat_requests()
    ask(bot, fake_chat, "and?")
    assert "<think>" not in str(fake_model.chat_requests()[len(history_sent)]["messages"])
    bot.set(strip_thinking=False)
    assert ask(bot, fake_chat, "again").startswith("<think>")


# -- commands --------------------------------------------------------------------------------


def test_new_and_its_words_start_a_new_conversation(
    bot: Bot, fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    for word in ("/new", "new", "refresh", "00", "restart", "刷新", "新话题"):
        ask(bot, fake_chat, "remember this")
        reply = ask(bot, fake_chat, word)
        assert "1" in reply or "conversation" in reply or "新对话" in reply, reply
        calls = len(fake_model.chat_requests())
        ask(bot, fake_chat, "what did I say?")
        assert len(fake_model.chat_requests()) == calls + 1, "commands do not call the model"
        assert len(fake_model.chat_requests()[-1]["messages"]) == 2, f"{word} left history behind"
        ask(bot, fake_chat, "/new")
    assert "新对话" in ask(bot, fake_chat, "刷新")


def test_retry_asks_the_last_question_again(bot: Bot, fake_model: FakeOpenAI, fake_chat: FakeChat) -> None:
    assert "no earlier question" in ask(bot, fake_chat, "/retry")
    ask(bot, fake_chat, "first")
    ask(bot, fake_chat, "second")
    fake_model.reply = lambda messages: "better answer"
    assert ask(bot, fake_chat, "/retry") == "better answer"
    last = fake_model.chat_requests()[-1]["messages"]
    assert [m["content"] for m in last[1:]] == ["first", "Answer to: first", "second"]
    ask(bot, fake_chat, "third")
    contents = [m["content"] for m in fake_model.chat_requests()[-1]["messages"]]
    assert "better answer" in contents and "Answer to: second" not in contents


def test_a_failed_retry_keeps_the_previous_answer(
    make_bot: Callable[..., Bot], fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    bot = make_bot(max_retries=0)
    ask(bot, fake_chat, "keep me")
    fake_model.fail_next(500, openai_error("down"))
    assert "had an error (500)" in ask(bot, fake_chat, "/retry")
    ask(bot, fake_chat, "next")
    contents = [m["content"] for m in fake_model.chat_requests()[-1]["messages"]]
    assert contents[1:3] == ["keep me", "Answer to: keep me"]


def test_help_whoami_usage_and_unknown(bot: Bot, fake_model: FakeOpenAI, fake_chat: FakeChat) -> None:
    assert "/retry" in ask(bot, fake_chat, "/help") and "fake-model" in ask(bot, fake_chat, "/help")
    assert "4" in ask(bot, fake_chat, "/whoami") and "alice" in ask(bot, fake_chat, "/whoami")
    assert "today: 0 (0 questions)" in ask(bot, fake_chat, "/usage")
    ask(bot, fake_chat, "count me")
    request = fake_model.chat_requests()[-1]
    prompt_chars = sum(len(m["content"]) for m in request["messages"])
    expected = (prompt_chars // 4 + 1) + (len("Answer to: count me") // 4 + 1)  # the fake's usage report
    usage = ask(bot, fake_chat, "/usage")
    assert f"today: {expected} (1 questions)" in usage and f"In total: {expected}" in usage
    assert "/frobnicate" in ask(bot, fake_chat, "/frobnicate")
    assert len(fake_model.chat_requests()) == 1, "only the real question went to the model"


def test_chinese_users_get_chinese_help(bot: Bot, fake_chat: FakeChat) -> None:
    ask(bot, fake_chat, "你好")
    assert "帮助" in ask(bot, fake_chat, "/help")


def test_help_is_answered_while_a_long_answer_is_running(
    bot: Bot, fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    fake_model.delay = 3.0
    bot.say("a hard question")
    time.sleep(0.2)
    bot.say("/help")
    first = fake_chat.wait_for(1, timeout=10)[0]
    assert "/retry" in first.text, "the help came before the slow answer"


# -- failures the user is told about --------------------------------------------------------


def test_a_bad_key_is_explained_without_the_key(make_bot: Callable[..., Bot], fake_chat: FakeChat) -> None:
    wrong = "sk-wrong-key-abcdefghijklmnop"
    bot = make_bot(openai_api_key=wrong)
    reply = ask(bot, fake_chat, "hello there")
    assert "refused the API key" in reply and "401" in reply
    assert wrong not in reply and wrong[-4:] not in reply
    assert "API 密钥" in ask(bot, fake_chat, "你好")


def test_an_unknown_model_is_explained(make_bot: Callable[..., Bot], fake_chat: FakeChat) -> None:
    bot = make_bot(model="no-such-model")
    assert 'does not know the model "no-such-model"' in ask(bot, fake_chat, "hello there")


def test_an_unreachable_server_is_explained(make_bot: Callable[..., Bot], fake_chat: FakeChat) -> None:
    bot = make_bot(openai_base_url="http://127.0.0.1:9/v1", max_retries=1)
    reply = ask(bot, fake_chat, "hello there")
    assert "cannot reach the model server (2 tries)" in reply


def test_rate_limit_that_persists_is_explained(
    make_bot: Callable[..., Bot], fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    bot = make_bot(max_retries=1)
    fake_model.fail_next(429, openai_error("slow down", "requests"), headers={"Retry-After": "0"}, times=2)
    assert "rate limiting us" in ask(bot, fake_chat, "hello there")
    fake_model.fail_next(
        429, openai_error("You exceeded your current quota", "insufficient_quota", "insufficient_quota")
    )
    assert "run out of credit" in ask(bot, fake_chat, "hello again")


def test_a_timeout_that_persists_is_explained_in_chinese(
    make_bot: Callable[..., Bot], fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    bot = make_bot(request_timeout=5, max_retries=0)
    fake_model.hang_next(6.0)
    assert "5 秒内没有回答" in ask(bot, fake_chat, "你在吗")


def test_server_errors_and_garbage_are_explained(
    make_bot: Callable[..., Bot], fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    bot = make_bot(max_retries=0)
    fake_model.fail_next(503, openai_error("overloaded"))
    assert "had an error (503)" in ask(bot, fake_chat, "hello there")
    fake_model.fail_next(400, openai_error("temperature is not supported by this model"))
    assert "temperature is not supported" in ask(bot, fake_chat, "hello there")
    fake_model.reply = lambda messages: "   "
    assert "empty answer" in ask(bot, fake_chat, "hello there")


def test_without_a_model_setup_the_user_is_told(make_bot: Callable[..., Bot], fake_chat: FakeChat) -> None:
    bot = make_bot(openai_base_url="https://api.openai.com/v1", openai_api_key="")
    assert "no model set up yet" in ask(bot, fake_chat, "hello there")


def test_echo_model_needs_no_server(
    make_bot: Callable[..., Bot], fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    bot = make_bot(model="echo", openai_base_url="https://api.openai.com/v1", openai_api_key="")
    assert ask(bot, fake_chat, "ping") == "Echo: ping"
    assert fake_model.requests == []


def test_settings_changes_apply_to_the_next_message(
    bot: Bot, fake_model: FakeOpenAI, fake_chat: FakeChat
) -> None:
    ask(bot, fake_chat, "one")
    bot.set(model="fake-small", temperature=0.1, system_prompt="Talk like a pirate.")
    ask(bot, fake_chat, "two")
    request = fake_model.chat_requests()[-1]
    assert request["model"] == "fake-small" and request["temperature"] == 0.1
    assert request["messages"][0]["content"] == "Talk like a pirate."
    assert "temperature" not in fake_model.chat_requests()[0], "no temperature unless one is set"
    assert fake_model.requests[0]["headers"]["authorization"] == f"Bearer {API_KEY}"


def test_many_messages_at_once_lose_nothing(bot: Bot, fake_chat: FakeChat) -> None:
    def send(user: int) -> None:
        for i in range(3):
            assert bot.say(f"u{user} m{i}", user_id=user).status_code == 200

    threads = [threading.Thread(target=send, args=(u,)) for u in range(20, 26)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    posts = fake_chat.wait_for(18, timeout=30)
    for user in range(20, 26):
        mine = [p.text for p in posts if p.user_ids == [user]]
        assert mine == [f"Answer to: u{user} m{i}" for i in range(3)]
