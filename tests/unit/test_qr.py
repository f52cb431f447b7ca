"""QR PNGs for email: they decode to the code, at the email size and any other."""

from __future__ import annotations

import io

import PIL.Image
import pytest
import zxingcpp

from filmsphere.services.door import qr

CODE = "FS1.12345.678.ABCDEFGHIJKLMNOPQRSTUVWXYZ234567ABCD"


@pytest.mark.parametrize("box_size", [qr.PNG_BOX_SIZE, 3, 6, 16])
def test_png_decodes_to_the_code_at_every_size(box_size: int) -> None:
    image = PIL.Image.open(io.BytesIO(qr.qr_png(CODE, box_size=box_size)))
    assert image.mode == "1"
    [decoded] = zxingcpp.read_barcodes(image)
    assert decoded.text == CODE
    assert image.size[0] == image.size[1] and image.size[0] % box_size == 0


def test_the_email_size_shortcut_draws_the_same_pixels_as_the_general_path() -> None:
    """At 8 pixels a module the rows are zxing's module bytes as they are; the bit-packing
    path must give the very same image."""
    fast = PIL.Image.open(io.BytesIO(qr.qr_png(CODE, box_size=8)))
    modules = zxingcpp.create_barcode(CODE, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    image = modules.to_image(scale=1, add_quiet_zones=True)
    height, width = image.shape
    pixels = bytes(memoryview(image))  # type: ignore[arg-type]
    general = [qr._packed_bits(pixels[y * width : (y + 1) * width], 8) for y in range(height)]
    rows = fast.tobytes()
    stride = len(general[0])
    assert [rows[y * 8 * stride : (y * 8 + 1) * stride] for y in range(height)] == general
    assert PIL.Image.open(io.BytesIO(qr.qr_png(CODE))).getpixel((0, 0)) == 255  # quiet zone
