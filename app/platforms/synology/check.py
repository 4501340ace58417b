"""Synology Chat's live check for the settings page: one test message to one Chat user through
the bot's incoming URL, and Chat's answer, without any secret in what is reported."""

from __future__ import annotations

from typing import Any, Protocol

from app.bot import redact
from app.checks import TEST_MESSAGE, Result
from app.platforms.synology.wire import ChatError
from app.settings import Values


class Poster(Protocol):
    def post(self, url: str, payload: dict[str, Any], *, verify: bool | str = True) -> dict[str, Any]: ...


def test_chat(values: Values, poster: Poster, user_id: int) -> Result:
    """Post one message to one Chat user through the bot's incoming URL and return Chat's answer."""
    url = values.bot_incoming_url
    if not url:
        return Result(False, "no_url")
    verify: bool | str = values.ca_bundle or bool(values.tls_verify)
    try:
        answer = poster.post(url, {"text": TEST_MESSAGE, "user_ids": [user_id]}, verify=verify)
    except ChatError as exc:  # its text never holds the URL or the token
        return Result(False, exc.kind, exc.code, redact(str(exc), values))
    return Result(True, data={"answer": answer})
