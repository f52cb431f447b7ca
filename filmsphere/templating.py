"""Registers the template filters and globals; what they do lives in clock, wording and assets."""

from __future__ import annotations

from flask import Flask

from .assets import asset_url
from .clock import local_today, to_local
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
    time_element,
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
