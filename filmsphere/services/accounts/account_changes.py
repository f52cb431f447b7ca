"""A customer's own changes to the account: name, email address (confirmed from the new
address, the old one told), and closing it (personal data anonymised, bookings and
ledger kept).

Closing is refused while the account holds a ticket that can still be used, rather than
cancelling and refunding it: a customer's cancellation follows the refund rules (100 %,
80 %, nothing) and shows its quote before anything happens, and coins refunded into a
closed wallet could never be spent. The customer cancels what they want to cancel, with
the quote, and closes afterwards (or after the shows).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Select, delete, exists, func, select, update
from werkzeug.security import check_password_hash

from ...extensions import db
from ...models import (
    AccountRequest,
    AccountToken,
    ApiToken,
    Booking,
    EmailChange,
    OutboxMessage,
    Role,
    SeatHold,
    Show,
    ShowStatus,
    Ticket,
    TicketStatus,
    User,
)
from .. import locks
from ..errors import Conflict, NotFound
from ..mail.outbox import queue_email
from ..transaction import race_point, write_transaction
from .accounts import (
    INVALID_LINK,
    InvalidInput,
    InvalidToken,
    WrongPassword,
    _base_url,
    _digest,
    _find_by_email,
    _set_password,
    check_full_name,
    normalize_email,
)

WRONG_PASSWORD = "Your current password is not right."


class HasUpcomingTickets(Conflict):
    """Closing is refused while the account holds tickets that can still be used."""


def _check_password(user_id: int, password: str) -> User:
    user = db.session.get(User, user_id)
    if user is None or user.closed_at is not None:
        raise NotFound("There is no such account.")
    if not check_password_hash(user.password_hash, password):
        raise WrongPassword(WRONG_PASSWORD)
    return user


def _locked_user(user_id: int) -> User:
    # FOR NO KEY UPDATE: bookings and ledger rows that reference the user (a checkout in
    # another tab) are not held up by it; only other changes of this row are.
    return db.session.scalars(
        select(User).where(User.id == user_id).with_for_update(key_share=True)
    ).one()


def _note(to: str, full_name: str, stage: str, now: datetime, **context: Any) -> None:
    """Queue the note of one stage of an email change (confirm, taken, requested,
    changed) or of the closing; services/mail/emails.py words it."""
    queue_email(
        kind=f"email_{stage}" if stage != "closed" else "account_closed",
        to=to,
        now=now,
        stage=stage,
        full_name=full_name,
        **context,
    )


# --- name -----------------------------------------------------------------------------


def change_name(user_id: int, full_name: str) -> None:
    """Set the user's full name (spaces tidied, 1-120 characters). Raises InvalidInput
    (422); commits."""
    name = check_full_name(full_name)
    with write_transaction():
        _locked_user(user_id).full_name = name


# --- email ----------------------------------------------------------------------------


def request_email_change(user_id: int, password: str, new_email: str, now: datetime) -> str:
    """Ask to move the account to `new_email`; returns the address as normalised. Nothing
    changes until the link sent to the new address is followed (confirm_email_change);
    earlier requests stop working; the current address is told. When another account has
    the new address, that address gets a note instead of a link, and the answer is the
    same, so the form tells nobody which addresses have accounts. Raises WrongPassword,
    InvalidInput (422); commits."""
    user = _check_password(user_id, password)
    address = normalize_email(new_email)
    if address.lower() == user.email.lower():
        raise InvalidInput("That is already your email address.", "new_email")
    token = secrets.token_urlsafe(32)
    minutes = int(current_app.config["VERIFY_CODE_MINUTES"])
    with write_transaction():
        user = _locked_user(user_id)
        _retire_email_changes(user.id, now)
        if _find_by_email(address) is not None:
            # Addressed to whoever owns that account: not the asker's name.
            _note(address, "", "taken", now)
            return address
        db.session.add(
            EmailChange(
                user_id=user.id,
                new_email=address,
                secret_hash=_digest("e", token),
                created_at=now,
                expires_at=now + timedelta(minutes=minutes),
            )
        )
        _note(
            address,
            user.full_name,
            "confirm",
            now,
            link=f"{_base_url()}/account/email/{token}",
            minutes=str(minutes),
        )
        _note(user.email, user.full_name, "requested", now, new_email=address)
    return address


def _retire_email_changes(user_id: int, now: datetime) -> None:
    db.session.execute(
        update(EmailChange)
        .where(EmailChange.user_id == user_id, EmailChange.used_at.is_(None))
        .values(used_at=now)
    )


def _live_change(token: str, now: datetime) -> EmailChange | None:
    return db.session.scalars(
        select(EmailChange).where(
            EmailChange.secret_hash == _digest("e", token),
            EmailChange.used_at.is_(None),
            EmailChange.expires_at > now,
        )
    ).first()


def pending_email_change(token: str, now: datetime) -> str:
    """The new address a link would confirm. Raises InvalidToken (410 at the route) for
    a wrong, used or expired link. Reads only."""
    change = _live_change(token, now)
    if change is None:
        raise InvalidToken(INVALID_LINK)
    return change.new_email


def confirm_email_change(token: str, now: datetime) -> User:
    """Follow the link sent to the new address: the account's email becomes it (and counts
    as verified, since the link proves it), the link is used up, the old address is told.
    Under the user's row lock; an address another account took meanwhile is refused
    (Conflict 409). Raises InvalidToken (422); commits."""
    with write_transaction():
        change = _live_change(token, now)
        if change is None:
            raise InvalidToken(INVALID_LINK)
        user = _locked_user(change.user_id)
        db.session.refresh(change, with_for_update=True)
        if change.used_at is not None or user.closed_at is not None:
            raise InvalidToken(INVALID_LINK)
        taken = _find_by_email(change.new_email)
        if taken is not None and taken.id != user.id:
            raise Conflict("Another account uses that address now, so yours was not changed.")
        old_email = user.email
        user.email = change.new_email
        user.email_verified_at = now
        _retire_email_changes(user.id, now)
        _note(old_email, user.full_name, "changed", now, new_email=change.new_email)
    return user


# --- closing --------------------------------------------------------------------------


def _usable_tickets(user_id: int, now: datetime) -> Select[tuple[str]]:
    return (
        select(Booking.reference)
        .join(Ticket, Ticket.booking_id == Booking.id)
        .join(Show, Show.id == Booking.show_id)
        .where(
            Booking.user_id == user_id,
            Ticket.status == TicketStatus.ACTIVE,
            Ticket.checked_in_at.is_(None),
            Show.status != ShowStatus.CANCELLED,
            Show.ends_at > now,
        )
        .distinct()
    )


def upcoming_references(user_id: int, now: datetime) -> list[str]:
    """References of the user's bookings with a ticket that can still be used (the show
    has not ended, nor been cancelled; the ticket is neither cancelled nor used). Reads
    only."""
    return list(db.session.scalars(_usable_tickets(user_id, now).order_by(Booking.reference)))


@dataclass(frozen=True)
class ClosedAccount:
    user_id: int
    old_email: str


def close_account(user_id: int, password: str, now: datetime) -> ClosedAccount:
    """Close the account for good. Refused (HasUpcomingTickets, 409) while it holds a
    ticket that can still be used. Otherwise, in one transaction: the user's seat holds
    are released (locked first, in the documented order, so a checkout in flight either
    finishes before, and closing is refused, or finds no holds); the password is replaced
    as every password change is, so every log-in session ends; its API tokens are
    revoked; account tokens, pending address
    changes and account requests go; name, email, username and password become anonymous
    values; mail not yet sent to the address is dropped and sent mail keeps no copy of
    its text. Bookings, tickets, the wallet and the ledger stay, so the cinema's accounts
    still add up. The old address gets one last note. Staff and admin accounts are
    refused (Conflict): an administrator deactivates them. Raises WrongPassword (422);
    commits."""
    _check_password(user_id, password)
    with write_transaction():
        # The order checkout takes them in: a checkout in flight finishes (and its tickets
        # are seen) or finds no holds.
        locks.lock_all_holds(user_id)
        locks.lock_wallet_if_any(user_id)
        user = _locked_user(user_id)
        if user.closed_at is not None:
            raise NotFound("There is no such account.")
        if user.role != Role.CUSTOMER:
            # Staff and admin accounts end with their job: an admin deactivates them (and
            # the last admin can't be deactivated), so the cinema always keeps one.
            raise Conflict("Staff and admin accounts are closed by an administrator.")
        race_point("account_changes.before_close")
        if db.session.scalar(select(exists(_usable_tickets(user_id, now)))):
            raise HasUpcomingTickets(
                "You still have tickets for shows to come. Cancel them first (the usual "
                "refund rules apply) or close your account after the shows."
            )
        old_email, full_name = user.email, user.full_name
        db.session.execute(delete(SeatHold).where(SeatHold.user_id == user_id))
        db.session.execute(delete(AccountToken).where(AccountToken.user_id == user_id))
        db.session.execute(
            update(ApiToken)
            .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        db.session.execute(delete(EmailChange).where(EmailChange.user_id == user_id))
        db.session.execute(
            delete(AccountRequest).where(func.lower(AccountRequest.email) == old_email.lower())
        )
        mine = func.lower(OutboxMessage.to_address) == old_email.lower()
        db.session.execute(delete(OutboxMessage).where(mine, OutboxMessage.status != "sent"))
        anonymous = f"closed-{user.id}@closed.invalid"
        db.session.execute(
            update(OutboxMessage).where(mine).values(to_address=anonymous, payload={})
        )
        user.email = anonymous
        user.username = f"closed-{user.id}"
        user.full_name = "Closed account"
        # Not a hash werkzeug can read: no password ever matches it.
        _set_password(user, "!closed", now)
        user.email_verified_at = None
        user.is_active_account = False
        user.closed_at = now
        _note(old_email, full_name, "closed", now)
    return ClosedAccount(user_id=user_id, old_email=old_email)
