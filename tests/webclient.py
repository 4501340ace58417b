"""A small browser over requests: keeps cookies and the page's CSRF token, and never follows
redirects by itself, so tests can check where each answer points."""

from __future__ import annotations

import html
import re
from typing import Any

import requests

ADMIN_PASSWORD = "correct horse battery staple"
_TOKEN = re.compile(r'(?:name="csrf" value|name="csrf-token" content)="([^"]+)"')


class WebClient:
    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()
        self.csrf = ""

    def _remember(self, answer: requests.Response) -> requests.Response:
        found = _TOKEN.search(answer.text) if "text/html" in answer.headers.get("Content-Type", "") else None
        if found:
            self.csrf = found.group(1)
        return answer

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("allow_redirects", False)
        return self._remember(self.http.get(self.base + path, timeout=30, **kwargs))

    def post(
        self, path: str, data: dict[str, Any] | None = None, csrf: bool = True, **kwargs: Any
    ) -> requests.Response:
        fields = dict(data or {})
        if csrf:
            fields.setdefault("csrf", self.csrf)
        kwargs.setdefault("allow_redirects", False)
        return self._remember(self.http.post(self.base + path, data=fields, timeout=90, **kwargs))

    def api(self, path: str, data: dict[str, Any] | None = None) -> requests.Response:
        """A call as the page's script makes it: the token in a header, not the form."""
        return self.http.post(
            self.base + path, data=data or {}, headers={"X-CSRF-Token": self.csrf}, timeout=90
        )

    def login(self, password: str = ADMIN_PASSWORD) -> requests.Response:
        self.get("/login")
        return self.post("/login", {"password": password})

    def settings_form(self) -> dict[str, str]:
        """The settings form's current fields as the page would post them (secrets left empty)."""
        page = self.get("/").text
        form = page[page.index('id="settings"') : page.index("</form>", page.index('id="settings"'))]
        fields: dict[str, str] = {}
        for tag in re.finditer(r"<(input|textarea|select)\b([^>]*)>", form):
            attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', tag.group(2)))
            name = attrs.get("name")
            if not name or name == "csrf":
                continue
            if tag.group(1) == "textarea":
                end = form.index("</textarea>", tag.end())
                fields[name] = _unescape(form[tag.end() : end])
            elif tag.group(1) == "select":
                chosen = re.search(r'<option value="([^"]*)" selected', form[tag.end() :])
                fields[name] = _unescape(chosen.group(1)) if chosen else ""
            elif attrs.get("type") == "checkbox":
                if " checked" in tag.group(2) and not name.startswith("clear_"):
                    fields[name] = attrs.get("value", "on")
            else:
                fields[name] = _unescape(attrs.get("value", ""))
        return fields


def _unescape(text: str) -> str:
    return html.unescape(text)
