"""Exchange: swap a booking's tickets for seats held in another show, in one transaction.

The rules (README "Exchange to another showtime"):
- Every active ticket of the booking moves; a booking with a ticket used at the door
  can't be exchanged (so a wheelchair space and its companion seat always move together).
- Allowed until the old show's refund cut-off: `REFUND_PARTIAL_BEFORE_MINUTES` (20) before
  its start, the moment refunds end.
- The new show: scheduled, not started, not the old show, and of the same film unless
  `EXCHANGE_ANY_FILM` is on. The new seats are the customer's live holds there, checked
  like a checkout (seat rules included).
- Settlement: the old tickets count at their full price towards the new seats. Paying
  more costs the difference; money back (new seats cheaper) follows the refund policy for
  the old show's timing: `percent_of(old − new, refund percent now)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ...extensions import db
from ...models import (
    Booking,
    BookingExchange,
    BookingStatus,
    LedgerKind,
    SeatHold,
    Show,
    ShowStatus,
    Ticket,
    TicketStatus,
)
from ..errors import (
    AlreadyDone,
    Conflict,
    DomainError,
    NotFound,
    SeatUnavailable,
    ShowNotBookable,
)
from ..locks import (
    consume_holds,
    lock_booking,
    lock_holds,
    lock_seats,
    lock_show_for_sale,
    lock_wallet,
)
from ..mail import notifications
from ..transaction import race_point, write_transaction
from ..wallet.wallet import post_entry
from .cancellation import refund_percent
from .checkout import (
    check_live_holds,
    check_seat_rules,
    issue_tickets,
    new_booking,
    seat_prices,
)
from .customer_bookings import get_booking
from .pricing import percent_of
from .show_sale import not_bookable_reason
from .waitlist import seats_returned


@dataclass(frozen=True)
class ExchangeQuote:
    """What an exchange would do now: the old tickets, the new seats, and the coins."""

    reference: str
    old_seats: list[str]
    old_total: int
    new_show_id: int
    new_seats: list[str]
    new_total: int
    refund_percent: int
    credit_coins: int  # credited back on the old booking
    charge_coins: int  # charged for the new booking

    @property
    def net_coins(self) -> int:
        """Signed change of the wallet: negative = the customer pays, positive = gets back."""
        return self.credit_coins - self.charge_coins


@dataclass(frozen=True)
class ExchangeResult:
    quote: ExchangeQuote
    new_reference: str


class AlreadyExchanged(AlreadyDone):
    """The booking was exchanged already (a double submit): `reference` is its successor."""

    def __init__(self, reference: str) -> None:
        super().__init__(f"This booking was already exchanged for booking {reference}.")
        self.reference = reference


class ExchangeQuoteChanged(Conflict):
    """The coins at confirmation differ from the quote the customer saw."""


def settle(old_total: int, new_total: int, percent: int) -> tuple[int, int]:
    """(credit, charge): the old tickets count in full towards the new seats; only money
    back is cut by the refund percent."""
    if new_total >= old_total:
        return old_total, new_total
    return new_total + percent_of(old_total - new_total, percent), new_total


def exchange_open(starts_at: datetime, now: datetime) -> bool:
    """Until the refund cut-off of the show (inclusive, like the refund bands)."""
    cutoff = timedelta(minutes=int(current_app.config["REFUND_PARTIAL_BEFORE_MINUTES"]))
    return starts_at - now >= cutoff


def _check_booking(booking: Booking, now: datetime) -> list[Ticket]:
    """The tickets that move, or the one reason the booking can't be exchanged now."""
    exchanged = db.session.scalar(
        select(Booking.reference)
        .join(BookingExchange, BookingExchange.new_booking_id == Booking.id)
        .where(BookingExchange.old_booking_id == booking.id)
    )
    if exchanged is not None:
        raise AlreadyExchanged(exchanged)
    if booking.show.status == ShowStatus.CANCELLED:
        raise AlreadyDone("The cinema cancelled this show and refunded its tickets in full.")
    active = [t for t in booking.tickets if t.status == TicketStatus.ACTIVE]
    if not active:
        raise AlreadyDone("This booking is cancelled; there is nothing to exchange.")
    if any(t.checked_in_at is not None for t in active):
        raise Conflict("A ticket of this booking was used at the door, so it can't be exchanged.")
    if not exchange_open(booking.show.starts_at, now):
        minutes = int(current_app.config["REFUND_PARTIAL_BEFORE_MINUTES"])
        raise Conflict(
            f"Exchanges close {minutes} minutes before the show starts, like refunds, so "
            "this booking can no longer be exchanged."
        )
    return active


def _check_target(booking: Booking, show: Any, now: datetime) -> None:
    if show.id == booking.show_id:
        raise DomainError("Pick another showtime: these seats are for the show you have.")
    if not current_app.config["EXCHANGE_ANY_FILM"] and show.movie_id != booking.show.movie_id:
        raise DomainError("Tickets can only be exchanged for another show of the same film.")
    reason = not_bookable_reason(show, now)
    if reason:
        raise ShowNotBookable(reason)


def can_exchange(booking: Booking, now: datetime) -> bool:
    """Whether the booking page should offer an exchange (the service re-checks)."""
    try:
        _check_booking(booking, now)
    except DomainError:
        return False
    return True


def exchangeable_booking(user_id: int, reference: str, now: datetime) -> Booking:
    """The customer's booking if it can be exchanged at `now`. Read-only. Raises NotFound
    (unknown or someone else's), AlreadyExchanged, AlreadyDone, Conflict (a used ticket,
    past the cut-off)."""
    booking = get_booking(user_id, reference)
    _check_booking(booking, now)
    return booking


def exchange_targets(user_id: int, reference: str, now: datetime) -> list[Show]:
    """The shows this booking may move to: scheduled, not started, not its own show, the
    same film unless EXCHANGE_ANY_FILM; soonest first. Read-only; raises like
    exchangeable_booking."""
    booking = exchangeable_booking(user_id, reference, now)
    query = select(Show).where(
        Show.status == ShowStatus.SCHEDULED, Show.starts_at > now, Show.id != booking.show_id
    )
    if not current_app.config["EXCHANGE_ANY_FILM"]:
        query = query.where(Show.movie_id == booking.show.movie_id)
    return list(db.session.scalars(query.order_by(Show.starts_at, Show.id).limit(100)))


def check_exchange_target(user_id: int, reference: str, show_id: int, now: datetime) -> Booking:
    """The booking, when `show_id` is a show it may move to now. Read-only. Raises like
    exchangeable_booking, plus NotFound (no such show), DomainError (same show, another
    film) and ShowNotBookable."""
    booking = exchangeable_booking(user_id, reference, now)
    show = db.session.get(Show, show_id)
    if show is None:
        raise NotFound("There is no such show.")
    _check_target(booking, show, now)
    return booking


def _quote(
    booking: Booking, tickets: list[Ticket], show: Any, chosen: list[Any], now: datetime
) -> tuple[ExchangeQuote, dict[int, int]]:
    old_total = sum(t.price_coins for t in tickets)
    prices = seat_prices(show.base_price_coins, chosen)
    new_total = sum(prices.values())
    percent = refund_percent(booking.show.starts_at, now)
    credit, charge = settle(old_total, new_total, percent)
    quote = ExchangeQuote(
        reference=booking.reference,
        old_seats=[t.seat.label for t in tickets],
        old_total=old_total,
        new_show_id=show.id,
        new_seats=[s.label for s in sorted(chosen, key=lambda s: (s.grid_row, s.grid_col))],
        new_total=new_total,
        refund_percent=percent,
        credit_coins=credit,
        charge_coins=charge,
    )
    return quote, prices


def quote_exchange(user_id: int, reference: str, show_id: int, now: datetime) -> ExchangeQuote:
    """What exchanging the booking for the customer's live holds in `show_id` would do at
    `now`. Read-only (the holds may still change before the exchange). Raises like
    check_exchange_target, plus DomainError when nothing is held there."""
    booking = get_booking(user_id, reference)
    tickets = _check_booking(booking, now)
    show = db.session.get(Show, show_id)
    if show is None:
        raise NotFound("There is no such show.")
    _check_target(booking, show, now)
    held = list(
        db.session.scalars(
            select(SeatHold).where(
                SeatHold.user_id == user_id,
                SeatHold.show_id == show_id,
                SeatHold.expires_at > now,
            )
        )
    )
    if not held:
        raise DomainError("Hold the seats you want in the new show first, then exchange.")
    return _quote(booking, tickets, show, [h.seat for h in held], now)[0]


def exchange_booking(
    user_id: int,
    reference: str,
    show_id: int,
    now: datetime,
    expected_net: int | None = None,
) -> ExchangeResult:
    """Cancel every active ticket of the customer's booking and issue new tickets for
    their live holds in `show_id`, settling the difference in coins.

    One write transaction, locks in the documented order: the held seats (ascending id),
    the customer's hold rows in the new show, the old booking, the wallet, then both show
    rows shared (ascending id; each must still be scheduled and not started). Under the
    locks it re-checks the booking (not exchanged, no used ticket, before the cut-off),
    the holds (theirs, live, seat rules) and the quote; then the old tickets are cancelled
    (their codes stop working at once), one `refund` entry credits them, one
    `booking_charge` entry pays the new booking, the holds become its tickets, the
    exchange is recorded (unique per old booking) and one email with the new tickets is
    queued. All of it commits, or nothing does; then the old seats are offered to the old
    show's waitlist (its own transactions).

    Raises NotFound, AlreadyExchanged (a second submit: nothing more happens),
    AlreadyDone, Conflict, ShowNotBookable, HoldExpired, SeatRuleViolation,
    InsufficientCoins, SeatUnavailable, ExchangeQuoteChanged (the coins differ from
    `expected_net`, the signed amount the customer confirmed: nothing changed).
    """
    booking = get_booking(user_id, reference)
    booking_id, old_show_id = booking.id, booking.show_id
    try:
        with write_transaction() as session:
            result = _exchange(session, user_id, booking_id, show_id, now, expected_net)
    except IntegrityError:
        # The database's last word: a seat got an active ticket after all, or a twin
        # exchange of the same booking committed first.
        db.session.rollback()
        done = db.session.scalar(
            select(Booking.reference)
            .join(BookingExchange, BookingExchange.new_booking_id == Booking.id)
            .where(BookingExchange.old_booking_id == booking_id)
        )
        if done is not None:
            raise AlreadyExchanged(done) from None
        raise SeatUnavailable(
            "Sorry, one of your new seats was just sold to someone else. Nothing changed."
        ) from None
    seats_returned(old_show_id, now)
    return result


def _exchange(
    session: Any,
    user_id: int,
    booking_id: int,
    show_id: int,
    now: datetime,
    expected_net: int | None,
) -> ExchangeResult:
    show = session.get(Show, show_id)
    if show is None:
        raise NotFound("There is no such show.")
    wanted = session.scalars(
        select(SeatHold.seat_id).where(SeatHold.user_id == user_id, SeatHold.show_id == show_id)
    ).all()
    seats = {s.id: s for s in lock_seats(wanted)}
    holds = lock_holds(user_id, show_id)
    booking = lock_booking(booking_id)
    tickets = _check_booking(booking, now)
    _check_target(booking, show, now)
    if not holds:
        raise DomainError("Hold the seats you want in the new show first, then exchange.")
    check_live_holds(show, holds, seats, now, outcome="nothing changed")
    race_point("exchange.after_lock")
    chosen = [seats[h.seat_id] for h in holds]
    check_seat_rules(show, chosen, user_id, now)
    quote, prices = _quote(booking, tickets, show, chosen, now)
    if expected_net is not None and quote.net_coins != expected_net:
        raise ExchangeQuoteChanged(
            f"The exchange now comes to {_net_text(quote.net_coins)}, not "
            f"{_net_text(expected_net)} as quoted. Nothing changed: check the new quote and "
            "confirm again."
        )
    wallet = lock_wallet(user_id)

    new = new_booking(session, user_id, show_id, quote.new_total, now)
    # Cancel first: the credit lands before the charge, so the balance never dips below
    # what the customer really has.
    remaining = quote.credit_coins
    for ticket in tickets:
        ticket.status = TicketStatus.CANCELLED
        ticket.refund_coins = min(ticket.price_coins, remaining)
        ticket.cancelled_at = now
        remaining -= ticket.refund_coins
    booking.status = BookingStatus.CANCELLED
    booking.cancelled_at = now
    session.flush()
    note = f"Exchange: booking {booking.reference} for {new.reference}"
    if quote.credit_coins:
        post_entry(
            wallet, LedgerKind.REFUND, quote.credit_coins, now, booking_id=booking.id, reason=note
        )
    if quote.charge_coins:
        post_entry(
            wallet,
            LedgerKind.BOOKING_CHARGE,
            -quote.charge_coins,
            now,
            booking_id=new.id,
            reason=note,
        )
    issue_tickets(session, new, chosen, prices, now)
    session.add(
        BookingExchange(
            old_booking_id=booking.id,
            new_booking_id=new.id,
            credit_coins=quote.credit_coins,
            charge_coins=quote.charge_coins,
            refund_percent=quote.refund_percent,
            created_at=now,
        )
    )
    session.flush()
    consume_holds([h.id for h in holds])
    notifications.queue_booking_confirmation(
        new.id,
        now,
        exchange=notifications.ExchangeNote(
            old_reference=booking.reference,
            old_seats=quote.old_seats,
            charged_coins=max(-quote.net_coins, 0),
            returned_coins=max(quote.net_coins, 0),
            refund_percent=quote.refund_percent,
        ),
    )
    for locked_show in sorted({booking.show_id, show_id}):
        if not lock_show_for_sale(locked_show, now):
            raise ShowNotBookable("One of the two shows can no longer be booked; nothing changed.")
    return ExchangeResult(quote=quote, new_reference=new.reference)


def _net_text(net: int) -> str:
    if net > 0:
        return f"{net} coins back"
    if net < 0:
        return f"{-net} coins to pay"
    return "no coins either way"


def exchanged_for(booking_id: int) -> str | None:
    """The reference of the booking this one was exchanged for, if it was. Read-only."""
    reference: str | None = db.session.scalar(
        select(Booking.reference)
        .join(BookingExchange, BookingExchange.new_booking_id == Booking.id)
        .where(BookingExchange.old_booking_id == booking_id)
    )
    return reference
