"""The booking page (ticket cards, QR codes) and its calendar file."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from flask import Flask
from flask.testing import FlaskClient

from filmsphere.extensions import db
from filmsphere.models import Booking, BookingStatus, Ticket, TicketStatus
from filmsphere.services.door.checkin import check_in
from filmsphere.services.door.ticket_codes import ticket_code
from tests import factories

from .tickets_support import log_in, qr_codes_in, seed_booking


def test_booking_page_shows_ticket_cards_with_scannable_qr(
    app: Flask, client: FlaskClient, backend: str
) -> None:
    with app.app_context():
        seeded = seed_booking(title="Tom & <Jerry>")
    log_in(client, seeded.username)

    response = client.get(f"/bookings/{seeded.reference}")

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Tom &amp; &lt;Jerry&gt;" in html and "<Jerry>" not in html
    assert seeded.reference in html
    assert seeded.screen_name in html
    assert "Row A, seat 1" in html and "Row B, seat 1" in html
    assert "Premium" in html  # B1 of the small layout is premium
    assert html.count("ticket-card-active") == 2
    assert "Total paid" in html and "20 coins" in html  # make_booking: base price each
    assert f'href="/bookings/{seeded.reference}/cancel"' in html
    assert f'href="/bookings/{seeded.reference}/calendar.ics"' in html

    codes = qr_codes_in(html)
    assert len(codes) == 2
    with app.app_context():
        expected = {ticket_code(t) for t in db.session.get(Booking, seeded.booking_id).tickets}
        assert set(codes) == expected
        for code in codes:
            assert code in html  # printed under the QR for typing
            assert check_in(code, seeded.staff_id, factories.now()).outcome == "valid"


def test_times_are_shown_in_the_cinema_time_zone(
    app: Flask, client: FlaskClient, backend: str
) -> None:
    # 18:30 UTC on a summer day is 19:30 in Europe/London (BST).
    with app.app_context():
        seeded = seed_booking(starts_at=datetime(2031, 7, 4, 18, 30, tzinfo=UTC))
    log_in(client, seeded.username)
    html = client.get(f"/bookings/{seeded.reference}").get_data(as_text=True)
    assert "Fri 04 Jul 2031, 19:30" in html


def test_cancelled_and_used_tickets_have_no_qr(
    app: Flask, client: FlaskClient, backend: str
) -> None:
    with app.app_context():
        seeded = seed_booking()
    with app.app_context():
        first, second = db.session.get(Booking, seeded.booking_id).tickets
        first.status = TicketStatus.CANCELLED
        first.refund_coins = 10
        first.cancelled_at = factories.now()
        second.checked_in_at = factories.now()
        second.checked_in_by_id = seeded.staff_id
        db.session.get(Booking, seeded.booking_id).status = BookingStatus.PARTIALLY_CANCELLED
        db.session.commit()
        cancelled_code = ticket_code(first)
    log_in(client, seeded.username)

    html = client.get(f"/bookings/{seeded.reference}").get_data(as_text=True)

    assert qr_codes_in(html) == []
    assert "ticket-card-cancelled" in html and "ticket-card-used" in html
    assert "Refund" in html and "10 coins" in html
    assert "Partly cancelled" in html
    assert "/cancel" not in html  # nothing left to cancel
    assert cancelled_code not in html
    with app.app_context():
        assert check_in(cancelled_code, seeded.staff_id, factories.now()).outcome == "cancelled"


def test_other_users_and_unknown_bookings_are_404(
    app: Flask, client: FlaskClient, backend: str
) -> None:
    with app.app_context():
        seeded = seed_booking()
    with app.app_context():
        stranger = factories.make_user().username
    log_in(client, stranger)

    for path in (
        f"/bookings/{seeded.reference}",
        f"/bookings/{seeded.reference}/calendar.ics",
        "/bookings/NOSUCHREF",
        "/bookings/NOSUCHREF/calendar.ics",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "Row A" not in response.get_data(as_text=True)


def test_visitor_is_sent_to_log_in(app: Flask, client: FlaskClient, backend: str) -> None:
    with app.app_context():
        seeded = seed_booking()
    for path in (f"/bookings/{seeded.reference}", f"/bookings/{seeded.reference}/calendar.ics"):
        response = client.get(path)
        assert response.status_code == 302
        assert "/auth/login" in response.headers["Location"]


def test_no_cancel_link_once_the_show_started(
    app: Flask, client: FlaskClient, backend: str
) -> None:
    with app.app_context():
        seeded = seed_booking(starts_in=timedelta(minutes=-5))
    log_in(client, seeded.username)
    html = client.get(f"/bookings/{seeded.reference}").get_data(as_text=True)
    assert "/cancel" not in html
    assert len(qr_codes_in(html)) == 2  # still valid at the door for latecomers


def test_calendar_file(app: Flask, client: FlaskClient, backend: str) -> None:
    start = datetime(2031, 12, 24, 19, 5, tzinfo=UTC)
    with app.app_context():
        seeded = seed_booking(
            title="Love, Actually; a\\b — a very long title that needs folding on the line",
            duration=135,
            screen_name="Screen 2, upstairs",
            starts_at=start,
            seats=("A1", "A2"),
        )
    reference = seeded.reference
    log_in(client, seeded.username)

    response = client.get(f"/bookings/{reference}/calendar.ics")

    assert response.status_code == 200
    assert response.mimetype == "text/calendar"
    assert f'filename="filmsphere-{reference}.ics"' in response.headers["Content-Disposition"]
    raw = response.get_data()
    text = raw.decode("utf-8")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    for line in raw.split(b"\r\n"):
        assert len(line) <= 75
    unfolded = text.replace("\r\n ", "")
    lines = unfolded.split("\r\n")
    assert lines[0] == "BEGIN:VCALENDAR" and "END:VCALENDAR" in lines
    assert lines.count("BEGIN:VEVENT") == 1
    assert "VERSION:2.0" in lines
    assert any(line.startswith(f"UID:booking-{reference}@") for line in lines)
    assert "DTSTART:20311224T190500Z" in lines
    assert "DTEND:20311224T212000Z" in lines  # 135 min film, without the cleaning time
    assert any(re.fullmatch(r"DTSTAMP:\d{8}T\d{6}Z", line) for line in lines)
    assert (
        "SUMMARY:Love\\, Actually\\; a\\\\b — a very long title that needs folding on the line"
        in lines
    )
    assert "LOCATION:FilmSphere\\, Screen 2\\, upstairs" in lines
    assert "STATUS:CONFIRMED" in lines
    description = next(line for line in lines if line.startswith("DESCRIPTION:"))
    assert "A1 (standard)\\, A2 (standard)" in description


def test_calendar_of_a_cancelled_booking_says_cancelled(
    app: Flask, client: FlaskClient, backend: str
) -> None:
    with app.app_context():
        seeded = seed_booking()
    with app.app_context():
        row = db.session.get(Booking, seeded.booking_id)
        row.status = BookingStatus.CANCELLED
        for ticket in db.session.scalars(db.select(Ticket).where(Ticket.booking_id == row.id)):
            ticket.status = TicketStatus.CANCELLED
            ticket.refund_coins = 0
        db.session.commit()
    log_in(client, seeded.username)
    text = client.get(f"/bookings/{seeded.reference}/calendar.ics").get_data(as_text=True)
    assert "STATUS:CANCELLED" in text
