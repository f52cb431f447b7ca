"""Booking emails (confirmation, cancellation, admin cancellation) queued in the outbox.

Every function here runs INSIDE the caller's write transaction (checkout, cancellation)
and never commits, so the email exists if and only if the change it reports is
committed. It records only the facts of that change — the booking id, and for a
cancellation the tickets it cancelled with their refunds, the tickets left and the
calendar revision — from what the caller already loaded; nothing is rendered here and
no query is added (the recipient's address is read inside the INSERT). The sender
renders the message after commit (services/mail/emails.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import select

from ...extensions import db
from ...models import Booking, User
from ..errors import NotFound
from .calendar import revision
from .outbox import queue_email


def _booking(booking_id: int) -> Booking:
    booking = db.session.get(Booking, booking_id)  # the caller's, from the identity map
    if booking is None:
        raise NotFound("No such booking.")
    return booking


def _customer_address(booking: Booking) -> object:
    """The customer's address as of this transaction, read by the INSERT itself."""
    return select(User.email).where(User.id == booking.user_id).scalar_subquery()


@dataclass(frozen=True)
class ExchangeNote:
    """What an exchange replaced and settled, for the new booking's confirmation."""

    old_reference: str
    old_seats: list[str]
    charged_coins: int
    returned_coins: int
    refund_percent: int


def queue_booking_confirmation(
    booking_id: int, now: datetime, exchange: ExchangeNote | None = None
) -> None:
    """Queue the confirmation of a paid booking (every ticket it bought, with codes, QR
    images and the calendar file, rendered at send time). For an exchange, the same one
    email also says which booking it replaced (whose codes no longer work) and how the
    coins were settled. Runs in the caller's transaction; raises NotFound for an unknown
    booking."""
    booking = _booking(booking_id)
    facts: dict[str, object] = {"booking_id": booking.id}
    if exchange is not None:
        facts["exchange"] = asdict(exchange)
    queue_email(
        kind="booking_exchanged" if exchange else "booking_confirmation",
        to=_customer_address(booking),
        now=now,
        **facts,
    )


def _change_facts(
    booking: Booking, ticket_ids: Sequence[int], refund_coins: int
) -> dict[str, object]:
    """What a cancellation did, as it stands in the caller's transaction (after the
    tickets were marked cancelled): each cancelled ticket with the refund it got, the
    tickets that can still be used, and the calendar revision this change makes."""
    wanted = set(ticket_ids)
    return {
        "booking_id": booking.id,
        "cancelled": [[t.id, t.refund_coins] for t in booking.tickets if t.id in wanted],
        "refund_coins": refund_coins,
        "remaining": [t.id for t in booking.tickets if t.is_cancellable],
        "sequence": revision(booking.tickets),
    }


def queue_cancellation_notice(
    booking_id: int, ticket_ids: list[int], refund_coins: int, now: datetime
) -> None:
    """Queue the customer's cancellation/refund confirmation listing exactly the given
    tickets (the ones this cancellation cancelled), the coins it refunded and the
    calendar file's revision (a cancellation when no usable ticket is left). Runs in
    the caller's transaction, after the tickets were marked cancelled."""
    booking = _booking(booking_id)
    queue_email(
        kind="booking_cancelled",
        to=_customer_address(booking),
        now=now,
        **_change_facts(booking, ticket_ids, refund_coins),
    )


def queue_admin_cancellation_notice(
    booking_id: int, ticket_ids: list[int], refund_coins: int, now: datetime, reason: str = ""
) -> None:
    """Queue the notice that the cinema cancelled a booking (or its show), listing exactly
    the given tickets with their full refunds, the tickets used at the door that were kept
    (not refunded), the reason, and the calendar cancellation. Runs in the caller's
    transaction, after the tickets were marked cancelled."""
    booking = _booking(booking_id)
    queue_email(
        kind="booking_cancelled_by_admin",
        to=_customer_address(booking),
        now=now,
        used=[t.id for t in booking.tickets if t.is_used],
        reason=reason.strip(),
        **_change_facts(booking, ticket_ids, refund_coins),
    )
