"""DingTalk's live check for the settings page: the Client ID and Secret tried for a token, and,
given a member's userId, a test message through the OpenAPI, with DingTalk's exact answer and
no secret in what is reported."""

from __future__ import annotations

from typing import Any, Protocol

from app.bot import redact
from app.checks import TEST_MESSAGE, Result
from app.platforms.dingtalk.wire import DingTalkError
from app.settings import Values


class Client(Protocol):
    def access_token(self, api_url: str, client_id: str, secret: str, *, fresh: bool = False) -> str: ...

    def send_to_person(
        self, api_url: str, client_id: str, secret: str, staff_id: str, *, key: str, param: dict[str, Any]
    ) -> None: ...


def test_dingtalk(values: Values, client: Client, user_id: str) -> Result:
    if not (values.dingtalk_client_id and values.dingtalk_client_secret):
        return Result(False, "dingtalk_no_credentials")
    api, key, secret = values.dingtalk_api_url, values.dingtalk_client_id, values.dingtalk_client_secret
    try:
        client.access_token(api, key, secret, fresh=True)
        if user_id:
            client.send_to_person(
                api, key, secret, user_id, key="sampleText", param={"content": TEST_MESSAGE}
            )
    except DingTalkError as exc:  # its text never holds a secret
        return Result(False, exc.kind, None, redact(str(exc), values))
    return Result(True, data={"answer": {"token": "ok", "sent_to": user_id} if user_id else {"token": "ok"}})
