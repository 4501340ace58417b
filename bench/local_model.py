"""A slow local model's figures for `make bench`: a model writing 20 characters a second (a
CPU-bound Ollama or llama.cpp on a NAS) answers 1,500 characters in paragraphs with a code
block. Measured from the webhook: the first text in Chat (a part, or the thinking notice), the
first part of the answer itself, and the whole answer, with partial replies on and off in the
same run; the posts must add up to the stored answer. `python -m bench.local_model` runs it
alone."""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import requests

from app import i18n
from app import store as store_module
from tests.fake_openai import FakeOpenAI, drip
from tests.fake_synology import FakeChat

SPEED = 20  # characters a second
PIECE = 4  # characters a streamed chunk carries, about one token


class Running(Protocol):
    url: str

    def stop(self) -> None: ...


def answer_text() -> str:
    """About 1,500 characters: paragraphs of two or three sentences and one code block."""
    sentence = "A NAS keeps its disks in a storage pool, and each shared folder lives on a volume. "
    paragraphs = [sentence * n for n in (2, 3, 2, 3, 3, 2, 2)]
    paragraphs[2:2] = ["```bash\nsudo synopkg status SynoChatGPT\n\nsudo synopkg restart SynoChatGPT\n```"]
    return "\n\n".join(p.rstrip() for p in paragraphs)


def one_answer(
    start: Callable[[dict[str, str], Path], Running],
    model: FakeOpenAI,
    chat: FakeChat,
    token: str,
    parts: bool,
) -> dict[str, Any]:
    answer = answer_text()
    notice = i18n.t("en", "thinking_notice")
    data = Path(tempfile.mkdtemp(prefix="bench-local-"))
    server = start({"SYNOCHATGPT_PARTIAL_REPLIES": "true" if parts else "false"}, data)
    before = len(chat.posts)
    try:
        sent = time.monotonic()
        fields = {"token": token, "user_id": "4", "username": "alice", "post_id": "77", "text": "explain"}
        requests.post(server.url + "/webhook", data=fields, timeout=10).raise_for_status()
        deadline = sent + len(answer) / SPEED * 2 + 30
        while time.monotonic() < deadline:
            texts = [p.text for p in chat.posts[before:] if p.text != notice]
            if "\n\n".join(texts) == answer:
                break
            time.sleep(0.05)
    finally:
        server.stop()
    posts = chat.posts[before:]
    shown = [p for p in posts if p.text != notice]
    stored = store_module.Store(data).history("dm-4")
    return {
        "first_text_s": posts[0].at - sent if posts else float("inf"),
        "first_part_s": shown[0].at - sent if shown else float("inf"),
        "whole_s": shown[-1].at - sent if shown else float("inf"),
        "posts": len(shown),
        "notices": len(posts) - len(shown),
        "whole": bool(stored) and "\n\n".join(p.text for p in shown) == stored[-1]["assistant"] == answer,
    }


def measure(
    start: Callable[[dict[str, str], Path], Running], model: FakeOpenAI, chat: FakeChat, token: str
) -> dict[str, Any]:
    answer = answer_text()

    saved = (model.pieces, model.chunk_delay, model.delay)
    model.pieces, model.chunk_delay, model.delay = drip(answer, PIECE), PIECE / SPEED, 0.0
    try:
        figures: dict[str, Any] = {
            f"local_{'on' if parts else 'off'}": one_answer(start, model, chat, token, parts)
            for parts in (True, False)
        }
    finally:
        model.pieces, model.chunk_delay, model.delay = saved
    figures["local_chars"] = len(answer)
    for key in ("local_on", "local_off"):
        run = figures[key]
        print(
            f"slow local model, partial replies {key[6:]}: first text {run['first_text_s']:.1f} s, first part "
            f"{run['first_part_s']:.1f} s, whole {run['whole_s']:.1f} s, {run['posts']} posts, "
            f"{run['notices']} notice(s), posts == stored answer: {run['whole']}",
            flush=True,
        )
    return figures


def report(figures: dict[str, Any]) -> list[str]:
    if "local_on" not in figures:
        return []
    on, off = figures["local_on"], figures["local_off"]
    return [
        "",
        "## A slow local model",
        "",
        f"A model writing {SPEED} characters a second answers {figures['local_chars']:,} characters (seven paragraphs",
        "and a code block); seconds from the webhook to each moment in Chat, default settings otherwise.",
        "",
        "| partial replies | first text | first part of the answer | whole answer | posts | notices | posts = stored answer |",
        "|---|---|---|---|---|---|---|",
        *(
            f"| {name} | {run['first_text_s']:.1f} | {run['first_part_s']:.1f} | {run['whole_s']:.1f} | "
            f"{run['posts']} | {run['notices']} | {'yes' if run['whole'] else 'NO'} |"
            for name, run in (("on", on), ("off", off))
        ),
    ]


def main() -> int:
    from bench.run import API_KEY, TOKEN, Server  # noqa: PLC0415 (run.py imports this module)

    model = FakeOpenAI(api_key=API_KEY).start()
    chat = FakeChat(TOKEN, min_interval=0.5).start()
    try:
        figures = measure(lambda extra, data: Server(model, chat, data, extra), model, chat, TOKEN)
    finally:
        model.stop()
        chat.stop()
    print("\n".join(report(figures)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
