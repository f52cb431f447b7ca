"""QR images of ticket codes: inline SVG for pages, PNG for email."""

from __future__ import annotations

import io
import re

import qrcode
import qrcode.constants
from markupsafe import Markup, escape
from qrcode.image.pil import PilImage
from qrcode.image.svg import SvgPathImage

QUIET_ZONE = 4  # modules of white border the QR specification asks for
PNG_BOX_SIZE = 8  # pixels per module in email images (~300 px for a ticket code)


def _qr(data: str) -> qrcode.QRCode:
    # Error correction M survives a cracked phone screen or a smudged printout without
    # making the code too dense to scan from a distance.
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=QUIET_ZONE)
    qr.add_data(data)
    qr.make(fit=True)
    return qr


def qr_svg(data: str, title: str = "Ticket QR code") -> Markup:
    """Inline SVG markup for `data`: black modules on an explicit white square (so it scans
    in the dark theme too), scalable (viewBox, no fixed size), with a <title> for screen
    readers. Safe to put in a template as is."""
    image = _qr(data).make_image(image_factory=SvgPathImage)
    svg = image.to_string(encoding="unicode")
    # The library writes its size in millimetres; CSS decides the size on the page.
    svg = re.sub(r'\s(width|height)="[^"]*"', "", svg, count=2)
    svg = re.sub(r"<\?xml[^>]*\?>\s*", "", svg)
    # White background rect under the path, explicit colours rather than currentColor.
    view_box = re.search(r'viewBox="([^"]+)"', svg)
    if view_box is None:
        raise RuntimeError("qrcode produced an SVG without a viewBox")
    _, _, w, h = view_box.group(1).split()
    label = escape(title)
    svg = svg.replace(
        ">",
        f' role="img" aria-label="{label}" class="qr-code">'
        f"<title>{label}</title>"
        f'<rect x="0" y="0" width="{w}" height="{h}" fill="#ffffff"/>',
        1,
    )
    # The library names its path id="qr-path": several tickets on a page must not share it.
    svg = svg.replace(' id="qr-path"', "")
    return Markup(svg)


def qr_png(data: str, box_size: int = PNG_BOX_SIZE) -> bytes:
    """A PNG of the QR for `data` (black on white, with the quiet zone)."""
    qr = _qr(data)
    qr.box_size = box_size
    image = qr.make_image(image_factory=PilImage, fill_color="black", back_color="white")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
