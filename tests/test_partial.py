"""Partial replies (app/partial.py): while a slow model writes, finished parts of its answer are
posted, never inside a code block, never a reasoning block; a notice when nothing is ready.
Here the rules themselves, and the core through the in-process layer (tests/inprocess.py) with
the fake model dripping its answer; tests/test_partial_e2e.py drives the real server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import settings, text
from app.bot import shown_first
from app.llm import strip_thinking
from app.partial import CONTINUE, ready_cut, visible
from tests.fake_openai import FakeOpenAI, drip
from tests.inprocess import Core

PARAGRAPHS = [
    "First, the short version: a reverse proxy forwards requests to the bot on your NAS.",
    "Open Control Panel, then Login Portal, then Advanced, and add a reverse proxy rule.",
    "```nginx\nlocation / {\n\n    proxy_pass http://127.0.0.1:8008;\n\n}\n```",
    "Then save the rule, and open the address from your phone to check that it works.",
]
ANSWER = "\n\n".join(PARAGRAPHS)


# -- where a part may end -------------------------------------------------------------------------


def test_a_part_ends_after_a_paragraph_with_enough_text_before_it() -> None:
    body = "A" * 40 + "\n\n" + "B" * 40 + "\n\nC"
    assert ready_cut(body, 0, 30) == 84, "all the finished paragraphs go together"
    assert ready_cut(body[:60], 0, 30) == 42, "after the blank line once the next is unfinished"
    assert ready_cut(body, 0, 60) == 84, "the first is too short alone"
    assert ready_cut(body, 0, 100) == 0, "nothing is long enough yet"
    assert ready_cut(body, 42, 60) == 42, "from the last cut on: one paragraph is too short"


def test_a_line_still_being_written_is_no_boundary() -> None:
    assert ready_cut("A" * 40 + "\n\nB" * 1, 0, 10) == 42
    assert ready_cut("A" * 40 + "\n", 0, 20) == 0, "one newline is not a paragraph's end yet"


def test_a_part_never_ends_inside_a_code_block() -> None:
    code = "Intro " * 10 + "\n\n```python\nx = 1\n\n\ny = 2\n\n"
    assert ready_cut(code, 0, 20) == len("Intro " * 10 + "\n\n"), "not at the blank lines in the code"
    closed = code + "```\n\nAfter."
    assert ready_cut(closed, 0, 20) == len(code + "```\n\n"), "after the block once it is closed"
    tilde = "Intro " * 10 + "\n\n~~~\n```\n\n~~~\n\nAfter."
    assert ready_cut(tilde, 0, 20) == len(tilde) - len("After."), "a ``` inside ~~~ does not close it"


def test_a_long_list_without_blank_lines_may_end_at_a_line() -> None:
    items = "".join(f"{n}. an item of a list that goes on\n" for n in range(10))
    assert ready_cut(items, 0, 400) == 0, "short of three times the smallest part"
    cut = ready_cut(items, 0, 100)
    assert cut > 300 and items[cut - 1] == "\n", "at a line's end once it is long"


# -- reasoning is never shown ----------------------------------------------------------------------

REASONED = [
    "<think>\nThe user wants a proxy.\n\nLet me think about ports.\n</think>\n\n" + ANSWER,
    "<THINK>Mixed case reasoning\n\n</THINK>\n\n" + ANSWER,
    "Intro paragraph that is long enough.\n\n<think>a second thought\n\nhidden</think>\n\n" + ANSWER,
]


@pytest.mark.parametrize("raw", REASONED)
def test_no_prefix_of_an_answer_shows_any_of_its_reasoning(raw: str) -> None:
    final = strip_thinking(raw)
    for end in range(len(raw) + 1):
        shown = visible(raw[:end], strip=True)
        for hidden in ("user wants", "ports", "Mixed case", "second thought", "hidden", "<th", "</"):
            assert hidden not in shown, (end, shown)
        assert final.startswith(shown.rstrip()), f"what is shown is how the answer begins: {end}"


def test_a_model_that_writes_only_the_closing_tag_is_held_until_it() -> None:
    raw = "The user asks about proxies.\n\nI should answer briefly.\n</think>\n\n" + ANSWER
    for end in range(len(raw) + 1):
        shown = visible(raw[:end], strip=True, closes_only=True)
        assert "user asks" not in shown and "briefly" not in shown
    assert visible(raw, strip=True, closes_only=True).startswith(PARAGRAPHS[0])


def test_without_stripping_everything_shows() -> None:
    assert visible("  <think>x</think> y", strip=False) == "<think>x</think> y"


# -- the sections a platform splits ------------------------------------------------------------------


def test_sections_cut_an_answer_where_parts_went_out() -> None:
    answer = "one\n\ntwo\n\nthree"
    assert text.sections(answer, [5, 10]) == ["one\n\n", "two\n\n", "three"]
    assert text.sections(answer, [5, 99]) == ["one\n\n", "two\n\nthree"], "a cut past the end is none"
    assert text.split_sections(answer, [5], 2000) == ["one", "two\n\nthree"]


def test_an_answer_cut_inside_a_code_block_has_it_closed_before_the_note() -> None:
    assert text.closed("Look:\n\n```python\nx = 1\n") == "Look:\n\n```python\nx = 1\n```"
    assert text.closed("~~~~\n```\n") == "~~~~\n```\n~~~~"
    assert text.closed("```\nx\n```\nafter") == "```\nx\n```\nafter", "nothing open: unchanged"


def test_the_reply_begins_with_what_was_shown() -> None:
    assert shown_first("Part one.\n\n", "Part one.\n\nPart two.") == "Part one.\n\nPart two."
    assert shown_first("Part one.\n\n", "Part one.") == "Part one.", "nothing after the shown parts"
    assert shown_first("Part one.\n\n", "The model failed.") == "Part one.\n\nThe model failed."
    assert shown_first("", "Whole.") == "Whole."


# -- settings ------------------------------------------------------------------------------------------


def test_the_settings_sent_wrong_are_refused_with_their_names() -> None:
    wrong = {
        "partial_replies": "sometimes",
        "min_part_chars": "10",
        "thinking_notice_seconds": "-1",
        "onebot_min_part_chars": "abc",
        "onebot_thinking_notice_seconds": "99999",
    }
    for name, value in wrong.items():
        with pytest.raises(settings.SettingsError) as refused:
            settings.validate({name: value})
        assert name in str(refused.value)
    good = settings.validate({"partial_replies": "off", "thinking_notice_seconds": "0"})
    assert good == {"partial_replies": False, "thinking_notice_seconds": 0}


# -- the core, with a model that writes slowly ----------------------------------------------------------


@pytest.fixture
def core(tmp_path: Path, fake_model: FakeOpenAI) -> Iterator[Core]:
    found = Core(tmp_path / "data", fake_model.url, fake_model.api_key or "", min_part_chars=60)
    yield found
    found.close()


def stored_answer(core: Core, local: str = "ann") -> str:
    history = core.store.history(f"memory-{local}")
    assert len(history) == 1
    return str(history[0]["assistant"])


def test_parts_arrive_while_the_model_writes_and_make_up_the_stored_answer(
    core: Core, fake_model: FakeOpenAI
) -> None:
    fake_model.pieces = drip(ANSWER)
    fake_model.chunk_delay = 0.03  # 200 characters a second: about 1.7 s in all
    core.say("ann", "how do I reach the bot from outside?")
    core.platform.wait_for(1)
    assert fake_model.sent_chars < len(ANSWER), "the first part came before the model was done"
    core.idle()
    parts = [part for _, part in core.platform.posts]
    assert len(parts) >= 2 and parts[0].startswith(PARAGRAPHS[0])
    assert "\n\n".join(parts) == stored_answer(core) == ANSWER
    assert core.platform.notices == []
    assert all(part.count("```") % 2 == 0 for part in parts), "the code block went out whole"


def test_a_fast_answer_is_one_post_and_no_notice(core: Core, fake_model: FakeOpenAI) -> None:
    core.set(thinking_notice_seconds=1)
    quick = PARAGRAPHS[0] + "\n\nThat is all."  # a part could end after the first, and does not
    fake_model.pieces = drip(quick)
    core.say("ann", "quick")
    core.idle()
    assert [part for _, part in core.platform.posts] == [quick]
    assert core.platform.notices == []


def test_with_partial_replies_off_only_the_whole_answer_is_posted(core: Core, fake_model: FakeOpenAI) -> None:
    core.set(partial_replies=False)
    fake_model.pieces = drip(ANSWER)
    fake_model.chunk_delay = 0.03
    core.say("ann", "slow")
    core.platform.wait_for(1)
    assert fake_model.sent_chars == len(ANSWER), "nothing before the model was done"
    core.idle()
    assert "\n\n".join(part for _, part in core.platform.posts) == ANSWER


def test_reasoning_is_never_posted_and_a_model_without_its_opening_tag_is_learnt(
    core: Core, fake_model: FakeOpenAI
) -> None:
    fake_model.pieces = drip(REASONED[0])
    fake_model.chunk_delay = 0.02
    core.say("ann", "with reasoning")
    core.idle()
    assert "\n\n".join(part for _, part in core.platform.posts) == ANSWER == stored_answer(core)
    # A template that opens <think> itself: its model's answers show only the closing tag. The
    # first such answer teaches the bot; from the next one on, nothing shows before the tag.
    fake_model.pieces = drip("Reasoning text.\n</think>\n\nFine.")
    core.say("bob", "first")
    core.idle()
    core.platform.posts.clear()
    lone = "The user asks.\n\nI think about it a long while, paragraph after paragraph.\n</think>\n\n"
    fake_model.pieces = drip(lone + ANSWER)
    core.say("cat", "second")
    core.idle()
    posts = [part for _, part in core.platform.posts]
    assert not any("user asks" in post or "long while" in post for post in posts), posts
    assert "\n\n".join(posts) == ANSWER


def test_one_notice_for_a_slow_model_and_one_more_when_it_falls_silent(
    core: Core, fake_model: FakeOpenAI
) -> None:
    core.set(thinking_notice_seconds=1)

    def slow(messages: list[dict[str, str]]) -> Iterator[str]:
        time.sleep(1.6)  # loading the model: nothing for a while
        yield "A first sentence that is still not a paragraph"
        time.sleep(4.5)  # connected, but silent: the second notice
        yield ", and its end.\n\nDone."
        time.sleep(5.0)  # silent again: no third notice
        yield " Really."

    fake_model.pieces = slow
    core.say("ann", "take your time")
    core.idle(30)
    notices = [said for _, said in core.platform.notices]
    assert len(notices) == 2, notices
    assert notices[0] == "Thinking… the model is slow; the answer follows."
    assert "written nothing for" in notices[1]
    assert "\n\n".join(part for _, part in core.platform.posts) == stored_answer(core)


def test_no_notice_for_a_command_answered_at_once(core: Core, fake_model: FakeOpenAI) -> None:
    core.set(thinking_notice_seconds=1)
    fake_model.delay = 1.5
    core.say("ann", "/help")
    core.idle()
    assert core.platform.notices == [] and len(core.platform.posts) >= 1


def test_retry_is_shown_in_parts_and_replaces_the_answer_once(core: Core, fake_model: FakeOpenAI) -> None:
    fake_model.reply = lambda messages: "Old answer."
    core.say("ann", "tell me")
    core.idle()
    core.platform.posts.clear()
    fake_model.pieces = drip(ANSWER)
    fake_model.chunk_delay = 0.03
    core.say("ann", "/retry")
    core.platform.wait_for(1)
    assert fake_model.sent_chars < len(ANSWER)
    core.idle()
    assert "\n\n".join(part for _, part in core.platform.posts) == ANSWER == stored_answer(core)


def test_a_model_that_fails_after_some_parts_ends_with_a_sentence_and_records_nothing(
    core: Core, fake_model: FakeOpenAI
) -> None:
    def breaks(messages: list[dict[str, str]]) -> Iterator[str]:
        yield from drip(PARAGRAPHS[0] + "\n\n" + PARAGRAPHS[1] + "\n\nA third that")(messages)
        time.sleep(1.0)
        raise ConnectionResetError("the model server died")

    fake_model.pieces = breaks
    fake_model.chunk_delay = 0.02
    core.say("ann", "this breaks")
    core.idle(20)
    posts = [part for _, part in core.platform.posts]
    assert posts[0].startswith(PARAGRAPHS[0]) and "A third that" not in "".join(posts)
    assert len(posts) >= 2 and posts[-1] not in PARAGRAPHS, "the last post says what went wrong"
    assert core.store.history("memory-ann") == [], "a broken answer is not remembered"


def test_the_answer_cap_still_holds(core: Core, fake_model: FakeOpenAI) -> None:
    core.set(max_answer_chars=200)
    fake_model.pieces = drip(ANSWER)
    fake_model.chunk_delay = 0.02
    core.say("ann", "long")
    core.idle()
    joined = "\n\n".join(part for _, part in core.platform.posts)
    assert joined == stored_answer(core) and joined.startswith(ANSWER[:150])
    assert "200" in joined.rsplit("\n\n", 1)[-1], "the note that the answer was cut"


def test_after_a_restart_the_model_continues_what_was_shown(core: Core, fake_model: FakeOpenAI) -> None:
    """What a restart finds after a kill -9 in the middle: parts out, the answer unfinished."""
    fake_model.reply = lambda messages: (
        "\n\n".join(PARAGRAPHS[2:]) if messages[-1]["content"] == CONTINUE else "a new answer"
    )
    core.queue.stop(1)
    outcome = core.say("ann", "how do I reach the bot?")
    assert outcome.job is not None
    shown = "\n\n".join(PARAGRAPHS[:2]) + "\n\n"
    sent = len(text.split_sections(shown, [], core.platform.limits.chars))  # its two posts
    core.store.update_job(outcome.job.id, partial=shown, cuts=[len(shown)], sent=sent, posting=False)
    core.restart_queue()
    core.idle()
    posts = [part for _, part in core.platform.posts]
    assert posts == [PARAGRAPHS[2], PARAGRAPHS[3]], "nothing twice, no note that something may be"
    assert stored_answer(core) == ANSWER
    asked = fake_model.chat_requests()[-1]["messages"]
    assert asked[-2] == {"role": "assistant", "content": shown.rstrip()}
