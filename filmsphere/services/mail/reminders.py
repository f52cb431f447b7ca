"""Show reminders by email: the day before and shortly before, each sent once per booking.

When a reminder is due:
- **day before**: at the show's local time of day, `REMINDER_DAYS_BEFORE` calendar days
  earlier in the cinema's time zone (a 20:00 show on the Sunday clocks go forward is
  reminded at 20:00 on Saturday, 23 hours before; wall-clock arithmetic on the zone);
- **soon**: `REMINDER_MINUTES_BEFORE` minutes of elapsed time before the start (the clocks
  changing in between doesn't matter).
Either setting at 0 turns that reminder off. A reminder is sent from its due time until
the next one is due (the day-before one) or the show starts (the soon one), so a cron that
was down sends at most the one still useful, never a stale one; and never for a booking
made after its due time (the confirmation has just arrived).

Once per booking and kind: the row in `booking_reminders` (unique per booking and kind) is
inserted in the very transaction that queues the email, with ON CONFLICT DO NOTHING
(`locks.claim_reminder`, guard "reminders"); a second run, on this machine or another,
finds the row and queues nothing. Only bookings
with an active, unused ticket of a scheduled show get one: cancelled, exchanged or
given-away bookings none. Customers who turned reminders off on /account get none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import exists, select

from ...clock import cinema_tz
from ...extensions import db
from ...models import (
    Booking,
    BookingReminder,
    ReminderKind,
    Show,
    ShowStatus,
    Ticket,
    TicketStatus,
    User,
)
from ..errors import NotFound
from ..locks import claim_reminder, lock_booking
from ..transaction import race_point, write_transaction
from .outbox import queue_email


@dataclass
class ReminderRun:
    """What one `send_reminders` run queued, per kind."""

    queued: dict[str, int] = field(default_factory=lambda: {k.value: 0 for k in ReminderKind})

    @property
    def total(self) -> int:
        return sum(self.queued.values())

    def __str__(self) -> str:
        return (
            f"reminders: {self.total} queued ({self.queued[ReminderKind.DAY_BEFORE]} for the "
            f"day before, {self.queued[ReminderKind.SOON]} shortly before)"
        )


def due_at(kind: ReminderKind, starts_at: datetime) -> datetime | None:
    """When the reminder of `kind` for a show starting at `starts_at` is due (UTC), or None
    when that reminder is turned off. Pure: reads the configuration and the time zone."""
    if kind == ReminderKind.DAY_BEFORE:
        days = current_app.config["REMINDER_DAYS_BEFORE"]
        if days <= 0:
            return None
        # Arithmetic on a zoneinfo-aware datetime is wall-clock arithmetic: same local time
        # of day, `days` calendar days earlier, with that day's UTC offset.
        local = starts_at.astimezone(cinema_tz())
        return (local - timedelta(days=days)).astimezone(UTC)
    minutes = current_app.config["REMINDER_MINUTES_BEFORE"]
    if minutes <= 0:
        return None
    return starts_at - timedelta(minutes=minutes)


def sending_window(kind: ReminderKind, starts_at: datetime) -> tuple[datetime, datetime] | None:
    """[from, until) during which the reminder may go: from its due time until the next
    reminder is due or the show starts. None when the reminder is off or has no window."""
    start = due_at(kind, starts_at)
    if start is None:
        return None
    until = starts_at
    if kind == ReminderKind.DAY_BEFORE:
        soon = due_at(ReminderKind.SOON, starts_at)
        if soon is not None:
            until = soon
    return (start, until) if start < until else None


def _is_due(kind: ReminderKind, starts_at: datetime, booked_at: datetime, now: datetime) -> bool:
    """Inside the reminder's window, for a booking made before the window opened."""
    window = sending_window(kind, starts_at)
    return window is not None and window[0] <= now < window[1] and booked_at < window[0]


def _lead_time() -> timedelta:
    """How far ahead a run looks: the longest reminder lead, plus slack for a clock change."""
    days = max(current_app.config["REMINDER_DAYS_BEFORE"], 0)
    minutes = max(current_app.config["REMINDER_MINUTES_BEFORE"], 0)
    return max(timedelta(days=days) + timedelta(hours=2), timedelta(minutes=minutes))


def _has_usable_ticket() -> Any:
    return exists().where(
        Ticket.booking_id == Booking.id,
        Ticket.status == TicketStatus.ACTIVE,
        Ticket.checked_in_at.is_(None),
    )


def due_reminders(now: datetime) -> list[tuple[int, ReminderKind]]:
    """(booking id, kind) of every reminder due at `now` and not sent yet. Reads only."""
    rows = db.session.execute(
        select(Booking.id, Booking.created_at, Show.starts_at)
        .join(Show, Show.id == Booking.show_id)
        .join(User, User.id == Booking.user_id)
        .where(
            Show.status == ShowStatus.SCHEDULED,
            Show.starts_at > now,
            Show.starts_at <= now + _lead_time(),
            User.reminders_enabled.is_(True),
            User.is_active_account.is_(True),
            _has_usable_ticket(),
        )
        .order_by(Show.starts_at, Booking.id)
    ).all()
    sent = {
        (booking_id, kind)
        for booking_id, kind in db.session.execute(
            select(BookingReminder.booking_id, BookingReminder.kind).where(
                BookingReminder.booking_id.in_([r.id for r in rows])
            )
        )
    }
    due = [
        (booking_id, kind)
        for booking_id, created_at, starts_at in rows
        for kind in ReminderKind
        if _is_due(kind, starts_at, created_at, now) and (booking_id, kind.value) not in sent
    ]
    db.session.rollback()  # end the read transaction before the writes
    return due


def send_reminder(booking_id: int, kind: ReminderKind, now: datetime) -> bool:
    """Queue one reminder email if it is still due and nobody sent it: one transaction
    that takes the booking row shared (a cancellation or exchange, which locks it for
    update, is either before it — and then no ticket is left to remind of — or after it),
    re-checks the booking, inserts the claim row and queues the email. Returns whether
    it queued the email. Commits; never raises for a booking that stopped qualifying."""
    with write_transaction():
        booking = lock_booking(booking_id, shared=True)
        tickets = sorted((t for t in booking.tickets if t.is_cancellable), key=lambda t: t.id)
        user = db.session.get(User, booking.user_id)
        if (
            not tickets
            or user is None
            or not user.reminders_enabled
            or not user.is_active_account
            or booking.show.status != ShowStatus.SCHEDULED
            or not _is_due(kind, booking.show.starts_at, booking.created_at, now)
        ):
            return False
        if not claim_reminder(booking_id, kind.value, now):
            return False
        queue_email(
            kind=f"reminder_{kind.value}",
            to=user.email,
            now=now,
            booking_id=booking.id,
            seats=[t.seat.label for t in tickets],
        )
        return True


def send_reminders(now: datetime) -> ReminderRun:
    """Queue every reminder due at `now` (cron: `flask send-reminders`). Each reminder is
    its own short transaction (send_reminder), so a run never holds many locks and two
    runs at once queue each reminder once. Idempotent."""
    run = ReminderRun()
    due = due_reminders(now)
    race_point("reminders.before_claim")
    for booking_id, kind in due:
        if send_reminder(booking_id, kind, now):
            run.queued[kind.value] += 1
    return run


def set_reminders(user_id: int, enabled: bool) -> bool:
    """Turn the user's show reminders on or off (the /account opt-out); reminders already
    queued still go, none are queued after. Commits; returns the new setting. Raises
    NotFound for an unknown user."""
    with write_transaction():
        user = db.session.get(User, user_id, with_for_update=True)
        if user is None:
            raise NotFound("No such account.")
        user.reminders_enabled = enabled
        return enabled
