"""Exchange racing an ordinary sale of the same seat, on PostgreSQL with real threads: one
winner, coins conserved; negative controls switch the guards off."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import delete, update

from filmsphere.extensions import db
from filmsphere.models import SeatHold, Ticket
from filmsphere.services.booking.checkout import checkout
from filmsphere.services.booking.exchange import ExchangeResult, exchange_booking
from filmsphere.services.booking.holds import toggle_hold
from filmsphere.services.errors import DomainError
from filmsphere.services.locks import guards_off
from filmsphere.services.transaction import set_race_hook
from tests import factories as f

from .test_checkout import hold
from .test_holds import seat_id
from .test_races import (
    HOLDS_UNIQUE,
    TICKETS_UNIQUE,
    WAIT,
    balance_of_all,
    count,
    dropped,
    run_parallel,
)

pytestmark = pytest.mark.postgres_only


def _exchange_vs_sale(app: Flask) -> tuple[Any, Any, int, int]:
    """Alice's hold on B1 of the new show runs out at `deadline`; she confirms her exchange
    with a clock a second earlier while Bob, a second later, clicks B1 and pays. The
    exchange takes its locks first and then waits for Bob at its race point."""
    alice, bob = f.make_user(coins=100), f.make_user(coins=100)
    movie = f.make_movie()
    old = f.make_show(movie)
    new = f.make_show(movie, starts_in=timedelta(days=2))
    booking = f.make_booking(alice, old, ("A1",))
    t0 = f.now()
    hold(alice.id, new, "B1", now=t0)
    deadline = t0 + timedelta(minutes=10)
    reference, new_id, seat = booking.reference, new.id, seat_id(new, "B1")
    locked, sold = threading.Event(), threading.Event()

    def exchange_hook() -> None:
        locked.set()
        sold.wait(WAIT)

    def run_exchange() -> Any:
        return exchange_booking(alice.id, reference, new_id, deadline - timedelta(seconds=1))

    def run_sale() -> Any:
        locked.wait(WAIT)
        try:
            later = deadline + timedelta(seconds=1)
            toggle_hold(bob.id, new_id, seat, later)
            return checkout(bob.id, new_id, later, "bob-token")
        finally:
            sold.set()

    set_race_hook("exchange.after_lock", exchange_hook)
    try:
        exchanged, bought = run_parallel(app, run_exchange, run_sale)
    finally:
        set_race_hook("exchange.after_lock", None)
    seat_tickets = count(Ticket, Ticket.seat_id == seat, Ticket.status == "active")
    old_active = count(Ticket, Ticket.show_id == old.id, Ticket.status == "active")
    return exchanged, bought, seat_tickets, old_active


def test_exchange_and_a_sale_of_the_same_seat_have_one_winner(backend: str, ctx: Flask) -> None:
    exchanged, bought, seat_tickets, old_active = _exchange_vs_sale(ctx)
    assert seat_tickets == 1
    winners = [r for r in (exchanged, bought) if not isinstance(r, DomainError)]
    assert len(winners) == 1, (exchanged, bought)
    if isinstance(exchanged, ExchangeResult):
        assert old_active == 0  # the old ticket went with the exchange
    else:
        assert old_active == 1  # the failed exchange left the booking as it was
    # B1 (premium, 15) was paid once, by whoever won; Alice's old 10 stayed paid only if
    # her exchange lost.
    assert balance_of_all() == 200 - 15 - (0 if isinstance(exchanged, ExchangeResult) else 10)


def test_without_the_locks_the_unique_ticket_index_still_has_the_last_word(
    backend: str, ctx: Flask
) -> None:
    with guards_off("seats", "holds"):
        exchanged, bought, seat_tickets, old_active = _exchange_vs_sale(ctx)
    assert seat_tickets == 1 and old_active == 1
    assert isinstance(exchanged, DomainError) and not isinstance(bought, DomainError)


def test_negative_control_without_locks_and_constraints_the_seat_is_sold_twice(
    backend: str, ctx: Flask
) -> None:
    with guards_off("seats", "holds"), dropped(HOLDS_UNIQUE, TICKETS_UNIQUE):
        exchanged, bought, seat_tickets, _ = _exchange_vs_sale(ctx)
        # The double sale must go before the unique index can come back.
        db.session.execute(update(Ticket).values(status="cancelled"))
        db.session.execute(delete(SeatHold))
        db.session.commit()
    assert seat_tickets == 2, "the race was not forced: the test could not fail"
    assert isinstance(exchanged, ExchangeResult) and not isinstance(bought, DomainError)
