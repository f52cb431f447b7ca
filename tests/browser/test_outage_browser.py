"""PostgreSQL stopped under an open seat map in Chromium: the page says so and keeps its
grid, and carries on by itself once the database is back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from filmsphere.config import Config
from filmsphere.extensions import db
from filmsphere.models import Seat
from tests import factories

from ..conftest import make_app
from ..support.postgres import Cluster
from .conftest import LiveServer, log_in, serve

pytestmark = pytest.mark.browser

NOTICE = "We can't reach our booking system for a moment."


@pytest.fixture
def live_on_postgres(
    own_postgres: tuple[Cluster, str], restartable: Cluster, tmp_path: Path
) -> Iterator[LiveServer]:
    """A live server on the module's own PostgreSQL, with production's pool options."""
    _, url = own_postgres
    app = make_app(
        url,
        tmp_path,
        SQLALCHEMY_ENGINE_OPTIONS=Config().SQLALCHEMY_ENGINE_OPTIONS,
        PROPAGATE_EXCEPTIONS=False,
        SEAT_POLL_SECONDS=1,
    )
    try:
        with serve(app) as live:
            yield live
    finally:
        if not restartable.running:
            restartable.start()


def test_seat_map_shows_a_notice_while_the_database_is_down_and_recovers(
    live_on_postgres: LiveServer, restartable: Cluster, page: Any
) -> None:
    live = live_on_postgres
    with live.app.app_context():
        customer = factories.make_user()
        show = factories.make_show(price=10)
        seats = db.session.scalars(select(Seat).where(Seat.screen_id == show.screen_id))
        assert {s.label for s in seats} >= {"A1", "A2"}
        username, show_id = customer.username, show.id
    log_in(page, live, username, factories.PASSWORD)
    page.goto(live.path(f"/shows/{show_id}"))
    first = page.get_by_role("button", name="Row A, seat 1, standard", exact=True)
    second = page.get_by_role("button", name="Row A, seat 2, standard", exact=True)
    first.click()
    expect(first).to_have_attribute("aria-pressed", "true")

    restartable.halt()
    notice = page.locator("#flashes [data-service-notice]")
    expect(notice).to_contain_text(NOTICE)  # the grid's next poll got the 503
    second.click()  # a click while the database is away changes nothing ...
    expect(notice).to_contain_text(NOTICE)
    expect(second).to_have_attribute("aria-pressed", "false")
    expect(first).to_have_attribute("aria-pressed", "true")  # ... and the grid stays

    restartable.start()
    expect(notice).to_have_count(0)  # the next poll answered: the notice goes by itself
    second.click()
    expect(second).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#basket")).to_contain_text("20")
