"""No template or filter runs a query: views hand templates everything they show.

Every statement sent while Flask renders a template (between its before_render_template
and template_rendered signals) is recorded. The crawl opens every GET page the url_map
has, as a visitor and as each role, and the pages that render right after a commit (a
seat click's answer, a booking's page after paying, a refused form). A lazy relationship
in a template, a filter that looks something up, or the signed-in user reloaded after a
commit expired it would each show up here as a statement.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask, before_render_template, render_template_string, template_rendered
from flask.testing import FlaskClient
from flask_login import current_user, login_user
from sqlalchemy import event, select

from filmsphere.config import parse_coin_packs
from filmsphere.extensions import db
from filmsphere.models import Role, Seat, Show, User, utcnow
from filmsphere.services.accounts.sessions import load_user, start_session
from tests import factories
from tests.conftest import csrf_from

from .test_admin_support import sign_in

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    """Stripe configured (no call reaches it while crawling), so the wallet's top-up panel
    and its history render too."""
    return {
        "STRIPE_SECRET_KEY": "sk_test_crawl",
        "STRIPE_WEBHOOK_SECRET": "whsec_crawl",
        "COIN_PACKS": parse_coin_packs("500:500"),
    }


# Pages that never render a template (files, feeds, redirects) need no seeded argument.
SKIP_PREFIXES = ("/static/", "/api/", "/uploads/")


class RenderQueries:
    """Statements sent while a template renders, with the template's name."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.rendering: list[str] = []
        self.found: list[tuple[str, str]] = []
        self.statements: list[str] = []

    def _start(self, sender: Flask, template: Any, **_: Any) -> None:
        self.rendering.append(template.name or "?")

    def _stop(self, sender: Flask, template: Any, **_: Any) -> None:
        if self.rendering:
            self.rendering.pop()

    def _statement(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if self.rendering:
            self.found.append((self.rendering[-1], " ".join(statement.split())[:160]))
        self.statements.append(statement)

    def user_loads(self) -> int:
        """How many times the signed-in user was loaded (with the session check) since the
        last call."""
        # The user's own query, or the check inside the seat map page's one statement.
        loads = sum(
            "JOIN user_sessions" in s or "user_sessions JOIN users" in s
            for s in (" ".join(statement.split()) for statement in self.statements)
        )
        self.statements = []
        return loads

    @contextmanager
    def watching(self) -> Iterator[RenderQueries]:
        with self.app.app_context():
            engine = db.engine
        before_render_template.connect(self._start, self.app)
        template_rendered.connect(self._stop, self.app)
        event.listen(engine, "before_cursor_execute", self._statement)
        try:
            yield self
        finally:
            event.remove(engine, "before_cursor_execute", self._statement)
            template_rendered.disconnect(self._stop, self.app)
            before_render_template.disconnect(self._start, self.app)


def _seed(app: Flask) -> dict[str, Any]:
    with app.app_context():
        users = {
            role: factories.make_user(Role(role)).id for role in ("customer", "staff", "admin")
        }
        customer = db.session.get(User, users["customer"])
        show = factories.make_show(starts_in=timedelta(days=2))
        booking = factories.make_booking(customer, show, ("A1", "A2"))
        ticket = booking.tickets[0]
        return {
            "users": users,
            "show_id": show.id,
            "args": {
                "movie_id": show.movie_id,
                "screen_id": show.screen_id,
                "show_id": show.id,
                "booking_id": booking.id,
                "user_id": users["customer"],
                "ticket_id": ticket.id,
                "key": "revenue-by-day",
                "reference": booking.reference,
            },
        }


def _get_pages(app: Flask, args: dict[str, Any]) -> list[str]:
    urls = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or set()) or rule.rule.startswith(SKIP_PREFIXES):
            continue
        if any(name not in args for name in rule.arguments):
            continue
        with app.test_request_context():
            urls.append(app.url_for(rule.endpoint, **{n: args[n] for n in rule.arguments}))
    return sorted(set(urls))


def _crawl(client: FlaskClient, urls: list[str]) -> int:
    rendered = 0
    for url in urls:
        response = client.get(url)
        assert response.status_code < 500, f"{url} -> {response.status_code}"
        rendered += response.status_code == 200
    return rendered


def test_no_page_queries_while_rendering(app: Flask) -> None:
    seeded = _seed(app)
    urls = _get_pages(app, seeded["args"])
    watcher = RenderQueries(app)
    with watcher.watching():
        pages = 0
        for role in ("visitor", "customer", "staff", "admin"):
            client = app.test_client()
            if role != "visitor":
                sign_in(client, app, seeded["users"][role])
            pages += _crawl(client, urls)
    assert pages > 60, f"only {pages} pages rendered: the crawl lost its arguments"
    assert watcher.found == [], "\n".join(f"{name}: {sql}" for name, sql in watcher.found)


def test_no_query_while_rendering_after_a_commit(app: Flask) -> None:
    """Views that commit and then render: the seat click's answer, the booking page right
    after paying, the account page after a refused password change and after a new API
    token (rendered in the request that committed it)."""
    seeded = _seed(app)
    show_id = seeded["show_id"]
    with app.app_context():
        seat_ids = db.session.scalars(
            select(Seat.id)
            .join(Show, Show.screen_id == Seat.screen_id)
            .where(Show.id == show_id, Seat.row_label == "A", Seat.number.in_((5, 6)))
            .order_by(Seat.id)
        ).all()
    client = app.test_client()
    sign_in(client, app, seeded["users"]["customer"])
    page = client.get(f"/shows/{show_id}")
    csrf = csrf_from(page.get_data(as_text=True))
    htmx = {"HX-Request": "true", "X-CSRFToken": csrf}
    watcher = RenderQueries(app)
    loads = {}
    with watcher.watching():
        for seat_id in seat_ids:
            click = client.post(f"/shows/{show_id}/seats/{seat_id}", headers=htmx)
            assert click.status_code == 200, click.status_code
            loads[f"click {seat_id}"] = watcher.user_loads()
        seat_map = client.get(f"/shows/{show_id}").get_data(as_text=True)
        token = re.search(r'name="checkout_token" value="([^"]+)"', seat_map)
        assert token, "the basket has a Pay button"
        loads["seat map page"] = watcher.user_loads()
        paid = client.post(
            f"/shows/{show_id}/checkout",
            data={"csrf_token": csrf, "checkout_token": token.group(1)},
        )
        assert paid.status_code == 303 and "/bookings/" in paid.headers["Location"]
        loads["checkout"] = watcher.user_loads()
        booking = client.get(paid.headers["Location"])
        assert booking.status_code == 200
        loads["booking page"] = watcher.user_loads()
        refused = client.post(
            "/account",
            data={"csrf_token": csrf, "current_password": "wrong", "new_password": "x" * 12},
        )
        assert refused.status_code == 422, refused.status_code
        loads["refused password"] = watcher.user_loads()
        created = client.post(
            "/account/api-tokens", data={"csrf_token": csrf, "name": "kiosk", "scopes": "read"}
        )
        assert created.status_code == 201 and "kiosk" in created.get_data(as_text=True)
        loads["new token"] = watcher.user_loads()
    assert watcher.found == [], "\n".join(f"{name}: {sql}" for name, sql in watcher.found)
    # The signed-in user is loaded once per request, with the session check; it is a
    # frozen copy (services.sessions.SignedInUser), so a commit leaves nothing to reload.
    assert loads == dict.fromkeys(loads, 1)


def test_the_watcher_sees_a_query_in_a_template(app: Flask) -> None:
    """Negative control: a template that runs a query is caught."""
    watcher = RenderQueries(app)
    with watcher.watching(), app.test_request_context():
        render_template_string("{{ count() }}", count=lambda: db.session.scalar(select(1)))
    assert [name for name, _ in watcher.found] == ["?"] or len(watcher.found) == 1


def test_the_signed_in_user_is_not_reloaded_after_a_commit(app: Flask) -> None:
    """current_user is a frozen copy: reading it after a commit sends nothing, where the
    ORM row it was copied from (the negative control) is reloaded."""
    with app.app_context():
        user = factories.make_user(Role.STAFF)
        key = start_session(user, remember=False, now=utcnow())
    watcher = RenderQueries(app)
    with watcher.watching(), app.test_request_context():
        signed_in = load_user(key, utcnow())
        assert signed_in is not None
        login_user(signed_in)
        row = db.session.get(User, signed_in.id)
        assert row is not None
        db.session.commit()
        watcher.statements = []
        seen = (current_user.full_name, current_user.email, current_user.has_role(Role.STAFF))
        assert watcher.statements == [] and seen[2]
        assert row.full_name == current_user.full_name  # the expired row reloads...
        assert len(watcher.statements) == 1  # ...with one statement
