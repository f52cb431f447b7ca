"""The sale rule: whether a show's seats can still be held or bought at a given moment."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import bindparam

from ...models import Show, ShowStatus


class ShowState(Protocol):
    """The few show columns the rules need: a Show, or a lighter Core row of them."""

    id: int
    screen_id: int
    status: str
    starts_at: datetime
    ends_at: datetime
    base_price_coins: int


class _SaleColumns(Protocol):
    status: str
    starts_at: datetime
    ends_at: datetime


def not_bookable_reason(show: _SaleColumns, now: datetime) -> str | None:
    """Why seats of this show can't be held or bought now, or None when they can."""
    if show.status == ShowStatus.CANCELLED:
        return "This show was cancelled."
    if show.status == ShowStatus.FINISHED or now >= show.ends_at:
        return "This show is over."
    if now >= show.starts_at:
        return "This show has already started, so it can't be booked any more."
    return None


def for_sale_conditions(*, check_status: bool = True) -> tuple[Any, ...]:
    """The same rule as SQL over the show row (bound parameters `show_id` and `now`), for
    statements that re-check it under the show's lock just before they write."""
    conditions: tuple[Any, ...] = (
        Show.id == bindparam("show_id"),
        Show.starts_at > bindparam("now"),
    )
    if check_status:
        conditions += (Show.status == ShowStatus.SCHEDULED,)
    return conditions
