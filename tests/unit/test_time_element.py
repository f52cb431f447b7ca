"""A basket's refund deadline as a <time> element: the time alone on the show's local
day, the day and time otherwise, in the cinema's zone."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask

from filmsphere.wording import time_element


def test_the_time_alone_on_the_shows_local_day_else_the_day_too() -> None:
    app = Flask(__name__)
    app.config["TIMEZONE"] = "Europe/London"
    show = datetime(2026, 7, 1, 0, 30, tzinfo=UTC)  # 01:30 on 1 July in London (BST)
    with app.app_context():
        same_day = time_element(datetime(2026, 6, 30, 23, 10, tzinfo=UTC), show)
        day_before = time_element(datetime(2026, 6, 30, 22, 30, tzinfo=UTC), show)
    assert same_day == '<time datetime="2026-06-30T23:10:00+00:00">00:10</time>'
    assert day_before == (
        '<time datetime="2026-06-30T22:30:00+00:00">Tue 30 Jun 2026, 23:30</time>'
    )
