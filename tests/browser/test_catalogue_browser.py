"""Catalogue in Chromium: active search updates results and URL without a reload; a film's
page lists its shows grouped by date."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.factories import make_movie, make_screen, make_show

from .conftest import LiveServer

pytestmark = pytest.mark.browser


def seed(live: LiveServer) -> tuple[int, list[str]]:
    """Four films; "Garden of Clocks" has three shows over two local days."""
    tz = ZoneInfo(live.app.config["TIMEZONE"])
    with live.app.app_context():
        screen = make_screen(name="Studio")
        garden = make_movie(
            "Garden of Clocks", genres=("Drama",), description="A gardener keeps time."
        )
        for title, genre in (
            ("Night Train", "Thriller"),
            ("Sky Pirates", "Family"),
            ("Quiet Storm", "Drama"),
        ):
            make_show(
                make_movie(title, genres=(genre,)), make_screen(), starts_in=timedelta(days=1)
            )
        day = (datetime.now(tz) + timedelta(days=1)).date()
        first = datetime(day.year, day.month, day.day, 14, 0, tzinfo=tz)
        for start in (first, first + timedelta(hours=4), first + timedelta(days=1)):
            make_show(garden, screen, starts_at=start, price=10)
        days = [day.isoformat(), (day + timedelta(days=1)).isoformat()]
        return garden.id, days


def test_active_search_then_film_page(live: LiveServer, page: Any) -> None:
    movie_id, days = seed(live)
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))

    page.goto(live.path("/movies"))
    cards = page.locator("#movie-results .card-title")
    assert cards.count() == 4
    # A marker on the window survives only if the page is not reloaded.
    page.evaluate("window.__noReload = true")
    page.get_by_label("Search films").press_sequentially("garden", delay=40)
    page.wait_for_url(re.compile(r"/movies\?q=garden$"))  # unused filters left out
    expect(cards).to_have_count(1)
    assert cards.all_inner_texts() == ["Garden of Clocks"]
    assert page.evaluate("window.__noReload") is True
    status = page.locator("#movie-results-status")
    expect(status).to_have_text("1 film found")
    assert status.get_attribute("aria-live") == "polite"

    # A genre checkbox filters at once too, keeping the search in the URL.
    page.get_by_label("Search films").fill("")
    page.get_by_label("Search films").press("Enter")
    expect(cards).to_have_count(4)
    page.locator("#movie-filters summary").click()  # genres fold away on small screens
    page.get_by_label("Thriller").check()
    page.wait_for_url(re.compile(r"genre=Thriller"))
    expect(cards).to_have_count(1)
    assert cards.all_inner_texts() == ["Night Train"]
    assert page.evaluate("window.__noReload") is True

    # Back in history shows the earlier results again (a full page for the pushed URL).
    page.go_back()
    expect(cards).to_have_count(4)

    page.goto(live.path("/movies?q=garden"))
    page.get_by_role("link", name="Garden of Clocks").click()
    page.wait_for_url(live.path(f"/movies/{movie_id}"))
    assert page.get_by_role("heading", level=1).inner_text() == "Garden of Clocks"
    day_sections = page.locator(".show-day")
    assert day_sections.count() == 2
    assert day_sections.nth(0).locator("a.time-slot").count() == 2
    assert day_sections.nth(1).locator("a.time-slot").count() == 1
    assert day_sections.nth(0).locator("h3").get_attribute("id") == f"day-{days[0]}"
    first_slot = day_sections.nth(0).locator("a.time-slot").first
    assert first_slot.locator(".time-slot-time").inner_text().startswith("14:00")
    slot_name = re.compile(r"Garden of Clocks, .*14:00\s*,\s*Studio\s*,\s*from 10 coins")
    assert day_sections.nth(0).get_by_role("link", name=slot_name).count() == 1
    assert page.locator("img.poster").get_attribute("alt") == "Poster for Garden of Clocks"
    assert page.evaluate("document.querySelector('img.poster').naturalWidth") == 400
    assert problems == []
