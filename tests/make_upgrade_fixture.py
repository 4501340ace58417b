"""Make tests/fixtures/data-0.1.0/: a data folder written by release 0.1.0 itself.

    .venv/bin/python tests/make_upgrade_fixture.py

Extracts 0.1.0's app/ (git commit 6efb302) into a temporary folder and runs THAT code as a
real `python -m app serve` process against the fake model and the fake Synology Chat of
tests/, then fills its data folder the way people do, over HTTP only: the first-run page, the
settings form, the People table, Chat's webhooks and the web chat. Three messages are left
unanswered by a hanging model, and one answered but not yet delivered, when the process is
killed with SIGKILL: their job files stay. tests/test_upgrade.py starts the current code on a
copy of the result.

The fake servers' ports in stored URLs are replaced by placeholders (PLACEHOLDERS below) that
the test points at its own fakes. Everything else is byte for byte what 0.1.0 wrote.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
RELEASE = "6efb302"  # 0.1.0
PYTHON = ROOT / ".venv" / "bin" / "python"
TARGET = ROOT / "tests" / "fixtures" / "data-0.1.0"

# What the fixture holds, named once; tests/test_upgrade.py imports them from here.
API_KEY = "sk-test-key-0123456789abcdef"
BOT_TOKEN = "Tk" * 32
TEAM_TOKEN = "TeamOutgoingToken0123456789"
TEAM_INCOMING = "TeamIncomingToken0123456789"
HELP_TOKEN = "HelpOutgoingToken0123456789"
HELP_INCOMING = "HelpIncomingToken0123456789"
SLASH_TOKEN = "SlashToken0123456789abcd"
ADMIN_PASSWORD = "correct horse battery staple"
WENDY_PASSWORD = "wendy's web chat password"
WALTER_PASSWORD = "walter's web chat password"
WENDY, WALTER = ("wendy", WENDY_PASSWORD), ("walter", WALTER_PASSWORD)
SYSTEM_PROMPT = "You are the fixture's assistant. Keep answers short."
PERSONA = "You are a storage expert."
# Stored URLs point at these instead of the fakes' random ports; the test replaces them.
PLACEHOLDERS = {"model": "127.0.0.1:1", "bot": "127.0.0.1:2", "team": "127.0.0.1:3", "help": "127.0.0.1:4"}

ALICE, BOB, CAROL, ERIN, FRANK = 4, 5, 6, 9, 10
# The settings form's fields for a channel to add, in the order save_settings takes them.
NEW_CHANNEL = ("ch-new-name", "ch-new-token", "ch-new-url", "ch-new-context", "ch-new-triggers")
SETUP_CODE = re.compile(r"setup code ([2-9A-Z]{4}-[2-9A-Z]{4})")


def start_fakes() -> dict[str, Any]:
    """The fake model and three fake Synology Chats: the bot's and channels team's and help's."""
    from tests.fake_openai import FakeOpenAI
    from tests.fake_synology import FakeChat

    return {
        "model": FakeOpenAI(api_key=API_KEY).start(),
        **{name: FakeChat(BOT_TOKEN, min_interval=0.1).start() for name in ("bot", "team", "help")},
    }


def ports_of(fakes: dict[str, Any]) -> dict[str, int | None]:
    """Each fake's port, by the names of PLACEHOLDERS."""
    return {
        "model": urlsplit(fakes["model"].url).port,
        **{name: urlsplit(fakes[name].url()).port for name in ("bot", "team", "help")},
    }


def message(
    token: str,
    user_id: int,
    username: str,
    text: str,
    post_id: str,
    *,
    channel: tuple[str, str] | None = None,
) -> dict[str, str]:
    """A message's form as Chat posts it: a direct message from the bot integration, or, with
    `channel` (its id and name), a channel message from an outgoing webhook."""
    fields = {"token": token, "user_id": str(user_id), "username": username, "post_id": post_id}
    fields |= {"thread_id": "0", "timestamp": str(int(time.time() * 1000)), "text": text}
    if channel:
        channel_id, name = channel
        fields |= {"channel_id": channel_id, "channel_name": name, "channel_type": "1", "trigger_word": ""}
    return fields


class Server:
    """0.1.0's `python -m app serve`: tests/test_process.Process, run from the extracted code."""

    def __init__(self, code: Path, data_dir: Path) -> None:
        from tests.test_process import Process

        # cwd and PYTHONPATH are the extracted code: `-m app` would otherwise find the current app/.
        self.process = Process(data_dir, {"PYTHONPATH": str(code)}, "serve", cwd=code, python=PYTHON)
        self.proc = self.process.proc
        self.url = self.process.url
        wait_until(lambda: SETUP_CODE.search(self.process.log()), "0.1.0's setup code")
        found = SETUP_CODE.search(self.process.log())
        assert found is not None
        self.setup_code = found.group(1)
        self.posts = iter(range(25769803788, 10**12))

    def webhook(self, fields: dict[str, str]) -> dict[str, Any]:
        answer = requests.post(self.url + "/webhook", data=fields, timeout=10)
        if answer.status_code != 200:
            raise SystemExit(f"webhook refused: {answer.status_code} {answer.text}")
        body: dict[str, Any] = answer.json()
        return body

    def dm(self, user_id: int, username: str, text: str) -> dict[str, Any]:
        """A direct message as Chat's bot integration posts it."""
        return self.webhook(message(BOT_TOKEN, user_id, username, text, str(next(self.posts))))

    def channel(self, token: str, name: str, user_id: int, username: str, text: str) -> dict[str, Any]:
        """A channel message as an outgoing webhook posts it."""
        channel = ("7" if name == "team" else "8", name)
        return self.webhook(message(token, user_id, username, text, str(next(self.posts)), channel=channel))


def expect(answer: requests.Response, status: int, what: str) -> requests.Response:
    if answer.status_code != status:
        raise SystemExit(f"{what}: expected {status}, got {answer.status_code}: {answer.text[:2000]}")
    return answer


def configure(server: Server, fakes: dict[str, Any]) -> Any:
    """The first-run page, then the settings form twice (it adds one channel and one web chat
    account per save). Returns the logged-in admin's WebClient."""
    from tests.webclient import WebClient

    admin = WebClient(server.url)
    expect(admin.get("/setup"), 200, "setup page")
    fields = {"code": server.setup_code, "password": ADMIN_PASSWORD, "confirm": ADMIN_PASSWORD}
    expect(admin.post("/setup", fields), 303, "first-run setup")
    general = {
        "openai_base_url": fakes["model"].url,
        "openai_api_key": API_KEY,
        "model": "fake-model",
        "temperature": "0.3",
        "system_prompt": SYSTEM_PROMPT,
        "context_tokens": "6000",
        "request_timeout": "20",
        "max_retries": "1",
        "bot_incoming_url": fakes["bot"].url(),
        "bot_token": BOT_TOKEN,
        "language": "en",
        "access": "listed",
        # Each list has a bare id and a user name.
        "allowed_users": "5\ncarol\n10\nwendy\nwalter",
        "blocked_users": "77\nmallory",
        "admin_users": "4\nerin",
        "questions_per_minute": "30",
        "monthly_tokens": "900000",
        "slash_tokens": SLASH_TOKEN,
    }
    team = fakes["team"].channel_url(TEAM_INCOMING)
    save_settings(admin, "saving the settings", general, ("team", TEAM_TOKEN, team, "shared", "@ai"), WENDY)
    help_ = fakes["help"].channel_url(HELP_INCOMING)
    what = "adding the second channel and account"
    save_settings(admin, what, {}, ("help", HELP_TOKEN, help_, "per_user", ""), WALTER)
    return admin


def save_settings(
    admin: Any,
    what: str,
    fields: dict[str, str],
    channel: tuple[str, str, str, str, str],
    account: tuple[str, str],
) -> None:
    """The settings form as the page has it, with `fields` changed, one channel added (name,
    outgoing token, incoming URL, context, trigger words) and one web chat account (name, password)."""
    expect(admin.get("/"), 200, "settings page")
    form = admin.settings_form()
    form.update(fields)
    form.update(zip(NEW_CHANNEL, channel, strict=True))
    form.update({"account-name": account[0], "account-password": account[1]})
    expect(admin.post("/settings", form), 303, what)


def set_quotas(admin: Any, own: dict[str, str]) -> None:
    """The People table's form as the page posts it, with some people's own quotas filled in."""
    page = expect(admin.get("/"), 200, "settings page").text
    start = page.index('id="people"')
    form = page[start : page.index("</form>", start)]
    fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form))
    fields.pop("csrf", None)
    missing = set(own) - set(fields)
    if missing:
        raise SystemExit(f"the People table has no field {missing}")
    fields.update(own)
    expect(admin.post("/people", fields), 303, "saving the People table")


def web_chat(base: str, name: str, password: str, chat: str, questions: list[str]) -> None:
    """Log in to /chat and ask, in one chat, each question in turn (answers are streamed)."""
    from tests.webclient import WebClient

    client = WebClient(base)
    expect(client.get("/chat/login"), 200, "web chat login page")
    expect(client.post("/chat/login", {"name": name, "password": password}), 303, f"web chat login {name}")
    expect(client.get("/chat"), 200, "web chat page")
    for question in questions:
        answer = client.api("/api/chat/send", {"chat": chat, "text": question})
        if answer.status_code != 200 or "event: done" not in answer.text:
            raise SystemExit(f"web chat answer for {name}: {answer.status_code} {answer.text[:500]}")


def wait_until(check: Any, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


def jobs(data_dir: Path) -> list[dict[str, Any]]:
    found = []
    for path in (data_dir / "jobs").glob("*.json"):
        if not path.name.startswith(".tmp-"):
            found.append(json.loads(path.read_text(encoding="utf-8")))
    return found


def fill(server: Server, fakes: dict[str, Any], data_dir: Path) -> None:
    admin = configure(server, fakes)
    bot, team, help_ = fakes["bot"], fakes["team"], fakes["help"]

    # A direct-message conversation with its own persona and two exchanges.
    server.dm(ALICE, "alice", "/persona " + PERSONA)
    bot.wait_for(1)
    server.dm(ALICE, "alice", "What is a NAS?")
    bot.wait_for(2)
    server.dm(ALICE, "alice", "And what is RAID?")
    bot.wait_for(3)
    server.dm(FRANK, "frank", "hello from frank")
    bot.wait_for(4)
    # The shared channel: two people, one conversation. The per-user channel: carol's own.
    server.channel(TEAM_TOKEN, "team", BOB, "bob", "@ai which disk is best?")
    team.wait_for(1)
    server.channel(TEAM_TOKEN, "team", CAROL, "carol", "@ai and for video?")
    team.wait_for(2)
    server.channel(HELP_TOKEN, "help", CAROL, "carol", "how do I reset my password?")
    help_.wait_for(1)

    # Own quotas: frank's daily one below what he has used, bob's monthly one far above his.
    set_quotas(admin, {f"daily_tokens-{FRANK}": "20", f"monthly_tokens-{BOB}": "500000"})

    web_chat(server.url, "wendy", WENDY_PASSWORD, "wendychat0001", ["What is Btrfs?", "Is it safe?"])
    web_chat(server.url, "walter", WALTER_PASSWORD, "walterchat001", ["How big is a petabyte?"])
    web_chat(server.url, "admin", ADMIN_PASSWORD, "adminchat0001", ["Admin question one"])

    # Answered but not delivered: Chat holds the post to erin while the process is killed.
    bot.hang_posts_to(ERIN, 120.0)
    server.dm(ERIN, "erin", "Tell me a joke")
    wait_until(
        lambda: any(j["user_id"] == ERIN and j.get("reply") for j in jobs(data_dir)), "erin's stored answer"
    )
    # Acknowledged, not answered: the model hangs.
    fakes["model"].delay = 120.0
    server.dm(ALICE, "alice", "Is RAID a backup?")
    server.channel(TEAM_TOKEN, "team", BOB, "bob", "@ai summarise please")
    server.channel(HELP_TOKEN, "help", CAROL, "carol", "it did not work")
    wait_until(lambda: len(jobs(data_dir)) == 4, "the four stored jobs")
    time.sleep(0.5)  # the workers have taken the jobs up and are waiting for the model
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(10)


def copy_out(data_dir: Path, ports: dict[str, int | None]) -> list[str]:
    """The data folder into TARGET, the fakes' ports replaced by placeholders."""
    shutil.rmtree(TARGET, ignore_errors=True)
    shutil.copytree(data_dir, TARGET)
    files = []
    for path in sorted(TARGET.rglob("*")):
        if path.is_dir():
            continue
        files.append(str(path.relative_to(TARGET)))
        if path.suffix != ".json":
            continue
        text = path.read_text(encoding="utf-8")
        for name, port in ports.items():
            text = text.replace(f"127.0.0.1:{port}/", f"{PLACEHOLDERS[name]}/")
        path.write_text(text, encoding="utf-8")
    return files


MANIFEST = """\
# A data folder written by SynoChatGPT 0.1.0

Made by `.venv/bin/python tests/make_upgrade_fixture.py` (on {day}): it extracts release
0.1.0 (git commit {release}) with `git archive {release} app`, runs that code as a real
`python -m app serve` process against tests/fake_openai.py and tests/fake_synology.py, fills the
data folder over HTTP only (first-run page, settings form, People table, Chat's webhooks, the
web chat), and ends it with SIGKILL. tests/test_upgrade.py starts the current code on a copy.

Files are as 0.1.0 wrote them (mode 600/700 there; git keeps 644, so the test sets 600/700 on
its copy), except that the fake servers' ports in stored URLs are placeholders the test
replaces with its own fakes' ports:

| placeholder | server |
|---|---|
| `{model}` | the model server (openai_base_url) |
| `{bot}` | Synology Chat, the bot's incoming URL |
| `{team}` | Synology Chat, channel "team"'s incoming webhook |
| `{help}` | Synology Chat, channel "help"'s incoming webhook |

Usage is counted per day: all rows are dated {day}; the test moves them to the day it runs.

## What is in it

- Settings: model server, API key `{api_key}`, model `fake-model`, temperature 0.3, a system
  prompt, context 6000 tokens, model timeout 20 s, 1 retry, bot incoming URL and bot token,
  language en, access `listed`; allow-list `5, carol, 10, wendy, walter`, block-list
  `77, mallory`, admins `4, erin` (each with a bare id and a user name); 30 questions a minute;
  900000 tokens a month for everyone; one slash command token; the admin password (hash of
  tests/webclient.py's ADMIN_PASSWORD).
- Channels: `team` (shared conversation, trigger word `@ai`) and `help` (one conversation per
  user, no trigger word), each with its outgoing token and incoming URL.
- Direct messages: alice (id 4, admin by id) has a persona set with /persona
  ("{persona}") and 2 exchanges; frank (id 10) 1 exchange.
- Channel `team`: 2 exchanges, bob's (id 5) and carol's (id 6). Channel `help`: carol's own
  conversation, 1 exchange.
- Usage per person: alice, bob, carol, frank, erin and the web chat users (users/*.json).
- Own quotas on the People table: frank 20 tokens a day (he has used more), bob 500000 a month.
- Web chat accounts made by the admin on the settings page: wendy (password
  "{wendy}") with chat `wendychat0001`, 2 exchanges; walter ("{walter}") with
  chat `walterchat001`, 1 exchange. The admin's own web chat `adminchat0001`, 1 exchange.
- Pending jobs (jobs/), acknowledged with 200 before the kill: alice's DM "Is RAID a backup?",
  bob's "@ai summarise please" in `team`, carol's "it did not work" in `help` (the model was
  hanging: no answer yet), and erin's (id 9, admin by name) DM "Tell me a joke", answered and
  stored but its delivery hanging in Chat. Their post ids are remembered (jobs/seen-*).

## Files

{files}
"""


def main() -> int:
    # Run as a file, this script sees tests/ on sys.path, not the repository with tests/.
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory(prefix="synochatgpt-0.1.0-") as tmp:
        code, data_dir = Path(tmp) / "code", Path(tmp) / "data"
        code.mkdir()
        archive = subprocess.run(
            ["git", "archive", RELEASE, "app"], cwd=ROOT, check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(code)], input=archive, check=True)
        fakes = start_fakes()
        server = Server(code, data_dir)
        try:
            fill(server, fakes, data_dir)
        finally:
            if server.proc.poll() is None:
                server.proc.kill()
                server.proc.wait()
        ports = ports_of(fakes)
        for fake in fakes.values():
            fake.stop()
        files = copy_out(data_dir, ports)
    (TARGET / "MANIFEST.md").write_text(
        MANIFEST.format(
            day=time.strftime("%Y-%m-%d"),
            release=RELEASE,
            api_key=API_KEY,
            persona=PERSONA,
            wendy=WENDY_PASSWORD,
            walter=WALTER_PASSWORD,
            files="\n".join(f"- `{name}`" for name in files),
            **PLACEHOLDERS,
        ),
        encoding="utf-8",
    )
    print(f"wrote {len(files)} files to {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
