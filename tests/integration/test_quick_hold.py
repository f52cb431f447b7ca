"""Quick pick as a hold: the documented best block on fixed layouts, held in one
transaction like a click, or a clear reason when no block fits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from filmsphere.extensions import db
from filmsphere.models import Seat, SeatHold, Show
from filmsphere.services.booking.holds import toggle_hold
from filmsphere.services.booking.quick_hold import quick_hold
from filmsphere.services.errors import NoSeatsTogether, SeatRuleViolation, ShowNotBookable
from tests import factories as f

from .test_holds import seat_id


def held(show: Show, user_id: int) -> list[str]:
    """The labels of the customer's holds in the show, in seat order."""
    db.session.expire_all()
    rows = db.session.execute(
        select(Seat.row_label, Seat.number)
        .join(SeatHold, SeatHold.seat_id == Seat.id)
        .where(SeatHold.show_id == show.id, SeatHold.user_id == user_id)
        .order_by(Seat.grid_row, Seat.grid_col)
    )
    return [f"{r}{n}" for r, n in rows]


def show_on(layout: str) -> Show:
    return f.make_show(screen=f.make_screen(layout))


def take(show: Show, *labels: str) -> None:
    """Another customer holds these seats."""
    other = f.make_user()
    for label in labels:
        toggle_hold(other.id, show.id, seat_id(show, label), f.now())


def test_the_middle_of_the_row_two_thirds_back(backend: str, ctx: Flask) -> None:
    user, show = f.make_user(), show_on("\n".join(["SSSSSSSS"] * 4))
    result = quick_hold(user.id, show.id, 2, None, f.now())
    # Rows A–D: the sweet spot is row C (two thirds back), between seats 4 and 5.
    assert result.labels == ("C4", "C5") and result.note is None
    assert held(show, user.id) == ["C4", "C5"]


def test_a_party_stays_on_one_side_of_the_aisle_while_it_can(backend: str, ctx: Flask) -> None:
    user, show = f.make_user(), show_on("\n".join(["SSSS.SSSS"] * 4))
    # C4 + C5 across the aisle would be nearest the middle; C3–C4 and C5–C6 are side by
    # side and equally far: the left one wins.
    result = quick_hold(user.id, show.id, 2, None, f.now())
    assert result.labels == ("C3", "C4") and result.note is None


def test_split_across_the_aisle_only_when_nothing_else_fits_and_told(
    backend: str, ctx: Flask
) -> None:
    user, show = f.make_user(), show_on("\n".join(["SSS.SSS"] * 4))
    result = quick_hold(user.id, show.id, 4, None, f.now())
    # No row has 4 together; centred on the aisle (C2–C5) would leave C1 and C6 alone.
    assert result.labels == ("C1", "C2", "C3", "C4")
    assert result.note == (
        "No 4 seats side by side were free, so your seats are split across the aisle."
    )


def test_broken_seats_are_never_picked_or_jumped(backend: str, ctx: Flask) -> None:
    user, show = f.make_user(), show_on("SSSXSSS")
    result = quick_hold(user.id, show.id, 3, None, f.now())
    assert result.labels == ("A1", "A2", "A3")  # A4 is the broken seat: no block spans it


def test_wheelchair_space_with_its_companion_seat(backend: str, ctx: Flask) -> None:
    user, show = f.make_user(), show_on(f.SMALL_LAYOUT)  # row C: W C S S C W
    result = quick_hold(user.id, show.id, 2, "wheelchair", f.now())
    assert result.labels == ("C1", "C2")
    # An ordinary pick never takes a wheelchair space or a companion seat.
    other = f.make_user()
    take(show, "A1", "A2", "A3", "A4", "A5", "A6", "B1", "B2", "B3", "B4")
    assert quick_hold(other.id, show.id, 2, None, f.now()).labels == ("C3", "C4")


def test_a_nearly_full_show_gets_the_last_block_then_a_clear_no(backend: str, ctx: Flask) -> None:
    user, late, show = f.make_user(), f.make_user(), show_on("SSSSSS\nSSSSSS")
    take(show, "A1", "A2", "A3", "A4", "B1", "B2")
    assert quick_hold(user.id, show.id, 4, None, f.now()).labels == ("B3", "B4", "B5", "B6")
    with pytest.raises(NoSeatsTogether) as refused:
        quick_hold(late.id, show.id, 3, None, f.now())
    assert refused.value.message == "Only 2 seats are free. Ask for 2, or pick seats on the map."
    assert refused.value.status == 409
    assert held(show, late.id) == []


def test_no_block_together_says_so_and_holds_nothing(backend: str, ctx: Flask) -> None:
    user, show = f.make_user(), show_on("SSSSSS")
    take(show, "A3")
    with pytest.raises(NoSeatsTogether) as refused:
        quick_hold(user.id, show.id, 4, None, f.now())
    assert refused.value.message == (
        "No 4 seats together; the most together now is 3. Ask for 3, or pick seats on the map."
    )
    assert held(show, user.id) == []


def test_a_refusal_counts_seats_in_baskets_apart_from_seats_sold(backend: str, ctx: Flask) -> None:
    user, buyer, show = f.make_user(), f.make_user(), show_on("SSSS\nSSSS")
    f.make_booking(buyer, show, ("A1", "A2", "A3", "A4", "B1"))
    take(show, "B3", "B4")  # in another customer's basket
    toggle_hold(user.id, show.id, seat_id(show, "B2"), f.now())  # mine: a pick replaces it
    with pytest.raises(NoSeatsTogether) as refused:
        quick_hold(user.id, show.id, 2, None, f.now())
    short = refused.value.shortfall
    assert short is not None
    # My own seat counts as free (the pick would replace it): one seat to ask for.
    assert (short.largest_block, short.free_seats, short.held_seats) == (1, 1, 2)
    assert not short.worth_waiting and not short.sold_out
    assert refused.value.message == "Only 1 seat is free. Ask for 1, or pick seats on the map."
    toggle_hold(user.id, show.id, seat_id(show, "B2"), f.now())  # let it go ...
    take(show, "B2")  # ... and someone else takes it: every seat left is in a basket
    with pytest.raises(NoSeatsTogether) as refused:
        quick_hold(user.id, show.id, 1, None, f.now())
    short = refused.value.shortfall
    assert short is not None and (short.free_seats, short.held_seats) == (0, 3)
    assert short.worth_waiting
    assert "in someone's basket right now: seats may come back within 10 minutes" in (
        refused.value.message
    )
    assert held(show, user.id) == []


def test_a_new_pick_replaces_my_seats_and_never_extends_the_hold(backend: str, ctx: Flask) -> None:
    user, show = f.make_user(), show_on("\n".join(["SSSSSSSS"] * 4))
    first = f.now() - timedelta(minutes=4)
    toggle_hold(user.id, show.id, seat_id(show, "A1"), first)
    quick_hold(user.id, show.id, 3, None, f.now())
    assert held(show, user.id) == ["C3", "C4", "C5"]
    expiries = set(db.session.scalars(select(SeatHold.expires_at)))
    assert expiries == {first + timedelta(minutes=10)}


def test_holds_in_another_show_are_released(backend: str, ctx: Flask) -> None:
    user, show, other_show = f.make_user(), show_on("SSSS"), show_on("SSSS")
    toggle_hold(user.id, other_show.id, seat_id(other_show, "A1"), f.now())
    result = quick_hold(user.id, show.id, 2, None, f.now())
    assert result.released_elsewhere == 1
    assert held(other_show, user.id) == []


def test_the_seat_limit_counts_tickets_already_bought(backend: str, ctx: Flask) -> None:
    user, show = f.make_user(), show_on("\n".join(["SSSSSSSSSS"] * 3))
    f.make_booking(user, show, ("A1", "A2", "A3", "A4", "A5", "A6", "A7", "A8"))
    with pytest.raises(SeatRuleViolation) as refused:
        quick_hold(user.id, show.id, 3, None, f.now())
    assert "at most 10 seats" in refused.value.message
    assert quick_hold(user.id, show.id, 2, None, f.now()).labels == ("B5", "B6")


def test_a_started_show_is_refused(backend: str, ctx: Flask) -> None:
    user = f.make_user()
    show = f.make_show(starts_in=timedelta(minutes=-5))
    with pytest.raises(ShowNotBookable):
        quick_hold(user.id, show.id, 2, None, f.now())
