"""Holds: toggling, expiry, limits, companion seats, other shows, and the seat map."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from filmsphere.extensions import db
from filmsphere.models import Seat, SeatHold, Show
from filmsphere.services.booking.holds import toggle_hold
from filmsphere.services.booking.seatmap import build_seat_map
from filmsphere.services.errors import (
    NotFound,
    SeatRuleViolation,
    SeatUnavailable,
    ShowNotBookable,
)
from tests import factories as f


def seat_id(show: Show, label: str) -> int:
    for seat in db.session.scalars(select(Seat).where(Seat.screen_id == show.screen_id)):
        if seat.label == label:
            return seat.id
    raise AssertionError(f"no seat {label}")


def etag(show_id: int, user_id: int | None, now: datetime) -> str:
    """The seat grid's ETag as `user_id` (None: a visitor) sees it at `now`."""
    return build_seat_map(show_id, user_id, now).etag


def test_click_holds_then_releases(backend: str, ctx: Flask) -> None:
    user, show = f.make_user(), f.make_show()
    now = f.now()
    free = etag(show.id, None, now)
    held = toggle_hold(user.id, show.id, seat_id(show, "A3"), now)
    assert (held.action, held.seat_label, held.released_elsewhere) == ("held", "A3", 0)
    assert etag(show.id, None, now) != free
    released = toggle_hold(user.id, show.id, seat_id(show, "A3"), now)
    assert released.action == "released"
    assert etag(show.id, None, now) == free  # the same seats show: the same ETag
    assert db.session.scalar(select(SeatHold.id)) is None


def test_seat_held_by_someone_else_is_unavailable(backend: str, ctx: Flask) -> None:
    alice, bob, show = f.make_user(), f.make_user(), f.make_show()
    now = f.now()
    toggle_hold(alice.id, show.id, seat_id(show, "A1"), now)
    with pytest.raises(SeatUnavailable) as info:
        toggle_hold(bob.id, show.id, seat_id(show, "A1"), now)
    assert info.value.status == 409


def test_sold_and_broken_seats_are_unavailable(backend: str, ctx: Flask) -> None:
    user, buyer = f.make_user(), f.make_user()
    show = f.make_show(screen=f.make_screen("SSX"))
    f.make_booking(buyer, show, ("A1",))
    with pytest.raises(SeatUnavailable, match="already sold"):
        toggle_hold(user.id, show.id, seat_id(show, "A1"), f.now())
    with pytest.raises(SeatUnavailable, match="out of order"):
        toggle_hold(user.id, show.id, seat_id(show, "A3"), f.now())


def test_expiry_is_ten_minutes_after_the_first_hold_and_never_extended(
    backend: str, ctx: Flask
) -> None:
    user, other, show = f.make_user(), f.make_user(), f.make_show()
    t0 = f.now()
    toggle_hold(user.id, show.id, seat_id(show, "A1"), t0)
    toggle_hold(user.id, show.id, seat_id(show, "A2"), t0 + timedelta(minutes=9))
    expiries = set(db.session.scalars(select(SeatHold.expires_at)))
    assert expiries == {t0 + timedelta(minutes=10)}
    # one moment before ten minutes the seat is still taken ...
    with pytest.raises(SeatUnavailable):
        toggle_hold(other.id, show.id, seat_id(show, "A1"), t0 + timedelta(minutes=10, seconds=-1))
    # ... at exactly ten minutes it is free for anyone, before any cleanup ran
    result = toggle_hold(other.id, show.id, seat_id(show, "A1"), t0 + timedelta(minutes=10))
    assert result.action == "held"
    holder = db.session.scalar(
        select(SeatHold.user_id).where(SeatHold.seat_id == seat_id(show, "A1"))
    )
    assert holder == other.id


def test_a_new_hold_after_expiry_starts_a_new_ten_minutes(backend: str, ctx: Flask) -> None:
    user, show = f.make_user(), f.make_show()
    t0 = f.now()
    toggle_hold(user.id, show.id, seat_id(show, "A1"), t0)
    later = t0 + timedelta(minutes=11)
    toggle_hold(user.id, show.id, seat_id(show, "A2"), later)
    hold = db.session.scalar(select(SeatHold).where(SeatHold.seat_id == seat_id(show, "A2")))
    assert hold is not None and hold.expires_at == later + timedelta(minutes=10)


def test_own_expired_hold_clicked_again_is_held_afresh(backend: str, ctx: Flask) -> None:
    user, show = f.make_user(), f.make_show()
    t0 = f.now()
    toggle_hold(user.id, show.id, seat_id(show, "A1"), t0)
    result = toggle_hold(user.id, show.id, seat_id(show, "A1"), t0 + timedelta(minutes=12))
    assert result.action == "held"


def test_at_most_ten_seats_per_show(backend: str, ctx: Flask) -> None:
    user = f.make_user()
    show = f.make_show(screen=f.make_screen("S" * 12))
    now = f.now()
    for n in range(1, 11):
        toggle_hold(user.id, show.id, seat_id(show, f"A{n}"), now)
    with pytest.raises(SeatRuleViolation, match="at most 10 seats") as info:
        toggle_hold(user.id, show.id, seat_id(show, "A11"), now)
    assert info.value.status == 422


def test_seats_already_bought_count_towards_the_limit(backend: str, ctx: Flask) -> None:
    user = f.make_user()
    show = f.make_show(screen=f.make_screen("S" * 12))
    f.make_booking(user, show, tuple(f"A{n}" for n in range(1, 9)))
    now = f.now()
    toggle_hold(user.id, show.id, seat_id(show, "A9"), now)
    toggle_hold(user.id, show.id, seat_id(show, "A10"), now)
    with pytest.raises(SeatRuleViolation, match="already have 8 tickets"):
        toggle_hold(user.id, show.id, seat_id(show, "A11"), now)


def test_started_cancelled_and_unknown_shows(backend: str, ctx: Flask) -> None:
    user = f.make_user()
    show = f.make_show(starts_in=timedelta(minutes=5))
    sid = seat_id(show, "A1")
    with pytest.raises(ShowNotBookable, match="already started"):
        toggle_hold(user.id, show.id, sid, show.starts_at)
    with pytest.raises(NotFound):
        toggle_hold(user.id, 999_999, sid, f.now())
    other_screen_show = f.make_show()
    with pytest.raises(NotFound):
        toggle_hold(user.id, other_screen_show.id, sid, f.now())
    show.status = "cancelled"
    db.session.commit()
    with pytest.raises(ShowNotBookable, match="cancelled"):
        toggle_hold(user.id, show.id, sid, f.now())


def test_holding_in_another_show_releases_the_first(backend: str, ctx: Flask) -> None:
    user = f.make_user()
    first, second = f.make_show(), f.make_show()
    now = f.now()
    toggle_hold(user.id, first.id, seat_id(first, "A1"), now)
    toggle_hold(user.id, first.id, seat_id(first, "A2"), now)
    before = etag(first.id, None, now)
    result = toggle_hold(user.id, second.id, seat_id(second, "A1"), now)
    assert result.released_elsewhere == 2
    assert etag(first.id, None, now) != before
    assert set(db.session.scalars(select(SeatHold.show_id))) == {second.id}


def test_companion_needs_the_wheelchair_space_first(backend: str, ctx: Flask) -> None:
    user, show = f.make_user(), f.make_show()  # row C: W C S S C W
    now = f.now()
    with pytest.raises(SeatRuleViolation, match="companion seat"):
        toggle_hold(user.id, show.id, seat_id(show, "C2"), now)
    toggle_hold(user.id, show.id, seat_id(show, "C1"), now)
    assert toggle_hold(user.id, show.id, seat_id(show, "C2"), now).action == "held"
    # the wheelchair space at the far end of the row is not adjacent to C2's twin C5
    with pytest.raises(SeatRuleViolation):
        toggle_hold(user.id, show.id, seat_id(show, "C5"), now)
    # releasing the wheelchair space releases the companion seat with it
    toggle_hold(user.id, show.id, seat_id(show, "C1"), now)
    assert db.session.scalar(select(SeatHold.id)) is None


def test_seat_map_states_names_and_basket(backend: str, ctx: Flask) -> None:
    me, other, buyer = f.make_user(coins=100), f.make_user(), f.make_user()
    show = f.make_show(screen=f.make_screen("SSX.P\nWC"), price=10)
    now = f.now()
    f.make_booking(buyer, show, ("A2",))
    toggle_hold(me.id, show.id, seat_id(show, "A4"), now)
    toggle_hold(other.id, show.id, seat_id(show, "A1"), now)
    seat_map = build_seat_map(show.id, me.id, now)
    assert seat_map.columns == 5
    label, cells = seat_map.rows[0]
    assert label == "A"
    assert cells[3] is None  # the aisle
    states = {c.label: c.state for _, row in seat_map.rows for c in row if c}
    assert states == {
        "A1": "taken",
        "A2": "taken",
        "A3": "broken",
        "A4": "mine",
        "B1": "free",
        "B2": "free",
    }
    names = {c.label: c.accessible_name for _, row in seat_map.rows for c in row if c}
    assert names["A4"] == "Row A, seat 4, premium"
    assert names["A1"] == "Row A, seat 1, standard, taken"
    assert names["B1"] == "Row B, seat 1, wheelchair space"
    assert [(i.category, i.price_coins) for i in seat_map.legend] == [
        ("standard", 10),
        ("premium", 15),
        ("wheelchair", 10),
        ("companion", 10),
    ]
    basket = seat_map.basket
    assert basket is not None
    assert [s.label for s in basket.seats] == ["A4"]
    assert (basket.total_coins, basket.balance_coins, basket.balance_after_coins) == (15, 100, 85)
    assert basket.expires_at == now + timedelta(minutes=10)
    assert seat_map.bookable and seat_map.not_bookable_reason is None
    assert seat_map.etag == etag(show.id, me.id, now)
    assert seat_map.etag != etag(show.id, other.id, now)  # A4 is theirs, not mine

    visitor = build_seat_map(show.id, None, now)
    assert visitor.basket is None
    assert {c.label: c.state for _, row in visitor.rows for c in row if c}["A4"] == "taken"


def test_expired_hold_shows_free_and_etag_changes(backend: str, ctx: Flask) -> None:
    me, other, show = f.make_user(), f.make_user(), f.make_show()
    t0 = f.now()
    toggle_hold(other.id, show.id, seat_id(show, "A1"), t0)
    before = etag(show.id, me.id, t0 + timedelta(minutes=5))
    assert before == etag(show.id, me.id, t0 + timedelta(minutes=6))
    after = etag(show.id, me.id, t0 + timedelta(minutes=10))
    assert after != before
    seat_map = build_seat_map(show.id, me.id, t0 + timedelta(minutes=10))
    assert seat_map.rows[0][1][0].state == "free"  # type: ignore[union-attr]
    assert seat_map.etag == after
    assert etag(show.id, me.id, t0) != etag(show.id, other.id, t0)


def test_seat_map_of_a_started_show_is_not_bookable(backend: str, ctx: Flask) -> None:
    show = f.make_show(starts_in=timedelta(minutes=1))
    seat_map = build_seat_map(show.id, None, show.starts_at + timedelta(seconds=1))
    assert not seat_map.bookable
    assert "already started" in (seat_map.not_bookable_reason or "")
    with pytest.raises(NotFound):
        build_seat_map(424242, None, f.now())


def test_retired_seats_are_not_shown(backend: str, ctx: Flask) -> None:
    show = f.make_show()
    seat = db.session.get(Seat, seat_id(show, "A1"))
    assert seat is not None
    seat.is_active = False
    db.session.commit()
    labels = {c.label for _, row in build_seat_map(show.id, None, f.now()).rows for c in row if c}
    assert "A1" not in labels and "A2" in labels


def test_a_layout_change_shows_at_once_on_a_cached_seat_map(backend: str, ctx: Flask) -> None:
    from filmsphere.services.catalogue.screens import update_layout

    admin = f.make_user(role="admin")
    show = f.make_show(screen=f.make_screen("SSSS"))
    now = f.now()
    first = build_seat_map(show.id, None, now)  # the layout is cached from here on
    assert [c.label for c in first.rows[0][1] if c] == ["A1", "A2", "A3", "A4"]
    update_layout(admin.id, show.screen_id, "Changed", "SS.PS", now)
    again = build_seat_map(show.id, None, now)
    cells = again.rows[0][1]
    assert [c.category if c else None for c in cells] == [
        "standard",
        "standard",
        None,
        "premium",
        "standard",
    ]
    assert again.etag != first.etag


def test_the_basket_warns_early_about_a_seat_left_on_its_own(backend: str, ctx: Flask) -> None:
    me, buyer = f.make_user(), f.make_user()
    show = f.make_show(screen=f.make_screen("SSSS"))
    now = f.now()
    toggle_hold(me.id, show.id, seat_id(show, "A2"), now)
    basket = build_seat_map(show.id, me.id, now).basket
    assert basket is not None and basket.warning is not None
    assert "leave seat A1 empty on its own" in basket.warning
    toggle_hold(me.id, show.id, seat_id(show, "A1"), now)
    basket = build_seat_map(show.id, me.id, now).basket
    assert basket is not None and basket.warning is None

    # No warning where no other choice of as many seats avoids it (checkout allows it too).
    small = f.make_show(screen=f.make_screen("SSS"))
    f.make_booking(buyer, small, ("A1",))
    toggle_hold(me.id, small.id, seat_id(small, "A2"), now)
    basket = build_seat_map(small.id, me.id, now).basket
    assert basket is not None and [s.label for s in basket.seats] == ["A2"]
    assert basket.warning is None
