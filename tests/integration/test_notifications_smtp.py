"""Booking emails delivered through a real SMTP server: parts, inline QR images, .ics."""

from __future__ import annotations

import re
from email.message import EmailMessage
from typing import Any

import icalendar
from flask import Flask
from flask.testing import FlaskCliRunner

from filmsphere.extensions import db
from filmsphere.models import OutboxMessage, Role, Ticket, TicketStatus
from filmsphere.models.types import utcnow
from filmsphere.services.booking.cancellation import cancel_booking_by_admin
from filmsphere.services.door.checkin import check_in
from filmsphere.services.door.ticket_codes import ticket_code
from filmsphere.services.mail.mailer import send_pending
from filmsphere.services.mail.notifications import (
    queue_admin_cancellation_notice,
    queue_booking_confirmation,
    queue_cancellation_notice,
)
from filmsphere.services.transaction import write_transaction
from tests.support import smtp
from tests.support.smtp import Inbox, smtp_server

from .. import factories
from .tickets_support import Seeded, decode_png, seed_booking

# This module's app sends to a real SMTP server (fixtures shared in tests/support/smtp.py).
mail_port, app_overrides, inbox = smtp.mail_port, smtp.app_overrides, smtp.inbox


def _book_and_confirm(app: Flask, **seed: Any) -> tuple[Seeded, set[str]]:
    with app.app_context():
        seeded = seed_booking(**seed)
        with write_transaction():
            queue_booking_confirmation(seeded.booking_id, utcnow())
        codes = {
            ticket_code(t)
            for t in db.session.scalars(
                db.select(Ticket).where(Ticket.booking_id == seeded.booking_id)
            )
        }
        return seeded, codes


def _parts(message: EmailMessage) -> list[EmailMessage]:
    return [p for p in message.walk() if not p.is_multipart()]  # type: ignore[misc]


def test_confirmation_arrives_with_parts_inline_qr_and_ics(
    app: Flask, backend: str, inbox: Inbox
) -> None:
    seeded, codes = _book_and_confirm(app, title="Tom & <Jerry>")

    with app.app_context():
        result = send_pending(utcnow())
    assert result.sent == 1, str(result)

    [message] = inbox.to(seeded.email)
    assert message["Subject"].startswith("Your tickets for Tom & <Jerry> — ")
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    text_body, html_body = text.get_content(), html.get_content()
    assert seeded.reference in text_body and "Tom & <Jerry>" in text_body
    assert "Tom &amp; &lt;Jerry&gt;" in html_body and "<Jerry>" not in html_body

    referenced = set(re.findall(r'src="cid:([^"]+)"', html_body))
    images = [p for p in _parts(message) if p.get_content_type() == "image/png"]
    assert len(images) == 2 == len(referenced)
    decoded = set()
    for image in images:
        assert image["Content-ID"].strip("<>") in referenced
        decoded.add(decode_png(image.get_content()))
    assert decoded == codes

    # The images sit with the HTML in a multipart/related, so they show inline everywhere.
    related = next(p for p in message.walk() if p.get_content_type() == "multipart/related")
    assert [p.get_content_type() for p in related.iter_parts()] == ["text/html"] + ["image/png"] * 2

    [ics] = [p for p in _parts(message) if p.get_content_type() == "text/calendar"]
    assert ics.get_content_disposition() == "attachment"
    assert ics.get_filename() == f"filmsphere-{seeded.reference}.ics"
    assert ics.get_param("method") == "PUBLISH"
    calendar = ics.get_content()
    assert "BEGIN:VEVENT" in calendar and "BEGIN:VALARM" in calendar
    assert f"UID:booking-{seeded.reference}@" in calendar

    with app.app_context():  # the emailed QR gets the holder in
        for code in decoded:
            assert check_in(code, seeded.staff_id, utcnow()).outcome == "valid"


def test_mail_waits_while_the_server_is_down_and_is_sent_once(
    app: Flask, runner: FlaskCliRunner, backend: str, mail_port: int
) -> None:
    seeded, _ = _book_and_confirm(app)

    down = runner.invoke(args=["send-mail"])
    assert down.exit_code == 0, down.output
    assert "0 sent, 1 will be retried" in down.output
    with app.app_context():
        [row] = db.session.scalars(db.select(OutboxMessage)).all()
        assert (row.status, row.attempts) == ("pending", 1)
        assert row.last_error

    with smtp_server(mail_port) as (inbox, _):
        first = runner.invoke(args=["send-mail"])
        second = runner.invoke(args=["send-mail"])
    assert "1 sent" in first.output, first.output
    assert "0 sent" in second.output, second.output
    assert len(inbox.to(seeded.email)) == 1
    with app.app_context():
        assert db.session.scalars(db.select(OutboxMessage.status)).all() == ["sent"]


def test_cancellation_and_admin_notices_arrive(app: Flask, backend: str, inbox: Inbox) -> None:
    with app.app_context():
        seeded = seed_booking(title="Heat & Dust")
        now = utcnow()
        with write_transaction() as session:
            ticket = session.scalars(
                db.select(Ticket).where(Ticket.booking_id == seeded.booking_id).order_by(Ticket.id)
            ).first()
            assert ticket is not None
            ticket.status = TicketStatus.CANCELLED
            ticket.refund_coins = 8
            queue_cancellation_notice(seeded.booking_id, [ticket.id], 8, now)
        with write_transaction():
            queue_admin_cancellation_notice(
                seeded.booking_id, [ticket.id], 10, now, reason="Projector fault"
            )
        assert send_pending(utcnow()).sent == 2

    customer, admin = inbox.to(seeded.email)
    assert customer["Subject"].startswith("Cancelled: Heat & Dust")
    body = customer.get_body(preferencelist=("plain",))
    assert body is not None and "Refunded to your wallet: 8 coins" in body.get_content()
    html = customer.get_body(preferencelist=("html",))
    assert html is not None and "Heat &amp; Dust" in html.get_content()
    assert admin["Subject"].startswith("The cinema cancelled your booking: Heat & Dust")
    admin_text = admin.get_body(preferencelist=("plain",))
    assert admin_text is not None
    assert "full refund: 10 coins" in admin_text.get_content()
    assert "Projector fault" in admin_text.get_content()


def test_a_cancelled_booking_sends_a_calendar_cancel_for_the_confirmed_event(
    app: Flask, backend: str, inbox: Inbox
) -> None:
    """Over the wire: the confirmation's event, then the admin cancellation's METHOD:CANCEL
    for the same UID with a higher SEQUENCE, so a calendar that imported it drops it."""
    seeded, _ = _book_and_confirm(app, title="Heat & Dust")
    with app.app_context():
        admin = factories.make_user(Role.ADMIN)
        cancel_booking_by_admin(admin.id, seeded.booking_id, utcnow(), reason="Flood")
        assert send_pending(utcnow()).sent == 2

    confirmation, cancellation = inbox.to(seeded.email)
    events = []
    for message, method in ((confirmation, "PUBLISH"), (cancellation, "CANCEL")):
        [part] = [p for p in _parts(message) if p.get_content_type() == "text/calendar"]
        assert part.get_param("method") == method
        calendar = icalendar.Calendar.from_ical(part.get_content())
        assert str(calendar["METHOD"]) == method
        [event] = calendar.walk("VEVENT")
        events.append(event)
    confirmed, cancelled = events
    assert str(cancelled["UID"]) == str(confirmed["UID"])
    assert str(confirmed["STATUS"]) == "CONFIRMED" and confirmed.walk("VALARM")
    assert str(cancelled["STATUS"]) == "CANCELLED" and not cancelled.walk("VALARM")
    assert int(cancelled["SEQUENCE"]) > int(confirmed["SEQUENCE"])
