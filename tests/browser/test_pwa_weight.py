"""Page weight and static caching: <= 100 KB of gzip'd JS + CSS per page type; versioned
static URLs are cached for a year."""

from __future__ import annotations

import gzip
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import pytest

from .conftest import LiveServer
from .pwa_pages import available_pages, role_pages, seed, visit

pytestmark = pytest.mark.browser

BUDGET = 100 * 1024
YEAR = 31536000


class AssetParser(HTMLParser):
    """Collects <script src>, <link rel=stylesheet href> and data-*="….js" (scripts loaded
    on demand) of one HTML document."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script" and values.get("src"):
            self.urls.append(values["src"] or "")
        # Scripts a page loads on demand (e.g. the check-in page's QR decoder) still count.
        for name, value in attrs:
            if name.startswith("data-") and value and value.split("?")[0].endswith((".js", ".css")):
                self.urls.append(value)
        rel = (values.get("rel") or "").lower().split()
        if tag == "link" and "stylesheet" in rel and values.get("href"):
            self.urls.append(values["href"] or "")


def page_assets(html: str) -> list[str]:
    parser = AssetParser()
    parser.feed(html)
    return list(dict.fromkeys(parser.urls))


def test_parser_finds_scripts_and_stylesheets() -> None:
    html = (
        '<link rel="stylesheet" href="/static/a.css?v=1"><link rel="icon" href="/i.svg">'
        '<script src="/static/b.js?v=2" defer></script><script>inline()</script>'
        '<link rel="preload stylesheet" href="/static/a.css?v=1">'
        '<form data-decoder-src="/static/c.js?v=3" data-next="/x">'
    )
    assert page_assets(html) == ["/static/a.css?v=1", "/static/b.js?v=2", "/static/c.js?v=3"]


def gzip_size(body: bytes) -> int:
    # Level 6 is what the production nginx config in the README uses (gzip_comp_level 6).
    return len(gzip.compress(body, compresslevel=6))


def test_every_page_type_ships_at_most_100_kb_of_compressed_js_and_css(
    browser: Any, live: LiveServer
) -> None:
    data = seed(live)
    pages = available_pages(live, data)
    over: dict[str, str] = {}
    uncached: set[str] = set()
    sizes: dict[str, int] = {}
    weights: dict[str, int] = {}
    with role_pages(browser, live, data, service_workers="block") as page_for:
        for page_type in pages:
            page = page_for(page_type.role)
            problem = visit(page, live, data, page_type)
            assert problem is None, f"{page_type.name}: {problem}"
            total = 0
            for url in page_assets(page.content()):
                if url not in sizes:
                    response = page.request.get(live.path(url) if url.startswith("/") else url)
                    assert response.status == 200, f"{url}: {response.status}"
                    sizes[url] = gzip_size(response.body())
                    cache = response.headers.get("cache-control", "")
                    if "v=" not in (urlsplit(url).query or "") or f"max-age={YEAR}" not in cache:
                        uncached.add(f"{url} ({cache or 'no Cache-Control'})")
                total += sizes[url]
            weights[page_type.name] = total
            if total > BUDGET:
                over[page_type.name] = f"{total / 1024:.1f} KB"
    print("compressed JS+CSS per page (KB):", {k: round(v / 1024, 1) for k, v in weights.items()})
    assert len(pages) >= 3
    assert over == {}
    assert uncached == set(), "static files without a version or long-lived caching"


def test_versioned_static_files_are_cached_for_a_year_and_immutable(live: LiveServer) -> None:
    from filmsphere.assets import asset_url

    with live.app.test_request_context():
        url = asset_url("css/app.css")
    client = live.app.test_client()
    response = client.get(url)
    assert response.status_code == 200
    assert "v=" in url
    assert response.cache_control.max_age == YEAR
    assert response.cache_control.public
    assert response.cache_control.immutable
    # Pages themselves are never cached for long: a deploy must show at once.
    offline = client.get("/offline")
    assert offline.cache_control.max_age is None
    assert offline.headers["Cache-Control"] in {"no-cache", "no-store"}
