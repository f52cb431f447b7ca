"""Screens, their seat layout and the seats generated from it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import Model, db
from .types import UTCDateTime, utcnow


class SeatCategory(StrEnum):
    STANDARD = "standard"
    PREMIUM = "premium"
    VIP = "vip"
    WHEELCHAIR = "wheelchair"
    COMPANION = "companion"
    BROKEN = "broken"  # shown, never sellable


# One character per layout cell; rows are lines of the layout text.
LAYOUT_CODES: dict[str, SeatCategory | None] = {
    "S": SeatCategory.STANDARD,
    "P": SeatCategory.PREMIUM,
    "V": SeatCategory.VIP,
    "W": SeatCategory.WHEELCHAIR,
    "C": SeatCategory.COMPANION,
    "X": SeatCategory.BROKEN,
    ".": None,  # gap / aisle
}


class Screen(Model):
    __tablename__ = "screens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    # Layout text: one line per row, from the screen backwards, one LAYOUT_CODES character
    # per cell. Seat grid_row follows the lines: 0 is the row nearest the screen.
    layout: Mapped[str] = mapped_column(Text)
    # Row letters run from the back (A furthest from the screen) instead of from the screen:
    # screens drawn before issue 16 keep the letters their admins gave their rows.
    row_a_at_back: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Bumped by every save of the layout: the key of in-process seat-layout caches.
    layout_version: Mapped[int] = mapped_column(default=1, server_default="1")
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    seats: Mapped[list[Seat]] = relationship(
        back_populates="screen",
        order_by="(Seat.grid_row, Seat.grid_col)",
        primaryjoin="and_(Screen.id == Seat.screen_id, Seat.is_active)",
        viewonly=True,
    )


class Seat(Model):
    """A seat at one cell of a screen. Seats are never deleted once sold: a layout change
    retires them (is_active false) so old tickets keep their seat."""

    __tablename__ = "seats"
    __table_args__ = (
        CheckConstraint(
            "category IN ('standard', 'premium', 'vip', 'wheelchair', 'companion', 'broken')",
            name="category_known",
        ),
        CheckConstraint("number > 0", name="number_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    screen_id: Mapped[int] = mapped_column(ForeignKey("screens.id"), index=True)
    row_label: Mapped[str] = mapped_column(String(4))
    number: Mapped[int]
    grid_row: Mapped[int]
    grid_col: Mapped[int]
    category: Mapped[str] = mapped_column(String(16))
    is_active: Mapped[bool] = mapped_column(default=True)

    screen: Mapped[Screen] = relationship(back_populates="seats")

    @property
    def label(self) -> str:
        return f"{self.row_label}{self.number}"


# What a seat-rule cell (services/booking/seat_rules.SeatCell) is built from, for the
# statements that read seats as rows rather than entities.
SEAT_CELL_COLUMNS = (
    Seat.id,
    Seat.row_label,
    Seat.number,
    Seat.grid_row,
    Seat.grid_col,
    Seat.category,
)


# Only one active seat per cell; retired seats keep their cell for history.
db.Index(
    "uq_seats_active_cell",
    Seat.screen_id,
    Seat.grid_row,
    Seat.grid_col,
    unique=True,
    sqlite_where=text("is_active"),
    postgresql_where=text("is_active"),
)
