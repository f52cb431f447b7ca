"""Send a ticket to a friend: offer by email, take back, accept with a new code, races."""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from filmsphere.extensions import db
from filmsphere.models import (
    AuditEntry,
    Booking,
    Seat,
    Ticket,
    TicketStatus,
    TicketTransfer,
    User,
    Wallet,
)
from filmsphere.models.types import utcnow
from filmsphere.services.booking import transfers
from filmsphere.services.door import checkin
from filmsphere.services.door.ticket_codes import ticket_code
from filmsphere.services.errors import AlreadyDone, DomainError, Forbidden
from filmsphere.services.locks import guards_off
from filmsphere.services.mail.emails import render_message
from filmsphere.services.mail.mailer import send_pending
from filmsphere.services.transaction import set_race_hook
from tests import factories
from tests.conftest import csrf_from
from tests.support import smtp
from tests.support.smtp import Inbox

from .tickets_support import Seeded, log_in, seed_booking

LINK = re.compile(r"http://[^\s\"]+/transfers/([A-Za-z0-9_-]+)")

# This module's app sends to a real SMTP server (fixtures shared in tests/support/smtp.py).
mail_port, app_overrides, inbox = smtp.mail_port, smtp.app_overrides, smtp.inbox


def _ticket_ids(booking_id: int) -> list[int]:
    return list(
        db.session.scalars(
            db.select(Ticket.id).where(Ticket.booking_id == booking_id).order_by(Ticket.id)
        )
    )


def _balance(user_id: int) -> int:
    return db.session.scalars(
        db.select(Wallet.balance_coins).where(Wallet.user_id == user_id)
    ).one()


def _seed(app: Flask, seats: tuple[str, ...] = ("A1", "A2")) -> tuple[Seeded, int, str]:
    """A booking of the sender's and a verified friend; returns them and the friend's email."""
    with app.app_context():
        seeded = seed_booking(seats=seats)
        friend = factories.make_user()
        return seeded, friend.id, friend.email


def _offer(app: Flask, seeded: Seeded, email: str, index: int = 0) -> transfers.TransferOffer:
    with app.app_context():
        ticket_id = _ticket_ids(seeded.booking_id)[index]
        return transfers.offer_transfer(
            seeded.user_id, seeded.reference, ticket_id, email, utcnow()
        )


def test_offer_email_accept_moves_the_ticket_with_a_new_code(
    app: Flask, backend: str, inbox: Inbox
) -> None:
    seeded, friend_id, friend_email = _seed(app)
    with app.app_context():
        old_ticket = db.session.get(Ticket, _ticket_ids(seeded.booking_id)[0])
        assert old_ticket is not None
        old_code, seat_id = ticket_code(old_ticket), old_ticket.seat_id
        balances = (_balance(seeded.user_id), _balance(friend_id))

    _offer(app, seeded, friend_email)
    with app.app_context():
        assert send_pending(utcnow()).sent == 1
    [message] = inbox.to(friend_email)
    assert message["Subject"].startswith(f"{seeded.full_name} sent you Alien — ")
    text = message.get_body(preferencelist=("plain",))
    assert text is not None
    token = LINK.search(text.get_content()).group(1)  # type: ignore[union-attr]

    with app.app_context():
        reference = transfers.accept_transfer(friend_id, token, utcnow())
        new_booking = db.session.scalars(
            db.select(Booking).where(Booking.reference == reference)
        ).one()
        assert new_booking.user_id == friend_id and new_booking.total_coins == 0
        [new_ticket] = new_booking.tickets
        assert new_ticket.seat_id == seat_id and new_ticket.status == TicketStatus.ACTIVE
        assert new_ticket.price_coins == 10  # keeps its value; nothing was charged
        new_code = ticket_code(new_ticket)
        assert new_code != old_code
        # No coins moved.
        assert (_balance(seeded.user_id), _balance(friend_id)) == balances
        # The door: the old code is refused at once, the new one admits.
        assert checkin.check_in(old_code, seeded.staff_id, utcnow()).outcome == "cancelled"
        assert checkin.check_in(new_code, seeded.staff_id, utcnow()).outcome == "valid"
        actions = list(db.session.scalars(db.select(AuditEntry.action).order_by(AuditEntry.id)))
        assert actions == ["ticket.transfer_offered", "ticket.transfer_accepted"]
        # The friend's confirmation with the new QR code, and a note to the sender.
        assert send_pending(utcnow()).sent == 2
    [confirmation] = [m for m in inbox.to(friend_email) if m["Subject"].startswith("Your tickets")]
    assert new_code in confirmation.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    [note] = inbox.to(seeded.email)
    assert note["Subject"].startswith("Your friend accepted your ticket: Alien")
    assert friend_email in note.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]

    # Single use: the link is spent.
    with app.app_context(), pytest.raises(AlreadyDone):
        transfers.accept_transfer(friend_id, token, utcnow())


def test_wheelchair_space_and_companion_seat_move_together(app: Flask, backend: str) -> None:
    """The small layout's row C starts "WC": offering the companion seat offers both."""
    seeded, friend_id, friend_email = _seed(app, seats=("C1", "C2"))
    offer = _offer(app, seeded, friend_email, index=1)
    with app.app_context():
        reference = transfers.accept_transfer(friend_id, offer.token, utcnow())
        booking = db.session.scalars(db.select(Booking).where(Booking.reference == reference)).one()
        seats = sorted(db.session.get(Seat, t.seat_id).label for t in booking.tickets)  # type: ignore[union-attr]
        assert seats == ["C1", "C2"]
        assert all(
            t.status == TicketStatus.CANCELLED
            for t in db.session.scalars(
                db.select(Ticket).where(Ticket.booking_id == seeded.booking_id)
            )
        )


@pytest.mark.parametrize(
    ("who", "error"),
    [("stranger", Forbidden), ("unverified", Forbidden), ("sender", Forbidden)],
)
def test_only_the_verified_recipient_can_accept(
    app: Flask, backend: str, who: str, error: type[DomainError]
) -> None:
    with app.app_context():
        seeded = seed_booking()
        address = "friend@example.test"
        if who == "unverified":
            user_id = factories.make_user(email=address, verified=False).id
        elif who == "stranger":
            user_id = factories.make_user().id
        else:
            user_id = seeded.user_id
    offer = _offer(app, seeded, address)
    with app.app_context():
        with pytest.raises(error):
            transfers.accept_transfer(user_id, offer.token, utcnow())
        assert db.session.get(TicketTransfer, offer.transfer_id).status == "pending"  # type: ignore[union-attr]


def test_offer_refusals(app: Flask, backend: str) -> None:
    seeded, _, friend_email = _seed(app)
    with app.app_context():
        ticket_id = _ticket_ids(seeded.booking_id)[0]
        other = factories.make_user()
        for user_id, email, error in [
            (seeded.user_id, "not an address", "Enter your friend's email address"),
            (seeded.user_id, seeded.email.upper(), "your own address"),
            (other.id, friend_email, "no booking with that reference"),
        ]:
            with pytest.raises(DomainError, match=error):
                transfers.offer_transfer(user_id, seeded.reference, ticket_id, email, utcnow())
        transfers.offer_transfer(
            seeded.user_id, seeded.reference, ticket_id, friend_email, utcnow()
        )
        with pytest.raises(DomainError, match="already on its way"):
            transfers.offer_transfer(
                seeded.user_id, seeded.reference, ticket_id, "x@y.test", utcnow()
            )
        with pytest.raises(DomainError, match="show has started"):
            transfers.offer_transfer(
                seeded.user_id,
                seeded.reference,
                _ticket_ids(seeded.booking_id)[1],
                friend_email,
                utcnow() + timedelta(hours=1),
            )


def test_take_back_then_the_link_is_gone_and_expired_links_too(app: Flask, backend: str) -> None:
    seeded, friend_id, friend_email = _seed(app)
    first = _offer(app, seeded, friend_email, 0)
    second = _offer(app, seeded, friend_email, 1)
    with app.app_context():
        assert transfers.take_back(seeded.user_id, first.transfer_id, utcnow()) == seeded.reference
        with pytest.raises(transfers.TransferGone, match="took this ticket back"):
            transfers.accept_transfer(friend_id, first.token, utcnow())
        # The link never outlives the show's start (30 minutes away here).
        app.config["TRANSFER_LINK_HOURS"] = 0
        third = _offer(app, seeded, friend_email, 0)  # taken back: the ticket can go again
        with pytest.raises(transfers.TransferGone, match="expired"):
            transfers.accept_transfer(friend_id, third.token, utcnow())
        with pytest.raises(transfers.TransferGone, match="expired"):
            transfers.accept_transfer(friend_id, second.token, utcnow() + timedelta(minutes=31))
        # An expired offer no longer holds its ticket: it can be sent again.
        assert _offer(app, seeded, "other@example.test", 0).token
        assert _ticket_ids(seeded.booking_id) == [
            t.id
            for t in db.session.scalars(
                db.select(Ticket).where(
                    Ticket.booking_id == seeded.booking_id, Ticket.status == TicketStatus.ACTIVE
                )
            )
        ]


# --- routes ------------------------------------------------------------------------------


def test_send_and_accept_without_javascript_with_the_log_in_detour(
    app: Flask, backend: str, client: FlaskClient
) -> None:
    seeded, friend_id, friend_email = _seed(app)
    with app.app_context():
        friend = db.session.get(User, friend_id)
        assert friend is not None
        friend_login = friend.username
    log_in(client, seeded.username)
    page = client.get(f"/bookings/{seeded.reference}/send").get_data(as_text=True)
    ticket_id = re.search(r'name="ticket_id"[^>]*value="(\d+)"', page).group(1)  # type: ignore[union-attr]
    response = client.post(
        f"/bookings/{seeded.reference}/send",
        data={"ticket_id": ticket_id, "email": friend_email, "csrf_token": csrf_from(page)},
    )
    assert response.status_code == 303
    booking_page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"sent to <strong>{friend_email}</strong>" in booking_page
    assert "waiting for them to accept" in booking_page
    with app.app_context():
        token = _token_from_outbox(friend_email)

    friend_client = app.test_client()
    offer_page = friend_client.get(f"/transfers/{token}")
    assert offer_page.status_code == 200 and "Log in" in offer_page.get_data(as_text=True)
    # The visitor logs in from the navigation (no next=): back to the link.
    login_page = friend_client.get("/auth/login").get_data(as_text=True)
    logged_in = friend_client.post(
        "/auth/login",
        data={
            "login": friend_login,
            "password": factories.PASSWORD,
            "csrf_token": csrf_from(login_page),
        },
    )
    assert logged_in.status_code == 303 and logged_in.headers["Location"] == f"/transfers/{token}"
    offer_html = friend_client.get(f"/transfers/{token}").get_data(as_text=True)
    accepted = friend_client.post(
        f"/transfers/{token}/accept", data={"csrf_token": csrf_from(offer_html)}
    )
    assert accepted.status_code == 303
    friend_booking = friend_client.get(accepted.headers["Location"]).get_data(as_text=True)
    assert f"received from <strong>{seeded.full_name}</strong>" in friend_booking
    assert "FS1." in friend_booking  # the new QR code's caption
    sender_page = client.get(f"/bookings/{seeded.reference}").get_data(as_text=True)
    assert "the ticket is theirs now" in sender_page
    assert sender_page.count("You sent this ticket to a friend; its code no longer works.") == 1
    # Another user's view of the link after it was used: 409, nothing more.
    assert friend_client.get(f"/transfers/{token}").status_code == 409


def _token_from_outbox(email: str) -> str:
    """The link in the friend's email, rendered as the sender will render it."""
    from filmsphere.models import OutboxMessage

    message = db.session.scalars(
        db.select(OutboxMessage)
        .where(OutboxMessage.to_address == email, OutboxMessage.kind == "ticket_transfer_offer")
        .order_by(OutboxMessage.id.desc())
    ).first()
    assert message is not None
    return LINK.search(render_message(message).text).group(1)  # type: ignore[union-attr]


def test_send_take_back_and_accept_with_htmx(app: Flask, backend: str, client: FlaskClient) -> None:
    seeded, friend_id, friend_email = _seed(app)
    with app.app_context():
        ticket_id = _ticket_ids(seeded.booking_id)[0]
        friend_login = db.session.get(User, friend_id).username  # type: ignore[union-attr]
    token = log_in(client, seeded.username)
    hx = {"HX-Request": "true"}
    bad = client.post(
        f"/bookings/{seeded.reference}/send",
        data={"ticket_id": ticket_id, "email": "nope", "csrf_token": token},
        headers=hx,
    )
    assert bad.status_code == 422 and "HX-Request" in bad.headers["Vary"]
    assert bad.get_data(as_text=True).startswith('<section id="send-form"')
    sent = client.post(
        f"/bookings/{seeded.reference}/send",
        data={"ticket_id": ticket_id, "email": friend_email, "csrf_token": token},
        headers=hx,
    )
    assert sent.status_code == 200 and "We emailed" in sent.get_data(as_text=True)
    with app.app_context():
        transfer_id = db.session.scalars(db.select(TicketTransfer.id)).one()
        link = _token_from_outbox(friend_email)

    back = client.post(
        f"/transfers/{transfer_id}/take-back", data={"csrf_token": token}, headers=hx
    )
    assert back.status_code == 200 and "HX-Request" in back.headers["Vary"]
    assert back.get_data(as_text=True).startswith('<section id="transfers"')
    assert "taken back" in back.get_data(as_text=True)
    again = client.post(
        f"/transfers/{transfer_id}/take-back", data={"csrf_token": token}, headers=hx
    )
    assert again.status_code == 409
    plain = client.post(f"/transfers/{transfer_id}/take-back", data={"csrf_token": token})
    assert plain.status_code == 303

    friend = app.test_client()
    friend_token = log_in(friend, friend_login)
    gone = friend.post(f"/transfers/{link}/accept", data={"csrf_token": friend_token}, headers=hx)
    assert gone.status_code == 410 and "took this ticket back" in gone.get_data(as_text=True)

    client.post(
        f"/bookings/{seeded.reference}/send",
        data={"ticket_id": ticket_id, "email": friend_email, "csrf_token": token},
    )
    with app.app_context():
        link = _token_from_outbox(friend_email)
    ok = friend.post(f"/transfers/{link}/accept", data={"csrf_token": friend_token}, headers=hx)
    assert ok.status_code == 204 and ok.headers["HX-Redirect"].startswith("/bookings/")
    # Another user's booking stays a 404, and so does their transfer.
    assert friend.get(f"/bookings/{seeded.reference}").status_code == 404
    assert (
        friend.post(
            f"/transfers/{transfer_id}/take-back", data={"csrf_token": friend_token}
        ).status_code
        == 404
    )
    assert client.get("/transfers/not-a-real-link").status_code == 404


def test_sending_is_rate_limited(app: Flask, backend: str, client: FlaskClient) -> None:
    app.config["RATELIMIT_TRANSFER"] = "2 per minute"
    seeded, _, _ = _seed(app)
    token = log_in(client, seeded.username)
    statuses = [
        client.post(
            f"/bookings/{seeded.reference}/send",
            data={"ticket_id": "0", "email": f"f{i}@example.test", "csrf_token": token},
        ).status_code
        for i in range(3)
    ]
    assert statuses[-1] == 429


# --- races -------------------------------------------------------------------------------


@pytest.fixture
def pause_after_reading() -> Iterator[None]:
    """Each side waits at its race point (after reading the transfer, before writing), so
    without the booking lock both have read "pending"; with it the second can't get there
    while the first holds the lock, the barrier breaks and the first goes on alone."""
    barrier = threading.Barrier(2, timeout=2)

    def hook() -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()

    for name in ("transfers.accept", "transfers.take_back"):
        set_race_hook(name, hook)
    yield
    for name in ("transfers.accept", "transfers.take_back"):
        set_race_hook(name, None)


def _both(app: Flask, *calls: Callable[[], object]) -> list[object]:
    outcomes: list[object] = []
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], object]) -> None:
        with app.app_context():
            start.wait()
            try:
                outcomes.append(call())
            except Exception as exc:  # noqa: BLE001 - the outcome is what the test checks
                outcomes.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcomes


def _accept_vs_take_back(app: Flask) -> tuple[list[object], str]:
    seeded, friend_id, friend_email = _seed(app)
    offer = _offer(app, seeded, friend_email)
    outcomes = _both(
        app,
        lambda: transfers.accept_transfer(friend_id, offer.token, utcnow()),
        lambda: transfers.take_back(seeded.user_id, offer.transfer_id, utcnow()),
    )
    with app.app_context():
        status = db.session.get(TicketTransfer, offer.transfer_id).status  # type: ignore[union-attr]
    return outcomes, status


@pytest.mark.postgres_only
def test_two_acceptances_one_winner(app: Flask, backend: str, pause_after_reading: None) -> None:
    seeded, friend_id, friend_email = _seed(app)
    offer = _offer(app, seeded, friend_email)

    outcomes = _both(
        app,
        lambda: transfers.accept_transfer(friend_id, offer.token, utcnow()),
        lambda: transfers.accept_transfer(friend_id, offer.token, utcnow()),
    )

    winners = [o for o in outcomes if isinstance(o, str)]
    losers = [o for o in outcomes if isinstance(o, AlreadyDone)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    with app.app_context():
        assert (
            db.session.scalar(
                db.select(db.func.count()).select_from(Booking).where(Booking.user_id == friend_id)
            )
            == 1
        )


@pytest.mark.postgres_only
def test_accept_against_take_back_one_winner(
    app: Flask, backend: str, pause_after_reading: None
) -> None:
    outcomes, status = _accept_vs_take_back(app)

    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert len(errors) == 1, outcomes
    assert isinstance(errors[0], (AlreadyDone, transfers.TransferGone))
    accepted = any(isinstance(o, str) and len(o) == 8 for o in outcomes) and status == "accepted"
    assert accepted or status == "revoked"


@pytest.mark.postgres_only
def test_negative_control_without_the_booking_lock_both_win(
    app: Flask, backend: str, pause_after_reading: None
) -> None:
    """Proves the race test can fail: unlocked, the friend gets the ticket AND the sender
    is told it was taken back (the transfer ends "revoked" over a moved ticket)."""
    with guards_off("bookings"):
        outcomes, _ = _accept_vs_take_back(app)

    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes


def test_after_the_transfer_refunds_follow_the_ticket_and_a_cancelled_offer_is_refused(
    app: Flask, backend: str
) -> None:
    """The friend cancels the received ticket: the policy refunds them (the ticket kept its
    price), the sender's wallet is untouched. A ticket the sender cancelled while it was on
    offer can't be accepted any more."""
    from filmsphere.services.booking.cancellation import cancel_tickets

    seeded, friend_id, friend_email = _seed(app)
    first = _offer(app, seeded, friend_email, 0)
    second = _offer(app, seeded, friend_email, 1)
    with app.app_context():
        sender_before, friend_before = _balance(seeded.user_id), _balance(friend_id)
        reference = transfers.accept_transfer(friend_id, first.token, utcnow())
        cancel_tickets(friend_id, reference, None, utcnow())
        # 30 minutes before the show: the 80 % band of the refund policy.
        assert _balance(friend_id) == friend_before + 8
        assert _balance(seeded.user_id) == sender_before
        second_ticket = _ticket_ids(seeded.booking_id)[1]
        cancel_tickets(seeded.user_id, seeded.reference, [second_ticket], utcnow())
        with pytest.raises(DomainError, match="cancelled or used meanwhile"):
            transfers.accept_transfer(friend_id, second.token, utcnow())
