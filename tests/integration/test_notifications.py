"""Booking emails: the outbox holds a change's facts, the sender renders what was true then
(confirmation with QR images and .ics, cancellation notices with the calendar revision)."""

from __future__ import annotations

import io
from datetime import timedelta

import icalendar
import PIL.Image
import pytest
import zxingcpp
from flask import Flask

from filmsphere.extensions import db
from filmsphere.models import Booking, OutboxMessage, Ticket, TicketStatus
from filmsphere.services.door.ticket_codes import read_ticket_code, ticket_code
from filmsphere.services.mail.emails import Email, Part, render_message
from filmsphere.services.mail.notifications import (
    queue_admin_cancellation_notice,
    queue_booking_confirmation,
    queue_cancellation_notice,
)
from filmsphere.services.transaction import write_transaction
from tests import factories


def _outbox() -> list[OutboxMessage]:
    return list(db.session.scalars(db.select(OutboxMessage).order_by(OutboxMessage.id)))


def _calendar(email: Email) -> tuple[Part, icalendar.Event, str]:
    """The email's one calendar file, its event, and its METHOD."""
    [part] = [p for p in email.parts if p.content_type.startswith("text/calendar")]
    calendar = icalendar.Calendar.from_ical(part.data)
    [event] = calendar.walk("VEVENT")
    return part, event, str(calendar["METHOD"])


def _cancel(ticket: Ticket, refund: int) -> None:
    ticket.status = TicketStatus.CANCELLED
    ticket.refund_coins = refund
    ticket.cancelled_at = factories.now()


def test_confirmation_has_qr_per_ticket_and_ics_with_an_alarm(ctx: Flask, backend: str) -> None:
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
    assert message.status == "pending"
    assert message.payload == {"booking_id": booking.id}  # facts only: rendered when sent
    email = render_message(message)
    assert email.subject.startswith("Your tickets for Tom & <Jerry> — ")
    # The HTML escapes the user-supplied title, the text part keeps it readable.
    assert "Tom &amp; &lt;Jerry&gt;" in (email.html or "")
    assert "<Jerry>" not in (email.html or "")
    assert "Tom & <Jerry>" in email.text

    images = [p for p in email.parts if p.content_type == "image/png"]
    assert len(images) == 2
    codes = set()
    for image in images:
        assert f'src="cid:{image.inline_cid}"' in (email.html or "")
        [decoded] = zxingcpp.read_barcodes(PIL.Image.open(io.BytesIO(image.data)))
        codes.add(decoded.text)
    assert codes == {ticket_code(t) for t in booking.tickets}
    for code in codes:
        assert read_ticket_code(code)[1] == show.id
        assert code in email.text  # typed fallback in the text part

    part, event, method = _calendar(email)
    assert part.filename == f"filmsphere-{booking.reference}.ics"
    assert method == "PUBLISH" and "method=PUBLISH" in part.content_type
    assert str(event["UID"]).startswith(f"booking-{booking.reference}@")
    assert (str(event["STATUS"]), int(event["SEQUENCE"])) == ("CONFIRMED", 0)
    assert event.decoded("DTSTART") == show.starts_at
    [alarm] = event.walk("VALARM")
    assert alarm.decoded("TRIGGER") == -timedelta(hours=2)
    assert str(alarm["ACTION"]) == "DISPLAY"


def test_confirmation_rolls_back_with_the_transaction(ctx: Flask, backend: str) -> None:
    user = factories.make_user()
    booking = factories.make_booking(user, factories.make_show())

    with pytest.raises(RuntimeError), write_transaction():
        queue_booking_confirmation(booking.id, factories.now())
        raise RuntimeError("checkout failed after queuing")

    assert _outbox() == []


def test_cancellation_notice_lists_refund_and_revises_the_event(ctx: Flask, backend: str) -> None:
    user = factories.make_user()
    booking = factories.make_booking(user, factories.make_show(), ("A1", "A2"), price=10)
    first = booking.tickets[0]
    now = factories.now()
    with write_transaction():
        _cancel(first, 8)
        queue_cancellation_notice(booking.id, [first.id], 8, now)

    [message] = _outbox()
    assert message.kind == "booking_cancelled"
    email = render_message(message)
    assert email.subject.startswith("Cancelled: ")
    assert "Refunded to your wallet: 8 coins" in email.text
    assert "row A, seat 1" in email.text
    assert "row A, seat 2" not in email.text
    assert "1 active ticket " in email.text
    # A2 is still valid: the event stays, revised to the seat left (same UID, SEQUENCE 1).
    _, event, method = _calendar(email)
    assert method == "PUBLISH" and str(event["STATUS"]) == "CONFIRMED"
    assert str(event["UID"]).startswith(f"booking-{booking.reference}@")
    assert int(event["SEQUENCE"]) == 1
    assert "Seats: A2 (standard)." in str(event["DESCRIPTION"])


def test_each_email_says_what_was_true_when_it_was_queued(ctx: Flask, backend: str) -> None:
    """Rendered later, after more changes: the confirmation still lists both tickets it
    sold, the first cancellation only the ticket (and refund) it cancelled, and only the
    last one cancels the calendar event, with the highest revision."""
    user = factories.make_user()
    booking = factories.make_booking(user, factories.make_show(), ("A1", "A2"), price=10)
    first, second = booking.tickets
    now = factories.now()
    with write_transaction():
        queue_booking_confirmation(booking.id, now)
    with write_transaction():
        _cancel(first, 8)
        queue_cancellation_notice(booking.id, [first.id], 8, now)
    with write_transaction():
        _cancel(second, 5)
        queue_cancellation_notice(booking.id, [second.id], 5, now)

    confirmation, earlier, later = (render_message(m) for m in _outbox())
    assert "row A, seat 1" in confirmation.text and "row A, seat 2" in confirmation.text
    assert len([p for p in confirmation.parts if p.content_type == "image/png"]) == 2
    assert "refunded 8 coins" in earlier.text and "row A, seat 2" not in earlier.text
    assert "Refunded to your wallet: 8 coins" in earlier.text
    assert "1 active ticket " in earlier.text
    assert "refunded 5 coins" in later.text and "row A, seat 1" not in later.text
    assert "No tickets of this booking remain active" in later.text
    events = [_calendar(email) for email in (confirmation, earlier, later)]
    assert [int(event["SEQUENCE"]) for _, event, _ in events] == [0, 1, 2]
    assert [method for _, _, method in events] == ["PUBLISH", "PUBLISH", "CANCEL"]
    assert len({str(event["UID"]) for _, event, _ in events}) == 1


def test_admin_cancellation_notice_says_full_refund_reason_and_cancels_the_event(
    ctx: Flask, backend: str
) -> None:
    user = factories.make_user()
    booking = factories.make_booking(user, factories.make_show(), ("A1",), price=12)
    with write_transaction():
        _cancel(booking.tickets[0], 12)
        queue_admin_cancellation_notice(
            booking.id, [booking.tickets[0].id], 12, factories.now(), reason="Projector <broken>"
        )

    [message] = _outbox()
    assert message.kind == "booking_cancelled_by_admin"
    email = render_message(message)
    assert "Full refund: 12 coins" in (email.html or "")
    assert "Projector &lt;broken&gt;" in (email.html or "")
    assert "Reason:    Projector <broken>" in email.text
    part, event, method = _calendar(email)
    assert method == "CANCEL" and "method=CANCEL" in part.content_type
    assert (str(event["STATUS"]), int(event["SEQUENCE"])) == ("CANCELLED", 1)
    assert str(event["ATTENDEE"]) == f"mailto:{user.email}"
    assert str(event["ORGANIZER"]).startswith("mailto:")
    assert not event.walk("VALARM")


def test_real_checkout_and_cancel_queue_the_emails(ctx: Flask, backend: str) -> None:
    """Through booking-core's services: the confirmation lists every new ticket, and the
    cancellation notice the refunded one."""
    from filmsphere.models import Seat
    from filmsphere.services.booking.cancellation import cancel_tickets
    from filmsphere.services.booking.checkout import checkout
    from filmsphere.services.booking.holds import toggle_hold

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
    assert confirmation.payload == {"booking_id": booking_id}
    assert confirmation.to_address == user.email  # read inside the INSERT
    images = [p for p in render_message(confirmation).parts if p.content_type == "image/png"]
    assert len(images) == 2
    tickets = db.session.scalars(
        db.select(Ticket).where(Ticket.booking_id == booking_id).order_by(Ticket.id)
    ).all()
    decoded = {zxingcpp.read_barcodes(PIL.Image.open(io.BytesIO(i.data)))[0].text for i in images}
    assert decoded == {ticket_code(t) for t in tickets}

    quote = cancel_tickets(user_id, reference, [tickets[0].id], now)
    cancelled = _outbox()[-1]
    assert cancelled.kind == "booking_cancelled"
    assert cancelled.payload["cancelled"] == [[tickets[0].id, quote.refund_total]]
    text = render_message(cancelled).text
    assert f"Refunded to your wallet: {quote.refund_total} coins" in text
    assert db.session.get(Booking, booking_id) is not None
