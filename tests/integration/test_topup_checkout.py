"""POST /wallet/topup against a local Stripe stand-in; the wallet's top-up panel; Stripe off."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, render_template
from flask.testing import FlaskClient
from flask_login import login_user
from sqlalchemy import func, select

from filmsphere.blueprints.topup.routes import topup_panel_data
from filmsphere.config import ConfigError, parse_coin_packs
from filmsphere.extensions import db
from filmsphere.models import TopUp, User, Wallet, utcnow
from filmsphere.services.accounts.sessions import SignedInUser, start_session
from filmsphere.services.wallet.topup import format_money
from tests.conftest import csrf_from, make_app
from tests.factories import make_user
from tests.support.fake_stripe import (
    API_KEY,
    WEBHOOK_SECRET,
    FakeStripe,
    checkout_event,
    fake_stripe,
    sign,
)

BASE_URL = "https://cinema.example"


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    with fake_stripe() as server:
        yield server


@pytest.fixture
def app_overrides(fake: FakeStripe) -> dict[str, Any]:
    return {
        "STRIPE_SECRET_KEY": API_KEY,
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_API_BASE": fake.base,
        "STRIPE_MAX_NETWORK_RETRIES": 0,
        "COIN_PACKS": parse_coin_packs("500:500,1200:1000"),
        "COIN_CURRENCY": "eur",
        "BASE_URL": BASE_URL,
        "RATELIMIT_TOPUP": "4 per minute",
    }


def log_in(app: Flask, client: FlaskClient, coins: int = 1500) -> int:
    """A signed-in customer (flask-login's session keys, as after a real login)."""
    with app.app_context():
        user = make_user(coins=coins)
        user_id, login_id = user.id, start_session(user, remember=False, now=utcnow())
    with client.session_transaction() as session:
        session["_user_id"] = login_id
        session["_fresh"] = True
    return user_id


def wallet_page(client: FlaskClient, path: str = "/wallet") -> str:
    response = client.get(path)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def form_fields(client: FlaskClient) -> dict[str, str]:
    """The top-up form's hidden fields (CSRF token and nonce), read from the wallet page."""
    html = wallet_page(client)
    nonce = re.search(r'name="nonce" value="([^"]+)"', html)
    assert nonce, "the wallet page has no top-up form"
    return {"csrf_token": csrf_from(html), "nonce": nonce.group(1)}


def topups(app: Flask) -> list[TopUp]:
    with app.app_context():
        rows = list(db.session.scalars(select(TopUp).order_by(TopUp.id)))
        db.session.expunge_all()
        return rows


def test_topup_creates_a_checkout_session_priced_by_the_server(
    app: Flask, client: FlaskClient, fake: FakeStripe
) -> None:
    user_id = log_in(app, client)
    fields = form_fields(client)
    # Tampering: every price-like field a client could add is ignored.
    data = fields | {"pack": "pack2", "price": "1", "unit_amount": "1", "coins": "999999",
                     "price_minor": "1", "currency": "jpy"}  # fmt: skip

    response = client.post("/wallet/topup", data=data)

    assert response.status_code == 303
    (request,) = fake.session_requests()
    form = request.form
    assert form["mode"] == "payment"
    assert form["line_items[0][price_data][unit_amount]"] == "1000"
    assert form["line_items[0][price_data][currency]"] == "eur"
    assert form["line_items[0][quantity]"] == "1"
    assert form["metadata[user_id]"] == str(user_id)
    assert form["metadata[pack_id]"] == "pack2"
    assert form["metadata[coins]"] == "1200"
    assert form["client_reference_id"] == str(user_id)
    assert form["success_url"] == f"{BASE_URL}/wallet?topup=success"
    assert form["cancel_url"] == f"{BASE_URL}/wallet?topup=cancelled"
    assert request.headers["idempotency-key"] == f"filmsphere-topup-{user_id}-{fields['nonce']}"
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    # Stripe closes the session within the hour (and sends checkout.session.expired).
    assert 3000 < int(form["expires_at"]) - time.time() <= 3600

    (session,) = fake.sessions.values()
    assert response.headers["Location"] == session["url"]
    (row,) = topups(app)
    assert (row.user_id, row.stripe_session_id, row.status) == (user_id, session["id"], "pending")
    assert (row.pack_id, row.coins, row.amount_minor, row.currency) == ("pack2", 1200, 1000, "eur")


def test_the_same_form_sent_twice_is_one_session_and_one_record(
    app: Flask, client: FlaskClient, fake: FakeStripe
) -> None:
    log_in(app, client)
    data = form_fields(client) | {"pack": "pack1"}

    first = client.post("/wallet/topup", data=data)
    second = client.post("/wallet/topup", data=data)

    assert first.headers["Location"] == second.headers["Location"]
    keys = {r.headers["idempotency-key"] for r in fake.session_requests()}
    assert len(fake.session_requests()) == 2 and len(keys) == 1
    assert len(fake.sessions) == 1
    assert len(topups(app)) == 1


def test_an_unknown_pack_is_422_and_nothing_is_created(
    app: Flask, client: FlaskClient, fake: FakeStripe
) -> None:
    log_in(app, client)
    fields = form_fields(client)

    for pack in ("pack9", "", "x" * 40):
        response = client.post("/wallet/topup", data=fields | {"pack": pack})
        assert response.status_code == 422
        assert "coin packs on offer" in response.get_data(as_text=True)

    assert fake.session_requests() == []
    assert topups(app) == []


@pytest.mark.parametrize("failure", ["stripe-error", "stripe-unreachable"])
def test_stripe_failure_is_a_clear_message_and_records_nothing(
    app: Flask, client: FlaskClient, fake: FakeStripe, failure: str
) -> None:
    log_in(app, client)
    fields = form_fields(client)
    if failure == "stripe-error":
        fake.failure = (400, "invalid_request_error", "Your account cannot currently make charges.")
    else:
        app.config["STRIPE_API_BASE"] = "http://127.0.0.1:9"  # nothing listens there

    response = client.post("/wallet/topup", data=fields | {"pack": "pack1"})

    assert response.status_code == 303
    assert response.headers["Location"].endswith("/wallet")
    page = wallet_page(client)
    assert "payment service is not available right now" in page
    assert "No money was taken" in page
    assert topups(app) == []


def test_topup_needs_a_login_and_a_csrf_token(
    app: Flask, client: FlaskClient, fake: FakeStripe
) -> None:
    anonymous = client.post("/wallet/topup", data={"pack": "pack1"})
    assert anonymous.status_code == 400  # no CSRF token

    log_in(app, client)
    without_token = client.post("/wallet/topup", data={"pack": "pack1"})
    assert without_token.status_code == 400
    assert fake.session_requests() == []


def test_a_visitor_is_sent_to_log_in(app: Flask, fake: FakeStripe) -> None:
    client = app.test_client()
    html = client.get("/").get_data(as_text=True)
    response = client.post("/wallet/topup", data={"pack": "pack1", "csrf_token": csrf_from(html)})
    assert response.status_code in (302, 303)
    assert "/auth/login" in response.headers["Location"]
    assert fake.session_requests() == []


def test_topup_is_rate_limited_per_customer(
    app: Flask, client: FlaskClient, fake: FakeStripe
) -> None:
    log_in(app, client)
    fields = form_fields(client)
    statuses = [
        client.post("/wallet/topup", data=fields | {"pack": "pack1", "nonce": f"n{i:020d}"})
        .status_code
        for i in range(5)
    ]  # fmt: skip
    assert statuses == [303, 303, 303, 303, 429]
    assert len(fake.sessions) == 4


def test_paying_the_session_credits_the_wallet_and_the_panel_shows_it(
    app: Flask, client: FlaskClient, fake: FakeStripe
) -> None:
    """The whole journey: wallet form -> Stripe session -> back with ?topup=success (still
    pending) -> signed webhook -> paid, coins in the wallet."""
    user_id = log_in(app, client)
    client.post("/wallet/topup", data=form_fields(client) | {"pack": "pack1"})
    (session,) = fake.sessions.values()

    back = wallet_page(client, "/wallet?topup=success")
    assert "Payment received — coins appear when Stripe confirms" in back
    assert "Pending" in back and "€5.00" in back

    body = checkout_event(session)
    response = client.post("/stripe/webhook", data=body, headers={"Stripe-Signature": sign(body)})
    assert response.get_json()["outcome"] == "credited"

    after = wallet_page(client)
    assert "Paid" in after and "Pending" not in after
    with app.app_context():
        balance = db.session.scalars(
            select(Wallet.balance_coins).where(Wallet.user_id == user_id)
        ).one()
    assert balance == 2000


def test_panel_lists_the_customers_topups_only(app: Flask) -> None:
    with app.app_context():
        me, other = make_user(), make_user()
        now = utcnow()
        for n, (user, status, coins, amount) in enumerate(
            [(me, "paid", 500, 500), (me, "expired", 1200, 1000), (other, "paid", 3000, 2200)]
        ):
            db.session.add(
                TopUp(user_id=user.id, stripe_session_id=f"cs_test_{n}", pack_id="pack1",
                      coins=coins, amount_minor=amount, currency="eur", status=status,
                      created_at=now, completed_at=now)
            )  # fmt: skip
        db.session.commit()
        with app.test_request_context("/wallet"):
            signed_in = db.session.get(User, me.id)
            assert signed_in is not None
            key = start_session(signed_in, remember=False, now=utcnow())
            login_user(SignedInUser.of(signed_in, key))
            html = render_template("topup/_topup_panel.html", topup=topup_panel_data())

    assert 'id="topup-panel"' in html
    assert "Buy 500 coins for €5.00" in html and "Buy 1,200 coins for €10.00" in html
    assert "€10.00" in html and "Expired" in html and "Paid" in html
    assert "3,000 coins" not in html and "€22.00" not in html  # someone else's
    form = html.split("<form", 1)[1].split("</form>", 1)[0]
    assert set(re.findall(r'name="([^"]+)"', form)) == {"csrf_token", "nonce", "pack"}


@pytest.mark.parametrize(
    ("minor", "currency", "label"),
    [(500, "eur", "€5.00"), (123456, "gbp", "£1,234.56"), (500, "jpy", "¥500"),
     (1999, "chf", "19.99 CHF")],
)  # fmt: skip
def test_prices_are_shown_in_the_currency_format(minor: int, currency: str, label: str) -> None:
    assert format_money(minor, currency) == label


# --- Stripe not configured ---------------------------------------------------------------------


@pytest.fixture
def plain_app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = make_app(database_url, tmp_path)  # TestConfig: no Stripe key
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_without_a_stripe_key_there_is_no_topup_and_the_routes_are_404(
    plain_app: Flask,
) -> None:
    client = plain_app.test_client()
    log_in(plain_app, client)
    html = wallet_page(client)
    assert "topup-panel" not in html and "Buy coins" not in html
    assert "/wallet/topup" not in html

    token = csrf_from(html)
    assert (
        client.post("/wallet/topup", data={"pack": "pack1", "csrf_token": token}).status_code == 404
    )
    assert client.post("/wallet/topup", data={"pack": "pack1"}).status_code == 404
    body = checkout_event({"id": "cs_test_x", "metadata": {}})
    assert client.post("/stripe/webhook", data=body,
                       headers={"Stripe-Signature": sign(body)}).status_code == 404  # fmt: skip
    with plain_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(TopUp)) == 0


def test_a_stripe_key_without_a_webhook_secret_refuses_to_start(
    database_url: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="STRIPE_WEBHOOK_SECRET"):
        make_app(database_url, tmp_path, STRIPE_SECRET_KEY=API_KEY, STRIPE_WEBHOOK_SECRET=None)


def test_csp_lets_the_form_continue_to_stripe_checkout_only_when_configured(
    app: Flask, database_url: str, tmp_path: Path
) -> None:
    assert (
        "https://checkout.stripe.com"
        in app.test_client().get("/healthz").headers["Content-Security-Policy"]
    )
    plain = make_app(database_url, tmp_path / "plain")
    assert (
        "checkout.stripe.com"
        not in plain.test_client().get("/healthz").headers["Content-Security-Policy"]
    )
    with plain.app_context():
        db.engine.dispose()
