"""The wallet's refill button: disabled while a refill isn't possible, and enabled again
on the open page when the next refill time comes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from filmsphere.extensions import db
from filmsphere.models import Wallet
from tests import factories

from .conftest import LiveServer, log_in

pytestmark = pytest.mark.browser


@pytest.fixture
def live_overrides() -> dict[str, Any]:
    return {"REFILL_ENABLED": True, "REFILL_INTERVAL_MINUTES": 10}


def test_refill_button_comes_back_when_the_next_refill_is_due(live: LiveServer, page: Any) -> None:
    with live.app.app_context():
        user = factories.make_user(coins=100, username="refiller")
        wallet = db.session.scalar(select(Wallet).where(Wallet.user_id == user.id))
        assert wallet is not None
        # The last refill was 10 minutes ago less 4 seconds: the next one is 4 s away.
        wallet.last_refill_at = factories.now() - timedelta(minutes=10) + timedelta(seconds=4)
        db.session.commit()
    log_in(page, live, "refiller", factories.PASSWORD)
    page.goto(live.path("/wallet"))
    button = page.get_by_role("button", name="Refill to 1,500 coins")
    expect(button).to_be_disabled()
    expect(page.locator("#refill-hint")).to_contain_text("Next refill available at")
    expect(button).to_be_enabled(timeout=20_000)  # no reload
    button.click()
    expect(page.locator("#wallet-summary .balance")).to_contain_text("1,500")
