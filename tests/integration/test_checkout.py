"""Checkout: one transaction from holds to a paid booking, and every refusal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from filmsphere.extensions import db
from filmsphere.models import (
    Booking,
    LedgerEntry,
    OutboxMessage,
    SeatHold,
    Show,
    Ticket,
    Wallet,
)
from filmsphere.services.booking.checkout import REFERENCE_ALPHABET, checkout
from filmsphere.services.booking.holds import toggle_hold
from filmsphere.services.errors import (
    DomainError,
    HoldExpired,
    InsufficientCoins,
    SeatRuleViolation,
    ShowNotBookable,
)
from tests import factories as f

from .test_holds import etag, seat_id


def hold(user_id: int, show: Show, *labels: str, now=None) -> None:  # type: ignore[no-untyped-def]
    for label in labels:
        toggle_hold(user_id, show.id, seat_id(show, label), now or f.now())


def balance(user_id: int) -> int:
    db.session.expire_all()
    return db.session.scalar(select(Wallet.balance_coins).where(Wallet.user_id == user_id)) or 0


def count(model) -> int:  # type: ignore[no-untyped-def]
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def test_checkout_pays_holds_in_one_go(backend: str, ctx: Flask) -> None:
    user = f.make_user(coins=100)
    show = f.make_show(price=10)  # row B: premium 15
    hold(user.id, show, "B1", "B2")
    now = f.now()
    before = etag(show.id, user.id, now)
    booking = checkout(user.id, show.id, now, "token-1")
    assert booking.total_coins == 30
    assert len(booking.reference) == 8 and set(booking.reference) <= set(REFERENCE_ALPHABET)
    tickets = db.session.get(Booking, booking.id).tickets  # type: ignore[union-attr]
    assert sorted((t.seat.label, t.price_coins, t.status) for t in tickets) == [
        ("B1", 15, "active"),
        ("B2", 15, "active"),
    ]
    assert balance(user.id) == 70
    charges = db.session.scalars(
        select(LedgerEntry).where(LedgerEntry.kind == "booking_charge")
    ).all()
    assert [(c.amount_coins, c.booking_id, c.balance_after_coins) for c in charges] == [
        (-30, booking.id, 70)
    ]
    assert count(SeatHold) == 0
    assert etag(show.id, user.id, now) != before  # held by me → sold, balance lower
    kinds = list(db.session.scalars(select(OutboxMessage.kind)))
    assert kinds == ["booking_confirmation"]


def test_prices_are_frozen_at_payment(backend: str, ctx: Flask) -> None:
    user = f.make_user()
    show = f.make_show(price=10)
    hold(user.id, show, "A1")
    booking = checkout(user.id, show.id, f.now(), "t")
    show = db.session.get(Show, show.id)  # type: ignore[assignment]
    show.base_price_coins = 99
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(Booking, booking.id).tickets[0].price_coins == 10  # type: ignore[union-attr]


def test_same_token_twice_returns_the_same_booking_charged_once(backend: str, ctx: Flask) -> None:
    user = f.make_user(coins=100)
    show = f.make_show(price=10)
    hold(user.id, show, "A1", "A2")
    first = checkout(user.id, show.id, f.now(), "same")
    second = checkout(user.id, show.id, f.now(), "same")
    assert first.id == second.id
    assert balance(user.id) == 80
    assert count(Booking) == 1


def test_nothing_held(backend: str, ctx: Flask) -> None:
    user, show = f.make_user(), f.make_show()
    with pytest.raises(DomainError, match="no seats held"):
        checkout(user.id, show.id, f.now(), "t")


def test_not_enough_coins_changes_nothing(backend: str, ctx: Flask) -> None:
    user = f.make_user(coins=25)
    show = f.make_show(price=10)
    hold(user.id, show, "B1", "B2")  # 30 coins
    with pytest.raises(InsufficientCoins, match="cost 30 coins but you have 25"):
        checkout(user.id, show.id, f.now(), "t")
    assert balance(user.id) == 25
    assert count(Booking) == 0 and count(Ticket) == 0 and count(OutboxMessage) == 0
    assert count(SeatHold) == 2


def test_expired_hold_refused(backend: str, ctx: Flask) -> None:
    user = f.make_user()
    show = f.make_show()
    t0 = f.now()
    hold(user.id, show, "A1", now=t0)
    with pytest.raises(HoldExpired):
        checkout(user.id, show.id, t0 + timedelta(minutes=10), "t")
    assert count(Booking) == 0
    assert checkout(user.id, show.id, t0 + timedelta(minutes=9, seconds=59), "t2").total_coins


def test_started_show_refused(backend: str, ctx: Flask) -> None:
    user = f.make_user()
    show = f.make_show(starts_in=timedelta(minutes=5))
    hold(user.id, show, "A1")
    with pytest.raises(ShowNotBookable, match="already started"):
        checkout(user.id, show.id, show.starts_at, "t")
    assert count(Booking) == 0


def test_cancelled_show_refused(backend: str, ctx: Flask) -> None:
    user = f.make_user()
    show = f.make_show()
    hold(user.id, show, "A1")
    db.session.get(Show, show.id).status = "cancelled"  # type: ignore[union-attr]
    db.session.commit()
    with pytest.raises(ShowNotBookable):
        checkout(user.id, show.id, f.now(), "t")
    assert balance(user.id) == 1500


def test_stranded_seat_refused_at_checkout_with_the_seat_named(backend: str, ctx: Flask) -> None:
    user = f.make_user()
    show = f.make_show(screen=f.make_screen("SSSSSS"))
    hold(user.id, show, "A2", "A3")  # leaves A1 alone at the row end
    with pytest.raises(SeatRuleViolation) as info:
        checkout(user.id, show.id, f.now(), "t")
    assert "leave seat A1 empty on its own" in info.value.message
    assert count(Booking) == 0 and balance(user.id) == 1500
    hold(user.id, show, "A2")  # release A2, then pick A1 and A2 again: A1-A3 together
    hold(user.id, show, "A1")
    hold(user.id, show, "A2")
    assert checkout(user.id, show.id, f.now(), "t").total_coins == 30


def test_seats_held_by_others_count_as_taken(backend: str, ctx: Flask) -> None:
    me, other = f.make_user(), f.make_user()
    show = f.make_show(screen=f.make_screen("SSSSSS"))
    hold(other.id, show, "A1")
    hold(me.id, show, "A3", "A4")  # leaves A2 between other's hold and mine
    with pytest.raises(SeatRuleViolation, match="A2"):
        checkout(me.id, show.id, f.now(), "t")


def test_unavoidable_single_seat_is_allowed_at_checkout(backend: str, ctx: Flask) -> None:
    me, buyer = f.make_user(), f.make_user()
    show = f.make_show(screen=f.make_screen("SSSSS"))
    f.make_booking(buyer, show, ("A1", "A5"))
    hold(me.id, show, "A2", "A3")  # A4 left alone, but any 2 of A2-A4 leave one
    assert checkout(me.id, show.id, f.now(), "t").total_coins == 20


def test_companion_rechecked_at_checkout(backend: str, ctx: Flask) -> None:
    me = f.make_user()
    show = f.make_show()  # row C: W C S S C W
    hold(me.id, show, "C1", "C2")
    # Someone (say, an admin tool) removed the wheelchair hold behind the service's back.
    db.session.execute(SeatHold.__table__.delete().where(SeatHold.seat_id == seat_id(show, "C1")))
    db.session.commit()
    with pytest.raises(SeatRuleViolation, match="companion seat"):
        checkout(me.id, show.id, f.now(), "t")
    hold(me.id, show, "C1")
    booking = db.session.get(Booking, checkout(me.id, show.id, f.now(), "t").id)
    assert booking is not None
    assert sorted(t.seat.label for t in booking.tickets) == ["C1", "C2"]


def test_sold_seat_shows_taken_and_cannot_be_held(backend: str, ctx: Flask) -> None:
    me, other = f.make_user(), f.make_user()
    show = f.make_show()
    hold(me.id, show, "A1", "A2")
    checkout(me.id, show.id, f.now(), "t")
    from filmsphere.services.errors import SeatUnavailable

    with pytest.raises(SeatUnavailable):
        hold(other.id, show, "A1")
