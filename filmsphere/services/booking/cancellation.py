"""Cancellations and refunds: by the customer (refund policy), by an admin (100 %), and of
a whole show (100 % for every booking)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select

from ...extensions import db
from ...models import (
    Booking,
    BookingStatus,
    LedgerKind,
    SeatCategory,
    Show,
    ShowStatus,
    Ticket,
    TicketStatus,
    Wallet,
)
from ..errors import AlreadyDone, Conflict, DomainError, NotFound
from ..locks import lock_booking, lock_show_to_cancel, lock_wallet
from ..mail import notifications
from ..ops.audit import record_audit
from ..transaction import race_point, write_transaction
from ..wallet.wallet import post_entry
from .customer_bookings import get_booking
from .pricing import percent_of
from .seat_rules import SeatCell, lonely_companions
from .ticket_lines import TicketLine
from .waitlist import seats_returned


@dataclass(frozen=True)
class RefundQuote:
    reference: str
    lines: list[TicketLine]  # refund_coins: what the quote refunds
    percent: int
    refund_total: int
    policy_text: str
    # Companion seats cancelled with the wheelchair space beside them, said in the quote.
    note: str | None = None
    # The tickets asked for (None: the whole booking); the confirmation's key names them.
    asked: tuple[int, ...] | None = None

    @property
    def key(self) -> str:
        return quote_key(None if self.asked is None else list(self.asked), self.refund_total)


@dataclass(frozen=True)
class AdminCancellation:
    tickets: int
    refunded_coins: int
    used_seats: list[str]  # used at the door: kept, never refunded


@dataclass(frozen=True)
class ShowCancellation:
    bookings: int
    tickets: int
    refunded_coins: int
    used_tickets: int  # used at the door: kept, never refunded


def _minutes_text(minutes: int) -> str:
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{minutes} minutes"


def policy_text() -> str:
    config = current_app.config
    full = int(config["REFUND_FULL_BEFORE_MINUTES"])
    partial = int(config["REFUND_PARTIAL_BEFORE_MINUTES"])
    percent = int(config["REFUND_PARTIAL_PERCENT"])
    return (
        f"Full refund until {_minutes_text(full)} before the show starts, {percent} % until "
        f"{_minutes_text(partial)} before, no refund after that."
    )


@dataclass(frozen=True)
class RefundDeadlines:
    """A show's refund limits as moments: what the seat map states next to Pay."""

    full_until: datetime  # 100 % up to and including this moment
    partial_until: datetime  # partial_percent up to and including this moment
    partial_percent: int
    percent_now: int


def refund_deadlines(starts_at: datetime, now: datetime) -> RefundDeadlines:
    """The moments a show's customer refund drops from 100 % to the partial percentage and
    to nothing, as refund_percent applies them (pure: no database)."""
    config = current_app.config
    return RefundDeadlines(
        full_until=starts_at - timedelta(minutes=int(config["REFUND_FULL_BEFORE_MINUTES"])),
        partial_until=starts_at - timedelta(minutes=int(config["REFUND_PARTIAL_BEFORE_MINUTES"])),
        partial_percent=int(config["REFUND_PARTIAL_PERCENT"]),
        percent_now=refund_percent(starts_at, now),
    )


def refund_percent(starts_at: datetime, now: datetime) -> int:
    """The customer refund percentage at `now`. Edges are inclusive in the customer's
    favour: exactly 2 hours before the start is still 100 %, exactly 20 minutes before
    still 80 %; one moment later the next band applies."""
    config = current_app.config
    before = starts_at - now
    if before >= timedelta(minutes=int(config["REFUND_FULL_BEFORE_MINUTES"])):
        return 100
    if before >= timedelta(minutes=int(config["REFUND_PARTIAL_BEFORE_MINUTES"])):
        return int(config["REFUND_PARTIAL_PERCENT"])
    return 0


def _nothing_left(booking: Booking) -> AlreadyDone:
    """Why a booking with no cancellable ticket can't be cancelled: the one true reason."""
    if any(t.status == TicketStatus.ACTIVE for t in booking.tickets):
        return AlreadyDone(
            "Every remaining ticket of this booking was used at the door, so there is "
            "nothing left to cancel or refund."
        )
    return AlreadyDone("This booking is already cancelled; there is nothing more to refund.")


def _pick_tickets(booking: Booking, ticket_ids: list[int] | None) -> list[Ticket]:
    if ticket_ids is None:
        picked = [t for t in booking.tickets if t.is_cancellable]
        if not picked:
            raise _nothing_left(booking)
        return _with_companions(booking, picked)
    if not ticket_ids:
        raise DomainError("Pick at least one ticket to cancel.")
    by_id = {t.id: t for t in booking.tickets}
    wanted = sorted(set(ticket_ids))
    if any(i not in by_id for i in wanted):
        raise NotFound("That ticket is not part of this booking.")
    picked = [by_id[i] for i in wanted]
    done = [t for t in picked if t.status != TicketStatus.ACTIVE]
    if done:
        labels = ", ".join(t.seat.label for t in done)
        raise AlreadyDone(f"Already cancelled: seat {labels}.")
    used = [t for t in picked if not t.is_cancellable]
    if used:
        labels = ", ".join(t.seat.label for t in used)
        raise AlreadyDone(f"Already used at the door, so it can't be refunded: seat {labels}.")
    return _with_companions(booking, picked)


def _cell(ticket: Ticket) -> SeatCell:
    seat = ticket.seat
    return SeatCell(seat.id, seat.label, seat.grid_row, seat.grid_col, ticket.category, "chosen")


def _with_companions(booking: Booking, picked: list[Ticket]) -> list[Ticket]:
    """The picked tickets plus each companion seat that would be left without the
    wheelchair space beside it (the companion rule holds at cancellation as at sale: the
    pair goes back on sale together). Raises Conflict when that companion seat was
    already used at the door: the wheelchair space then stays booked with it."""
    picked_ids = {t.id for t in picked}
    kept = [
        t for t in booking.tickets if t.status == TicketStatus.ACTIVE and t.id not in picked_ids
    ]
    freed = {
        (t.seat.grid_row, t.seat.grid_col) for t in picked if t.category == SeatCategory.WHEELCHAIR
    }
    lonely = {c.seat_id for c in lonely_companions(_cell(t) for t in kept)}
    companions = [
        t
        for t in kept
        if t.seat_id in lonely
        and {(t.seat.grid_row, t.seat.grid_col - 1), (t.seat.grid_row, t.seat.grid_col + 1)} & freed
    ]
    for companion in companions:
        if not companion.is_cancellable:
            raise Conflict(
                f"Seat {companion.seat.label} is the companion seat of the wheelchair space "
                "you picked and was already used at the door, so the wheelchair space stays "
                "booked with it."
            )
    return sorted(picked + companions, key=lambda t: t.id)


def _companion_note(picked_ids: set[int], tickets: list[Ticket]) -> str | None:
    added = [t.seat.label for t in tickets if t.id not in picked_ids]
    if not added:
        return None
    seats = ", ".join(added)
    return (
        f"Companion seat {seats} is cancelled too: a companion seat goes with the "
        "wheelchair space beside it, so the two go back on sale together."
    )


def _quote(
    booking: Booking, tickets: list[Ticket], percent: int, note: str | None = None
) -> RefundQuote:
    lines = [TicketLine.of(t, refund_coins=percent_of(t.price_coins, percent)) for t in tickets]
    return RefundQuote(
        reference=booking.reference,
        lines=lines,
        percent=percent,
        refund_total=sum(line.refund_coins or 0 for line in lines),
        policy_text=policy_text(),
        note=note,
    )


def _customer_quote(
    booking: Booking, ticket_ids: list[int] | None, now: datetime
) -> tuple[list[Ticket], RefundQuote]:
    tickets = _pick_tickets(booking, ticket_ids)
    note = _companion_note(set(ticket_ids), tickets) if ticket_ids is not None else None
    return tickets, _quote(booking, tickets, refund_percent(booking.show.starts_at, now), note)


def _check_cancellable(booking: Booking, now: datetime) -> None:
    """Raise the one reason nothing of this booking can be cancelled now, if there is one."""
    if booking.show.status == ShowStatus.CANCELLED:
        raise AlreadyDone("The cinema cancelled this show and refunded its tickets in full.")
    if all(t.status != TicketStatus.ACTIVE for t in booking.tickets):
        raise _nothing_left(booking)
    if now >= booking.show.starts_at:
        raise Conflict("This show has started, so its tickets can no longer be cancelled.")
    if not any(t.is_cancellable for t in booking.tickets):
        raise _nothing_left(booking)


def cancellable_booking(user_id: int, reference: str, now: datetime) -> Booking:
    """The customer's booking, when something of it can still be cancelled at `now`.
    Read-only. Raises NotFound (unknown or someone else's), AlreadyDone (already
    cancelled, every remaining ticket used at the door, or the show cancelled) and
    Conflict (the show started): each with the one reason that applies."""
    booking = get_booking(user_id, reference)
    _check_cancellable(booking, now)
    return booking


def quote_refund(
    user_id: int, reference: str, ticket_ids: list[int] | None, now: datetime
) -> RefundQuote:
    """What cancelling these tickets (None: every unused active ticket) would refund at
    `now`, with any companion seat that goes with a picked wheelchair space (the quote's
    note says so). Read-only. Raises NotFound (unknown or someone else's booking/ticket),
    AlreadyDone (already cancelled or used), Conflict (show started; a used companion seat
    keeps its wheelchair space booked)."""
    booking = get_booking(user_id, reference)
    _check_cancellable(booking, now)
    quote = _customer_quote(booking, ticket_ids, now)[1]
    return replace(quote, asked=None if ticket_ids is None else tuple(ticket_ids))


def quote_key(ticket_ids: list[int] | None, refund_total: int) -> str:
    """What the customer saw quoted, sent back by the confirmation: the tickets and the
    refund (e.g. "all:100", "12,13:80")."""
    tickets = "all" if ticket_ids is None else ",".join(str(i) for i in ticket_ids)
    return f"{tickets}:{refund_total}"


def _refund_in_key(key: str | None) -> int | None:
    _, _, total = (key or "").rpartition(":")
    return int(total) if total.isdigit() and len(total) <= 9 else None


@dataclass(frozen=True)
class SelectionQuote:
    """The quote for a selection with the key its confirmation sends back, or, when this
    selection can't be cancelled, the reason instead (and no quote)."""

    quote: RefundQuote | None
    problem: str | None

    @property
    def key(self) -> str:
        return "" if self.quote is None else self.quote.key


def quote_selection(
    user_id: int, reference: str, ticket_ids: list[int] | None, now: datetime
) -> SelectionQuote:
    """quote_refund for the cancel page: a selection that can't be cancelled (a used
    companion seat keeps its wheelchair space booked, the show started meanwhile) is a
    problem to show beside the form, not a refusal of the page. Read-only. Raises
    NotFound (unknown or someone else's booking or ticket)."""
    try:
        return SelectionQuote(quote_refund(user_id, reference, ticket_ids, now), None)
    except NotFound:
        raise
    except DomainError as refusal:
        return SelectionQuote(None, refusal.message)


class SelectionChanged(Conflict):
    """The confirmation names other tickets than the quote it sends back was for."""


def confirm_cancellation(
    user_id: int, reference: str, ticket_ids: list[int] | None, now: datetime, key: str
) -> RefundQuote:
    """cancel_tickets for a confirmed quote: `key` (quote_key) must be for exactly these
    tickets, else SelectionChanged and nothing is cancelled; its refund must still hold,
    else QuoteChanged and nothing is cancelled. Same guarantees and refusals as
    cancel_tickets otherwise. Commits."""
    refund = _refund_in_key(key)
    if refund is None or key != quote_key(ticket_ids, refund):
        raise SelectionChanged(
            "Your choice changed since the quote: check the new quote and confirm again."
        )
    return cancel_tickets(user_id, reference, ticket_ids, now, expected_refund=refund)


def _apply(
    booking: Booking,
    tickets: list[Ticket],
    quote: RefundQuote,
    wallet: Wallet,
    now: datetime,
    *,
    actor_id: int | None,
    reason: str | None,
) -> None:
    """Cancel the tickets, write one refund ledger entry, update the booking status."""
    refunds = {line.id: line.refund_coins for line in quote.lines}
    for ticket in tickets:
        ticket.status = TicketStatus.CANCELLED
        ticket.refund_coins = refunds[ticket.id]
        ticket.cancelled_at = now
    db.session.flush()
    if quote.refund_total:
        post_entry(
            wallet,
            LedgerKind.REFUND,
            quote.refund_total,
            now,
            booking_id=booking.id,
            ticket_id=tickets[0].id if len(tickets) == 1 else None,
            actor_id=actor_id,
            reason=reason,
        )
    if all(t.status == TicketStatus.CANCELLED for t in booking.tickets):
        booking.status = BookingStatus.CANCELLED
        booking.cancelled_at = now
    else:
        booking.status = BookingStatus.PARTIALLY_CANCELLED


class QuoteChanged(Conflict):
    """The refund at confirmation differs from the quote the customer saw."""


def cancel_tickets(
    user_id: int,
    reference: str,
    ticket_ids: list[int] | None,
    now: datetime,
    expected_refund: int | None = None,
) -> RefundQuote:
    """Cancel tickets of the customer's booking (None: all active unused ones), with any
    companion seat that goes with a picked wheelchair space, and refund them by the policy
    at `now` (rounded half up per ticket). Tickets used at the door are never refunded.

    One write transaction: locks the booking row, then the wallet, re-reads the tickets
    under the lock (so a second, concurrent cancel finds them cancelled: AlreadyDone, and
    refunds nothing), marks them cancelled with their refund, writes one refund ledger
    entry (none for 0 coins), makes the seats sellable again and queues the cancellation
    email. Commits; then the seats are offered to the show's waitlist (its own
    transactions, waitlist.seats_returned). Raises NotFound, AlreadyDone, Conflict, and
    QuoteChanged when
    `expected_refund` (the quote the customer confirmed) no longer holds, e.g. because a
    refund band ended meanwhile: nothing is cancelled then.
    """
    booking_id = get_booking(user_id, reference).id
    with write_transaction():
        booking = lock_booking(booking_id)
        wallet = lock_wallet(user_id)
        _check_cancellable(booking, now)
        tickets, quote = _customer_quote(booking, ticket_ids, now)
        if expected_refund is not None and quote.refund_total != expected_refund:
            raise QuoteChanged(
                f"The refund is now {quote.refund_total} coins, not the {expected_refund} "
                "quoted (the refund policy moved on). Nothing was cancelled: check the new "
                "quote and confirm again."
            )
        race_point("cancellation.before_refund")
        _apply(booking, tickets, quote, wallet, now, actor_id=user_id, reason=None)
        notifications.queue_cancellation_notice(
            booking.id,
            [t.id for t in tickets],
            quote.refund_total,
            now,
        )
        show_id = booking.show_id
    seats_returned(show_id, now)
    return quote


def _snapshot(booking: Booking) -> dict[str, Any]:
    return {
        "status": booking.status,
        "active_tickets": sum(1 for t in booking.tickets if t.status == TicketStatus.ACTIVE),
    }


def cancel_booking_by_admin(
    admin_id: int, booking_id: int, now: datetime, reason: str = ""
) -> AdminCancellation:
    """Cancel every active ticket of a booking not yet used at the door, with a 100 %
    refund, as an admin. Used tickets are kept and never refunded.

    One write transaction: booking row lock, wallet lock, ticket updates, one refund
    ledger entry (actor = the admin, with the reason), an audit row with before/after,
    the customer's email listing exactly the tickets cancelled now. Commits; then the
    seats are offered to the show's waitlist (its own transactions).
    Raises NotFound, AlreadyDone (nothing left to cancel: already cancelled, or every
    remaining ticket used), Conflict (the show is over: refunds after the film are not a
    cancellation).
    """
    exists = db.session.scalar(select(Booking.user_id).where(Booking.id == booking_id))
    if exists is None:
        raise NotFound("There is no such booking.")
    with write_transaction():
        booking = lock_booking(booking_id)
        if booking.show.status == ShowStatus.FINISHED or now >= booking.show.ends_at:
            raise Conflict(
                "This show is over, so the booking can't be cancelled. "
                "Use a coin adjustment with a reason if a goodwill refund is due."
            )
        wallet = lock_wallet(booking.user_id)
        tickets = [t for t in booking.tickets if t.is_cancellable]
        if not tickets:
            raise _nothing_left(booking)
        before = _snapshot(booking)
        quote = _quote(booking, tickets, 100)
        _apply(booking, tickets, quote, wallet, now, actor_id=admin_id, reason=reason or None)
        used = [t.seat.label for t in booking.tickets if t.is_used]
        record_audit(
            actor_id=admin_id,
            action="booking.cancel",
            target_type="booking",
            target_id=booking.reference,
            now=now,
            before=before,
            after=_snapshot(booking)
            | {"refund_coins": quote.refund_total, "reason": reason, "used_kept": used},
        )
        notifications.queue_admin_cancellation_notice(
            booking.id, [t.id for t in tickets], quote.refund_total, now, reason=reason
        )
        show_id = booking.show_id
    seats_returned(show_id, now)
    return AdminCancellation(len(tickets), quote.refund_total, used)


class _MoreBookings(Exception):
    """A checkout committed while the show was being cancelled: start over."""


def cancel_show(admin_id: int, show_id: int, now: datetime, reason: str = "") -> ShowCancellation:
    """Cancel a show: status cancelled and every active ticket not used at the door
    refunded 100 % (used ones are kept, never refunded), one
    transaction (bookings locked in ascending id, then their wallets in ascending id, the
    show row last, like every other writer). An audit row and one email per booking.

    A checkout that commits while this runs is caught by the final re-count under the
    show's row lock and the whole cancellation is retried, so no paid ticket is left
    behind; once committed, no checkout can succeed (it re-checks the status under its
    shared lock on the show row).
    Raises NotFound, AlreadyDone (already cancelled), Conflict (already over).
    """
    for _attempt in range(5):
        try:
            return _cancel_show(admin_id, show_id, now, reason)
        except _MoreBookings:
            continue
    raise Conflict("Bookings kept arriving while cancelling this show. Try again.")


def _cancel_show(admin_id: int, show_id: int, now: datetime, reason: str) -> ShowCancellation:
    with write_transaction() as session:
        show = session.get(Show, show_id)
        if show is None:
            raise NotFound("There is no such show.")
        if show.status == ShowStatus.CANCELLED:
            raise AlreadyDone("This show is already cancelled.")
        if show.status == ShowStatus.FINISHED or now >= show.ends_at:
            raise Conflict("This show is over and can't be cancelled.")
        booking_ids = list(
            session.scalars(
                select(Booking.id)
                .join(Ticket, Ticket.booking_id == Booking.id)
                .where(Booking.show_id == show_id, _unused_active())
                .distinct()
                .order_by(Booking.id)
            )
        )
        bookings = [lock_booking(i) for i in booking_ids]
        user_ids = sorted({b.user_id for b in bookings})
        wallet_ids: dict[int, int] = {
            row.user_id: row.id
            for row in session.execute(
                select(Wallet.user_id, Wallet.id).where(Wallet.user_id.in_(user_ids))
            )
        }
        wallets = {u: lock_wallet(u) for u in sorted(user_ids, key=lambda u: wallet_ids.get(u, 0))}
        tickets_done = refunded = 0
        for booking in bookings:
            tickets = [t for t in booking.tickets if t.is_cancellable]
            if not tickets:
                continue
            quote = _quote(booking, tickets, 100)
            _apply(
                booking,
                tickets,
                quote,
                wallets[booking.user_id],
                now,
                actor_id=admin_id,
                reason=reason or "Show cancelled",
            )
            notifications.queue_admin_cancellation_notice(
                booking.id, [t.id for t in tickets], quote.refund_total, now, reason=reason
            )
            tickets_done += len(tickets)
            refunded += quote.refund_total
        before = {"status": show.status}
        race_point("cancel_show.before_show_lock")
        show = lock_show_to_cancel(show_id)  # last, exclusively against sales
        if show.status == ShowStatus.CANCELLED:  # another admin's cancel committed first
            raise AlreadyDone("This show is already cancelled.")
        show.status = ShowStatus.CANCELLED
        show.cancelled_at = now
        session.flush()
        # Under the show's row lock now: a ticket sold since our first read would be
        # left unrefunded, so start again instead.
        late = session.scalar(
            select(Ticket.id).where(Ticket.show_id == show_id, _unused_active()).limit(1)
        )
        if late is not None:
            raise _MoreBookings()
        used = session.scalar(
            select(func.count())
            .select_from(Ticket)
            .where(
                Ticket.show_id == show_id,
                Ticket.status == TicketStatus.ACTIVE,
                Ticket.checked_in_at.is_not(None),
            )
        )
        record_audit(
            actor_id=admin_id,
            action="show.cancel",
            target_type="show",
            target_id=show_id,
            now=now,
            before=before,
            after={
                "status": ShowStatus.CANCELLED,
                "bookings": len(bookings),
                "tickets": tickets_done,
                "refunded_coins": refunded,
                "used_kept": used,
                "reason": reason,
            },
        )
        return ShowCancellation(
            bookings=len(bookings),
            tickets=tickets_done,
            refunded_coins=refunded,
            used_tickets=int(used or 0),
        )


def _unused_active() -> Any:
    """Tickets a cancellation refunds: active and not used at the door."""
    return (Ticket.status == TicketStatus.ACTIVE) & Ticket.checked_in_at.is_(None)
