"""In Chromium: a seat click answered with only the changed seats leaves the page exactly
as a full reload draws it, others' holds included; quick pick by keyboard."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from filmsphere.services.booking.holds import toggle_hold
from tests import factories

from .conftest import LiveServer, log_in
from .test_booking_browser import seat, seed, settled

pytestmark = pytest.mark.browser

# Each seat as the customer (and a screen reader) gets it; tabindex is the script's.
GRID_SNAPSHOT = """() => Array.from(document.querySelectorAll('#seat-grid button.seat')).map(b => [
  b.id, b.className, b.getAttribute('aria-label'), b.getAttribute('aria-pressed'),
  b.disabled, b.getAttribute('value'), b.getAttribute('hx-swap-oob')])"""


@pytest.fixture
def live_overrides() -> dict[str, Any]:
    return {"SEAT_POLL_SECONDS": 60}  # no poll may redraw the grid behind the clicks' back


def test_a_click_delta_gives_the_same_grid_and_basket_as_a_reload(
    live: LiveServer, page: Any
) -> None:
    data = seed(live)
    log_in(page, live, data.login, "Correct-Horse-42")
    page.goto(live.path(f"/shows/{data.show_id}"))
    answers: list[Any] = []
    page.on("response", lambda r: r.request.method == "POST" and answers.append(r))

    seat(page, "Row A, seat 3, standard").click()
    expect(seat(page, "Row A, seat 3, standard")).to_have_attribute("aria-pressed", "true")
    settled(page)
    # Someone else holds A5 meanwhile; the next click brings it along.
    with live.app.app_context():
        other = factories.make_user()
        toggle_hold(other.id, data.show_id, data.seats["A5"], factories.now())
    seat(page, "Row C, seat 3, standard").click()
    expect(seat(page, "Row A, seat 5, standard, taken")).to_be_disabled()
    settled(page)
    assert answers and all(r.headers.get("hx-reswap") == "none" for r in answers)
    expect(page.locator("#seat-announcer")).to_contain_text("Seat C3 held for you.")

    clicked = page.evaluate(GRID_SNAPSHOT)
    basket = page.locator("#basket").inner_text()
    etag = page.locator("#seat-grid").get_attribute("data-etag")
    page.reload()
    assert page.evaluate(GRID_SNAPSHOT) == clicked
    assert page.locator("#basket").inner_text() == basket
    assert page.locator("#seat-grid").get_attribute("data-etag") == etag
    # The keyboard stop is still one seat.
    assert page.locator('#seat-grid button.seat[tabindex="0"]').count() == 1


def test_quick_pick_by_keyboard(live: LiveServer, page: Any) -> None:
    data = seed(live)
    log_in(page, live, data.login, "Correct-Horse-42")
    page.goto(live.path(f"/shows/{data.show_id}"))
    page.get_by_label("Number of seats").focus()
    page.keyboard.press("ArrowDown")  # 2 -> 3
    expect(page.get_by_label("Number of seats")).to_have_value("3")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Kind")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page.locator("#seat-announcer")).to_contain_text("held for you.")
    expect(page.locator('#seat-grid button.seat[aria-pressed="true"]')).to_have_count(3)
    expect(page.locator("#basket").get_by_role("button", name="Pay 30 coins")).to_be_visible()
