"""Seat holds: toggle one seat for a customer, under row locks (locks.py), with the seat rules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

from flask import current_app
from sqlalchemy import (
    CompoundSelect,
    bindparam,
    delete,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy.exc import IntegrityError

from ...models import (
    Booking,
    Seat,
    SeatCategory,
    SeatHold,
    Ticket,
    TicketStatus,
)
from ..driver import hot
from ..errors import NotFound, SeatRuleViolation, SeatTaken, SeatUnavailable, ShowNotBookable
from ..locks import (
    NO_WALLET,
    insert_hold_if_for_sale,
    lock_hold_rows,
    lock_seat_in_show,
    lock_wallet_if_any,
)
from ..transaction import execute_core, race_point, write_transaction
from .seat_rules import SeatCell, companion_message, lonely_companions
from .seatmap import SeatStates, read_seat_state
from .show_sale import not_bookable_reason

# Built once with bound parameters so SQLAlchemy reuses its cache key and compiled SQL.
# One round trip for the seat rules: whether this seat is sold, the customer's live holds
# in the show, and the tickets they already have for it (a row each).
_RULE_FACTS: CompoundSelect = hot(
    union_all(
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
)
_DELETE_HOLD = hot(delete(SeatHold).where(SeatHold.id == bindparam("hold_id")))
_DELETE_SEAT_HOLD = hot(
    delete(SeatHold).where(
        SeatHold.show_id == bindparam("show_id"), SeatHold.seat_id == bindparam("seat_id")
    )
)


Want = Literal["toggle", "hold", "release"]
T = TypeVar("T")


@dataclass(frozen=True)
class HoldResult:
    action: Literal["held", "released"]
    seat_label: str
    released_elsewhere: int


def hold_minutes() -> int:
    return int(current_app.config["HOLD_MINUTES"])


def _cell(seat: Any, label: str) -> SeatCell:
    return SeatCell(seat.id, label, seat.grid_row, seat.grid_col, seat.category, "chosen")


def toggle_hold(
    user_id: int, show_id: int, seat_id: int, now: datetime, want: Want = "toggle"
) -> HoldResult:
    """Hold a free seat for the customer, or release it if it is already theirs.
    `want` "hold" or "release" (the API's verbs) makes a repeat a no-op instead of the
    opposite: holding a seat already held, or releasing one not held, changes nothing.

    One write transaction: locks the seat row, then the seat's hold row, then the
    customer's wallet row (serialising one customer's clicks), and last, by the INSERT of
    a new hold, a shared lock on the show's row under which it is still for sale. A new
    hold expires HOLD_MINUTES after the customer's first live hold in the show; clicks
    never extend it. Holding releases the customer's holds in other shows.

    Raises NotFound (unknown show/seat), ShowNotBookable (started, over, cancelled),
    SeatUnavailable (broken; its SeatTaken: sold, or held by someone else),
    SeatRuleViolation (more than MAX_SEATS_PER_SHOW, companion seat without its wheelchair
    space). Commits.
    """
    return _one_transaction(lambda session: _toggle(session, user_id, show_id, seat_id, now, want))


def toggle_hold_and_read(
    user_id: int, show_id: int, seat_id: int, now: datetime
) -> tuple[HoldResult, SeatStates]:
    """toggle_hold, and then the show's seat states as the customer sees them after the
    click (seatmap.read_seat_state), read in the same transaction just before it commits:
    a click's answer needs both, and one transaction is cheaper than two. The same locks,
    guarantees and exceptions as toggle_hold. Commits."""

    def toggle_then_read(session: Any) -> tuple[HoldResult, SeatStates]:
        result = _toggle(session, user_id, show_id, seat_id, now, "toggle")
        return result, read_seat_state(show_id, user_id, now)

    return _one_transaction(toggle_then_read)


def _one_transaction(work: Callable[[Any], T]) -> T:
    try:
        with write_transaction() as session:
            return work(session)
    except IntegrityError:
        # The unique (show, seat) constraint is the database's last word.
        raise SeatTaken("Sorry, someone else just took that seat.") from None


def _toggle(
    session: Any, user_id: int, show_id: int, seat_id: int, now: datetime, want: Want
) -> HoldResult:
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
    rows = lock_hold_rows(user_id, show_id, seat_id)
    existing = next((r for r in rows if r.show_id == show_id), None)
    elsewhere = [r for r in rows if r.show_id != show_id]
    held_by_me = existing is not None and existing.expires_at > now and existing.user_id == user_id
    if (want == "release" and not held_by_me) or (want == "hold" and held_by_me):
        return HoldResult("released" if want == "release" else "held", label, 0)
    if existing is not None and existing.expires_at > now and existing.user_id != user_id:
        # Decided under the seat's locks; the wallet lock below isn't needed to say no
        # (the most common answer in a rush, so it is kept cheap).
        raise SeatTaken(f"Sorry, seat {label} was just taken by someone else.")
    if not lock_wallet_if_any(user_id):  # one customer's clicks one at a time (the seat limit)
        raise NotFound(NO_WALLET)

    if existing is not None and existing.expires_at > now:
        _release(session, user_id, show_id, seat)
        return HoldResult("released", label, 0)
    if existing is not None:
        # Expired: the seat is free right now, whoever held it.
        execute_core(_DELETE_HOLD, {"hold_id": existing.id})

    facts = execute_core(
        _RULE_FACTS, {"user_id": user_id, "show_id": show_id, "seat_id": seat_id, "now": now}
    ).all()
    if any(f.kind == "sold" for f in facts):
        raise SeatTaken(f"Sorry, seat {label} is already sold.")
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
        execute_core(delete(SeatHold).where(SeatHold.id.in_([h.id for h in elsewhere])))
        # Only live holds count as "released" for the customer; expired ones were gone.
        released_elsewhere = sum(1 for h in elsewhere if h.expires_at > now)

    race_point("holds.before_insert")
    # Last, under the show's shared lock: an admin may have cancelled it a moment ago.
    if not insert_hold_if_for_sale(show_id, seat_id, user_id, now, expires_at):
        raise ShowNotBookable("This show can no longer be booked.")
    return HoldResult("held", label, released_elsewhere)


def _release(session: Any, user_id: int, show_id: int, seat: Any) -> None:
    """Delete the customer's hold on `seat`; releasing a wheelchair space also releases
    companion seats that no longer have a held wheelchair space beside them."""
    execute_core(_DELETE_SEAT_HOLD, {"show_id": show_id, "seat_id": seat.id})
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
