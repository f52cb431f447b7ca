"""The seat map as view objects: rows of seats with their state, legend, basket, ETag.

Read-only, one query: the show (with its screen's layout version and, for a customer,
the wallet balance) and the seats' claims (live holds and sold tickets together); the
ETag comes from that alone (read_seat_state), so a poll of an unchanged map is a 304
before any seat view is built. For a poll the same query also checks the viewer's log-in
session (read_seat_state_of_session), so an unchanged map costs one statement; for the
seat map page it also reads the heading, the waitlist flag and the signed-in user's
columns (read_seat_page_of_session), so the whole page is one statement. The
per-layout part (rows, prices, names, legend) is built once per screen layout version and
price and shared by every request of the process; only seat states are worked out per
request. Templates render these objects and never query.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol, cast

from flask import current_app
from sqlalchemy import Integer, Select, String, bindparam, func, or_, select, true
from sqlalchemy import cast as sql_cast

from ...extensions import db
from ...models import (
    Movie,
    Screen,
    SeatCategory,
    SeatHold,
    Show,
    Ticket,
    TicketStatus,
    User,
    WaitlistEntry,
    Wallet,
)
from ...models import Seat as SeatModel
from ...models.waitlist import LIVE_STATUSES
from ..accounts.sessions import (
    LIVE_SESSION_USER_ID,
    USER_COLUMNS,
    SessionKey,
    SignedInUser,
    key_parameters,
    signed_in_user_from,
)
from ..driver import hot
from ..errors import NotFound
from ..transaction import execute_core, read_alone
from .pricing import CATEGORY_LABELS, seat_price
from .seat_rules import CellState, SeatCell, stranded_hint, stranded_seats
from .show_sale import ShowState, not_bookable_reason

SeatState = Literal["free", "mine", "taken", "broken"]

LEGEND_ORDER = (
    SeatCategory.STANDARD,
    SeatCategory.PREMIUM,
    SeatCategory.VIP,
    SeatCategory.WHEELCHAIR,
    SeatCategory.COMPANION,
)


# eq=False: one view object per seat and state is shared by every request (see _layout),
# so identity is equality, and hashing it (the seat buttons' markup cache) is free.
@dataclass(frozen=True, eq=False)
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
    # The single-empty-seat rule, told while picking (checkout is where it is enforced).
    warning: str | None = None


@dataclass(frozen=True)
class SeatMap:
    show: ShowState
    rows: list[tuple[str, list[SeatView | None]]]
    columns: int
    legend: list[LegendItem]
    basket: Basket | None
    bookable: bool
    not_bookable_reason: str | None
    etag: str


# The hot read statements are built once, with bound parameters: SQLAlchemy then reuses
# each one's cache key and compiled form instead of rebuilding them on every request
# (which cost more CPU than the queries themselves in the ticket-rush benchmark).
_SHOW_COLUMNS = (
    Show.id,
    Show.screen_id,
    Show.status,
    Show.starts_at,
    Show.ends_at,
    Show.base_price_coins,
)
_SHOW_STATE = hot(select(*_SHOW_COLUMNS).where(Show.id == bindparam("show_id")))
_SEATS = (
    select(
        SeatModel.id,
        SeatModel.row_label,
        SeatModel.number,
        SeatModel.grid_row,
        SeatModel.grid_col,
        SeatModel.category,
        Screen.layout_version,
    )
    .join(Screen, Screen.id == SeatModel.screen_id)
    .where(SeatModel.screen_id == bindparam("screen_id"), SeatModel.is_active.is_(True))
    .order_by(SeatModel.grid_row, SeatModel.grid_col)
)


def _seat_ids(column: Any, *conditions: Any) -> Any:
    """The ids in `column` of the rows matching `conditions`, as one comma-separated string
    (NULL for none). A show's claims come as three such strings, not as a row per seat:
    fetching 80 rows cost a poll more CPU than all the rest of the read."""
    return (
        select(func.aggregate_strings(sql_cast(column, String), ","))
        .where(*conditions)
        .scalar_subquery()
    )


def _map_read(viewer: Any, *, page: bool = False, user: bool = False) -> Select[Any]:
    """The seat map's one round trip: the show's rule columns, its screen's layout
    version, the viewer (`viewer`: bound `user_id`, or a session check; NULL for a
    visitor), the viewer's balance and the end of their hold, and the seats sold, held by
    others and held by the viewer (live holds only). With `page`, also what the seat map
    page shows around the grid: the heading (film, screen) and whether the viewer is on
    the show's waitlist; with `user`, the viewer's user columns (sessions.USER_COLUMNS),
    so that the page needs no user query of its own."""
    seen_by = select(viewer.label("viewer_id")).subquery("viewer")
    viewer_id = seen_by.c.viewer_id
    live = (SeatHold.show_id == bindparam("show_id"), SeatHold.expires_at > bindparam("now"))
    statement = (
        select(
            *_SHOW_COLUMNS,
            Screen.layout_version,
            viewer_id,
            select(Wallet.balance_coins)
            .where(Wallet.user_id == viewer_id)
            .scalar_subquery()
            .label("balance_coins"),
            select(func.min(SeatHold.expires_at))
            .where(*live, SeatHold.user_id == viewer_id)
            .scalar_subquery()
            .label("my_expiry"),
            _seat_ids(
                Ticket.seat_id,
                Ticket.show_id == bindparam("show_id"),
                Ticket.status == TicketStatus.ACTIVE,
            ).label("sold"),
            _seat_ids(
                SeatHold.seat_id, *live, or_(viewer_id.is_(None), SeatHold.user_id != viewer_id)
            ).label("held"),
            _seat_ids(SeatHold.seat_id, *live, SeatHold.user_id == viewer_id).label("mine"),
        )
        .select_from(Show)
        .join(Screen, Screen.id == Show.screen_id)
        .join(seen_by, true())
        .where(Show.id == bindparam("show_id"))
    )
    if not page:
        return statement
    on_waitlist = (
        select(WaitlistEntry.id)
        .where(
            WaitlistEntry.user_id == viewer_id,
            WaitlistEntry.show_id == bindparam("show_id"),
            # Not IN (…): a list is rendered per execution, and this statement is hot.
            or_(*(WaitlistEntry.status == status for status in LIVE_STATUSES)),
        )
        .exists()
    )
    statement = statement.join(Movie, Movie.id == Show.movie_id).add_columns(
        Show.movie_id,
        Movie.title,
        Movie.duration_minutes,
        Movie.age_rating,
        Screen.name.label("screen_name"),
        on_waitlist.label("on_waitlist"),
    )
    if not user:
        return statement
    return statement.outerjoin(User, User.id == viewer_id).add_columns(*USER_COLUMNS)


# The viewer as the caller knows them (None: a visitor); or the user whose log-in session
# the cookie's key names, NULL unless that session is live (sessions.py's check, bound
# parameters session_id, user_id, secret_hash, now).
_MAP_READ = hot(_map_read(bindparam("user_id", type_=Integer)))
_MAP_READ_OF_SESSION = hot(_map_read(LIVE_SESSION_USER_ID))
_PAGE_READ = hot(_map_read(bindparam("user_id", type_=Integer), page=True))
_PAGE_READ_OF_SESSION = hot(_map_read(LIVE_SESSION_USER_ID, page=True, user=True))


def show_state(show_id: int) -> ShowState:
    """Read a show's rule columns with one small query (no ORM entity, no joined film or
    screen). Raises NotFound for an unknown show."""
    row = execute_core(_SHOW_STATE, {"show_id": show_id}).one_or_none()
    if row is None:
        raise NotFound("There is no such show.")
    return cast(ShowState, row)


class ShowHeading(Protocol):
    """The seat map page's heading: a few columns of the show, its film and its screen."""

    id: int
    movie_id: int
    starts_at: datetime
    title: str
    duration_minutes: int
    age_rating: str
    screen_name: str
    on_waitlist: bool  # the viewer has a live waitlist entry (False for a visitor)


def accessible_name(row_label: str, number: int, category: str, state: str) -> str:
    # Row, number and category, as the seat shows them; the prices are in the legend beside
    # the map (every byte of a seat is sent 200+ times a poll).
    if category == SeatCategory.BROKEN:
        return f"Row {row_label}, seat {number}, out of order"
    name = f"Row {row_label}, seat {number}, {CATEGORY_LABELS[category]}"
    if state == "taken":
        name += ", taken"
    return name


@dataclass(frozen=True)
class SeatStates:
    """What a seat map shows, as read (one statement), before any seat view is built: enough
    for the ETag, so an unchanged map is answered without building it."""

    show: Any  # the show's rule columns, layout version and the viewer's balance
    user_id: int | None  # the viewer (None: a visitor)
    sold: frozenset[int]
    held: frozenset[int]  # seats in others' live holds
    mine: frozenset[int]  # seats in the viewer's live holds
    my_expiry: datetime | None
    not_bookable_reason: str | None
    etag: str


def read_seat_state(show_id: int, user_id: int | None, now: datetime) -> SeatStates:
    """The seat states of a show as `user_id` sees them (None: a visitor), and their ETag,
    in one statement.

    A hold whose expires_at has passed counts as free. The ETag is a digest of the viewer
    and of everything the grid and basket show, so it changes exactly when they do (a
    hold, a sale, a refund, a hold running out, the show starting, a new layout or price,
    the viewer's balance). Raises NotFound for an unknown show.
    """
    return _seat_states(
        _map_row(_MAP_READ, {"show_id": show_id, "user_id": user_id, "now": now}), now
    )


def read_seat_page(show_id: int, user_id: int | None, now: datetime) -> SeatStates:
    """read_seat_state with the seat map page's heading and waitlist flag on `show` (see
    ShowHeading), still one statement. Raises NotFound."""
    return _seat_states(
        _map_row(_PAGE_READ, {"show_id": show_id, "user_id": user_id, "now": now}), now
    )


def read_seat_page_of_session(
    show_id: int, session_key: Any, now: datetime
) -> tuple[SeatStates, SignedInUser | None]:
    """read_seat_page for the viewer whose log-in session `session_key` names, checked in
    the same statement as read_seat_state_of_session checks it, and that viewer as
    load_user would give them (None: a visitor, the session not live). One statement for
    the user and the whole page. Raises NotFound."""
    key = SessionKey.parse(session_key)
    if key is None:
        return read_seat_page(show_id, None, now), None
    params = key_parameters(key, now) | {"show_id": show_id}
    row = _map_row(_PAGE_READ_OF_SESSION, params)
    state = _seat_states(row, now)
    return state, signed_in_user_from(row, str(session_key))


def read_seat_state_of_session(show_id: int, session_key: Any, now: datetime) -> SeatStates:
    """read_seat_state for the viewer whose log-in session key (flask-login's id in the
    signed session cookie, sessions.py) is `session_key`, checked in the same statement:
    the customer when their session is live, else a visitor (logged out, expired, ended
    elsewhere, deactivated, no key or not a key). Nothing else about the user is loaded,
    so a poll of an unchanged map costs this one statement. Raises NotFound."""
    key = SessionKey.parse(session_key)
    if key is None:
        return read_seat_state(show_id, None, now)
    return _seat_states(
        _map_row(_MAP_READ_OF_SESSION, key_parameters(key, now) | {"show_id": show_id}), now
    )


def _map_row(statement: Select[Any], params: dict[str, Any]) -> Any:
    return read_alone(statement, params).first()


def _seat_states(show: Any, now: datetime) -> SeatStates:
    if show is None:
        raise NotFound("There is no such show.")
    user_id = show.viewer_id
    sold, held, mine = _id_set(show.sold), _id_set(show.held), _id_set(show.mine)
    reason = not_bookable_reason(show, now)
    taken = sold | held
    layout = _layout(show.screen_id, show.layout_version, show.base_price_coins)
    etag = _etag(
        show,
        reason,
        user_id,
        taken=sorted(taken),
        mine=sorted(mine),
        my_expiry=show.my_expiry,
        states=_state_bits(layout, show, taken, mine),
    )
    return SeatStates(show, user_id, sold, held, mine, show.my_expiry, reason, etag)


def _id_set(ids: str | None) -> frozenset[int]:
    return frozenset(map(int, ids.split(","))) if ids else frozenset()


def build_seat_map(show_id: int, user_id: int | None, now: datetime) -> SeatMap:
    """The seat map of a show as `user_id` sees it (None: a visitor, read only).

    Retired seats are not shown; broken seats are shown and never sellable; expired holds
    count as free (see read_seat_state). Raises NotFound for an unknown show.
    """
    return seat_map_from(read_seat_state(show_id, user_id, now))


def seat_map_from(state: SeatStates) -> SeatMap:
    """The seat map's views built from states already read (no query once the screen's
    layout is cached)."""
    show, sold, held = state.show, state.sold, state.held
    layout = _layout(show.screen_id, show.layout_version, show.base_price_coins)
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
            elif seat_id in sold or seat_id in held:
                view = variants.taken
            elif seat_id in state.mine:
                view = variants.mine
                mine.append(view)
            else:
                view = variants.free
            row.append(view)
        grid.append((label, row))

    basket = None
    if state.user_id is not None:
        balance = show.balance_coins or 0
        total = sum(v.price_coins for v in mine)
        basket = Basket(
            seats=mine,
            total_coins=total,
            balance_coins=balance,
            balance_after_coins=balance - total,
            expires_at=state.my_expiry,
            warning=_stranding_warning(grid, mine),
        )
    reason = state.not_bookable_reason
    return SeatMap(
        show=cast(ShowState, show),
        rows=grid,
        columns=layout.columns,
        legend=layout.legend,
        basket=basket,
        bookable=reason is None,
        not_bookable_reason=reason,
        etag=state.etag,
    )


def _stranding_warning(
    grid: list[tuple[str, list[SeatView | None]]], mine: list[SeatView]
) -> str | None:
    """What checkout would say about single empty seats, from the rows the customer's
    seats are in, as this map shows them (no extra query)."""
    if not mine:
        return None
    rows = {v.grid_row for v in mine}
    states: dict[str, CellState] = {"mine": "chosen", "free": "free"}
    cells = [
        SeatCell(v.id, v.label, v.grid_row, v.grid_col, v.category, states.get(v.state, "taken"))
        for _, row in grid
        for v in row
        if v is not None and v.grid_row in rows
    ]
    stranded = stranded_seats(cells)
    return stranded_hint(stranded[0]) if stranded else None


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
    index: dict[int, int]  # seat id -> its place in the grid's reading order (state bits)


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
        accessible_name=accessible_name(s.row_label, s.number, s.category, state),
    )


_MAX_LAYOUTS = 256


def _layout(screen_id: int, layout_version: int, base_price_coins: int) -> _Layout:
    """The per-layout part of the seat map (rows, gaps, prices, names, legend), built once
    per (screen, layout version, base price) and shared by the app's requests.

    update_layout bumps the screen's layout_version whenever it changes the seats, so a
    key never goes stale. The seats are read with the version in the same statement: a
    layout saved in between is cached under its own, new version. The cache belongs to
    the app (one per process in production, a fresh one per test app).
    """
    cache: dict[tuple[int, int, int], _Layout] = current_app.extensions.setdefault(
        "filmsphere_seat_layouts", {}
    )
    cached = cache.get((screen_id, layout_version, base_price_coins))
    if cached is not None:
        return cached
    seats = db.session.execute(_SEATS, {"screen_id": screen_id}).all()
    version = seats[0].layout_version if seats else layout_version
    built = _build_layout(base_price_coins, seats)
    if len(cache) >= _MAX_LAYOUTS:
        cache.clear()  # prices and layouts change rarely: a full reset is fine
    cache[(screen_id, version, base_price_coins)] = built
    return built


def _build_layout(base_price_coins: int, seats: Sequence[Any]) -> _Layout:
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
    grid = [
        (label, [cells.get(col) for col in range(columns)])
        for _, (label, cells) in sorted(rows.items())
    ]
    order = [v.free.id for _, cells in grid for v in cells if v is not None]
    return _Layout(
        rows=grid,
        index={seat_id: place for place, seat_id in enumerate(order)},
        columns=columns,
        legend=[
            LegendItem(category=c, label=CATEGORY_LABELS[c], price_coins=legend_prices[c])
            for c in LEGEND_ORDER
            if c in legend_prices
        ],
    )


def _etag(
    show: Any,
    reason: str | None,
    user_id: int | None,
    *,
    taken: list[int],
    mine: list[int],
    my_expiry: datetime | None,
    states: str,
) -> str:
    # The viewer, and everything the grid and basket show: the layout and prices, whether
    # seats can be picked, which seats are taken and which are the viewer's (a hold that
    # ran out has left these sets), when the viewer's hold ends, and their balance.
    parts = (
        user_id,
        show.id,
        show.screen_id,
        show.layout_version,
        show.base_price_coins,
        reason,
        taken,
        mine,
        my_expiry.isoformat() if my_expiry else "-",
        show.balance_coins if user_id is not None else None,
    )
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=12).hexdigest()
    return f'W/"seats-{digest}.{states}"'


# --- what a client already shows -------------------------------------------------------
#
# The ETag ends with the seat states the grid shows, as two bitmaps in the layout's
# reading order (taken, mine; ~70 characters for 200 seats) behind the layout key. A
# click that sends the ETag of the grid it shows can then be answered with only the
# seats whose state differs, without the server keeping anything per client.


def _state_bits(layout: _Layout, show: Any, taken: frozenset[int], mine: frozenset[int]) -> str:
    size = (len(layout.index) + 7) // 8
    return ".".join(
        (
            f"{show.layout_version}-{show.base_price_coins}",
            _bits(layout.index, taken, size),
            _bits(layout.index, mine, size),
        )
    )


def _bits(index: dict[int, int], seat_ids: frozenset[int], size: int) -> str:
    value = 0
    for seat_id in seat_ids:
        place = index.get(seat_id)
        if place is not None:  # a hold on a seat retired since: not on the grid
            value |= 1 << place
    return base64.urlsafe_b64encode(value.to_bytes(size, "little")).decode().rstrip("=")


def changed_seats(seat_map: SeatMap, client_etag: str) -> list[SeatView] | None:
    """The seats whose state differs from the grid the client shows (the one `client_etag`
    came with), in reading order; None when that can't be told (no or a foreign ETag, a
    new layout or price): then the client needs the whole grid."""
    ours, theirs = seat_map.etag.split("."), client_etag.strip().split(".")
    if len(theirs) != 4 or len(ours) != 4 or theirs[1] != ours[1]:
        return None
    try:
        taken, mine = (
            int.from_bytes(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)), "little")
            for part in (theirs[2], theirs[3].rstrip('"'))
        )
    except ValueError:
        return None
    changed: list[SeatView] = []
    place = 0
    for _, row in seat_map.rows:
        for view in row:
            if view is None:
                continue
            bit = 1 << place
            place += 1
            shown = "taken" if taken & bit else "mine" if mine & bit else "free"
            now = "taken" if view.state == "taken" else view.state
            if view.state != "broken" and now != shown:
                changed.append(view)
    return changed
