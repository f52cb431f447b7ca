"""The seat map as view objects: rows of seats with their state, legend, basket, ETag.

Read-only: two queries for the grid (seats; live holds and sold seats together) plus the
show and, for a customer, the wallet balance. The per-show part (rows, prices, names,
legend) is computed once per distinct seat layout and price and shared; only seat states
are worked out per request. Templates render these objects and never query.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal, Protocol, cast

from sqlalchemy import Integer, bindparam, func, literal, select, union_all
from sqlalchemy.orm import lazyload

from ..extensions import db
from ..models import Seat as SeatModel
from ..models import SeatCategory, SeatHold, Show, ShowStatus, Ticket, TicketStatus, Wallet
from .errors import NotFound
from .pricing import CATEGORY_LABELS, seat_price

SeatState = Literal["free", "mine", "taken", "broken"]

LEGEND_ORDER = (
    SeatCategory.STANDARD,
    SeatCategory.PREMIUM,
    SeatCategory.VIP,
    SeatCategory.WHEELCHAIR,
    SeatCategory.COMPANION,
)


@dataclass(frozen=True)
class SeatView:
    id: int
    row_label: str
    number: int
    grid_row: int
    grid_col: int
    category: str
    price_coins: int
    state: SeatState
    accessible_name: str

    @property
    def label(self) -> str:
        return f"{self.row_label}{self.number}"


@dataclass(frozen=True)
class LegendItem:
    category: str
    label: str
    price_coins: int


@dataclass(frozen=True)
class Basket:
    seats: list[SeatView]
    total_coins: int
    balance_coins: int
    balance_after_coins: int
    expires_at: datetime | None


@dataclass(frozen=True)
class SeatMap:
    show: Show
    rows: list[tuple[str, list[SeatView | None]]]
    columns: int
    legend: list[LegendItem]
    basket: Basket | None
    bookable: bool
    not_bookable_reason: str | None
    etag: str


class ShowState(Protocol):
    """The few show columns the rules need: a Show, or a lighter Core row of them."""

    id: int
    screen_id: int
    status: str
    starts_at: datetime
    ends_at: datetime
    base_price_coins: int
    seat_version: int


# The hot read statements are built once, with bound parameters: SQLAlchemy then reuses
# each one's cache key and compiled form instead of rebuilding them on every request
# (which cost more CPU than the queries themselves in the ticket-rush benchmark).
_SHOW_STATE = select(
    Show.id,
    Show.screen_id,
    Show.status,
    Show.starts_at,
    Show.ends_at,
    Show.base_price_coins,
    Show.seat_version,
).where(Show.id == bindparam("show_id"))
_SHOW = select(Show).options(lazyload("*")).where(Show.id == bindparam("show_id"))
_SEATS = (
    select(
        SeatModel.id,
        SeatModel.row_label,
        SeatModel.number,
        SeatModel.grid_row,
        SeatModel.grid_col,
        SeatModel.category,
    )
    .where(SeatModel.screen_id == bindparam("screen_id"), SeatModel.is_active.is_(True))
    .order_by(SeatModel.grid_row, SeatModel.grid_col)
)
# Live holds and sold seats in one round trip (a sold seat comes with user_id NULL).
_CLAIMS = union_all(
    select(SeatHold.seat_id, SeatHold.user_id, SeatHold.expires_at).where(
        SeatHold.show_id == bindparam("show_id"), SeatHold.expires_at > bindparam("now")
    ),
    select(
        Ticket.seat_id,
        literal(None, Integer).label("user_id"),
        literal(None, SeatHold.expires_at.type).label("expires_at"),
    ).where(Ticket.show_id == bindparam("show_id"), Ticket.status == TicketStatus.ACTIVE),
)
_BALANCE = select(Wallet.balance_coins).where(Wallet.user_id == bindparam("user_id"))
_NEXT_EXPIRY = select(func.min(SeatHold.expires_at)).where(
    SeatHold.show_id == bindparam("show_id"), SeatHold.expires_at > bindparam("now")
)


def show_state(show_id: int) -> ShowState:
    """Read a show's rule columns with one small query (no ORM entity, no joined film or
    screen). Raises NotFound for an unknown show."""
    row = db.session.execute(_SHOW_STATE, {"show_id": show_id}).one_or_none()
    if row is None:
        raise NotFound("There is no such show.")
    return cast(ShowState, row)


def not_bookable_reason(show: ShowState, now: datetime) -> str | None:
    """Why seats of this show can't be held or bought now, or None when they can."""
    if show.status == ShowStatus.CANCELLED:
        return "This show was cancelled."
    if show.status == ShowStatus.FINISHED or now >= show.ends_at:
        return "This show is over."
    if now >= show.starts_at:
        return "This show has already started, so it can't be booked any more."
    return None


def accessible_name(row_label: str, number: int, category: str, price: int, state: str) -> str:
    if category == SeatCategory.BROKEN:
        return f"Row {row_label}, seat {number}, out of order"
    name = f"Row {row_label}, seat {number}, {CATEGORY_LABELS[category]}, {price} coins"
    if state == "taken":
        name += ", taken"
    return name


def _get_show(show_id: int) -> Show:
    # The grid needs none of the film/screen rows the Show mapping joins in by default; a
    # page that shows them loads them on first access.
    show = db.session.execute(_SHOW, {"show_id": show_id}).scalar_one_or_none()
    if show is None:
        raise NotFound("There is no such show.")
    return show


def build_seat_map(show_id: int, user_id: int | None, now: datetime) -> SeatMap:
    """The seat map of a show as `user_id` sees it (None: a visitor, read only).

    A hold whose expires_at has passed counts as free. Retired seats are not shown; broken
    seats are shown and never sellable. Raises NotFound for an unknown show.
    """
    show = _get_show(show_id)
    seats = db.session.execute(_SEATS, {"screen_id": show.screen_id}).all()
    claims = db.session.execute(_CLAIMS, {"show_id": show_id, "now": now}).all()
    holds = [c for c in claims if c.user_id is not None]
    sold = {c.seat_id for c in claims if c.user_id is None}
    holder = {h.seat_id: h.user_id for h in holds}
    my_expiry = min(
        (h.expires_at for h in holds if user_id is not None and h.user_id == user_id),
        default=None,
    )

    layout = _layout(show.base_price_coins, tuple(seats))
    mine: list[SeatView] = []
    grid: list[tuple[str, list[SeatView | None]]] = []
    for label, cells in layout.rows:
        row: list[SeatView | None] = []
        for variants in cells:
            if variants is None:
                row.append(None)
                continue
            seat_id = variants.free.id
            if variants.broken is not None:
                view = variants.broken
            elif seat_id in sold:
                view = variants.taken
            elif seat_id in holder:
                if holder[seat_id] == user_id:
                    view = variants.mine
                    mine.append(view)
                else:
                    view = variants.taken
            else:
                view = variants.free
            row.append(view)
        grid.append((label, row))
    columns = layout.columns
    legend = layout.legend

    basket = None
    if user_id is not None:
        balance = db.session.scalar(_BALANCE, {"user_id": user_id}) or 0
        total = sum(v.price_coins for v in mine)
        basket = Basket(
            seats=mine,
            total_coins=total,
            balance_coins=balance,
            balance_after_coins=balance - total,
            expires_at=my_expiry,
        )
    reason = not_bookable_reason(show, now)
    return SeatMap(
        show=show,
        rows=grid,
        columns=columns,
        legend=legend,
        basket=basket,
        bookable=reason is None,
        not_bookable_reason=reason,
        etag=_etag(show, user_id, now, _next_expiry(holds, now)),
    )


@dataclass(frozen=True)
class _SeatVariants:
    """One seat's view in each state it can be shown in (views are immutable, shared)."""

    free: SeatView
    mine: SeatView
    taken: SeatView
    broken: SeatView | None  # set for a broken seat: always shown as such


@dataclass(frozen=True)
class _Layout:
    rows: list[tuple[str, list[_SeatVariants | None]]]
    columns: int
    legend: list[LegendItem]


def _view(s: Any, price: int, state: SeatState) -> SeatView:
    return SeatView(
        id=s.id,
        row_label=s.row_label,
        number=s.number,
        grid_row=s.grid_row,
        grid_col=s.grid_col,
        category=s.category,
        price_coins=price,
        state=state,
        accessible_name=accessible_name(s.row_label, s.number, s.category, price, state),
    )


@lru_cache(maxsize=64)
def _layout(base_price_coins: int, seats: tuple[Any, ...]) -> _Layout:
    """The per-show part of the seat map (rows, gaps, prices, names, legend), computed once
    per distinct (base price, active seats) and shared: only the seat states vary per
    request. Keyed by the seat rows themselves, so a changed screen or price is a new key."""
    rows: dict[int, tuple[str, dict[int, _SeatVariants]]] = {}
    columns = 0
    legend_prices: dict[str, int] = {}
    for s in seats:
        broken = s.category == SeatCategory.BROKEN
        price = 0 if broken else seat_price(base_price_coins, s.category)
        variants = _SeatVariants(
            free=_view(s, price, "free"),
            mine=_view(s, price, "mine"),
            taken=_view(s, price, "taken"),
            broken=_view(s, price, "broken") if broken else None,
        )
        rows.setdefault(s.grid_row, (s.row_label, {}))[1][s.grid_col] = variants
        columns = max(columns, s.grid_col + 1)
        if not broken:
            legend_prices[s.category] = price
    return _Layout(
        rows=[
            (label, [cells.get(col) for col in range(columns)])
            for _, (label, cells) in sorted(rows.items())
        ],
        columns=columns,
        legend=[
            LegendItem(category=c, label=CATEGORY_LABELS[c], price_coins=legend_prices[c])
            for c in LEGEND_ORDER
            if c in legend_prices
        ],
    )


def _next_expiry(holds: Sequence[Any], now: datetime) -> datetime | None:
    return min((h.expires_at for h in holds if h.expires_at > now), default=None)


def _etag(show: ShowState, user_id: int | None, now: datetime, next_expiry: datetime | None) -> str:
    # The grid changes when seat_version moves (every hold/ticket change), when the next
    # live hold runs out (it turns free without any write), when the show stops being
    # bookable, and it differs per viewer ("mine" vs "taken").
    parts = (
        show.id,
        show.seat_version,
        show.status,
        now >= show.starts_at,
        next_expiry.isoformat() if next_expiry else "-",
        user_id or 0,
    )
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:20]
    return f'W/"seats-{digest}"'


def grid_etag(show_id: int, user_id: int | None, now: datetime) -> str:
    """A cheap ETag for the seat grid as `user_id` sees it at `now` (two small queries).
    Raises NotFound for an unknown show."""
    show = show_state(show_id)
    next_expiry = db.session.scalar(_NEXT_EXPIRY, {"show_id": show_id, "now": now})
    return _etag(show, user_id, now, next_expiry)
