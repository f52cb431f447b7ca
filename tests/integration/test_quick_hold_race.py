"""Two quick picks racing for the same best block on PostgreSQL, real threads and
connections, forced at the race point; with negative controls (locks.guards_off and a
dropped constraint)."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import delete, func, select

from filmsphere.extensions import db
from filmsphere.models import SeatHold
from filmsphere.services.booking.quick_hold import QuickHold, quick_hold
from filmsphere.services.errors import NoSeatsTogether
from filmsphere.services.locks import guards_off
from tests import factories as f

from .test_quick_hold import take
from .test_races import HOLDS_UNIQUE, dropped, race_barrier, run_parallel

pytestmark = pytest.mark.postgres_only


def _race(app: Flask, layout: str, party: int, *taken: str) -> tuple[list[Any], int, int]:
    """Two customers quick-pick `party` seats at once; (results, hold rows, seats held
    twice)."""
    alice, bob = f.make_user(), f.make_user()
    show = f.make_show(screen=f.make_screen(layout))
    take(show, *taken)
    show_id, now = show.id, f.now()
    with race_barrier("quick_hold.before_insert"):
        results = run_parallel(
            app,
            lambda: quick_hold(alice.id, show_id, party, None, now),
            lambda: quick_hold(bob.id, show_id, party, None, now),
        )
    db.session.expire_all()
    rows = db.session.scalar(
        select(func.count()).select_from(SeatHold).where(SeatHold.user_id.in_([alice.id, bob.id]))
    )
    per_seat = (
        select(SeatHold.seat_id)
        .where(SeatHold.show_id == show_id)
        .group_by(SeatHold.seat_id)
        .having(func.count() > 1)
        .subquery()
    )
    twice = db.session.scalar(select(func.count()).select_from(per_seat))
    return results, int(rows or 0), int(twice or 0)


def test_two_quick_picks_for_the_last_block_one_gets_it_the_other_a_clear_no(
    backend: str, ctx: Flask
) -> None:
    results, rows, twice = _race(ctx, "SSSSSS", 4, "A1", "A2")
    winners = [r for r in results if isinstance(r, QuickHold)]
    losers = [r for r in results if isinstance(r, NoSeatsTogether)]
    assert len(winners) == 1 and len(losers) == 1, results
    assert winners[0].labels == ("A3", "A4", "A5", "A6")
    # Read after the loss: every seat is in a basket now (A1, A2 and the winner's four).
    short = losers[0].shortfall
    assert short is not None and (short.free_seats, short.held_seats) == (0, 6)
    assert losers[0].message.startswith("Every seat left is in someone's basket right now")
    assert (rows, twice) == (4, 0)


def test_the_loser_of_the_best_block_gets_the_next_best_instead(backend: str, ctx: Flask) -> None:
    results, rows, twice = _race(ctx, "SSSSSS\nSSSSSS", 2)
    assert all(isinstance(r, QuickHold) for r in results), results
    picked = [set(r.labels) for r in results]
    assert not picked[0] & picked[1]  # disjoint seats
    assert {"B3", "B4"} in picked  # one got the best block, the other the next best
    assert (rows, twice) == (4, 0)


def test_without_the_seat_lock_the_unique_constraint_still_has_the_last_word(
    backend: str, ctx: Flask
) -> None:
    with guards_off("seats"):
        results, rows, twice = _race(ctx, "SSSSSS\nSSSSSS", 2)
    assert all(isinstance(r, QuickHold) for r in results), results
    assert (rows, twice) == (4, 0)


def test_negative_control_without_lock_and_constraint_a_block_is_held_twice(
    backend: str, ctx: Flask
) -> None:
    with guards_off("seats"), dropped(HOLDS_UNIQUE):
        results, rows, twice = _race(ctx, "SSSSSS", 4, "A1", "A2")
        db.session.execute(delete(SeatHold))
        db.session.commit()
    assert twice == 4, "the race was not forced: the test could not fail"
    assert all(isinstance(r, QuickHold) for r in results)
