"""Helpers for the tickets and check-in tests: log in, read and decode QR codes."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import PIL.Image
import PIL.ImageDraw
import zxingcpp
from flask.testing import FlaskClient

from filmsphere.models import Role
from tests import factories
from tests.conftest import csrf_from, get_csrf

SVG = re.compile(r"<svg\b.*?</svg>", re.S)
SUBPATH = re.compile(r"M([\d.]+),([\d.]+)H([\d.]+)V([\d.]+)H([\d.]+)z")


@dataclass(frozen=True)
class Seeded:
    """Plain values (not ORM objects) so tests can use them outside the app context."""

    username: str
    email: str
    full_name: str
    user_id: int
    staff_id: int
    staff_username: str
    show_id: int
    booking_id: int
    reference: str
    screen_name: str
    title: str


def seed_booking(
    *,
    starts_in: timedelta = timedelta(minutes=30),
    starts_at: datetime | None = None,
    title: str = "Alien",
    seats: tuple[str, ...] = ("A1", "B1"),
    screen_name: str | None = None,
    duration: int = 117,
) -> Seeded:
    """A customer with a paid booking, and a staff member. Needs an app context."""
    user = factories.make_user()
    staff = factories.make_user(Role.STAFF)
    movie = factories.make_movie(title=title, duration=duration)
    screen = factories.make_screen(name=screen_name)
    show = factories.make_show(movie, screen, starts_in=starts_in, starts_at=starts_at, price=10)
    booking = factories.make_booking(user, show, seats)
    return Seeded(
        username=user.username,
        email=user.email,
        full_name=user.full_name,
        user_id=user.id,
        staff_id=staff.id,
        staff_username=staff.username,
        show_id=show.id,
        booking_id=booking.id,
        reference=booking.reference,
        screen_name=screen.name,
        title=movie.title,
    )


def log_in(client: FlaskClient, login: str) -> str:
    """Log in through the real form; returns the new session's CSRF token."""
    token = get_csrf(client, "/auth/login")
    response = client.post(
        "/auth/login",
        data={"login": login, "password": factories.PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    return get_csrf(client, "/")


def page_csrf(client: FlaskClient, path: str) -> str:
    return csrf_from(client.get(path).get_data(as_text=True))


def svg_to_image(svg: str, scale: int = 8) -> PIL.Image.Image:
    """Rasterise the inline QR SVG exactly as served: a white viewBox square with one
    black unit square per dark module (the path SvgPathImage writes)."""
    view_box = re.search(r'viewBox="0 0 (\d+) (\d+)"', svg)
    assert view_box, "QR SVG without a viewBox"
    width, height = int(view_box.group(1)), int(view_box.group(2))
    assert 'fill="#ffffff"' in svg, "QR SVG has no white background"
    path = re.search(r'<path d="([^"]+)"[^>]*fill="#000000"', svg)
    assert path, "QR SVG has no black path"
    image = PIL.Image.new("L", (width * scale, height * scale), 255)
    draw = PIL.ImageDraw.Draw(image)
    squares = SUBPATH.findall(path.group(1))
    assert len(squares) == path.group(1).count("z") and squares, "unexpected SVG path shape"
    for x, y, x2, y2, _ in squares:
        draw.rectangle(
            (float(x) * scale, float(y) * scale, float(x2) * scale - 1, float(y2) * scale - 1),
            fill=0,
        )
    return image


def decode(image: PIL.Image.Image) -> str:
    results = zxingcpp.read_barcodes(image)
    assert len(results) == 1, f"expected one QR code, found {len(results)}"
    return results[0].text


def decode_png(data: bytes) -> str:
    return decode(PIL.Image.open(io.BytesIO(data)))


def qr_codes_in(html: str) -> list[str]:
    """Decode every inline QR SVG of a page."""
    return [decode(svg_to_image(svg)) for svg in SVG.findall(html) if "qr-code" in svg]
