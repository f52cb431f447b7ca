"""Waitlist: joining, offers when seats come back, first come first served within what
fits, lapsed offers passing on, leaving; both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select

from filmsphere.extensions import db
from filmsphere.models import Booking, OutboxMessage, SeatHold, Show, User, WaitlistEntry
from filmsphere.services.booking.cancellation import cancel_booking_by_admin, cancel_tickets
from filmsphere.services.booking.checkout import checkout
from filmsphere.services.booking.waitlist import (
    join_waitlist,
    leave_waitlist,
    offer_returned_seats,
    run_waitlists,
    waitlist_view,
)
from filmsphere.services.errors import AlreadyDone, Conflict, DomainError
from filmsphere.services.mail.emails import render_message
from tests import factories as f

from .test_checkout import hold

ORDINARY = ("A1", "A2", "A3", "A4", "A5", "A6", "B1", "B2", "B3", "B4", "C3", "C4")


def sold_out(*kept: str) -> tuple[Show, User, dict[str, str]]:
    """A show whose ordinary seats are all sold; each of `kept` (e.g. "A3 A4") is a
    booking of its own, so it can be cancelled to give those seats back."""
    show = f.make_show()
    owner = f.make_user(coins=1000)
    apart = {label for group in kept for label in group.split()}
    f.make_booking(owner, show, tuple(s for s in ORDINARY if s not in apart))
    refs = {g: f.make_booking(owner, show, tuple(g.split())).reference for g in kept}
    return show, owner, refs


def entry_of(user: User, show: Show) -> WaitlistEntry:
    db.session.expire_all()
    return db.session.scalars(
        select(WaitlistEntry)
        .where(WaitlistEntry.user_id == user.id, WaitlistEntry.show_id == show.id)
        .order_by(WaitlistEntry.id.desc())
    ).first()  # type: ignore[return-value]


def held_by(user: User, show: Show) -> list[str]:
    db.session.expire_all()
    holds = db.session.scalars(
        select(SeatHold).where(SeatHold.user_id == user.id, SeatHold.show_id == show.id)
    ).all()
    return sorted(h.seat.label for h in holds)


def test_join_only_when_the_party_cannot_be_seated(backend: str, ctx: Flask) -> None:
    show, _, _ = sold_out("A3 A4")
    user = f.make_user()
    now = f.now()
    # A3 and A4 are booked too; free up nothing yet: the show is sold out.
    entry = join_waitlist(user.id, show.id, 2, True, now)
    assert entry.status == "waiting"
    with pytest.raises(AlreadyDone, match="already on the waitlist"):
        join_waitlist(user.id, show.id, 3, False, now)
    with pytest.raises(DomainError, match="1 to 10"):
        join_waitlist(f.make_user().id, show.id, 11, False, now)
    roomy = f.make_show()
    with pytest.raises(Conflict, match="free right now"):
        join_waitlist(user.id, roomy.id, 4, True, now)
    view = waitlist_view(user.id, show.id, now)
    assert view.position == 1 and view.sold_out and not view.can_join


def test_a_cancellation_offers_the_seats_to_the_first_in_line(backend: str, ctx: Flask) -> None:
    show, owner, refs = sold_out("A3 A4")
    first, second = f.make_user(), f.make_user()
    now = f.now()
    join_waitlist(first.id, show.id, 2, True, now)
    join_waitlist(second.id, show.id, 2, True, now)

    cancel_tickets(owner.id, refs["A3 A4"], None, now)

    assert held_by(first, show) == ["A3", "A4"] and held_by(second, show) == []
    entry = entry_of(first, show)
    assert entry.status == "offered" and entry.offered_seats == "A3, A4"
    assert entry.offer_expires_at == now + timedelta(minutes=15)
    mail = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == "waitlist_offer")
    ).one()
    assert mail.to_address == first.email and "A3, A4" in render_message(mail).text
    assert waitlist_view(first.id, show.id, now).offer_live
    assert waitlist_view(second.id, show.id, now).position == 1
    # The offer is an ordinary hold: the customer pays it at checkout.
    booking = checkout(first.id, show.id, now + timedelta(minutes=1), "offer-paid")
    assert booking.total_coins == 20
    run_waitlists(now + timedelta(minutes=16))
    assert entry_of(first, show).status == "claimed"


def test_first_come_first_served_within_what_fits(backend: str, ctx: Flask) -> None:
    show, owner, refs = sold_out("A1")
    big, small = f.make_user(), f.make_user()
    now = f.now()
    join_waitlist(big.id, show.id, 3, False, now)
    join_waitlist(small.id, show.id, 1, False, now)
    cancel_tickets(owner.id, refs["A1"], None, now)
    assert held_by(big, show) == [] and held_by(small, show) == ["A1"]
    assert entry_of(big, show).status == "waiting"


def test_seats_together_are_never_split(backend: str, ctx: Flask) -> None:
    show, owner, refs = sold_out("A1", "A6")
    together, apart = f.make_user(), f.make_user()
    now = f.now()
    join_waitlist(together.id, show.id, 2, True, now)
    join_waitlist(apart.id, show.id, 2, False, now)
    cancel_tickets(owner.id, refs["A1"], None, now)
    cancel_tickets(owner.id, refs["A6"], None, now)
    assert held_by(together, show) == [] and held_by(apart, show) == ["A1", "A6"]


def test_an_unclaimed_offer_lapses_and_passes_on(backend: str, ctx: Flask) -> None:
    show, owner, refs = sold_out("B1 B2")
    first, second = f.make_user(), f.make_user()
    now = f.now()
    join_waitlist(first.id, show.id, 2, True, now)
    join_waitlist(second.id, show.id, 2, True, now)
    admin = f.make_user(role="admin")
    cancel_booking_by_admin(admin.id, _booking_id(refs["B1 B2"]), now)
    assert held_by(first, show) == ["B1", "B2"]
    assert run_waitlists(now + timedelta(minutes=14)) == 0  # still first's
    assert run_waitlists(now + timedelta(minutes=15)) == 1
    assert entry_of(first, show).status == "lapsed"
    assert entry_of(second, show).status == "offered"
    later = now + timedelta(minutes=15)
    assert held_by(second, show) == ["B1", "B2"]
    assert waitlist_view(first.id, show.id, later).can_join  # may join again


def _booking_id(reference: str) -> int:
    booking_id = db.session.scalar(select(Booking.id).where(Booking.reference == reference))
    assert booking_id is not None
    return booking_id


def test_leaving_with_a_live_offer_passes_the_seats_on(backend: str, ctx: Flask) -> None:
    show, owner, refs = sold_out("A3")
    first, second = f.make_user(), f.make_user()
    now = f.now()
    join_waitlist(first.id, show.id, 1, True, now)
    join_waitlist(second.id, show.id, 1, True, now)
    cancel_tickets(owner.id, refs["A3"], None, now)
    leave_waitlist(first.id, show.id, now)
    assert entry_of(first, show).status == "left" and held_by(first, show) == []
    assert held_by(second, show) == ["A3"]
    with pytest.raises(AlreadyDone):
        leave_waitlist(first.id, show.id, now)


def test_an_expired_hold_cleaned_up_by_cron_is_offered(
    backend: str, ctx: Flask, runner: FlaskCliRunner
) -> None:
    show, _, _ = sold_out()
    waiting, clicker = f.make_user(), f.make_user()
    now = f.now()
    join_waitlist(waiting.id, show.id, 1, True, now - timedelta(minutes=12))
    owner_booking = db.session.scalars(select(Booking).where(Booking.show_id == show.id)).one()
    ticket = next(t for t in owner_booking.tickets if t.seat.label == "A1")
    ticket.status = "cancelled"  # A1 free again, silently (no offer made)
    ticket.refund_coins = 0
    db.session.commit()
    hold(clicker.id, show, "A1", now=now - timedelta(minutes=11))  # ran out a minute ago
    assert held_by(waiting, show) == []
    result = runner.invoke(args=["cleanup"])
    assert result.exit_code == 0, result.output
    assert "1 expired hold(s) deleted" in result.output
    assert "waitlists: 1 offer(s) made" in result.output
    assert held_by(waiting, show) == ["A1"]


def test_no_offers_for_a_show_that_can_no_longer_be_booked(backend: str, ctx: Flask) -> None:
    show, owner, refs = sold_out("A1")
    user = f.make_user()
    now = f.now()
    join_waitlist(user.id, show.id, 1, True, now)
    later = show.starts_at + timedelta(minutes=1)
    assert offer_returned_seats(show.id, later) == 0
    assert entry_of(user, show).status == "closed"
