"""QQ's live check for the settings page: one test message to a QQ number or a group through
the OneBot API, and the implementation's exact answer, without any secret in what is reported."""

from __future__ import annotations

from typing import Any, Protocol

from app.bot import redact
from app.checks import TEST_MESSAGE, Result
from app.platforms.onebot.wire import OneBotError, Target, text_segment
from app.settings import Values


class Sender(Protocol):
    def send(
        self, api_url: str, token: str, target: Target, message: list[dict[str, Any]], interval: float
    ) -> dict[str, Any]: ...


def test_qq(values: Values, sender: Sender, target: Target) -> Result:
    if not values.onebot_api_url:
        return Result(False, "qq_no_url")
    try:
        data = sender.send(
            values.onebot_api_url, values.onebot_access_token, target, [text_segment(TEST_MESSAGE)], 0.0
        )
    except OneBotError as exc:  # its text never holds the token
        return Result(False, exc.kind, exc.code, redact(str(exc), values))
    return Result(True, data={"answer": data})
