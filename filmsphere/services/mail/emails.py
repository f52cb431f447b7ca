"""What each email says: outbox rows rendered at send time into subject, text, HTML, QR
images and calendar files, from the facts the change that queued them recorded.

A change queues only its facts (notifications.py): ids and the values that were true
then (the tickets a cancellation cancelled and what each refunded, the code of a
verification). The sender renders a batch of rows here, after their transaction is long
committed: the batch's bookings, tickets, seats, shows and customers are read in three
queries, each message is rendered once, and a QR code or calendar file needed twice in a
batch is drawn once. Rows queued before rendering moved here (payload {"rendered": …})
are sent as they were written.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from flask import current_app
from sqlalchemy import select

from ...extensions import db
from ...models import Booking, Show, Ticket, User
from ...wording import format_datetime
from ..booking.ticket_lines import TicketLine
from ..door.qr import qr_png
from ..door.ticket_codes import ticket_code
from .calendar import booking_calendar, calendar_method, ics_filename


@dataclass(frozen=True)
class Part:
    """An attachment, or an image shown inside the HTML (inline_cid set)."""

    filename: str
    content_type: str
    data: bytes
    inline_cid: str | None = None


@dataclass(frozen=True)
class Email:
    subject: str
    text: str
    html: str | None
    parts: tuple[Part, ...] = ()


class Queued(Protocol):
    """An outbox row as the sender claimed it (read-only)."""

    @property
    def id(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def to_address(self) -> str: ...
    @property
    def payload(self) -> dict[str, Any]: ...
    @property
    def created_at(self) -> datetime: ...


class CannotRender(Exception):
    """The facts a message needs are gone or malformed."""


@dataclass(frozen=True)
class EmailTicket(TicketLine):
    """One ticket as the email templates show it."""

    code: str | None  # confirmations only
    cid: str | None  # Content-ID of its inline QR image


@dataclass
class Batch:
    """What one batch of messages needs, read once: bookings (with show, film, screen and
    tickets with seats) and customers; QR images and calendar files drawn once."""

    bookings: dict[int, Booking] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)
    qr: dict[str, bytes] = field(default_factory=dict)
    calendars: dict[tuple[int, int, bool], bytes] = field(default_factory=dict)

    def load(self, messages: Iterable[Queued]) -> None:
        ids = {int(m.payload["booking_id"]) for m in messages if "booking_id" in m.payload}
        if not ids:
            return
        # Booking.show (with film and screen) is joined; tickets come in one more query
        # (selectin), each with its seat joined.
        for booking in db.session.scalars(select(Booking).where(Booking.id.in_(ids))):
            self.bookings[booking.id] = booking
        users = {b.user_id for b in self.bookings.values()}
        for row in db.session.execute(
            select(User.id, User.full_name, User.username).where(User.id.in_(users))
        ):
            self.names[row.id] = row.full_name or row.username

    def booking(self, payload: dict[str, Any]) -> Booking:
        booking = self.bookings.get(int(payload["booking_id"]))
        if booking is None:
            raise CannotRender(f"booking {payload['booking_id']} does not exist")
        return booking

    def qr_png(self, code: str) -> bytes:
        if code not in self.qr:
            self.qr[code] = qr_png(code)
        return self.qr[code]

    def calendar(
        self,
        booking: Booking,
        seats: list[Ticket],
        sequence: int,
        cancelled: bool,
        stamp: datetime,
        attendee: str,
    ) -> Part:
        key = (booking.id, sequence, cancelled)
        if key not in self.calendars:
            self.calendars[key] = booking_calendar(
                booking,
                seats,
                sequence=sequence,
                cancelled=cancelled,
                stamp=stamp,
                attendee=attendee,
            )
        return Part(
            filename=ics_filename(booking),
            content_type=f"text/calendar; charset=utf-8; method={calendar_method(cancelled)}",
            data=self.calendars[key],
        )


Renderer = Callable[[Queued, Batch], Email]
RENDERERS: dict[str, Renderer] = {}


def renders(kind: str) -> Callable[[Renderer], Renderer]:
    def register(function: Renderer) -> Renderer:
        RENDERERS[kind] = function
        return function

    return register


def render_batch(messages: Sequence[Queued]) -> dict[int, Email | CannotRender]:
    """Render every message of a batch once: an Email per message id, or CannotRender
    when its facts are gone (the sender records that as a failed try). Reads the
    database (a few queries for the whole batch); commits nothing."""
    batch = Batch()
    batch.load(m for m in messages if "rendered" not in m.payload)
    out: dict[int, Email | CannotRender] = {}
    for message in messages:
        try:
            if "rendered" in message.payload:
                out[message.id] = _as_written(message.payload["rendered"])
            else:
                out[message.id] = RENDERERS[message.kind](message, batch)
        except CannotRender as exc:
            out[message.id] = exc
        except (KeyError, TypeError, ValueError) as exc:
            out[message.id] = CannotRender(f"{type(exc).__name__}: {exc}")
    return out


def render_message(message: Queued) -> Email:
    """One message, as the sender would render it (tests, the console)."""
    result = render_batch([message])[message.id]
    if isinstance(result, CannotRender):
        raise result
    return result


def _render(template: str, **context: Any) -> tuple[str, str]:
    """templates/emails/<template>.txt and .html; autoescaping escapes every
    user-supplied value in the HTML. No request is needed (nor any context processor)."""
    env = current_app.jinja_env
    text = env.get_template(f"emails/{template}.txt").render(**context)
    html = env.get_template(f"emails/{template}.html").render(**context)
    return text, html


def _base_url() -> str:
    return str(current_app.config.get("BASE_URL", ""))


# --- account emails ---------------------------------------------------------------------


@renders("verify_email")
def _verify_email(message: Queued, batch: Batch) -> Email:
    facts = message.payload
    text, html = _render("verify_email", **facts)
    return Email(f"Your FilmSphere code: {facts['code']}", text, html)


@renders("password_reset")
def _password_reset(message: Queued, batch: Batch) -> Email:
    text, html = _render("password_reset", **message.payload)
    return Email("Reset your FilmSphere password", text, html)


@renders("register_attempt")
def _register_attempt(message: Queued, batch: Batch) -> Email:
    base = _base_url()
    text, html = _render(
        "register_attempt",
        **message.payload,
        login_link=f"{base}/auth/login",
        reset_link=f"{base}/auth/reset",
        register_link=f"{base}/auth/register",
    )
    return Email("About your FilmSphere registration", text, html)


ACCOUNT_CHANGE_SUBJECTS = {
    "email_confirm": "Confirm your new FilmSphere email address",
    "email_taken": "About your FilmSphere email address",
    "email_requested": "Your FilmSphere email address is about to change",
    "email_changed": "Your FilmSphere email address was changed",
    "account_closed": "Your FilmSphere account is closed",
}


def _account_change(message: Queued, batch: Batch) -> Email:
    """A change of the account's email address, or its closing (services.account_changes):
    the stage decides the words of templates/emails/account_change."""
    base = _base_url()
    text, html = _render(
        "account_change",
        **message.payload,
        account_link=f"{base}/account",
        reset_link=f"{base}/auth/reset",
    )
    return Email(ACCOUNT_CHANGE_SUBJECTS[message.kind], text, html)


for _kind in ACCOUNT_CHANGE_SUBJECTS:
    renders(_kind)(_account_change)


@renders("waitlist_offer")
def _waitlist_offer(message: Queued, batch: Batch) -> Email:
    """Seats that came back, held for a waitlist entry until the offer expires."""
    facts = message.payload
    show = db.session.get(Show, facts["show_id"])
    if show is None:
        raise CannotRender("the show is gone")
    title = " ".join(show.movie.title.split())[:120]
    text, html = _render(
        "waitlist_offer",
        **(facts | {"expires_at": datetime.fromisoformat(facts["expires_at"])}),
        movie=show.movie,
        show=show,
        seat_map_url=f"{_base_url()}/shows/{show.id}",
    )
    return Email(f"Seats for you: {title} — {format_datetime(show.starts_at)}", text, html)


# --- booking emails ---------------------------------------------------------------------


def _subject(prefix: str, booking: Booking) -> str:
    show = booking.show
    # A title can't break the header (no CR/LF) and a subject stays within 200 characters.
    title = " ".join(show.movie.title.split())
    when = format_datetime(show.starts_at)
    room = 200 - len(prefix) - len(when) - 3
    if len(title) > room:
        title = title[: max(room - 1, 1)] + "…"
    return f"{prefix}{title} — {when}"


def _common(booking: Booking, batch: Batch) -> dict[str, Any]:
    show = booking.show
    return {
        "booking": booking,
        "show": show,
        "movie": show.movie,
        "screen": show.screen,
        "customer_name": batch.names.get(booking.user_id, ""),
        "booking_url": f"{_base_url()}/bookings/{booking.reference}",
    }


def _line(ticket: Ticket, refund: int | None = None, code: str | None = None) -> EmailTicket:
    return EmailTicket.of(
        ticket,
        refund_coins=refund,
        code=code,
        cid=f"ticket-{ticket.id}@filmsphere" if code else None,
    )


def _tickets(booking: Booking, ids: Iterable[int]) -> list[Ticket]:
    wanted = set(ids)
    return [t for t in booking.tickets if t.id in wanted]


@renders("booking_confirmation")
@renders("booking_exchanged")
def _booking_confirmation(message: Queued, batch: Batch) -> Email:
    """Every ticket the checkout (or an exchange) bought, with its code and its QR as an
    inline PNG, and the booking's calendar file (revision 0, with a reminder); for an
    exchange, what it replaced and how the coins were settled."""
    booking = batch.booking(message.payload)
    exchange = message.payload.get("exchange")
    tickets = [_line(t, code=ticket_code(t)) for t in booking.tickets]
    text, html = _render(
        "booking_confirmation", tickets=tickets, exchange=exchange, **_common(booking, batch)
    )
    parts = [
        Part(
            filename=f"ticket-{t.seat_label}.png",
            content_type="image/png",
            data=batch.qr_png(t.code),
            inline_cid=t.cid,
        )
        for t in tickets
        if t.code
    ]
    parts.append(
        batch.calendar(
            booking,
            list(booking.tickets),
            sequence=0,
            cancelled=False,
            stamp=message.created_at,
            attendee=message.to_address,
        )
    )
    prefix = "Your new tickets for " if exchange else "Your tickets for "
    return Email(_subject(prefix, booking), text, html, tuple(parts))


def _cancelled_lines(booking: Booking, facts: dict[str, Any]) -> list[EmailTicket]:
    """The tickets that change cancelled with the refund each got then."""
    refunds = {int(ticket_id): refund for ticket_id, refund in facts["cancelled"]}
    return [_line(t, refund=refunds[t.id]) for t in _tickets(booking, refunds)]


def _calendar_after(message: Queued, booking: Booking, batch: Batch) -> Part:
    """The event as that change left it: cancelled when no ticket that could still be
    used remained, otherwise revised to the seats left."""
    facts = message.payload
    remaining = _tickets(booking, facts["remaining"])
    return batch.calendar(
        booking,
        remaining,
        sequence=int(facts["sequence"]),
        cancelled=not remaining,
        stamp=message.created_at,
        attendee=message.to_address,
    )


@renders("booking_cancelled")
def _booking_cancelled(message: Queued, batch: Batch) -> Email:
    remaining = len(message.payload["remaining"])
    return _cancellation(message, batch, "Cancelled: ", remaining=remaining)


@renders("booking_cancelled_by_admin")
def _booking_cancelled_by_admin(message: Queued, batch: Batch) -> Email:
    facts = message.payload
    used = _tickets(batch.booking(facts), facts["used"])
    return _cancellation(
        message,
        batch,
        "The cinema cancelled your booking: ",
        used_seats=[t.seat.label for t in used],
        reason=facts["reason"],
    )


def _cancellation(message: Queued, batch: Batch, prefix: str, **context: Any) -> Email:
    """A cancellation notice (templates/emails/<kind>): the tickets that change cancelled
    with their refunds, the total refunded, and the calendar event as it left it."""
    facts = message.payload
    booking = batch.booking(facts)
    text, html = _render(
        message.kind,
        cancelled=_cancelled_lines(booking, facts),
        refund_coins=facts["refund_coins"],
        **context,
        **_common(booking, batch),
    )
    calendar = _calendar_after(message, booking, batch)
    return Email(_subject(prefix, booking), text, html, (calendar,))


# --- reminders and tickets sent to a friend (services/mail/reminders.py, transfers.py) --------

REMINDER_SUBJECTS = {"reminder_day_before": "Reminder: ", "reminder_soon": "Starting soon: "}


def _reminder(message: Queued, batch: Batch) -> Email:
    """A show reminder: when and where, the seats still usable when it was queued, and
    how to turn reminders off."""
    facts = message.payload
    booking = batch.booking(facts)
    text, html = _render(
        "show_reminder",
        soon=message.kind == "reminder_soon",
        seats=facts["seats"],
        account_url=f"{_base_url()}/account",
        **_common(booking, batch),
    )
    return Email(_subject(REMINDER_SUBJECTS[message.kind], booking), text, html)


for _kind in REMINDER_SUBJECTS:
    renders(_kind)(_reminder)


@renders("ticket_transfer_offer")
def _ticket_transfer_offer(message: Queued, batch: Batch) -> Email:
    """The friend's link to accept the seats offered, and until when it works."""
    facts = message.payload
    booking = batch.booking(facts)
    text, html = _render(
        "ticket_transfer_offer",
        sender_name=facts["sender_name"],
        seats=facts["seats"],
        accept_url=f"{_base_url()}/transfers/{facts['secret']}",
        expires_at=datetime.fromisoformat(facts["expires_at"]),
        **_common(booking, batch),
    )
    return Email(_subject(f"{facts['sender_name']} sent you ", booking), text, html)


@renders("ticket_transfer_accepted")
def _ticket_transfer_accepted(message: Queued, batch: Batch) -> Email:
    """The sender's note that the friend accepted the seats (whose codes now fail)."""
    facts = message.payload
    booking = batch.booking(facts)
    text, html = _render(
        "ticket_transfer_accepted",
        recipient=facts["recipient"],
        seats=facts["seats"],
        **_common(booking, batch),
    )
    return Email(_subject("Your friend accepted your ticket: ", booking), text, html)


# --- rows written before rendering moved to the sender -----------------------------------


def _as_written(rendered: dict[str, Any]) -> Email:
    """A message queued already rendered (before this version): its subject, bodies and
    attachments as stored; a ticket QR stored as its code ({"qr": code}) is drawn now."""
    parts = []
    for item in rendered.get("attachments") or []:
        data = qr_png(item["qr"]) if "qr" in item else base64.b64decode(item["data_b64"])
        parts.append(Part(item["filename"], item["content_type"], data, item.get("inline_cid")))
    return Email(rendered["subject"], rendered["text"], rendered.get("html"), tuple(parts))
