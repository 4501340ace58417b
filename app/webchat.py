"""The web chat at /chat: the same model, settings, history store and limits as the bot, in a
browser. Answers stream to the page as server-sent events (read with fetch, since a question is
a POST). Who may use it: the admin, and the web chat accounts from the settings page."""

from __future__ import annotations

import base64
import datetime
import json
import logging
import queue
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

import bottle

from app import auth, commands, export, i18n, images, limits, pages, people
from app.llm import OnText, Stop
from app.pictures import Pictures
from app.platforms.base import Attachment
from app.settings import Values
from app.text import title_of
from app.worker import Job

log = logging.getLogger(__name__)

CHAT_ID = re.compile(r"^[a-z0-9]{8,32}$")
MAX_QUESTION = 32_000  # characters; far more than anyone types, far less than a memory problem
MAX_CHATS = 200  # listed in the sidebar
TITLE_CHARS = 60  # of a chat's title, made from its first question
HEARTBEAT = 15.0  # seconds between keep-alive comments while the model thinks
# A streamed answer holds one of the server's 16 threads for its whole length: these caps leave
# at least 12 of them to the webhook, whatever the web chat's users do.
ANSWERS_PER_ACCOUNT = 2
ANSWERS_IN_ALL = 4
CAP_RETRY = 5  # seconds, in Retry-After when a cap is reached


class Asker(Protocol):
    def ask(
        self,
        job: Job,
        question: str,
        values: Values,
        replace_last: bool = False,
        *,
        on_text: OnText | None = None,
        stop: Stop | None = None,
        pictures: Sequence[str] = (),
    ) -> str: ...


class Drawer(Protocol):
    def __call__(self, job: Job, prompt: str, values: Values, *, queued: bool = True) -> str: ...


class ChatStore(Protocol):
    pictures: Pictures

    def history(self, key: str) -> list[dict[str, Any]]: ...
    def pop_last_exchange(self, key: str) -> dict[str, Any] | None: ...
    def drop_exchange(self, key: str, job_id: str) -> None: ...
    def conversation_meta(self, key: str) -> dict[str, Any]: ...
    def update_conversation_meta(self, key: str, **fields: Any) -> None: ...
    def conversations(self, prefix: str) -> list[dict[str, Any]]: ...
    def delete_conversation(self, key: str) -> None: ...
    def update_user(self, person: str, **fields: Any) -> None: ...


def identity(session: auth.Session, values: Values) -> tuple[str, str, str]:
    """The person, the name and the conversation keys' prefix of a web chat user. The prefix
    holds the number stored with the account (unique among the accounts: settings assigns
    it), as it did before people were named by strings, so existing chats keep their files."""
    if not session.user:
        return people.WEB_ADMIN, "admin", "web1-"
    account = next((a for a in values.webchat_users if a["name"] == session.user), None)
    if account is None:  # removed while this request was under way
        raise bottle.HTTPResponse(
            json.dumps({"ok": False, "error": "log in first"}),
            401,
            {"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store"},
        )
    return people.of(people.WEB, session.user), session.user, f"web{-int(account['id'])}-"


class WebChat:
    def __init__(
        self,
        site: pages.Pages,
        asker: Asker,
        store: ChatStore,
        policy: limits.Policy,
        clock: Callable[[], float],
        *,
        draw: Drawer | None = None,
    ) -> None:
        self.draw = draw
        self.site = site
        self.console = site.console
        self.asker = asker
        self.store = store
        self.policy = policy
        self.clock = clock
        self._running: dict[str, threading.Event] = {}
        self._answering: dict[str, int] = {}  # answers being written, per account
        self._lock = threading.Lock()

    def route(self, app: bottle.Bottle) -> None:
        app.route("/chat/login", "GET", self.login_form, public=True)
        app.route("/chat/login", "POST", self.login_submit, public=True)
        chat = [
            ("GET", "/chat", self.page),
            ("POST", "/chat/logout", self.logout),
            ("GET", "/api/chat/list", self.list_chats),
            ("GET", "/api/chat/history", self.history),
            ("POST", "/api/chat/send", self.send),
            ("POST", "/api/chat/stop", self.stop),
            ("POST", "/api/chat/delete", self.delete),
            ("GET", "/api/chat/export", self.export),
            ("GET", "/api/chat/picture", self.picture),
        ]
        for method, path, callback in chat:
            app.route(path, method, callback, chat=True)

    # -- login -------------------------------------------------------------------------------

    def login_form(self) -> str:
        return self.site.auth_page("chat_login")

    def login_submit(self) -> str:
        console = self.console
        if not self.site.form_csrf_ok():
            return self.site.auth_page("chat_login", 403, "csrf")
        client = pages.client_address()
        fields = pages.form()
        name, password = (fields.get("name") or "").strip(), fields.get("password") or ""
        values = console.settings()
        if name.casefold() == "admin" and values.admin_password:
            account = {"name": "", "hash": values.admin_password}
        else:
            account = next((a for a in values.webchat_users if a["name"] == name), {"name": "", "hash": ""})
        # An unknown name is checked against the admin's hash (and refused), so the time taken
        # does not tell which names exist.
        # The check is counted before it runs and hashes in one of the throttle's few slots, so
        # guesses sent all at once get no more tries, and no more memory, than one by one.
        verdict = console.throttle.check(
            client,
            lambda: (
                auth.verify_password(password, account["hash"] or values.admin_password)
                and bool(account["hash"])
            ),
        )
        if verdict.busy:
            return self.site.auth_page("chat_login", 503, "login_busy", verdict.wait)
        if not verdict.ok:
            if verdict.checked:
                log.warning("failed web chat login from %s", client)
            return self.site.auth_page(
                "chat_login",
                429 if verdict.wait else 401,
                "too_many" if verdict.wait else "bad_login",
                verdict.wait,
            )
        if account["name"]:
            session = console.chat_sessions.create(account["hash"], user=account["name"])
            pages.set_cookie(pages.CHAT_COOKIE, session.id)
        else:  # the admin: the settings page's own session, so both pages work
            self.site.start_session(account["hash"])
        log.info("web chat login by %s from %s", account["name"] or "the admin", client)
        return pages.redirect("/chat")

    def logout(self) -> str:
        session = pages.current_session()
        (self.console.chat_sessions if session.user else self.console.sessions).end(session.id)
        pages.set_cookie(pages.CHAT_COOKIE if session.user else pages.SESSION_COOKIE, "", max_age=0)
        return pages.redirect("/chat/login")

    # -- the page and its data ----------------------------------------------------------------------

    def page(self) -> str:
        session = pages.current_session()
        _, name, _ = identity(session, self.console.settings())
        t = self.site.translator()
        texts = json.dumps({k: t(k) for k in CHAT_TEXTS}, ensure_ascii=False).replace("<", "\\u003c")
        return self.site.page("chat", csrf=session.csrf, who=name, is_admin=not session.user, texts=texts)

    def _prefix(self) -> str:
        return identity(pages.current_session(), self.console.settings())[2]

    def _key(self, chat_id: str) -> str | None:
        return self._prefix() + chat_id if CHAT_ID.match(chat_id) else None

    def list_chats(self) -> str:
        prefix = self._prefix()
        chats = [
            {
                "id": c["key"][len(prefix) :],
                "title": _title(c["meta"]),
                "changed": c["changed"],
            }
            for c in self.store.conversations(prefix)[:MAX_CHATS]
        ]
        return pages.json_answer(200, chats=chats)

    def history(self) -> str:
        key = self._key(bottle.request.query.get("chat", ""))
        if key is None:
            return pages.json_answer(400, ok=False, error="bad chat id")
        chat_id = key.split("-", 1)[1]
        messages = [
            {
                "user": e["user"],
                "assistant": e["assistant"],
                "at": e.get("at"),
                "image": picture_src(chat_id, e["image"]) if self._kept(key, e) else "",
                "pictures": int(e.get("pictures") or 0),
                "stopped": bool(e.get("stopped")),
            }
            for e in self.store.history(key)
        ]
        return pages.json_answer(200, title=_title(self.store.conversation_meta(key)), messages=messages)

    def _kept(self, key: str, exchange: dict[str, Any]) -> bool:
        return bool(exchange.get("image")) and self.store.pictures.exists(key, str(exchange["image"]))

    def picture(self) -> bottle.HTTPResponse | str:
        query = bottle.request.query
        key = self._key(query.get("chat", ""))
        found = self.store.pictures.get(key, query.get("name", "")) if key else None
        if found is None:
            return pages.json_answer(404, ok=False, error="no such picture")
        content, mime = found
        headers = {"Content-Type": mime, "Cache-Control": "private, max-age=86400"}
        return bottle.HTTPResponse(body=content, status=200, headers=headers)

    def delete(self) -> str:
        key = self._key(pages.form().get("chat", ""))
        if key is None:
            return pages.json_answer(400, ok=False, error="bad chat id")
        self.store.delete_conversation(key)
        return pages.json_answer(200, ok=True)

    def export(self) -> bottle.HTTPResponse | str:
        key = self._key(bottle.request.query.get("chat", ""))
        if key is None:
            return pages.json_answer(400, ok=False, error="bad chat id")
        history = self.store.history(key)
        meta = self.store.conversation_meta(key)
        now = datetime.datetime.fromtimestamp(self.clock())
        values = self.console.settings()
        text = export.to_markdown(
            history,
            title="SynoChatGPT: " + (_title(meta) or "chat"),
            model=values.model,
            persona=meta.get("persona", ""),
            exported=now,
            picture=Embedded(self.store.pictures, key),
        )
        name = export.file_name(now, key.split("-", 1)[1])
        return bottle.HTTPResponse(
            body=text.encode(),
            status=200,
            headers={
                "Content-Type": "text/markdown; charset=utf-8",
                "Content-Disposition": f'attachment; filename="{name}"',
                "Cache-Control": "no-store",
            },
        )

    # -- asking ----------------------------------------------------------------------------------

    def stop(self) -> str:
        key = self._key(pages.form().get("chat", ""))
        with self._lock:
            running = self._running.get(key or "")
        if running is not None:
            running.set()
        return pages.json_answer(200, ok=True, stopped=running is not None)

    def send(self) -> Any:
        session = pages.current_session()
        values = self.console.settings()
        person, name, _ = identity(session, values)
        fields = pages.form()
        key = self._key(fields.get("chat", ""))
        regenerate = fields.get("regenerate") == "1"
        lang = "zh" if pages.language().startswith("zh") else "en"  # the page's language
        if key is None:
            return pages.json_answer(400, ok=False, error="bad chat id")
        try:
            question, draw, replaced, pictures = self._request(fields, key, regenerate, lang)
        except ValueError as exc:
            return pages.json_answer(400, ok=False, error=i18n.t(lang, str(exc)))
        if len(question) > MAX_QUESTION:
            return pages.json_answer(413, ok=False, error=self.site.translator()("wc_too_long"))
        who, refusal = self.policy.admit(
            values, person, name, lang, guest_notice="refused_guest_web", remind=False
        )
        if refusal is not None:
            return pages.json_answer(403, ok=False, error=refusal.text)
        stop = threading.Event()
        # The answer's place is taken before the limiter counts the question, so a question
        # refused for a full server does not also cost the person their interval.
        with self._lock:
            if key in self._running:
                return pages.json_answer(409, ok=False, error=self.site.translator()("wc_busy"))
            full = self._full(person)
            if full:
                bottle.response.set_header("Retry-After", str(CAP_RETRY))
                return pages.json_answer(429, ok=False, error=full)
            self._running[key] = stop
            self._answering[person] = self._answering.get(person, 0) + 1
        try:
            refusal = self.policy.pace(values, who, person, lang)
            if refusal is not None:
                self._done(key, person)
                return pages.json_answer(429, ok=False, error=refusal.text)
            if not self.store.conversation_meta(key).get("title"):
                self.store.update_conversation_meta(key, title=title_of(question, TITLE_CHARS))
            job = Job(lane=key, conversation=key, person=person, username=name, text=question, lang=lang)
            bottle.response.content_type = "text/event-stream; charset=utf-8"
            bottle.response.set_header("Cache-Control", "no-store")
            bottle.response.set_header("X-Accel-Buffering", "no")  # a reverse proxy must not hold it back
            if draw:
                return self._draw(job, question, values, replaced=replaced, key=key)
            return self._stream(
                job, question, values, regenerate=regenerate, stop=stop, key=key, pictures=pictures
            )
        except Exception:
            self._done(key, person)  # no answer started: its place is free again
            raise

    def _request(
        self, fields: bottle.FormsDict, key: str, regenerate: bool, lang: str
    ) -> tuple[str, bool, str, list[str]]:
        """What is asked: (question or prompt, draw?, the job of the exchange it replaces,
        pictures as data: URLs). ValueError with the key of the sentence saying what is wrong."""
        question = (fields.get("text") or "").strip()
        replaced = ""
        # Drawing: the Draw button, or /image, img: and 图片： typed as in the chat platforms.
        draw = fields.get("draw") == "1" or commands.command_of(question) == "/image"
        if regenerate:
            history = self.store.history(key)
            if not history:
                raise ValueError("retry_nothing")
            if history[-1].get("pictures"):  # not kept, so they cannot be asked about again
                raise ValueError("retry_picture")
            question = str(history[-1]["user"])
            draw = bool(history[-1].get("image"))
            replaced = str(history[-1].get("job", ""))
        pictures = [] if draw or regenerate else read_pictures(fields.getall("picture"))
        if pictures and not question:
            question = i18n.t(lang, "describe_picture")
        if draw and commands.command_of(question) == "/image":
            question = commands.image_prompt(question)
        if draw and (not question or self.draw is None):
            raise ValueError("image_empty")
        if not question:
            raise ValueError("ask_empty")
        return question, draw, replaced, pictures

    def _full(self, person: str) -> str:
        """Why no further answer may start now (the page shows it), or "". Under self._lock."""
        if self._answering.get(person, 0) >= ANSWERS_PER_ACCOUNT:
            return self.site.translator()("wc_own_cap", limit=ANSWERS_PER_ACCOUNT)
        if sum(self._answering.values()) >= ANSWERS_IN_ALL:
            return self.site.translator()("wc_all_cap")
        return ""

    def _done(self, key: str, person: str) -> None:
        with self._lock:
            self._running.pop(key, None)
            left = self._answering.get(person, 0) - 1
            if left > 0:
                self._answering[person] = left
            else:
                self._answering.pop(person, None)

    def _stream(
        self,
        job: Job,
        question: str,
        values: Values,
        *,
        regenerate: bool,
        stop: threading.Event,
        key: str,
        pictures: Sequence[str] = (),
    ) -> Iterator[bytes]:
        """Starts the answer at once (so its slot is given back even if the page never reads
        the stream) and returns the events to send."""
        events: queue.Queue[tuple[str, Any]] = queue.Queue()
        shown: list[str] = []

        def piece(text: str) -> None:
            shown.append(text)
            events.put(("token", {"t": text}))

        def work() -> None:
            try:
                reply = self.asker.ask(
                    job,
                    question,
                    values,
                    replace_last=regenerate,
                    on_text=piece,
                    stop=stop,
                    pictures=pictures,
                )
                streamed = "".join(shown)
                notice = not streamed.strip() or not _same_answer(reply, streamed)
                events.put(("done", {"text": reply, "notice": notice, "stopped": stop.is_set()}))
            except Exception:
                log.exception("web chat answer failed")
                events.put(("error", {"message": i18n.t(job.lang, "err_internal")}))
            finally:
                self._done(key, job.person)

        threading.Thread(target=work, name="webchat", daemon=True).start()
        return _events(events, stop)

    def _draw(self, job: Job, prompt: str, values: Values, *, replaced: str, key: str) -> Iterator[bytes]:
        """A picture instead of an answer: the page shows it is drawing, then the picture,
        which is kept with the chat (pictures.py)."""
        events: queue.Queue[tuple[str, Any]] = queue.Queue()
        draw = self.draw
        assert draw is not None  # send() checked

        def work() -> None:
            try:
                events.put(("drawing", {}))
                reply = draw(job, prompt, values, queued=False)
                src = ""
                if job.attachments:
                    found = Attachment.from_dict(job.attachments[0])
                    self.store.pictures.save(key, found.name, found.content)
                    src = picture_src(key.split("-", 1)[1], found.name)
                    # A new picture for "Regenerate": only now does the old one go.
                    self.store.drop_exchange(key, replaced)
                events.put(("done", {"text": reply, "notice": not src, "stopped": False, "image": src}))
            except Exception:
                log.exception("web chat drawing failed")
                events.put(("error", {"message": i18n.t(job.lang, "err_internal")}))
            finally:
                self._done(key, job.person)

        threading.Thread(target=work, name="webchat-draw", daemon=True).start()
        return _events(events, threading.Event())


MAX_PICTURES = 4  # with one question
_DATA_URL = re.compile(r"^data:(image/(?:png|jpeg|webp|gif));base64,([A-Za-z0-9+/=]+)$")


def read_pictures(fields: list[str]) -> list[str]:
    """The pictures pasted or dropped into the page, as canonical data: URLs; ValueError with
    the key of the sentence that says what is wrong."""
    if len(fields) > MAX_PICTURES:
        raise ValueError("too_many_pictures")
    found = []
    for field in fields:
        match = _DATA_URL.match(field.strip())
        try:
            content = base64.b64decode(match.group(2), validate=True) if match else b""
        except ValueError:
            content = b""
        mime = images.mime_of(content)
        if not mime:
            raise ValueError("picture_not_image")
        if len(content) > images.MAX_READ:
            raise ValueError("picture_too_big")
        found.append(f"data:{mime};base64,{base64.b64encode(content).decode()}")
    return found


EMBED_BYTES = 20 * 1024 * 1024  # pictures written into one export; the rest stay in the chat


class Embedded:
    """An export's pictures as data: URLs, the newest first up to EMBED_BYTES in all, so a chat
    with a hundred drawings cannot make one export hold gigabytes in memory."""

    def __init__(self, pictures: Pictures, key: str) -> None:
        self._pictures, self._key, self._left = pictures, key, EMBED_BYTES

    def __call__(self, name: str) -> str | None:
        found = self._pictures.get(self._key, name)
        if found is None or len(found[0]) > self._left:
            return None
        self._left -= len(found[0])
        return f"data:{found[1]};base64,{base64.b64encode(found[0]).decode()}"


def picture_src(chat_id: str, name: str) -> str:
    return f"/api/chat/picture?chat={chat_id}&name={name}"


def _events(events: queue.Queue[tuple[str, Any]], stop: threading.Event) -> Iterator[bytes]:
    try:
        yield b": start\n\n"
        while True:
            try:
                kind, data = events.get(timeout=HEARTBEAT)
            except queue.Empty:
                yield b": waiting\n\n"  # keeps proxies and the browser from giving up
                continue
            yield f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()
            if kind in ("done", "error"):
                return
    finally:
        stop.set()  # the reader went away (or the answer is complete): stop the model


def _title(meta: dict[str, Any]) -> str:
    """A chat's title as plain words. Older versions stored the question's Markdown in it."""
    return title_of(str(meta.get("title") or ""), TITLE_CHARS)


def _same_answer(reply: str, streamed: str) -> bool:
    """Whether the final reply is the streamed answer (thinking stripped, whitespace trimmed),
    rather than a notice such as a quota or a model error."""
    return reply.strip() in streamed or streamed.strip() in reply


CHAT_TEXTS = (
    "wc_new",
    "wc_chats",
    "wc_empty",
    "wc_placeholder",
    "wc_send",
    "wc_stop",
    "wc_regenerate",
    "wc_export",
    "wc_delete",
    "wc_delete_confirm",
    "wc_stopped",
    "wc_error",
    "wc_copy",
    "wc_copied",
    "wc_you",
    "wc_untitled",
    "wc_menu",
    "wc_draw",
    "wc_drawing",
    "wc_picture",
    "wc_pictures",
    "wc_pictures_too_big",
    "wc_remove_picture",
    "wc_attach",
)
