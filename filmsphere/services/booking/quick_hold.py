"""Quick pick as a hold: the best block of seats for a party, held in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from flask import current_app
from sqlalchemy import Table, bindparam, delete, insert, select
from sqlalchemy.exc import IntegrityError

from ...extensions import db
from ...models import Booking, SeatHold, Ticket, TicketStatus
from ..driver import hot
from ..errors import NoSeatsTogether, NotFound, SeatRuleViolation, ShowNotBookable
from ..locks import (
    NO_WALLET,
    lock_block_hold_rows,
    lock_seat_rows,
    lock_show_for_sale,
    lock_wallet_if_any,
)
from ..transaction import execute_core, race_point, write_transaction
from . import holds
from .quick_pick import Block, QuickPickCategory, ranked_blocks, shortfall
from .seat_rules import CellState, SeatCell
from .seatmap import SeatStates, read_seat_state, seat_map_from

# Rounds of "read the map, take the best block, lock it": each round after the first
# follows a loss to another customer who was faster to a seat of the block.
ATTEMPTS = 5

# Seats of the block sold meanwhile, and how many tickets the customer already has for
# the show (the per-show limit counts them).
_SOLD = select(Ticket.seat_id).where(
    Ticket.show_id == bindparam("show_id"),
    Ticket.seat_id.in_(bindparam("seat_ids", expanding=True)),
    Ticket.status == TicketStatus.ACTIVE,
)
_BOUGHT = hot(
    select(Ticket.id)
    .join(Booking, Booking.id == Ticket.booking_id)
    .where(
        Booking.user_id == bindparam("user_id"),
        Ticket.show_id == bindparam("show_id"),
        Ticket.status == TicketStatus.ACTIVE,
    )
)
_INSERT_HOLDS = insert(cast(Table, SeatHold.__table__))


@dataclass(frozen=True)
class QuickHold:
    """The block now held for the customer; `note` tells them when it is split across an
    aisle or leaves a seat alone; `released` counts the holds it replaced or ended."""

    seat_ids: tuple[int, ...]
    labels: tuple[str, ...]
    note: str | None
    released_elsewhere: int
    # The show's seat states as the customer sees them after the pick, read in the same
    # transaction just before it commits (the answer needs them; a read of its own after
    # the commit would be a second transaction).
    state: SeatStates


class _Lost(Exception):
    """A seat of the block went to someone else between our read and our lock."""

    def __init__(self, seat_ids: set[int]) -> None:
        super().__init__(seat_ids)
        self.seat_ids = seat_ids


def quick_hold(
    user_id: int, show_id: int, party: int, category: QuickPickCategory | None, now: datetime
) -> QuickHold:
    """Hold the best block of `party` seats (services/booking/quick_pick.py's rule) for the
    customer, replacing their holds in this show and releasing those in other shows.

    One write transaction with the click's lock order: the block's seat rows (ascending
    id), its hold rows and the customer's, the wallet, then the show row shared (still for
    sale). Each block is tried under a savepoint: when a seat of it was taken between the
    read and the lock, the savepoint is rolled back (its row locks released, so the order
    holds for the next block too) and the map is read again for the next best block, up
    to ATTEMPTS times. The new holds keep the customer's earlier hold's expiry (a quick
    pick never extends a hold) or expire HOLD_MINUTES from now.

    Raises NotFound (unknown show), ShowNotBookable, SeatRuleViolation (the per-show seat
    limit, counting tickets already bought), NoSeatsTogether (no block fits: the reason in
    words and its `shortfall` — the largest party seated together now, the free seats and
    those in others' baskets — worked out from the map this pick read, no extra query; or
    others kept being faster, without a shortfall). ValueError for a party out of 1–10 or
    an unknown category (views validate first). Commits.
    """
    with write_transaction():
        lost: set[int] = set()
        for _ in range(ATTEMPTS):
            cells, held = _cells(show_id, user_id, now, lost)
            block = next(ranked_blocks(cells, party, category), None)
            if block is None:  # read after any loss: the numbers are true now
                short = shortfall(cells, party, category, held, holds.hold_minutes())
                raise NoSeatsTogether(short.reason, short)
            try:
                with db.session.begin_nested():
                    released = _hold_block(user_id, show_id, block, now)
            except _Lost as loss:
                lost |= loss.seat_ids
                continue
            return QuickHold(
                seat_ids=block.seat_ids,
                labels=block.labels,
                note=_note(party, block),
                released_elsewhere=released,
                state=read_seat_state(show_id, user_id, now),
            )
    raise NoSeatsTogether(
        "Others were faster to the best seats just now. Try again, or pick seats on the map."
    )


def _cells(
    show_id: int, user_id: int, now: datetime, lost: set[int]
) -> tuple[list[SeatCell], frozenset[int]]:
    """The show's seats as the rule sees them — the customer's own holds count as free
    (the pick replaces them), seats lost in an earlier round as taken — and the seats in
    others' baskets (live holds, and the seats lost: someone just took them)."""
    state = read_seat_state(show_id, user_id, now)
    seat_map = seat_map_from(state)
    if not seat_map.bookable:
        raise ShowNotBookable(seat_map.not_bookable_reason or "This show can't be booked.")
    held = frozenset(lost.union(state.held))
    states: dict[str, CellState] = {"free": "free", "mine": "free"}
    cells = [
        SeatCell(
            v.id,
            v.label,
            v.grid_row,
            v.grid_col,
            v.category,
            "taken" if v.id in lost else states.get(v.state, "taken"),
        )
        for _, row in seat_map.rows
        for v in row
        if v is not None
    ]
    return cells, held


def _hold_block(user_id: int, show_id: int, block: Block, now: datetime) -> int:
    """Lock and hold the block (inside the caller's savepoint); the number of live holds
    in other shows it released. Raises _Lost when a seat of it is no longer free."""
    seat_ids = list(block.seat_ids)
    lock_seat_rows(seat_ids)
    rows = lock_block_hold_rows(user_id, show_id, seat_ids)
    params = {"show_id": show_id, "seat_ids": seat_ids, "user_id": user_id}
    taken = {
        r.seat_id
        for r in rows
        if r.show_id == show_id and r.user_id != user_id and r.expires_at > now
    }
    taken |= set(execute_core(_SOLD, params).scalars())
    if taken:
        raise _Lost(taken)
    if not lock_wallet_if_any(user_id):  # one customer's requests one at a time (the limit)
        raise NotFound(NO_WALLET)
    bought = len(execute_core(_BOUGHT, params).all())
    limit = int(current_app.config["MAX_SEATS_PER_SHOW"])
    if len(seat_ids) + bought > limit:
        already = f" (you already have {bought} ticket{'s' if bought != 1 else ''})"
        raise SeatRuleViolation(
            f"You can have at most {limit} seats for one show{already if bought else ''}. "
            "Ask for fewer seats."
        )
    # The customer's live holds in this show keep their expiry: re-picking never extends.
    mine = [r for r in rows if r.user_id == user_id and r.show_id == show_id]
    live_mine = [r.expires_at for r in mine if r.expires_at > now]
    expires_at = min(live_mine, default=None) or now + timedelta(minutes=holds.hold_minutes())
    released = sum(1 for r in rows if r.show_id != show_id and r.expires_at > now)
    stale = [r.id for r in rows if r.user_id == user_id or r.expires_at <= now]
    if stale:
        execute_core(delete(SeatHold).where(SeatHold.id.in_(stale)))
    race_point("quick_hold.before_insert")
    # Last, the show row shared: an admin may have cancelled it a moment ago.
    if not lock_show_for_sale(show_id, now):
        raise ShowNotBookable("This show can no longer be booked.")
    values: list[dict[str, Any]] = [
        {
            "show_id": show_id,
            "seat_id": seat_id,
            "user_id": user_id,
            "created_at": now,
            "expires_at": expires_at,
        }
        for seat_id in seat_ids
    ]
    try:
        execute_core(_INSERT_HOLDS, values)
    except IntegrityError:
        # The unique (show, seat) constraint is the database's last word; the caller's
        # savepoint rolls the failed INSERT back with the rest of this round.
        raise _Lost(set(seat_ids)) from None
    return released


def _note(party: int, block: Block) -> str | None:
    if block.split:
        return f"No {party} seats side by side were free, so your seats are split across the aisle."
    if block.leaves_alone:
        alone = ", ".join(block.leaves_alone)
        return f"No block of {party} seats was free without leaving {alone} empty on its own."
    return None
