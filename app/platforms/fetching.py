"""Fetching a picture someone sent, for the model to read: platforms hand out links that expire
(QQ's within hours, DingTalk's download URLs), so the worker fetches it as it takes the job, at
most MAX_BYTES and within a timeout, and keeps it only if its bytes are a picture. The model gets
it as a data: URL (bot.py), never the platform's link."""

from __future__ import annotations

import requests

from app.images import MAX_READ, mime_of
from app.platforms.base import Attachment, PictureError

MAX_BYTES = MAX_READ
TIMEOUT = (5.0, 30.0)  # connect, read


class Fetcher:
    """Thread-safe enough for the workers: one connection pool, shared."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self._http = requests.Session()
        self._http.headers["User-Agent"] = "SynoChatGPT"
        self._max = max_bytes

    def picture(self, url: str, name: str = "picture") -> Attachment:
        return fetch_picture(self._http, url, name, self._max)


def fetch_picture(
    http: requests.Session, url: str, name: str = "picture", cap: int = MAX_BYTES
) -> Attachment:
    """The picture at `url`; PictureError says why not (never quoting the URL: it is a
    credential for as long as it lives)."""
    try:
        with http.get(url, timeout=TIMEOUT, stream=True) as answer:
            # QQ answers an expired rkey with 400, DingTalk's storage an expired link with 403.
            if 400 <= answer.status_code < 500 and answer.status_code not in (408, 429):
                raise PictureError("gone", f"the picture's link answered HTTP {answer.status_code}")
            if answer.status_code != 200:
                raise PictureError("unreachable", f"the picture's link answered HTTP {answer.status_code}")
            declared = answer.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > cap:
                raise PictureError("too_big", f"{int(declared) // 1024 // 1024} MB")
            content = bytearray()  # grown in place: no second copy to join
            for chunk in answer.iter_content(64 * 1024):
                if len(content) + len(chunk) > cap:
                    raise PictureError("too_big", f"over {cap // 1024 // 1024} MB")
                content += chunk
    except requests.Timeout:
        raise PictureError("unreachable", "the picture did not arrive in time") from None
    except (requests.RequestException, UnicodeError) as exc:
        raise PictureError("unreachable", type(exc).__name__) from None
    mime = mime_of(bytes(content[:16]))
    if not mime:
        raise PictureError("not_image", "what was sent is not a PNG, JPEG, WebP or GIF picture")
    return Attachment(f"{name}.{mime.partition('/')[2]}", mime, bytes(content))
