"""Booking emails in the outbox: confirmation with QR images and .ics, cancellation notices."""

from __future__ import annotations

import base64
import io
from datetime import timedelta

import PIL.Image
import pytest
import zxingcpp
from flask import Flask

from filmsphere.extensions import db
from filmsphere.models import OutboxMessage, Ticket, TicketStatus
from filmsphere.services.mailer import attachment_data
from filmsphere.services.notifications import (
    queue_admin_cancellation_notice,
    queue_booking_confirmation,
    queue_cancellation_notice,
)
from filmsphere.services.ticket_codes import read_ticket_code, ticket_code
from filmsphere.services.transaction import write_transaction
from tests import factories


def _outbox() -> list[OutboxMessage]:
    return list(db.session.scalars(db.select(OutboxMessage).order_by(OutboxMessage.id)))


def test_confirmation_has_qr_per_ticket_and_ics(ctx: Flask, backend: str) -> None:
    user = factories.make_user()
    movie = factories.make_movie(title="Tom & <Jerry>")
    show = factories.make_show(movie)
    booking = factories.make_booking(user, show, ("A1", "A2"))
    now = factories.now()

    with write_transaction():
        queue_booking_confirmation(booking.id, now)

    [message] = _outbox()
    assert message.kind == "booking_confirmation"
    assert message.to_address == user.email
    assert message.subject.startswith("Your tickets for Tom & <Jerry> — ")
    assert message.status == "pending"
    # The HTML escapes the user-supplied title, the text part keeps it readable.
    assert "Tom &amp; &lt;Jerry&gt;" in (message.body_html or "")
    assert "<Jerry>" not in (message.body_html or "")
    assert "Tom & <Jerry>" in message.body_text

    images = [a for a in message.attachments if a["content_type"] == "image/png"]
    calendars = [a for a in message.attachments if a["content_type"] == "text/calendar"]
    assert len(images) == 2 and len(calendars) == 1
    codes = set()
    for image in images:
        assert f'src="cid:{image["inline_cid"]}"' in (message.body_html or "")
        # Stored as the code only: the PNG is drawn at send time, outside the transaction.
        assert "data_b64" not in image
        png = PIL.Image.open(io.BytesIO(attachment_data(image)))
        [decoded] = zxingcpp.read_barcodes(png)
        codes.add(decoded.text)
    assert codes == {ticket_code(t) for t in booking.tickets}
    for code in codes:
        assert read_ticket_code(code)[1] == show.id
        assert code in message.body_text  # typed fallback in the text part
    ics = base64.b64decode(calendars[0]["data_b64"]).decode()
    assert "BEGIN:VEVENT" in ics and f"booking-{booking.reference}@" in ics


def test_confirmation_rolls_back_with_the_transaction(ctx: Flask, backend: str) -> None:
    user = factories.make_user()
    booking = factories.make_booking(user, factories.make_show())

    with pytest.raises(RuntimeError), write_transaction():
        queue_booking_confirmation(booking.id, factories.now())
        raise RuntimeError("checkout failed after queuing")

    assert _outbox() == []


def test_cancellation_notice_lists_refund(ctx: Flask, backend: str) -> None:
    user = factories.make_user()
    booking = factories.make_booking(user, factories.make_show(), ("A1", "A2"), price=10)
    first = booking.tickets[0]
    now = factories.now()
    with write_transaction():
        first.status = TicketStatus.CANCELLED
        first.refund_coins = 8
        first.cancelled_at = now
        queue_cancellation_notice(booking.id, [first.id], 8, now)

    [message] = _outbox()
    assert message.kind == "booking_cancelled"
    assert message.subject.startswith("Cancelled: ")
    assert "Refunded to your wallet: 8 coins" in message.body_text
    assert "row A, seat 1" in message.body_text
    assert "row A, seat 2" not in message.body_text
    assert "1 active ticket " in message.body_text
    assert message.attachments == []


def test_admin_cancellation_notice_says_full_refund_and_reason(ctx: Flask, backend: str) -> None:
    user = factories.make_user()
    booking = factories.make_booking(user, factories.make_show(), ("A1",), price=12)
    with write_transaction():
        queue_admin_cancellation_notice(
            booking.id, [booking.tickets[0].id], 12, factories.now(), reason="Projector <broken>"
        )

    [message] = _outbox()
    assert message.kind == "booking_cancelled_by_admin"
    assert "Full refund: 12 coins" in (message.body_html or "")
    assert "Projector &lt;broken&gt;" in (message.body_html or "")
    assert "Reason:    Projector <broken>" in message.body_text


def test_real_checkout_and_cancel_queue_the_emails(ctx: Flask, backend: str) -> None:
    """Through booking-core's services: the confirmation lists every new ticket, and the
    cancellation notice the refunded one."""
    from filmsphere.models import Seat
    from filmsphere.services.cancellation import cancel_tickets
    from filmsphere.services.checkout import checkout
    from filmsphere.services.holds import toggle_hold

    user = factories.make_user()
    show = factories.make_show(starts_in=timedelta(days=2))
    seats = {
        s.label: s.id
        for s in db.session.scalars(db.select(Seat).where(Seat.screen_id == show.screen_id))
    }
    user_id, show_id = user.id, show.id
    now = factories.now()
    for label in ("A1", "A2"):
        toggle_hold(user_id, show_id, seats[label], now)
    booking = checkout(user_id, show_id, now, "tok-" + "x" * 20)
    reference, booking_id = booking.reference, booking.id

    [confirmation] = _outbox()
    assert confirmation.kind == "booking_confirmation"
    images = [a for a in confirmation.attachments if a["content_type"] == "image/png"]
    assert len(images) == 2
    tickets = db.session.scalars(
        db.select(Ticket).where(Ticket.booking_id == booking_id).order_by(Ticket.id)
    ).all()
    decoded = {
        zxingcpp.read_barcodes(PIL.Image.open(io.BytesIO(attachment_data(i))))[0].text
        for i in images
    }
    assert decoded == {ticket_code(t) for t in tickets}

    quote = cancel_tickets(user_id, reference, [tickets[0].id], now)
    cancelled = _outbox()[-1]
    assert cancelled.kind == "booking_cancelled"
    assert f"Refunded to your wallet: {quote.refund_total} coins" in cancelled.body_text
