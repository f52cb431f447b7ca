"""A new customer's account in Chromium, on a phone (360 x 740, touch) and a laptop
(1280 x 800): register, the verify page already knows the address, the emailed code (real
SMTP) signs you in, change the name, ask for a new address, close the account."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from filmsphere.models.types import utcnow
from filmsphere.services.mail.mailer import send_pending

from ..support.smtp import Inbox, smtp_server
from .artefacts import save_screenshot
from .conftest import LiveServer
from .test_accessibility import axe_violations
from .test_ticket_view_browser import SIZES

pytestmark = pytest.mark.browser


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def live_overrides(smtp: tuple[Inbox, int]) -> dict[str, Any]:
    return {"MAIL_PORT": smtp[1]}


def mail_to(live: LiveServer, inbox: Inbox, address: str) -> str:
    """Run the mail sender; the plain text of the newest message to `address`."""
    with live.app.app_context():
        send_pending(utcnow())
    messages = inbox.to(address)
    assert messages, f"no mail for {address}"
    body = messages[-1].get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def tap(page: Any, locator: Any, size: str) -> None:
    locator.tap() if size == "phone" else locator.click()


@pytest.mark.parametrize("size", ["phone", "laptop"])
def test_register_verify_signed_in_change_and_close(
    browser: Any, live: LiveServer, smtp: tuple[Inbox, int], size: str
) -> None:
    inbox = smtp[0]
    context = browser.new_context(**SIZES[size], bypass_csp=True, service_workers="block")
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        page.goto(live.path("/auth/register"))
        page.get_by_label("Email address").fill("nina@example.com")
        page.get_by_label("Username").fill("nina")
        page.get_by_label("Full name").fill("Nina Simone")
        page.get_by_label("Password").fill("Tangerine-Lamp-42")
        tap(page, page.get_by_role("button", name="Register"), size)
        page.wait_for_url(re.compile(r".*/auth/verify"))

        # The page knows the address: only the code is left to type.
        typed = page.locator("form[action$='/auth/verify'] input[name=email]")
        assert typed.input_value() == "nina@example.com"
        assert "nina@example.com" in page.locator("main").inner_text()
        save_screenshot(page, f"verify-after-register-{size}")
        assert axe_violations(page) == []
        code = re.search(r"^\s+(\d{6})\s*$", mail_to(live, inbox, "nina@example.com"), re.M)
        assert code
        page.get_by_label("Code").fill(code.group(1))
        tap(page, page.get_by_role("button", name="Verify"), size)
        page.wait_for_url(live.path("/"))
        assert "You are logged in." in page.locator("main").inner_text()

        # Signed in without a second log-in: the account page opens.
        page.goto(live.path("/account"))
        assert page.get_by_role("heading", name="Your account", exact=True).is_visible()
        page.get_by_label("Full name").fill("Nina Waymon")
        with page.expect_navigation():
            tap(page, page.get_by_role("button", name="Save name"), size)
        assert "Nina Waymon" in page.locator(".profile").inner_text()

        page.get_by_label("New email address").fill("nina@new.example")
        page.locator("#email_password").fill("Tangerine-Lamp-42")
        with page.expect_navigation():
            tap(page, page.get_by_role("button", name="Send the link"), size)
        assert "We sent a link to nina@new.example" in page.locator("main").inner_text()
        save_screenshot(page, f"account-{size}")
        assert axe_violations(page) == []
        link = re.search(r"(http\S+/account/email/\S+)", mail_to(live, inbox, "nina@new.example"))
        assert link
        page.goto(live.path("/account/email/" + link.group(1).rsplit("/", 1)[1]))
        assert axe_violations(page) == []
        tap(page, page.get_by_role("button", name="Use this address"), size)
        page.wait_for_url(re.compile(r".*/account$"))
        assert "nina@new.example" in page.locator(".profile").inner_text()

        # Close: nothing booked, so it goes through; then logged out.
        page.goto(live.path("/account/close"))
        assert axe_violations(page) == []
        save_screenshot(page, f"close-account-{size}")
        page.locator("#close_password").fill("Tangerine-Lamp-42")
        tap(page, page.get_by_label(re.compile("can't be undone")), size)
        tap(page, page.get_by_role("button", name="Close my account"), size)
        page.wait_for_url(live.path("/"))
        assert "Your account is closed." in page.locator("main").inner_text()
        assert page.get_by_role("link", name="Log in").is_visible()
    finally:
        context.close()
