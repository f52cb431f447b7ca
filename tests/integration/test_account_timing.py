"""Every form a visitor can send an address to does the same work whether or not the
address has an account: the same SQL statements, the same templates, the same answer;
and, measured, the known address is not the slower one.

The forms are found on the pages, so the next form that takes an address is covered the
day it is written.
"""

from __future__ import annotations

import itertools
import random
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

import pytest
from flask import Flask, template_rendered
from flask.testing import FlaskClient
from sqlalchemy import event

from filmsphere.extensions import db
from filmsphere.models import utcnow
from filmsphere.services.accounts import accounts

from ..conftest import csrf_from
from ..factories import make_user

STRONG = "Tangerine-Lamp-42"
ADDRESS_FIELDS = {"email", "login"}
ACCOUNTS = ("verified", "waiting", "deactivated")  # kinds of known address
UNKNOWN = "nobody-here@example.com"

_names = itertools.count(1)


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    return {"RATELIMIT_ENABLED": False}  # hundreds of posts from one address


@dataclass
class Form:
    page: str
    action: str
    fields: dict[str, str]


@dataclass
class Work:
    statements: list[str] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)


def address_forms(app: Flask) -> list[Form]:
    """Every POST form on an argument-free page a visitor sees with an address field."""
    client = app.test_client()
    found = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.arguments or rule.endpoint == "static":
            continue
        response = client.get(rule.rule)
        if response.status_code != 200 or "text/html" not in response.content_type:
            continue
        for attrs, inner in re.findall(r"<form([^>]*)>(.*?)</form>", response.text, re.S):
            names = re.findall(r'<input[^>]*name="([^"]+)"', inner)
            action = re.search(r'action="([^"]*)"', attrs)
            if 'method="post"' in attrs.lower() and ADDRESS_FIELDS & set(names):
                target = action.group(1) if action and action.group(1) else rule.rule
                found.append(Form(rule.rule, target, {n: "" for n in names}))
    unique = {form.action: form for form in found}
    return sorted(unique.values(), key=lambda f: f.action)


def seed(app: Flask) -> dict[str, str]:
    with app.app_context():
        verified = make_user(email="verified@example.com").email
        deactivated = make_user(email="deactivated@example.com", active=False).email
        accounts.register_user("waiting@example.com", "waiting", "W", "Other-Pass-77!", utcnow())
    return {"verified": verified, "waiting": "waiting@example.com", "deactivated": deactivated}


def answers(form: Form, address: str) -> dict[str, str]:
    values = {
        "email": address,
        "login": address,
        "password": STRONG,  # strong enough to sign up with, wrong for every account
        "username": f"newcomer{next(_names)}",
        "full_name": "New Person",
        "code": "000000",
    }
    return {name: values.get(name, "") for name in form.fields if name != "csrf_token"}


@contextmanager
def recording(app: Flask) -> Iterator[Work]:
    work = Work()

    def statement(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        work.statements.append(sql)

    def rendered(_app: Any, template: Any, **_: Any) -> None:
        work.templates.append(str(template.name))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", statement)
    template_rendered.connect(rendered, app)
    try:
        yield work
    finally:
        template_rendered.disconnect(rendered, app)
        event.remove(engine, "before_cursor_execute", statement)


def send(client: FlaskClient, form: Form, address: str, token: str) -> Any:
    return client.post(form.action, data={**answers(form, address), "csrf_token": token})


def test_address_forms_are_found(backend: str, app: Flask) -> None:
    actions = {form.action for form in address_forms(app)}
    assert {
        "/auth/login",
        "/auth/register",
        "/auth/reset",
        "/auth/verify",
        "/auth/verify/resend",
    } <= actions


def test_every_address_form_does_the_same_work_for_any_address(backend: str, app: Flask) -> None:
    addresses = seed(app)
    forms = address_forms(app)
    differences = []
    for form in forms:
        client = app.test_client()
        token = csrf_from(client.get(form.page).text)
        send(client, form, UNKNOWN, token)  # warm caches the same way for every address
        seen: dict[str, tuple[int, str, list[str], list[str]]] = {}
        for kind, address in [("unknown", UNKNOWN), *addresses.items()]:
            with recording(app) as work:
                response = send(client, form, address, token)
            # Echoed input differs, and the CSRF token carries a timestamp.
            page = re.sub(r'(value|content)="[^"]*"', "", response.text)
            seen[kind] = (response.status_code, page, work.statements, work.templates)
        for kind in ACCOUNTS:
            if seen[kind] != seen["unknown"]:
                differences.append(f"{form.action}: {kind} address differs from unknown")
                known, unknown = seen[kind][2], seen["unknown"][2]
                differences += [f"  known:   {s}" for s in known if s not in unknown]
                differences += [f"  unknown: {s}" for s in unknown if s not in known]
                if seen[kind][:2] != seen["unknown"][:2]:
                    differences.append(f"  the answer differs ({seen[kind][0]})")
    assert differences == [], "\n".join(differences)


@pytest.mark.postgres_only
def test_a_known_address_is_not_the_slower_one(backend: str, app: Flask) -> None:
    """A sign test over randomly ordered pairs: if both sides do the same work, the known
    address is the slower one in about half the pairs, and 31 or more of 36 happens by
    chance with probability 1.1e-5 (a shared, noisy machine slows both sides alike).
    Before the work was made equal, the known address was slower in 82-95 % of pairs."""
    addresses = seed(app)
    rng = random.Random(12)
    slower: dict[str, int] = {}
    for form in address_forms(app):
        client = app.test_client()
        token = csrf_from(client.get(form.page).text)
        send(client, form, UNKNOWN, token)
        count = 0
        for n in range(36):
            known = addresses[ACCOUNTS[n % len(ACCOUNTS)]]
            timing: dict[str, float] = {}
            for address in rng.sample([known, UNKNOWN], 2):
                started = perf_counter()
                send(client, form, address, token)
                timing[address] = perf_counter() - started
            count += timing[known] > timing[UNKNOWN]
        slower[form.action] = count
    assert {action: n for action, n in slower.items() if n > 30} == {}
