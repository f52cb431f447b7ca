"""A hold running out while the seat map is open: the basket says so in words anyone can
see, and the seats turn free without a reload."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from filmsphere.extensions import db
from filmsphere.models import User
from filmsphere.services.booking.holds import toggle_hold
from tests import factories

from .conftest import LiveServer, log_in
from .test_accessibility import axe_violations
from .test_booking_browser import seat, seed

pytestmark = pytest.mark.browser

RAN_OUT = "Your hold ran out, so the seats were released. Pick your seats again."


@pytest.fixture
def live_overrides() -> dict[str, Any]:
    # Polling slowed right down: only the countdown can bring the redraw in time.
    return {"SEAT_POLL_SECONDS": 600}


def test_a_hold_that_runs_out_is_shown_and_the_seat_turns_free_without_a_reload(
    live: LiveServer, browser: Any
) -> None:
    # bypass_csp only so that axe-core can be injected; seatmap.js is a file either way.
    context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        data = seed(live)
        log_in(page, live, data.login, "Correct-Horse-42")
        minutes = int(live.app.config["HOLD_MINUTES"])
        with live.app.app_context():
            user_id = db.session.scalars(select(User.id).where(User.username == data.login)).one()
            # Held long enough ago that about 4 seconds of the hold are left.
            toggle_hold(
                user_id,
                data.show_id,
                data.seats["A1"],
                factories.now() - timedelta(minutes=minutes) + timedelta(seconds=4),
            )
        page.goto(live.path(f"/shows/{data.show_id}"))
        page.evaluate("window.sameDocument = true")
        a1 = page.locator(f"#seat-{data.seats['A1']}")
        basket = page.locator("#basket")
        expect(a1).to_have_attribute("aria-pressed", "true")
        expect(basket.get_by_role("button", name="Pay 10 coins")).to_be_visible()

        # Generous waits: only the outcome matters, not when within them it arrives.
        expect(basket.get_by_text(RAN_OUT)).to_be_visible(timeout=20_000)
        expect(a1).to_have_attribute("aria-pressed", "false", timeout=20_000)
        expect(seat(page, "Row A, seat 1, standard")).to_be_enabled()
        expect(basket).to_contain_text("No seats held yet")
        # The redrawn basket (from the server, which only knows the seat is free) keeps it.
        expect(basket.get_by_text(RAN_OUT)).to_be_visible()
        assert page.evaluate("window.sameDocument") is True  # no reload happened
        assert axe_violations(page) == []

        # Holding seats again: the message is old news.
        seat(page, "Row A, seat 2, standard").click()
        expect(seat(page, "Row A, seat 2, standard")).to_have_attribute("aria-pressed", "true")
        expect(basket.get_by_role("button", name="Pay 10 coins")).to_be_visible()
        expect(basket.get_by_text(RAN_OUT)).to_have_count(0)
    finally:
        context.close()
