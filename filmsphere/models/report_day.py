"""The dashboard's figures of closed cinema days and ended shows, rolled up once
(services/ops/report_days.py)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import Model
from .types import UTCDateTime


class ReportDay(Model):
    """One closed local day: the money and activity the dashboard shows for it."""

    __tablename__ = "report_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    charged_coins: Mapped[int]
    refunded_coins: Mapped[int]
    bookings: Mapped[int]
    tickets_sold: Mapped[int]
    tickets_cancelled: Mapped[int]
    bookings_cancelled: Mapped[int]
    rolled_up_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ReportDayRevenue(Model):
    """One closed day's charges and refunds for one film in one screen."""

    __tablename__ = "report_day_revenue"

    day: Mapped[date] = mapped_column(
        Date, ForeignKey("report_days.day", ondelete="CASCADE"), primary_key=True
    )
    movie_id: Mapped[int] = mapped_column(ForeignKey("movies.id"), primary_key=True)
    screen_id: Mapped[int] = mapped_column(ForeignKey("screens.id"), primary_key=True)
    charged_coins: Mapped[int]
    refunded_coins: Mapped[int]


class ReportShowSales(Model):
    """A show that has ended: its tickets sold (active), which can no longer change."""

    __tablename__ = "report_show_sales"

    show_id: Mapped[int] = mapped_column(
        ForeignKey("shows.id", ondelete="CASCADE"), primary_key=True
    )
    sold: Mapped[int]
