"""The fake DingTalk itself: that it keeps DingTalk's rules (one-use tickets, re-pushes of what
was not acknowledged, 20 replies a minute, 20,000 bytes, expiring sessions and tokens) so that
the end-to-end tests built on it prove something."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote_plus

import pytest
import requests
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.fake_dingtalk import BOT_TOPIC, FakeDingTalk, sign
from tests.fake_http import FakeHandler, FakeServer


@pytest.fixture
def fake() -> Iterator[FakeDingTalk]:
    server = FakeDingTalk(redeliver_after=0.3, close_after_disconnect=0.2).start()
    yield server
    server.stop()


def open_stream(fake: FakeDingTalk, secret: str | None = None) -> requests.Response:
    body = {"clientId": fake.client_id, "clientSecret": secret or fake.client_secret, "ua": "test",
            "subscriptions": [{"type": "CALLBACK", "topic": BOT_TOPIC}], "localIp": ""}  # fmt: skip
    return requests.post(f"{fake.api_url}/v1.0/gateway/connections/open", json=body, timeout=5)


def connect_stream(fake: FakeDingTalk) -> ClientConnection:
    answer = open_stream(fake).json()
    return connect(f"{answer['endpoint']}?ticket={quote_plus(answer['ticket'])}", open_timeout=5)


def receive(client: ClientConnection) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads(client.recv(timeout=5))
    return frame


def ack(client: ClientConnection, frame: dict[str, Any]) -> None:
    """As the SDK acknowledges: code 200, the frame's messageId, the data echoed."""
    headers = {"messageId": frame["headers"]["messageId"], "contentType": "application/json"}
    client.send(json.dumps({"code": 200, "headers": headers, "message": "OK", "data": frame["data"]}))


def token(fake: FakeDingTalk) -> str:
    answer = requests.post(f"{fake.api_url}/v1.0/oauth2/accessToken", timeout=5,
                           json={"appKey": fake.client_id, "appSecret": fake.client_secret})  # fmt: skip
    return str(answer.json()["accessToken"])


def reply(url: str, text: str = "hi", **body: Any) -> dict[str, Any]:
    found: dict[str, Any] = requests.post(url, json=body or {"msgtype": "text", "text": {"content": text}},
                                          timeout=5).json()  # fmt: skip
    return found


def test_the_sign_matches_dingtalks_test_vector() -> None:
    assert sign("client-secret-for-test", 1684493546276) == "nwBJQmaBLv9+5/sSS/66jcFc1/kGY5wo38L88LOGfRU="


def test_a_ticket_opens_one_connection_and_expires(fake: FakeDingTalk) -> None:
    refused = open_stream(fake, secret="wrong")
    assert refused.status_code == 401 and refused.json()["code"] == "authFailed"
    assert fake.opens[0]["clientSecret"] == "REDACTED"
    answer = open_stream(fake).json()
    uri = f"{answer['endpoint']}?ticket={quote_plus(answer['ticket'])}"
    with connect(uri, open_timeout=5):
        fake.wait_connected(1)
    for bad in (uri, answer["endpoint"], answer["endpoint"] + "?ticket=made-up"):
        with pytest.raises(InvalidStatus) as caught:
            connect(bad, open_timeout=5)
        assert caught.value.response.status_code == 401
    fake.ticket_lifetime = 0.05
    late = open_stream(fake).json()
    time.sleep(0.1)
    with pytest.raises(InvalidStatus):
        connect(f"{late['endpoint']}?ticket={late['ticket']}", open_timeout=5)
    assert fake.connections == 1
    assert fake.refused_handshakes == ["unknown or used", "missing", "unknown or used", "expired"]
    fake.gateway_down = True
    assert open_stream(fake).status_code == 503


def test_what_is_not_acknowledged_comes_again_under_a_new_frame_id(fake: FakeDingTalk) -> None:
    with connect_stream(fake) as client:
        fake.wait_connected(1)
        payload = fake.message("hello")
        first = fake.push(payload)
        frame = receive(client)
        assert frame["type"] == "CALLBACK" and frame["headers"]["topic"] == BOT_TOPIC
        assert frame["headers"]["messageId"] == first and json.loads(frame["data"]) == payload
        again = receive(client)  # not acknowledged: pushed again after redeliver_after
        assert again["headers"]["messageId"] != first and json.loads(again["data"]) == payload
        ack(client, again)
        assert fake.wait_ack(again["headers"]["messageId"])["code"] == 200
        with pytest.raises(TimeoutError):
            client.recv(timeout=0.6)  # acknowledged: nothing more
        assert fake.pushes[payload["msgId"]] == 2
        client.send("not json")
        client.send(json.dumps({"hello": 1}))
        opaque = fake.ping()
        ping = receive(client)
        assert ping["type"] == "SYSTEM" and ping["headers"]["topic"] == "ping"
        ack(client, ping)
        assert fake.wait_pong(opaque)["code"] == 200
        assert fake.garbage == ["not json", '{"hello": 1}']


def test_disconnect_then_close_and_drop(fake: FakeDingTalk) -> None:
    with connect_stream(fake) as client:
        fake.wait_connected(1)
        fake.disconnect()
        assert receive(client)["headers"]["topic"] == "disconnect"
        with pytest.raises(ConnectionClosed):
            client.recv(timeout=3)
    with connect_stream(fake) as client:
        fake.wait_connected(2)
        fake.drop()
        with pytest.raises(ConnectionClosed) as caught:
            client.recv(timeout=3)
        assert caught.value.rcvd is None  # no close frame: cut
    with pytest.raises(AssertionError):
        fake.push(fake.message())


def test_session_webhook_limits(fake: FakeDingTalk) -> None:
    message = fake.message("q", group=True)
    assert message["text"]["content"] == " q" and message["conversationType"] == "2"
    url = message["sessionWebhook"]
    assert reply(url, "x" * 19_950)["errcode"] == 0
    assert reply(url, "x" * 20_000) == {"errcode": 460101, "errmsg": "message too long, exceed 20000 bytes"}
    assert reply(url, msgtype="image", image={"url": "x"})["errcode"] == 40035
    for _ in range(19):
        assert reply(url)["errcode"] == 0
    assert reply(url)["errcode"] == 130101  # the 21st in a minute
    other = fake.message("q", staff_id="someone")["sessionWebhook"]
    assert reply(other)["errcode"] == 0  # another conversation has its own budget
    assert len(fake.wait_sent(21)) == 21 and fake.sent[0]["conversation"] == message["conversationId"]
    old = fake.message("q", created_at=int(time.time() * 1000) - 91 * 60_000)
    assert reply(old["sessionWebhook"])["errcode"] == 300001
    fake.expire_sessions()
    assert reply(other)["errcode"] == 300001
    fake.script["session"] = [{"errcode": 130101}, {"http": 502}]
    fresh = fake.message("q", staff_id="third")["sessionWebhook"]
    assert reply(fresh)["errcode"] == 130101
    assert (
        requests.post(fresh, json={"msgtype": "text", "text": {"content": "x"}}, timeout=5).status_code == 502
    )
    assert reply(fresh)["errcode"] == 0


def test_tokens_and_the_openapi(fake: FakeDingTalk) -> None:
    bad = requests.post(f"{fake.api_url}/v1.0/oauth2/accessToken", json={"appKey": fake.client_id,
                        "appSecret": "wrong"}, timeout=5)  # fmt: skip
    assert bad.status_code == 400 and bad.json()["code"] == "invalidClientIdOrSecret"
    good = token(fake)
    assert token(fake) == good and fake.tokens_issued == 2  # asked again within its life: the same
    fake.invalid_staff, fake.flow_controlled = {"gone"}, {"busy"}
    send = {"robotCode": fake.client_id, "userIds": ["manager4", "gone", "busy"], "msgKey": "sampleText",
            "msgParam": json.dumps({"content": "hi"})}  # fmt: skip
    otm = f"{fake.api_url}/v1.0/robot/oToMessages/batchSend"
    answer = requests.post(otm, json=send, headers={"x-acs-dingtalk-access-token": good}, timeout=5)
    assert answer.status_code == 200
    assert answer.json()["invalidStaffIdList"] == ["gone"]
    assert answer.json()["flowControlledStaffIdList"] == ["busy"]
    assert [s["user"] for s in fake.sent] == ["manager4"] and fake.sent[0]["msgParam"] == {"content": "hi"}
    assert fake.sent[0]["conversation"] == fake.message()["conversationId"]
    too_many = [str(n) for n in range(21)]
    for change, code in (({"robotCode": "other"}, "invalidParameter.robotCode.auth"),
                         ({"msgKey": "sampleImage"}, "invalidParameter.msgKey.invalid"),
                         ({"userIds": too_many}, "invalidParameter.userIds.overMax")):  # fmt: skip
        refused = requests.post(
            otm, json=send | change, headers={"x-acs-dingtalk-access-token": good}, timeout=5
        )
        assert (refused.status_code, refused.json()["code"]) == (400, code)
    group = {"robotCode": fake.client_id, "openConversationId": "cidunknown", "msgKey": "sampleMarkdown",
             "msgParam": json.dumps({"title": "t", "text": "x"})}  # fmt: skip
    to_group = f"{fake.api_url}/v1.0/robot/groupMessages/send"
    headers = {"x-acs-dingtalk-access-token": good}
    assert requests.post(to_group, json=group, headers=headers, timeout=5).status_code == 400
    group["openConversationId"] = fake.message(group=True)["conversationId"]
    assert "processQueryKey" in requests.post(to_group, json=group, headers=headers, timeout=5).json()
    upload = f"{fake.oapi_url}/media/upload?access_token={good}&type=image"
    files = {"media": ("a.png", b"\x89PNG...", "image/png")}
    media = requests.post(upload, files=files, data={"type": "image"}, timeout=5).json()
    assert media["errcode"] == 0 and media["media_id"].startswith("@")
    assert fake.uploads[0]["data"] == b"\x89PNG..." and fake.uploads[0]["filename"] == "a.png"
    fake.expire_tokens()
    expired = requests.post(to_group, json=group, headers=headers, timeout=5)
    assert (expired.status_code, expired.json()["code"]) == (400, "InvalidAuthentication")
    assert requests.post(upload, files=files, timeout=5).json()["errcode"] == 42001
    bogus = f"{fake.oapi_url}/media/upload?access_token=bogus&type=image"
    assert requests.post(bogus, files=files, timeout=5).json()["errcode"] == 40014
    assert token(fake) != good  # the old one expired: a new one


def test_callback_is_signed_like_dingtalk(fake: FakeDingTalk) -> None:
    seen: list[tuple[dict[str, str], bytes]] = []

    class Bot(FakeHandler):
        def do_POST(self) -> None:
            seen.append((dict(self.headers), self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    bot = FakeServer(Bot)
    bot.begin()
    try:
        payload = fake.message("你好")
        assert fake.callback(f"http://127.0.0.1:{bot.port}/dingtalk", payload).status_code == 200
        headers, body = seen[0]
        assert headers["sign"] == sign(fake.client_secret, int(headers["timestamp"]))
        assert json.loads(body) == payload
    finally:
        bot.end()


def test_stop_is_quick_with_a_client_connected() -> None:
    fake = FakeDingTalk().start()
    with connect_stream(fake):
        fake.wait_connected(1)
        fake.script["session"] = [{"hang": 30}]
        hung = threading.Thread(target=reply, args=(fake.message()["sessionWebhook"],), daemon=True)
        hung.start()
        time.sleep(0.1)
        began = time.monotonic()
        fake.stop()
        assert time.monotonic() - began < 3
