"""DingTalk's figures for `make bench`: how fast a pushed Stream frame is acknowledged (what
DingTalk waits for before it pushes the message again), how fast /dingtalk answers a signed
callback in HTTP mode, the time from a message to its first reply with a model that takes 3 s,
and how long the bot takes to be connected again after the gateway drops its socket or asks it
to reconnect. The real server in its own process, a fake DingTalk (tests/fake_dingtalk.py)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any, Protocol

from tests.fake_dingtalk import FakeDingTalk


class Running(Protocol):
    url: str

    def stop(self) -> None: ...


def environment(fake: FakeDingTalk, mode: str = "stream") -> dict[str, str]:
    return {
        "SYNOCHATGPT_DINGTALK_CLIENT_ID": fake.client_id,
        "SYNOCHATGPT_DINGTALK_CLIENT_SECRET": fake.client_secret,
        "SYNOCHATGPT_DINGTALK_API_URL": fake.api_url,
        "SYNOCHATGPT_DINGTALK_OAPI_URL": fake.oapi_url,  # reply links must be on it
        "SYNOCHATGPT_DINGTALK_MODE": mode,
    }


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def _until(probe: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise SystemExit(f"DingTalk bench: {what} did not happen within {timeout:g} s")
        time.sleep(0.002)


def _ack_ms(fake: FakeDingTalk, staff: str) -> float:
    began = time.monotonic()
    frame = fake.push(fake.message("hi", staff_id=staff))
    _until(lambda: frame in fake.acked_at, "an ack")
    return (fake.acked_at[frame] - began) * 1000


def _reconnect_s(fake: FakeDingTalk, cut: Callable[[], None]) -> float:
    # A socket that worked (it answered a ping) is cut: one cut as soon as it opens is what a
    # broken proxy does, and the bot rightly waits before trying that again.
    fake.wait_pong(fake.ping())
    before = fake.connections
    began = time.monotonic()
    cut()
    _until(lambda: fake.connections > before, "a reconnection")
    return time.monotonic() - began


def measure(start: Callable[[dict[str, str]], Running], model_seconds: float) -> dict[str, Any]:
    fake = FakeDingTalk().start()
    found: dict[str, Any] = {}
    try:
        server = start(environment(fake))
        try:
            fake.wait_connected(1, timeout=30)
            acks = [_ack_ms(fake, f"ack{n}") for n in range(200)]
            found["dt_ack_p50"], found["dt_ack_p99"] = statistics.median(acks), _percentile(acks, 0.99)
            drops = [_reconnect_s(fake, fake.drop) for _ in range(5)]
            found["dt_drop_p50"], found["dt_drop_max"] = statistics.median(drops), max(drops)
            asked = [_reconnect_s(fake, fake.disconnect) for _ in range(5)]
            found["dt_disconnect_p50"], found["dt_disconnect_max"] = statistics.median(asked), max(asked)
        finally:
            server.stop()
        before = fake.connections
        server = start(environment(fake))  # an empty queue: the answers above are not waited for
        try:
            fake.wait_connected(before + 1, timeout=30)
            firsts = []
            for n in range(8):
                staff = f"first{n}"
                began = time.monotonic()
                fake.push(fake.message("hi", staff_id=staff))
                _until(_replied(fake, fake.conversation_id(staff_id=staff)), "a reply")
                firsts.append(time.monotonic() - began)
            found["dt_first_p50"], found["dt_first_max"] = statistics.median(firsts), max(firsts)
        finally:
            server.stop()
        server = start(environment(fake, "http"))
        try:
            callbacks = []
            for n in range(200):
                began = time.perf_counter()
                answer = fake.callback(server.url + "/dingtalk", fake.message("hi", staff_id=f"http{n}"))
                callbacks.append((time.perf_counter() - began) * 1000)
                if answer.status_code != 200:
                    raise SystemExit(f"/dingtalk answered {answer.status_code}: {answer.text}")
            found["dt_http_p50"], found["dt_http_p99"] = (
                statistics.median(callbacks),
                _percentile(callbacks, 0.99),
            )
        finally:
            server.stop()
    finally:
        fake.stop()
    print(
        f"DingTalk: Stream frame acknowledged in p50 {found['dt_ack_p50']:.1f} ms, p99 {found['dt_ack_p99']:.1f} ms; "
        f"HTTP callback p50 {found['dt_http_p50']:.1f} ms, p99 {found['dt_http_p99']:.1f} ms; first reply "
        f"with a {model_seconds:g} s model p50 {found['dt_first_p50']:.2f} s, max {found['dt_first_max']:.2f} s; "
        f"connected again after a drop in p50 {found['dt_drop_p50'] * 1000:.0f} ms (max "
        f"{found['dt_drop_max'] * 1000:.0f}), after a disconnect in p50 {found['dt_disconnect_p50'] * 1000:.0f} ms "
        f"(max {found['dt_disconnect_max'] * 1000:.0f})",
        flush=True,
    )
    return found


def _replied(fake: FakeDingTalk, conversation: str) -> Callable[[], bool]:
    return lambda: any(s["conversation"] == conversation for s in list(fake.sent))


def report(figures: dict[str, Any], model_seconds: float) -> list[str]:
    if "dt_ack_p50" not in figures:
        return []
    return [
        f"- DingTalk: a pushed Stream frame is acknowledged in p50 {figures['dt_ack_p50']:.1f} ms, p99 "
        f"{figures['dt_ack_p99']:.1f} ms (200 frames, each message stored first); a signed HTTP-mode callback "
        f"in p50 {figures['dt_http_p50']:.1f} ms, p99 {figures['dt_http_p99']:.1f} ms (200); from a message "
        f"to its first reply with a {model_seconds:g} s model: p50 {figures['dt_first_p50']:.2f} s, max "
        f"{figures['dt_first_max']:.2f} s (8 messages); connected again (new ticket, new socket) after the "
        f"gateway drops the socket in p50 {figures['dt_drop_p50'] * 1000:.0f} ms, max "
        f"{figures['dt_drop_max'] * 1000:.0f} ms, after its `disconnect` in p50 "
        f"{figures['dt_disconnect_p50'] * 1000:.0f} ms, max {figures['dt_disconnect_max'] * 1000:.0f} ms (5 each).",
    ]
