"""Browser: a customer sends a ticket to a friend, who logs in from the link and accepts."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from filmsphere.extensions import db
from filmsphere.models import OutboxMessage
from filmsphere.services.mail.emails import render_message
from tests import factories
from tests.integration.tickets_support import seed_booking

from .conftest import LiveServer, log_in

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "filmsphere/static/vendor/axe-core-4.14.1.min.js"
LINK = re.compile(r"/transfers/[A-Za-z0-9_-]+")


def _axe(page: Any) -> list[str]:
    page.add_script_tag(path=str(AXE))
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']}: {v['help']}" for v in results["violations"]]


def test_send_then_the_friend_logs_in_from_the_link_and_accepts(
    browser: Any, live: LiveServer
) -> None:
    with live.app.app_context():
        seeded = seed_booking(title="Alien", seats=("A1", "A2"))
        friend = factories.make_user()
        friend_login, friend_email = friend.username, friend.email
        db.session.remove()

    sender = browser.new_context(bypass_csp=True).new_page()
    log_in(sender, live, seeded.username, factories.PASSWORD)
    sender.goto(live.path(f"/bookings/{seeded.reference}"))
    sender.get_by_role("link", name="Send to a friend").click()
    assert _axe(sender) == []
    sender.get_by_label("Row A, seat 2 (standard)").check()
    sender.get_by_label("Your friend's email address").fill(friend_email)
    sender.get_by_role("button", name="Send the ticket").click()
    # htmx swapped the form in place with the outcome.
    sender.get_by_role("status").filter(has_text="We emailed").wait_for()
    assert sender.url.endswith(f"/bookings/{seeded.reference}/send")

    with live.app.app_context():
        message = db.session.scalars(
            db.select(OutboxMessage).where(OutboxMessage.to_address == friend_email)
        ).one()
        link = LINK.search(render_message(message).text).group(0)  # type: ignore[union-attr]
        db.session.remove()

    friend_page = browser.new_context(bypass_csp=True).new_page()
    friend_page.goto(live.path(link))
    assert "is sending you seat A2" in friend_page.inner_text("main")
    assert _axe(friend_page) == []
    # The log-in link of the navigation, without a next=: the session remembers the link.
    friend_page.get_by_role("navigation", name="Main").get_by_role("link", name="Log in").click()
    friend_page.get_by_label("Email or username").fill(friend_login)
    friend_page.get_by_label("Password", exact=True).fill(factories.PASSWORD)
    friend_page.get_by_role("button", name="Log in").click()
    friend_page.wait_for_url(live.path(link))
    friend_page.get_by_role("button", name="Accept the ticket").click()
    friend_page.wait_for_url(re.compile(r"/bookings/[A-Z0-9]{8}$"))
    assert friend_page.get_by_role("img", name="QR code for Row A, seat 2, Alien").count() == 1
    assert "received from" in friend_page.inner_text("main")

    sender.goto(live.path(f"/bookings/{seeded.reference}"))
    text = sender.inner_text("main")
    assert f"sent to {friend_email}" in text and "the ticket is theirs now" in text
    assert sender.get_by_role("img", name="QR code for Row A, seat 1, Alien").count() == 1
    assert sender.get_by_role("img", name="QR code for Row A, seat 2, Alien").count() == 0
