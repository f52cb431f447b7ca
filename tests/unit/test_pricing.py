"""Seat prices: base × category multiplier, rounded half up; refund percentages."""

from __future__ import annotations

import pytest

from filmsphere.services.booking.pricing import percent_of, seat_price


@pytest.mark.parametrize(
    ("base", "category", "expected"),
    [
        (10, "standard", 10),
        (10, "premium", 15),
        (10, "vip", 20),
        (10, "wheelchair", 10),
        (10, "companion", 10),
        (7, "premium", 11),  # 10.5 rounds half up, not to even
        (5, "premium", 8),  # 7.5 → 8
        (9, "premium", 14),  # 13.5 → 14
        (1, "premium", 2),  # 1.5 → 2
        (13, "vip", 26),
        (1, "standard", 1),
    ],
)
def test_price_is_base_times_multiplier_rounded_half_up(
    base: int, category: str, expected: int
) -> None:
    assert seat_price(base, category) == expected


def test_halves_round_up_where_bankers_rounding_would_go_down() -> None:
    # round(10.5) == 10 and round(2.5) == 2 in Python; ours must say 11 and 3.
    assert seat_price(7, "premium") == 11
    assert percent_of(5, 50) == 3


def test_broken_and_unknown_seats_have_no_price() -> None:
    with pytest.raises(ValueError):
        seat_price(10, "broken")
    with pytest.raises(ValueError):
        seat_price(10, "sofa")


@pytest.mark.parametrize(
    ("amount", "percent", "expected"),
    [(15, 80, 12), (11, 80, 9), (13, 80, 10), (10, 100, 10), (10, 0, 0), (7, 50, 4)],
)
def test_refund_percent_rounds_half_up(amount: int, percent: int, expected: int) -> None:
    # 11 × 0.8 = 8.8 → 9; 13 × 0.8 = 10.4 → 10; 7 × 0.5 = 3.5 → 4
    assert percent_of(amount, percent) == expected
