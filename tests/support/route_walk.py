"""Walk every rule of the URL map with hostile input, as a browser-less attacker would.

For one signed-in role (or a visitor) the walker visits each rule and method with real
ids, learns which query and form fields the route reads (the forms on its pages, and the
keys the view itself looks up, recorded by a request class that watches `request.args`
and `request.form`), then sends hostile values in every path part, every such field,
repeated fields and missing fields, keeping the CSRF token valid. It reports every 5xx
and every refused request (4xx) that changed the ledger anyway; a GET must never change
it. New routes and new fields are covered without touching the walker.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

from flask import Flask
from flask.testing import FlaskClient
from flask.wrappers import Request
from sqlalchemy import Engine, text
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.routing import Rule
from werkzeug.routing.converters import NumberConverter
from werkzeug.test import TestResponse
from werkzeug.utils import cached_property

from filmsphere.extensions import db
from filmsphere.models import utcnow
from filmsphere.services.accounts.sessions import load_user as load_session_user
from tests.conftest import csrf_from

# Hostile values for every field and string path part: a NUL, numbers past any column
# and past Python's int() limit, a negative number, over-long text, wrong types, odd
# Unicode, a far-off date, and nothing at all.
HOSTILE: dict[str, str] = {
    "nul": "a\x00b",
    "huge": "9" * 30,
    "many-digits": "9" * 5000,  # past Python's limit for int("...")
    "int32+1": str(2**31),
    "negative": "-1",
    "fraction": "1.5",
    "word": "abc",
    "long": "x" * 5000,
    "unicode": "\u202e\U0001f600\u0301",
    "far-date": "9999-12-31",
    "empty": "",
}
# Path parts of an int converter never reach the view when they aren't numbers; a few
# values show the converter holds.
HOSTILE_IDS: dict[str, str] = {"huge": "9" * 30, "int32+1": str(2**31), "negative": "-1"}
HOSTILE_KEY = "k\x00"


# --- which fields a view reads ----------------------------------------------------------


class _Reads:
    """The keys looked up in request.args / request.form during the current request."""

    args: set[str] = set()
    form: set[str] = set()

    @classmethod
    def clear(cls) -> None:
        cls.args, cls.form = set(), set()


class _RecordingDict(ImmutableMultiDict):  # type: ignore[type-arg]
    """A read-only multidict that notes every key a view asks for (iterating doesn't
    count: the request guard looks at everything without 'reading' a field)."""

    def __init__(self, data: Any, seen: set[str]) -> None:
        super().__init__(data)
        self._seen = seen

    def __getitem__(self, key: Any) -> Any:
        self._seen.add(key)
        return super().__getitem__(key)

    def get(self, key: Any, default: Any = None, type: Any = None) -> Any:  # noqa: A002
        self._seen.add(key)
        return super().get(key, default, type)

    def getlist(self, key: Any, type: Any = None) -> Any:  # noqa: A002
        self._seen.add(key)
        return super().getlist(key, type)

    def __contains__(self, key: Any) -> bool:
        self._seen.add(key)
        return super().__contains__(key)


class RecordingRequest(Request):
    @cached_property
    def args(self) -> Any:
        return _RecordingDict(super().args.items(multi=True), _Reads.args)

    @cached_property
    def form(self) -> Any:
        return _RecordingDict(super().form.items(multi=True), _Reads.form)


# --- the forms on a page ------------------------------------------------------------------


@dataclass
class Form:
    method: str
    action: str  # path only
    fields: dict[str, list[str]] = field(default_factory=dict)  # what a browser would send
    names: set[str] = field(default_factory=set)  # every named control, buttons included


class _FormParser(HTMLParser):
    def __init__(self, page_path: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page_path = page_path
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: str | None = None
        self._select_first: str | None = None
        self._select_chosen = False
        self._textarea: str | None = None

    def _path(self, action: str | None) -> str:
        return urlsplit(urljoin(self.page_path, action or self.page_path)).path

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "option":
            self._option(a)
            return
        if tag == "form":
            self._form = Form(a.get("method", "get").lower(), self._path(a.get("action")))
            self.forms.append(self._form)
            return
        form, name = self._form, a.get("name")
        if form is None:
            return
        if tag == "button" and a.get("formaction"):
            # A button posting elsewhere (a seat): that address gets this form's fields.
            other = Form(form.method, self._path(a["formaction"]), form.fields, form.names)
            self.forms.append(other)
        if not name:
            return
        if tag == "input":
            form.names.add(name)
            kind = a.get("type", "text").lower()
            if kind in ("submit", "button", "image", "reset", "file"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            default = "on" if kind in ("checkbox", "radio") else ""
            form.fields.setdefault(name, []).append(a.get("value", default))
        elif tag == "button":
            form.names.add(name)
        elif tag == "select":
            form.names.add(name)
            # A single select sends its first option when none is selected; a multiple
            # one sends nothing.
            self._select, self._select_first = name, None
            self._select_chosen = "multiple" in a
        elif tag == "textarea":
            form.names.add(name)
            self._textarea = name
            form.fields[name] = [""]

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        if self._form is not None and self._textarea is not None:
            self._form.fields[self._textarea][0] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select" and self._form is not None and self._select is not None:
            if not self._select_chosen and self._select_first is not None:
                self._form.fields.setdefault(self._select, []).append(self._select_first)
            self._select = None

    def _option(self, attrs: dict[str, str]) -> None:
        if self._form is None or self._select is None:
            return
        value = attrs.get("value", "")
        if self._select_first is None:
            self._select_first = value
        if "selected" in attrs:
            self._select_chosen = True
            self._form.fields.setdefault(self._select, []).append(value)


def forms_on(page_path: str, html: str) -> list[Form]:
    """The forms of a page with what a browser would send from each as it stands."""
    parser = _FormParser(page_path)
    parser.feed(html)
    return parser.forms


# --- the walk -----------------------------------------------------------------------------


@dataclass
class Actor:
    """Who walks: a role name, the user (None: a visitor) and how to sign the client in
    as them, and the real values of path parts (ids of existing rows, their booking)."""

    role: str
    user_id: int | None
    sign_in: Callable[[FlaskClient], None]
    path_values: dict[str, Any]


@dataclass
class WalkReport:
    requests: int = 0
    failures: list[str] = field(default_factory=list)
    mutated: set[tuple[str, str, str]] = field(default_factory=set)  # (method, rule, key)


def _ledger(engine: Engine) -> tuple[int, int]:
    with engine.connect() as connection:
        count, total = connection.execute(
            text("SELECT count(*), coalesce(sum(amount_coins), 0) FROM ledger_entries")
        ).one()
    return int(count), int(total)


def _routes(app: Flask, only: Callable[[Rule], bool] | None) -> list[tuple[Rule, str]]:
    pairs = [
        (rule, method)
        for rule in app.url_map.iter_rules()
        if only is None or only(rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
    ]
    # Every page first (their forms tell the POSTs what to send), each group by path.
    return sorted(pairs, key=lambda p: (p[1] != "GET", p[0].rule, p[1]))


class Walker:
    def __init__(self, app: Flask, actor: Actor, report: WalkReport) -> None:
        self.app = app
        self.actor = actor
        self.report = report
        self.client = app.test_client()
        self.forms: dict[tuple[str, str], Form] = {}
        self.token = ""
        with app.app_context():
            self.engine = db.engine
        self.ledger = (0, 0)

    # requests

    def _sign_in(self) -> None:
        self.actor.sign_in(self.client)
        if "csrf_token" not in self._session() or not self.token:
            self.token = csrf_from(self.client.get("/auth/reset").get_data(as_text=True))

    def _signed_out(self) -> bool:
        """Whether the last request ended our session (log out, password change)."""
        session = self._session()
        if "csrf_token" not in session:
            return True
        if self.actor.user_id is None:
            return False
        with self.app.app_context():
            user = load_session_user(session.get("_user_id"), utcnow())
            db.session.rollback()
        return user is None

    def _url(self, rule: Rule, overrides: dict[str, str] | None = None) -> str:
        values = {name: self.actor.path_values.get(name, 1) for name in rule.arguments}
        values.update(overrides or {})
        with self.app.test_request_context():
            return self.app.url_for(rule.endpoint, **values)

    def _send(
        self,
        rule: Rule,
        method: str,
        url: str,
        what: str,
        *,
        query: Any = None,
        data: Any = None,
        json: Any = None,
    ) -> TestResponse | None:
        _Reads.clear()
        label = f"{self.actor.role:8} {method:4} {rule.rule} [{what}]"
        try:
            if json is not None:
                response = self.client.post(url, json=json, headers={"X-CSRFToken": self.token})
            elif method == "POST":
                body = dict(data if data is not None else {})
                body.setdefault("csrf_token", self.token)
                response = self.client.post(url, query_string=query, data=body)
            else:
                response = self.client.get(url, query_string=query)
        except Exception as exc:  # noqa: BLE001 - TESTING propagates what would be a 500
            self.report.failures.append(f"{label} -> 500: {exc!r:.300}")
            if method == "POST":
                self._after_post(rule, label, None)
            return None
        finally:
            self.report.requests += 1
        status = response.status_code
        if status >= 500:
            self.report.failures.append(f"{label} -> {status}")
        if method == "POST":
            self._after_post(rule, label, status)
        return response

    def _after_post(self, rule: Rule, label: str, status: int | None) -> None:
        after = _ledger(self.engine)
        if after != self.ledger and (status is None or status >= 400):
            self.report.failures.append(f"{label} -> {status} changed the ledger")
        self.ledger = after
        # Only the account routes can end the walker's own session (log out, password
        # change); admin routes act on other users.
        if rule.endpoint.startswith("auth.") and self._signed_out():
            self.token = ""
            self._sign_in()

    def _session(self) -> dict[str, Any]:
        with self.client.session_transaction() as session:
            return dict(session)

    # the walk

    def walk(self, only: Callable[[Rule], bool] | None = None) -> None:
        self._sign_in()
        self.ledger = _ledger(self.engine)
        for rule, method in _routes(self.app, only):
            if method == "GET":
                self._walk_get(rule)
            else:
                self._walk_post(rule)

    def _walk_get(self, rule: Rule) -> None:
        url = self._url(rule)
        before = _ledger(self.engine)
        response = self._send(rule, "GET", url, "real ids")
        reads = set(_Reads.args)
        if response is not None and response.mimetype == "text/html":
            for form in forms_on(url, response.get_data(as_text=True)):
                self.forms.setdefault((form.method, form.action), form)
                if form.method == "get" and form.action == url:
                    reads |= form.names
        for key in sorted(reads):
            for name, value in HOSTILE.items():
                self._send(rule, "GET", url, f"{key}={name}", query={key: value})
            self._send(rule, "GET", url, f"{key} twice", query={key: ["1", "9" * 30]})
            self.report.mutated.add(("GET", rule.rule, key))
        self._send(rule, "GET", url, "odd key", query={HOSTILE_KEY: "1"})
        self._walk_path(rule, "GET", {})
        if _ledger(self.engine) != before:
            self.report.failures.append(f"{self.actor.role:8} GET  {rule.rule} changed the ledger")

    def _walk_post(self, rule: Rule) -> None:
        url = self._url(rule)
        form = self.forms.get(("post", url))
        base = {k: list(v) for k, v in form.fields.items()} if form else {}
        base.pop("csrf_token", None)
        self._send(rule, "POST", url, "the page's form", data=base)
        keys = (set(_Reads.form) | (form.names if form else set())) - {"csrf_token"}
        query_keys = set(_Reads.args)
        for key in sorted(keys):
            for name, value in HOSTILE.items():
                self._send(rule, "POST", url, f"{key}={name}", data=base | {key: value})
            self._send(rule, "POST", url, f"{key} twice", data=base | {key: ["1", "9" * 30]})
            missing = {k: v for k, v in base.items() if k != key}
            self._send(rule, "POST", url, f"{key} missing", data=missing)
            self.report.mutated.add(("POST", rule.rule, key))
        for key in sorted(query_keys):
            for name, value in HOSTILE.items():
                self._send(rule, "POST", url, f"?{key}={name}", query={key: value}, data=base)
            self.report.mutated.add(("POST", rule.rule, "?" + key))
        files = {k: (io.BytesIO(b"\x00\xff\xfe"), "x.png") for k in keys}
        self._send(rule, "POST", url, "files instead of text", data=base | files)
        for name, body in {
            "json": base | {k: [["1"], {"a": 1}] for k in keys},
            "json-list": [1],
        }.items():
            self._send(rule, "POST", url, name, json=body)
        self._send(rule, "POST", url, "odd key", data=base | {HOSTILE_KEY: "1"})
        self._walk_path(rule, "POST", base)

    def _walk_path(self, rule: Rule, method: str, base: dict[str, Any]) -> None:
        for name in sorted(rule.arguments):
            numeric = isinstance(rule._converters[name], NumberConverter)  # noqa: SLF001
            for what, value in (HOSTILE_IDS if numeric else HOSTILE).items():
                if value == "":
                    continue  # an empty part is another address, not this rule
                if numeric:  # the URL builder would refuse it: put it in by hand
                    marker = "7" * 9
                    url = self._url(rule, {name: marker}).replace(marker, value, 1)
                else:
                    url = self._url(rule, {name: value})
                self._send(rule, method, url, f"<{name}>={what}", data=base or None)
            self.report.mutated.add((method, rule.rule, f"<{name}>"))


def walk(app: Flask, actors: list[Actor], only: Callable[[Rule], bool] | None = None) -> WalkReport:
    """Walk the URL map as each actor in turn (the app must use RecordingRequest)."""
    report = WalkReport()
    for actor in actors:
        Walker(app, actor, report).walk(only)
    return report
