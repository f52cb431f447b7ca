"""The exchange confirmation and the waitlist offer, delivered through a real SMTP server."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask

from filmsphere.extensions import db
from filmsphere.models import Booking, Ticket
from filmsphere.models.types import utcnow
from filmsphere.services.booking.cancellation import cancel_tickets
from filmsphere.services.booking.exchange import exchange_booking
from filmsphere.services.booking.waitlist import join_waitlist
from filmsphere.services.door.ticket_codes import ticket_code
from filmsphere.services.mail.mailer import send_pending
from tests import factories as f
from tests.support.smtp import Inbox

from . import test_notifications_smtp as smtp_fixtures
from .test_checkout import hold
from .test_waitlist import sold_out

# The real SMTP server of the notification tests: the app sends to it on a free port.
mail_port = smtp_fixtures.mail_port
app_overrides = smtp_fixtures.app_overrides
inbox = smtp_fixtures.inbox


def test_one_email_with_the_new_tickets_after_an_exchange(
    app: Flask, backend: str, inbox: Inbox
) -> None:
    with app.app_context():
        user = f.make_user(coins=100)
        movie = f.make_movie("Second Chance")
        old = f.make_show(movie)
        new = f.make_show(movie, starts_in=timedelta(days=2))
        booking = f.make_booking(user, old, ("B1", "B2"), price=15)
        hold(user.id, new, "A1", "A2")
        result = exchange_booking(user.id, booking.reference, new.id, utcnow())
        assert send_pending(utcnow()).sent == 1
        new_booking = db.session.scalars(
            db.select(Booking).where(Booking.reference == result.new_reference)
        ).one()
        codes = [ticket_code(t) for t in new_booking.tickets]
        old_codes = [
            ticket_code(t)
            for t in db.session.scalars(db.select(Ticket).where(Ticket.booking_id == booking.id))
        ]
        email = user.email

    (message,) = inbox.to(email)
    assert message["Subject"].startswith("Your new tickets for Second Chance")
    text = message.get_body(preferencelist=("plain",))
    assert text is not None
    content = text.get_content()
    assert f"replace booking {booking.reference}" in content
    assert "10 coins went back to your wallet" in content
    assert all(code in content for code in codes)
    assert not any(code in content for code in old_codes)
    images = [p for p in message.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 2  # one QR per new ticket


def test_the_waitlist_offer_email_names_the_seats_and_the_deadline(
    app: Flask, backend: str, inbox: Inbox
) -> None:
    with app.app_context():
        show, owner, refs = sold_out("A3 A4")
        customer = f.make_user()
        now = utcnow()
        join_waitlist(customer.id, show.id, 2, True, now)
        cancel_tickets(owner.id, refs["A3 A4"], None, now)
        assert send_pending(utcnow()).sent == 2  # the owner's cancellation, the offer
        email, show_id = customer.email, show.id

    (offer,) = inbox.to(email)
    assert offer["Subject"].startswith("Seats for you: ")
    text = offer.get_body(preferencelist=("plain",))
    assert text is not None
    content = text.get_content()
    assert "A3, A4" in content and f"/shows/{show_id}" in content
    html = offer.get_body(preferencelist=("html",))
    assert html is not None and "Pay for your seats" in html.get_content()
