"""The ticket view at the door, in Chromium on a phone (360 x 740, touch) and a laptop
(1280 x 800): one tap from My bookings, the QR code in the first view, swipe, arrow keys
and buttons between the tickets of a booking, and all of it offline from the saved copy."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from typing import Any

import PIL.Image
import pytest
import zxingcpp

from .. import factories
from .artefacts import save_screenshot
from .conftest import LiveServer, log_in
from .test_accessibility import axe_violations
from .test_pwa import controlled, wait_until_cached

pytestmark = pytest.mark.browser

SIZES: dict[str, dict[str, Any]] = {
    "phone": {
        "viewport": {"width": 360, "height": 740},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    },
    "laptop": {"viewport": {"width": 1280, "height": 800}},
}


@pytest.fixture
def booked(live: LiveServer) -> dict[str, Any]:
    """A customer with a three-ticket booking for tomorrow; codes in ticket order."""
    from filmsphere.services.door.ticket_codes import ticket_code

    with live.app.app_context():
        user = factories.make_user(username="olive")
        show = factories.make_show(factories.make_movie("Door Nights"), starts_in=timedelta(days=1))
        booking = factories.make_booking(user, show, ("A1", "A2", "A3"))
        codes = [ticket_code(ticket) for ticket in booking.tickets]
        return {"login": "olive", "ref": booking.reference, "codes": codes}


def shown_code(page: Any, index: int) -> str:
    """The code of ticket `index` as a door scanner reads it off the screen, asserting
    that its whole QR is inside the first view (no scrolling) and big enough to scan."""
    qr = page.locator(".door-ticket").nth(index).locator("svg.qr-code")
    box = qr.bounding_box()
    view = page.viewport_size
    assert box is not None
    assert box["x"] >= 0 and box["x"] + box["width"] <= view["width"] + 0.5, box
    assert box["y"] >= 0 and box["y"] + box["height"] <= view["height"] + 0.5, box
    assert box["width"] >= 220
    assert page.evaluate("() => window.scrollY") == 0
    # A screenshot of the screen where the code is (an element screenshot would scroll).
    image = PIL.Image.open(io.BytesIO(page.screenshot(clip=box))).convert("L")
    [result] = zxingcpp.read_barcodes(image)
    return str(result.text)


def settled_on(page: Any, index: int) -> None:
    """Wait until ticket `index` is the one the swipe list rests on."""
    page.wait_for_function(
        """(index) => {
            const list = document.querySelector('[data-ticket-view]');
            const ticket = list.querySelectorAll('.door-ticket')[index];
            return Math.abs(list.scrollLeft - ticket.offsetLeft) < 2;
        }""",
        arg=index,
        polling=100,
    )


def swipe_left(page: Any) -> None:
    """A finger dragged from right to left across the ticket (raw touch events: Chromium
    scrolls and snaps the list as it would under a real finger)."""
    cdp = page.context.new_cdp_session(page)
    width, y = page.viewport_size["width"], 300
    start = width * 0.85
    cdp.send(
        "Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": start, "y": y}]}
    )
    for step in range(1, 11):
        point = {"x": start - step * width * 0.06, "y": y}
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


@pytest.mark.parametrize("size", ["phone", "laptop"])
def test_the_door_view_shows_each_qr_first_and_moves_between_tickets(
    browser: Any, live: LiveServer, booked: dict[str, Any], size: str
) -> None:
    context = browser.new_context(**SIZES[size], bypass_csp=True)
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        log_in(page, live, booked["login"], factories.PASSWORD)
        controlled(page, live, "/bookings")
        view_path = f"/bookings/{booked['ref']}/tickets"

        # One tap from My bookings; the first ticket's code is there at once.
        link = page.get_by_role("link", name=re.compile(r"^Show tickets"))
        link.tap() if size == "phone" else link.click()
        page.wait_for_url(re.compile(rf".*{view_path}$"))
        assert shown_code(page, 0) == booked["codes"][0]
        first = page.locator(".door-ticket").nth(0)
        assert "Row A, seat 1" in first.inner_text()
        assert "Doors open" in first.inner_text() and "Door Nights" in first.inner_text()
        save_screenshot(page, f"ticket-view-{size}")
        assert axe_violations(page) == []

        # Swipe on the phone, arrow keys on the laptop; the buttons on both.
        if size == "phone":
            swipe_left(page)
        else:
            page.keyboard.press("ArrowRight")
        settled_on(page, 1)
        assert shown_code(page, 1) == booked["codes"][1]
        next_button = page.locator(".door-ticket").nth(1).get_by_role("link", name="Next ticket")
        next_button.tap() if size == "phone" else next_button.click()
        settled_on(page, 2)
        assert shown_code(page, 2) == booked["codes"][2]
        assert (
            page.locator(".door-ticket").nth(2).get_by_role("link", name="Next ticket").count() == 0
        )
        if size == "laptop":
            page.keyboard.press("ArrowLeft")
            settled_on(page, 1)
            assert shown_code(page, 1) == booked["codes"][1]

        # Offline at the door: the saved copy, the code still first.
        wait_until_cached(page, [view_path])
        context.set_offline(True)
        try:
            page.goto(live.path(view_path))
            assert page.locator(".offline-banner").is_visible()
            assert shown_code(page, 0) == booked["codes"][0]
            save_screenshot(page, f"ticket-view-{size}-offline")
            if size == "laptop":
                page.keyboard.press("ArrowRight")  # the script was saved with the page
                settled_on(page, 1)
                assert shown_code(page, 1) == booked["codes"][1]
        finally:
            context.set_offline(False)
    finally:
        context.close()


def test_the_door_view_opens_offline_without_having_been_opened(
    browser: Any, live: LiveServer, booked: dict[str, Any]
) -> None:
    context = browser.new_context(**SIZES["phone"])
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        log_in(page, live, booked["login"], factories.PASSWORD)
        controlled(page, live)
        page.goto(live.path("/bookings"))  # seen online: its "Show tickets" views are kept
        view_path = f"/bookings/{booked['ref']}/tickets"
        wait_until_cached(page, ["/bookings", view_path])

        context.set_offline(True)
        try:
            page.goto(live.path("/bookings"))
            assert page.locator(".offline-banner").is_visible()
            page.get_by_role("link", name=re.compile(r"^Show tickets")).tap()
            page.wait_for_url(re.compile(rf".*{view_path}$"))
            assert page.locator(".offline-banner").is_visible()
            assert shown_code(page, 0) == booked["codes"][0]
        finally:
            context.set_offline(False)
    finally:
        context.close()
