"""Every row lock a write takes, in one place, and the one switch race tests turn guards off with.

Lock order for every transaction that claims seats (holds, quick pick, checkout),
cancellations, check-in, cleanup and the waitlist alike: seats (ascending id) → seat
holds → waitlist entries → bookings → wallets → show rows (ascending id, always last:
shared by sales, exclusive for an admin cancelling the show). A fixed order means two
transactions can wait for each other but never deadlock. A reminder's claim row comes
after its booking (taken shared); a ticket transfer is re-read under its booking's lock
and takes no row lock of its own. SQLite ignores FOR UPDATE: there the write
transaction's BEGIN IMMEDIATE holds the database-wide write lock, which serialises
writers anyway.

Each helper but the waitlist's belongs to a guard ("seats", "holds", "bookings",
"wallets", "tickets", "shows", "reminders"). A race test's negative control switches
guards off with `guards_off(...)`: the helper then reads without locking (or without its
check) and the test shows the race would be lost. Nothing switches a guard off in
production; the check costs a set lookup.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..extensions import db
from ..models import (
    SEAT_CELL_COLUMNS,
    Booking,
    BookingReminder,
    Seat,
    SeatHold,
    Show,
    Ticket,
    WaitlistEntry,
    WaitlistStatus,
    Wallet,
)
from .booking.show_sale import for_sale_conditions
from .driver import hot
from .errors import HoldExpired, NotFound
from .transaction import execute_core, is_postgres

GUARDS = frozenset({"seats", "holds", "bookings", "wallets", "tickets", "shows", "reminders"})
_off: set[str] = set()


@contextmanager
def guards_off(*names: str) -> Iterator[None]:
    """Switch the named guards off for the block (race tests' negative controls only)."""
    unknown = set(names) - GUARDS
    if unknown:
        raise ValueError(f"unknown guards: {sorted(unknown)}")
    added = set(names) - _off
    _off.update(added)
    try:
        yield
    finally:
        _off.difference_update(added)


def _on(guard: str) -> bool:
    return guard not in _off


# Hot statements, built once with bound parameters so SQLAlchemy reuses their cache keys
# and compiled SQL (rebuilding them per click cost more CPU than running them).
_SEATS = select(Seat).where(Seat.id.in_(bindparam("ids", expanding=True))).order_by(Seat.id)
_LOCK_SEATS = _SEATS.with_for_update()
_SEAT_IDS = _SEATS.with_only_columns(Seat.id)
_LOCK_SEAT_IDS = _SEAT_IDS.with_for_update()
# The seat row with the show's rule columns: one round trip.
SEAT_IN_SHOW = hot(
    select(
        *SEAT_CELL_COLUMNS,
        Seat.is_active,
        (Seat.screen_id == Show.screen_id).label("in_show"),
        Show.status,
        Show.starts_at,
        Show.ends_at,
    )
    .join(Show, Show.id == bindparam("show_id"))
    .where(Seat.id == bindparam("seat_id"))
)
_LOCK_SEAT_IN_SHOW = hot(SEAT_IN_SHOW.with_for_update(of=Seat))
# This seat's hold row (anyone's) and the customer's holds in other shows.
_HOLD_ROWS = hot(
    select(SeatHold.id, SeatHold.show_id, SeatHold.user_id, SeatHold.expires_at)
    .where(
        ((SeatHold.show_id == bindparam("show_id")) & (SeatHold.seat_id == bindparam("seat_id")))
        | ((SeatHold.user_id == bindparam("user_id")) & (SeatHold.show_id != bindparam("show_id")))
    )
    .order_by(SeatHold.id)
)
_LOCK_HOLD_ROWS = hot(_HOLD_ROWS.with_for_update())
_HOLDS_OF = hot(
    select(SeatHold.id, SeatHold.seat_id, SeatHold.expires_at)
    .where(SeatHold.user_id == bindparam("user_id"), SeatHold.show_id == bindparam("show_id"))
    .order_by(SeatHold.id)
)
_LOCK_HOLDS_OF = hot(_HOLDS_OF.with_for_update())
_WALLET_ROW = hot(select(Wallet.id).where(Wallet.user_id == bindparam("user_id")))
_LOCK_WALLET_ROW = hot(_WALLET_ROW.with_for_update())
# A quick pick's block: its seats' hold rows (anyone's) and every hold of the customer.
_BLOCK_HOLD_ROWS = (
    select(SeatHold.id, SeatHold.show_id, SeatHold.seat_id, SeatHold.user_id, SeatHold.expires_at)
    .where(
        (
            (SeatHold.show_id == bindparam("show_id"))
            & SeatHold.seat_id.in_(bindparam("seat_ids", expanding=True))
        )
        | (SeatHold.user_id == bindparam("user_id"))
    )
    .order_by(SeatHold.id)
)
_LOCK_BLOCK_HOLD_ROWS = _BLOCK_HOLD_ROWS.with_for_update()
# Shared, not exclusive: sales of one show don't queue behind each other here, while an
# admin cancelling the show (FOR UPDATE) and the sales in flight wait for one another.
_SHOW_FOR_SALE = select(Show.id).where(*for_sale_conditions()).with_for_update(read=True)


def _insert_hold_where(*show_conditions: Any) -> Any:
    """INSERT the hold once if the show row meets the conditions, under its shared lock;
    the rowcount (kept for an INSERT by preserve_rowcount) says whether it did."""
    show_row = (
        select(
            Show.id,
            bindparam("seat_id", type_=SeatHold.seat_id.type),
            bindparam("user_id", type_=SeatHold.user_id.type),
            bindparam("created_at", type_=SeatHold.created_at.type),
            bindparam("expires_at", type_=SeatHold.expires_at.type),
        )
        .where(*show_conditions)
        .with_for_update(read=True)
    )
    columns = ["show_id", "seat_id", "user_id", "created_at", "expires_at"]
    return (
        insert(cast(Table, SeatHold.__table__))
        .from_select(columns, show_row)
        .execution_options(preserve_rowcount=True)
    )


_INSERT_HOLD_IF_FOR_SALE = hot(_insert_hold_where(*for_sale_conditions()))
_INSERT_HOLD_IF_NOT_STARTED = hot(_insert_hold_where(*for_sale_conditions(check_status=False)))


# --- seats ------------------------------------------------------------------------------


def lock_seats(seat_ids: Iterable[int]) -> list[Seat]:
    """SELECT … FOR UPDATE the seats in ascending id order and return them (same order).

    The seat row is the mutex for "who gets this seat": every hold and checkout takes it
    before looking at tickets and holds."""
    ids = sorted(set(seat_ids))
    if not ids:
        return []
    statement = _LOCK_SEATS if _on("seats") else _SEATS
    return list(db.session.scalars(statement, {"ids": ids}))


def lock_seat_rows(seat_ids: Iterable[int]) -> None:
    """lock_seats without reading the seats back (a quick pick has them from the map)."""
    ids = sorted(set(seat_ids))
    if ids:
        execute_core(_LOCK_SEAT_IDS if _on("seats") else _SEAT_IDS, {"ids": ids}).all()


def lock_seat_in_show(show_id: int, seat_id: int) -> Any | None:
    """SELECT … FOR UPDATE the seat row, read with the show's rule columns (status,
    starts_at, ends_at) and whether the seat belongs to the show's screen; None when the
    seat or the show doesn't exist. Like lock_seats, the mutex for "who gets this seat"."""
    statement = _LOCK_SEAT_IN_SHOW if _on("seats") else SEAT_IN_SHOW
    return execute_core(statement, {"show_id": show_id, "seat_id": seat_id}).one_or_none()


# --- seat holds -------------------------------------------------------------------------


def lock_hold_rows(user_id: int, show_id: int, seat_id: int) -> list[Any]:
    """Lock this seat's hold row in the show (anyone's) and the customer's holds in other
    shows, ascending id."""
    statement = _LOCK_HOLD_ROWS if _on("holds") else _HOLD_ROWS
    params = {"show_id": show_id, "seat_id": seat_id, "user_id": user_id}
    return list(execute_core(statement, params).all())


def lock_block_hold_rows(user_id: int, show_id: int, seat_ids: list[int]) -> list[Any]:
    """Lock the hold rows of these seats in the show (anyone's) and every hold of the
    customer in any show (a quick pick replaces those in this show and releases the
    others), ascending id."""
    statement = _LOCK_BLOCK_HOLD_ROWS if _on("holds") else _BLOCK_HOLD_ROWS
    params = {"show_id": show_id, "seat_ids": seat_ids, "user_id": user_id}
    return list(execute_core(statement, params).all())


def lock_holds(user_id: int, show_id: int) -> list[Any]:
    """The customer's hold rows for the show, locked FOR UPDATE (ascending id). A hold
    that cleanup deleted meanwhile is not returned; one we lock, cleanup skips."""
    statement = _LOCK_HOLDS_OF if _on("holds") else _HOLDS_OF
    return list(execute_core(statement, {"user_id": user_id, "show_id": show_id}).all())


def lock_all_holds(user_id: int) -> None:
    """Lock every hold row of the customer, in any show (ascending id): closing the account
    waits here for a checkout in flight, which holds them until it commits."""
    statement = select(SeatHold.id).where(SeatHold.user_id == user_id).order_by(SeatHold.id)
    if _on("holds"):
        statement = statement.with_for_update()
    db.session.scalars(statement).all()


def consume_holds(hold_ids: list[int]) -> None:
    """Delete the paid (locked) holds; all of them must still exist, else HoldExpired and
    nothing is paid."""
    result: Any = db.session.execute(
        delete(SeatHold)
        .where(SeatHold.id.in_(hold_ids))
        .execution_options(synchronize_session=False)
    )
    if _on("holds") and result.rowcount != len(hold_ids):
        raise HoldExpired("Your hold ran out while paying, so nothing was charged. Pick again.")


# --- waitlist entries (after seat holds: an offer holds seats, then marks its entry) ------
# No guard: the seat locks and the unique hold row decide who gets a seat; these locks
# only keep one entry's status changes (offer, leave, lapse) in turn.


def lock_waitlist_entry(entry_id: int) -> WaitlistEntry:
    """SELECT … FOR UPDATE the waitlist entry and re-read it (fresh status)."""
    return db.session.scalars(
        select(WaitlistEntry)
        .where(WaitlistEntry.id == entry_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def lock_ended_offers(show_id: int, now: datetime) -> list[WaitlistEntry]:
    """The show's offered entries whose offer ran out by `now`, locked FOR UPDATE
    (ascending id)."""
    return list(
        db.session.scalars(
            select(WaitlistEntry)
            .where(
                WaitlistEntry.show_id == show_id,
                WaitlistEntry.status == WaitlistStatus.OFFERED,
                WaitlistEntry.offer_expires_at <= now,
            )
            .order_by(WaitlistEntry.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


# --- bookings and tickets ---------------------------------------------------------------


def lock_booking(booking_id: int, *, shared: bool = False) -> Booking:
    """SELECT … FOR UPDATE the booking row and re-read it and its tickets (fresh state).
    `shared` takes it FOR SHARE instead, for a write that only needs the booking to stay
    as it is (a reminder): it waits for a cancellation or transfer in flight, and they
    wait for it."""
    statement = select(Booking).where(Booking.id == booking_id)
    if _on("bookings"):
        statement = statement.with_for_update(of=Booking, read=shared)
    booking = db.session.scalars(statement.execution_options(populate_existing=True)).one()
    db.session.scalars(
        select(Ticket)
        .where(Ticket.booking_id == booking_id)
        .execution_options(populate_existing=True)
    ).all()
    return booking


def lock_ticket(ticket_id: int) -> Ticket | None:
    """The ticket, fresh, with its booking row and then its own row locked FOR UPDATE
    (booking first, like cancellation: a check-in and a cancellation of the same ticket
    take turns); None when there is no such ticket."""
    query = select(Ticket).where(Ticket.id == ticket_id)
    if _on("tickets"):
        booking_id = db.session.scalar(select(Ticket.booking_id).where(Ticket.id == ticket_id))
        if booking_id is None:
            return None
        db.session.execute(select(Booking.id).where(Booking.id == booking_id).with_for_update())
        # of=Ticket: lock the ticket only, not the seat row its eager join reads.
        query = query.with_for_update(of=Ticket)
    return db.session.scalar(query.execution_options(populate_existing=True))


# --- reminder claims (after their booking) ---------------------------------------------


def claim_reminder(booking_id: int, kind: str, now: datetime) -> bool:
    """Insert the (booking, kind) reminder claim row, ON CONFLICT DO NOTHING; False when
    another run has it. Its unique key is the guard: on PostgreSQL a concurrent insert of
    the same key waits for that run's commit, then finds the row. Call it after the
    booking's shared lock (lock_booking(..., shared=True))."""
    if not _on("reminders"):
        return True
    dialect_insert = pg_insert if is_postgres() else sqlite_insert
    statement = (
        dialect_insert(BookingReminder)
        .values(booking_id=booking_id, kind=kind, created_at=now)
        .on_conflict_do_nothing(index_elements=["booking_id", "kind"])
        .returning(BookingReminder.id)
    )
    return db.session.execute(statement).scalar_one_or_none() is not None


# --- wallets ----------------------------------------------------------------------------

NO_WALLET = "This account has no wallet."


def lock_wallet(user_id: int) -> Wallet:
    """SELECT … FOR UPDATE the user's wallet and return it with a fresh balance; NotFound
    when the account has none."""
    statement = select(Wallet).where(Wallet.user_id == user_id)
    if _on("wallets"):
        statement = statement.with_for_update()
    wallet = db.session.scalars(statement.execution_options(populate_existing=True)).one_or_none()
    if wallet is None:
        raise NotFound(NO_WALLET)
    return wallet


def lock_wallet_if_any(user_id: int) -> bool:
    """Lock the user's wallet row if the account has one (staff may have none), and say
    whether it has; unlike lock_wallet it reads nothing back (one customer's seat clicks
    one at a time need the lock, not the balance)."""
    statement = _LOCK_WALLET_ROW if _on("wallets") else _WALLET_ROW
    return execute_core(statement, {"user_id": user_id}).first() is not None


# --- shows (always last) ----------------------------------------------------------------


def lock_show_for_sale(show_id: int, now: datetime) -> bool:
    """Share-lock the show row if it is still for sale at `now`; False when it isn't.
    Sales re-check this under the lock just before they commit, so none slips past an
    admin's cancellation of the show."""
    if not _on("shows"):
        return True
    return db.session.execute(_SHOW_FOR_SALE, {"show_id": show_id, "now": now}).first() is not None


def insert_hold_if_for_sale(
    show_id: int, seat_id: int, user_id: int, now: datetime, expires_at: datetime
) -> bool:
    """INSERT the hold under the show row's shared lock, only while the show is still for
    sale; False (nothing written) when it isn't. A Core INSERT: nothing reads it back."""
    statement = _INSERT_HOLD_IF_FOR_SALE if _on("shows") else _INSERT_HOLD_IF_NOT_STARTED
    params = {
        "show_id": show_id,
        "seat_id": seat_id,
        "user_id": user_id,
        "created_at": now,
        "expires_at": expires_at,
        "now": now,
    }
    return bool(execute_core(statement, params).rowcount == 1)


def lock_show_to_cancel(show_id: int) -> Show:
    """Lock the show row exclusively against sales (they hold it FOR SHARE until they
    commit) and re-read it; NO KEY UPDATE, so the key-share locks new holds' and tickets'
    foreign keys take don't stand in the way as well."""
    statement = select(Show).where(Show.id == show_id)
    if _on("shows"):
        statement = statement.with_for_update(of=Show, key_share=True)
    return db.session.scalars(statement.execution_options(populate_existing=True)).one()
