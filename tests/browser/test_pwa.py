"""The installed app in Chromium: service worker, tickets offline, logout, updates."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest

from filmsphere.blueprints.pwa import routes as pwa_routes

from .. import factories
from .conftest import LiveServer, log_in

pytestmark = pytest.mark.browser

TICKETS = "filmsphere-tickets-v1"

CACHED_PATHS = """async (name) => {
  if (!(await caches.has(name))) return null;
  const cache = await caches.open(name);
  return (await cache.keys()).map(r => { const u = new URL(r.url); return u.pathname + u.search; });
}"""


def controlled(page: Any, live: LiveServer, path: str = "/") -> None:
    """Open a page and wait until the service worker controls it (first visit installs)."""
    page.goto(live.path(path))
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")


def cached(page: Any, name: str = TICKETS) -> list[str] | None:
    result: list[str] | None = page.evaluate(CACHED_PATHS, name)
    return result


def wait_until_cached(page: Any, paths: list[str]) -> None:
    page.wait_for_function(
        """async ([name, paths]) => {
            if (!(await caches.has(name))) return false;
            const keys = (await (await caches.open(name)).keys()).map(r => new URL(r.url).pathname);
            return paths.every(p => keys.includes(p));
        }""",
        arg=[TICKETS, paths],
        polling=100,
    )


@pytest.fixture
def booked(live: LiveServer) -> dict[str, Any]:
    """A customer with a two-ticket booking for tomorrow."""
    from filmsphere.services.door.ticket_codes import ticket_code

    with live.app.app_context():
        user = factories.make_user(username="olive")
        show = factories.make_show(starts_in=timedelta(days=1))
        booking = factories.make_booking(user, show, ("A1", "A2"))
        codes = sorted(ticket_code(ticket) for ticket in booking.tickets)
        return {"login": "olive", "ref": booking.reference, "show_id": show.id, "codes": codes}


def decode_qr_codes(page: Any) -> list[str]:
    """Screenshot every QR code on the page and decode it like a door scanner would."""
    import zxingcpp
    from PIL import Image

    found = []
    codes = page.locator(".qr-code, .qr-frame img")
    for index in range(codes.count()):
        element = codes.nth(index)
        if not element.is_visible():
            continue
        image = Image.open(io.BytesIO(element.screenshot())).convert("L")
        found += [result.text for result in zxingcpp.read_barcodes(image)]
    return sorted(set(found))


def test_service_worker_registers_for_the_whole_site_and_precaches_the_shell(
    page: Any, live: LiveServer
) -> None:
    controlled(page, live)
    scope = page.evaluate("async () => (await navigator.serviceWorker.ready).scope")
    assert scope == live.path("/")
    with live.app.test_request_context():
        urls = pwa_routes.precache_urls()
        version = pwa_routes.cache_version(urls)
    shell = cached(page, f"filmsphere-static-{version}")
    assert shell is not None
    assert set(urls) <= set(shell)


def test_chromium_finds_the_app_installable(page: Any, live: LiveServer) -> None:
    controlled(page, live)
    cdp = page.context.new_cdp_session(page)
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["errors"] == []
    assert manifest["url"] == live.path("/manifest.webmanifest")
    errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    # Playwright's contexts are incognito profiles; that says nothing about the app.
    assert [e["errorId"] for e in errors if e["errorId"] != "in-incognito"] == []


def test_seen_tickets_open_offline_with_their_qr_codes(
    context: Any, page: Any, live: LiveServer, booked: dict[str, Any]
) -> None:
    csp_errors: list[str] = []
    page.on(
        "console",
        lambda m: csp_errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    log_in(page, live, booked["login"], factories.PASSWORD)
    controlled(page, live)
    page.goto(live.path("/bookings"))
    page.goto(live.path(f"/bookings/{booked['ref']}"))
    online_codes = decode_qr_codes(page)
    assert online_codes == booked["codes"]
    wait_until_cached(page, ["/bookings", f"/bookings/{booked['ref']}"])

    context.set_offline(True)
    try:
        page.goto(live.path(f"/bookings/{booked['ref']}"))
        banner = page.locator(".offline-banner")
        assert banner.is_visible()
        assert "may be out of date" in banner.inner_text()
        assert booked["ref"] in page.content()
        assert decode_qr_codes(page) == booked["codes"]

        page.goto(live.path("/bookings"))
        assert page.locator(".offline-banner").is_visible()
        assert booked["ref"] in page.content()

        # Never seen, or live data: the offline page, not a stale copy.
        for path in ("/wallet", f"/shows/{booked['show_id']}", "/movies"):
            page.goto(live.path(path))
            assert page.get_by_role("heading", level=1).inner_text() == "You're offline", path
            assert page.locator(".offline-banner").count() == 0
    finally:
        context.set_offline(False)
    # The worker's banner and pwa.js live within the strict CSP (no inline script or style).
    assert csp_errors == []


def test_a_saved_ticket_shows_when_the_network_hangs(
    page: Any, live: LiveServer, booked: dict[str, Any]
) -> None:
    """Lie-fi at the door: the server takes far longer than the worker's patience (4 s),
    so the saved copy is shown, saying why, instead of a blank page."""
    import threading

    log_in(page, live, booked["login"], factories.PASSWORD)
    controlled(page, live)
    path = f"/bookings/{booked['ref']}"
    page.goto(live.path(path))
    wait_until_cached(page, [path])

    release = threading.Event()
    inner = live.app.wsgi_app

    def hanging(environ: dict[str, Any], start_response: Any) -> Any:
        if environ["PATH_INFO"] == path:
            release.wait(15)
        return inner(environ, start_response)

    live.app.wsgi_app = hanging  # type: ignore[method-assign]
    try:
        page.goto(live.path(path), timeout=12_000)
        banner = page.locator(".offline-banner")
        assert "The connection is slow." in banner.inner_text()
        assert decode_qr_codes(page) == booked["codes"]
    finally:
        release.set()
        live.app.wsgi_app = inner  # type: ignore[method-assign]


def test_logging_out_forgets_the_saved_tickets(
    context: Any, page: Any, live: LiveServer, booked: dict[str, Any]
) -> None:
    log_in(page, live, booked["login"], factories.PASSWORD)
    controlled(page, live)
    page.goto(live.path(f"/bookings/{booked['ref']}"))
    wait_until_cached(page, [f"/bookings/{booked['ref']}"])

    # app.js deletes the saved tickets first, then sends the form: wait for that navigation.
    with page.expect_navigation():
        page.get_by_role("button", name="Log out").click()
    page.wait_for_load_state()
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    assert page.get_by_role("button", name="Log out").count() == 0
    assert cached(page) is None

    context.set_offline(True)
    try:
        page.goto(live.path(f"/bookings/{booked['ref']}"))
        assert page.get_by_role("heading", level=1).inner_text() == "You're offline"
        assert booked["ref"] not in page.content()
    finally:
        context.set_offline(False)


def test_only_whole_pages_that_loaded_fine_are_saved(
    page: Any, live: LiveServer, booked: dict[str, Any]
) -> None:
    log_in(page, live, booked["login"], factories.PASSWORD)
    controlled(page, live)
    # An htmx request for a ticket page is live data: never kept.
    status = page.evaluate(
        "async () => (await fetch('/bookings', {headers: {'HX-Request': 'true'}})).status"
    )
    assert status == 200
    page.goto(live.path("/offline"))  # a navigation later: time for the worker to have acted
    assert cached(page) in (None, [])
    # A booking that isn't there (404) is not kept; a real one is.
    page.goto(live.path("/bookings/NOSUCHREF"))
    page.goto(live.path(f"/bookings/{booked['ref']}"))
    wait_until_cached(page, [f"/bookings/{booked['ref']}", "/bookings"])
    assert "/bookings/NOSUCHREF" not in (cached(page) or [])


def test_a_new_version_is_offered_and_taken_on_reload(
    page: Any, live: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    controlled(page, live)
    with live.app.test_request_context():
        old = pwa_routes.cache_version(pwa_routes.precache_urls())
    first_controller = page.evaluate("() => navigator.serviceWorker.controller.scriptURL")
    assert page.locator("#update-notice button").count() == 0

    # A deploy that changes the shell: the worker's bytes change, so the browser updates.
    monkeypatch.setattr(pwa_routes, "SHELL_ASSETS", pwa_routes.SHELL_ASSETS[:-1])
    with live.app.test_request_context():
        new = pwa_routes.cache_version(pwa_routes.precache_urls())
    assert new != old
    page.evaluate("async () => (await navigator.serviceWorker.getRegistration()).update()")

    notice = page.locator("#update-notice")
    button = notice.get_by_role("button", name="Reload")
    button.wait_for()
    assert notice.get_attribute("role") == "status"
    assert "New version available" in notice.inner_text()
    # Still the old worker until the customer chooses to reload.
    names = page.evaluate("() => caches.keys()")
    assert f"filmsphere-static-{old}" in names

    with page.expect_navigation():
        button.click()
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    assert page.evaluate("() => navigator.serviceWorker.controller.scriptURL") == first_controller
    page.wait_for_function(
        "([old, fresh]) => caches.keys().then(n => !n.includes(old) && n.includes(fresh))",
        arg=[f"filmsphere-static-{old}", f"filmsphere-static-{new}"],
    )
    assert page.locator("#update-notice button").count() == 0


def test_on_a_phone_a_customer_books_goes_offline_and_still_opens_the_ticket(
    browser: Any, live: LiveServer
) -> None:
    """The issue's "done": phone-sized window, book by tapping, go offline, open the ticket."""
    import re

    from playwright.sync_api import expect

    from filmsphere.extensions import db
    from filmsphere.models import Booking
    from filmsphere.services.door.ticket_codes import ticket_code

    with live.app.app_context():
        factories.make_user(username="pia")
        show_id = factories.make_show(factories.make_movie("Offline Nights"), price=10).id
    context = browser.new_context(
        viewport={"width": 360, "height": 740},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    context.set_default_timeout(10_000)
    try:
        page = context.new_page()
        log_in(page, live, "pia", factories.PASSWORD)
        controlled(page, live)
        page.goto(live.path(f"/shows/{show_id}"))
        seat = page.get_by_role("button", name=re.compile(r"^Row A, seat 3\b"))
        seat.tap()
        expect(seat).to_have_attribute("aria-pressed", "true")
        page.get_by_role("button", name=re.compile(r"^Pay ")).tap()
        page.wait_for_url(re.compile(r".*/bookings/[A-Z0-9-]+$"))
        ref = page.url.rsplit("/", 1)[1]
        # Straight from checkout: the redirected page went through the worker and was saved.
        wait_until_cached(page, [f"/bookings/{ref}"])
        with live.app.app_context():
            booking = db.session.scalar(db.select(Booking).where(Booking.reference == ref))
            assert booking is not None
            codes = [ticket_code(ticket) for ticket in booking.tickets]

        context.set_offline(True)
        page.goto(live.path("/"))
        assert page.get_by_role("heading", level=1).inner_text() == "You're offline"
        # "My bookings" was never opened, but saving the booking kept the list in step.
        page.get_by_role("link", name="My bookings").first.tap()
        page.wait_for_url(re.compile(r".*/bookings$"))
        assert page.locator(".offline-banner").is_visible()
        page.locator(f'a[href="/bookings/{ref}"]').first.tap()
        page.wait_for_url(re.compile(rf".*/bookings/{ref}$"))
        assert page.locator(".offline-banner").is_visible()
        assert decode_qr_codes(page) == codes
        overflow = page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0
    finally:
        context.close()
