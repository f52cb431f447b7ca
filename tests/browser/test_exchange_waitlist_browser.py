"""Exchange and the waitlist offer in Chromium, with JavaScript and without."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from filmsphere.models.types import utcnow
from filmsphere.services.booking.cancellation import cancel_tickets

from .conftest import LiveServer, log_in
from .test_accessibility import axe_violations

pytestmark = pytest.mark.browser

PASSWORD = "Correct-Horse-42"


def _context(browser: Any, javascript: bool, **options: Any) -> Any:
    context = browser.new_context(
        java_script_enabled=javascript, viewport={"width": 1280, "height": 900}, **options
    )
    context.set_default_timeout(10_000)
    return context


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_exchange_to_a_later_show_from_the_booking_page(
    live: LiveServer, browser: Any, javascript: bool
) -> None:
    from datetime import timedelta

    from tests import factories

    with live.app.app_context():
        customer = factories.make_user(coins=100)
        movie = factories.make_movie("The Long Night")
        old = factories.make_show(movie, price=10)
        new = factories.make_show(movie, starts_in=timedelta(days=2), price=10)
        booking = factories.make_booking(customer, old, ("A1",))
        login, reference, new_id = customer.username, booking.reference, new.id

    context = _context(browser, javascript)
    try:
        page = context.new_page()
        log_in(page, live, login, PASSWORD)
        page.goto(live.path(f"/bookings/{reference}"))
        page.get_by_role("link", name="Exchange for another time").click()
        expect(page.get_by_role("heading", name="Exchange for another showtime")).to_be_visible()
        page.get_by_role("button", name=re.compile(r"^Pick seats")).click()
        page.wait_for_url(re.compile(rf".*/shows/{new_id}(#seat-grid)?$"))
        page.get_by_role("button", name="Row B, seat 1, premium", exact=True).click()
        review = page.get_by_role("link", name="Review the exchange")
        expect(review).to_be_visible()
        expect(page.locator("#basket")).to_contain_text(f"Exchanging booking {reference}")
        expect(page.locator("#pay-button")).to_have_count(0)
        review.click()
        expect(page.locator("#exchange-net")).to_have_text("You pay 5 coins more.")
        page.get_by_role("button", name="Confirm exchange").click()
        page.wait_for_url(re.compile(r".*/bookings/[A-Z0-9]+$"))
        assert not page.url.endswith(reference)
        expect(page.get_by_text(f"Exchanged: booking {reference} is replaced")).to_be_visible()
        page.goto(live.path("/wallet"))
        expect(page.locator("#wallet-summary .balance")).to_have_text("85 coins")
        page.goto(live.path(f"/bookings/{reference}"))
        expect(page.get_by_text("Exchanged for")).to_be_visible()
    finally:
        context.close()


def test_a_waitlist_offer_appears_on_the_seat_map_and_is_paid(
    live: LiveServer, browser: Any
) -> None:
    from tests import factories

    from ..integration.test_waitlist import sold_out

    with live.app.app_context():
        show, owner, refs = sold_out("A3 A4")
        customer = factories.make_user(coins=100)
        login, show_id, owner_id = customer.username, show.id, owner.id

    # bypass_csp: the strict CSP (rightly) refuses the injected axe script.
    context = _context(browser, True, bypass_csp=True)
    try:
        page = context.new_page()
        log_in(page, live, login, PASSWORD)
        page.goto(live.path(f"/shows/{show_id}"))
        panel = page.locator("#waitlist")
        expect(panel).to_contain_text("This show is sold out.")
        assert axe_violations(page) == []
        page.get_by_label("How many seats").select_option("2")
        page.get_by_role("button", name="Join the waitlist").click()
        expect(panel).to_contain_text("number 1 in line for 2 seats together")
        assert axe_violations(page) == []

        with live.app.app_context():
            cancel_tickets(owner_id, refs["A3 A4"], None, utcnow())

        page.reload()
        expect(page.locator("#waitlist-offer")).to_contain_text("A3, A4")
        for label in ("Row A, seat 3, standard", "Row A, seat 4, standard"):
            expect(page.get_by_role("button", name=label, exact=True)).to_have_attribute(
                "aria-pressed", "true"
            )
        assert axe_violations(page) == []
        page.get_by_role("button", name="Pay 20 coins").click()
        page.wait_for_url(re.compile(r".*/bookings/[A-Z0-9]+$"))
        expect(page.get_by_text("Paid 20 coins — enjoy the film!")).to_be_visible()
    finally:
        context.close()
