"""The booking journey in Chromium: pick seats, countdown, pay, booking and balance; live
updates in a second browser; the same with JavaScript off; seat picking by keyboard."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from filmsphere.extensions import db
from filmsphere.models import Seat

from .conftest import LiveServer, log_in

pytestmark = pytest.mark.browser


@pytest.fixture
def live_overrides() -> dict[str, Any]:
    return {"SEAT_POLL_SECONDS": 1}


@dataclass
class Seeded:
    login: str
    other_login: str
    show_id: int
    seats: dict[str, int]


def seed(live: LiveServer) -> Seeded:
    from tests import factories

    with live.app.app_context():
        customer = factories.make_user(coins=1500)
        other = factories.make_user(coins=1500)
        show = factories.make_show(factories.make_movie("The Long Night"), price=10)
        seats = {
            s.label: s.id
            for s in db.session.scalars(select(Seat).where(Seat.screen_id == show.screen_id))
        }
        return Seeded(customer.username, other.username, show.id, seats)


def settled(page: Any) -> None:
    """Wait until no htmx request is in flight (a click's swap and the poll it triggers),
    so focus checks look at the page the customer ends up with."""
    expect(page.locator(".htmx-request")).to_have_count(0)
    page.wait_for_timeout(150)
    expect(page.locator(".htmx-request")).to_have_count(0)


def seat(page: Any, name: str) -> Any:
    return page.get_by_role("button", name=name, exact=True)


def pay_and_check_booking(page: Any, live: LiveServer, total: str, balance: str) -> None:
    page.get_by_role("button", name=f"Pay {total}").click()
    page.wait_for_url(re.compile(r".*/bookings/[A-Z0-9-]+$"))
    expect(page.get_by_text(f"Paid {total} — enjoy the film!")).to_be_visible()
    expect(page.get_by_text("The Long Night").first).to_be_visible()
    page.goto(live.path("/wallet"))
    expect(page.locator("#wallet-summary .balance")).to_have_text(balance)
    expect(page.locator("#ledger tbody tr").first).to_contain_text("Booking payment")


def test_customer_picks_seats_sees_countdown_pays_and_another_browser_sees_them_taken(
    live: LiveServer, browser: Any, page: Any
) -> None:
    data = seed(live)
    seat_map = live.path(f"/shows/{data.show_id}")

    watcher_context = browser.new_context(viewport={"width": 1280, "height": 900})
    watcher_context.set_default_timeout(10_000)
    try:
        watcher = watcher_context.new_page()
        log_in(watcher, live, data.other_login, "Correct-Horse-42")
        watcher.goto(seat_map)
        expect(seat(watcher, "Row A, seat 3, standard")).to_be_enabled()

        log_in(page, live, data.login, "Correct-Horse-42")
        page.goto(seat_map)
        first = seat(page, "Row A, seat 3, standard")
        first.click()
        expect(first).to_have_attribute("aria-pressed", "true")
        third = seat(page, "Row C, seat 3, standard")
        third.click()
        expect(third).to_have_attribute("aria-pressed", "true")
        basket = page.locator("#basket")
        expect(basket.get_by_role("button", name="Pay 20 coins")).to_be_visible()
        expect(basket).to_contain_text("Balance after payment")
        expect(basket).to_contain_text("1,480 coins")
        expect(basket.locator("[data-countdown-value]")).to_have_text(re.compile(r"^(09|10):\d\d$"))
        expect(page.locator("#seat-announcer")).to_contain_text("Seat C3 held for you.")

        # The other customer's page polls: the held seats turn taken without a reload.
        expect(watcher.locator(f"#seat-{data.seats['A3']}")).to_be_disabled()
        expect(seat(watcher, "Row C, seat 3, standard, taken")).to_be_disabled()

        pay_and_check_booking(page, live, "20 coins", "1,480 coins")
        expect(seat(watcher, "Row A, seat 3, standard, taken")).to_be_disabled()
    finally:
        watcher_context.close()


def test_the_same_checkout_without_javascript(live: LiveServer, browser: Any) -> None:
    data = seed(live)
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1280, "height": 900}
    )
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        log_in(page, live, data.login, "Correct-Horse-42")
        page.goto(live.path(f"/shows/{data.show_id}"))
        seat(page, "Row A, seat 2, standard").click()
        page.wait_for_load_state()
        expect(page.get_by_text("Seat A2 held for you.")).to_be_visible()
        expect(seat(page, "Row A, seat 2, standard")).to_have_attribute("aria-pressed", "true")
        expect(page.locator("#basket .countdown time")).to_have_text(re.compile(r"^\d\d:\d\d$"))
        seat(page, "Row A, seat 1, standard").click()
        page.wait_for_load_state()
        pay_and_check_booking(page, live, "20 coins", "1,480 coins")
    finally:
        context.close()


def test_seats_can_be_picked_by_keyboard_alone(live: LiveServer, page: Any) -> None:
    data = seed(live)
    log_in(page, live, data.login, "Correct-Horse-42")
    page.goto(live.path(f"/shows/{data.show_id}"))

    focused_seat = "document.activeElement && document.activeElement.id"
    for _ in range(40):
        page.keyboard.press("Tab")
        if (page.evaluate(focused_seat) or "").startswith("seat-"):
            break
    # One seat in the tab order (roving tabindex): the first seat of row A.
    assert page.evaluate(focused_seat) == f"seat-{data.seats['A1']}"
    assert page.locator('#seat-grid button.seat[tabindex="0"]').count() == 1

    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    expect(page.locator(f"#seat-{data.seats['A3']}")).to_be_focused()
    page.keyboard.press("Enter")
    a3 = page.locator(f"#seat-{data.seats['A3']}")
    expect(a3).to_have_attribute("aria-pressed", "true")
    settled(page)
    expect(a3).to_be_focused()  # the swap keeps the keyboard where it was
    expect(page.locator("#seat-announcer")).to_contain_text("Seat A3 held for you.")

    page.keyboard.press("ArrowDown")  # row B has an aisle: nearest seat below A3 is B2
    expect(page.locator(f"#seat-{data.seats['B2']}")).to_be_focused()
    page.keyboard.press("End")
    expect(page.locator(f"#seat-{data.seats['B4']}")).to_be_focused()
    page.keyboard.press("ArrowLeft")
    expect(page.locator(f"#seat-{data.seats['B3']}")).to_be_focused()
    page.keyboard.press(" ")
    expect(page.locator(f"#seat-{data.seats['B3']}")).to_have_attribute("aria-pressed", "true")
    settled(page)
    # Focus comes back after htmx settles the swap (a few ms after the new markup is in).
    expect(page.locator(f"#seat-{data.seats['B3']}")).to_be_focused()
    page.keyboard.press("ArrowRight")
    page.keyboard.press(" ")
    expect(page.locator(f"#seat-{data.seats['B4']}")).to_have_attribute("aria-pressed", "true")
    settled(page)
    expect(page.locator(f"#seat-{data.seats['B4']}")).to_be_focused()
    page.keyboard.press("Home")
    expect(page.locator(f"#seat-{data.seats['B1']}")).to_be_focused()

    # Tab leaves the grid for the basket's pay button; Enter pays.
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Pay 40 coins")).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*/bookings/[A-Z0-9-]+$"))
    expect(page.get_by_text("Paid 40 coins — enjoy the film!")).to_be_visible()


def test_seat_grid_scrolls_inside_its_box_on_a_phone_without_javascript(
    live: LiveServer, browser: Any
) -> None:
    """Without the fitting script the map keeps fingertip seats and scrolls in its box
    (with it, test_seat_map_layout.py shows the whole map)."""
    from tests import factories

    with live.app.app_context():
        wide = factories.make_screen("SSSSSSSSSS..SSSSSSSSSSSS..SSSSSSSSSS\n" * 8)
        show = factories.make_show(screen=wide)
        show_id = show.id
    context = browser.new_context(
        viewport={"width": 360, "height": 740}, is_mobile=True, java_script_enabled=False
    )
    try:
        page = context.new_page()
        page.goto(live.path(f"/shows/{show_id}"))
        page_width = page.evaluate("document.documentElement.scrollWidth")
        assert page_width <= 360
        box = page.locator(".seat-scroll")
        assert box.evaluate("el => el.scrollWidth > el.clientWidth")
        expect(page.locator("#screen-marker")).to_have_text("Screen")
    finally:
        context.close()


def test_picking_a_seat_on_the_far_right_keeps_the_map_where_it_was(
    live: LiveServer, browser: Any
) -> None:
    from tests import factories

    with live.app.app_context():
        wide = factories.make_screen("SSSSSSSSSS..SSSSSSSSSSSS..SSSSSSSSSS\n" * 4)
        show_id = factories.make_show(screen=wide).id
        username = factories.make_user().username
    context = browser.new_context(viewport={"width": 360, "height": 740})
    try:
        page = context.new_page()
        log_in(page, live, username, factories.PASSWORD)
        page.goto(live.path(f"/shows/{show_id}"))
        # The whole map is an overview at this width: a click magnifies it, which scrolls.
        page.locator("#seat-grid .seat-rows").click(position={"x": 5, "y": 40})
        expect(page.locator(".seat-area[data-zoom='near']")).to_have_count(1)
        box = page.locator(".seat-scroll")
        box.evaluate("el => { el.scrollLeft = el.scrollWidth; }")
        before = box.evaluate("el => el.scrollLeft")
        assert before > 300
        far_right = page.get_by_role("button", name=re.compile(r"^Row B, seat 32\b"))
        far_right.click()
        expect(far_right).to_have_attribute("aria-pressed", "true")
        page.wait_for_timeout(1500)  # and a poll redraw after it
        assert page.locator(".seat-scroll").evaluate("el => el.scrollLeft") == before
    finally:
        context.close()


def test_booking_pages_have_no_axe_violations(live: LiveServer, browser: Any) -> None:
    from tests import factories

    from .test_accessibility import axe_violations, structure_problems

    data = seed(live)
    with live.app.app_context():
        from filmsphere.models import Show, User

        user = db.session.scalars(select(User).where(User.username == data.login)).one()
        other_show = factories.make_show(price=12)
        reference = factories.make_booking(user, other_show, ("A1", "A2")).reference
        show = db.session.get(Show, data.show_id)
        assert show is not None
    context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    report: dict[str, list[str]] = {}
    try:
        page = context.new_page()
        page.goto(live.path(f"/shows/{data.show_id}"))  # visitor, read only
        report["visitor seat map"] = axe_violations(page) + structure_problems(page)
        log_in(page, live, data.login, "Correct-Horse-42")
        page.goto(live.path(f"/shows/{data.show_id}"))
        seat(page, "Row A, seat 1, standard").click()
        expect(page.locator("#basket [data-countdown-value]")).to_have_text(re.compile(r"\d:\d\d"))
        report["seat map with holds"] = axe_violations(page) + structure_problems(page)
        for path in ("/bookings", f"/bookings/{reference}/cancel", "/wallet"):
            page.goto(live.path(path))
            report[path] = axe_violations(page) + structure_problems(page)
        page.goto(live.path(f"/bookings/{reference}/cancel"))
        quote = page.locator("#refund-quote")
        expect(quote).to_contain_text("You get back 24 coins")
        page.get_by_label("Whole booking (every ticket)").uncheck()
        page.locator("input[name=tickets]").first.check()
        expect(quote).to_contain_text("You get back 12 coins")
        page.locator("input[name=tickets]").first.uncheck()
        expect(quote).to_contain_text("Tick the tickets to cancel")
        report["cancel quote after htmx"] = axe_violations(page) + structure_problems(page)
    finally:
        context.close()
    assert {name: found for name, found in report.items() if found} == {}


def test_countdown_warns_and_the_grid_refreshes_when_the_hold_runs_out(
    live: LiveServer, page: Any
) -> None:
    from datetime import timedelta

    from filmsphere.services.booking.holds import toggle_hold
    from tests import factories

    data = seed(live)
    log_in(page, live, data.login, "Correct-Horse-42")
    with live.app.app_context():
        from filmsphere.models import User

        user_id = db.session.scalars(select(User.id).where(User.username == data.login)).one()
        # Held "9 minutes 55 seconds ago": 5 seconds of the 10 minutes are left.
        toggle_hold(
            user_id,
            data.show_id,
            data.seats["A1"],
            factories.now() - timedelta(minutes=9, seconds=55),
        )
    # Polling slowed right down: only the countdown can bring the refresh in time.
    live.app.config["SEAT_POLL_SECONDS"] = 600
    page.goto(live.path(f"/shows/{data.show_id}"))
    assert 'hx-trigger="every 600s' in page.content()
    a1 = page.locator(f"#seat-{data.seats['A1']}")
    expect(a1).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#basket [data-countdown-value]")).to_have_text(re.compile(r"^00:0\d$"))
    expect(page.locator("#seat-announcer")).to_have_text(
        "One minute left to pay for your held seats."
    )
    # No reload: at 0:00 the grid and basket are fetched again and the seat is free.
    expect(a1).to_have_attribute("aria-pressed", "false", timeout=15_000)
    expect(page.locator("#basket")).to_contain_text("No seats held yet")


def test_basket_names_seat_categories_in_the_words_used_everywhere(
    live: LiveServer, page: Any
) -> None:
    data = seed(live)
    log_in(page, live, data.login, "Correct-Horse-42")
    page.goto(live.path(f"/shows/{data.show_id}"))
    seat(page, "Row B, seat 1, premium").click()
    expect(page.locator("#basket .basket-seats li")).to_have_count(1)
    seat(page, "Row C, seat 1, wheelchair space").click()
    items = page.locator("#basket .basket-seats li")
    expect(items).to_have_count(2)
    expect(items.nth(0)).to_contain_text("Row B, seat 1 · premium")
    expect(items.nth(1)).to_contain_text("Row C, seat 1 · wheelchair space")


def test_whole_booking_and_single_tickets_untick_each_other(live: LiveServer, page: Any) -> None:
    """The ticks always show what would be cancelled: ticking a ticket unticks "Whole
    booking", ticking "Whole booking" unticks the tickets, and the quote follows."""
    from tests import factories

    data = seed(live)
    with live.app.app_context():
        from filmsphere.models import User

        user = db.session.scalars(select(User).where(User.username == data.login)).one()
        booking = factories.make_booking(user, factories.make_show(price=12), ("A1", "A2"))
        path = f"/bookings/{booking.reference}/cancel"
    log_in(page, live, data.login, "Correct-Horse-42")
    page.goto(live.path(path))
    whole = page.get_by_label("Whole booking (every ticket)")
    tickets = page.locator("input[name=tickets]")
    quote = page.locator("#refund-quote")
    expect(whole).to_be_checked()

    tickets.first.check()
    expect(whole).not_to_be_checked()
    expect(quote).to_contain_text("You get back 12 coins")

    whole.check()
    expect(tickets.first).not_to_be_checked()
    expect(quote).to_contain_text("You get back 24 coins")
