"""Generated poster art: a deterministic SVG drawn from a film's title, hue and rating.

Pure functions, no database. Every piece of film data is XML-escaped, and characters XML
cannot carry are dropped, so a title can never inject markup into the image.
"""

from __future__ import annotations

import hashlib
import re
from xml.sax.saxutils import escape

WIDTH = 400
HEIGHT = 600
# XML 1.0 forbids most control characters even when escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_text(value: str) -> str:
    """Text safe inside an SVG element or a double-quoted attribute."""
    return escape(_NOT_XML.sub("", value), {'"': "&quot;", "'": "&#39;"})


def wrap_title(title: str, width: int = 14, max_lines: int = 4) -> list[str]:
    """Break a title into at most `max_lines` lines of about `width` characters, breaking
    at spaces, splitting over-long words, and ending with … when it had to cut."""
    words = " ".join(_NOT_XML.sub("", title).split()).split(" ")
    lines: list[str] = []
    current = ""
    for word in words:
        while len(word) > width:
            if current:
                lines.append(current)
                current = ""
            lines.append(word[: width - 1] + "-")
            word = word[width - 1 :]
        candidate = f"{current} {word}".strip()
        if len(candidate) <= width:
            current = candidate
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    lines = lines or ["Untitled"]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1].rstrip("-")
        lines[-1] = (last[: width - 1] if len(last) >= width else last) + "…"
    return lines


def poster_etag(title: str, hue: int, rating: str) -> str:
    """Changes whenever the drawing would change (and when the drawing code changes)."""
    digest = hashlib.sha256(f"v1|{title}|{hue}|{rating}".encode()).hexdigest()
    return digest[:24]


def poster_svg(title: str, hue: int, rating: str) -> str:
    """The poster as a standalone SVG document, 2:3, the same bytes for the same input."""
    hue = int(hue) % 360
    seed = hashlib.sha256(title.encode("utf-8", "replace")).digest()
    hue2 = (hue + 30 + seed[0] % 60) % 360
    lines = wrap_title(title)
    size = 52 if max(len(line) for line in lines) <= 10 else 40
    line_height = int(size * 1.15)
    top = HEIGHT * 0.42 - (len(lines) - 1) * line_height / 2
    text_lines = "".join(
        f'<tspan x="32" y="{top + i * line_height:.0f}">{xml_text(line)}</tspan>'
        for i, line in enumerate(lines)
    )
    # A few soft circles placed from the title's hash give each film its own look.
    circles = "".join(
        f'<circle cx="{seed[1 + i] * WIDTH // 255}" cy="{seed[5 + i] * HEIGHT // 255}" '
        f'r="{60 + seed[9 + i] % 140}" fill="hsl({(hue + 180 + 25 * i) % 360} 70% 60%)" '
        f'fill-opacity="0.{12 + seed[13 + i] % 10:02d}"/>'
        for i in range(4)
    )
    safe_title = xml_text(title)
    safe_rating = xml_text(rating[:4] or "?")
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="Poster: {safe_title}">'
        f"<title>{safe_title}</title>"
        "<defs>"
        f'<linearGradient id="g" x1="0" y1="0" x2="0.6" y2="1">'
        f'<stop offset="0" stop-color="hsl({hue} 65% 42%)"/>'
        f'<stop offset="1" stop-color="hsl({hue2} 55% 12%)"/>'
        "</linearGradient>"
        "</defs>"
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="url(#g)"/>'
        f"{circles}"
        f'<rect x="0" y="{HEIGHT - 150}" width="{WIDTH}" height="150" fill="#000" '
        'fill-opacity="0.35"/>'
        f'<text font-family="system-ui, sans-serif" font-weight="800" font-size="{size}" '
        f'fill="#fff">{text_lines}</text>'
        f'<rect x="32" y="{HEIGHT - 96}" width="84" height="56" rx="10" fill="#f5c451"/>'
        f'<text x="74" y="{HEIGHT - 58}" text-anchor="middle" font-family="system-ui, '
        f'sans-serif" font-weight="800" font-size="28" fill="#1a1405">{safe_rating}</text>'
        f'<text x="{WIDTH - 32}" y="{HEIGHT - 58}" text-anchor="end" font-family="system-ui, '
        'sans-serif" font-size="22" fill="#f1eef8" fill-opacity="0.8">FilmSphere</text>'
        "</svg>"
    )
