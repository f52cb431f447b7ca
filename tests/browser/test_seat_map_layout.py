"""The seat map as a moviegoer meets it, on a 360 × 740 touch phone and a 1280 × 800
laptop: the screen on top with row A nearest it, a 400-seat house reachable without
sideways scrolling, the basket and Pay in sight while seats are picked, the one-minute
warning and the end of a hold shown, and messages that never move a seat."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from filmsphere.extensions import db
from filmsphere.models import Seat, SeatHold, User

from .artefacts import save_screenshot
from .conftest import LiveServer, log_in
from .test_accessibility import axe_violations

pytestmark = pytest.mark.browser

PASSWORD = "Correct-Horse-42"
PHONE = {
    "viewport": {"width": 360, "height": 740},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
LAPTOP = {"viewport": {"width": 1280, "height": 800}}
SIZES = {"phone": PHONE, "laptop": LAPTOP}
# 16 rows of 25 seats around two aisles: 400 seats.
HOUSE_400 = "\n".join(["SSSSS.SSSSSSSSSSSSSSS.SSSSS"] * 16)


@pytest.fixture(params=sorted(SIZES))
def size(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def device(browser: Any, size: str) -> Any:
    context = browser.new_context(**SIZES[size], service_workers="block", bypass_csp=True)
    context.set_default_timeout(10_000)
    yield context.new_page()
    context.close()


def seed(live: LiveServer, layout: str | None = None) -> tuple[str, int, dict[str, int]]:
    """A customer, a show (in a 400-seat house, or the factories' small screen) and its
    seats by label."""
    from tests import factories

    with live.app.app_context():
        customer = factories.make_user(coins=5000)
        screen = factories.make_screen(layout) if layout else factories.make_screen()
        show = factories.make_show(factories.make_movie("The Long Night"), screen=screen)
        seats = {
            s.label: s.id
            for s in db.session.scalars(select(Seat).where(Seat.screen_id == show.screen_id))
        }
        return customer.username, show.id, seats


def box(locator: Any) -> dict[str, float]:
    found = locator.bounding_box()
    assert found is not None
    return dict(found)


def in_viewport(page: Any, locator: Any) -> bool:
    b = box(locator)
    view = page.viewport_size
    return (
        b["y"] >= 0
        and b["y"] + b["height"] <= view["height"]
        and b["x"] >= 0
        and (b["x"] + b["width"] <= view["width"])
    )


def tap(page: Any, size: str, seat_id: int) -> None:
    """Click a seat as this device's customer would: with the mouse, or on the phone with a
    tap (the page scrolled so the seat is in the middle; in the overview the first tap
    magnifies the map around the finger, the second hits the seat)."""
    seat = page.locator(f"#seat-{seat_id}")
    if size != "phone":
        seat.click()
        return
    seat.evaluate("el => el.scrollIntoView({block: 'center', inline: 'nearest'})")
    overview = page.locator(".seat-area[data-zoom='overview']").count()
    b = box(seat)
    page.touchscreen.tap(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2)
    if overview:
        expect(page.locator(".seat-area[data-zoom='near']")).to_have_count(1)
        b = box(seat)
        assert min(b["width"], b["height"]) >= 24
        page.touchscreen.tap(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2)


def pick(page: Any, size: str, seat_id: int) -> None:
    tap(page, size, seat_id)
    expect(page.locator(f"#seat-{seat_id}")).to_have_attribute("aria-pressed", "true")


def user_id(live: LiveServer, login: str) -> int:
    with live.app.app_context():
        return int(db.session.scalars(select(User.id).where(User.username == login)).one())


def test_the_screen_is_on_top_and_row_a_nearest_it(live: LiveServer, device: Any) -> None:
    login, show_id, seats = seed(live)
    log_in(device, live, login, PASSWORD)
    device.goto(live.path(f"/shows/{show_id}"))
    screen = box(device.locator("#screen-marker"))
    a1, b1 = (
        box(device.locator(f"#seat-{seats['A1']}")),
        box(device.locator(f"#seat-{seats['B1']}")),
    )
    assert screen["y"] + screen["height"] <= a1["y"] < b1["y"]
    expect(device.locator("#screen-marker")).to_have_text("Screen")


def test_every_seat_of_a_400_seat_house_is_reachable_without_sideways_scrolling(
    live: LiveServer, browser: Any
) -> None:
    login, show_id, seats = seed(live, HOUSE_400)
    assert len(seats) == 400
    context = browser.new_context(**PHONE, service_workers="block")
    try:
        page = context.new_page()
        log_in(page, live, login, PASSWORD)
        page.goto(live.path(f"/shows/{show_id}"))
        expect(page.locator(".seat-area[data-zoom='overview']")).to_have_count(1)
        expect(page.get_by_text("tap where you want to sit")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        boxes = page.evaluate(
            "() => [...document.querySelectorAll('#seat-grid button.seat')].map(b => {"
            " const r = b.getBoundingClientRect(); return [r.left, r.right, r.width]; })"
        )
        assert len(boxes) == 400
        assert all(left >= 0 and right <= 360 and width > 0 for left, right, width in boxes)
        # And all of it at once above the basket, scrolled to the map.
        rows = page.locator("#seat-grid .seat-rows")
        rows.evaluate("el => el.scrollIntoView({block: 'start'})")
        assert box(rows)["height"] + box(page.locator("#basket"))["height"] <= 740
        save_screenshot(page, "seat-map-phone-overview")
        # A tap magnifies around the finger: the seat tapped is now a 24 px target under it.
        target = page.locator(f"#seat-{seats['H13']}")
        target.evaluate("el => el.scrollIntoView({block: 'center'})")
        before = box(target)
        x, y = before["x"] + before["width"] / 2, before["y"] + before["height"] / 2
        page.touchscreen.tap(x, y)
        expect(page.locator(".seat-area[data-zoom='near']")).to_have_count(1)
        after = box(target)
        assert min(after["width"], after["height"]) >= 24
        assert after["x"] <= x <= after["x"] + after["width"]
        assert after["y"] <= y <= after["y"] + after["height"]
        page.touchscreen.tap(x, y)
        expect(target).to_have_attribute("aria-pressed", "true")
        expect(page.locator("#basket")).to_contain_text("Row H, 8th row from the screen: seat 13")
        assert in_viewport(page, page.locator("#pay-button"))
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        save_screenshot(page, "seat-map-phone-magnified")
        page.get_by_role("button", name="Show the whole map").click()
        expect(page.locator(".seat-area[data-zoom='overview']")).to_have_count(1)
    finally:
        context.close()


def test_basket_and_pay_stay_in_sight_while_seats_are_picked(
    live: LiveServer, device: Any, size: str
) -> None:
    login, show_id, seats = seed(live, HOUSE_400)
    log_in(device, live, login, PASSWORD)
    device.goto(live.path(f"/shows/{show_id}"))
    pay = device.locator("#pay-button")
    if size == "laptop":
        # The whole map fits the window's height, beside the basket.
        rows = box(device.locator("#seat-grid .seat-rows"))
        assert rows["height"] <= 800
        assert box(device.locator("#basket"))["x"] >= rows["x"] + rows["width"]
        assert device.evaluate("document.documentElement.scrollWidth") <= 1280
    for label in ("C12", "C13", "P1"):
        pick(device, size, seats[label])
        assert in_viewport(device, pay)
    expect(pay).to_have_text(re.compile(r"^Pay \d+ coins$"))
    expect(device.locator("#basket [data-countdown-warning]")).to_be_hidden()  # 10 min left
    expect(device.locator("#refund-policy")).to_be_visible()
    for where in ("0", "document.documentElement.scrollHeight"):
        device.evaluate(f"window.scrollTo(0, {where})")
        device.wait_for_timeout(100)
        assert in_viewport(device, pay), f"Pay out of sight at scrollY={where}"
        assert in_viewport(device, device.locator("#basket [data-countdown]"))
    device.evaluate("window.scrollTo(0, 0)")
    save_screenshot(device, f"seat-map-{size}-basket")
    assert axe_violations(device) == []


@pytest.mark.parametrize("house", ["the Grand", "400 seats"])
def test_a_large_house_fits_a_laptop_window_beside_the_basket(
    live: LiveServer, browser: Any, house: str
) -> None:
    """The demo's largest screen (7 rows of 24 cells) and a 400-seat house (16 rows of 27
    cells) are whole in the first view at 1280 x 800, screen and every row, beside the
    basket with its countdown and Pay, while seats in the first and last rows are picked;
    the key is in that view too, under the map."""
    from filmsphere.services.ops.demo import SCREENS

    login, show_id, seats = seed(live, SCREENS[0].layout if house == "the Grand" else HOUSE_400)
    rows: dict[str, list[str]] = {}
    for label in sorted(seats, key=lambda label: int(re.sub(r"^[A-Z]+", "", label))):
        rows.setdefault(re.sub(r"\d+$", "", label), []).append(label)
    first, last = rows[min(rows)], rows[max(rows)]
    context = browser.new_context(**LAPTOP, service_workers="block")
    try:
        page = context.new_page()
        log_in(page, live, login, PASSWORD)
        page.goto(live.path(f"/shows/{show_id}"))
        for label in (first[0], last[len(last) // 2], last[len(last) // 2 + 1]):
            pick(page, "laptop", seats[label])  # a click scrolls to a seat out of view
            assert page.evaluate("window.scrollY") == 0
            assert in_viewport(page, page.locator("#screen-marker"))
            tops_and_bottoms = page.evaluate(
                "() => [...document.querySelectorAll('#seat-grid button.seat')].map(b => {"
                " const r = b.getBoundingClientRect(); return [r.top, r.bottom]; })"
            )
            assert len(tops_and_bottoms) == len(seats)
            assert all(top >= 0 and bottom <= 800 for top, bottom in tops_and_bottoms)
            for part in ("#basket [data-countdown]", "#pay-button", ".legend-panel"):
                assert in_viewport(page, page.locator(part)), part
        map_box = box(page.locator("#seat-grid .seat-rows"))
        assert box(page.locator("#basket"))["x"] >= map_box["x"] + map_box["width"]
        expect(page.locator("#pay-button")).to_have_text(re.compile(r"^Pay \d+ coins$"))
        save_screenshot(page, f"seat-map-laptop-{house.replace(' ', '-').lower()}")
    finally:
        context.close()


def test_refund_policy_names_this_shows_limits_next_to_pay(live: LiveServer, page: Any) -> None:
    login, show_id, seats = seed(live)
    with live.app.app_context():
        from filmsphere.clock import to_local
        from filmsphere.models import Show
        from filmsphere.wording import format_datetime, format_time

        starts = db.session.get(Show, show_id).starts_at  # type: ignore[union-attr]

        def when(moment: datetime) -> str:
            # The time alone on the show's local day; with the day when it isn't (a show
            # early in the morning: its full refund ends the evening before).
            same_day = to_local(moment).date() == to_local(starts).date()
            return format_time(moment) if same_day else format_datetime(moment)

        full, partial = when(starts - timedelta(hours=2)), when(starts - timedelta(minutes=20))
    log_in(page, live, login, PASSWORD)
    page.goto(live.path(f"/shows/{show_id}"))
    pick(page, "laptop", seats["A1"])
    expect(page.locator("#refund-policy")).to_have_text(
        f"Cancel until {full} for a full refund, until {partial} for 80 %; no refund after that."
    )
    expect(page.locator("#pay-button")).to_have_attribute("aria-describedby", "refund-policy")


def test_one_minute_warning_and_the_end_of_the_hold_are_shown(
    live: LiveServer, device: Any
) -> None:
    from filmsphere.services.booking.holds import toggle_hold
    from tests import factories

    login, show_id, seats = seed(live)
    log_in(device, live, login, PASSWORD)
    with live.app.app_context():
        # Held 9 min 56 s ago: 4 seconds of the 10 minutes are left.
        toggle_hold(
            user_id(live, login),
            show_id,
            seats["A1"],
            factories.now() - timedelta(minutes=9, seconds=56),
        )
    live.app.config["SEAT_POLL_SECONDS"] = 600  # only the countdown can tell
    device.goto(live.path(f"/shows/{show_id}"))
    warning = device.locator("#basket [data-countdown-warning]")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("Less than a minute left")
    assert in_viewport(device, warning)
    ended = device.locator("#basket [data-hold-expired]")
    expect(ended).to_be_visible(timeout=15_000)
    expect(ended).to_contain_text("Your hold ran out")
    expect(device.locator("#seat-announcer")).to_contain_text("Your hold ran out")
    assert in_viewport(device, ended)


def test_a_hold_ended_elsewhere_is_told_when_a_poll_brings_it(live: LiveServer, page: Any) -> None:
    from filmsphere.services.booking.holds import toggle_hold
    from tests import factories

    live.app.config["SEAT_POLL_SECONDS"] = 1
    login, show_id, seats = seed(live)
    log_in(page, live, login, PASSWORD)
    page.goto(live.path(f"/shows/{show_id}"))
    pick(page, "laptop", seats["A1"])
    with live.app.app_context():  # released in another tab
        toggle_hold(user_id(live, login), show_id, seats["A1"], factories.now())
    ended = page.locator("#basket [data-hold-expired]")
    expect(ended).to_be_visible()
    expect(ended).to_contain_text("Your held seats were released")


def test_a_hold_that_ran_out_is_told_when_a_click_brings_it(live: LiveServer, page: Any) -> None:
    live.app.config["SEAT_POLL_SECONDS"] = 600
    login, show_id, seats = seed(live)
    log_in(page, live, login, PASSWORD)
    page.goto(live.path(f"/shows/{show_id}"))
    pick(page, "laptop", seats["A1"])
    with live.app.app_context():  # the hold ran out while the phone slept
        for hold in db.session.scalars(select(SeatHold)):
            hold.expires_at -= timedelta(minutes=10)
        db.session.commit()
    page.locator(f"#seat-{seats['B1']}").click()
    ended = page.locator("#basket [data-hold-expired]")
    expect(ended).to_be_visible()
    expect(ended).to_contain_text("Your earlier hold had ended")


def test_a_message_never_moves_a_seat(live: LiveServer, device: Any, size: str) -> None:
    from filmsphere.services.booking.holds import toggle_hold
    from tests import factories

    live.app.config["SEAT_POLL_SECONDS"] = 600  # the page still shows A2 free
    login, show_id, seats = seed(live)
    with live.app.app_context():
        rival = factories.make_user(coins=100).id
    log_in(device, live, login, PASSWORD)
    device.goto(live.path(f"/shows/{show_id}"))
    pick(device, size, seats["A1"])
    target = device.locator(f"#seat-{seats['A2']}")
    target.evaluate("el => el.scrollIntoView({block: 'center', inline: 'nearest'})")
    watched = device.locator(f"#seat-{seats['B1']}")
    before = box(watched)
    with live.app.app_context():
        toggle_hold(rival, show_id, seats["A2"], factories.now())
    message = device.locator("#seat-grid .grid-message")
    expect(message).to_have_count(0)
    tap(device, size, seats["A2"])
    expect(message).to_be_visible()
    expect(message).to_contain_text("taken")
    assert box(watched) == before
    save_screenshot(device, f"seat-map-{size}-message")
