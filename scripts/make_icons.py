"""Draw the PWA icons (192, 512, maskable 512, apple-touch 180) from the favicon's design.

Run once after changing the design: `.venv/bin/python scripts/make_icons.py`. The PNGs are
committed; Pillow cannot read SVG, so the ring-and-dot mark of favicon.svg is redrawn here.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

ICONS = Path(__file__).resolve().parent.parent / "filmsphere" / "static" / "icons"
BACKGROUND = "#12101a"
ACCENT = "#f5c451"
SUPERSAMPLE = 4  # draw large, then downscale: smooth edges without an antialiasing API


def draw_mark(size: int, *, mark_fraction: float, rounded: bool) -> Image.Image:
    """The favicon mark centred on the dark background; mark_fraction = ring diameter / size."""
    big = size * SUPERSAMPLE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    if rounded:
        draw.rounded_rectangle((0, 0, big - 1, big - 1), radius=big * 14 // 64, fill=BACKGROUND)
    else:
        draw.rectangle((0, 0, big - 1, big - 1), fill=BACKGROUND)
    # favicon.svg: 64 px canvas, ring radius 20 with a 6 px stroke, centre dot radius 6.
    scale = big * mark_fraction / 46  # outer diameter of the ring = 2 * (20 + 3)
    centre = big / 2
    outer = 23 * scale
    stroke = 6 * scale
    draw.ellipse(
        (centre - outer, centre - outer, centre + outer, centre + outer),
        outline=ACCENT,
        width=round(stroke),
    )
    dot = 6 * scale
    draw.ellipse((centre - dot, centre - dot, centre + dot, centre + dot), fill=ACCENT)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def save(image: Image.Image, name: str) -> None:
    """A 64-colour palette PNG: the mark has two colours plus edge shades, so this is lossless
    to the eye and a quarter of the size of true colour (the icons are precached)."""
    image.quantize(colors=64, method=Image.Quantize.FASTOCTREE).save(ICONS / name, optimize=True)


def main() -> None:
    ICONS.mkdir(parents=True, exist_ok=True)
    # "any" icons keep the favicon's proportions (ring = 46/64 of the tile).
    for size in (192, 512):
        save(draw_mark(size, mark_fraction=46 / 64, rounded=True), f"icon-{size}.png")
    # Maskable: full-bleed background, mark inside the 80 % safe zone (a circle of 0.4 * size
    # radius), so any mask shape the platform applies leaves the whole mark visible.
    save(draw_mark(512, mark_fraction=0.5, rounded=False).convert("RGB"), "icon-maskable-512.png")
    # iOS draws its own rounded corners and ignores transparency: opaque square.
    save(
        draw_mark(180, mark_fraction=0.6, rounded=False).convert("RGB"), "apple-touch-icon-180.png"
    )
    for path in sorted(ICONS.glob("*.png")):
        print(path.relative_to(ICONS.parent.parent.parent), path.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
