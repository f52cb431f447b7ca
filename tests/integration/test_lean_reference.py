"""The hot-path benchmark's lean reference keeps the guarantees it is compared under, on the
app's own (migrated) schema: so a schema change that breaks the floor fails here, not in a
benchmark run."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from bench import lean_reference
from filmsphere.extensions import db
from filmsphere.models import Booking, LedgerEntry, OutboxMessage, Seat, SeatHold, Ticket, Wallet
from tests.factories import PASSWORD, make_show, make_user

pytestmark = pytest.mark.postgres_only
HTMX = {"HX-Request": "true"}
CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


@pytest.fixture
def lean(app: Flask, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    monkeypatch.setenv("FILMSPHERE_DATABASE_URL", database_url)
    monkeypatch.setenv("FILMSPHERE_SECRET_KEY", "lean-reference-test")
    lean_reference._layouts.clear()  # ids restart with every test's database
    yield lean_reference.create_app()
    connection = getattr(lean_reference._local, "conn", None)
    if connection is not None:
        connection.close()
        lean_reference._local.conn = None


@pytest.fixture
def scene(app: Flask) -> dict[str, Any]:
    with app.app_context():
        show = make_show()  # SSSSSS / PP..PP / WCSSCW
        first, second = make_user(), make_user()
        seats = {
            f"{s.row_label}{s.number}": s.id
            for s in db.session.scalars(select(Seat).where(Seat.screen_id == show.screen_id))
        }
        return {"show": show.id, "users": (first.username, second.username), "seats": seats}


def log_in(lean: Flask, username: str, show_id: int) -> tuple[FlaskClient, str]:
    client = lean.test_client()
    assert client.post("/login", data={"login": username, "password": PASSWORD}).status_code == 303
    page = client.get(f"/shows/{show_id}")
    token = CSRF.search(page.text)
    assert page.status_code == 200 and token
    return client, token.group(1)


def test_holds_releases_quick_picks_and_pays_once(
    app: Flask, lean: Flask, scene: dict[str, Any]
) -> None:
    show, seats = scene["show"], scene["seats"]
    client, csrf = log_in(lean, scene["users"][0], show)
    grid = client.get(f"/shows/{show}/seats", headers=HTMX)
    assert grid.status_code == 200 and "HX-Request" in grid.headers["Vary"]
    etag = grid.headers["ETag"]
    unchanged = client.get(f"/shows/{show}/seats", headers=HTMX | {"If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.data == b""

    click = f"/shows/{show}/seats/{seats['A1']}"
    held = client.post(click, data={"csrf_token": csrf}, headers=HTMX | {"If-None-Match": etag})
    assert held.status_code == 200
    assert f'id="seat-{seats["A1"]}" class="seat seat-standard is-mine"' in held.text
    assert 'id="basket"' in held.text and len(held.data) < 10_000
    released = client.post(click, data={"csrf_token": csrf}, headers=HTMX)
    assert "Seat A1 released." in released.text

    picked = client.post(
        f"/shows/{show}/quick-pick", data={"csrf_token": csrf, "count": "2"}, headers=HTMX
    )
    assert "Seats C3, C4 held for you." in picked.text  # the middle of the row nearest
    paid = client.post(
        f"/shows/{show}/checkout",
        data={"csrf_token": csrf, "checkout_token": "t" * 20},
        headers=HTMX,
    )
    assert paid.status_code == 204 and paid.headers["HX-Redirect"].startswith("/bookings/")
    again = client.post(
        f"/shows/{show}/checkout",
        data={"csrf_token": csrf, "checkout_token": "t" * 20},
        headers=HTMX,
    )
    assert again.headers["HX-Redirect"] == paid.headers["HX-Redirect"]  # charged once

    with app.app_context():
        booking = db.session.scalars(select(Booking)).one()
        tickets = db.session.scalars(select(Ticket).where(Ticket.booking_id == booking.id)).all()
        assert sorted(t.seat_id for t in tickets) == sorted([seats["C3"], seats["C4"]])
        charge = db.session.scalars(
            select(LedgerEntry).where(LedgerEntry.booking_id == booking.id)
        ).one()
        wallet = db.session.get(Wallet, charge.wallet_id)
        assert wallet is not None
        assert charge.amount_coins == -booking.total_coins == -20
        assert charge.balance_after_coins == wallet.balance_coins == 1480
        assert db.session.scalar(select(func.count()).select_from(SeatHold)) == 0
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 1


def test_refuses_a_held_seat_a_missing_token_and_a_companion_alone(
    lean: Flask, scene: dict[str, Any]
) -> None:
    show, seats = scene["show"], scene["seats"]
    first, csrf = log_in(lean, scene["users"][0], show)
    second, csrf2 = log_in(lean, scene["users"][1], show)
    click = f"/shows/{show}/seats/{seats['A2']}"
    assert first.post(click, data={"csrf_token": csrf}, headers=HTMX).status_code == 200
    taken = second.post(click, data={"csrf_token": csrf2}, headers=HTMX)
    assert taken.status_code == 409 and "taken by someone else" in taken.text
    assert second.post(click, data={"csrf_token": "forged"}, headers=HTMX).status_code == 400
    companion = second.post(
        f"/shows/{show}/seats/{seats['C2']}", data={"csrf_token": csrf2}, headers=HTMX
    )
    assert companion.status_code == 422 and "companion seat" in companion.text
    none_fit = second.post(
        f"/shows/{show}/quick-pick", data={"csrf_token": csrf2, "count": "7"}, headers=HTMX
    )
    assert none_fit.status_code == 409 and "together" in none_fit.text
