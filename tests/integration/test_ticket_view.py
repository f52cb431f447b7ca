"""The ticket view for the door: the booking's usable tickets, QR first, doors-open time."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from flask import Flask
from flask.testing import FlaskClient

from filmsphere.extensions import db
from filmsphere.models import Booking, TicketStatus
from filmsphere.services.door.ticket_codes import ticket_code
from tests import factories

from .tickets_support import log_in, qr_codes_in, seed_booking


def _codes(app: Flask, booking_id: int) -> list[str]:
    with app.app_context():
        booking = db.session.get(Booking, booking_id)
        assert booking is not None
        return [
            ticket_code(t)
            for t in booking.tickets
            if t.status == TicketStatus.ACTIVE and t.checked_in_at is None
        ]


def test_one_tap_from_my_bookings_to_every_ticket_qr_first(
    app: Flask, client: FlaskClient, backend: str
) -> None:
    # 18:30 UTC on a summer day is 19:30 in London; doors open 20 minutes before (default).
    with app.app_context():
        seeded = seed_booking(title="Alien", starts_at=datetime(2031, 7, 4, 18, 30, tzinfo=UTC))
    log_in(client, seeded.username)

    listing = client.get("/bookings").get_data(as_text=True)
    view_url = f"/bookings/{seeded.reference}/tickets"
    assert f'href="{view_url}"' in listing
    assert f'href="{view_url}"' in client.get(f"/bookings/{seeded.reference}").get_data(
        as_text=True
    )

    response = client.get(view_url)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    # Every usable ticket's QR decodes to its code, in the booking page's order.
    assert qr_codes_in(html) == _codes(app, seeded.booking_id)
    tickets = re.findall(r'<li class="door-ticket".*?</li>', html, re.S)
    assert len(tickets) == 2
    for ticket, seat in zip(tickets, ("Row A, seat 1", "Row B, seat 1"), strict=True):
        # The QR comes first in each ticket, before any text.
        assert ticket.index("<svg") < ticket.index(seat)
        assert "Alien" in ticket and seeded.screen_name in ticket
        assert "Fri 04 Jul 2031, 19:30" in ticket
        assert re.search(r"Doors open</dt><dd><time [^>]*>19:10<", ticket)
    assert "Ticket 1 of 2" in html and "Ticket 2 of 2" in html
    # Full screen: no site navigation above the code.
    assert 'class="site-header"' not in html


def test_doors_open_minutes_is_configurable(app: Flask, client: FlaskClient, backend: str) -> None:
    app.config["DOORS_OPEN_MINUTES"] = 45
    with app.app_context():
        seeded = seed_booking(starts_at=datetime(2031, 1, 10, 20, 0, tzinfo=UTC))  # GMT
    log_in(client, seeded.username)
    html = client.get(f"/bookings/{seeded.reference}/tickets").get_data(as_text=True)
    assert re.search(r"Doors open</dt><dd><time [^>]*>19:15<", html)


def test_used_and_cancelled_tickets_are_left_out(
    app: Flask, client: FlaskClient, backend: str
) -> None:
    with app.app_context():
        seeded = seed_booking(seats=("A1", "A2", "B1"))
        first, second, _third = db.session.get(Booking, seeded.booking_id).tickets
        first.status = TicketStatus.CANCELLED
        first.refund_coins = 10
        first.cancelled_at = factories.now()
        second.checked_in_at = factories.now()
        second.checked_in_by_id = seeded.staff_id
        db.session.commit()
    log_in(client, seeded.username)
    html = client.get(f"/bookings/{seeded.reference}/tickets").get_data(as_text=True)
    assert qr_codes_in(html) == _codes(app, seeded.booking_id)
    assert len(qr_codes_in(html)) == 1
    assert "1 used and 1 cancelled tickets of this booking are not shown." in " ".join(html.split())

    with app.app_context():
        db.session.get(Booking, seeded.booking_id).tickets[2].checked_in_at = factories.now()
        db.session.commit()
    html = client.get(f"/bookings/{seeded.reference}/tickets").get_data(as_text=True)
    assert qr_codes_in(html) == []
    assert "Every ticket of this booking has been used." in html


def test_another_users_tickets_are_not_found(app: Flask, client: FlaskClient, backend: str) -> None:
    with app.app_context():
        seeded = seed_booking()
        factories.make_user(username="mallory")
        codes = _codes(app, seeded.booking_id)
    assert client.get(f"/bookings/{seeded.reference}/tickets").status_code == 302  # log in
    log_in(client, "mallory")
    for reference in (seeded.reference, "NOSUCHREF"):
        response = client.get(f"/bookings/{reference}/tickets")
        assert response.status_code == 404
        html = response.get_data(as_text=True)
        assert not any(code in html for code in codes)
        assert seeded.title not in html
