"""Seat holds: toggle one seat for a customer, under row locks, with the seat rules.

Lock order for every transaction that claims seats (holds, checkout), cancellations and
cleanup alike: seats (ascending id) → seat holds → bookings → wallets → show rows
(ascending id, always last: shared by sales, exclusive for an admin cancelling the show).
A fixed order means two transactions can wait for each other but never deadlock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from flask import current_app
from sqlalchemy import (
    CompoundSelect,
    Table,
    and_,
    bindparam,
    delete,
    insert,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import (
    Booking,
    Seat,
    SeatCategory,
    SeatHold,
    Show,
    ShowStatus,
    Ticket,
    TicketStatus,
)
from .errors import NotFound, SeatRuleViolation, SeatUnavailable, ShowNotBookable
from .seat_rules import SeatCell, companion_message, lonely_companions
from .seatmap import not_bookable_reason
from .transaction import race_point, write_transaction
from .wallet import lock_wallet

# Hot statements, built once with bound parameters so SQLAlchemy reuses their cache keys
# and compiled SQL (rebuilding them per click cost more CPU than running them).
_LOCK_SEATS = (
    select(Seat)
    .where(Seat.id.in_(bindparam("ids", expanding=True)))
    .order_by(Seat.id)
    .with_for_update()
)
# The seat row with the show's rule columns: one round trip.
_SEAT_IN_SHOW = (
    select(
        Seat.id,
        Seat.row_label,
        Seat.number,
        Seat.grid_row,
        Seat.grid_col,
        Seat.category,
        Seat.is_active,
        (Seat.screen_id == Show.screen_id).label("in_show"),
        Show.status,
        Show.starts_at,
        Show.ends_at,
    )
    .join(Show, Show.id == bindparam("show_id"))
    .where(Seat.id == bindparam("seat_id"))
)
_LOCK_SEAT_IN_SHOW = _SEAT_IN_SHOW.with_for_update(of=Seat)
# Shared, not exclusive: sales of one show don't queue behind each other here, while an
# admin cancelling the show (FOR UPDATE) and the sales in flight wait for one another.
_FOR_SALE = (
    Show.id == bindparam("show_id"),
    Show.status == ShowStatus.SCHEDULED,
    Show.starts_at > bindparam("now"),
)
_SHOW_FOR_SALE = select(Show.id).where(*_FOR_SALE).with_for_update(read=True)


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


# The new hold, written only while the show is still for sale (checked under that lock).
_INSERT_HOLD_IF_FOR_SALE = _insert_hold_where(*_FOR_SALE)
# This seat's hold row (anyone's) and the customer's holds in other shows.
_LOCK_HOLD_ROWS = (
    select(SeatHold.id, SeatHold.show_id, SeatHold.user_id, SeatHold.expires_at)
    .where(
        or_(
            and_(
                SeatHold.show_id == bindparam("show_id"), SeatHold.seat_id == bindparam("seat_id")
            ),
            and_(
                SeatHold.user_id == bindparam("user_id"), SeatHold.show_id != bindparam("show_id")
            ),
        )
    )
    .order_by(SeatHold.id)
    .with_for_update()
)
# One round trip for the seat rules: whether this seat is sold, the customer's live holds
# in the show, and the tickets they already have for it (a row each).
_RULE_FACTS: CompoundSelect = union_all(
    # First: its columns' types (UTCDateTime, …) are the result's.
    select(
        literal("mine").label("kind"),
        SeatHold.expires_at,
        Seat.grid_row,
        Seat.grid_col,
        Seat.category,
    )
    .join(Seat, Seat.id == SeatHold.seat_id)
    .where(
        SeatHold.user_id == bindparam("user_id"),
        SeatHold.show_id == bindparam("show_id"),
        SeatHold.expires_at > bindparam("now"),
    ),
    select(literal("sold"), null(), null(), null(), null()).where(
        Ticket.show_id == bindparam("show_id"),
        Ticket.seat_id == bindparam("seat_id"),
        Ticket.status == TicketStatus.ACTIVE,
    ),
    select(literal("bought"), null(), null(), null(), null())
    .select_from(Ticket)
    .join(Booking, Booking.id == Ticket.booking_id)
    .where(
        Booking.user_id == bindparam("user_id"),
        Ticket.show_id == bindparam("show_id"),
        Ticket.status == TicketStatus.ACTIVE,
    ),
)


@dataclass(frozen=True)
class HoldResult:
    action: Literal["held", "released"]
    seat_label: str
    released_elsewhere: int


def lock_seats(seat_ids: Iterable[int]) -> list[Seat]:
    """SELECT … FOR UPDATE the seats in ascending id order and return them (same order).

    The seat row is the mutex for "who gets this seat": every hold and checkout takes it
    before looking at tickets and holds. Tests replace this function to switch it off.
    """
    ids = sorted(set(seat_ids))
    if not ids:
        return []
    return list(db.session.scalars(_LOCK_SEATS, {"ids": ids}))


def lock_show_for_sale(show_id: int, now: datetime) -> bool:
    """Share-lock the show row (taken last, per the lock order) if it is still scheduled
    and not started at `now`; False when it isn't. Sales re-check this under the lock just
    before they commit, so none slips past an admin's cancellation of the show."""
    return db.session.execute(_SHOW_FOR_SALE, {"show_id": show_id, "now": now}).first() is not None


def hold_minutes() -> int:
    return int(current_app.config["HOLD_MINUTES"])


def _cell(seat: Any, label: str) -> SeatCell:
    return SeatCell(seat.id, label, seat.grid_row, seat.grid_col, seat.category, "chosen")


def toggle_hold(user_id: int, show_id: int, seat_id: int, now: datetime) -> HoldResult:
    """Hold a free seat for the customer, or release it if it is already theirs.

    One write transaction: locks the seat row, then the seat's hold row, then the
    customer's wallet row (serialising one customer's clicks), and last, by the INSERT of
    a new hold, a shared lock on the show's row under which it is still for sale. A new
    hold expires HOLD_MINUTES after the customer's first live hold in the show; clicks
    never extend it. Holding releases the customer's holds in other shows.

    Raises NotFound (unknown show/seat), ShowNotBookable (started, over, cancelled),
    SeatUnavailable (broken, sold, or held by someone else), SeatRuleViolation (more than
    MAX_SEATS_PER_SHOW, companion seat without its wheelchair space). Commits.
    """
    try:
        with write_transaction() as session:
            return _toggle(session, user_id, show_id, seat_id, now)
    except IntegrityError:
        # The unique (show, seat) constraint is the database's last word.
        raise SeatUnavailable("Sorry, someone else just took that seat.") from None


def lock_seat_in_show(show_id: int, seat_id: int) -> Any | None:
    """SELECT … FOR UPDATE the seat row, read with the show's rule columns (status,
    starts_at, ends_at) and whether the seat belongs to the show's screen; None when the
    seat or the show doesn't exist. Like lock_seats, the seat row is the mutex for "who
    gets this seat". Tests replace this function to switch the lock off."""
    return db.session.execute(
        _LOCK_SEAT_IN_SHOW, {"show_id": show_id, "seat_id": seat_id}
    ).one_or_none()


def _toggle(session: Any, user_id: int, show_id: int, seat_id: int, now: datetime) -> HoldResult:
    seat = lock_seat_in_show(show_id, seat_id)
    if seat is None:
        raise NotFound("There is no such seat in this show.")
    reason = not_bookable_reason(seat, now)
    if reason:
        raise ShowNotBookable(reason)
    if not seat.in_show or not seat.is_active:
        raise NotFound("There is no such seat in this show.")
    label = f"{seat.row_label}{seat.number}"
    if seat.category == SeatCategory.BROKEN:
        raise SeatUnavailable(f"Seat {label} is out of order.")

    # One locked read: this seat's hold row (anyone's) and the customer's holds in other
    # shows, which a new hold releases (one show at a time). Hold rows are locked before
    # the wallet, as everywhere.
    rows = session.execute(
        _LOCK_HOLD_ROWS, {"show_id": show_id, "seat_id": seat_id, "user_id": user_id}
    ).all()
    existing = next((r for r in rows if r.show_id == show_id), None)
    elsewhere = [r for r in rows if r.show_id != show_id]
    if existing is not None and existing.expires_at > now and existing.user_id != user_id:
        # Decided under the seat's locks; the wallet lock below isn't needed to say no
        # (the most common answer in a rush, so it is kept cheap).
        raise SeatUnavailable(f"Sorry, seat {label} was just taken by someone else.")
    lock_wallet(user_id)  # one customer's clicks one at a time (the seat limit)

    if existing is not None and existing.expires_at > now:
        _release(session, user_id, show_id, seat)
        return HoldResult("released", label, 0)
    if existing is not None:
        # Expired: the seat is free right now, whoever held it.
        session.execute(delete(SeatHold).where(SeatHold.id == existing.id))

    facts = session.execute(
        _RULE_FACTS, {"user_id": user_id, "show_id": show_id, "seat_id": seat_id, "now": now}
    ).all()
    if any(f.kind == "sold" for f in facts):
        raise SeatUnavailable(f"Sorry, seat {label} is already sold.")
    mine = [f for f in facts if f.kind == "mine"]
    bought = sum(1 for f in facts if f.kind == "bought")
    limit = int(current_app.config["MAX_SEATS_PER_SHOW"])
    # The limit is per customer per show: seats already bought count too.
    if len(mine) + bought >= limit:
        already = (
            f" (you already have {bought} ticket{'s' if bought != 1 else ''})" if bought else ""
        )
        raise SeatRuleViolation(
            f"You can have at most {limit} seats for one show{already}. "
            "Pay for these first, or release one."
        )
    if seat.category == SeatCategory.COMPANION:
        chosen = [_cell(seat, label)] + [
            SeatCell(0, "", m.grid_row, m.grid_col, m.category, "chosen") for m in mine
        ]
        if lonely_companions(chosen):
            raise SeatRuleViolation(companion_message(_cell(seat, label)))

    # Every hold of one show shares the first hold's expiry: clicks never extend it.
    expires_at = min((m.expires_at for m in mine), default=now + timedelta(minutes=hold_minutes()))

    released_elsewhere = 0
    if elsewhere:
        session.execute(delete(SeatHold).where(SeatHold.id.in_([h.id for h in elsewhere])))
        # Only live holds count as "released" for the customer; expired ones were gone.
        released_elsewhere = sum(1 for h in elsewhere if h.expires_at > now)

    race_point("holds.before_insert")
    # Last, under the show's shared lock: an admin may have cancelled it a moment ago. A
    # Core INSERT: nothing reads the new row back.
    inserted: Any = session.execute(
        _INSERT_HOLD_IF_FOR_SALE,
        {
            "show_id": show_id,
            "seat_id": seat_id,
            "user_id": user_id,
            "created_at": now,
            "expires_at": expires_at,
            "now": now,
        },
    )
    if inserted.rowcount != 1:
        raise ShowNotBookable("This show can no longer be booked.")
    return HoldResult("held", label, released_elsewhere)


def _release(session: Any, user_id: int, show_id: int, seat: Any) -> None:
    """Delete the customer's hold on `seat`; releasing a wheelchair space also releases
    companion seats that no longer have a held wheelchair space beside them."""
    session.execute(
        delete(SeatHold).where(SeatHold.show_id == show_id, SeatHold.seat_id == seat.id)
    )
    if seat.category != SeatCategory.WHEELCHAIR:
        return
    rest = session.execute(
        select(SeatHold.id, Seat.id.label("seat_id"), Seat.grid_row, Seat.grid_col, Seat.category)
        .join(Seat, Seat.id == SeatHold.seat_id)
        .where(SeatHold.user_id == user_id, SeatHold.show_id == show_id)
    ).all()
    cells = {
        r.id: SeatCell(r.seat_id, "", r.grid_row, r.grid_col, r.category, "chosen") for r in rest
    }
    orphans = {c.seat_id for c in lonely_companions(cells.values())}
    if orphans:
        session.execute(
            delete(SeatHold).where(
                SeatHold.show_id == show_id,
                SeatHold.user_id == user_id,
                SeatHold.seat_id.in_(orphans),
            )
        )
