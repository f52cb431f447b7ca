"""Undelivered mail for admins and monitoring: pending and failed messages, the outbox's
health, and resending a failed message. Never exposes a message's subject or body: they
carry sign-in links, verification codes and booking details."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select

from ...extensions import db
from ...models import OutboxMessage
from ..errors import AlreadyDone, Conflict, NotFound
from ..ops.audit import record_audit
from ..paging import Key, Page, keyset_page
from ..transaction import write_transaction

PAGE_SIZE = 50
UNDELIVERED = ("pending", "failed")
# Kinds whose link or code expires (config key of the lifetime in minutes): resent after
# that, the customer would get a dead link, so they are asked for a new one instead.
EXPIRING_KINDS = {"password_reset": "RESET_TOKEN_MINUTES", "verify_email": "VERIFY_CODE_MINUTES"}


@dataclass(frozen=True)
class MailRow:
    id: int
    kind: str
    to_address: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    resent_at: datetime | None
    next_attempt_at: datetime
    failed_at: datetime | None
    being_sent: bool  # a sender holds it right now
    link_expired: bool  # a reset/verification message too old to resend


@dataclass(frozen=True)
class OutboxHealth:
    now: datetime
    pending: int
    oldest_pending_since: datetime | None  # queued (or resent) time of the oldest pending
    due_unclaimed: int  # due now and held by no sender: is a sender running?
    failed_recently: int
    recent_failed_ids: list[int]
    stuck_after: timedelta
    failed_within: timedelta

    @property
    def stuck(self) -> bool:
        oldest = self.oldest_pending_since
        return oldest is not None and self.now - oldest > self.stuck_after

    def problems(self) -> list[str]:
        """One line per reason to page someone; empty when mail flows."""
        found = []
        if self.stuck and self.oldest_pending_since is not None:
            minutes = int((self.now - self.oldest_pending_since).total_seconds() // 60)
            found.append(
                f"mail stuck: {self.pending} pending, the oldest waiting {minutes} min "
                f"(more than {_span(self.stuck_after)}); {self.due_unclaimed} due now and "
                "not being sent"
                + (" - is a sender running?" if self.due_unclaimed else " - is SMTP down?")
            )
        if self.failed_recently:
            ids = ", ".join(str(i) for i in self.recent_failed_ids)
            more = ", ..." if self.failed_recently > len(self.recent_failed_ids) else ""
            found.append(
                f"mail failed: {self.failed_recently} message(s) given up in the last "
                f"{_span(self.failed_within)} (ids {ids}{more}); see /admin/mail?status=failed"
            )
        return found

    def summary(self) -> str:
        oldest = (
            f", the oldest waiting {_span(self.now - self.oldest_pending_since)}"
            if self.oldest_pending_since is not None
            else ""
        )
        return (
            f"mail: {self.pending} pending{oldest}; {self.failed_recently} failed in the "
            f"last {_span(self.failed_within)}"
        )


def _span(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds >= 60:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def _link_expired(kind: str, created_at: datetime, now: datetime) -> bool:
    key = EXPIRING_KINDS.get(kind)
    if key is None:
        return False
    return created_at + timedelta(minutes=int(current_app.config[key])) <= now


def list_undelivered(
    now: datetime,
    *,
    status: str = "",
    q: str = "",
    cursor: str | None = None,
    page_size: int = PAGE_SIZE,
) -> Page[MailRow]:
    """The page `cursor` names of the pending and failed messages (or one of the two),
    newest first, `q` matching the recipient; only the columns an admin needs, never
    subjects or bodies. Reads only; raises BadCursor."""
    statuses = [status] if status in UNDELIVERED else list(UNDELIVERED)
    columns = (
        OutboxMessage.id,
        OutboxMessage.kind,
        OutboxMessage.to_address,
        OutboxMessage.status,
        OutboxMessage.attempts,
        OutboxMessage.last_error,
        OutboxMessage.created_at,
        OutboxMessage.resent_at,
        OutboxMessage.next_attempt_at,
        OutboxMessage.failed_at,
        OutboxMessage.claimed_by,
    )
    query = select(*columns).where(OutboxMessage.status.in_(statuses))
    if q.strip():
        query = query.where(
            func.lower(OutboxMessage.to_address).contains(q.strip().lower(), autoescape=True)
        )
    page = keyset_page(
        query, [Key(OutboxMessage.id, int)], lambda r: [r.id], cursor, page_size, descending=True
    )
    rows = [
        MailRow(
            id=r.id,
            kind=r.kind,
            to_address=r.to_address,
            status=r.status,
            attempts=r.attempts,
            last_error=r.last_error,
            created_at=r.created_at,
            resent_at=r.resent_at,
            next_attempt_at=r.next_attempt_at,
            failed_at=r.failed_at,
            being_sent=r.status == "pending"
            and r.claimed_by is not None
            and r.next_attempt_at > now,
            link_expired=_link_expired(r.kind, r.created_at, now),
        )
        for r in page.rows
    ]
    return page.with_rows(rows)


def outbox_health(
    now: datetime, stuck_after: timedelta | None = None, failed_within: timedelta | None = None
) -> OutboxHealth:
    """How mail is flowing: pending messages and the oldest one's wait, those due but held
    by no sender, and messages given up recently. Thresholds default to MAIL_STUCK_MINUTES
    and MAIL_FAILED_WINDOW_HOURS."""
    config = current_app.config
    stuck_after = stuck_after or timedelta(minutes=int(config["MAIL_STUCK_MINUTES"]))
    failed_within = failed_within or timedelta(hours=int(config["MAIL_FAILED_WINDOW_HOURS"]))
    pending = OutboxMessage.status == "pending"
    count = int(db.session.scalar(select(func.count()).where(pending)) or 0)
    oldest = db.session.execute(
        select(OutboxMessage.created_at, OutboxMessage.resent_at)
        .where(pending)
        .order_by(func.coalesce(OutboxMessage.resent_at, OutboxMessage.created_at))
        .limit(1)
    ).first()
    due = int(
        db.session.scalar(select(func.count()).where(pending, OutboxMessage.next_attempt_at <= now))
        or 0
    )
    recent = OutboxMessage.status == "failed", OutboxMessage.failed_at >= now - failed_within
    failed = int(db.session.scalar(select(func.count()).where(*recent)) or 0)
    failed_ids = list(
        db.session.scalars(
            select(OutboxMessage.id).where(*recent).order_by(OutboxMessage.id.desc()).limit(10)
        )
    )
    return OutboxHealth(
        now=now,
        pending=count,
        oldest_pending_since=(oldest.resent_at or oldest.created_at) if oldest else None,
        due_unclaimed=due,
        failed_recently=failed,
        recent_failed_ids=failed_ids,
        stuck_after=stuck_after,
        failed_within=failed_within,
    )


def resend_message(actor_id: int, message_id: int, now: datetime) -> OutboxMessage:
    """Put a failed message back in the queue for a new round of tries (attempts from 0,
    the retry horizon counted from now), audited, in one transaction under the row lock.
    Raises NotFound, AlreadyDone (it is pending or sent), Conflict (its link expired)."""
    with write_transaction() as session:
        message = session.get(OutboxMessage, message_id, with_for_update=True)
        if message is None:
            raise NotFound("That message does not exist.")
        if message.status != "failed":
            raise AlreadyDone(
                "That message was sent already."
                if message.status == "sent"
                else "That message is still being tried; it needs no resend."
            )
        if _link_expired(message.kind, message.created_at, now):
            raise Conflict(
                "The link in that message has expired, so resending it would not help: "
                "ask the customer to request a new one."
            )
        before = {"status": message.status, "attempts": message.attempts}
        message.status = "pending"
        message.attempts = 0
        message.next_attempt_at = now
        message.resent_at = now
        message.failed_at = None
        message.claimed_by = None
        record_audit(
            actor_id=actor_id,
            action="mail.resend",
            target_type="outbox_message",
            target_id=message.id,
            now=now,
            before=before,
            after={"status": "pending", "kind": message.kind},
        )
    return message
