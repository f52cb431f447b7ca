"""Seat prices: show base price × category multiplier, rounded half up to whole coins."""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache

from ...models import SeatCategory

# Exact fractions, never floats: 1.5 × 7 must be 10.5 → 11, not a binary approximation.
MULTIPLIERS: dict[str, Fraction] = {
    SeatCategory.STANDARD: Fraction(1),
    SeatCategory.PREMIUM: Fraction(3, 2),
    SeatCategory.VIP: Fraction(2),
    SeatCategory.WHEELCHAIR: Fraction(1),
    SeatCategory.COMPANION: Fraction(1),
}

CATEGORY_LABELS: dict[str, str] = {
    SeatCategory.STANDARD: "standard",
    SeatCategory.PREMIUM: "premium",
    SeatCategory.VIP: "VIP",
    SeatCategory.WHEELCHAIR: "wheelchair space",
    SeatCategory.COMPANION: "companion seat",
    SeatCategory.BROKEN: "out of order",
}


def round_half_up(value: Fraction) -> int:
    """Round a non-negative exact value to the nearest integer, halves going up."""
    if value < 0:
        raise ValueError("prices and refunds are never negative")
    return int((value * 2 + 1) // 2)


@lru_cache(maxsize=1024)  # pure, and the seat map asks for hundreds of seats at a time
def seat_price(base_price_coins: int, category: str) -> int:
    """The price in coins of one seat of `category` at a show with this base price.

    Raises ValueError for a category that can't be sold (broken) or is unknown.
    """
    try:
        multiplier = MULTIPLIERS[category]
    except KeyError:
        raise ValueError(f"seats of category {category!r} are not for sale") from None
    return round_half_up(base_price_coins * multiplier)


def percent_of(amount_coins: int, percent: int) -> int:
    """`percent` % of an amount, rounded half up (refunds are computed per ticket)."""
    return round_half_up(Fraction(amount_coins * percent, 100))
