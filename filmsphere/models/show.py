"""Shows: a film in a screen at a time, with a base price in coins."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, func, text
from sqlalchemy.dialects.postgresql import ExcludeConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model
from .catalogue import Movie
from .screen import Screen
from .types import UTCDateTime, utcnow


class ShowStatus(StrEnum):
    SCHEDULED = "scheduled"
    FINISHED = "finished"
    CANCELLED = "cancelled"


class Show(Model):
    __tablename__ = "shows"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        CheckConstraint("base_price_coins > 0", name="price_positive"),
        CheckConstraint("status IN ('scheduled', 'finished', 'cancelled')", name="status_known"),
        Index("ix_shows_starts_at", "starts_at"),
        # Cleanup finds the shows that ended among the few still scheduled.
        Index(
            "ix_shows_scheduled_ends_at",
            "ends_at",
            sqlite_where=text("status = 'scheduled'"),
            postgresql_where=text("status = 'scheduled'"),
        ),
        # PostgreSQL: two live shows of one screen can never overlap ([start, end) ranges,
        # so back-to-back shows are fine). SQLite checks the same under its write lock.
        ExcludeConstraint(
            ("screen_id", "="),
            (func.tstzrange(text("starts_at"), text("ends_at"), "[)"), "&&"),
            name="ex_shows_screen_no_overlap",
            using="gist",
            where=text("status <> 'cancelled'"),
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    movie_id: Mapped[int] = mapped_column(ForeignKey("movies.id"), index=True)
    screen_id: Mapped[int] = mapped_column(ForeignKey("screens.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # start + film duration + cleaning buffer, computed by the scheduling service.
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    base_price_coins: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default=ShowStatus.SCHEDULED)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    movie: Mapped[Movie] = relationship(lazy="joined")
    screen: Mapped[Screen] = relationship(lazy="joined")
