"""Send a ticket to a friend: offer by email, take back until accepted, accept with a new code.

- The holder offers an active, unused ticket of a show that has not started to an email
  address. The friend gets a link with a random secret (256 bits; only its HMAC is
  stored), valid until `TRANSFER_LINK_HOURS` after the offer or the show's start, whichever
  is first, and usable once.
- Until it is accepted the ticket stays the sender's (its code still works at the door)
  and the sender can take the offer back.
- Accepting needs a log-in to a verified account with the address the ticket was sent to
  (a forwarded link is useless to anyone else). In one transaction the sender's tickets
  are cancelled without refund and the friend gets a new booking with new ticket rows for
  the same seats: new ids, so new codes, and the old codes are refused at the door at
  once (they belong to cancelled tickets). No coins move: the new booking charged nothing
  (total 0), and the tickets keep the price paid, so a later refund by the policy goes to
  whoever holds the ticket then.
- Companion rule: a wheelchair space and the companion seat beside it (same booking) go
  together; offering either offers both, so the pair never ends up in two accounts, where
  cancelling the wheelchair space could no longer release its companion seat.
- Locks: the source booking row FOR UPDATE (`locks.lock_booking`, the order's "bookings"
  step and the very lock cancellation takes), then the transfer is re-read. Offer,
  take-back and accept of one booking's tickets are serialised there; the loser re-reads
  and is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select

from ...extensions import db
from ...models import (
    Booking,
    SeatCategory,
    ShowStatus,
    Ticket,
    TicketStatus,
    TicketTransfer,
    TransferredTicket,
    TransferStatus,
    User,
)
from ..errors import AlreadyDone, Conflict, DomainError, Forbidden, NotFound
from ..locks import lock_booking
from ..mail.notifications import queue_booking_confirmation
from ..mail.outbox import queue_email
from ..ops.audit import record_audit
from ..transaction import race_point, write_transaction
from .checkout import new_reference
from .customer_bookings import get_booking

EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")


class InvalidRecipient(DomainError):
    """The address can't receive a ticket (malformed, or the sender's own)."""


class TransferGone(DomainError):
    """The link was taken back, has expired, or its show has started."""

    status = 410


@dataclass(frozen=True)
class TransferOffer:
    transfer_id: int
    token: str  # the link's secret: only emailed, never stored


@dataclass(frozen=True)
class TransferLine:
    """A transfer as a booking page shows it."""

    id: int
    outgoing: bool  # sent from this booking (else received into it)
    counterpart: str  # the recipient's address, or the sender's name
    ticket_ids: list[int]  # this booking's tickets it moved (sent) or created (received)
    seats: list[str]
    status: str
    created_at: datetime
    accepted_at: datetime | None
    can_take_back: bool


@dataclass(frozen=True)
class TransferView:
    """The accept page: what is offered, by whom, and to which address."""

    transfer: TicketTransfer
    booking: Booking
    sender_name: str
    seats: list[str]


def _digest(token: str) -> str:
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, f"transfer:{token}".encode(), hashlib.sha256).hexdigest()


def _fresh_transfer(transfer_id: int) -> TicketTransfer:
    transfer = db.session.scalars(
        select(TicketTransfer)
        .where(TicketTransfer.id == transfer_id)
        .execution_options(populate_existing=True)
    ).one()
    db.session.scalars(
        select(TransferredTicket)
        .where(TransferredTicket.transfer_id == transfer_id)
        .execution_options(populate_existing=True)
    ).all()
    return transfer


def _with_partner(booking: Booking, ticket: Ticket) -> list[Ticket]:
    """The ticket and, for a wheelchair space or companion seat, the active partner seat
    right beside it in the same booking (same row, next grid column)."""
    pair = {SeatCategory.WHEELCHAIR: SeatCategory.COMPANION}
    pair |= {v: k for k, v in pair.items()}
    partner_category = pair.get(SeatCategory(ticket.category))
    partners = [
        t
        for t in booking.tickets
        if partner_category is not None
        and t.status == TicketStatus.ACTIVE
        and t.category == partner_category
        and t.seat.grid_row == ticket.seat.grid_row
        and abs(t.seat.grid_col - ticket.seat.grid_col) == 1
    ]
    return sorted([ticket, *partners[:1]], key=lambda t: t.id)


def _pending_ticket_ids(booking_id: int, now: datetime) -> set[int]:
    """Tickets of the booking on offer now (an expired offer no longer holds its ticket)."""
    return set(
        db.session.scalars(
            select(TransferredTicket.ticket_id)
            .join(TicketTransfer, TicketTransfer.id == TransferredTicket.transfer_id)
            .where(
                TicketTransfer.booking_id == booking_id,
                TicketTransfer.status == TransferStatus.PENDING,
                TicketTransfer.expires_at > now,
            )
        )
    )


def _check_show_open(booking: Booking, now: datetime) -> None:
    if booking.show.status != ShowStatus.SCHEDULED or now >= booking.show.starts_at:
        raise Conflict("The show has started or was cancelled: its tickets can't be passed on.")


def offer_transfer(
    user_id: int, reference: str, ticket_id: int, email: str, now: datetime
) -> TransferOffer:
    """Offer one ticket of the user's booking (with its wheelchair/companion partner) to
    `email`, and queue the email with the link, in one transaction: locks the booking row
    and re-checks under it that the tickets are active, unused and not already on offer.
    Raises NotFound (not the user's booking or ticket), InvalidRecipient (422), Conflict
    (used, cancelled, already offered, show started). Commits."""
    address = email.strip()
    if len(address) > 254 or not EMAIL.fullmatch(address):
        raise InvalidRecipient("Enter your friend's email address, like name@example.com.")
    with write_transaction():
        found = db.session.scalars(
            select(Booking.id).where(
                Booking.reference == reference.strip().upper(), Booking.user_id == user_id
            )
        ).one_or_none()
        if found is None:
            raise NotFound("There is no booking with that reference on your account.")
        booking = lock_booking(found)
        sender = db.session.get(User, user_id)
        assert sender is not None
        if address.lower() == sender.email.lower():
            raise InvalidRecipient("That is your own address: enter your friend's.")
        _check_show_open(booking, now)
        ticket = next((t for t in booking.tickets if t.id == ticket_id), None)
        if ticket is None:
            raise NotFound("That ticket is not in this booking.")
        tickets = _with_partner(booking, ticket)
        for t in tickets:
            if not t.is_cancellable:
                raise Conflict(f"Seat {t.seat.label} was cancelled or used: it can't be sent.")
        pending = _pending_ticket_ids(booking.id, now)
        if any(t.id in pending for t in tickets):
            raise Conflict(
                "That ticket is already on its way to someone: take that offer back first."
            )
        token = secrets.token_urlsafe(32)
        hours = current_app.config["TRANSFER_LINK_HOURS"]
        transfer = TicketTransfer(
            booking_id=booking.id,
            sender_id=user_id,
            recipient_email=address,
            secret_hash=_digest(token),
            status=TransferStatus.PENDING,
            created_at=now,
            expires_at=min(now + timedelta(hours=hours), booking.show.starts_at),
        )
        db.session.add(transfer)
        db.session.flush()
        for t in tickets:
            db.session.add(TransferredTicket(transfer_id=transfer.id, ticket_id=t.id))
        seats = [t.seat.label for t in tickets]
        record_audit(
            actor_id=user_id,
            action="ticket.transfer_offered",
            target_type="booking",
            target_id=booking.reference,
            now=now,
            after={"transfer": transfer.id, "to": address, "seats": seats},
        )
        # The link's secret is a fact of the email (the sender renders it after commit);
        # the transfer row keeps only its HMAC.
        queue_email(
            kind="ticket_transfer_offer",
            to=address,
            now=now,
            booking_id=booking.id,
            sender_name=sender.full_name or sender.username,
            seats=seats,
            secret=token,
            expires_at=transfer.expires_at.isoformat(),
        )
        return TransferOffer(transfer.id, token)


def take_back(user_id: int, transfer_id: int, now: datetime) -> str:
    """The sender withdraws a pending offer: the link stops working at once. Locks the
    booking row, then re-reads the transfer. Raises NotFound (not the user's offer),
    AlreadyDone (already accepted or taken back). Commits; returns the booking reference."""
    with write_transaction():
        transfer = db.session.get(TicketTransfer, transfer_id)
        if transfer is None or transfer.sender_id != user_id:
            raise NotFound("There is no such ticket offer on your account.")
        booking = lock_booking(transfer.booking_id)
        transfer = _fresh_transfer(transfer_id)
        race_point("transfers.take_back")
        if transfer.status == TransferStatus.ACCEPTED:
            raise AlreadyDone("Your friend has already accepted this ticket.")
        if transfer.status == TransferStatus.REVOKED:
            raise AlreadyDone("You already took this ticket back.")
        transfer.status = TransferStatus.REVOKED
        transfer.revoked_at = now
        record_audit(
            actor_id=user_id,
            action="ticket.transfer_taken_back",
            target_type="booking",
            target_id=booking.reference,
            now=now,
            before={"transfer": transfer.id, "status": "pending"},
            after={"transfer": transfer.id, "status": "revoked"},
        )
        return booking.reference


def _transfer_for(token: str) -> TicketTransfer:
    transfer = db.session.scalars(
        select(TicketTransfer).where(TicketTransfer.secret_hash == _digest(token))
    ).one_or_none()
    if transfer is None:
        raise NotFound("This ticket link is not valid. Check that you copied all of it.")
    return transfer


def view_transfer(token: str, now: datetime) -> TransferView:
    """What the link offers, for its page. Raises NotFound (no such link), TransferGone
    (taken back, expired, show started), AlreadyDone (accepted). Reads only."""
    transfer = _transfer_for(token)
    booking = db.session.get(Booking, transfer.booking_id)
    sender = db.session.get(User, transfer.sender_id)
    assert booking is not None and sender is not None
    _check_open(transfer, booking, now)
    ticket_ids = {i.ticket_id for i in transfer.items}
    return TransferView(
        transfer=transfer,
        booking=booking,
        sender_name=sender.full_name or sender.username,
        seats=[t.seat.label for t in booking.tickets if t.id in ticket_ids],
    )


def _check_open(transfer: TicketTransfer, booking: Booking, now: datetime) -> None:
    if transfer.status == TransferStatus.ACCEPTED:
        raise AlreadyDone("This ticket has already been accepted.")
    if transfer.status == TransferStatus.REVOKED:
        raise TransferGone("The sender took this ticket back.")
    if now >= transfer.expires_at:
        raise TransferGone("This link has expired. Ask the sender to send the ticket again.")
    if booking.show.status != ShowStatus.SCHEDULED or now >= booking.show.starts_at:
        raise TransferGone("The show has started or was cancelled.")


def accept_transfer(user_id: int, token: str, now: datetime) -> str:
    """The friend takes the tickets: one transaction that locks the source booking, then
    re-reads the transfer and its tickets, cancels the sender's tickets (no refund), creates
    the friend's booking (nothing charged) with new tickets for the same seats (new codes),
    marks the transfer accepted, writes the audit row and queues the friend's confirmation
    with the new QR codes. Raises NotFound (bad link), Forbidden (another address, or not
    verified), AlreadyDone (accepted already), TransferGone (taken back, expired, show
    started), Conflict (a ticket was cancelled or used meanwhile). Commits; returns the new
    booking's reference. The sender is told by email too."""
    with write_transaction():
        transfer = _transfer_for(token)
        user = db.session.get(User, user_id)
        if user is None or user.email.lower() != transfer.recipient_email.lower():
            raise Forbidden(
                "This ticket was sent to another email address. Log in with the address "
                "the link was sent to."
            )
        if user.id == transfer.sender_id:
            raise Forbidden("You can't accept a ticket you sent yourself.")
        if not user.is_verified:
            raise Forbidden("Verify your email address first, then open the link again.")
        booking = lock_booking(transfer.booking_id)
        transfer = _fresh_transfer(transfer.id)
        race_point("transfers.accept")
        _check_open(transfer, booking, now)
        by_id = {t.id: t for t in booking.tickets}
        old = [by_id[i.ticket_id] for i in transfer.items]
        for t in old:
            if not t.is_cancellable:
                raise Conflict(
                    f"Seat {t.seat.label} was cancelled or used meanwhile, so this ticket "
                    "can't be accepted any more."
                )
        new_booking = Booking(
            reference=new_reference(),
            user_id=user.id,
            show_id=booking.show_id,
            total_coins=0,
            created_at=now,
        )
        db.session.add(new_booking)
        for t in old:
            t.status = TicketStatus.CANCELLED
            t.cancelled_at = now
        # The old rows leave the live-seat unique index before the new ones enter it.
        db.session.flush()
        new_ids = {}
        for t in old:
            fresh = Ticket(
                booking_id=new_booking.id,
                show_id=t.show_id,
                seat_id=t.seat_id,
                category=t.category,
                price_coins=t.price_coins,
                created_at=now,
            )
            db.session.add(fresh)
            db.session.flush()
            new_ids[t.id] = fresh.id
        for item in transfer.items:
            item.new_ticket_id = new_ids[item.ticket_id]
        transfer.status = TransferStatus.ACCEPTED
        transfer.accepted_at = now
        transfer.accepted_by_id = user.id
        transfer.new_booking_id = new_booking.id
        record_audit(
            actor_id=user.id,
            action="ticket.transfer_accepted",
            target_type="booking",
            target_id=booking.reference,
            now=now,
            before={"booking": booking.reference, "tickets": sorted(new_ids)},
            after={"booking": new_booking.reference, "tickets": sorted(new_ids.values())},
        )
        queue_booking_confirmation(new_booking.id, now)
        sender = db.session.get(User, transfer.sender_id)
        assert sender is not None
        queue_email(
            kind="ticket_transfer_accepted",
            to=sender.email,
            now=now,
            booking_id=booking.id,
            recipient=transfer.recipient_email,
            seats=[t.seat.label for t in old],
        )
        return new_booking.reference


def booking_transfers(booking_id: int, now: datetime) -> list[TransferLine]:
    """Transfers out of and into a booking, oldest first, for its page. Reads only."""
    transfers = db.session.scalars(
        select(TicketTransfer)
        .where(
            (TicketTransfer.booking_id == booking_id)
            | (TicketTransfer.new_booking_id == booking_id)
        )
        .order_by(TicketTransfer.id)
    ).all()
    lines = []
    for transfer in transfers:
        outgoing = transfer.booking_id == booking_id
        tickets = {
            t.id: t.seat.label
            for t in db.session.scalars(
                select(Ticket).where(Ticket.id.in_([i.ticket_id for i in transfer.items]))
            )
        }
        if outgoing:
            counterpart = transfer.recipient_email
        else:
            sender = db.session.get(User, transfer.sender_id)
            counterpart = (sender.full_name or sender.username) if sender else "someone"
        status = transfer.status
        if status == TransferStatus.PENDING and now >= transfer.expires_at:
            status = "expired"
        lines.append(
            TransferLine(
                id=transfer.id,
                outgoing=outgoing,
                counterpart=counterpart,
                ticket_ids=[
                    (i.ticket_id if outgoing else i.new_ticket_id) or 0 for i in transfer.items
                ],
                seats=[tickets[i.ticket_id] for i in transfer.items],
                status=status,
                created_at=transfer.created_at,
                accepted_at=transfer.accepted_at,
                can_take_back=outgoing and status == TransferStatus.PENDING,
            )
        )
    return lines


def transferable_tickets(
    user_id: int, reference: str, now: datetime
) -> tuple[Booking, list[Ticket]]:
    """The user's booking and its tickets that could be sent now (active, unused, not on
    offer; none once the show started). Raises NotFound for another user's booking. Reads."""
    booking = get_booking(user_id, reference)
    if booking.show.status != ShowStatus.SCHEDULED or now >= booking.show.starts_at:
        return booking, []
    pending = _pending_ticket_ids(booking.id, now)
    return booking, [t for t in booking.tickets if t.is_cancellable and t.id not in pending]


def reference_of(user_id: int, transfer_id: int) -> str:
    """The reference of the booking a user's transfer was sent from. Raises NotFound."""
    transfer = db.session.get(TicketTransfer, transfer_id)
    booking = db.session.get(Booking, transfer.booking_id) if transfer else None
    if transfer is None or booking is None or transfer.sender_id != user_id:
        raise NotFound("There is no such ticket offer on your account.")
    return booking.reference
