"""Admin booking queries: search by reference, customer, show or date; one booking's money."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, or_, select

from ... import MAX_DB_INT
from ...clock import local_day_bounds
from ...extensions import db
from ...models import Booking, LedgerEntry, Movie, Show, User
from ..errors import NotFound
from ..paging import Key, Page, keyset_page

PAGE_SIZE = 50


@dataclass(frozen=True)
class BookingRow:
    booking: Booking
    user: User
    movie_title: str


@dataclass(frozen=True)
class BookingDetail:
    booking: Booking
    user: User
    ledger: list[LedgerEntry]

    @property
    def cancellable_seats(self) -> list[str]:
        """Seats an admin cancellation would refund: active and not used at the door."""
        return [t.seat.label for t in self.booking.tickets if t.is_cancellable]

    @property
    def used_seats(self) -> list[str]:
        """Seats used at the door: kept by every cancellation, never refunded."""
        return [t.seat.label for t in self.booking.tickets if t.is_used]


def search_bookings(
    *,
    reference: str = "",
    customer: str = "",
    show: str = "",
    day: date | None = None,
    cursor: str | None = None,
    page_size: int = PAGE_SIZE,
) -> Page[BookingRow]:
    """The page `cursor` names of the bookings matching every given filter, newest first.
    `reference` is exact (any case), `customer` matches email or username, `show` a film
    title (case-insensitive, substring) or a show number (or a film with exactly that
    title: "1917"); `day` is the cinema-local date of the show. Reads only; raises
    BadCursor."""
    query = (
        select(Booking, User, Movie.title)
        .join(User, User.id == Booking.user_id)
        .join(Show, Show.id == Booking.show_id)
        .join(Movie, Movie.id == Show.movie_id)
    )
    if reference.strip():
        # References are stored upper-case: the unique index answers the equality.
        query = query.where(Booking.reference == reference.strip().upper())
    if customer.strip():
        customers = users_matching(customer, User.email, User.username)
        query = query.join(customers, customers.c.id == Booking.user_id)
    show = show.strip()
    if show.isascii() and show.isdigit():
        number = int(show) if len(show) <= 10 and int(show) <= MAX_DB_INT else 0
        query = query.where(or_(Booking.show_id == number, func.lower(Movie.title) == show))
    elif show:
        query = query.where(contains(Movie.title, show))
    if day is not None:
        start, end = local_day_bounds(day)
        query = query.where(Show.starts_at >= start, Show.starts_at < end)
    page = keyset_page(
        query, [Key(Booking.id, int)], lambda r: [r[0].id], cursor, page_size, descending=True
    )
    return page.with_rows([BookingRow(b, u, t) for b, u, t in page.rows])


def users_matching(text: str, *columns: Any) -> Any:
    """The ids of the users with `text` in any of `columns`, found before anything else
    (a MATERIALIZED CTE): on PostgreSQL through the trigram indexes, so listing newest
    first can't turn into walking every user (or booking) by id, filtering as it goes."""
    return (
        select(User.id)
        .where(or_(*[contains(column, text) for column in columns]))
        .cte("matching_users")
        .prefix_with("MATERIALIZED")
    )


def contains(column: Any, text: str) -> Any:
    """Case-insensitive substring match; % and _ in the text match themselves. The
    lower(column) LIKE form is what the trigram indexes on PostgreSQL answer."""
    escaped = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return func.lower(column).like(f"%{escaped}%", escape="\\")


def booking_detail(booking_id: int) -> BookingDetail:
    """A booking with its customer and every ledger entry that refers to it (the charge
    and any refunds), oldest first."""
    booking = db.session.get(Booking, booking_id)
    if booking is None:
        raise NotFound("That booking does not exist.")
    user = db.session.get(User, booking.user_id)
    assert user is not None
    ledger = list(
        db.session.scalars(
            select(LedgerEntry).where(LedgerEntry.booking_id == booking.id).order_by(LedgerEntry.id)
        )
    )
    return BookingDetail(booking, user, ledger)
