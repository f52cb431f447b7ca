"""A waitlist offer racing a seat click for the same seat, on PostgreSQL with real
threads: one of them gets the seat; negative controls switch the guards off."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import delete, select

from filmsphere.extensions import db
from filmsphere.models import Booking, SeatHold
from filmsphere.services.booking.holds import HoldResult, toggle_hold
from filmsphere.services.booking.waitlist import join_waitlist, offer_returned_seats
from filmsphere.services.errors import SeatUnavailable
from filmsphere.services.locks import guards_off
from filmsphere.services.transaction import set_race_hook
from tests import factories as f

from .test_holds import seat_id
from .test_races import (
    HOLDS_UNIQUE,
    WAIT,
    count,
    dropped,
    run_parallel,
)
from .test_waitlist import sold_out

pytestmark = pytest.mark.postgres_only


def _offer_vs_click(app: Flask) -> tuple[Any, Any, int]:
    """A1 comes back without an offer being made; the waitlist run picks it and locks it,
    then waits at its race point while another customer clicks A1."""
    show, _, _ = sold_out()
    waiting, clicker, now = f.make_user(), f.make_user(), f.now()
    join_waitlist(waiting.id, show.id, 1, True, now)
    booking = db.session.scalars(select(Booking).where(Booking.show_id == show.id)).one()
    ticket = next(t for t in booking.tickets if t.seat.label == "A1")
    ticket.status, ticket.refund_coins = "cancelled", 0
    db.session.commit()
    show_id, seat = show.id, seat_id(show, "A1")
    locked, clicked = threading.Event(), threading.Event()

    def offer_hook() -> None:
        locked.set()
        clicked.wait(WAIT)

    def click() -> Any:
        locked.wait(WAIT)
        try:
            return toggle_hold(clicker.id, show_id, seat, now)
        finally:
            clicked.set()

    set_race_hook("waitlist.before_hold", offer_hook)
    try:
        offered, clicked_result = run_parallel(
            app, lambda: offer_returned_seats(show_id, now), click
        )
    finally:
        set_race_hook("waitlist.before_hold", None)
    return offered, clicked_result, count(SeatHold, SeatHold.seat_id == seat)


def test_an_offer_and_a_click_on_the_same_seat_have_one_winner(backend: str, ctx: Flask) -> None:
    offered, clicked, hold_rows = _offer_vs_click(ctx)
    assert hold_rows == 1
    assert (offered == 1) != isinstance(clicked, HoldResult), (offered, clicked)
    assert isinstance(clicked, SeatUnavailable)  # the offer locked the seat first


def test_without_the_seat_locks_the_unique_hold_still_has_the_last_word(
    backend: str, ctx: Flask
) -> None:
    with guards_off("seats"):
        offered, clicked, hold_rows = _offer_vs_click(ctx)
    assert hold_rows == 1 and offered == 0 and isinstance(clicked, HoldResult)


def test_negative_control_without_locks_and_constraint_the_seat_is_held_twice(
    backend: str, ctx: Flask
) -> None:
    with guards_off("seats"), dropped(HOLDS_UNIQUE):
        offered, clicked, hold_rows = _offer_vs_click(ctx)
        db.session.execute(delete(SeatHold))
        db.session.commit()
    assert hold_rows == 2, "the race was not forced: the test could not fail"
    assert offered == 1 and isinstance(clicked, HoldResult)
