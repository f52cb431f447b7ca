"""The web app manifest's content: how an installed FilmSphere looks (name, colours, icons)."""

from __future__ import annotations

from typing import Any

from ...assets import asset_url

THEME_COLOUR = "#12101a"
ACCENT_COLOUR = "#f5c451"

# (file under static/, sizes, purpose); the src is versioned by asset_url at request time.
ICONS = (
    ("icons/icon-192.png", "192x192", "any"),
    ("icons/icon-512.png", "512x512", "any"),
    ("icons/icon-maskable-512.png", "512x512", "maskable"),
)


def web_manifest() -> dict[str, Any]:
    """The manifest as JSON-ready data, icon URLs carrying their content-hash version."""
    return {
        "id": "/",
        "name": "FilmSphere",
        "short_name": "FilmSphere",
        "description": "Cinema tickets, seats and showtimes — paid with coins, "
        "tickets available offline.",
        "lang": "en",
        "start_url": "/",
        "scope": "/",
        "display": "standalone",
        "orientation": "any",
        "background_color": THEME_COLOUR,
        "theme_color": THEME_COLOUR,
        "categories": ["entertainment"],
        "icons": [
            {"src": asset_url(name), "sizes": sizes, "type": "image/png", "purpose": purpose}
            for name, sizes, purpose in ICONS
        ],
        "shortcuts": [
            {"name": "My tickets", "short_name": "Tickets", "url": "/bookings"},
            {"name": "Showtimes", "url": "/shows"},
        ],
    }
