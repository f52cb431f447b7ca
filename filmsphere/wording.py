"""Wording shared by templates, views and services' messages: times, dates, coins, plurals."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, tzinfo

from markupsafe import Markup

from .clock import cinema_tz, to_local


def plural(count: int, word: str, many: str | None = None) -> str:
    """`word` for one, `many` (default word + "s") otherwise, without the number."""
    return word if count == 1 else (many or word + "s")


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th … 11th, 12th, 13th … 21st."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def format_time(value: datetime) -> str:
    return to_local(value).strftime("%H:%M")


def format_datetime(value: datetime, tz: tzinfo | None = None) -> str:
    """In the cinema's zone: "Sun 06 Dec 2026, 14:30"."""
    return datetime_formatter(tz or cinema_tz())(value)


def datetime_formatter(tz: tzinfo) -> Callable[[datetime], str]:
    """format_datetime for thousands of values (a year's occupancy CSV has 26k): each local
    day's words are made once, since strftime cost more than all the rest of a row."""
    days: dict[date, str] = {}

    def format_one(value: datetime) -> str:
        local = value.astimezone(tz)
        day = local.date()
        words = days.get(day)
        if words is None:
            words = days[day] = day.strftime("%a %d %b %Y, ")
        return f"{words}{local.hour:02d}:{local.minute:02d}"

    return format_one


def time_element(moment: datetime, day_of: datetime) -> Markup:
    """`moment` as a <time> element in the cinema's zone: the time alone when it falls on
    the local day of `day_of`, else the day and the time (a basket's refund deadlines,
    against the show's start). A function, not a macro: every click's basket draws two."""
    same_day = to_local(moment).date() == to_local(day_of).date()
    words = format_time(moment) if same_day else format_datetime(moment)
    return Markup('<time datetime="{}">{}</time>').format(moment.isoformat(), words)


def format_date(value: date | datetime) -> str:
    if isinstance(value, datetime):
        value = to_local(value).date()
    return value.strftime("%a %d %b")


def format_category(value: str, capital: bool = True) -> str:
    """A seat category in words, the same everywhere: "Premium", "VIP", "wheelchair space"."""
    from .services.booking.pricing import CATEGORY_LABELS

    label = CATEGORY_LABELS.get(value, value)
    return label[:1].upper() + label[1:] if capital else label


def format_coins(value: int) -> str:
    return f"{value:,} " + plural(abs(value), "coin")
