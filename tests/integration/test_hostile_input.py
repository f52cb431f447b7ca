"""No 5xx from any bytes: every rule of the URL map, as each role, with hostile values in
every path part, query parameter and form field, answers 4xx (or does the harmless thing)
and leaves the ledger balanced; a refused request never changes it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask, abort, request
from flask.testing import FlaskClient
from sqlalchemy import select

from filmsphere.config import parse_coin_packs
from filmsphere.extensions import db
from filmsphere.models import LedgerKind, Role, Seat, Ticket
from filmsphere.services.locks import lock_wallet
from filmsphere.services.transaction import write_transaction
from filmsphere.services.wallet.wallet import post_entry, unbalanced_wallets
from tests import factories
from tests.conftest import csrf_from
from tests.support.fake_stripe import API_KEY, WEBHOOK_SECRET, fake_stripe
from tests.support.route_walk import Actor, RecordingRequest, walk

from .test_admin_support import sign_in

pytestmark = pytest.mark.postgres_only  # NUL reaches PostgreSQL there (SQLite stores it)

ROLES = ("visitor", "customer", "staff", "admin")


@pytest.fixture
def app_overrides() -> Iterator[dict[str, Any]]:
    with fake_stripe() as fake:
        yield {
            "RATELIMIT_ENABLED": False,  # every hostile value must reach the view
            "REFILL_ENABLED": True,
            "STRIPE_SECRET_KEY": API_KEY,
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "STRIPE_API_BASE": fake.base,
            "COIN_PACKS": parse_coin_packs("500:500"),
        }


def _actors(app: Flask) -> list[Actor]:
    """Real rows to aim at: a show with a free seat, a booking of each signed-in role, a
    customer with a half-used booking for the admin's POSTs."""
    with app.app_context():
        show = factories.make_show(starts_in=timedelta(days=2))
        users = {role: factories.make_user(Role(role)) for role in ROLES[1:]}
        target = factories.make_user()
        own = {
            role: factories.make_booking(users[role], show, (label,)).reference
            for role, label in zip(ROLES[1:], ("A1", "A2", "A3"), strict=True)
        }
        booking = factories.make_booking(target, show, ("A4", "A5"))
        used = db.session.get(Ticket, booking.tickets[0].id)
        assert used is not None
        used.checked_in_at = factories.now()
        free_seat = db.session.scalar(
            select(Seat.id).where(Seat.screen_id == show.screen_id, Seat.row_label == "B")
        )
        db.session.commit()
        shared = {
            "movie_id": show.movie_id,
            "screen_id": show.screen_id,
            "show_id": show.id,
            "seat_id": free_seat,
            "booking_id": booking.id,
            "user_id": target.id,
            "key": "revenue-by-day",
            "token": "not-a-reset-token",
            "filename": "css/app.css",
        }
        ids = {role: user.id for role, user in users.items()}

    def signer(user_id: int) -> Any:
        return lambda client: sign_in(client, app, user_id)

    visitor = Actor("visitor", None, lambda client: None, shared | {"reference": own["customer"]})
    return [visitor] + [
        Actor(role, ids[role], signer(ids[role]), shared | {"reference": own[role]})
        for role in ROLES[1:]
    ]


def test_every_route_as_every_role_survives_hostile_input(backend: str, app: Flask) -> None:
    app.request_class = RecordingRequest
    actors = _actors(app)
    started = time.monotonic()
    report = walk(app, actors)
    elapsed = time.monotonic() - started
    assert report.failures == [], "\n".join(report.failures)
    # The walk really reached the fields (an empty discovery would pass vacuously).
    mutated = report.mutated
    for expected in [
        ("GET", "/movies", "q"),
        ("GET", "/admin/bookings", "show"),
        ("POST", "/auth/login", "login"),
        ("POST", "/admin/screens/new", "name"),
        ("POST", "/admin/screens/editor", "screen_id"),
        ("POST", "/admin/users/<int:user_id>/coins", "amount_coins"),
        ("POST", "/bookings/<reference>/cancel", "tickets"),
        ("POST", "/shows/<int:show_id>/checkout", "checkout_token"),
        ("GET", "/bookings/<reference>", "<reference>"),
        ("GET", "/shows", "date"),
    ]:
        assert expected in mutated, expected
    with app.app_context():
        assert unbalanced_wallets() == []
    print(f"\n{report.requests} requests in {elapsed:.1f} s")


def test_the_walk_reports_a_500_and_a_refusal_that_moved_coins(backend: str, app: Flask) -> None:
    """Negative control: a route that fails on a parameter it reads, and one that writes a
    ledger entry and then refuses, are both reported."""

    def fragile() -> str:
        return str(1 // int(request.args.get("n", "1") or "0"))

    def leaky() -> str:
        request.form.get("n")
        with write_transaction():
            post_entry(lock_wallet(user_id), LedgerKind.ADMIN_ADJUSTMENT, 1, factories.now())
        abort(422)

    with app.app_context():
        user_id = factories.make_user().id
    app.add_url_rule("/zz-fragile", "zz_fragile", fragile)
    app.add_url_rule("/zz-leaky", "zz_leaky", leaky, methods=["POST"])
    app.request_class = RecordingRequest
    report = walk(
        app,
        [Actor("visitor", None, lambda client: None, {})],
        only=lambda rule: rule.rule.startswith("/zz-"),
    )
    assert any("GET  /zz-fragile [n=" in f and "-> 500" in f for f in report.failures)
    assert any("POST /zz-leaky [n=" in f and "changed the ledger" in f for f in report.failures)


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("GET", "/movies?q=%00", None),
        ("GET", "/bookings/%00", None),
        ("GET", "/shows?date=2026-01-01%00", None),
        ("POST", "/auth/login", {"login": "a\x00b", "password": "x"}),
        ("POST", "/auth/register", {"username": "nul\x00name"}),
        ("POST", "/auth/reset", {"email": "a\x00@example.com"}),
    ],
)
def test_a_nul_byte_anywhere_is_400_with_a_clear_message(
    backend: str, app: Flask, client: FlaskClient, method: str, path: str, data: Any
) -> None:
    token = csrf_from(client.get("/").get_data(as_text=True))
    if method == "POST":
        response = client.post(path, data={"csrf_token": token} | data)
    else:
        response = client.get(path)
    assert response.status_code == 400
    assert "a control character such as NUL" in response.get_data(as_text=True)
