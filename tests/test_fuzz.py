"""Property-based tests (hypothesis) against the running server: whatever a webhook body or a
settings form holds, the answer is never a 5xx, the server keeps running, and nothing is stored
from a request that was refused."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app import settings as app_settings
from tests.conftest import BOT_TOKEN, Bot
from tests.webclient import WebClient

FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
TEXT = st.text(st.characters(codec="utf-8"), max_size=60)
VALUES = st.one_of(
    TEXT,
    st.integers().map(str),
    st.sampled_from(["", " ", "0", "-1", "1e309", "nan", "true", "%22", "&", "=", "\x00", "😀", "中文"]),
)
FIELDS = st.sampled_from(
    ["token", "user_id", "username", "post_id", "thread_id", "timestamp", "text", "payload"]
)
CONTENT_TYPES = st.sampled_from(
    [
        "application/x-www-form-urlencoded",
        "application/x-www-form-urlencoded; charset=utf-8",
        "application/json",
        "multipart/form-data; boundary=x",
        "text/plain",
        "",
    ]
)


def stored_jobs(bot: Bot) -> int:
    return len(bot.runtime.store.pending_jobs())


def form_body(fields: dict[str, str]) -> bytes:
    return urlencode(fields).encode()


@FUZZ
@given(
    fields=st.dictionaries(FIELDS, VALUES, max_size=8),
    right_token=st.booleans(),
    content_type=CONTENT_TYPES,
    as_json=st.booleans(),
)
def test_any_webhook_body_gets_a_clear_answer(
    admin_bot: Bot, fields: dict[str, str], right_token: bool, content_type: str, as_json: bool
) -> None:
    bot = admin_bot
    if right_token:
        fields = {**fields, "token": BOT_TOKEN}
    body = json.dumps(fields).encode() if as_json else form_body(fields)
    before = bot.runtime.store.settings()
    jobs_before = stored_jobs(bot)
    answer = requests.post(
        bot.url + "/webhook",
        data=body,
        headers={"Content-Type": content_type} if content_type else {},
        timeout=10,
    )
    assert answer.status_code < 500, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
    reply = answer.json()
    assert "Traceback" not in answer.text and BOT_TOKEN not in answer.text
    if answer.status_code != 200 or reply.get("busy") or reply.get("duplicate"):
        # Refused: nothing new is stored (earlier messages may be finishing meanwhile).
        assert stored_jobs(bot) <= jobs_before
    assert bot.runtime.store.settings() == before, "a webhook never changes settings"


@FUZZ
@given(raw=st.binary(max_size=300), content_type=CONTENT_TYPES)
def test_any_bytes_get_a_clear_answer_and_are_not_stored(
    admin_bot: Bot, raw: bytes, content_type: str
) -> None:
    bot = admin_bot
    bot.idle(20)
    before = stored_jobs(bot)
    answer = requests.post(
        bot.url + "/webhook",
        data=raw,
        headers={"Content-Type": content_type} if content_type else {},
        timeout=10,
    )
    assert answer.status_code < 500
    if answer.status_code != 200:
        assert stored_jobs(bot) <= before, "nothing is stored from a refused request"


_logged_in: dict[str, WebClient] = {}


def form_strategy() -> st.SearchStrategy[dict[str, Any]]:
    names = [s.name for s in app_settings.SETTINGS if s.group in app_settings.GROUPS]
    return st.dictionaries(
        st.sampled_from([*names, "clear_openai_api_key", "unknown_field"]), VALUES, max_size=10
    )


@FUZZ
@given(changes=form_strategy())
def test_any_settings_form_is_saved_whole_or_refused_whole(admin_bot: Bot, changes: dict[str, Any]) -> None:
    web = _logged_in.get(admin_bot.url)
    if web is None:  # one login for all examples: a login costs a scrypt hash on purpose
        web = _logged_in[admin_bot.url] = WebClient(admin_bot.url)
        assert web.login().status_code == 303
    form = web.settings_form()
    before = admin_bot.runtime.store.settings()
    answer = web.post("/settings", {**form, **changes})
    assert answer.status_code in (303, 400), answer.status_code
    after = admin_bot.runtime.store.settings()
    if answer.status_code == 400:
        assert after == before, "a refused form changes nothing"
        assert "field-error" in answer.text
    else:
        assert admin_bot.runtime.settings().values  # still loads
    assert requests.get(admin_bot.url + "/healthz", timeout=5).status_code == 200
