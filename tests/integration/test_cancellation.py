"""Cancellation: the refund policy at its edges, partial and whole bookings, admin and
show cancellation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from filmsphere.extensions import db
from filmsphere.models import AuditEntry, Booking, LedgerEntry, OutboxMessage, Show, Ticket
from filmsphere.services.booking.cancellation import (
    cancel_booking_by_admin,
    cancel_show,
    cancel_tickets,
    quote_refund,
)
from filmsphere.services.booking.checkout import checkout
from filmsphere.services.booking.holds import toggle_hold
from filmsphere.services.errors import (
    AlreadyDone,
    Conflict,
    DomainError,
    NotFound,
    ShowNotBookable,
)
from filmsphere.services.mail.emails import render_message
from tests import factories as f

from .test_checkout import balance, hold
from .test_holds import etag, seat_id


def booked(user, show, *labels):  # type: ignore[no-untyped-def]
    hold(user.id, show, *labels)
    paid = checkout(user.id, show.id, f.now(), f"tok-{user.id}-{labels}")
    return db.session.get(Booking, paid.id)


@pytest.mark.parametrize(
    ("before_start", "percent"),
    [
        (timedelta(hours=3), 100),
        (timedelta(hours=2), 100),  # exactly 2 h before: still full
        (timedelta(hours=2) - timedelta(seconds=1), 80),
        (timedelta(minutes=20), 80),  # exactly 20 min before: still 80 %
        (timedelta(minutes=20) - timedelta(seconds=1), 0),
        (timedelta(seconds=1), 0),
    ],
)
def test_refund_policy_edges(backend: str, ctx: Flask, before_start, percent) -> None:  # type: ignore[no-untyped-def]
    user = f.make_user()
    show = f.make_show(starts_in=timedelta(days=1), price=11)
    booking = booked(user, show, "A1", "A2")
    now = show.starts_at - before_start
    quote = quote_refund(user.id, booking.reference, None, now)
    assert quote.percent == percent
    # 11 × 80 % = 8.8 → 9 per ticket (rounded per ticket, half up)
    each = {100: 11, 80: 9, 0: 0}[percent]
    assert [line.refund_coins for line in quote.lines] == [each, each]
    assert quote.refund_total == 2 * each
    assert "2 hours" in quote.policy_text and "20 minutes" in quote.policy_text


def test_cancel_whole_booking_refunds_and_frees_seats(backend: str, ctx: Flask) -> None:
    user, other = f.make_user(coins=100), f.make_user()
    show = f.make_show(price=10)
    booking = booked(user, show, "A1", "A2")
    assert balance(user.id) == 80
    now = f.now()
    before = etag(show.id, None, now)
    quote = cancel_tickets(user.id, booking.reference, None, now)
    assert quote.refund_total == 20 and quote.percent == 100
    assert balance(user.id) == 100
    db.session.expire_all()
    b = db.session.get(Booking, booking.id)
    assert b is not None and b.status == "cancelled" and b.cancelled_at is not None
    assert [(t.status, t.refund_coins) for t in b.tickets] == [("cancelled", 10)] * 2
    refunds = db.session.scalars(select(LedgerEntry).where(LedgerEntry.kind == "refund")).all()
    assert [(r.amount_coins, r.booking_id, r.ticket_id) for r in refunds] == [
        (20, booking.id, None)
    ]
    assert etag(show.id, None, now) != before  # the grid shows the seats free again
    assert "booking_cancelled" in set(db.session.scalars(select(OutboxMessage.kind)))
    # the seats are sellable again at once
    assert toggle_hold(other.id, show.id, seat_id(show, "A1"), f.now()).action == "held"


def test_cancel_single_ticket_then_the_rest(backend: str, ctx: Flask) -> None:
    user = f.make_user(coins=100)
    show = f.make_show(price=10)
    booking = booked(user, show, "A1", "A2")
    first = booking.tickets[0].id
    quote = cancel_tickets(user.id, booking.reference, [first], f.now())
    assert quote.refund_total == 10
    entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.kind == "refund"))
    assert entry is not None and entry.ticket_id == first
    db.session.expire_all()
    assert db.session.get(Booking, booking.id).status == "partially_cancelled"  # type: ignore[union-attr]
    with pytest.raises(AlreadyDone):
        cancel_tickets(user.id, booking.reference, [first], f.now())
    cancel_tickets(user.id, booking.reference, None, f.now())
    db.session.expire_all()
    assert db.session.get(Booking, booking.id).status == "cancelled"  # type: ignore[union-attr]
    assert balance(user.id) == 100
    with pytest.raises(AlreadyDone):
        cancel_tickets(user.id, booking.reference, None, f.now())
    assert balance(user.id) == 100


def test_zero_refund_still_cancels_without_a_ledger_entry(backend: str, ctx: Flask) -> None:
    user = f.make_user(coins=100)
    show = f.make_show(starts_in=timedelta(hours=1), price=10)
    booking = booked(user, show, "A1")
    quote = cancel_tickets(user.id, booking.reference, None, show.starts_at - timedelta(minutes=5))
    assert quote.refund_total == 0
    assert db.session.scalar(select(LedgerEntry.id).where(LedgerEntry.kind == "refund")) is None
    db.session.expire_all()
    assert db.session.get(Ticket, booking.tickets[0].id).status == "cancelled"  # type: ignore[union-attr]
    assert balance(user.id) == 90


def test_after_the_start_nothing_can_be_cancelled(backend: str, ctx: Flask) -> None:
    user = f.make_user()
    show = f.make_show(starts_in=timedelta(hours=1))
    booking = booked(user, show, "A1")
    with pytest.raises(Conflict, match="started"):
        cancel_tickets(user.id, booking.reference, None, show.starts_at)


def test_other_users_booking_is_not_found(backend: str, ctx: Flask) -> None:
    owner, stranger = f.make_user(), f.make_user()
    show = f.make_show()
    booking = booked(owner, show, "A1")
    with pytest.raises(NotFound):
        quote_refund(stranger.id, booking.reference, None, f.now())
    with pytest.raises(NotFound):
        cancel_tickets(stranger.id, booking.reference, None, f.now())
    other_booking = booked(stranger, show, "A4")
    with pytest.raises(NotFound):
        cancel_tickets(owner.id, booking.reference, [other_booking.tickets[0].id], f.now())


def test_admin_cancel_refunds_in_full_with_audit(backend: str, ctx: Flask) -> None:
    admin = f.make_user(role="admin")  # type: ignore[arg-type]
    user = f.make_user(coins=100)
    show = f.make_show(starts_in=timedelta(minutes=10), price=10)  # customer would get 0 %
    booking = booked(user, show, "A1", "A2")
    done = cancel_booking_by_admin(admin.id, booking.id, f.now(), reason="Projector fault")
    assert (done.tickets, done.refunded_coins, done.used_seats) == (2, 20, [])
    assert balance(user.id) == 100
    audit = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "booking.cancel"))
    assert audit is not None and audit.actor_id == admin.id
    assert audit.before == {"status": "paid", "active_tickets": 2}
    assert audit.after["status"] == "cancelled" and audit.after["refund_coins"] == 20
    entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.kind == "refund"))
    assert entry is not None and entry.actor_id == admin.id and entry.reason == "Projector fault"
    assert "booking_cancelled_by_admin" in set(db.session.scalars(select(OutboxMessage.kind)))
    with pytest.raises(AlreadyDone):
        cancel_booking_by_admin(admin.id, booking.id, f.now())


def test_admin_cannot_cancel_a_booking_once_the_show_is_over(backend: str, ctx: Flask) -> None:
    admin = f.make_user(role="admin")  # type: ignore[arg-type]
    user = f.make_user(coins=100)
    show = f.make_show(starts_in=timedelta(minutes=10), price=10)
    booking = booked(user, show, "A1")
    with pytest.raises(Conflict, match="over"):
        cancel_booking_by_admin(admin.id, booking.id, show.ends_at)
    assert balance(user.id) == 90


def test_cancel_show_refunds_everyone_and_stops_sales(backend: str, ctx: Flask) -> None:
    admin = f.make_user(role="admin")  # type: ignore[arg-type]
    alice, bob, carol = f.make_user(coins=100), f.make_user(coins=100), f.make_user()
    show = f.make_show(price=10)
    a = booked(alice, show, "A1", "A2")
    booked(bob, show, "B1")
    cancel_tickets(alice.id, a.reference, [a.tickets[0].id], f.now())
    hold(carol.id, show, "A5")
    result = cancel_show(admin.id, show.id, f.now(), reason="Flood")
    assert (result.bookings, result.tickets, result.refunded_coins) == (2, 2, 25)
    assert balance(alice.id) == 100 and balance(bob.id) == 100
    db.session.expire_all()
    assert db.session.get(Show, show.id).status == "cancelled"  # type: ignore[union-attr]
    assert db.session.scalar(select(Ticket.id).where(Ticket.status == "active")) is None
    mails = list(db.session.scalars(select(OutboxMessage.kind)))
    assert mails.count("booking_cancelled_by_admin") == 2
    assert db.session.scalar(select(AuditEntry).where(AuditEntry.action == "show.cancel"))
    with pytest.raises(ShowNotBookable):
        checkout(carol.id, show.id, f.now(), "late")
    with pytest.raises(AlreadyDone):
        cancel_show(admin.id, show.id, f.now())


def test_a_ticket_used_at_the_door_is_never_refunded(backend: str, ctx: Flask) -> None:
    from filmsphere.models import Role
    from filmsphere.services.door.checkin import check_in
    from filmsphere.services.door.ticket_codes import ticket_code

    user = f.make_user(coins=100)
    staff = f.make_user(Role.STAFF)
    show = f.make_show(starts_in=timedelta(minutes=60), price=10)
    booking = booked(user, show, "A1", "A2")
    used, unused = booking.tickets
    result = check_in(ticket_code(used), staff.id, f.now())
    assert result.outcome == "valid"
    # Cancelling the used ticket alone is refused, and nothing is refunded.
    with pytest.raises(AlreadyDone, match="used at the door"):
        quote_refund(user.id, booking.reference, [used.id], f.now())
    with pytest.raises(AlreadyDone, match="used at the door"):
        cancel_tickets(user.id, booking.reference, [used.id], f.now())
    assert balance(user.id) == 80
    # "Whole booking" cancels only what was not used: 80 % of one ticket.
    quote = cancel_tickets(user.id, booking.reference, None, f.now())
    assert [line.id for line in quote.lines] == [unused.id]
    assert balance(user.id) == 88
    db.session.expire_all()
    assert db.session.get(Ticket, used.id).status == "active"  # type: ignore[union-attr]
    with pytest.raises(AlreadyDone, match="used at the door"):
        cancel_tickets(user.id, booking.reference, None, f.now())


def test_a_quote_that_changed_before_confirmation_cancels_nothing(backend: str, ctx: Flask) -> None:
    from filmsphere.services.booking.cancellation import QuoteChanged

    user = f.make_user(coins=100)
    show = f.make_show(starts_in=timedelta(hours=3), price=10)
    booking = booked(user, show, "A1")
    seen = quote_refund(user.id, booking.reference, None, show.starts_at - timedelta(hours=2))
    assert seen.refund_total == 10
    # The customer confirms a second after the 100 % band ended: 8 coins, not the 10 seen.
    late = show.starts_at - timedelta(hours=2) + timedelta(seconds=1)
    with pytest.raises(QuoteChanged, match="now 8 coins, not the 10 quoted"):
        cancel_tickets(user.id, booking.reference, None, late, expected_refund=seen.refund_total)
    assert balance(user.id) == 90
    db.session.expire_all()
    assert db.session.get(Ticket, booking.tickets[0].id).status == "active"  # type: ignore[union-attr]
    done = cancel_tickets(user.id, booking.reference, None, late, expected_refund=8)
    assert done.refund_total == 8 and balance(user.id) == 98


# --- the companion rule at cancellation -------------------------------------------------


def test_cancelling_a_wheelchair_space_cancels_its_companion_seat_too(
    backend: str, ctx: Flask
) -> None:
    user, other = f.make_user(coins=100), f.make_user()
    show = f.make_show(price=10)
    booking = booked(user, show, "C1", "C2", "C3", "C4")  # wheelchair, companion, 2 standard
    by_seat = {t.seat.label: t.id for t in booking.tickets}

    quote = quote_refund(user.id, booking.reference, [by_seat["C1"]], f.now())
    assert [line.seat_label for line in quote.lines] == ["C1", "C2"]
    assert quote.refund_total == 20
    assert quote.note is not None and "Companion seat C2 is cancelled too" in quote.note

    done = cancel_tickets(user.id, booking.reference, [by_seat["C1"]], f.now(), expected_refund=20)
    assert [line.seat_label for line in done.lines] == ["C1", "C2"]
    assert balance(user.id) == 100 - 40 + 20
    db.session.expire_all()
    statuses = {t.seat.label: t.status for t in db.session.get(Booking, booking.id).tickets}  # type: ignore[union-attr]
    assert statuses == {"C1": "cancelled", "C2": "cancelled", "C3": "active", "C4": "active"}
    # The pair goes back on sale together: another wheelchair user can bring a companion.
    hold(other.id, show, "C1", "C2")


def test_cancelling_only_the_companion_seat_keeps_the_wheelchair_space(
    backend: str, ctx: Flask
) -> None:
    user = f.make_user(coins=100)
    show = f.make_show(price=10)
    booking = booked(user, show, "C1", "C2")
    companion = next(t.id for t in booking.tickets if t.seat.label == "C2")
    done = cancel_tickets(user.id, booking.reference, [companion], f.now())
    assert [line.seat_label for line in done.lines] == ["C2"] and done.note is None


def test_a_used_companion_seat_keeps_its_wheelchair_space_booked(backend: str, ctx: Flask) -> None:
    from filmsphere.models import Role
    from filmsphere.services.door.checkin import check_in
    from filmsphere.services.door.ticket_codes import ticket_code

    user, staff = f.make_user(coins=100), f.make_user(Role.STAFF)
    show = f.make_show(starts_in=timedelta(minutes=90), price=10)
    booking = booked(user, show, "C1", "C2")
    wheelchair, companion = booking.tickets
    assert check_in(ticket_code(companion), staff.id, f.now()).outcome == "valid"
    for ids in ([wheelchair.id], None):
        with pytest.raises(Conflict, match="companion seat .* used at the door"):
            cancel_tickets(user.id, booking.reference, ids, f.now())
    assert balance(user.id) == 80


# --- used tickets and what each cancellation says -----------------------------------------


def _half_used_booking():  # type: ignore[no-untyped-def]
    """A booking of four 10-coin seats 90 minutes before the show: A1 cancelled earlier
    by the customer (80 %: 8 coins back), A2 used at the door, A3 and A4 untouched."""
    from filmsphere.models import Role
    from filmsphere.services.door.checkin import check_in
    from filmsphere.services.door.ticket_codes import ticket_code

    admin, staff = f.make_user(Role.ADMIN), f.make_user(Role.STAFF)
    user = f.make_user(coins=100)
    show = f.make_show(starts_in=timedelta(minutes=90), price=10)
    booking = booked(user, show, "A1", "A2", "A3", "A4")
    first, used = booking.tickets[0], booking.tickets[1]
    cancel_tickets(user.id, booking.reference, [first.id], f.now())
    assert check_in(ticket_code(used), staff.id, f.now()).outcome == "valid"
    return admin, user, show, booking


CANCELLATIONS = {
    "customer cancels the whole booking": (
        lambda admin, user, show, booking: cancel_tickets(
            user.id, booking.reference, None, f.now()
        ),
        8,
    ),
    "admin cancels the booking": (
        lambda admin, user, show, booking: cancel_booking_by_admin(admin.id, booking.id, f.now()),
        10,
    ),
    "admin cancels the show": (
        lambda admin, user, show, booking: cancel_show(admin.id, show.id, f.now()),
        10,
    ),
}


@pytest.mark.parametrize("path", CANCELLATIONS)
def test_no_cancellation_refunds_a_used_ticket(backend: str, ctx: Flask, path: str) -> None:
    cancel, each = CANCELLATIONS[path]
    admin, user, show, booking = _half_used_booking()
    assert balance(user.id) == 100 - 40 + 8

    cancel(admin, user, show, booking)

    assert balance(user.id) == 100 - 40 + 8 + 2 * each  # A3 and A4 only
    db.session.expire_all()
    tickets = {t.seat.label: t for t in db.session.get(Booking, booking.id).tickets}  # type: ignore[union-attr]
    assert (tickets["A2"].status, tickets["A2"].refund_coins) == ("active", None)
    assert tickets["A2"].checked_in_at is not None
    assert [tickets[s].status for s in ("A1", "A3", "A4")] == ["cancelled"] * 3
    # Nothing is left to refund: every path says the remaining ticket was used.
    for again in ("customer cancels the whole booking", "admin cancels the booking"):
        with pytest.raises(DomainError, match="used at the door|cancelled this show"):
            CANCELLATIONS[again][0](admin, user, show, booking)
    assert balance(user.id) == 100 - 40 + 8 + 2 * each


def _email_lines(message: OutboxMessage) -> list[str]:
    text = render_message(message).text
    return [line.strip() for line in text.splitlines() if line.startswith("  - row")]


@pytest.mark.parametrize("path", CANCELLATIONS)
def test_each_cancellation_email_lists_exactly_what_it_cancelled_and_refunded(
    backend: str, ctx: Flask, path: str
) -> None:
    cancel, each = CANCELLATIONS[path]
    admin, user, show, booking = _half_used_booking()

    cancel(admin, user, show, booking)

    message = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc())).first()
    assert message is not None and message.to_address == user.email
    assert _email_lines(message) == [
        f"- row A, seat {n} (standard), paid 10 coins, refunded {each} coins" for n in (3, 4)
    ]
    refund = db.session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.booking_id == booking.id, LedgerEntry.kind == "refund")
        .order_by(LedgerEntry.id.desc())
    ).first()
    assert refund is not None and refund.amount_coins == 2 * each
    text = render_message(message).text
    assert f"{2 * each} coins" in text  # the total, as the ledger has it
    if message.kind == "booking_cancelled_by_admin":
        assert "Seat A2 was already used at the door, so it was not refunded." in text
