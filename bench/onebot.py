"""QQ's figures for `make bench`: how fast /onebot acknowledges an event (what NapCat's HTTP
client waits for), alone and with 16 senders at once, and the time from an event to its first
reply in QQ with a model that takes 3 s. The real server in its own process, a fake NapCat
posting signed, chunked events and taking the sends (tests/fake_onebot.py)."""

from __future__ import annotations

import concurrent.futures
import statistics
import time
from collections.abc import Callable
from typing import Any, Protocol

from tests.fake_onebot import FakeNapCat


class Running(Protocol):
    url: str

    def stop(self) -> None: ...


def environment(qq: FakeNapCat) -> dict[str, str]:
    return {
        "SYNOCHATGPT_ONEBOT_API_URL": qq.url,
        "SYNOCHATGPT_ONEBOT_ACCESS_TOKEN": qq.token,
        "SYNOCHATGPT_ONEBOT_SECRET": qq.secret,
    }


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def _ack(qq: FakeNapCat, url: str, user: int) -> float:
    event = qq.event([{"type": "text", "data": {"text": "hi"}}], user_id=user)
    began = time.perf_counter()
    answer = qq.push(url, event)
    took = (time.perf_counter() - began) * 1000
    if answer.status_code != 204:
        raise SystemExit(f"/onebot answered {answer.status_code}: {answer.text}")
    return took


def measure(start: Callable[[dict[str, str]], Running], model_seconds: float) -> dict[str, Any]:
    qq = FakeNapCat().start()
    found: dict[str, Any] = {}
    try:
        server = start(environment(qq))
        try:
            acks = [_ack(qq, server.url, 50_000_000 + n) for n in range(200)]
            found["qq_ack_p50"], found["qq_ack_p99"] = statistics.median(acks), _percentile(acks, 0.99)
            with concurrent.futures.ThreadPoolExecutor(16) as pool:
                burst = list(pool.map(lambda n: _ack(qq, server.url, 60_000_000 + n), range(16 * 10)))
            found["qq_ack16_p50"], found["qq_ack16_p99"] = statistics.median(burst), _percentile(burst, 0.99)
        finally:
            server.stop()
        server = start(environment(qq))  # an empty queue: the answers above are not waited for
        try:
            firsts = []
            for n in range(8):
                user = 70_000_000 + n
                began = time.monotonic()
                _ack(qq, server.url, user)
                while not any(s.target == f"user:{user}" for s in list(qq.sent)):
                    if time.monotonic() - began > 60:
                        raise SystemExit("no reply arrived in QQ within 60 s")
                    time.sleep(0.005)
                firsts.append(time.monotonic() - began)
            found["qq_first_p50"], found["qq_first_max"] = statistics.median(firsts), max(firsts)
        finally:
            server.stop()
    finally:
        qq.stop()
    print(
        f"/onebot acknowledged in p50 {found['qq_ack_p50']:.1f} ms, p99 {found['qq_ack_p99']:.1f} ms "
        f"(16 senders: p50 {found['qq_ack16_p50']:.1f}, p99 {found['qq_ack16_p99']:.1f} ms); event to first "
        f"reply in QQ with a {model_seconds:g} s model: p50 {found['qq_first_p50']:.2f} s, "
        f"max {found['qq_first_max']:.2f} s",
        flush=True,
    )
    return found


def report(figures: dict[str, Any], model_seconds: float) -> list[str]:
    if "qq_ack_p50" not in figures:
        return []
    return [
        f"- QQ (OneBot v11): `/onebot` acknowledges a signed, chunked event as NapCat posts it in p50 "
        f"{figures['qq_ack_p50']:.1f} ms, p99 {figures['qq_ack_p99']:.1f} ms one at a time (200 events), "
        f"p50 {figures['qq_ack16_p50']:.1f} ms, p99 {figures['qq_ack16_p99']:.1f} ms with 16 senders at once; "
        f"from the event to its first reply in QQ with a {model_seconds:g} s model: p50 "
        f"{figures['qq_first_p50']:.2f} s, max {figures['qq_first_max']:.2f} s (8 events).",
    ]
