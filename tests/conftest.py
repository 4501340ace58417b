"""Fixtures: the two fake outside servers, and the real app wired by the same build() that
`python -m app` uses, served by cheroot on a real loopback port."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, ConsoleMessage, Page, Response, sync_playwright

from app import auth, config, settings
from app.__main__ import Runtime, build
from app.llm import ModelFactory, OpenAIModel
from app.platforms.dingtalk.wire import DingTalkClient
from app.platforms.onebot.wire import OneBotClient
from app.platforms.synology.wire import ChatClient
from tests.fake_dingtalk import FakeDingTalk
from tests.fake_onebot import FakeNapCat
from tests.fake_openai import FakeOpenAI
from tests.fake_synology import FakeChat
from tests.webclient import ADMIN_PASSWORD, WebClient

API_KEY = "sk-test-key-0123456789abcdef"
BOT_TOKEN = "Tk" * 32  # 64 characters, like Chat's tokens


@pytest.fixture
def fake_model() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI(api_key=API_KEY).start()
    yield server
    server.stop()


TEST_PACING = 0.1  # logic tests pace faster than Chat's 0.5 s; test_delivery checks the real one


@pytest.fixture
def fake_chat() -> Iterator[FakeChat]:
    server = FakeChat(BOT_TOKEN, min_interval=TEST_PACING).start()
    yield server
    server.stop()


@pytest.fixture
def fake_qq() -> Iterator[FakeNapCat]:
    server = FakeNapCat().start()
    yield server
    server.stop()


def qq_settings(fake: FakeNapCat, **more: Any) -> dict[str, Any]:
    """The settings that point the bot at a fake NapCat, paced fast for the tests."""
    return {
        "onebot_api_url": fake.url,
        "onebot_access_token": fake.token,
        "onebot_secret": fake.secret,
        "onebot_send_interval": 0.05,
        **more,
    }


def qq_environment(fake: FakeNapCat, **more: Any) -> dict[str, str]:
    """The same, as the environment variables of a `python -m app` process."""
    return {settings.BY_NAME[name].env: str(value) for name, value in qq_settings(fake, **more).items()}


@pytest.fixture
def fake_dingtalk() -> Iterator[FakeDingTalk]:
    server = FakeDingTalk(redeliver_after=60.0).start()
    yield server
    server.stop()


def dingtalk_settings(fake: FakeDingTalk, **more: Any) -> dict[str, Any]:
    """The settings that point the bot at a fake DingTalk (Stream mode unless told)."""
    return {
        "dingtalk_client_id": fake.client_id,
        "dingtalk_client_secret": fake.client_secret,
        "dingtalk_api_url": fake.api_url,
        "dingtalk_oapi_url": fake.oapi_url,
        **more,
    }


def dingtalk_environment(fake: FakeDingTalk, **more: Any) -> dict[str, str]:
    """The same, as the environment variables of a `python -m app` process."""
    return {settings.BY_NAME[name].env: str(value) for name, value in dingtalk_settings(fake, **more).items()}


@dataclasses.dataclass
class Bot:
    """A running SynoChatGPT and helpers to talk to it as Synology Chat does."""

    runtime: Runtime
    data_dir: Path
    make: Callable[[], Runtime]
    post_ids: Iterator[int] = dataclasses.field(default_factory=lambda: iter(range(25769803788, 10**12)))

    @property
    def url(self) -> str:
        host, port = self.runtime.address
        return f"http://{host}:{port}"

    def post(self, data: Any = None, **kwargs: Any) -> requests.Response:
        return requests.post(self.url + "/webhook", data=data, timeout=10, **kwargs)

    def say(
        self,
        text: str,
        user_id: int = 4,
        username: str = "alice",
        token: str = BOT_TOKEN,
        post_id: int | None = None,
    ) -> requests.Response:
        """A direct message exactly as Chat's bot integration POSTs it (a form)."""
        fields = {
            "token": token,
            "user_id": str(user_id),
            "username": username,
            "post_id": str(post_id if post_id is not None else next(self.post_ids)),
            "thread_id": "0",
            "timestamp": str(int(time.time() * 1000)),
            "text": text,
        }
        return self.post(fields)

    def in_channel(
        self,
        token: str,
        text: str,
        *,
        user_id: int = 4,
        username: str = "alice",
        trigger_word: str = "",
        channel: str = "team",
    ) -> requests.Response:
        """A channel message as an outgoing webhook POSTs it: the trigger word stays in the text."""
        fields = {
            "token": token,
            "channel_id": "7",
            "channel_name": channel,
            "channel_type": "1",
            "user_id": str(user_id),
            "username": username,
            "post_id": str(next(self.post_ids)),
            "thread_id": "0",
            "timestamp": str(int(time.time() * 1000)),
            "text": text,
            "trigger_word": trigger_word,
        }
        return self.post(fields)

    def slash(self, token: str, text: str, user_id: int = 4, username: str = "alice") -> requests.Response:
        """A slash command as Chat POSTs it: the text starts with the command itself."""
        fields = {"token": token, "user_id": str(user_id), "username": username, "text": text}
        return self.post(fields)

    def set(self, **values: Any) -> None:
        self.runtime.store.save_settings(values)

    def idle(self, timeout: float = 15.0) -> None:
        assert self.runtime.dispatcher.wait_idle(timeout), "the bot did not finish its work in time"

    def restart(self) -> None:
        self.runtime.stop()
        self.runtime = self.make()
        self.runtime.start()


class FakeClock:
    """Both of the app's clocks, moved on by the test: a limit's reset without the wait."""

    def __init__(self) -> None:
        self.offset = 0.0

    def wall(self) -> float:
        return time.time() + self.offset

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def fast_client(min_interval: float = TEST_PACING) -> ChatClient:
    """The real client, with short pacing and retry backoffs for speed."""
    return ChatClient(min_interval=min_interval, backoff=0.1, timeout=3.0)


def fast_models() -> ModelFactory:
    return ModelFactory(lambda cfg: OpenAIModel(cfg, backoff=0.05))


@pytest.fixture
def env(fake_model: FakeOpenAI, fake_chat: FakeChat) -> dict[str, str]:
    """The environment that points a `python -m app` process at the two fakes."""
    return {
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_BASE_URL": fake_model.url,
        "SYNOCHATGPT_MODEL": "fake-model",
        "SYNOCHATGPT_BOT_INCOMING_URL": fake_chat.url(),
        "SYNOCHATGPT_REQUEST_TIMEOUT": "10",
    }


@pytest.fixture
def make_bot(tmp_path: Path, fake_model: FakeOpenAI, fake_chat: FakeChat) -> Iterator[Callable[..., Bot]]:
    bots: list[Bot] = []

    def make(
        environ: dict[str, str] | None = None,
        workers: int = 4,
        pacing: float = TEST_PACING,
        queue_limit: int = 500,
        clock: FakeClock | None = None,
        **settings: Any,
    ) -> Bot:
        data_dir = tmp_path / f"data{len(bots)}"
        cfg = config.Config(host="127.0.0.1", port=0, data_dir=data_dir, workers=workers)

        def runtime() -> Runtime:
            return build(
                cfg,
                environ or {},
                sender=fast_client(pacing),
                qq_sender=OneBotClient(timeout=3.0),
                dingtalk_client=DingTalkClient(timeout=3.0),
                model_factory=fast_models(),
                queue_limit=queue_limit,
                **({"clock": clock.wall, "monotonic": clock.monotonic} if clock else {}),
            )

        first = runtime()
        first.store.save_settings(
            {
                "openai_base_url": fake_model.url,
                "openai_api_key": API_KEY,
                "model": "fake-model",
                "bot_incoming_url": fake_chat.url(),
                "request_timeout": 5,
                "max_retries": 2,
                **settings,
            }
        )
        first.start()
        bot = Bot(first, data_dir, runtime)
        bots.append(bot)
        return bot

    yield make
    for bot in bots:
        bot.runtime.stop()


@pytest.fixture
def bot(make_bot: Callable[..., Bot]) -> Bot:
    return make_bot()


@pytest.fixture(scope="session")
def admin_hash() -> str:
    """Hashing is slow on purpose; one hash serves the whole run."""
    return auth.hash_password(ADMIN_PASSWORD)


@pytest.fixture
def admin_bot(make_bot: Callable[..., Bot], admin_hash: str) -> Bot:
    """A running bot whose settings page has the admin password ADMIN_PASSWORD."""
    return make_bot(admin_password=admin_hash)


@pytest.fixture
def admin(admin_bot: Bot) -> WebClient:
    """A browser-like client logged in to admin_bot's settings page."""
    client = WebClient(admin_bot.url)
    answer = client.login()
    assert answer.status_code == 303, answer.text
    assert client.get("/").status_code == 200  # as a browser does: it picks up the page's token
    return client


# -- the pages in headless Chromium (Debian's package, driven by Playwright) ---------------------

CHROMIUM = os.environ.get("SYNOCHATGPT_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parent / "artifacts" / "screenshots"
# Without these Chromium keeps trying to reach Google's servers, which a closed network punishes.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    tab = context.new_page()
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # A CSP violation or a script error shows up here. A page answered 401 or 400 on purpose
        # (a wrong password, a wrong field) is logged as a failed load: that is expected.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(message.text)

    def on_response(response: Response) -> None:
        if response.status == 404:
            problems.append(f"404 for {response.url}")

    tab.on("console", on_console)
    tab.on("pageerror", lambda error: problems.append(str(error)))
    tab.on("response", on_response)
    yield tab
    context.close()
    assert problems == [], f"the browser reported errors: {problems}"


def shot(page: Page, name: str, full: bool = True) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full)
