"""What every platform's inbound HTTP route needs: the request body read within the server's
limit, whatever the client claims, and a JSON answer. One place, so no platform reads a body
without the limit."""

from __future__ import annotations

import json
from typing import Any

import bottle

MAX_BODY = 1024 * 1024  # chat platforms' messages are far smaller; anything bigger is not one
TOO_LARGE = "the body is larger than 1 MB"


class BadRequest(ValueError):
    """The request is not a message we can use. The text says what is wrong, in English, for
    the log and the sender; `key` and `params` say it again for the settings page, which words
    it in its reader's language (the `whd_` texts) and never shows Chinese readers the text."""

    def __init__(self, reason: str, status: int = 400, *, key: str, **params: str | int) -> None:
        super().__init__(reason)
        self.status = status
        self.key = key
        self.params = params

    def detail(self) -> dict[str, Any]:
        """The fields of the page's record of the refused request (monitor.WebhookRecord)."""
        return {"detail": str(self), "detail_key": self.key, "detail_params": self.params}


def read_body() -> bytes:
    length_header = bottle.request.environ.get("CONTENT_LENGTH") or ""
    if length_header.strip():
        try:
            length = int(length_header)
        except ValueError:
            raise BadRequest(
                "Content-Length is not a number", key="not_number", field="Content-Length"
            ) from None
        if length > MAX_BODY:
            raise BadRequest(TOO_LARGE, status=413, key="too_large")
    else:
        length = MAX_BODY + 1  # chunked: read up to the limit and see
    stream = bottle.request.environ["wsgi.input"]
    try:
        body: bytes = stream.read(min(length, MAX_BODY + 1))
    except OSError:  # cheroot enforces max_request_body_size on chunked bodies this way
        raise BadRequest(TOO_LARGE, status=413, key="too_large") from None
    except bottle.HTTPError as exc:  # a malformed chunked body (web._Chunked)
        raise BadRequest(str(exc.body), key="bad_chunks") from None
    if len(body) > MAX_BODY:
        raise BadRequest(TOO_LARGE, status=413, key="too_large")
    return body


def json_answer(code: int, **body: Any) -> bottle.HTTPResponse:
    return bottle.HTTPResponse(
        body=json.dumps(body, ensure_ascii=False),
        status=code,
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
