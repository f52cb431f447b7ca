"""The customer's bookings, read only: one booking (theirs, else a 404) and my bookings
(a page at a time)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select

from ...extensions import db
from ...models import Booking, BookingStatus, Show
from ..errors import NotFound
from ..paging import Key, Page, keyset_page


def get_booking(user_id: int, reference: str) -> Booking:
    """The user's booking with this reference (tickets, show, film and screen loaded).

    Raises NotFound for an unknown reference and for another user's booking alike, so a
    reference can't be probed. Reads only; never locks or commits.
    """
    booking = db.session.scalars(
        select(Booking).where(Booking.reference == reference.strip().upper())
    ).one_or_none()
    if booking is None or booking.user_id != user_id:
        raise NotFound("There is no booking with that reference on your account.")
    return booking


BOOKINGS_PAGE_SIZE = 10


def _bookings_page(
    user_id: int, which: Any, cursor: str | None, size: int, *, descending: bool
) -> Page[Booking]:
    # The models load show, film, screen and seats joined and a page's tickets in one
    # statement (selectin): a page costs the same statements whatever its rows.
    page = keyset_page(
        select(Booking, Show.starts_at)
        .join(Show, Show.id == Booking.show_id)
        .where(Booking.user_id == user_id, which),
        [Key(Show.starts_at, datetime), Key(Booking.id, int)],
        lambda row: [row[1], row[0].id],
        cursor,
        size,
        descending=descending,
    )
    return page.with_rows([row[0] for row in page.rows])


def upcoming_bookings(
    user_id: int, now: datetime, cursor: str | None = None, size: int = BOOKINGS_PAGE_SIZE
) -> Page[Booking]:
    """The page `cursor` names of the user's live bookings whose show has not ended,
    soonest first. Reads only; raises BadCursor."""
    live = and_(Booking.status != BookingStatus.CANCELLED, Show.ends_at > now)
    return _bookings_page(user_id, live, cursor, size, descending=False)


def past_bookings(
    user_id: int, now: datetime, cursor: str | None = None, size: int = BOOKINGS_PAGE_SIZE
) -> Page[Booking]:
    """The page `cursor` names of the user's other bookings (the show has ended, or the
    booking was cancelled whole; kept with their history), latest show first. Reads only;
    raises BadCursor."""
    done = or_(Booking.status == BookingStatus.CANCELLED, Show.ends_at <= now)
    return _bookings_page(user_id, done, cursor, size, descending=True)
