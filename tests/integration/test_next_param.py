"""`next` is bounded and local everywhere: every page as every kind of user, every form
that carries a `next`, and every redirect to log in or to verify.

Routes and forms are read from the URL map and the pages themselves, so the next route
or form that takes `next` is walked the day it is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.routing import Rule

from filmsphere.extensions import db
from filmsphere.models import OutboxMessage, Role, utcnow
from filmsphere.security import MAX_NEXT_LENGTH
from filmsphere.services.accounts import accounts
from filmsphere.services.mail.emails import render_message
from tests import factories

from ..conftest import csrf_from
from .test_admin_support import sign_in

pytestmark = pytest.mark.sqlite_only  # no database behaviour involved

LONG = "/" + "a" * 5000  # local, but a 5,000-character Location breaks nginx (502)
HOSTILE = [LONG, "https://evil.example/x", "//evil.example/x", "/\\evil.example", "javascript:x"]
# nginx's default proxy buffer is 4 KB for all response headers together.
MAX_LOCATION = 2048


@dataclass
class World:
    args: dict[str, object]
    customer: int
    admin: int


def seed(app: Flask) -> World:
    with app.app_context():
        customer = factories.make_user()
        admin = factories.make_user(Role.ADMIN)
        show = factories.make_show(starts_in=timedelta(days=2))
        booking = factories.make_booking(customer, show, ("A1",))
        return World(
            args={
                "movie_id": show.movie_id,
                "screen_id": show.screen_id,
                "show_id": show.id,
                "seat_id": 1,
                "booking_id": booking.id,
                "user_id": customer.id,
                "reference": booking.reference,
                "token": "not-a-token",
                "key": "revenue-by-day",
            },
            customer=customer.id,
            admin=admin.id,
        )


def unverified(app: Flask) -> tuple[int, str, str]:
    """A new unverified customer with a live code: (id, username, code)."""
    with app.app_context():
        user = factories.make_user(verified=False)
        accounts.resend_verification(utcnow(), user_id=user.id)
        message = db.session.scalars(
            select(OutboxMessage).order_by(OutboxMessage.id.desc())
        ).first()
        assert message is not None
        code = re.search(r"\d{6}", render_message(message).subject)
        assert code
        return user.id, user.username, code.group(0)


def client_as(app: Flask, user_id: int | None) -> FlaskClient:
    client = app.test_client()
    if user_id is not None:
        sign_in(client, app, user_id)
    return client


def url_for_rule(app: Flask, rule: Rule, world: World) -> str:
    args = {name: world.args.get(name, 1) for name in rule.arguments}
    with app.test_request_context():
        return app.url_for(rule.endpoint, **args)


def is_safe_target(target: str) -> bool:
    """A `next` or Location the browser may follow: a short path on this site."""
    parts = urlsplit(target)
    local = target.startswith("/") and not target.startswith("//") and "\\" not in target
    return (local or parts.netloc == "localhost") and parts.scheme in ("", "http")


def next_values(html: str) -> list[str]:
    """Every `next` a page offers: hidden fields, and `next=` in its links and actions."""
    values = re.findall(r'name="next"[^>]*value="([^"]*)"', html)
    for url in re.findall(r'(?:href|action|hx-[a-z]+)="([^"]*next=[^"]*)"', html):
        query = parse_qs(urlsplit(unescape(url)).query)
        values += query.get("next", [])
    return [unescape(v) for v in values]


def problems(label: str, response: object) -> list[str]:
    """What is wrong with a response to a request carrying a hostile `next`."""
    found = []
    location = response.headers.get("Location", "")  # type: ignore[attr-defined]
    if location and not is_safe_target(location):
        found.append(f"{label}: redirects off site: {location[:120]}")
    if len(location) > MAX_LOCATION:
        found.append(f"{label}: Location of {len(location)} characters")
    for value in parse_qs(urlsplit(location).query).get("next", []):
        if not is_safe_target(value) or len(value) > MAX_NEXT_LENGTH:
            found.append(f"{label}: passes on next={value[:80]}")
    body = response.get_data(as_text=True)  # type: ignore[attr-defined]
    for value in next_values(body):
        if value and (not is_safe_target(value) or len(value) > MAX_NEXT_LENGTH):
            found.append(f"{label}: the page offers next={value[:80]}")
    return found


def test_every_page_as_every_user_keeps_next_local_and_short(backend: str, app: Flask) -> None:
    world = seed(app)
    unverified_id = unverified(app)[0]
    roles = {
        "visitor": None,
        "unverified": unverified_id,
        "customer": world.customer,
        "admin": world.admin,
    }
    found: list[str] = []
    walked = 0
    for role, user_id in roles.items():
        client = client_as(app, user_id)
        for rule in app.url_map.iter_rules():
            if rule.endpoint == "static" or "GET" not in (rule.methods or ()):
                continue
            base = url_for_rule(app, rule, world)
            for hostile in HOSTILE:
                joiner = "&" if "?" in base else "?"
                response = client.get(f"{base}{joiner}next={hostile}")
                found += problems(f"{role} GET {rule.rule}", response)
                walked += 1
    assert walked > 200
    assert found == []


def test_every_post_as_a_customer_who_must_verify_keeps_next_local_and_short(
    backend: str, app: Flask
) -> None:
    """Posts that send an unverified customer off to verify (seat clicks, checkout) or a
    visitor off to log in carry this request's address as `next`: bounded here too."""
    world = seed(app)
    found: list[str] = []
    for role in ("visitor", "unverified"):
        for rule in app.url_map.iter_rules():
            if "POST" not in (rule.methods or ()) or rule.rule.startswith("/admin"):
                continue
            user_id = unverified(app)[0] if role == "unverified" else None
            client = client_as(app, user_id)
            token = csrf_from(client.get("/").get_data(as_text=True))
            url = f"{url_for_rule(app, rule, world)}?q={'a' * 5000}&next={LONG}"
            response = client.post(url, data={"csrf_token": token, "next": LONG})
            found += problems(f"{role} POST {rule.rule}", response)
    assert found == []


def forms_with_next(html: str) -> list[tuple[str, dict[str, str]]]:
    """(action, fields) of every POST form on the page that carries a `next` field."""
    result = []
    for attrs, inner in re.findall(r"<form([^>]*)>(.*?)</form>", html, re.S):
        if 'method="post"' not in attrs.lower() or 'name="next"' not in inner:
            continue
        action = re.search(r'action="([^"]*)"', attrs)
        fields = {}
        for tag in re.findall(r"<input[^>]*>", inner):
            name, value = re.search(r'name="([^"]+)"', tag), re.search(r'value="([^"]*)"', tag)
            if name:
                fields[name.group(1)] = unescape(value.group(1)) if value else ""
        result.append((action.group(1) if action else "", fields))
    return result


def test_every_form_with_next_refuses_a_hostile_one_when_it_succeeds(
    backend: str, app: Flask
) -> None:
    """The forms are found on the pages (log in, verify, new code); each is sent with the
    right answers and a hostile `next`: the success redirect goes to the safe default."""
    world = seed(app)
    pages = {"/auth/login": False, "/auth/verify": True}  # path -> needs an unverified user
    sent: set[str] = set()
    found: list[str] = []
    for path, needs_unverified in pages.items():
        for hostile in HOSTILE:
            user_id, username, code = unverified(app)
            client = client_as(app, user_id if needs_unverified else None)
            html = client.get(path).get_data(as_text=True)
            for action, fields in forms_with_next(html):
                answers = {
                    **fields,
                    "login": username,
                    "password": factories.PASSWORD,
                    "code": code,
                    "next": hostile,
                }
                response = client.post(action or path, data=answers)
                assert response.status_code == 303, (action, response.status_code)
                sent.add(action)
                found += problems(f"POST {action} with next={hostile[:20]}", response)
    assert {"/auth/login", "/auth/verify", "/auth/verify/resend"} <= sent
    assert found == []
    del world


def test_a_short_local_next_still_brings_you_back(backend: str, app: Flask) -> None:
    seed(app)
    client = app.test_client()
    response = client.get("/wallet?page=2")
    assert response.status_code == 302
    login_page = response.headers["Location"]
    assert urlsplit(login_page).path == "/auth/login"
    form = client.get(login_page).get_data(as_text=True)
    assert 'name="next" type="hidden" value="/wallet?page=2"' in form
