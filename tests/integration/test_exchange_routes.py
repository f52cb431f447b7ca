"""The exchange flow over HTTP with CSRF on: booking page → shows → seat map → review →
confirm, and its refusals. The forms are plain posts (303) with or without htmx."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from filmsphere.extensions import db
from filmsphere.models import Booking, OutboxMessage
from tests import factories as f
from tests.conftest import csrf_from

from .test_booking_routes import log_in, page
from .test_holds import seat_id


@dataclass
class Trip:
    login: str
    other_login: str
    reference: str
    old_id: int
    new_id: int
    b1: int


def seed(app: Flask) -> Trip:
    with app.app_context():
        user, other = f.make_user(coins=100), f.make_user()
        movie = f.make_movie(title="Exchange Street")
        old = f.make_show(movie)
        new = f.make_show(movie, starts_in=timedelta(days=2))
        booking = f.make_booking(user, old, ("A1",))
        return Trip(
            user.username, other.username, booking.reference, old.id, new.id, seat_id(new, "B1")
        )


def test_exchange_from_the_booking_page_to_the_new_tickets(
    app: Flask, client: FlaskClient, backend: str
) -> None:
    trip = seed(app)
    log_in(client, trip.login)
    detail = page(client, f"/bookings/{trip.reference}")
    assert f'href="/bookings/{trip.reference}/exchange"' in detail

    shows = page(client, f"/bookings/{trip.reference}/exchange")
    assert "Other times for Exchange Street" in shows and "Pick seats" in shows
    token = csrf_from(shows)
    started = client.post(
        f"/bookings/{trip.reference}/exchange/show",
        data={"csrf_token": token, "show_id": trip.new_id},
    )
    assert started.status_code == 303
    assert started.location.endswith(f"/shows/{trip.new_id}#seat-grid")

    seat_map = page(client, f"/shows/{trip.new_id}")
    held = client.post(
        f"/shows/{trip.new_id}/seats/{trip.b1}", data={"csrf_token": csrf_from(seat_map)}
    )
    assert held.status_code == 303
    seat_map = page(client, f"/shows/{trip.new_id}")
    assert f"Exchanging booking <strong>{trip.reference}</strong>" in seat_map
    assert 'id="pay-button"' not in seat_map
    review_url = f"/bookings/{trip.reference}/exchange/review?show={trip.new_id}"
    assert review_url in seat_map.replace("&amp;", "&")

    review = page(client, review_url)
    assert "You pay 5 coins more." in review
    confirmed = client.post(
        f"/bookings/{trip.reference}/exchange",
        data={"csrf_token": csrf_from(review), "show_id": trip.new_id, "expected_net": -5},
    )
    assert confirmed.status_code == 303
    with app.app_context():
        new = db.session.scalars(select(Booking).where(Booking.show_id == trip.new_id)).one()
        assert confirmed.location.endswith(f"/bookings/{new.reference}")
        kinds = db.session.scalars(select(OutboxMessage.kind)).all()
        assert kinds == ["booking_exchanged"]
    landed = page(client, confirmed.location)
    assert "Exchanged: booking" in landed and "you paid 5 coins more" in landed
    old_page = page(client, f"/bookings/{trip.reference}")
    assert f'Exchanged for <a href="/bookings/{new.reference}">' in old_page
    assert f'href="/bookings/{trip.reference}/exchange"' not in old_page
    # Back on the seat map, the basket is an ordinary one again.
    assert "Exchanging booking" not in page(client, f"/shows/{trip.new_id}")


def test_a_changed_quote_is_shown_again_with_409(
    app: Flask, client: FlaskClient, backend: str
) -> None:
    trip = seed(app)
    log_in(client, trip.login)
    seat_map = page(client, f"/shows/{trip.new_id}")
    client.post(f"/shows/{trip.new_id}/seats/{trip.b1}", data={"csrf_token": csrf_from(seat_map)})
    response = client.post(
        f"/bookings/{trip.reference}/exchange",
        data={"csrf_token": csrf_from(seat_map), "show_id": trip.new_id, "expected_net": 3},
    )
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "now comes to 5 coins to pay, not 3 coins back" in html
    assert 'name="expected_net" value="-5"' in html


def test_refusals_are_clear_and_change_nothing(
    app: Flask, client: FlaskClient, backend: str
) -> None:
    trip = seed(app)
    log_in(client, trip.other_login)
    assert client.get(f"/bookings/{trip.reference}/exchange").status_code == 404
    token = csrf_from(page(client, "/"))
    assert (
        client.post(
            f"/bookings/{trip.reference}/exchange",
            data={"csrf_token": token, "show_id": trip.new_id, "expected_net": 0},
        ).status_code
        == 404
    )
    client.post("/auth/logout", data={"csrf_token": token})
    log_in(client, trip.login)
    token = csrf_from(page(client, "/"))
    # No CSRF token: refused.
    assert (
        client.post(
            f"/bookings/{trip.reference}/exchange", data={"show_id": trip.new_id}
        ).status_code
        == 400
    )
    # Nothing held yet: back to the seat map with the reason.
    nothing = client.post(
        f"/bookings/{trip.reference}/exchange",
        data={"csrf_token": token, "show_id": trip.new_id, "expected_net": 0},
        follow_redirects=True,
    )
    assert "Hold the seats you want in the new show first" in nothing.get_data(as_text=True)
    # The same show, and junk.
    same = client.post(
        f"/bookings/{trip.reference}/exchange/show",
        data={"csrf_token": token, "show_id": trip.old_id},
        follow_redirects=True,
    )
    assert "Pick another showtime" in same.get_data(as_text=True)
    junk = client.post(
        f"/bookings/{trip.reference}/exchange",
        data={"csrf_token": token, "show_id": "x" * 5000, "expected_net": "9" * 5000},
    )
    assert junk.status_code == 303
    with app.app_context():
        booking = db.session.scalars(
            select(Booking).where(Booking.reference == trip.reference)
        ).one()
        assert booking.status == "paid"


def test_stop_leaves_exchange_mode(app: Flask, client: FlaskClient, backend: str) -> None:
    trip = seed(app)
    log_in(client, trip.login)
    token = csrf_from(page(client, f"/bookings/{trip.reference}/exchange"))
    client.post(
        f"/bookings/{trip.reference}/exchange/show",
        data={"csrf_token": token, "show_id": trip.new_id},
    )
    client.post(f"/shows/{trip.new_id}/seats/{trip.b1}", data={"csrf_token": token})
    assert "Exchanging booking" in page(client, f"/shows/{trip.new_id}")
    stopped = client.post(f"/bookings/{trip.reference}/exchange/stop", data={"csrf_token": token})
    assert stopped.status_code == 303
    seat_map = page(client, f"/shows/{trip.new_id}")
    assert "Exchanging booking" not in seat_map
    assert re.search(r'id="pay-button"', seat_map)
