"""Browser tests: Playwright driving Debian's Chromium against a live FilmSphere server.

The server runs in a thread on 127.0.0.1 with its own SQLite file (the embedded default),
migrated from the session template. Tests seed data with the factories inside
`with live.app.app_context():` and drive `page`.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

from filmsphere.extensions import db, limiter

from ..conftest import make_app, require

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]


@dataclass
class LiveServer:
    app: Flask
    url: str
    server: BaseWSGIServer

    def path(self, path: str) -> str:
        return self.url + path


@pytest.fixture
def live_overrides() -> dict[str, Any]:
    """Override in a test module to change the live app's settings."""
    return {}


@pytest.fixture
def live(
    tmp_path: Path, sqlite_template: Path, live_overrides: dict[str, Any]
) -> Iterator[LiveServer]:
    path = tmp_path / "live.db"
    shutil.copy(sqlite_template, path)
    app = make_app(f"sqlite:///{path}", tmp_path, **live_overrides)
    with app.app_context():
        limiter.reset()
    with serve(app) as live:
        yield live


@contextmanager
def serve(app: Flask) -> Iterator[LiveServer]:
    """Serve `app` on a free 127.0.0.1 port in a thread for the block."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(app=app, url=f"http://127.0.0.1:{server.server_port}", server=server)
    finally:
        server.shutdown()
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    require(Path(CHROMIUM).exists(), f"Chromium is not installed at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - dev extra not installed
        require(False, "playwright is not installed")
        raise
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    yield context
    context.close()


@pytest.fixture
def page(context: Any) -> Any:
    return context.new_page()


def log_in(page: Any, live: LiveServer, login: str, password: str) -> None:
    """Log in through the real form."""
    page.goto(live.path("/auth/login"))
    page.get_by_label("Email or username").fill(login)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
