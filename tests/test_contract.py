"""The contract every chat platform passes, through the real server and the platform's fake
server: canned inbound payloads become answered, answered at once, ignored or refused; long
answers arrive whole in posts within the platform's limits; its error codes map to error kinds
the settings page explains in every language, with no secret in the text. Adding a platform
adds its case in tests/contract.py."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from app import pagetext, pagetext_hant, text
from app.platforms import registry
from tests.conftest import Bot
from tests.contract import ANSWERED, AT_ONCE, CASES, IGNORED, REFUSED, Case, cases
from tests.fake_dingtalk import FakeDingTalk
from tests.fake_onebot import FakeNapCat
from tests.fake_openai import FakeOpenAI
from tests.fake_synology import FakeChat

LANGUAGES = ("en", "zh", "zh-Hant")


@pytest.fixture(params=CASES)
def case(
    request: pytest.FixtureRequest, fake_chat: FakeChat, fake_qq: FakeNapCat, fake_dingtalk: FakeDingTalk
) -> Case:
    return cases(fake_chat, fake_qq, fake_dingtalk)[request.param]


def test_canned_inbound_messages(case: Case, make_bot: Callable[..., Bot], fake_model: FakeOpenAI) -> None:
    bot = case.start(make_bot)
    for canned in case.canned():
        asked, posted = len(fake_model.chat_requests()), len(case.posts())
        answer = canned.send(bot)
        bot.idle()
        new_posts = case.posts()[posted:]
        calls = len(fake_model.chat_requests()) - asked
        what = f"{case.name}: {canned.label}"
        if canned.expect == ANSWERED:  # acknowledged: Chat and DingTalk want 200, OneBot takes 204 too
            assert answer.status_code in (200, 204), what
            assert calls == 1 and any(canned.says in post for post in new_posts), (what, new_posts)
        elif canned.expect == AT_ONCE:
            assert answer.status_code == 200 and canned.says in case.immediate(answer), what
            assert calls == 0 and new_posts == [], what
        elif canned.expect == IGNORED:
            assert answer.status_code in (200, 204) and not case.immediate(answer), what
            assert calls == 0 and new_posts == [], what
        else:
            assert canned.expect == REFUSED
            assert 400 <= answer.status_code < 500, (what, answer.status_code)
            assert calls == 0 and new_posts == [], what
    assert bot.runtime.store.pending_jobs() == []


def test_a_long_answer_arrives_whole_in_posts_within_the_limits(
    case: Case, make_bot: Callable[..., Bot], fake_model: FakeOpenAI
) -> None:
    bot = case.start(make_bot)
    lines = [f"line {n}: " + "数据" * (n % 7) + "x" * 40 for n in range(3 * case.limits.chars // 40)]
    long = "An answer.\n\n```text\n" + "\n".join(lines) + "\n```\n\nThe end."
    fake_model.reply = lambda messages: long
    assert case.ask(bot, "a long one").status_code in (200, 204)
    bot.idle(30)
    posts = case.posts()
    assert len(posts) >= 3, posts
    assert all(text.size(post) <= case.limits.chars for post in posts)
    assert all(post.count("```") % 2 == 0 for post in posts), "every post closes the fences it opens"
    joined = "\n".join(posts)
    assert all(line in joined for line in lines) and joined.rstrip().endswith("The end.")


def test_error_codes_map_to_kinds_the_page_explains(case: Case, make_bot: Callable[..., Bot]) -> None:
    bot = case.start(make_bot)
    secrets = bot.runtime.settings.secrets
    for code, kind in case.error_kinds.items():
        result = case.live_check(bot, code)
        if kind == "too_fast":  # a platform's rate limit is waited out, not reported
            assert result.ok, (code, result)
            continue
        assert (result.ok, result.kind) == (False, kind), (code, result)
        for lang in LANGUAGES:
            sentence = pagetext.chat_error(pagetext.Translator(lang), result)
            assert sentence and not sentence.startswith("ce_"), (code, lang)
            assert not any(secret and secret in sentence for secret in secrets), (code, lang)
        # The core's words, or the platform's own (its words.py, all three languages there).
        assert (f"ce_{kind}" in pagetext.TEXTS and f"ce_{kind}" in pagetext_hant.TEXTS) or (
            set(registry.TEXTS.get(f"ce_{kind}", {})) == set(LANGUAGES)
        ), kind
