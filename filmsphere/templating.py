"""Registers the template filters and globals; what they do lives in clock, wording and assets."""

from __future__ import annotations

from datetime import datetime

from flask import Flask
from markupsafe import Markup

from .assets import asset_url
from .clock import cinema_tz, local_today, to_local
from .navigation import nav_user_links
from .services.booking.cancellation import refund_deadlines
from .wording import (
    format_category,
    format_coins,
    format_date,
    format_datetime,
    format_time,
    ordinal,
    plural,
)


def register(app: Flask) -> None:
    app.add_template_filter(format_time, "time")
    app.add_template_filter(format_datetime, "datetime")
    app.add_template_filter(format_date, "date")
    app.add_template_filter(format_coins, "coins")
    app.add_template_filter(format_category, "category")
    app.add_template_filter(plural, "plural")
    app.add_template_filter(to_local, "local")
    app.add_template_filter(ordinal, "ordinal")
    app.add_template_global(asset_url)
    app.add_template_global(local_today)
    app.add_template_global(nav_user_links)
    app.add_template_global(refund_deadlines)
    app.add_template_global(time_element)
    # Versioned static files never change under the same URL.
    app.config["SEND_FILE_MAX_AGE_DEFAULT"] = app.config.get("STATIC_MAX_AGE", 31536000)


def time_element(moment: datetime, day_of: datetime) -> Markup:
    """`moment` as a <time> element in the cinema's zone: the time alone when it falls on
    the local day of `day_of`, else the day and the time (a basket's refund deadlines,
    against the show's start). A function, not a macro: every click's basket draws two."""
    tz = cinema_tz()
    local = moment.astimezone(tz)
    if local.date() == day_of.astimezone(tz).date():
        words = f"{local.hour:02d}:{local.minute:02d}"
    else:
        words = format_datetime(moment, tz)
    return Markup('<time datetime="{}">{}</time>').format(moment.isoformat(), words)
