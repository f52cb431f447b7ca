"""Browser: a customer's ticket cards with QR codes; staff check-in by typed code."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import PIL.Image
import pytest
import zxingcpp

from filmsphere.extensions import db
from filmsphere.models import Ticket
from filmsphere.services.door.ticket_codes import ticket_code
from tests import factories
from tests.integration.tickets_support import Seeded, seed_booking

from .conftest import LiveServer, log_in

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parents[2] / "filmsphere/static/vendor/axe-core-4.14.1.min.js"


def _seed(live: LiveServer) -> tuple[Seeded, list[str]]:
    with live.app.app_context():
        seeded = seed_booking(title="Alien")
        codes = [
            ticket_code(t)
            for t in db.session.scalars(
                db.select(Ticket).where(Ticket.booking_id == seeded.booking_id).order_by(Ticket.id)
            )
        ]
        db.session.remove()
    return seeded, codes


def _axe(page: Any) -> list[str]:
    page.add_script_tag(path=str(AXE))
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']}: {v['help']}" for v in results["violations"]]


def test_customer_sees_ticket_cards_with_scannable_qr_codes(browser: Any, live: LiveServer) -> None:
    seeded, codes = _seed(live)
    # A phone: the QR must still be big enough to scan at the door.
    context = browser.new_context(viewport={"width": 360, "height": 800}, bypass_csp=True)
    page = context.new_page()
    log_in(page, live, seeded.username, factories.PASSWORD)

    page.goto(live.path(f"/bookings/{seeded.reference}"))

    cards = page.locator(".ticket-card")
    assert cards.count() == 2
    assert "Row A, seat 1" in cards.nth(0).inner_text()
    assert "Alien" in cards.nth(0).inner_text()
    qrs = page.get_by_role("img", name="QR code for Row A, seat 1, Alien")
    assert qrs.count() == 1
    decoded = []
    for index in range(2):
        qr = page.locator("svg.qr-code").nth(index)
        qr.scroll_into_view_if_needed()
        box = qr.bounding_box()
        assert box is not None and box["width"] >= 220 and box["height"] >= 220
        # What the phone screen shows (dark theme around it) decodes to the ticket's code.
        shot = PIL.Image.open(io.BytesIO(qr.screenshot()))
        [result] = zxingcpp.read_barcodes(shot)
        decoded.append(result.text)
    assert decoded == codes
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert _axe(page) == []
    context.close()


def test_staff_checks_in_by_typed_code(page: Any, live: LiveServer) -> None:
    seeded, codes = _seed(live)
    log_in(page, live, seeded.staff_username, factories.PASSWORD)
    page.goto(live.path("/staff/check-in"))
    page.wait_for_function("() => window.htmx !== undefined")

    page.get_by_label("Ticket code").fill(codes[0])
    page.get_by_role("button", name="Check in").click()
    result = page.locator("#checkin-result")
    result.get_by_text("VALID", exact=True).wait_for()
    text = result.inner_text()
    assert "Let the holder in" in text and "Row A, seat 1" in text and "Alien" in text
    assert seeded.email not in page.content()
    # htmx swapped the result in place and emptied the field for the next ticket.
    assert page.get_by_label("Ticket code").input_value() == ""

    page.get_by_label("Ticket code").fill(codes[0])
    page.keyboard.press("Enter")
    result.get_by_text("ALREADY USED").wait_for()
    assert seeded.staff_username in result.inner_text()
    assert page.url.endswith("/staff/check-in")


def test_staff_check_in_works_without_javascript(browser: Any, live: LiveServer) -> None:
    seeded, codes = _seed(live)
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    log_in(page, live, seeded.staff_username, factories.PASSWORD)
    page.goto(live.path("/staff/check-in"))
    assert page.locator("#scanner").is_hidden()  # the camera needs JavaScript

    page.get_by_label("Ticket code").fill(codes[1])
    page.get_by_role("button", name="Check in").click()
    page.locator("#checkin-result").get_by_text("VALID", exact=True).wait_for()

    page.get_by_label("Ticket code").fill(codes[1][:-1] + ("A" if codes[1][-1] != "A" else "B"))
    page.get_by_role("button", name="Check in").click()
    page.locator("#checkin-result").get_by_text("INVALID", exact=True).wait_for()
    context.close()


def test_check_in_page_is_accessible(browser: Any, live: LiveServer) -> None:
    seeded, codes = _seed(live)
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    log_in(page, live, seeded.staff_username, factories.PASSWORD)
    page.goto(live.path("/staff/check-in"))
    page.get_by_label("Ticket code").fill(codes[0])
    page.get_by_role("button", name="Check in").click()
    page.locator("#checkin-result").get_by_text("VALID", exact=True).wait_for()
    assert _axe(page) == []
    context.close()


def _y4m(path: Path, image: PIL.Image.Image, frames: int = 10) -> None:
    """A tiny Y4M video of a still image: the fake camera Chromium plays in a loop."""
    gray = image.convert("L")
    width, height = gray.size
    header = f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode()
    chroma = bytes([128]) * ((width // 2) * (height // 2))
    frame = b"FRAME\n" + gray.tobytes() + chroma + chroma
    path.write_bytes(header + frame * frames)


def test_camera_scanner_reads_a_ticket_and_checks_it_in(
    browser: Any, live: LiveServer, tmp_path: Path
) -> None:
    """The enhancement end to end: a fake camera shows the ticket's QR, the page decodes
    it (BarcodeDetector where Chromium has it, else the vendored jsQR) and submits it."""
    from filmsphere.services.door.qr import qr_png

    seeded, codes = _seed(live)
    qr = PIL.Image.open(io.BytesIO(qr_png(codes[0], box_size=6)))
    canvas = PIL.Image.new("L", (640, 480), 255)
    canvas.paste(qr, ((640 - qr.width) // 2, (480 - qr.height) // 2))
    video = tmp_path / "ticket.y4m"
    _y4m(video, canvas)
    from .conftest import CHROMIUM, CHROMIUM_ARGS

    camera_browser = browser.browser_type.launch(
        executable_path=CHROMIUM,
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        ],
    )
    try:
        context = camera_browser.new_context(permissions=["camera"])
        context.set_default_timeout(15_000)
        page = context.new_page()
        log_in(page, live, seeded.staff_username, factories.PASSWORD)
        page.goto(live.path("/staff/check-in"))
        page.get_by_role("button", name="Start camera").click()
        page.locator("#checkin-result").get_by_text("VALID", exact=True).wait_for()
        assert "Row A, seat 1" in page.locator("#checkin-result").inner_text()
        page.get_by_role("button", name="Stop camera").click()
    finally:
        camera_browser.close()
    with live.app.app_context():
        ticket = db.session.scalars(
            db.select(Ticket).where(Ticket.booking_id == seeded.booking_id).order_by(Ticket.id)
        ).first()
        assert ticket is not None and ticket.checked_in_by_id == seeded.staff_id
