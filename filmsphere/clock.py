"""The cinema clock: its time zone, local times and where a cinema-local day starts and ends."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app


def cinema_tz() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIMEZONE"])


def to_local(value: datetime) -> datetime:
    return value.astimezone(cinema_tz())


def local_day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC instants where the cinema-local `day` starts and the next day starts
    (23 or 25 hours apart on daylight-saving days)."""
    tz = cinema_tz()
    start = datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz).astimezone(UTC)
    return start, end


def local_today() -> date:
    from .models.types import utcnow

    return to_local(utcnow()).date()
