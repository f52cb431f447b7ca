"""Checkout: pay all of a customer's live holds for a show with coins, in one transaction."""

from __future__ import annotations

import secrets
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, exists, or_, select
from sqlalchemy.exc import IntegrityError

from ...models import (
    SEAT_CELL_COLUMNS,
    Booking,
    LedgerKind,
    Seat,
    SeatHold,
    Ticket,
    TicketStatus,
)
from ..driver import hot
from ..errors import (
    AlreadyPaid,
    Conflict,
    DomainError,
    HoldExpired,
    InsufficientCoins,
    SeatUnavailable,
    ShowNotBookable,
)
from ..locks import consume_holds, lock_holds, lock_seats, lock_show_for_sale, lock_wallet
from ..mail import notifications
from ..transaction import execute_core, race_point, write_transaction
from ..wallet.wallet import post_entry
from .pricing import seat_price
from .seat_rules import SeatCell, check_companions, check_single_seats
from .seatmap import show_state
from .show_sale import ShowState, not_bookable_reason

# No 0/O, 1/I/L: references are read out at the box office.
REFERENCE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
REFERENCE_LENGTH = 8


def new_reference() -> str:
    return "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(REFERENCE_LENGTH))


@dataclass(frozen=True)
class Paid:
    """A checkout's booking, as its caller needs it: where to send the customer and what
    they paid (the booking itself is booking_page's to read)."""

    id: int
    reference: str
    total_coins: int


def checkout(
    user_id: int,
    show_id: int,
    now: datetime,
    checkout_token: str,
    seen_seat_ids: Collection[int] = (),
) -> Paid:
    """Turn the customer's live holds for the show into a paid booking.

    One write transaction, locks in the fixed order: the held seats (ascending id), the
    customer's hold rows, the wallet, then the show row (a shared lock, under which it
    re-checks that the show is still scheduled and not started). Under
    those locks it re-reads the holds (still the customer's, none expired), applies the
    seat rules (companion, single empty seat), debits the wallet with one booking_charge
    ledger entry, creates the booking and tickets with frozen prices, deletes the holds and
    queues the confirmation email. All of it commits, or nothing does.

    The same `checkout_token` again returns the booking it already made, charged once
    (also guarded by the unique checkout_token column). A checkout with another token that
    finds no holds because their seats were just paid (a second tab: `seen_seat_ids` are
    the seats its basket showed) raises AlreadyPaid with that booking's reference.

    Raises NotFound, ShowNotBookable, HoldExpired, InsufficientCoins, SeatRuleViolation,
    SeatUnavailable, AlreadyPaid, DomainError("You have no seats held for this show.").
    """
    if not checkout_token:
        raise DomainError("This checkout form is incomplete. Reload the page and try again.")
    done = _booking_for_token(user_id, checkout_token)
    if done is not None:
        return done
    try:
        with write_transaction() as session:
            # Read before the commit, which would expire the booking: no reload after it.
            return _checkout(session, user_id, show_id, now, checkout_token, set(seen_seat_ids))
    except IntegrityError:
        # A concurrent submit with the same token won, or (last word of the database) a
        # seat got an active ticket after all.
        done = _booking_for_token(user_id, checkout_token)
        if done is not None:
            return done
        raise SeatUnavailable(
            "Sorry, one of your seats was just sold to someone else. Please pick again."
        ) from None
    except _AlreadyPaid as twin:
        return twin.paid


class _AlreadyPaid(Exception):
    def __init__(self, paid: Paid) -> None:
        self.paid = paid


_PAID_BY_TOKEN = hot(
    select(Booking.id, Booking.reference, Booking.total_coins, Booking.user_id).where(
        Booking.checkout_token == bindparam("token")
    )
)


def _booking_for_token(user_id: int, token: str) -> Paid | None:
    row = execute_core(_PAID_BY_TOKEN, {"token": token}).first()
    if row is None:
        return None
    if row.user_id != user_id:
        raise Conflict("This checkout form was already used. Reload the page and try again.")
    return Paid(row.id, row.reference, row.total_coins)


_HELD_SEATS = hot(
    select(SeatHold.seat_id).where(
        SeatHold.user_id == bindparam("user_id"), SeatHold.show_id == bindparam("show_id")
    )
)


def _checkout(
    session: Any, user_id: int, show_id: int, now: datetime, token: str, seen: set[int]
) -> Paid:
    show = show_state(show_id)
    reason = not_bookable_reason(show, now)
    if reason:
        raise ShowNotBookable(reason)

    wanted = execute_core(_HELD_SEATS, {"user_id": user_id, "show_id": show_id}).scalars().all()
    seats = {s.id: s for s in lock_seats(wanted)}
    holds = lock_holds(user_id, show_id)
    race_point("checkout.after_lock")
    if not holds:
        # A double submit whose twin just committed finds its booking here.
        again = _booking_for_token(user_id, token)
        if again is not None:
            raise _AlreadyPaid(again)
        # A twin submit with another token (a second tab) paid them a moment ago.
        paid_in = _paid_in(session, user_id, show_id, seen | set(wanted))
        if paid_in is not None:
            raise AlreadyPaid(paid_in)
        if wanted:  # they were there a moment ago: cleanup released them first
            raise HoldExpired(
                "Your hold ran out, so the seats were released and nothing was charged. "
                "Pick your seats again."
            )
        raise DomainError("You have no seats held for this show.")
    check_live_holds(show, holds, seats, now, outcome="nothing was charged")
    chosen = [seats[h.seat_id] for h in holds]
    check_seat_rules(show, chosen, user_id, now)

    wallet = lock_wallet(user_id)
    prices = seat_prices(show.base_price_coins, chosen)
    total = sum(prices.values())
    if wallet.balance_coins < total:
        raise InsufficientCoins(
            f"These seats cost {total} coins but you have {wallet.balance_coins}. "
            "Refill or top up your wallet, or release some seats."
        )

    booking = new_booking(session, user_id, show_id, total, now, checkout_token=token)
    race_point("checkout.before_charge")
    if total:
        post_entry(wallet, LedgerKind.BOOKING_CHARGE, -total, now, booking_id=booking.id)
    issue_tickets(session, booking, chosen, prices, now)
    consume_holds([h.id for h in holds])
    notifications.queue_booking_confirmation(booking.id, now)
    if not lock_show_for_sale(show_id, now):
        raise ShowNotBookable("This show can no longer be booked, so nothing was charged.")
    return Paid(booking.id, booking.reference, booking.total_coins)


def _paid_in(session: Any, user_id: int, show_id: int, seat_ids: set[int]) -> str | None:
    """The reference of the customer's latest booking holding one of these seats."""
    if not seat_ids:
        return None
    reference: str | None = session.scalar(
        select(Booking.reference)
        .join(Ticket, Ticket.booking_id == Booking.id)
        .where(
            Booking.user_id == user_id,
            Ticket.show_id == show_id,
            Ticket.seat_id.in_(sorted(seat_ids)),
            Ticket.status == TicketStatus.ACTIVE,
        )
        .order_by(Booking.id.desc())
        .limit(1)
    )
    return reference


_REFERENCE_TAKEN = hot(select(Booking.id).where(Booking.reference == bindparam("reference")))


def _unique_reference() -> str:
    while True:
        reference = new_reference()
        if execute_core(_REFERENCE_TAKEN, {"reference": reference}).first() is None:
            return reference


# The steps every sale of held seats shares (checkout, exchange), each inside the caller's
# write transaction and under its seat, hold and wallet locks.


def seat_prices(base_price_coins: int, chosen: list[Seat]) -> dict[int, int]:
    """Each chosen seat's price (seat id → coins), frozen into its ticket."""
    return {s.id: seat_price(base_price_coins, s.category) for s in chosen}


def new_booking(
    session: Any,
    user_id: int,
    show_id: int,
    total: int,
    now: datetime,
    checkout_token: str | None = None,
) -> Booking:
    """Add and flush a booking with a fresh unique reference (the flush is where a unique
    checkout_token stops a twin submit)."""
    booking = Booking(
        reference=_unique_reference(),
        user_id=user_id,
        show_id=show_id,
        total_coins=total,
        checkout_token=checkout_token,
        created_at=now,
    )
    session.add(booking)
    session.flush()
    return booking


def issue_tickets(
    session: Any, booking: Booking, chosen: list[Seat], prices: dict[int, int], now: datetime
) -> None:
    """Add the booking's active tickets for the chosen seats (in seat order) at their
    frozen prices, and flush: the unique active ticket per seat has the last word here."""
    session.add_all(
        Ticket(
            booking_id=booking.id,
            show_id=booking.show_id,
            seat_id=s.id,
            category=s.category,
            price_coins=prices[s.id],
            status=TicketStatus.ACTIVE,
            created_at=now,
        )
        for s in sorted(chosen, key=lambda seat: (seat.grid_row, seat.grid_col))
    )
    session.flush()


def check_live_holds(
    show: ShowState, holds: list[Any], seats: dict[int, Seat], now: datetime, outcome: str
) -> None:
    """The locked holds are all still on their locked seats, on the show's screen, active
    and live at `now`; else Conflict or HoldExpired, whose message ends in `outcome`
    (what the refused sale did not do, e.g. "nothing was charged")."""
    if any(h.seat_id not in seats for h in holds):
        raise Conflict(f"Your seats changed meanwhile, so {outcome}. Try again.")
    if any(
        seats[h.seat_id].screen_id != show.screen_id or not seats[h.seat_id].is_active
        for h in holds
    ):
        # The show moved to another screen, or the layout changed, after the seats were held.
        raise Conflict(
            f"This show's seating changed since you picked your seats, so {outcome}. "
            "Pick your seats again."
        )
    if any(h.expires_at <= now for h in holds):
        raise HoldExpired(
            f"Your hold ran out, so the seats were released and {outcome}. Pick your seats again."
        )


# The seats of the rows a purchase touches, each with whether it is taken: sold, or in
# another customer's live hold. One statement.
_ROW_SEATS = select(
    *SEAT_CELL_COLUMNS,
    or_(
        exists().where(
            Ticket.show_id == bindparam("show_id"),
            Ticket.seat_id == Seat.id,
            Ticket.status == TicketStatus.ACTIVE,
        ),
        exists().where(
            SeatHold.show_id == bindparam("show_id"),
            SeatHold.seat_id == Seat.id,
            SeatHold.user_id != bindparam("user_id"),
            SeatHold.expires_at > bindparam("now"),
        ),
    ).label("taken"),
).where(
    Seat.screen_id == bindparam("screen_id"),
    Seat.is_active.is_(True),
    Seat.grid_row.in_(bindparam("grid_rows", expanding=True)),
)


def check_seat_rules(show: ShowState, chosen: list[Seat], user_id: int, now: datetime) -> None:
    """Companion and single-empty-seat rules over the rows the purchase touches (other
    customers' live holds count as taken). Raises SeatRuleViolation."""
    chosen_ids = {s.id for s in chosen}
    check_companions(
        SeatCell(s.id, s.label, s.grid_row, s.grid_col, s.category, "chosen") for s in chosen
    )
    params = {
        "show_id": show.id,
        "screen_id": show.screen_id,
        "grid_rows": sorted({s.grid_row for s in chosen}),
        "user_id": user_id,
        "now": now,
    }
    row_seats = execute_core(_ROW_SEATS, params).all()
    check_single_seats(
        SeatCell(
            r.id,
            f"{r.row_label}{r.number}",
            r.grid_row,
            r.grid_col,
            r.category,
            "chosen" if r.id in chosen_ids else "taken" if r.taken else "free",
        )
        for r in row_seats
    )
