"""`python -m app`: the command line and the one place where the parts are wired together.

python -m app [serve] [--host H] [--port P] [--data-dir D]
python -m app settings                     show every setting (secrets masked)
python -m app settings set NAME VALUE      VALUE "-" reads it from standard input
python -m app settings unset NAME
python -m app healthcheck                  exit 0 when the server here answers /healthz
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import dataclasses
import gc
import getpass
import json
import logging
import os
import pwd
import signal
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from types import FrameType
from typing import TextIO

from app import (
    __version__,
    auth,
    checks,
    config,
    gate,
    log,
    migrate,
    pages,
    recovery,
    settings,
    store,
    web,
    worker,
)
from app import (
    bot as answering,
)
from app.datalock import DataLock
from app.llm import Model, ModelFactory, is_configured
from app.monitor import Monitor
from app.platforms import http, registry
from app.platforms.base import Platform
from app.platforms.dingtalk import check as dingtalk_check
from app.platforms.dingtalk import wire as dingtalk
from app.platforms.dingtalk.platform import DingTalk
from app.platforms.onebot import check as onebot_check
from app.platforms.onebot import wire as onebot
from app.platforms.synology import check as synology_check
from app.platforms.synology import wire as synology
from app.server import Server
from app.webchat import WebChat

logger = logging.getLogger("app")
M_ARENA_MAX = -8  # glibc's mallopt parameter number
STOP_GRACE = 5.0  # DSM kills a package that takes more than 20 s to stop


class LiveSettings:
    """Settings as they are now: read from the store on every call, so an edit applies to the
    next message without a restart; the environment still wins."""

    def __init__(self, data: store.Store, from_env: Mapping[str, object]) -> None:
        self._store = data
        self._from_env = from_env
        self.secrets: list[str] = []

    def __call__(self) -> settings.Values:
        values = settings.resolve(self._store.settings(), self._from_env)
        self.secrets = values.secrets()
        return values


@dataclasses.dataclass
class Runtime:
    config: config.Config
    store: store.Store
    settings: LiveSettings
    dispatcher: worker.Dispatcher
    server: Server
    console: pages.Console
    lock: DataLock
    platforms: Sequence[Platform] = ()
    address: tuple[str, int] = ("", 0)

    def start(self) -> tuple[str, int]:
        # The folder first: a second server on it must not resume (and answer again) its jobs.
        # Then the port, and only then the stored jobs: a server that cannot listen answers none.
        # Stored jobs are queued before any request is answered, so a person's new message
        # cannot overtake their older one.
        self.lock.acquire()
        try:
            values = self.settings()
            migrate.upgrade(
                self.config.data_dir,
                {int(a["id"]): a["name"] for a in values.webchat_users},
                [c.name for c in values.channels],
            )
            self.address = self.server.bind()
            resumed = self.dispatcher.start()
            self.server.serve()
            for platform in self.platforms:  # DingTalk's Stream connection: after the queue
                platform.start()
        except BaseException:
            self.lock.release()
            raise
        logger.info(
            "SynoChatGPT %s listening on http://%s:%d (data in %s, %d message(s) resumed)",
            __version__,
            *self.address,
            self.config.data_dir.resolve(),
            resumed,
        )
        if not self.settings().admin_password:
            self.console.announce_setup_code(self.address[1])
        return self.address

    def stop(self) -> None:
        for platform in self.platforms:  # no new messages from a connection of the bot's own
            platform.stop()
        self.server.stop()  # no new messages; requests in flight finish
        self.dispatcher.stop(STOP_GRACE)
        self.lock.release()
        logger.info("stopped")


def build(
    cfg: config.Config,
    environ: Mapping[str, str],
    *,
    sender: synology.ChatClient | None = None,
    qq_sender: onebot.OneBotClient | None = None,
    dingtalk_client: dingtalk.DingTalkClient | None = None,
    model_factory: ModelFactory | None = None,
    queue_limit: int = 500,
    clock: Callable[[], float] = time.time,
    monotonic: Callable[[], float] = time.monotonic,
) -> Runtime:
    """Wire the parts. Tests call this too, with faster platform clients, and clocks they can move
    to see a limit reset (the wall clock for days and months, the monotonic one for seconds)."""
    data = store.Store(cfg.data_dir)
    live = LiveSettings(data, settings.from_environment(environ))
    live()  # fail early on an unreadable settings file
    models = model_factory or ModelFactory()

    def model_for(values: settings.Values) -> Model:
        return models.get(answering.model_config(values))

    def save(changes: dict[str, object], remove: tuple[str, ...] = ()) -> None:
        data.save_settings(settings.storable(changes), remove)

    monitor = Monitor()
    chat_client = sender or synology.ChatClient()
    qq_client = qq_sender or onebot.OneBotClient()
    dingtalk_client = dingtalk_client or dingtalk.DingTalkClient()
    platforms = registry.build(
        synology_sender=chat_client,
        qq_sender=qq_client,
        dingtalk_client=dingtalk_client,
        store=data,
        on_error=monitor.error,
        clock=clock,
    )
    ding = next(p for p in platforms if isinstance(p, DingTalk))
    deliveries = registry.Deliveries(platforms)
    bot = answering.Bot(
        data,
        live,
        model_for,
        deliveries,
        save=save,
        clock=clock,
        observer=monitor,
        pictures=deliveries.pictures,
        outlet=deliveries,
        models=lambda values: models.names(answering.model_config(values)),
    )
    dispatcher = worker.Dispatcher(
        data, bot.handle, workers=cfg.workers, max_pending=queue_limit, problems=monitor, clock=clock
    )
    console = pages.Console(
        settings=live,
        save=save,
        monitor=monitor,
        queue=dispatcher,
        usage=data.recent_usage,
        test_model=lambda values: checks.test_model(values, make=models.make),
        test_chat=lambda values, user_id: synology_check.test_chat(values, chat_client, user_id),
        test_qq=lambda values, group, number: onebot_check.test_qq(
            values, qq_client, onebot.Target(group=number) if group else onebot.Target(user=number)
        ),
        test_dingtalk=lambda values, user_id: dingtalk_check.test_dingtalk(values, dingtalk_client, user_id),
        dingtalk_status=ding.status,
        model_ready=lambda values: is_configured(answering.model_config(values)),
        people=data.people,
        set_limits=lambda person, own: data.update_user(person, limits=own),
        setup_code=auth.new_setup_code(),
        runtime=cfg.runtime,
        reset_command=recovery.reset_command(how_started(cfg)),
    )
    doorman = gate.Gate(bot, clock=monotonic)
    app = web.create_app(
        live,
        gate=doorman,
        queue=dispatcher,
        console=console,
        platforms=platforms,
        web_chat=lambda site: WebChat(site, bot, data, doorman.policy, clock, draw=bot.drawing),
    )
    server = Server(app, cfg.host, cfg.port, max_body=http.MAX_BODY, headers=web.SECURITY_HEADERS)
    return Runtime(cfg, data, live, dispatcher, server, console, DataLock(cfg.data_dir), platforms)


def how_started(cfg: config.Config) -> recovery.Started:
    """The facts about this process that the login page's password command depends on."""
    try:
        user = pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:  # a uid without a name (docker run --user 1234): sudo takes "#1234"
        user = f"#{os.geteuid()}"
    folder = os.getcwd()
    # abspath, not resolve: DSM's /var/packages/… paths are links the person knows by that name.
    return recovery.Started(cfg.runtime, sys.executable, folder, user, os.path.abspath(cfg.data_dir))


def fewer_malloc_arenas() -> None:
    """glibc gives threads that allocate their own malloc arenas (up to 8 per core); with the
    server's and the workers' threads that added about 30 MiB under load and never returned it.
    Two arenas are plenty here. MALLOC_ARENA_MAX would need setting before Python starts, which
    DSM's scripts, Docker and `make run` would each have to remember."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc (musl, macOS): nothing to do
        ctypes.CDLL("libc.so.6").mallopt(M_ARENA_MAX, 2)


def serve(cfg: config.Config, environ: Mapping[str, str]) -> int:
    fewer_malloc_arenas()
    runtime = build(cfg, environ)
    log.setup(cfg.log_level, lambda: runtime.settings.secrets)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        logger.info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        runtime.start()
    except OSError as exc:
        logger.error("cannot listen on %s:%d: %s", cfg.host, cfg.port, exc.strerror or exc)
        return 1
    gc.freeze()  # what start-up built lives as long as the process: keep it out of collections
    stop.wait()
    runtime.stop()
    return 0


def settings_command(
    cfg: config.Config, environ: Mapping[str, str], args: argparse.Namespace, out: TextIO, stdin: TextIO
) -> int:
    data = store.Store(cfg.data_dir)
    from_env = settings.from_environment(environ)
    if args.action in (None, "show"):
        values = settings.resolve(data.settings(), from_env)
        for item in settings.SETTINGS:
            source = f"  [fixed by {item.env}]" if item.name in values.fixed else ""
            out.write(f"{item.name} = {settings.masked(item, values.values[item.name])}{source}\n")
        return 0
    if args.action == "set":
        raw = read_value(args.name, stdin) if args.value == "-" else args.value
        clean = settings.validate({args.name: raw}, fixed=from_env)
        data.save_settings(settings.storable(clean))
        out.write(f"{args.name} saved\n")
        return 0
    if args.name in from_env:  # the stored value would still lose to the environment
        variable = settings.BY_NAME[args.name].env
        raise settings.SettingsError([f"{args.name} is fixed by the environment variable {variable}"])
    data.save_settings({}, remove=(args.name,))
    out.write(f"{args.name} reset to its default\n")
    return 0


def read_value(name: str, stdin: TextIO) -> str:
    """A value given as "-": piped in whole, or, when a person types a secret (the login page's
    password command), one line not shown on the screen, ended by Enter rather than Ctrl-D."""
    if settings.BY_NAME[name].secret and stdin.isatty():
        return getpass.getpass(f"{name}: ")
    return stdin.read().rstrip("\n")


def healthcheck(cfg: config.Config) -> int:
    """For Docker's HEALTHCHECK: ask the server on this machine, on the configured port."""
    host = "127.0.0.1" if cfg.host in ("0.0.0.0", "::", "localhost") else cfg.host  # noqa: S104
    url = f"http://{'[' + host + ']' if ':' in host else host}:{cfg.port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=4) as answer:
            healthy = answer.status == 200 and json.load(answer).get("status") == "ok"
    except (OSError, ValueError) as exc:
        sys.stderr.write(f"SynoChatGPT is not answering on {url}: {exc}\n")
        return 1
    return 0 if healthy else 1


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="python -m app", description="SynoChatGPT: an AI bot for Synology Chat."
    )
    root.add_argument("--version", action="version", version=f"SynoChatGPT {__version__}")
    config.add_arguments(root)
    commands = root.add_subparsers(dest="command")
    serve_parser = commands.add_parser("serve", help="run the server (the default)")
    config.add_arguments(serve_parser)
    settings_parser = commands.add_parser("settings", help="show or change settings")
    config.add_arguments(settings_parser)
    actions = settings_parser.add_subparsers(dest="action")
    actions.add_parser("show", help="show every setting, secrets masked")
    set_parser = actions.add_parser("set", help="change a setting")
    set_parser.add_argument("name", choices=list(settings.BY_NAME), metavar="NAME")
    set_parser.add_argument("value", help='the new value; "-" reads it from standard input')
    unset_parser = actions.add_parser("unset", help="return a setting to its default")
    unset_parser.add_argument("name", choices=list(settings.BY_NAME), metavar="NAME")
    health_parser = commands.add_parser("healthcheck", help="exit 0 when the local server is healthy")
    config.add_arguments(health_parser)
    return root


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    args = parser().parse_args(argv)
    environ = os.environ if environ is None else environ
    try:
        cfg = config.load(args, environ)
        if args.command == "settings":
            return settings_command(cfg, environ, args, sys.stdout, sys.stdin)
        if args.command == "healthcheck":
            return healthcheck(cfg)
        return serve(cfg, environ)
    except (config.ConfigError, settings.SettingsError) as exc:
        sys.stderr.write(f"SynoChatGPT: {exc}\n")
        return 2
    except store.StoreError as exc:
        sys.stderr.write(f"SynoChatGPT: {exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
