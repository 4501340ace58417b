"""The fakes' pictures: NapCat's image segment and its picture host, DingTalk's downloadCode
traded for an expiring signed URL. They must refuse what the real servers refuse, or the bot's
picture tests prove nothing."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests

from tests.fake_dingtalk import FakeDingTalk
from tests.fake_onebot import FakeNapCat, cq_code

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(40)
JPEG = b"\xff\xd8\xff\xe0" + bytes(60)


@pytest.fixture
def qq() -> Iterator[FakeNapCat]:
    server = FakeNapCat().start()
    yield server
    server.stop()


@pytest.fixture
def ding() -> Iterator[FakeDingTalk]:
    server = FakeDingTalk().start()
    yield server
    server.stop()


def token(fake: FakeDingTalk) -> str:
    answer = requests.post(f"{fake.api_url}/v1.0/oauth2/accessToken", timeout=5,
                           json={"appKey": fake.client_id, "appSecret": fake.client_secret})  # fmt: skip
    return str(answer.json()["accessToken"])


def exchange(fake: FakeDingTalk, code: str, key: str, robot: str | None = None) -> requests.Response:
    body = {"robotCode": fake.client_id if robot is None else robot, "downloadCode": code}
    return requests.post(f"{fake.api_url}/v1.0/robot/messageFiles/download", json=body, timeout=5,
                         headers={"x-acs-dingtalk-access-token": key})  # fmt: skip


# -- NapCat -------------------------------------------------------------------------------------


def test_a_napcat_picture_is_served_at_its_url(qq: FakeNapCat) -> None:
    segment = qq.picture(PNG, summary="")
    data = segment["data"]
    assert segment["type"] == "image" and list(data) == ["summary", "file", "sub_type", "url", "file_size"]
    assert data["file"] == hashlib.md5(PNG).hexdigest().upper() + ".png"  # noqa: S324
    assert data["file_size"] == str(len(PNG)) and data["sub_type"] == 0 and data["summary"] == ""
    parts = urlsplit(data["url"])
    assert parts.path == "/download" and set(parse_qs(parts.query)) == {"appid", "fileid", "rkey"}
    answer = requests.get(data["url"], timeout=5)
    assert answer.status_code == 200 and answer.content == PNG
    assert answer.headers["Content-Type"] == "image/png"
    jpeg = requests.get(qq.picture(JPEG, name="cat.jpg")["data"]["url"], timeout=5)
    assert jpeg.headers["Content-Type"] == "image/jpeg"
    assert qq.picture_downloads == [data["url"], jpeg.url]
    assert qq.arrived == 0  # a picture download is no API call


def test_an_expired_or_wrong_picture_url_is_refused(qq: FakeNapCat) -> None:
    gone = requests.get(qq.picture(PNG, expired=True)["data"]["url"], timeout=5)
    assert gone.status_code == 400 and gone.json()["retmsg"] == "download url has expired"
    url = qq.picture(PNG)["data"]["url"]
    wrong = requests.get(url.replace("rkey=", "rkey=x"), timeout=5)
    assert wrong.status_code == 400 and wrong.json()["retcode"] == -5503010
    assert requests.get(url, timeout=5).status_code == 200
    qq.expire_pictures()
    assert requests.get(url, timeout=5).status_code == 400
    assert requests.post(url, timeout=5).status_code == 403  # the API port still wants its token


def test_a_picture_in_a_cq_string_is_escaped_as_napcat_does(qq: FakeNapCat) -> None:
    segment = qq.picture(PNG, summary="[动画表情]")
    code = cq_code(segment)
    assert code.startswith("[CQ:image,summary=&#91;动画表情&#93;,file=") and ",sub_type=0," in code
    assert "&amp;fileid=" in code and "&fileid=" not in code.replace("&amp;", "")
    url = code.split(",url=")[1].split(",")[0].replace("&amp;", "&")
    assert url == segment["data"]["url"]
    event = qq.event("look " + code)
    assert event["message"] == event["raw_message"] == "look " + code


def test_images_the_bot_sends_are_kept_whole(qq: FakeNapCat) -> None:
    message = [{"type": "text", "data": {"text": "here"}},
               {"type": "image", "data": {"file": "base64://" + base64.b64encode(PNG).decode()}}]  # fmt: skip
    answer = requests.post(f"{qq.url}/send_private_msg", json={"user_id": 42, "message": message},
                           headers={"Authorization": f"Bearer {qq.token}"}, timeout=5)  # fmt: skip
    assert answer.json()["status"] == "ok"
    assert qq.sent[0].message == message and qq.texts() == ["here"]
    assert qq.sent_images() == [PNG]


# -- DingTalk -----------------------------------------------------------------------------------


def test_a_dingtalk_picture_downloads_through_its_code(ding: FakeDingTalk) -> None:
    payload = ding.message(msgtype="picture", picture=PNG)
    code = payload["content"]["downloadCode"]
    answer = exchange(ding, code, token(ding))
    assert answer.status_code == 200 and list(answer.json()) == ["downloadUrl"]
    url = answer.json()["downloadUrl"]
    assert set(parse_qs(urlsplit(url).query)) == {"Expires", "OSSAccessKeyId", "Signature"}
    served = requests.get(url, timeout=5)
    assert served.status_code == 200 and served.content == PNG
    assert served.headers["Content-Type"] == "image/png"
    assert ding.downloads == [code] and ding.fetched == [url] and ding.calls["download"] == 1
    rich = ding.message("what is this?", msgtype="richText", picture=JPEG)
    part = rich["content"]["richText"][1]
    again = requests.get(exchange(ding, part["downloadCode"], token(ding)).json()["downloadUrl"], timeout=5)
    assert again.content == JPEG and again.headers["Content-Type"] == "image/jpeg"


def test_unknown_codes_wrong_robots_and_bad_tokens_are_refused(ding: FakeDingTalk) -> None:
    key = token(ding)
    plain = ding.message(msgtype="picture")  # no bytes: its codes are unknown
    for code in (plain["content"]["downloadCode"], plain["content"]["pictureDownloadCode"]):
        answer = exchange(ding, code, key)
        assert answer.status_code == 400 and answer.json()["code"] == "invalidParameter.downloadCode.invalid"
    code = ding.message(msgtype="picture", picture=PNG)["content"]["downloadCode"]
    wrong = exchange(ding, code, key, robot="dingsomeoneelse")
    assert wrong.status_code == 400 and wrong.json()["code"] == "invalidParameter.robotCode.auth"
    bad = exchange(ding, code, "not-a-token")
    assert bad.status_code == 400 and bad.json()["code"] == "InvalidAuthentication"
    ding.script["download"].append({"http": 503})
    assert exchange(ding, code, key).status_code == 503
    assert ding.downloads == [] and exchange(ding, code, key).status_code == 200
    with pytest.raises(AssertionError):
        ding.message("hi", picture=PNG)  # a text message has no downloadCode


def test_an_expired_or_tampered_download_url_is_refused_as_oss_does(ding: FakeDingTalk) -> None:
    key = token(ding)
    code = ding.message(msgtype="picture", picture=PNG)["content"]["downloadCode"]
    url = exchange(ding, code, key).json()["downloadUrl"]
    signature = parse_qs(urlsplit(url).query)["Signature"][0]
    forged = ("B" if signature[0] == "A" else "A") + signature[1:]
    tampered = requests.get(url.replace(quote(signature, safe=""), quote(forged, safe="")), timeout=5)
    assert tampered.status_code == 403 and b"<Code>SignatureDoesNotMatch</Code>" in tampered.content
    ding.expire_downloads()
    gone = requests.get(url, timeout=5)
    assert gone.status_code == 403 and gone.headers["Content-Type"] == "application/xml"
    assert b"<Code>AccessDenied</Code>" in gone.content and b"Request has expired." in gone.content
    fresh = exchange(ding, code, key).json()["downloadUrl"]  # the code itself still works
    assert requests.get(fresh, timeout=5).content == PNG
    ding.download_url_lifetime = 0.0
    short = exchange(ding, code, key).json()["downloadUrl"]
    assert requests.get(short, timeout=5).status_code == 403
    assert ding.fetched == [fresh]
