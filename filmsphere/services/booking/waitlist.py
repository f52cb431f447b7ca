"""Waitlist: a sold-out show's queue; seats that come back are offered as holds, in order.

The rules (README "Waitlist"):
- A customer joins a show they can't get seats in right now with a party of 1–10 (seats
  together or not); one live place per customer per show (a partial unique index).
- When seats come back (a cancellation, an admin's cancellation, a hold that ran out and
  was cleaned up), the first waiting entry whose party fits the free seats is offered
  them: the seats are held for that customer for WAITLIST_OFFER_MINUTES, by email and on
  the seat map. First come first served within what fits: an earlier entry that doesn't
  fit doesn't block a later, smaller one.
- An offer is an ordinary hold: the unique (show, seat) hold row means no seat is offered
  to two people or sold under an offer, and the customer pays it with the ordinary
  checkout. An offer that runs out unclaimed lapses and its seats pass on.
- Offers pick ordinary seats (standard, premium, VIP) by the quick-pick rule: the best
  block side by side; a party that doesn't need to sit together gets the best block, or
  else the best single seats one by one, only where checkout's seat rules accept them.

Locks through services/locks.py, in its order: seats (ascending id) → seat holds →
waitlist entries → bookings → wallets → shows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from ...extensions import db
from ...models import (
    SEAT_CELL_COLUMNS,
    Booking,
    Seat,
    SeatHold,
    Show,
    Ticket,
    TicketStatus,
    User,
    WaitlistEntry,
    WaitlistStatus,
)
from ...models.waitlist import LIVE_STATUSES
from ..errors import (
    AlreadyDone,
    Conflict,
    DomainError,
    NotFound,
    SeatRuleViolation,
    ShowNotBookable,
)
from ..locks import (
    lock_ended_offers,
    lock_holds,
    lock_seats,
    lock_show_for_sale,
    lock_waitlist_entry,
    lock_wallet,
)
from ..mail.outbox import queue_email
from ..transaction import race_point, write_transaction
from .quick_pick import MAX_PARTY, pick_best, ranked_blocks
from .seat_rules import ORDINARY, SeatCell, check_single_seats
from .seatmap import SeatMap
from .show_sale import not_bookable_reason

# Offers made per run and show at most: each is one short transaction.
MAX_OFFERS_PER_RUN = 50
# The seat map page shows its waitlist panel to a customer on the list, and to every
# customer once fewer ordinary seats than this are free.
PANEL_BELOW_FREE_SEATS = 10


@dataclass(frozen=True)
class WaitlistView:
    """The waitlist panel of a show's seat map, for one customer."""

    entry: WaitlistEntry | None  # the customer's live entry
    position: int | None  # 1 = next in line (waiting entries only)
    waiting: int  # entries waiting in all
    can_join: bool  # a customer with no live entry
    offer_live: bool  # seats are held for the customer by an offer right now
    free_seats: int  # ordinary seats free right now
    sold_out: bool


def offer_minutes() -> int:
    return int(current_app.config["WAITLIST_OFFER_MINUTES"])


def _cells(show: Any, now: datetime, chosen: Iterable[int] = ()) -> list[SeatCell]:
    """The show's seats as seat-rule cells: sold or live-held seats are taken."""
    seats = db.session.execute(
        select(*SEAT_CELL_COLUMNS)
        .where(Seat.screen_id == show.screen_id, Seat.is_active.is_(True))
        .order_by(Seat.id)
    ).all()
    taken = set(
        db.session.scalars(
            select(Ticket.seat_id).where(
                Ticket.show_id == show.id, Ticket.status == TicketStatus.ACTIVE
            )
        )
    ) | set(
        db.session.scalars(
            select(SeatHold.seat_id).where(SeatHold.show_id == show.id, SeatHold.expires_at > now)
        )
    )
    mine = set(chosen)
    return [
        SeatCell(
            s.id,
            f"{s.row_label}{s.number}",
            s.grid_row,
            s.grid_col,
            s.category,
            "chosen" if s.id in mine else "taken" if s.id in taken else "free",
        )
        for s in seats
    ]


def seats_for(cells: list[SeatCell], party: int, adjacent: bool) -> list[int] | None:
    """The seats an offer to this party would hold, or None when none fit: the best block
    side by side (never split across an aisle when seats together were asked for), else,
    for a party that doesn't mind, the best single seats one at a time. Only choices that
    checkout's single-empty-seat rule accepts."""
    for block in ranked_blocks(cells, party):
        if block.split and adjacent:
            continue
        if _accepted(cells, block.seat_ids):
            return list(block.seat_ids)
    if adjacent:
        return None
    chosen: list[int] = []
    for _ in range(party):
        marked = [replace(c, state="chosen") if c.seat_id in chosen else c for c in cells]
        best = pick_best(marked, 1)
        if best.block is None:
            return None
        chosen.extend(best.block.seat_ids)
    return chosen if _accepted(cells, chosen) else None


def _accepted(cells: list[SeatCell], seat_ids: Iterable[int]) -> bool:
    wanted = set(seat_ids)
    rows = {c.grid_row for c in cells if c.seat_id in wanted}
    try:
        check_single_seats(
            replace(c, state="chosen") if c.seat_id in wanted else c
            for c in cells
            if c.grid_row in rows
        )
    except SeatRuleViolation:
        return False
    return True


def _live_entry(user_id: int, show_id: int) -> WaitlistEntry | None:
    return db.session.scalars(
        select(WaitlistEntry).where(
            WaitlistEntry.user_id == user_id,
            WaitlistEntry.show_id == show_id,
            WaitlistEntry.status.in_(LIVE_STATUSES),
        )
    ).one_or_none()


def free_ordinary_seats(seat_map: SeatMap) -> int:
    """Ordinary seats free on a seat map already built (no query)."""
    return sum(
        1
        for _, cells in seat_map.rows
        for seat in cells
        if seat is not None and seat.state == "free" and seat.category in ORDINARY
    )


def panel_shown(on_waitlist: bool, free_seats: int) -> bool:
    """Whether the seat map page shows the waitlist panel (worth reading it for)."""
    return on_waitlist or free_seats < PANEL_BELOW_FREE_SEATS


def waitlist_view(
    user_id: int | None, show_id: int, now: datetime, free_seats: int | None = None
) -> WaitlistView:
    """The customer's place on the show's waitlist (None: a visitor). `free_seats`: the
    ordinary seats free now, when the caller already knows (the seat map page); else they
    are counted here. Read-only."""
    waiting = db.session.scalar(
        select(func.count())
        .select_from(WaitlistEntry)
        .where(WaitlistEntry.show_id == show_id, WaitlistEntry.status == WaitlistStatus.WAITING)
    )
    entry = _live_entry(user_id, show_id) if user_id is not None else None
    position = None
    if entry is not None and entry.status == WaitlistStatus.WAITING:
        position = 1 + (
            db.session.scalar(
                select(func.count())
                .select_from(WaitlistEntry)
                .where(
                    WaitlistEntry.show_id == show_id,
                    WaitlistEntry.status == WaitlistStatus.WAITING,
                    WaitlistEntry.id < entry.id,
                )
            )
            or 0
        )
    offer_live = bool(
        entry is not None
        and entry.status == WaitlistStatus.OFFERED
        and entry.offer_expires_at is not None
        and entry.offer_expires_at > now
        and db.session.scalar(
            select(SeatHold.id)
            .where(
                SeatHold.user_id == entry.user_id,
                SeatHold.show_id == show_id,
                SeatHold.expires_at > now,
            )
            .limit(1)
        )
        is not None
    )
    free = free_seats
    if free is None:
        show = db.session.get(Show, show_id)
        cells = _cells(show, now) if show is not None else []
        free = sum(1 for c in cells if c.state == "free" and c.category in ORDINARY)
    return WaitlistView(
        entry=entry,
        position=position,
        waiting=int(waiting or 0),
        can_join=user_id is not None and entry is None,
        offer_live=offer_live,
        free_seats=free,
        sold_out=free == 0,
    )


def join_waitlist(
    user_id: int, show_id: int, party_size: int, adjacent: bool, now: datetime
) -> WaitlistEntry:
    """Put the customer in the show's queue for `party_size` seats (together or not).

    One write transaction (the wallet row serialises one customer's requests). Refused
    while the show can seat the party right now (they should pick seats instead), when the
    party plus the tickets they already have exceeds MAX_SEATS_PER_SHOW, and when they
    are already on the list (the partial unique index has the last word).
    Raises NotFound, ShowNotBookable-like Conflict, DomainError, AlreadyDone. Commits.
    """
    if not 1 <= party_size <= MAX_PARTY:
        raise DomainError(f"A party is 1 to {MAX_PARTY} people.")
    try:
        with write_transaction() as session:
            show = session.get(Show, show_id)
            if show is None:
                raise NotFound("There is no such show.")
            reason = not_bookable_reason(show, now)
            if reason:
                raise Conflict(reason)
            lock_wallet(user_id)
            if _live_entry(user_id, show_id) is not None:
                raise AlreadyDone("You are already on the waitlist for this show.")
            bought = session.scalar(
                select(func.count())
                .select_from(Ticket)
                .join(Booking, Booking.id == Ticket.booking_id)
                .where(
                    Booking.user_id == user_id,
                    Ticket.show_id == show_id,
                    Ticket.status == TicketStatus.ACTIVE,
                )
            )
            limit = int(current_app.config["MAX_SEATS_PER_SHOW"])
            if party_size + int(bought or 0) > limit:
                raise DomainError(
                    f"You can have at most {limit} seats for one show and already have "
                    f"{bought}: wait for {limit - int(bought or 0)} at most."
                )
            if seats_for(_cells(show, now), party_size, adjacent) is not None:
                raise Conflict(
                    f"There are seats for {party_size} free right now: pick them on the seat "
                    "map instead."
                )
            entry = WaitlistEntry(
                show_id=show_id,
                user_id=user_id,
                party_size=party_size,
                adjacent=adjacent,
                status=WaitlistStatus.WAITING,
                created_at=now,
            )
            session.add(entry)
            session.flush()
            return entry
    except IntegrityError:
        raise AlreadyDone("You are already on the waitlist for this show.") from None


def leave_waitlist(user_id: int, show_id: int, now: datetime) -> None:
    """Take the customer off the show's list. A live offer's held seats are released and
    passed on to the next in line at once (after this commits). Raises AlreadyDone when
    they are not on the list. Commits."""
    with write_transaction() as session:
        entry_id = session.scalar(
            select(WaitlistEntry.id).where(
                WaitlistEntry.user_id == user_id,
                WaitlistEntry.show_id == show_id,
                WaitlistEntry.status.in_(LIVE_STATUSES),
            )
        )
        if entry_id is None:
            raise AlreadyDone("You are not on the waitlist for this show.")
        # Hold rows before the entry, as the lock order says.
        offered = [h.id for h in lock_holds(user_id, show_id)]
        entry = lock_waitlist_entry(entry_id)
        if entry.status not in LIVE_STATUSES:
            raise AlreadyDone("You are not on the waitlist for this show.")
        if entry.status == WaitlistStatus.OFFERED and offered:
            session.execute(delete(SeatHold).where(SeatHold.id.in_(offered)))
        entry.status = WaitlistStatus.LEFT
        entry.closed_at = now
        was_offered = bool(offered)
    if was_offered:
        offer_returned_seats(show_id, now)


def _has_live_entries(show_id: int) -> bool:
    found = db.session.scalar(
        select(WaitlistEntry.id)
        .where(WaitlistEntry.show_id == show_id, WaitlistEntry.status.in_(LIVE_STATUSES))
        .limit(1)
    )
    return found is not None


def seats_returned(show_id: int, now: datetime) -> None:
    """After a change that gave seats back has committed: offer them to the waitlist now.
    Never raises (the change it follows is done); a failure is logged and the next cron
    `cleanup` run makes the offer instead."""
    try:
        offer_returned_seats(show_id, now)
    except Exception:  # noqa: BLE001 - the caller's change already committed
        db.session.rollback()
        current_app.logger.exception("waitlist offers for show %s failed; cron retries", show_id)


def _settle_offers(show_id: int, now: datetime) -> None:
    """Close what is over: offers that ran out (claimed when the customer bought seats
    during the offer, else lapsed) and every live entry of a show that can no longer be
    booked. One write transaction."""
    with write_transaction() as session:
        show = session.get(Show, show_id)
        if show is None:
            return
        if not_bookable_reason(show, now):
            session.execute(
                update(WaitlistEntry)
                .where(WaitlistEntry.show_id == show_id, WaitlistEntry.status.in_(LIVE_STATUSES))
                .values(status=WaitlistStatus.CLOSED, closed_at=now)
                .execution_options(synchronize_session=False)
            )
            return
        for entry in lock_ended_offers(show_id, now):
            bought = session.scalar(
                select(Ticket.id)
                .join(Booking, Booking.id == Ticket.booking_id)
                .where(
                    Booking.user_id == entry.user_id,
                    Ticket.show_id == show_id,
                    Ticket.created_at >= entry.offered_at,
                )
                .limit(1)
            )
            entry.status = WaitlistStatus.CLAIMED if bought else WaitlistStatus.LAPSED
            entry.closed_at = now


def offer_returned_seats(show_id: int, now: datetime) -> int:
    """Offer the show's free seats to its waitlist, first come first served within what
    fits; returns the number of offers made.

    First closes offers that ran out (their seats are free again by then). Then, one
    write transaction per offer: pick the seats for the first waiting entry whose party
    fits; lock the seats (ascending id), re-check under the locks that none was sold or
    held meanwhile (a click that got there first wins: the pick starts again), clear
    expired hold rows on them, lock the entry (still waiting?), insert the holds for
    WAITLIST_OFFER_MINUTES, mark the entry offered, queue the offer email, and last take
    the show's shared for-sale lock (a show cancelled meanwhile gets no offer). Safe to
    call any time and from several processes at once: the seat locks and the unique hold
    row mean no seat is offered twice.
    """
    if not _has_live_entries(show_id):
        return 0
    _settle_offers(show_id, now)
    offers = 0
    attempts = 0
    while offers < MAX_OFFERS_PER_RUN and attempts < 3 * MAX_OFFERS_PER_RUN:
        attempts += 1
        try:
            with write_transaction() as session:
                made = _offer_one(session, show_id, now)
        except IntegrityError:
            continue  # a click took a seat between our check and insert: pick again
        except ShowNotBookable:
            _settle_offers(show_id, now)  # closes the list
            break
        if made is None:
            break
        if made:
            offers += 1
    return offers


def _offer_one(session: Any, show_id: int, now: datetime) -> bool | None:
    """One offer: True when made, False when a race was lost (try again), None when no
    waiting entry fits."""
    show = session.get(Show, show_id)
    if show is None or not_bookable_reason(show, now):
        return None
    waiting = session.execute(
        select(WaitlistEntry.id, WaitlistEntry.party_size, WaitlistEntry.adjacent)
        .where(WaitlistEntry.show_id == show_id, WaitlistEntry.status == WaitlistStatus.WAITING)
        .order_by(WaitlistEntry.id)
    ).all()
    if not waiting:
        return None
    cells = _cells(show, now)
    if not any(c.state == "free" for c in cells):
        return None
    for candidate in waiting:
        seat_ids = seats_for(cells, candidate.party_size, candidate.adjacent)
        if seat_ids is not None:
            break
    else:
        return None
    seats = lock_seats(seat_ids)
    taken = session.scalar(
        select(func.count())
        .select_from(Ticket)
        .where(
            Ticket.show_id == show_id,
            Ticket.seat_id.in_(seat_ids),
            Ticket.status == TicketStatus.ACTIVE,
        )
    ) or session.scalar(
        select(func.count())
        .select_from(SeatHold)
        .where(
            SeatHold.show_id == show_id,
            SeatHold.seat_id.in_(seat_ids),
            SeatHold.expires_at > now,
        )
    )
    if taken:
        return False  # sold or held since we looked: pick again
    session.execute(
        delete(SeatHold)
        .where(SeatHold.show_id == show_id, SeatHold.seat_id.in_(seat_ids))
        .execution_options(synchronize_session=False)
    )
    entry = lock_waitlist_entry(candidate.id)
    if entry.status != WaitlistStatus.WAITING:
        return False  # left the list meanwhile
    race_point("waitlist.before_hold")
    expires_at = now + timedelta(minutes=offer_minutes())
    session.add_all(
        SeatHold(
            show_id=show_id,
            seat_id=seat.id,
            user_id=entry.user_id,
            created_at=now,
            expires_at=expires_at,
        )
        for seat in seats
    )
    labels = ", ".join(seat.label for seat in sorted(seats, key=lambda s: (s.grid_row, s.grid_col)))
    entry.status = WaitlistStatus.OFFERED
    entry.offered_at = now
    entry.offer_expires_at = expires_at
    entry.offered_seats = labels[:200]
    session.flush()
    _queue_offer_email(entry, show, labels, expires_at, now)
    if not lock_show_for_sale(show_id, now):
        raise ShowNotBookable("This show can no longer be booked.")  # nothing is offered
    return True


def _queue_offer_email(
    entry: WaitlistEntry, show: Show, labels: str, expires_at: datetime, now: datetime
) -> None:
    user = db.session.get(User, entry.user_id)
    if user is None:  # pragma: no cover - foreign key makes this impossible
        raise NotFound("No such customer.")
    queue_email(
        kind="waitlist_offer",
        to=user.email,
        now=now,
        customer_name=user.full_name or user.username,
        show_id=show.id,
        seats=labels,
        party_size=entry.party_size,
        expires_at=expires_at.isoformat(),
    )


def run_waitlists(now: datetime) -> int:
    """Cron: settle and offer on every show with a live waitlist entry (seats that came
    back through holds running out, or anything a request didn't follow up). Returns the
    offers made. One short transaction per offer."""
    show_ids = db.session.scalars(
        select(WaitlistEntry.show_id)
        .where(WaitlistEntry.status.in_(LIVE_STATUSES))
        .distinct()
        .order_by(WaitlistEntry.show_id)
    ).all()
    db.session.rollback()
    return sum(offer_returned_seats(show_id, now) for show_id in show_ids)
