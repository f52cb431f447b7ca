"""Booking emails (confirmation, cancellation, admin cancellation) queued in the outbox.

Every function here runs INSIDE the caller's write transaction (checkout, cancellation):
it reads with db.session, adds OutboxMessage rows and never commits, so the email exists
if and only if the change it reports is committed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app

from ..extensions import db
from ..models import Booking, Ticket, TicketStatus, User
from ..wording import format_datetime
from .calendar import booking_ics, ics_filename
from .errors import NotFound
from .outbox import Attachment, queue_email
from .ticket_codes import ticket_code


@dataclass(frozen=True)
class QrAttachment(Attachment):
    """A ticket's QR image, stored in the outbox as its code only ({"qr": code}); the mailer
    draws the PNG when it sends the message (services/mailer.py). Drawing it here took
    ~10 ms per ticket inside the checkout transaction, with the seat and wallet rows
    locked. The message itself is still written in the caller's transaction."""

    qr_code: str = ""

    def as_json(self) -> dict[str, str]:
        item = {"filename": self.filename, "content_type": self.content_type, "qr": self.qr_code}
        if self.inline_cid:
            item["inline_cid"] = self.inline_cid
        return item


@dataclass(frozen=True)
class EmailTicket:
    """One ticket as the email templates show it."""

    id: int
    seat_label: str
    row_label: str
    number: int
    category: str
    price_coins: int
    status: str
    refund_coins: int | None
    code: str | None  # only for active tickets
    cid: str | None  # Content-ID of its inline QR image


def _load(booking_id: int) -> tuple[Booking, User]:
    booking = db.session.get(Booking, booking_id)
    if booking is None:
        raise NotFound("No such booking.")
    user = db.session.get(User, booking.user_id)
    if user is None:  # pragma: no cover - foreign key makes this impossible
        raise NotFound("No such customer.")
    return booking, user


def _subject(prefix: str, booking: Booking) -> str:
    show = booking.show
    # A title can't break the header (no CR/LF) and the column holds 200 characters.
    title = " ".join(show.movie.title.split())
    when = format_datetime(show.starts_at)
    room = 200 - len(prefix) - len(when) - 3
    if len(title) > room:
        title = title[: max(room - 1, 1)] + "…"
    return f"{prefix}{title} — {when}"


def _booking_url(booking: Booking) -> str:
    return f"{current_app.config.get('BASE_URL', '')}/bookings/{booking.reference}"


def _email_tickets(tickets: Iterable[Ticket], with_codes: bool) -> list[EmailTicket]:
    lines = []
    for t in tickets:
        active = t.status == TicketStatus.ACTIVE
        lines.append(
            EmailTicket(
                id=t.id,
                seat_label=t.seat.label,
                row_label=t.seat.row_label,
                number=t.seat.number,
                category=t.category,
                price_coins=t.price_coins,
                status=t.status,
                refund_coins=t.refund_coins,
                code=ticket_code(t) if with_codes and active else None,
                cid=f"ticket-{t.id}@filmsphere" if with_codes and active else None,
            )
        )
    return lines


def _common(booking: Booking, user: User) -> dict[str, Any]:
    show = booking.show
    return {
        "booking": booking,
        "show": show,
        "movie": show.movie,
        "screen": show.screen,
        "customer_name": user.full_name or user.username,
        "booking_url": _booking_url(booking),
    }


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
    """Queue the confirmation of a paid booking: every active ticket with its code and its
    QR as an inline PNG (cid; drawn by the mailer at send time), and the .ics attached.
    For an exchange, the same one email also says which booking it replaced (whose codes
    no longer work) and how the coins were settled.
    Runs in the caller's transaction; raises NotFound for an unknown booking."""
    booking, user = _load(booking_id)
    tickets = _email_tickets(booking.tickets, with_codes=True)
    attachments: list[Attachment] = [
        QrAttachment(
            filename=f"ticket-{t.seat_label}.png",
            content_type="image/png",
            data=b"",
            inline_cid=t.cid,
            qr_code=t.code,
        )
        for t in tickets
        if t.code and t.cid
    ]
    attachments.append(
        Attachment(
            filename=ics_filename(booking),
            content_type="text/calendar",
            data=booking_ics(booking, now).encode("utf-8"),
        )
    )
    queue_email(
        kind="booking_exchanged" if exchange else "booking_confirmation",
        to=user.email,
        subject=_subject("Your new tickets for " if exchange else "Your tickets for ", booking),
        template="booking_confirmation",
        now=now,
        attachments=attachments,
        tickets=[t for t in tickets if t.code],
        exchange=exchange,
        **_common(booking, user),
    )


def _cancelled_now(booking: Booking, ticket_ids: list[int]) -> list[EmailTicket]:
    """The tickets one change cancelled, with their refunds: never earlier cancellations."""
    wanted = set(ticket_ids)
    return _email_tickets((t for t in booking.tickets if t.id in wanted), with_codes=False)


def queue_cancellation_notice(
    booking_id: int, ticket_ids: list[int], refund_coins: int, now: datetime
) -> None:
    """Queue the customer's cancellation/refund confirmation listing exactly the given
    tickets (the ones this cancellation cancelled) and the coins it refunded. Runs in the
    caller's transaction (after the tickets were marked cancelled)."""
    booking, user = _load(booking_id)
    still_active = [t for t in booking.tickets if t.is_cancellable]
    queue_email(
        kind="booking_cancelled",
        to=user.email,
        subject=_subject("Cancelled: ", booking),
        template="booking_cancelled",
        now=now,
        cancelled=_cancelled_now(booking, ticket_ids),
        refund_coins=refund_coins,
        remaining=len(still_active),
        **_common(booking, user),
    )


def queue_admin_cancellation_notice(
    booking_id: int, ticket_ids: list[int], refund_coins: int, now: datetime, reason: str = ""
) -> None:
    """Queue the notice that the cinema cancelled a booking (or its show), listing exactly
    the given tickets with their full refunds, the tickets used at the door that were kept
    (not refunded), and the reason. Runs in the caller's transaction."""
    booking, user = _load(booking_id)
    queue_email(
        kind="booking_cancelled_by_admin",
        to=user.email,
        subject=_subject("The cinema cancelled your booking: ", booking),
        template="booking_cancelled_by_admin",
        now=now,
        cancelled=_cancelled_now(booking, ticket_ids),
        used_seats=[t.seat.label for t in booking.tickets if t.is_used],
        refund_coins=refund_coins,
        reason=reason.strip(),
        **_common(booking, user),
    )
