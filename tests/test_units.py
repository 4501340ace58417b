"""Unit tests of the pure parts: splitting, parsing, commands, trimming, settings, config."""

from __future__ import annotations

import argparse
import io
import json
import logging
import random
import re
from pathlib import Path
from urllib.parse import quote

import pytest

from app import config, log, settings, store
from app.__main__ import LiveSettings
from app.bot import build_messages, command_of, estimate_tokens
from app.llm import strip_thinking
from app.platforms.synology.wire import (
    BadRequest,
    expected_token,
    parse_inbound,
    token_from_url,
    token_matches,
)
from app.text import plain, size, split_message

FENCE = re.compile(r"^(```|~~~)")


def content(*texts: str) -> list[tuple[str, bool]]:
    """Every non-space character outside fence lines, with whether it is inside a code block.
    Each text is read on its own, as Chat shows each post on its own."""
    out: list[tuple[str, bool]] = []
    for text in texts:
        inside = False
        for line in text.split("\n"):
            if FENCE.match(line.strip()):
                inside = not inside
                continue
            out.extend((char, inside) for char in line if not char.isspace())
    return out


def fences_balanced(chunk: str) -> bool:
    return sum(1 for line in chunk.split("\n") if FENCE.match(line.strip())) % 2 == 0


# -- splitting -------------------------------------------------------------------------------


def test_short_text_is_one_chunk() -> None:
    assert split_message("hello", 2000) == ["hello"]
    assert split_message("", 2000) == []


def test_split_prefers_paragraph_boundaries() -> None:
    paragraphs = [f"Paragraph {i}. " + "word " * 150 for i in range(6)]
    chunks = split_message("\n\n".join(paragraphs), 2000)
    assert len(chunks) > 1
    for chunk in chunks:
        assert size(chunk) <= 2000
        assert chunk.startswith("Paragraph"), "a chunk should begin at a paragraph"


def test_long_code_block_is_closed_and_reopened_with_its_language() -> None:
    code = "\n".join(f"    value_{i} = compute({i})  # step {i}" for i in range(300))
    text = f"Here is the code:\n\n```python\n{code}\n```\n\nThat is all."
    chunks = split_message(text, 2000)
    assert len(chunks) >= 5
    for chunk in chunks:
        assert size(chunk) <= 2000
        assert fences_balanced(chunk), chunk[:80]
    for chunk in chunks[1:-1]:
        assert chunk.startswith("```python\n")
        assert chunk.endswith("\n```")
    assert content(*chunks) == content(text)


def test_one_huge_line_is_cut_at_spaces() -> None:
    text = " ".join(f"w{i}" for i in range(2000))
    chunks = split_message(text, 500)
    assert all(size(c) <= 500 for c in chunks)
    assert " ".join(chunks).split() == text.split()


def test_size_counts_emoji_as_two_units() -> None:
    assert size("😀") == 2
    chunks = split_message("😀" * 1500, 2000)
    assert all(size(c) <= 2000 for c in chunks)
    assert "".join(chunks) == "😀" * 1500


@pytest.mark.parametrize("seed", range(30))
def test_split_random_markdown_keeps_every_line_and_limit(seed: int) -> None:
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not cryptography
    blocks = []
    for _ in range(rng.randint(1, 25)):
        if rng.random() < 0.3:
            lang = rng.choice(["", "python", "bash", "js"])
            body = "\n".join(
                "x" * rng.randint(0, 120) + "中" * rng.randint(0, 40) for _ in range(rng.randint(1, 60))
            )
            blocks.append(f"```{lang}\n{body}\n```")
        else:
            blocks.append(" ".join("word" * rng.randint(1, 3) for _ in range(rng.randint(1, 200))))
    text = "\n\n".join(blocks)
    limit = rng.choice([300, 800, 2000])
    chunks = split_message(text, limit)
    assert all(size(c) <= limit for c in chunks)
    assert all(fences_balanced(c) for c in chunks)
    assert content(*chunks) == content(text), "nothing lost, and code stays code"


# -- inbound parsing and tokens --------------------------------------------------------------


def test_parse_form_decodes_utf8_and_specials() -> None:
    body = b"token=abc&user_id=4&username=J%C3%BCrgen&text=1%2B1+%26+%E4%BD%A0%E5%A5%BD%25&post_id=9"
    message = parse_inbound(body, "application/x-www-form-urlencoded")
    assert (message.user_id, message.username, message.text, message.post_id) == (
        4,
        "Jürgen",
        "1+1 & 你好%",
        "9",
    )


def test_parse_json_body_and_button_payload() -> None:
    assert parse_inbound(b'{"token": "t", "user_id": 5, "text": "hi"}', "application/json").user_id == 5
    click = (
        "payload=" + quote(json.dumps({"token": "t", "user": {"user_id": 6}, "actions": [{"value": "ok"}]}))
    ).encode()
    message = parse_inbound(click, "application/x-www-form-urlencoded")
    assert (message.token, message.user_id, message.text) == ("t", 6, "ok")


@pytest.mark.parametrize(
    ("body", "kind", "status", "reason"),
    [
        (b"user_id=4&text=hi", "application/x-www-form-urlencoded", 401, "token is missing"),
        (b"token=t&text=hi", "application/x-www-form-urlencoded", 400, "user_id is missing"),
        (b"token=t&user_id=abc", "application/x-www-form-urlencoded", 400, "user_id must be a number"),
        (b"token=t&user_id=-4", "application/x-www-form-urlencoded", 400, "user_id must be a number"),
        (b"token=t&user_id=99999999999999999999", "", 400, "user_id must be a number"),
        (b"\xff\xfe", "application/x-www-form-urlencoded", 400, "not UTF-8"),
        (b"{not json", "application/json", 400, "JSON body is malformed"),
        (b"[1, 2]", "application/json", 400, "must be an object"),
        (b'{"token": "t", "user_id": {"a": 1}}', "application/json", 400, "wrong type"),
        (b"<xml/>", "text/xml", 415, "unsupported content type"),
    ],
)
def test_parse_rejects_bad_bodies_with_a_reason(body: bytes, kind: str, status: int, reason: str) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_inbound(body, kind)
    assert caught.value.status == status
    assert reason in str(caught.value)


def test_token_from_url_strips_chat_quotes() -> None:
    url = (
        "https://nas:5001/webapi/entry.cgi?api=SYNO.Chat.External&method=chatbot&version=2&token=%22abc123%22"
    )
    assert token_from_url(url) == "abc123"
    assert expected_token("", url) == "abc123"
    assert expected_token("explicit", url) == "explicit"
    assert expected_token("", "") == ""


def test_token_matches_is_never_true_for_an_empty_expected_token() -> None:
    assert token_matches("abc", "abc")
    assert not token_matches("abc", "abd")
    assert not token_matches("", "")


# -- chat logic ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("/new", "/new"),
        ("new", "/new"),
        (" Refresh ", "/new"),
        ("00", "/new"),
        ("restart", "/new"),
        ("刷新", "/new"),
        ("新话题", "/new"),
        ("/HELP", "/help"),
        ("/retry please", "/retry"),
        ("new idea for dinner?", None),
        ("/etc/hosts is what?", None),
        ("hello", None),
        ("/", None),
    ],
)
def test_commands(text: str, command: str | None) -> None:
    assert command_of(text) == command


def test_estimate_counts_cjk_as_one_token_each() -> None:
    assert estimate_tokens("你好世界") == 4 + 4
    assert estimate_tokens("a" * 400) == 100 + 4


def test_build_messages_drops_oldest_whole_exchanges_and_keeps_the_system_prompt() -> None:
    history = [
        {"user": f"question {i} " + "x" * 400, "assistant": f"answer {i} " + "y" * 400} for i in range(10)
    ]
    messages, dropped = build_messages("SYSTEM", history, "now?", budget=1000)
    assert messages[0] == {"role": "system", "content": "SYSTEM"}
    assert messages[-1] == {"role": "user", "content": "now?"}
    body = messages[1:-1]
    assert len(body) % 2 == 0 and body, "whole exchanges only"
    assert body[-1]["content"].startswith("answer 9"), "the newest exchange is kept"
    assert dropped == 10 - len(body) // 2 and dropped > 0
    assert sum(estimate_tokens(m["content"]) for m in messages) <= 1000


def test_a_question_over_budget_is_still_sent_alone() -> None:
    messages, dropped = build_messages("S", [{"user": "u", "assistant": "a"}], "q" * 10000, budget=100)
    assert [m["role"] for m in messages] == ["system", "user"]
    assert dropped == 1


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("<think>hmm</think>Answer", "Answer"),
        ("<think>\nlong\nreasoning\n</think>\n\nAnswer", "Answer"),
        ("reasoning without opening tag</think>Answer", "Answer"),
        ("Plain answer", "Plain answer"),
        ("A <think>x</think> B <think>y</think> C", "A  B  C"),
    ],
)
def test_strip_thinking(raw: str, clean: str) -> None:
    assert strip_thinking(raw) == clean


# -- settings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "raw", "problem"),
    [
        ("temperature", "hot", "must be a number"),
        ("temperature", "3", "between 0 and 2"),
        ("temperature", "nan", "finite"),
        ("context_tokens", "1.5", "whole number"),
        ("context_tokens", "10", "between 256"),
        ("strip_thinking", "maybe", "true or false"),
        ("openai_base_url", "ftp://x", "http:// or https://"),
        ("openai_base_url", "", "is required"),
        ("model", "  ", "is required"),
        ("language", "fr", "one of auto, en, zh"),
        (
            "bot_incoming_url",
            "https://nas/webapi/entry.cgi?api=SYNO.Chat.External&method=incoming&token=%22x%22",
            "incoming-webhook URL",
        ),
        (
            "bot_incoming_url",
            "https://nas/webapi/entry.cgi?api=SYNO.Chat.External&method=chatbot",
            "with method=chatbot",
        ),
        ("proxy", "nonsense", "http:// or https://"),
        ("no_such_setting", "1", "is not a setting"),
    ],
)
def test_validate_names_the_setting_and_the_problem(name: str, raw: str, problem: str) -> None:
    with pytest.raises(settings.SettingsError) as caught:
        settings.validate({name: raw})
    assert caught.value.problems[0].startswith(name)
    assert problem in str(caught.value)


def test_validate_accepts_good_values_and_types_them() -> None:
    clean = settings.validate({"temperature": "0.2", "context_tokens": "4096", "strip_thinking": "off"})
    assert clean == {"temperature": 0.2, "context_tokens": 4096, "strip_thinking": False}
    assert settings.validate({"temperature": ""}) == {"temperature": None}


def test_environment_wins_names_the_variable_and_accepts_aliases() -> None:
    env = {"OPENAI_API_KEY": "from-alias", "SYNOCHATGPT_MODEL": "qwen", "OPENAI_BASE_URL": "http://h:1/v1"}
    found = settings.from_environment(env)
    assert found == {"openai_api_key": "from-alias", "model": "qwen", "openai_base_url": "http://h:1/v1"}
    both = settings.from_environment({"OPENAI_API_KEY": "alias", "SYNOCHATGPT_OPENAI_API_KEY": "own"})
    assert both["openai_api_key"] == "own"
    values = settings.resolve({"model": "stored", "temperature": 1.0}, found)
    assert values.model == "qwen" and values.temperature == 1.0 and "model" in values.fixed
    with pytest.raises(settings.SettingsError, match="SYNOCHATGPT_TEMPERATURE must be a number"):
        settings.from_environment({"SYNOCHATGPT_TEMPERATURE": "warm"})
    with pytest.raises(settings.SettingsError, match="fixed by the environment variable SYNOCHATGPT_MODEL"):
        settings.validate({"model": "x"}, fixed={"model"})


def test_an_empty_environment_variable_counts_as_unset() -> None:
    assert settings.from_environment({"OPENAI_API_KEY": "", "SYNOCHATGPT_MODEL": "  "}) == {}


def test_log_lines_are_masked_including_the_token_inside_the_url(tmp_path: Path) -> None:
    data = store.Store(tmp_path)
    url = "https://nas/webapi/entry.cgi?api=SYNO.Chat.External&method=chatbot&version=2&token=%22Tok3nV4lue99%22"
    data.save_settings({"bot_incoming_url": url, "openai_api_key": "sk-secret-1234567890"})
    live = LiveSettings(data, {})
    live()
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    log.setup("info", lambda: live.secrets, stream=stream)
    try:
        logging.getLogger("test").info("sent with Tok3nV4lue99 and sk-secret-1234567890 to %s", url)
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
    text = stream.getvalue()
    assert "Tok3nV4lue99" not in text and "sk-secret" not in text and text.count("***") >= 3


def test_a_stored_value_that_no_longer_parses_falls_back_to_the_default() -> None:
    values = settings.resolve({"context_tokens": "lots"}, {})
    assert values.context_tokens == settings.BY_NAME["context_tokens"].default


def test_secrets_are_masked() -> None:
    key = settings.BY_NAME["openai_api_key"]
    assert settings.masked(key, "sk-abcdefghijklmnop1234") == "(set, ends in …1234)"
    assert settings.masked(key, "") == "(not set)"
    assert settings.masked(key, "short") == "(set)"


# -- start-up config -------------------------------------------------------------------------


def _args(**values: str | None) -> argparse.Namespace:
    return argparse.Namespace(
        **{name: values.get(name) for name in ("host", "port", "data_dir", "log_level", "workers")}
    )


def test_config_sources_in_order() -> None:
    cfg = config.load(_args(port="9000"), {"SYNOCHATGPT_PORT": "8100", "SYNOCHATGPT_DATA_DIR": "/srv/x"})
    assert cfg.port == 9000 and str(cfg.data_dir) == "/srv/x" and cfg.host == "0.0.0.0"


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        ({"port": "70000"}, {}, "--port: expected a port number"),
        ({}, {"SYNOCHATGPT_PORT": "http"}, "SYNOCHATGPT_PORT: expected a port number"),
        ({"host": "my nas"}, {}, "--host: expected an IP address"),
        ({"workers": "0"}, {}, "--workers: expected a whole number from 1 to 64"),
        ({}, {"SYNOCHATGPT_LOG_LEVEL": "loud"}, "SYNOCHATGPT_LOG_LEVEL: expected one of"),
    ],
)
def test_config_errors_name_their_source(args: dict[str, str], env: dict[str, str], message: str) -> None:
    with pytest.raises(config.ConfigError, match=re.escape(message)):
        config.load(_args(**args), env)


@pytest.mark.parametrize(
    ("markdown", "shown"),
    [
        ("## Steps\n**Open** DSM", "Steps\nOpen DSM"),
        ("请**注意**这点", "请注意这点"),
        ("see [the docs](https://kb.synology.com/x) now", "see the docs (https://kb.synology.com/x) now"),
        ("2**3**4 and x**y**z and __init__", "2**3**4 and x**y**z and __init__"),
        (
            "run `ls **/*.py` and ![a picture](http://x/a.png)",
            "run `ls **/*.py` and ![a picture](http://x/a.png)",
        ),
        ("```python\n# a comment\n**x**\n```\n# Done", "```python\n# a comment\n**x**\n```\nDone"),
    ],
)
def test_plain_text_for_platforms_without_markdown(markdown: str, shown: str) -> None:
    assert plain(markdown) == shown
