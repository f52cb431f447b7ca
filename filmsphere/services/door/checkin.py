"""Ticket check-in at the door: one scan marks a ticket used, exactly once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from flask import current_app
from sqlalchemy import select

from ...clock import local_day_bounds, to_local
from ...extensions import db
from ...models import Show, ShowStatus, Ticket, TicketStatus, User
from ..locks import lock_ticket
from ..transaction import race_point, write_transaction
from .ticket_codes import InvalidTicketCode, read_ticket_code

Outcome = Literal["valid", "already_used", "wrong_show", "not_today", "cancelled", "invalid"]


@dataclass(frozen=True)
class CheckInResult:
    """What the door panel shows. Never carries the customer's name or email."""

    outcome: Outcome
    headline: str  # large text, e.g. "VALID"
    detail: str  # one sentence saying why / what to do
    film: str | None = None
    starts_at: datetime | None = None
    screen: str | None = None
    seat_label: str | None = None
    row_label: str | None = None
    seat_number: int | None = None
    category: str | None = None
    show_id: int | None = None
    ticket_id: int | None = None
    checked_in_at: datetime | None = None
    checked_in_by: str | None = None  # staff username

    @property
    def ok(self) -> bool:
        return self.outcome == "valid"

    @property
    def status(self) -> int:
        """HTTP status for the page: 200 valid, 422 unreadable, 409 refused ticket."""
        if self.outcome == "valid":
            return 200
        return 422 if self.outcome == "invalid" else 409


@dataclass(frozen=True)
class ShowOption:
    id: int
    label: str  # "19:30 · Film title · Screen 1"


def _result(
    outcome: Outcome,
    headline: str,
    detail: str,
    ticket: Ticket,
    show: Show,
    checked_in_by: str | None = None,
) -> CheckInResult:
    return CheckInResult(
        outcome=outcome,
        headline=headline,
        detail=detail,
        film=show.movie.title,
        starts_at=show.starts_at,
        screen=show.screen.name,
        seat_label=ticket.seat.label,
        row_label=ticket.seat.row_label,
        seat_number=ticket.seat.number,
        category=ticket.category,
        show_id=show.id,
        ticket_id=ticket.id,
        checked_in_at=ticket.checked_in_at,
        checked_in_by=checked_in_by,
    )


def _window(show: Show) -> tuple[datetime, datetime]:
    opens = show.starts_at - timedelta(minutes=current_app.config["CHECKIN_OPENS_MINUTES"])
    return opens, show.ends_at


def check_in(code: str, staff_id: int, now: datetime, show_id: int | None = None) -> CheckInResult:
    """Check a scanned or typed code and, if the ticket may enter now, mark it used.

    One write transaction; the booking row and then the ticket row are locked FOR UPDATE
    (SQLite: BEGIN IMMEDIATE) before the ticket's state is read, so two scanners
    presenting the same ticket at once get exactly one "valid" and one "already used",
    and a concurrent cancellation (which locks the booking first too) is serialised.
    With `show_id` (the show staff are checking in for) a ticket for another show is
    "wrong show"; without it a ticket is accepted from CHECKIN_OPENS_MINUTES before its
    show starts until the show ends.
    Never raises for a bad code: every outcome is a CheckInResult. Commits.
    """
    # Staff type codes by hand: ignore case and spaces (codes are upper-case base32; the
    # signature check itself stays exact).
    code = "".join(code.split()).upper()
    try:
        ticket_id, code_show_id = read_ticket_code(code)
    except InvalidTicketCode as exc:
        return CheckInResult("invalid", "INVALID", exc.message + " Do not let the holder in.")

    with write_transaction() as session:
        ticket = lock_ticket(ticket_id)
        if ticket is None or ticket.show_id != code_show_id:
            # A genuine signature for a ticket we don't have: a code from another database
            # (e.g. a reset demo) — just as unusable as a forged one.
            return CheckInResult("invalid", "INVALID", "No such ticket. Do not let the holder in.")
        race_point("check_in.locked")
        show = session.get(Show, ticket.show_id)
        assert show is not None

        if ticket.status == TicketStatus.CANCELLED or show.status == ShowStatus.CANCELLED:
            return _result(
                "cancelled",
                "CANCELLED",
                "This ticket was cancelled and is no longer valid.",
                ticket,
                show,
            )
        if ticket.checked_in_at is not None:
            staff = session.get(User, ticket.checked_in_by_id) if ticket.checked_in_by_id else None
            return _result(
                "already_used",
                "ALREADY USED",
                "This ticket was already checked in.",
                ticket,
                show,
                checked_in_by=staff.username if staff else None,
            )
        if show_id is not None and show.id != show_id:
            return _result(
                "wrong_show",
                "WRONG SHOW",
                "This ticket is for another show (below).",
                ticket,
                show,
            )
        opens, closes = _window(show)
        # The door window applies whether or not staff picked a show: a used ticket can
        # never be refunded, so it must not be marked used hours before its show.
        if not opens <= now < closes:
            same_day = to_local(show.starts_at).date() == to_local(now).date()
            if not same_day:
                headline, detail = "NOT TODAY", "This ticket is for a show on another day."
            elif now < opens:
                headline, detail = "TOO EARLY", "Entry for this show has not opened yet."
            else:
                headline, detail = "SHOW OVER", "This show has already ended."
            return _result("not_today", headline, detail, ticket, show)

        ticket.checked_in_at = now
        ticket.checked_in_by_id = staff_id
        staff = session.get(User, staff_id)
        return _result(
            "valid",
            "VALID",
            "Let the holder in.",
            ticket,
            show,
            checked_in_by=staff.username if staff else None,
        )


def todays_shows(now: datetime) -> list[ShowOption]:
    """Shows starting on the cinema's local date of `now` (not cancelled), by start time."""
    day_start, day_end = local_day_bounds(to_local(now).date())
    shows = db.session.scalars(
        select(Show)
        .where(
            Show.starts_at >= day_start,
            Show.starts_at < day_end,
            Show.status != ShowStatus.CANCELLED,
        )
        .order_by(Show.starts_at, Show.id)
    )
    return [
        ShowOption(s.id, f"{to_local(s.starts_at):%H:%M} · {s.movie.title} · {s.screen.name}")
        for s in shows
    ]
