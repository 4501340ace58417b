"""The settings page: first-run setup, login, the settings form, live checks and the dashboard;
the routes and what they share. The form is read back in settingsform.py, the dashboard's data
comes from dashboard.py.

Every route is behind the login unless it is registered with public=True; a bottle plugin
enforces that, and the CSRF token on every state-changing request, in one place.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import bottle

from app import __version__, auth, chart, checks, dashboard, pagetext, people, settings
from app.bot import estimate_tokens
from app.monitor import Monitor
from app.settings import Values
from app.settingsform import FormResult, apply_form, channel_rows, read_settings_form
from app.worker import Waiting

log = logging.getLogger(__name__)

VIEWS = Path(__file__).parent / "views"
STATIC = Path(__file__).parent / "static"
SESSION_COOKIE = "synochatgpt_session"
CHAT_COOKIE = "synochatgpt_chat"
FORM_COOKIE = "synochatgpt_form"
LANG_COOKIE = "synochatgpt_lang"
CHART_DAYS = 14
# A DingTalk member's userId as the admin console shows it ("manager4", "0123456789-1").
DINGTALK_USER = re.compile(r"[A-Za-z0-9_-]{1,64}")
MESSAGES = ("saved", "password_changed", "logged_out", "welcome", "people_saved")  # ?msg= keys the page shows
IN_PLACE = ("saved", "password_changed", "people_saved")  # shown beside the part that was used


class Pending(Protocol):
    def pending(self) -> int: ...
    def waiting(self) -> Waiting: ...


@dataclasses.dataclass
class Console:
    """What the page needs from the rest of the app, passed in by __main__."""

    settings: Callable[[], Values]
    save: Callable[[dict[str, Any], tuple[str, ...]], None]
    monitor: Monitor
    queue: Pending
    usage: Callable[[str], dict[str, dict[str, Any]]]
    test_model: Callable[[Values], checks.Result]
    test_chat: Callable[[Values, int], checks.Result]
    test_qq: Callable[[Values, bool, str], checks.Result]  # (values, to a group?, the number)
    test_dingtalk: Callable[[Values, str], checks.Result]  # (values, a member's userId or "")
    # DingTalk's Stream connection: platforms/dingtalk/stream.Status (state, since, error...)
    dingtalk_status: Callable[[], Any]
    model_ready: Callable[[Values], bool]
    people: Callable[[], list[dict[str, Any]]] = list
    set_limits: Callable[[str, dict[str, int] | None], None] = lambda person, own: None
    setup_code: str = ""  # shown in the log while no admin password is set
    runtime: str = "source"  # config.RUNTIMES: how the server was started
    reset_command: str = ""  # recovery.py: what sets a forgotten password, for that start
    sessions: auth.Sessions = dataclasses.field(default_factory=auth.Sessions)
    chat_sessions: auth.Sessions = dataclasses.field(default_factory=lambda: auth.Sessions(cap=256))
    throttle: auth.Throttle = dataclasses.field(default_factory=auth.Throttle)
    form_key: bytes = dataclasses.field(default_factory=lambda: secrets.token_bytes(32))
    clock: Callable[[], float] = time.time
    started: float = dataclasses.field(default_factory=time.time)
    setup_lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    code_announced: bool = False

    def announce_setup_code(self, port: int) -> None:
        """Print the setup code, once: at start, or when the password is removed later (for
        example with `settings unset admin_password` to reset a forgotten one)."""
        if not self.code_announced:
            self.code_announced = True
            # The one way to prove, from the LAN, that you are the person who can read this log.
            log.warning(
                "No admin password is set. Open the settings page on port %d and enter the setup "
                "code %s to choose one.",
                port,
                self.setup_code,
            )


class Templates:
    """SimpleTemplate files from views/, compiled once. {{…}} escapes HTML."""

    def __init__(self) -> None:
        self._cache: dict[str, bottle.SimpleTemplate] = {}

    def render(self, name: str, **values: Any) -> str:
        template = self._cache.get(name)
        if template is None:
            template = self._cache[name] = bottle.SimpleTemplate(name=name, lookup=[str(VIEWS)])
        return str(template.render(**values))


# -- plumbing shared by the routes -------------------------------------------------------------


def client_address() -> str:
    # Not request.remote_addr: that believes X-Forwarded-For, which any client can send.
    return str(bottle.request.environ.get("REMOTE_ADDR", ""))


def language() -> str:
    chosen = bottle.request.query.get("lang") or bottle.request.get_cookie(LANG_COOKIE) or ""
    if chosen in pagetext.LANGUAGES:
        return chosen
    return pagetext.from_accept_language(bottle.request.headers.get("Accept-Language", ""))


# Routes set bottle.response and return the body: a returned HTTPResponse would replace the
# response's cookies, and the session and form cookies are set along the way.


def json_answer(code: int, **body: Any) -> str:
    bottle.response.status = code
    bottle.response.content_type = "application/json; charset=utf-8"
    bottle.response.set_header("Cache-Control", "no-store")
    return json.dumps(body, ensure_ascii=False)


def redirect(location: str) -> str:
    bottle.response.status = 303
    bottle.response.set_header("Location", location)
    return ""


def _secure() -> bool:
    scheme: str = bottle.request.urlparts.scheme
    return scheme == "https"


def set_cookie(name: str, value: str, max_age: int | None = None) -> None:
    options: dict[str, Any] = {"httponly": True, "samesite": "Strict", "path": "/", "secure": _secure()}
    if max_age is not None:
        options["max_age"] = max_age
    bottle.response.set_cookie(name, value, **options)


def _same_origin() -> bool:
    """A browser names the page a POST came from; refuse one from another site. (No Origin
    header means an older browser or a script, and then the CSRF token alone decides.)"""
    origin: str | None = bottle.request.headers.get("Origin")
    if not origin or origin == "null":
        return origin is None
    host: str = bottle.request.headers.get("Host", "")
    return origin.split("://", 1)[-1] == host


class RequireLogin:
    """Bottle plugin: every route needs a live session, and every non-GET one a CSRF token,
    unless the route was added with public=True."""

    name = "require_login"
    api = 2

    def __init__(self, console: Console) -> None:
        self._console = console

    def apply(self, callback: Callable[..., Any], route: bottle.Route) -> Callable[..., Any]:
        if route.config.get("public"):
            return callback
        console = self._console

        def guarded(*args: Any, **kwargs: Any) -> Any:
            values = console.settings()
            session = console.sessions.get(
                bottle.request.get_cookie(SESSION_COOKIE) or "", values.admin_password or ""
            )
            if session is None and route.config.get("chat"):
                session = chat_session(console, values)
            api = bottle.request.path.startswith("/api/") or bottle.request.method not in ("GET", "HEAD")
            if session is None:
                if api:
                    return json_answer(401, ok=False, error="log in first")
                if route.config.get("chat"):
                    return redirect("/chat/login")
                return redirect("/login" if values.admin_password else "/setup")
            if bottle.request.method not in ("GET", "HEAD"):
                given = bottle.request.headers.get("X-CSRF-Token") or bottle.request.forms.get("csrf") or ""
                if not auth.token_ok(session.csrf, given) or not _same_origin():
                    log.warning(
                        "refused a %s to %s without a valid CSRF token", bottle.request.method, route.rule
                    )
                    return json_answer(403, ok=False, error="missing or wrong CSRF token; reload the page")
            bottle.request.environ["synochatgpt.session"] = session
            return callback(*args, **kwargs)

        return guarded


def chat_session(console: Console, values: Values) -> auth.Session | None:
    """A web chat account's session, valid while that account and its password stand."""
    session_id = bottle.request.get_cookie(CHAT_COOKIE) or ""
    user = console.chat_sessions.owner(session_id)
    account = next((a for a in values.webchat_users if a["name"] == user), None)
    if account is None:
        console.chat_sessions.end(session_id)  # the account was removed
        return None
    return console.chat_sessions.get(session_id, account["hash"])


def current_session() -> auth.Session:
    session: auth.Session = bottle.request.environ["synochatgpt.session"]
    return session


def form() -> bottle.FormsDict:
    """The form with its fields decoded as UTF-8 (bottle 0.13 gives latin-1 otherwise)."""
    decoded: bottle.FormsDict = bottle.request.forms.decode()
    return decoded


# -- the routes ---------------------------------------------------------------------------------


def install(app: bottle.Bottle, console: Console) -> Pages:
    app.install(RequireLogin(console))
    site = Pages(console)
    site.route(app)
    return site


class Pages:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.views = Templates()

    def route(self, app: bottle.Bottle) -> None:
        public = [
            ("GET", "/setup", self.setup_form),
            ("POST", "/setup", self.setup_submit),
            ("GET", "/login", self.login_form),
            ("POST", "/login", self.login_submit),
            ("GET", "/static/<name:path>", self.static),
        ]
        for method, path, callback in public:
            app.route(path, method, callback, public=True)
        protected = [
            ("POST", "/logout", self.logout),
            ("GET", "/", self.index),
            ("POST", "/settings", self.save_settings),
            ("POST", "/password", self.change_password),
            ("POST", "/people", self.save_people),
            ("POST", "/api/test-model", self.test_model),
            ("POST", "/api/test-chat", self.test_chat),
            ("POST", "/api/test-qq", self.test_qq),
            ("POST", "/api/test-dingtalk", self.test_dingtalk),
            ("GET", "/api/webhooks", self.recent_webhooks),
            ("GET", "/api/status", self.status),
        ]
        for method, path, callback in protected:
            app.route(path, method, callback)

    # -- helpers -------------------------------------------------------------------------------

    def page(self, name: str, status: int = 200, **values: Any) -> str:
        lang = language()
        if bottle.request.query.get("lang") in pagetext.LANGUAGES:
            set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600)
        body = self.views.render(
            name,
            t=pagetext.Translator(lang),
            lang=lang,
            languages=pagetext.LANGUAGES,
            version=__version__,
            # The language links reload this page; after a form post that is the page itself.
            path=bottle.request.path if bottle.request.method == "GET" else "/",
            **values,
        )
        bottle.response.status = status
        bottle.response.content_type = "text/html; charset=utf-8"
        bottle.response.set_header("Cache-Control", "no-store")
        return body

    def translator(self) -> pagetext.Translator:
        return pagetext.Translator(language())

    def form_csrf(self) -> str:
        nonce = bottle.request.get_cookie(FORM_COOKIE) or ""
        if len(nonce) < 20:
            nonce = secrets.token_urlsafe(24)
            set_cookie(FORM_COOKIE, nonce)
        return auth.form_token(self.console.form_key, nonce)

    def form_csrf_ok(self) -> bool:
        nonce = bottle.request.get_cookie(FORM_COOKIE) or ""
        expected = auth.form_token(self.console.form_key, nonce) if nonce else ""
        return auth.token_ok(expected, bottle.request.forms.get("csrf") or "") and _same_origin()

    def start_session(self, password_hash: str) -> None:
        session = self.console.sessions.create(password_hash)
        set_cookie(SESSION_COOKIE, session.id)

    def auth_page(self, name: str, status: int = 200, error: str = "", wait: float = 0, **values: Any) -> str:
        """The setup and login pages, with a fresh form token."""
        if error in ("too_many", "login_busy"):
            bottle.response.set_header("Retry-After", str(round(wait + 0.5)))
        values.setdefault("message", "")
        return self.page(
            name,
            status,
            csrf=self.form_csrf(),
            error=error,
            wait=round(wait + 0.5),
            runtime=self.console.runtime,
            reset_command=self.console.reset_command,
            # Then the command would be refused: the variable wins over what it stores.
            password_fixed="admin_password" in self.console.settings().fixed,
            **values,
        )

    # -- first run and login -------------------------------------------------------------------

    def setup_form(self) -> str:
        if self.console.settings().admin_password:
            return redirect("/login")
        self.console.announce_setup_code(int(bottle.request.environ.get("SERVER_PORT") or 0))
        return self.auth_page("setup")

    def setup_submit(self) -> str:
        console = self.console
        if not self.form_csrf_ok():
            return self.auth_page("setup", 403, "csrf")
        client = client_address()
        fields = form()
        # Reserved before the code is compared, so codes sent all at once are counted as if one
        # by one; a reservation left unsettled (a password problem, no hashing slot) is not.
        with console.throttle.reserve(client) as attempt:
            if attempt.wait:
                return self.auth_page("setup", 429, "too_many", attempt.wait)
            with console.setup_lock:
                if console.settings().admin_password:
                    return redirect("/login")
                if not auth.setup_code_matches(fields.get("code", ""), console.setup_code):
                    delay = attempt.settle(False)
                    log.warning("first-run setup: wrong setup code from %s", client)
                    return self.auth_page(
                        "setup", 429 if delay else 401, "too_many" if delay else "bad_code", delay
                    )
                problem = auth.password_problem(fields.get("password", ""), fields.get("confirm", ""))
                if problem:
                    return self.auth_page("setup", 400, problem)
                with console.throttle.hashing() as free:
                    if not free:
                        return self.auth_page("setup", 503, "login_busy", console.throttle.BUSY_RETRY)
                    password_hash = auth.hash_password(fields.get("password", ""))
                console.save({"admin_password": password_hash}, ())
            attempt.settle(True)
        log.info("the admin password was set on the first-run page (from %s)", client)
        self.start_session(password_hash)
        return redirect("/?msg=welcome")

    def login_form(self) -> str:
        if not self.console.settings().admin_password:
            return redirect("/setup")
        message = bottle.request.query.get("msg", "")
        return self.auth_page("login", message=message if message in MESSAGES else "")

    def login_submit(self) -> str:
        console = self.console
        values = console.settings()
        if not values.admin_password:
            return redirect("/setup")
        if not self.form_csrf_ok():
            return self.auth_page("login", 403, "csrf")
        client = client_address()
        password = form().get("password", "")
        verdict = console.throttle.check(
            client, lambda: auth.verify_password(password, values.admin_password)
        )
        if verdict.busy:
            return self.auth_page("login", 503, "login_busy", verdict.wait)
        if not verdict.ok:
            if verdict.checked:
                log.warning("failed login from %s", client)
            if verdict.wait:
                return self.auth_page("login", 429, "too_many", verdict.wait)
            return self.auth_page("login", 401, "bad_password")
        log.info("admin logged in from %s", client)
        self.start_session(values.admin_password)
        return redirect("/")

    def logout(self) -> str:
        self.console.sessions.end(current_session().id)
        set_cookie(SESSION_COOKIE, "", max_age=0)
        return redirect("/login?msg=logged_out")

    # -- the page --------------------------------------------------------------------------------

    def main_page(
        self,
        status: int = 200,
        result: FormResult | None = None,
        password_error: str = "",
        people_errors: dict[str, str] | None = None,
        people_typed: dict[str, str] | None = None,
    ) -> str:
        console = self.console
        values = console.settings()
        t = pagetext.Translator(language())
        days = chart.days_back(datetime.date.fromtimestamp(console.clock()), CHART_DAYS)
        rows = chart.series(console.usage(days[0]), days, t("others"))
        root = bottle.request.urlparts
        message = bottle.request.query.get("msg", "")
        webhooks = console.monitor.webhooks()
        return self.page(
            "settings",
            status,
            csrf=current_session().csrf,
            values=values,
            settings=settings,
            groups=settings.GROUPS,
            errors=result.errors if result else {},
            submitted=result.submitted if result else {},
            outgoing=f"{root.scheme}://{root.netloc}/webhook",
            onebot_url=f"{root.scheme}://{root.netloc}/onebot",
            dingtalk_url=f"{root.scheme}://{root.netloc}/dingtalk",
            status_info=dashboard.status_info(console, values, t),
            webhooks=webhooks,
            recent_errors=console.monitor.errors(),
            error_kind=lambda kind: pagetext.error_kind(t, kind),
            chart_svg=chart.svg(rows, days, t("chart_title")),
            chart_legend=chart.legend(rows),
            chart_rows=rows,
            chart_days=days,
            message=message if message in MESSAGES else "",
            IN_PLACE=IN_PLACE,
            prompt_warning=prompt_warning(values, t) if bottle.request.query.get("warn") == "prompt" else "",
            last_user=dashboard.last_sender(webhooks, people.SYNOLOGY),
            last_qq=dashboard.last_sender(webhooks, "qq"),
            fmt_time=dashboard.fmt_time,
            webhook_detail=dashboard.webhook_detail,
            sender_of=dashboard.sender_of,
            channel_rows=channel_rows,
            password_error=password_error,
            people=dashboard.people_rows(console, values),
            people_errors=people_errors or {},
            people_typed=people_typed or {},
        )

    def index(self) -> str:
        return self.main_page()

    def save_settings(self) -> str:
        result = read_settings_form(form(), self.console.settings())
        if result.errors:
            return self.main_page(400, result)
        self.console.save(result.changes, result.remove)
        log.info(
            "settings saved from the settings page: %s",
            ", ".join(sorted([*result.changes, *result.remove])) or "nothing changed",
        )
        # Saved even so, with a warning beside Save (prompt_warning).
        heavy = crowded(self.console.settings())
        return redirect("/?msg=saved&warn=prompt#settings" if heavy else "/?msg=saved#settings")

    def change_password(self) -> str:
        console = self.console
        values = console.settings()
        if "admin_password" in values.fixed:
            return self.main_page(400, password_error="pw_fixed")  # noqa: S106 (a message key)
        client = client_address()
        fields = form()
        current = fields.get("current", "")
        verdict = console.throttle.check(client, lambda: auth.verify_password(current, values.admin_password))
        if verdict.busy:
            return self.main_page(503, password_error="login_busy")  # noqa: S106
        if not verdict.ok:
            if verdict.checked:
                return self.main_page(400, password_error="bad_current")  # noqa: S106
            return self.main_page(429, password_error="too_many")  # noqa: S106
        problem = auth.password_problem(fields.get("password", ""), fields.get("confirm", ""))
        if problem:
            return self.main_page(400, password_error=problem)
        with console.throttle.hashing() as free:
            if not free:
                return self.main_page(503, password_error="login_busy")  # noqa: S106
            password_hash = auth.hash_password(fields.get("password", ""))
        console.save({"admin_password": password_hash}, ())
        console.sessions.end_others(current_session().id, password_hash)
        log.info("the admin password was changed from %s; other sessions ended", client)
        return redirect("/?msg=password_changed#account")  # where its confirmation is

    def save_people(self) -> str:
        """Each person's own token quotas; an empty field means the general one."""
        fields = form()
        changes: dict[str, dict[str, int] | None] = {}
        errors: dict[str, str] = {}
        typed: dict[str, str] = {}
        for entry in (fields.get("ids") or "").split(","):
            person = people.from_entry(entry)
            if person is None:
                continue
            user_id = people.short(person)  # as the form's field names write it
            own: dict[str, int] = {}
            for name in ("daily_tokens", "monthly_tokens"):
                raw = typed[f"{name}-{user_id}"] = (fields.get(f"{name}-{user_id}") or "").strip()
                if not raw:
                    continue
                try:
                    own[name] = settings.parse(settings.BY_NAME[name], raw)
                except settings.Invalid as exc:
                    errors[user_id] = pagetext.Translator(language()).problem(exc)
            changes[person] = own or None
        if errors:
            return self.main_page(400, people_errors=errors, people_typed=typed)
        for person, own_limits in changes.items():
            self.console.set_limits(person, own_limits)
        log.info("per-person quotas saved from the settings page for %d people", len(changes))
        return redirect("/?msg=people_saved#people")

    # -- live checks and data for the page's script ------------------------------------------------

    def checked_values(self, check: str) -> tuple[Values, str | None]:
        """The form's values for a live check: only the fields that check uses may stop it (a
        wrong model URL does not block Chat's test message); others keep their stored value."""
        values = self.console.settings()
        result = read_settings_form(form(), values)
        result.errors = {name: exc for name, exc in result.errors.items() if uses(check, name)}
        if result.errors:
            t = pagetext.Translator(language())
            problems = {name: t.problem(exc) for name, exc in result.errors.items()}
            labels = {name: t.label(settings.BY_NAME[name]) for name in result.errors}
            return values, json_answer(400, ok=False, error=t("fix_fields"), fields=problems, labels=labels)
        return apply_form(values, result), None

    def test_model(self) -> str:
        values, refused = self.checked_values("model")
        if refused is not None:
            return refused
        result = self.console.test_model(values)
        t = pagetext.Translator(language())
        body: dict[str, Any] = {"ok": result.ok, **result.data}
        unlisted = body.pop("models_problem", None)
        if unlisted is not None and result.ok:  # when the prompt failed too, its error says it
            body["models_error"] = t("models_unlisted", detail=pagetext.model_error(t, unlisted))
        if not result.ok:
            body["error"] = pagetext.model_error(t, result)
        return json_answer(200, **body)

    def test_chat(self) -> str:
        values, refused = self.checked_values("chat")
        if refused is not None:
            return refused
        t = pagetext.Translator(language())
        raw = (form().get("user_id") or "").strip()
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 10) or not 0 < int(raw) < 2**31:
            return json_answer(400, ok=False, error=t("bad_user_id"), fields={"user_id": t("bad_user_id")})
        result = self.console.test_chat(values, int(raw))
        body: dict[str, Any] = {"ok": result.ok, **result.data}
        if not result.ok:
            body["error"] = pagetext.chat_error(t, result)
        return json_answer(200, **body)

    def test_qq(self) -> str:
        values, refused = self.checked_values("qq")
        if refused is not None:
            return refused
        t = pagetext.Translator(language())
        fields = form()
        raw = (fields.get("qq_target") or "").strip()
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 12) or int(raw) == 0:
            problem = t("qq_bad_target")
            return json_answer(400, ok=False, error=problem, fields={"qq_target": problem})
        result = self.console.test_qq(values, fields.get("qq_kind") == "group", str(int(raw)))
        body: dict[str, Any] = {"ok": result.ok, **result.data}
        if not result.ok:
            body["error"] = pagetext.chat_error(t, result)
        return json_answer(200, **body)

    def test_dingtalk(self) -> str:
        values, refused = self.checked_values("dingtalk")
        if refused is not None:
            return refused
        t = pagetext.Translator(language())
        user = (form().get("dt_user") or "").strip()
        if user and not DINGTALK_USER.fullmatch(user):
            return json_answer(400, ok=False, error=t("dt_bad_user"), fields={"dt_user": t("dt_bad_user")})
        result = self.console.test_dingtalk(values, user)
        body: dict[str, Any] = {"ok": result.ok, **result.data}
        if not result.ok:
            body["error"] = pagetext.chat_error(t, result)
        return json_answer(200, **body)

    def recent_webhooks(self) -> str:
        return json_answer(200, rows=dashboard.webhook_rows(self.console, self.translator()))

    def status(self) -> str:
        console = self.console
        info = dashboard.status_info(console, console.settings(), self.translator())
        return json_answer(200, **info, errors=dashboard.error_rows(console))

    def static(self, name: str) -> bottle.HTTPResponse:
        response: bottle.HTTPResponse = bottle.static_file(name, root=str(STATIC))
        response.set_header("Cache-Control", "public, max-age=3600")
        return response


# What each live check reads: setting groups, or single settings of another group.
CHECK_USES = {
    "model": ("model", "proxy", "request_timeout", "answer_timeout", "max_answer_chars", "max_retries"),
    "chat": ("chat", "tls_verify", "ca_bundle"),
    "qq": ("qq",),
    "dingtalk": ("dingtalk",),
}


def uses(check: str, name: str) -> bool:
    return name in CHECK_USES[check] or settings.BY_NAME[name].group in CHECK_USES[check]


def crowded(values: Values) -> bool:
    """Whether the system prompt fills over half the context budget: bot.build_messages keeps
    it whole and drops the oldest exchanges, so little or no history fits beside it."""
    return estimate_tokens(values.system_prompt) > int(values.context_tokens) // 2


def prompt_warning(values: Values, t: pagetext.Translator) -> str:
    """What a big system prompt costs, in the reader's words; empty once it no longer does."""
    if not crowded(values):
        return ""
    tokens, budget = estimate_tokens(values.system_prompt), int(values.context_tokens)
    return t("warn_prompt_budget", tokens=f"{tokens:,}", budget=f"{budget:,}")
