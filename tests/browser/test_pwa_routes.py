"""The PWA's server side: manifest, icons, service worker script, offline page."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pytest
from PIL import Image

from filmsphere.blueprints.pwa import routes as pwa_routes

from .conftest import LiveServer

STATIC = Path(__file__).resolve().parents[2] / "filmsphere" / "static"


def test_manifest_describes_an_installable_app(live: LiveServer) -> None:
    client = live.app.test_client()
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response.mimetype == "application/manifest+json"
    data = json.loads(response.get_data(as_text=True))
    assert data["name"] == "FilmSphere"
    assert data["short_name"]
    assert data["start_url"] == "/"
    assert data["scope"] == "/"
    assert data["display"] == "standalone"
    assert data["background_color"] == "#12101a"
    assert data["theme_color"] == "#12101a"
    icons = {(icon["sizes"], icon["purpose"]): icon for icon in data["icons"]}
    assert set(icons) == {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")}
    for (sizes, _), icon in icons.items():
        file = client.get(icon["src"])
        assert file.status_code == 200
        assert file.mimetype == "image/png"
        image = Image.open(io.BytesIO(file.data))
        assert f"{image.width}x{image.height}" == sizes


def test_maskable_icon_keeps_its_mark_inside_the_safe_zone() -> None:
    """Platforms may crop a maskable icon to a circle of 40 % of its size: the mark (the
    accent colour) must lie inside it, and the corners must be the opaque background."""
    image = Image.open(STATIC / "icons/icon-maskable-512.png").convert("RGB")
    size = image.width
    centre = size / 2
    accent_far = 0
    for y in range(0, size, 4):
        for x in range(0, size, 4):
            r, g, b = image.getpixel((x, y))
            if r > 200 and g > 150 and b < 140:  # the gold accent
                accent_far = max(accent_far, math.hypot(x - centre, y - centre))
    assert 0 < accent_far <= 0.4 * size
    assert image.getpixel((0, 0)) == (0x12, 0x10, 0x1A)
    apple = Image.open(STATIC / "icons/apple-touch-icon-180.png")
    assert apple.size == (180, 180)
    assert apple.mode in {"RGB", "P"} and "transparency" not in apple.info


def test_service_worker_is_served_from_the_root_and_never_cached(live: LiveServer) -> None:
    response = live.app.test_client().get("/sw.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Service-Worker-Allowed"] == "/"
    assert response.headers["Cache-Control"] == "no-cache"
    body = response.get_data(as_text=True)
    with live.app.test_request_context():
        urls = pwa_routes.precache_urls()
        version = pwa_routes.cache_version(urls)
    assert f'const CACHE_VERSION = "{version}";' in body
    assert "/offline" in urls
    assert any(url.startswith("/static/css/app.css?v=") for url in urls)
    for url in urls:
        assert f'"{url}"' in body
        assert live.app.test_client().get(url).status_code == 200, url


def test_cache_version_follows_the_content_of_the_shell(
    live: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with live.app.test_request_context():
        urls = pwa_routes.precache_urls()
        before = pwa_routes.cache_version(urls)
        assert pwa_routes.cache_version(list(urls)) == before
        changed = [url.replace("css/app.css?v=", "css/app.css?v=0") for url in urls]
        assert pwa_routes.cache_version(changed) != before


def test_offline_page_is_generic_and_says_live_data_needs_a_connection(live: LiveServer) -> None:
    response = live.app.test_client().get("/offline")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<h1" in html and "You're offline" in html
    assert "live data" in html
    assert 'href="/bookings"' in html
    # Precached once and shown to whoever is offline: no session-bound content.
    assert "csrf" not in html.lower()
    assert "Log out" not in html
