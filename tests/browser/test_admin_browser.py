"""Browser: an admin builds a screen with the layout editor, schedules a show, sees it on
the customer side, cancels it, and the customer sees the full refund in their wallet."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from filmsphere.clock import local_today
from filmsphere.extensions import db
from filmsphere.models import Role, Screen, Seat, Show, User
from tests import factories

from .conftest import log_in

pytestmark = pytest.mark.browser


def test_admin_screen_show_cancel_and_customer_refund(live, browser, page):
    with live.app.app_context():
        admin = factories.make_user(Role.ADMIN, username="admin1")
        customer = factories.make_user(username="cust1", coins=100)
        factories.make_movie(title="Solaris", duration=120)
        admin_login, customer_login = admin.username, customer.username
        tomorrow = local_today() + timedelta(days=1)

    log_in(page, live, admin_login, factories.PASSWORD)
    page.goto(live.path("/admin/screens/new"))
    page.get_by_label("Screen name").fill("Studio Z")
    page.get_by_label("Rows").fill("3")
    page.get_by_label("Seats per row").fill("4")
    page.get_by_role("button", name="Apply size").click()
    # The 6×10 default editor already has #cell-2-3: wait for the swapped-in 3×4 one.
    expect(page.locator(".editor-row")).to_have_count(3)
    expect(page.locator("#layout-editor .editor-row").first.locator("button.cell")).to_have_count(4)
    cell = page.locator("#cell-2-3")
    # Row C, cell 4: standard → premium → VIP with two clicks (htmx swaps, focus kept).
    cell.click()
    page.wait_for_selector("#cell-2-3[aria-label*=': premium']")
    page.locator("#cell-2-3").click()
    page.wait_for_selector("#cell-2-3[aria-label*=': VIP']")
    # Row A, cell 2 becomes a gap via five clicks (S→P→V→W→C→gap).
    for expected in ("premium", "VIP", "wheelchair space", "companion seat", "gap"):
        page.locator("#cell-0-1").click()
        page.wait_for_selector(f"#cell-0-1[aria-label*=': {expected}']")
    assert page.locator(".seat-preview .seat-vip").count() == 1
    assert page.locator(".seat-preview .seat-gap").count() == 1
    page.get_by_role("button", name="Create screen").click()
    page.wait_for_url(re.compile(r"/admin/screens/\d+$"))
    assert "Studio Z was created" in page.locator("#flashes").inner_text()
    with live.app.app_context():
        screen = db.session.scalar(select(Screen).where(Screen.name == "Studio Z"))
        assert screen is not None and screen.layout == "S.SS\nSSSS\nSSSV"
        labels = {
            s.label for s in db.session.scalars(select(Seat).where(Seat.screen_id == screen.id))
        }
        assert len(labels) == 11 and "A3" in labels and "A4" not in labels

    page.goto(live.path("/admin/shows/new"))
    page.get_by_label("Film").select_option(label="Solaris (120 min)")
    page.get_by_label("Screen").select_option(label="Studio Z")
    page.get_by_label("Date").fill(tomorrow.isoformat())
    page.get_by_label("Start time").fill("20:15")
    page.get_by_label("Base price (coins)").fill("10")
    page.get_by_role("button", name="Schedule show").click()
    page.wait_for_url(re.compile(r"/admin/shows\?"))
    assert "Solaris is scheduled in Studio Z" in page.locator("#flashes").inner_text()
    assert page.get_by_role("link", name=re.compile("20:15–22:30 Solaris")).count() == 1

    with live.app.app_context():
        show = db.session.scalar(select(Show))
        customer = db.session.scalar(select(User).where(User.username == customer_login))
        factories.make_booking(customer, show, ("A1", "B2"))
        show_id = show.id

    # The customer side lists it.
    visitor = browser.new_context()
    try:
        public = visitor.new_page()
        public.goto(live.path(f"/shows?date={tomorrow.isoformat()}"))
        assert "Solaris" in public.content() and "20:15" in public.content()
    finally:
        visitor.close()

    page.goto(live.path(f"/admin/shows/{show_id}"))
    page.get_by_label("Reason (sent to customers)").fill("Projector repair")
    page.get_by_label("I understand").check()
    page.get_by_role("button", name="Cancel show and refund everyone").click()
    page.wait_for_url(re.compile(rf"/admin/shows/{show_id}$"))
    assert "20 coins refunded in full" in page.locator("#flashes").inner_text()

    other = browser.new_context()
    try:
        wallet_page = other.new_page()
        log_in(wallet_page, live, customer_login, factories.PASSWORD)
        wallet_page.goto(live.path("/wallet"))
        ledger = wallet_page.locator("#ledger").inner_text()
        assert "Refund" in ledger and "+20 coins" in ledger
        assert "100 coins" in wallet_page.content()
    finally:
        other.close()
