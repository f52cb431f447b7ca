"""Exchange to another showtime: settlement, rules, old codes refused, one email."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from filmsphere.extensions import db
from filmsphere.models import (
    Booking,
    BookingExchange,
    LedgerEntry,
    OutboxMessage,
    SeatHold,
    Show,
    Ticket,
)
from filmsphere.services.booking.exchange import (
    AlreadyExchanged,
    ExchangeQuoteChanged,
    exchange_booking,
    quote_exchange,
    settle,
)
from filmsphere.services.door.checkin import check_in
from filmsphere.services.door.ticket_codes import ticket_code
from filmsphere.services.errors import (
    AlreadyDone,
    Conflict,
    DomainError,
    InsufficientCoins,
    SeatRuleViolation,
)
from filmsphere.services.mail.emails import render_message
from tests import factories as f

from .test_checkout import balance, hold


def two_shows(
    old_starts_in: timedelta = timedelta(days=1), new_price: int = 10
) -> tuple[Show, Show]:
    movie = f.make_movie()
    old = f.make_show(movie, starts_in=old_starts_in)
    new = f.make_show(movie, starts_in=timedelta(days=2), price=new_price)
    return old, new


def state(booking_id: int) -> tuple[str, list[str]]:
    db.session.expire_all()
    booking = db.session.get(Booking, booking_id)
    assert booking is not None
    return booking.status, [t.status for t in booking.tickets]


def test_settle_counts_old_tickets_in_full_and_cuts_only_money_back() -> None:
    assert settle(20, 30, 80) == (20, 30)  # pay 10 more
    assert settle(30, 10, 100) == (30, 10)  # 20 back
    assert settle(30, 10, 80) == (26, 10)  # 80 % of 20 back
    assert settle(30, 10, 0) == (10, 10)  # nothing back
    assert settle(15, 15, 0) == (15, 15)


def test_exchange_pays_the_difference_and_issues_new_tickets(backend: str, ctx: Flask) -> None:
    user = f.make_user(coins=100)
    old, new = two_shows()
    booking = f.make_booking(user, old, ("A1",))  # 10 coins
    old_code = ticket_code(booking.tickets[0])
    hold(user.id, new, "B1", "B2")  # premium, 15 each
    assert quote_exchange(user.id, booking.reference, new.id, f.now()).net_coins == -20

    result = exchange_booking(user.id, booking.reference, new.id, f.now(), expected_net=-20)

    assert balance(user.id) == 100 - 10 - 20
    assert state(booking.id) == ("cancelled", ["cancelled"])
    fresh = db.session.scalars(select(Booking).where(Booking.reference == result.new_reference))
    new_booking = fresh.one()
    assert new_booking.show_id == new.id and new_booking.total_coins == 30
    assert sorted(t.seat.label for t in new_booking.tickets) == ["B1", "B2"]
    assert db.session.scalar(select(SeatHold.id)) is None  # holds became the tickets
    entries = db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.reason.like("Exchange%")).order_by(LedgerEntry.id)
    ).all()
    assert [(e.kind, e.amount_coins) for e in entries] == [("refund", 10), ("booking_charge", -30)]
    exchange = db.session.scalars(select(BookingExchange)).one()
    assert (exchange.old_booking_id, exchange.new_booking_id) == (booking.id, new_booking.id)
    # The old QR code is refused at the door at once; the new one works.
    staff = f.make_user(role="staff")
    assert check_in(old_code, staff.id, f.now()).outcome == "cancelled"
    # One email, with the new tickets and what it replaced.
    mails = db.session.scalars(select(OutboxMessage)).all()
    assert [m.kind for m in mails] == ["booking_exchanged"]
    email = render_message(mails[0])
    assert email.subject.startswith("Your new tickets for ")
    assert booking.reference in email.text and "paid 20 coins more" in email.text
    for t in new_booking.tickets:
        assert ticket_code(t) in email.text


@pytest.mark.parametrize(
    ("starts_in", "back"),
    [(timedelta(hours=3), 20), (timedelta(hours=1), 16)],
    ids=["full-refund-band", "partial-refund-band"],
)
def test_money_back_follows_the_refund_policy_of_the_old_show(
    backend: str, ctx: Flask, starts_in: timedelta, back: int
) -> None:
    user = f.make_user(coins=100)
    old, new = two_shows(old_starts_in=starts_in)
    booking = f.make_booking(user, old, ("B1", "B2"), price=15)  # 30 coins
    hold(user.id, new, "A1")  # 10 coins
    result = exchange_booking(user.id, booking.reference, new.id, f.now())
    assert result.quote.net_coins == back
    assert balance(user.id) == 100 - 30 + back
    db.session.expire_all()
    refunds = [t.refund_coins for t in db.session.get(Booking, booking.id).tickets]  # type: ignore[union-attr]
    assert sum(refunds) == 10 + back  # the credit, spread over the old tickets


def test_refusals_change_nothing(backend: str, ctx: Flask) -> None:
    user = f.make_user(coins=100)
    old, new = two_shows()
    booking = f.make_booking(user, old, ("A1",))
    with pytest.raises(DomainError, match="Hold the seats"):
        exchange_booking(user.id, booking.reference, new.id, f.now())
    hold(user.id, old, "A3", "A4")
    with pytest.raises(DomainError, match="another showtime"):
        exchange_booking(user.id, booking.reference, old.id, f.now())
    other_film = f.make_show(starts_in=timedelta(days=3))
    hold(user.id, other_film, "A1")
    with pytest.raises(DomainError, match="same film"):
        exchange_booking(user.id, booking.reference, other_film.id, f.now())
    hold(user.id, new, "B1")
    with pytest.raises(ExchangeQuoteChanged):
        exchange_booking(user.id, booking.reference, new.id, f.now(), expected_net=0)
    other = f.make_user()
    with pytest.raises(DomainError):  # someone else's booking: not found
        exchange_booking(other.id, booking.reference, new.id, f.now())
    assert state(booking.id) == ("paid", ["active"]) and balance(user.id) == 90


def test_any_film_when_the_cinema_allows_it(backend: str, ctx: Flask) -> None:
    ctx.config["EXCHANGE_ANY_FILM"] = True
    user = f.make_user(coins=100)
    old = f.make_show()
    booking = f.make_booking(user, old, ("A1",))
    other_film = f.make_show(starts_in=timedelta(days=3))
    hold(user.id, other_film, "A1")
    exchange_booking(user.id, booking.reference, other_film.id, f.now())
    assert state(booking.id)[0] == "cancelled" and balance(user.id) == 90


def test_closed_at_the_refund_cut_off_and_for_used_tickets(backend: str, ctx: Flask) -> None:
    user = f.make_user(coins=100)
    late, new = two_shows(old_starts_in=timedelta(minutes=19))
    booking = f.make_booking(user, late, ("A1",))
    hold(user.id, new, "A1")
    with pytest.raises(Conflict, match="20 minutes before"):
        exchange_booking(user.id, booking.reference, new.id, f.now())

    soon = f.make_show(late.movie, starts_in=timedelta(minutes=90))
    used = f.make_booking(user, soon, ("A1", "A2"))
    staff = f.make_user(role="staff")
    assert check_in(ticket_code(used.tickets[0]), staff.id, f.now()).outcome == "valid"
    with pytest.raises(Conflict, match="used at the door"):
        exchange_booking(user.id, used.reference, new.id, f.now())
    assert state(used.id)[1] == ["active", "active"]


def test_a_second_exchange_of_the_same_booking_does_nothing(backend: str, ctx: Flask) -> None:
    user = f.make_user(coins=100)
    old, new = two_shows()
    booking = f.make_booking(user, old, ("A1",))
    hold(user.id, new, "A1")
    first = exchange_booking(user.id, booking.reference, new.id, f.now())
    hold(user.id, new, "A3")
    with pytest.raises(AlreadyExchanged) as refused:
        exchange_booking(user.id, booking.reference, new.id, f.now())
    assert refused.value.reference == first.new_reference
    assert isinstance(refused.value, AlreadyDone) and balance(user.id) == 90


def test_seat_rules_and_coins_are_checked_like_a_checkout(backend: str, ctx: Flask) -> None:
    user = f.make_user(coins=25)
    old, new = two_shows()
    booking = f.make_booking(user, old, ("A1",))  # 15 coins left
    hold(user.id, new, "A2")  # would leave A1 alone
    with pytest.raises(SeatRuleViolation, match="A1"):
        exchange_booking(user.id, booking.reference, new.id, f.now())
    hold(user.id, new, "A1", "B1", "B2")  # A1 A2 + two premium: 50 coins, credit 10
    with pytest.raises(InsufficientCoins):
        exchange_booking(user.id, booking.reference, new.id, f.now())
    assert state(booking.id) == ("paid", ["active"]) and balance(user.id) == 15
    assert db.session.scalar(select(Ticket.id).where(Ticket.show_id == new.id)) is None


def test_a_wheelchair_space_and_its_companion_move_together(backend: str, ctx: Flask) -> None:
    user = f.make_user(coins=100)
    old, new = two_shows()
    booking = f.make_booking(user, old, ("C1", "C2"))  # wheelchair + companion
    hold(user.id, new, "C1", "C2")
    exchange_booking(user.id, booking.reference, new.id, f.now())
    assert state(booking.id) == ("cancelled", ["cancelled", "cancelled"])
    labels = db.session.scalars(
        select(Ticket).where(Ticket.show_id == new.id, Ticket.status == "active")
    ).all()
    assert sorted((t.seat.label, t.category) for t in labels) == [
        ("C1", "wheelchair"),
        ("C2", "companion"),
    ]
