"""Wallet page over HTTP: balance, ledger pages newest first, refill both ways."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from filmsphere.extensions import db
from filmsphere.models import LedgerEntry, LedgerKind, User, Wallet
from filmsphere.services.locks import lock_wallet
from filmsphere.services.wallet.wallet import post_entry
from tests import factories
from tests.conftest import csrf_from, pager_link

HX = {"HX-Request": "true"}


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    return {"REFILL_ENABLED": True, "REFILL_TARGET_COINS": 1500, "REFILL_INTERVAL_MINUTES": 10}


def log_in(client: FlaskClient, login: str) -> None:
    html = client.get("/auth/login").get_data(as_text=True)
    response = client.post(
        "/auth/login",
        data={"csrf_token": csrf_from(html), "login": login, "password": factories.PASSWORD},
    )
    assert response.status_code == 303


def page(client: FlaskClient, path: str, **kwargs: Any) -> str:
    response = client.get(path, **kwargs)
    assert response.status_code == 200, path
    return response.get_data(as_text=True)


def rows(html: str) -> list[str]:
    body = html.split("<tbody>")[1].split("</tbody>")[0]
    return re.findall(r"<tr>(.*?)</tr>", body, re.S)


def test_wallet_needs_a_login(app: Flask, client: FlaskClient) -> None:
    response = client.get("/wallet")
    assert response.status_code in (302, 303)
    assert response.headers["Location"].startswith("/auth/login")


def test_ledger_is_paginated_newest_first_with_booking_links(
    app: Flask, client: FlaskClient
) -> None:
    with app.app_context():
        user = factories.make_user(coins=1500)
        login = user.username
        booking = factories.make_booking(user, factories.make_show(price=12), ("A1",))
        reference = booking.reference
        wallet = lock_wallet(user.id)
        start = factories.now()
        for i in range(23):  # 1 grant + 1 charge + 23 adjustments = 25 entries
            post_entry(
                wallet,
                LedgerKind.ADMIN_ADJUSTMENT,
                i + 1,
                start + timedelta(seconds=i),
                reason=f"goodwill {i + 1}",
            )
        db.session.commit()
        final = wallet.balance_coins
    log_in(client, login)

    first = page(client, "/wallet")
    assert f"<strong>{final:,} coins</strong>" in first
    entries = rows(first)
    assert len(entries) == 20
    assert "goodwill 23" in entries[0] and "+23 coins" in entries[0]
    assert f"{final:,} coins" in entries[0]  # balance after, newest first
    assert "Adjustment by the cinema" in entries[0]
    assert 'rel="prev"' not in first and 'rel="first"' not in first
    older_url = pager_link(first, "next")

    second = page(client, older_url)
    older = rows(second)
    assert len(older) == 5
    assert "Welcome coins" in older[-1] and "+1,500 coins" in older[-1]
    assert "Booking payment" in older[-2] and "−12 coins" in older[-2]
    assert f'href="/bookings/{reference}"' in older[-2]
    assert 'rel="next"' not in second  # the end
    assert rows(page(client, pager_link(second, "prev"))) == entries
    last = page(client, pager_link(first, "last"))  # the oldest 20, however many there are
    assert rows(last)[-5:] == older and len(rows(last)) == 20 and 'rel="next"' not in last

    fragment = client.get(older_url, headers=HX | {"HX-Target": "ledger"})
    assert fragment.status_code == 200
    assert fragment.get_data(as_text=True).lstrip().startswith('<section id="ledger"')
    assert "HX-Request" in fragment.headers["Vary"]

    for forged in ("2", "eyJhIjoxfQ", "WyJhIixbIngiXV0", "x" * 500):
        response = client.get(f"/wallet?page={forged}")
        assert response.status_code == 400, forged
        assert "page link is not valid" in response.get_data(as_text=True)


def test_refill_without_js_tops_up_once_per_interval(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        user = factories.make_user(coins=300)
        user_id, login = user.id, user.username
    log_in(client, login)
    html = page(client, "/wallet")
    assert "Refill to 1,500 coins" in html
    token = csrf_from(html)

    response = client.post("/wallet/refill", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["Location"] == "/wallet"
    after = page(client, "/wallet")
    assert "Refilled 1,200 coins: your balance is 1,500 coins." in after
    assert "Refill" in rows(after)[0] and "+1,200 coins" in rows(after)[0]

    with app.app_context():  # spend some, then try again at once: too soon
        wallet = lock_wallet(user_id)
        post_entry(wallet, LedgerKind.ADMIN_ADJUSTMENT, -500, factories.now(), reason="test")
        db.session.commit()
    assert "Next refill available at" in page(client, "/wallet")
    again = client.post("/wallet/refill", data={"csrf_token": token})
    assert again.status_code == 303
    assert 'class="flash flash-error"' in page(client, "/wallet")
    with app.app_context():
        refills = db.session.scalar(
            select(func.count()).where(LedgerEntry.kind == LedgerKind.REFILL)
        )
        assert refills == 1
        assert db.session.scalar(select(Wallet.balance_coins).where(Wallet.user_id == user_id)) == (
            1000
        )


def test_refill_with_htmx_returns_the_summary_and_the_ledger(
    app: Flask, client: FlaskClient
) -> None:
    with app.app_context():
        user = factories.make_user(coins=100)
        login = user.username
    log_in(client, login)
    token = csrf_from(page(client, "/wallet"))
    response = client.post("/wallet/refill", data={"csrf_token": token}, headers=HX)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<section id="wallet-summary"')
    assert "<strong>1,500 coins</strong>" in body
    assert re.search(r'<section id="ledger"[^>]*hx-swap-oob="true"', body)
    assert "wallet-changed" in response.headers["HX-Trigger"]
    assert "HX-Request" in response.headers["Vary"]

    refused = client.post("/wallet/refill", data={"csrf_token": token}, headers=HX)
    assert refused.status_code in (409, 422)
    assert 'class="flash flash-error"' in refused.get_data(as_text=True)


def test_refill_when_disabled_is_refused(app: Flask, client: FlaskClient) -> None:
    app.config["REFILL_ENABLED"] = False
    with app.app_context():
        user = factories.make_user(coins=100)
        login, user_id = user.username, user.id
    log_in(client, login)
    html = page(client, "/wallet")
    assert "Refill to" not in html
    response = client.post("/wallet/refill", data={"csrf_token": csrf_from(html)})
    assert response.status_code == 303
    with app.app_context():
        assert db.session.get(User, user_id) is not None
        assert db.session.scalar(select(Wallet.balance_coins).where(Wallet.user_id == user_id)) == (
            100
        )


REFILL_BUTTON = re.compile(r"<button[^>]*>Refill to [^<]*</button>")


def refill_button(html: str) -> str:
    found = REFILL_BUTTON.findall(html)
    assert len(found) == 1, found
    return found[0]


def test_refill_button_is_disabled_with_the_reason_while_a_refill_is_not_possible(
    app: Flask, client: FlaskClient
) -> None:
    with app.app_context():
        user = factories.make_user(coins=300)
        user_id, login = user.id, user.username
    log_in(client, login)
    html = page(client, "/wallet")
    button = refill_button(html)
    assert "disabled" not in button  # allowed now: enabled
    assert 'aria-describedby="refill-hint"' in button
    assert "Tops your balance back up to 1,500 coins" in html

    # Right after a refill (htmx and plain page alike): disabled, and the hint says when.
    swapped = client.post("/wallet/refill", data={"csrf_token": csrf_from(html)}, headers=HX)
    assert swapped.status_code == 200
    assert " disabled" in refill_button(swapped.get_data(as_text=True))
    with app.app_context():  # spend some: below the target, but the interval holds it back
        wallet = lock_wallet(user_id)
        post_entry(wallet, LedgerKind.ADMIN_ADJUSTMENT, -500, factories.now(), reason="test")
        db.session.commit()
    html = page(client, "/wallet")
    button = refill_button(html)
    assert " disabled" in button and 'aria-describedby="refill-hint"' in button
    assert re.search(r'<p class="hint" id="refill-hint">\s*Next refill available at', html)

    with app.app_context():  # the interval has passed: enabled again
        wallet = lock_wallet(user_id)
        assert wallet.last_refill_at is not None
        wallet.last_refill_at -= timedelta(minutes=10)
        db.session.commit()
    html = page(client, "/wallet")
    assert "disabled" not in refill_button(html)
    assert "Next refill available at" not in html


def test_refill_button_is_disabled_when_the_balance_needs_no_refill(
    app: Flask, client: FlaskClient
) -> None:
    with app.app_context():
        login = factories.make_user(coins=1500).username
    log_in(client, login)
    html = page(client, "/wallet")
    assert " disabled" in refill_button(html)
    assert "Your balance is already at least 1,500 coins" in html
    # The button is only a hint: the POST route still refuses on its own.
    refused = client.post("/wallet/refill", data={"csrf_token": csrf_from(html)}, headers=HX)
    assert refused.status_code in (409, 422)
    assert "<strong>1,500 coins</strong>" in refused.get_data(as_text=True)
