"""Template filters and globals: cinema-local times, coins, versioned static URLs."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Flask, current_app, url_for


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


def format_time(value: datetime) -> str:
    return to_local(value).strftime("%H:%M")


def format_datetime(value: datetime) -> str:
    return to_local(value).strftime("%a %d %b %Y, %H:%M")


def format_date(value: date | datetime) -> str:
    if isinstance(value, datetime):
        value = to_local(value).date()
    return value.strftime("%a %d %b")


def format_category(value: str, capital: bool = True) -> str:
    """A seat category in words, the same everywhere: "Premium", "VIP", "wheelchair space"."""
    from .services.pricing import CATEGORY_LABELS

    label = CATEGORY_LABELS.get(value, value)
    return label[:1].upper() + label[1:] if capital else label


def format_coins(value: int) -> str:
    return f"{value:,} coin" + ("" if abs(value) == 1 else "s")


@cache
def _file_hash(path: str, mtime: float) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def asset_url(filename: str) -> str:
    """A static URL carrying the file's content hash, so it can be cached for a year."""
    static = Path(current_app.static_folder or "")
    path = static / filename
    version = _file_hash(str(path), path.stat().st_mtime) if path.exists() else "0"
    return url_for("static", filename=filename, v=version)


NAV_USER_LINKS = [
    ("booking.my_bookings", "My bookings", None),
    ("wallet.wallet", "Wallet", None),
    ("staff.check_in", "Check-in", "staff"),
    ("admin.dashboard", "Admin", "admin"),
    ("auth.account", "Account", None),
]


def nav_user_links() -> list[tuple[str, str]]:
    """The signed-in user's navigation: only links to pages that exist and they may open."""
    from flask_login import current_user

    return [
        (endpoint, label)
        for endpoint, label, role in NAV_USER_LINKS
        if endpoint in current_app.view_functions and (role is None or current_user.has_role(role))
    ]


def register(app: Flask) -> None:
    app.add_template_filter(format_time, "time")
    app.add_template_filter(format_datetime, "datetime")
    app.add_template_filter(format_date, "date")
    app.add_template_filter(format_coins, "coins")
    app.add_template_filter(format_category, "category")
    app.add_template_filter(to_local, "local")
    app.add_template_global(asset_url)
    app.add_template_global(local_today)
    app.add_template_global(nav_user_links)
    # Versioned static files never change under the same URL.
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = app.config.get("STATIC_MAX_AGE", 31536000)
