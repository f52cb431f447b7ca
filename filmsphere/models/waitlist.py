"""Waitlist entries: customers waiting for seats of a sold-out show, first come first served."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .types import UTCDateTime, utcnow


class WaitlistStatus(StrEnum):
    WAITING = "waiting"  # in the queue
    OFFERED = "offered"  # seats are held for the customer until offer_expires_at
    CLAIMED = "claimed"  # the customer bought seats during the offer
    LAPSED = "lapsed"  # the offer ran out unclaimed: the seats passed on
    LEFT = "left"  # the customer left the list
    CLOSED = "closed"  # the show started, finished or was cancelled


LIVE_STATUSES = (WaitlistStatus.WAITING, WaitlistStatus.OFFERED)


class WaitlistEntry(Model):
    __tablename__ = "waitlist_entries"
    __table_args__ = (
        CheckConstraint("party_size BETWEEN 1 AND 10", name="party_size_range"),
        CheckConstraint(
            "status IN ('waiting', 'offered', 'claimed', 'lapsed', 'left', 'closed')",
            name="status_known",
        ),
        # One place in the queue per customer per show, enforced by the database.
        Index(
            "uq_waitlist_entries_live_show_user",
            "show_id",
            "user_id",
            unique=True,
            sqlite_where=text("status IN ('waiting', 'offered')"),
            postgresql_where=text("status IN ('waiting', 'offered')"),
        ),
        Index("ix_waitlist_entries_show_status", "show_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    show_id: Mapped[int] = mapped_column(ForeignKey("shows.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    party_size: Mapped[int]
    adjacent: Mapped[bool]
    status: Mapped[str] = mapped_column(String(16), default=WaitlistStatus.WAITING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    offered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    offer_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The seats held by the offer, as text ("A3, A4") for the page and the email.
    offered_seats: Mapped[str | None] = mapped_column(String(200))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
