"""Stripe webhook: signed events credit a top-up exactly once, on both databases."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from filmsphere.config import parse_coin_packs
from filmsphere.extensions import db
from filmsphere.models import LedgerEntry, LedgerKind, TopUp, Wallet, utcnow
from filmsphere.services.transaction import set_race_hook
from filmsphere.services.wallet import topup as topup_service
from tests.conftest import make_app
from tests.factories import make_user
from tests.support.fake_stripe import API_KEY, WEBHOOK_SECRET, checkout_event, sign

STRIPE_SETTINGS: dict[str, Any] = {
    "STRIPE_SECRET_KEY": API_KEY,
    "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
    "STRIPE_API_BASE": "http://127.0.0.1:9",  # never called by these tests
    "COIN_PACKS": parse_coin_packs("500:500,1200:1000"),
    "COIN_CURRENCY": "eur",
}


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    return dict(STRIPE_SETTINGS)


def customer(app: Flask, coins: int = 1500) -> int:
    with app.app_context():
        return make_user(coins=coins).id


def pending_topup(app: Flask, user_id: int, session_id: str = "cs_test_abc") -> dict[str, Any]:
    """A pending TopUp as POST /wallet/topup leaves it, and the Stripe session it stands for."""
    with app.app_context():
        db.session.add(
            TopUp(
                user_id=user_id,
                stripe_session_id=session_id,
                pack_id="pack1",
                coins=500,
                amount_minor=500,
                currency="eur",
                created_at=utcnow(),
            )
        )
        db.session.commit()
    return stripe_session(user_id, session_id)


def stripe_session(
    user_id: int, session_id: str = "cs_test_abc", pack_id: str = "pack1", coins: int = 500,
    amount: int = 500,
) -> dict[str, Any]:  # fmt: skip
    return {
        "id": session_id,
        "object": "checkout.session",
        "mode": "payment",
        "amount_total": amount,
        "currency": "eur",
        "client_reference_id": str(user_id),
        "metadata": {"user_id": str(user_id), "pack_id": pack_id, "coins": str(coins)},
    }


def deliver(client: FlaskClient, body: str, signature: str | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    headers["Stripe-Signature"] = sign(body) if signature is None else signature
    return client.post("/stripe/webhook", data=body, headers=headers)


def balance(app: Flask, user_id: int) -> int:
    with app.app_context():
        return db.session.scalars(
            select(Wallet.balance_coins).where(Wallet.user_id == user_id)
        ).one()


def topup_credits(app: Flask, user_id: int) -> int:
    """How many 'topup' ledger entries the user's wallet has."""
    with app.app_context():
        return db.session.scalars(
            select(func.count())
            .select_from(LedgerEntry)
            .join(Wallet, Wallet.id == LedgerEntry.wallet_id)
            .where(Wallet.user_id == user_id, LedgerEntry.kind == LedgerKind.TOPUP)
        ).one()


def topup_row(app: Flask, session_id: str = "cs_test_abc") -> TopUp | None:
    with app.app_context():
        row = db.session.scalars(
            select(TopUp).where(TopUp.stripe_session_id == session_id)
        ).one_or_none()
        db.session.expunge_all()
        return row


def test_a_paid_event_credits_the_pack_once(app: Flask, client: FlaskClient) -> None:
    user_id = customer(app)
    session = pending_topup(app, user_id)

    response = deliver(client, checkout_event(session))

    assert response.status_code == 200
    assert response.get_json()["outcome"] == "credited"
    assert balance(app, user_id) == 2000
    row = topup_row(app)
    assert row is not None and row.status == "paid" and row.completed_at is not None
    with app.app_context():
        entry = db.session.scalars(select(LedgerEntry).where(LedgerEntry.topup_id == row.id)).one()
        assert (entry.kind, entry.amount_coins, entry.balance_after_coins) == ("topup", 500, 2000)


def test_the_same_event_delivered_three_times_credits_once(app: Flask, client: FlaskClient) -> None:
    user_id = customer(app)
    body = checkout_event(pending_topup(app, user_id), event_id="evt_replayed")

    outcomes = [deliver(client, body) for _ in range(3)]

    assert [r.status_code for r in outcomes] == [200, 200, 200]
    assert [r.get_json()["outcome"] for r in outcomes] == ["credited", "duplicate", "duplicate"]
    assert balance(app, user_id) == 2000
    assert topup_credits(app, user_id) == 1


def test_completed_and_async_succeeded_for_one_session_credit_once(
    app: Flask, client: FlaskClient
) -> None:
    user_id = customer(app)
    session = pending_topup(app, user_id)

    assert deliver(client, checkout_event(session))
    late = deliver(client, checkout_event(session, "checkout.session.async_payment_succeeded"))

    assert late.get_json()["outcome"] == "duplicate"
    assert balance(app, user_id) == 2000


def test_a_delayed_payment_is_credited_when_it_succeeds(app: Flask, client: FlaskClient) -> None:
    user_id = customer(app)
    session = pending_topup(app, user_id)

    first = deliver(client, checkout_event(session, payment_status="unpaid"))
    assert (first.status_code, first.get_json()["outcome"]) == (200, "unpaid")
    assert balance(app, user_id) == 1500
    assert topup_row(app).status == "pending"  # type: ignore[union-attr]

    later = deliver(client, checkout_event(session, "checkout.session.async_payment_succeeded"))
    assert later.get_json()["outcome"] == "credited"
    assert balance(app, user_id) == 2000


@pytest.mark.parametrize(
    "make_signature",
    [
        pytest.param(lambda body: sign(body, secret="whsec_forged"), id="wrong-secret"),
        pytest.param(lambda body: sign(body, timestamp=int(time.time()) - 301), id="stale"),
        pytest.param(lambda body: sign(body.replace("500", "5000")), id="other-payload"),
        pytest.param(lambda body: "", id="missing"),
        pytest.param(lambda body: "t=abc,v1=zz", id="garbage"),
    ],
)
def test_bad_signatures_are_refused_and_credit_nothing(
    app: Flask, client: FlaskClient, make_signature: Any
) -> None:
    user_id = customer(app)
    body = checkout_event(pending_topup(app, user_id))

    response = deliver(client, body, signature=make_signature(body))

    assert response.status_code == 400
    assert balance(app, user_id) == 1500
    assert topup_row(app).status == "pending"  # type: ignore[union-attr]


def test_a_signature_within_the_tolerance_is_accepted(app: Flask, client: FlaskClient) -> None:
    """The counterpart of the stale test: a 4-minute-old delivery is still fine."""
    user_id = customer(app)
    body = checkout_event(pending_topup(app, user_id))

    response = deliver(client, body, signature=sign(body, timestamp=int(time.time()) - 240))

    assert response.status_code == 200
    assert balance(app, user_id) == 2000


def test_an_unpaid_session_credits_nothing(app: Flask, client: FlaskClient) -> None:
    user_id = customer(app)
    session = pending_topup(app, user_id)

    response = deliver(client, checkout_event(session, payment_status="unpaid"))

    assert (response.status_code, response.get_json()["outcome"]) == (200, "unpaid")
    assert balance(app, user_id) == 1500
    assert topup_credits(app, user_id) == 0


def test_unknown_event_types_are_acknowledged_and_ignored(app: Flask, client: FlaskClient) -> None:
    user_id = customer(app)
    session = pending_topup(app, user_id)
    body = checkout_event(session, event_type="payment_intent.succeeded")

    response = deliver(client, body)

    assert (response.status_code, response.get_json()["outcome"]) == (200, "ignored")
    assert balance(app, user_id) == 1500


def test_an_expired_session_is_marked_expired(app: Flask, client: FlaskClient) -> None:
    user_id = customer(app)
    session = pending_topup(app, user_id)

    response = deliver(client, checkout_event(session, "checkout.session.expired"))

    assert (response.status_code, response.get_json()["outcome"]) == (200, "expired")
    row = topup_row(app)
    assert row is not None and row.status == "expired" and row.completed_at is not None
    assert balance(app, user_id) == 1500


def test_a_paid_session_we_never_recorded_is_rebuilt_from_its_metadata(
    app: Flask, client: FlaskClient
) -> None:
    """The webhook can beat our own insert (or the insert was lost): metadata that matches a
    configured pack is enough to credit, once."""
    user_id = customer(app)
    body = checkout_event(stripe_session(user_id, "cs_test_unrecorded"))

    outcomes = [deliver(client, body).get_json()["outcome"] for _ in range(2)]

    assert outcomes == ["credited", "duplicate"]
    row = topup_row(app, "cs_test_unrecorded")
    assert row is not None and (row.user_id, row.coins, row.status) == (user_id, 500, "paid")
    assert balance(app, user_id) == 2000


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"amount": 1}, id="amount-not-the-pack-price"),
        pytest.param({"coins": 5000}, id="coins-not-the-pack"),
        pytest.param({"pack_id": "pack9"}, id="unknown-pack"),
        pytest.param({"user_id": 999999}, id="unknown-user"),
    ],
)
def test_a_foreign_or_tampered_session_credits_nothing(
    app: Flask, client: FlaskClient, changes: dict[str, Any]
) -> None:
    user_id = customer(app)
    changes = dict(changes)  # the parameter is shared by both backends' runs
    session = stripe_session(changes.pop("user_id", user_id), "cs_test_foreign", **changes)

    response = deliver(client, checkout_event(session))

    assert (response.status_code, response.get_json()["outcome"]) == (200, "ignored")
    assert topup_row(app, "cs_test_foreign") is None
    assert balance(app, user_id) == 1500


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("[]", id="list"),
        pytest.param("null", id="null"),
        pytest.param('"checkout.session.completed"', id="string"),
        pytest.param("12", id="number"),
        pytest.param('{"type": 7}', id="type-not-text"),
        pytest.param('{"type": "checkout.session.completed", "data": []}', id="data-list"),
        pytest.param('{"type": "checkout.session.completed", "data": "x"}', id="data-text"),
        pytest.param(
            '{"type": "checkout.session.completed", "data": {"object": [1]}}', id="object-list"
        ),
        pytest.param(
            '{"type": "checkout.session.completed", "data": {"object": '
            '{"id": "cs_\\u0000", "payment_status": "paid"}}}',
            id="nul-in-id",
        ),
        pytest.param('{"type": "checkout.session.\\ud800"}', id="lone-surrogate"),
        pytest.param("{not json", id="not-json"),
    ],
)
def test_a_signed_body_that_is_not_an_event_is_400(
    app: Flask, client: FlaskClient, body: str
) -> None:
    """A correctly signed delivery whose JSON isn't an event object is refused, not a 500."""
    user_id = customer(app)

    response = deliver(client, body)

    assert response.status_code == 400
    assert response.get_json() == {"error": "Bad payload."}
    assert balance(app, user_id) == 1500


PACK1 = {"pack_id": "pack1", "coins": "500"}


@pytest.mark.parametrize(
    "session",
    [
        pytest.param({"id": "cs_" + "x" * 300}, id="id-longer-than-the-column"),
        pytest.param({"id": ""}, id="empty-id"),
        pytest.param({"id": 12}, id="id-not-text"),
        pytest.param({"metadata": PACK1 | {"user_id": "9" * 30}}, id="huge-user-id"),
        pytest.param({"metadata": PACK1 | {"user_id": "-1"}}, id="negative-user-id"),
        pytest.param({"metadata": ["user_id"]}, id="metadata-list"),
    ],
)
def test_a_signed_session_with_odd_fields_is_ignored(
    app: Flask, client: FlaskClient, session: dict[str, Any]
) -> None:
    """Not one of our sessions, or not one we could ever store: nothing is credited."""
    user_id = customer(app)
    obj = stripe_session(user_id, "cs_test_odd") | session

    response = deliver(client, checkout_event(obj))

    assert (response.status_code, response.get_json()["outcome"]) == (200, "ignored")
    assert balance(app, user_id) == 1500


def test_a_paid_amount_that_differs_from_the_recorded_price_is_not_credited(
    app: Flask, client: FlaskClient
) -> None:
    user_id = customer(app)
    session = dict(pending_topup(app, user_id), amount_total=50)

    response = deliver(client, checkout_event(session))

    assert response.get_json()["outcome"] == "ignored"
    assert balance(app, user_id) == 1500


def test_the_webhook_needs_no_csrf_token_but_the_rest_of_the_site_does(
    app: Flask, client: FlaskClient
) -> None:
    user_id = customer(app)
    body = checkout_event(pending_topup(app, user_id))
    assert deliver(client, body).status_code == 200  # no csrf_token anywhere
    assert client.post("/wallet/topup", data={"pack": "pack1"}).status_code == 400


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("sqlite:////nonexistent-folder/filmsphere.db", id="sqlite"),
        pytest.param("postgresql+psycopg://nobody@127.0.0.1:9/nowhere", id="postgresql"),
    ],
)
def test_database_unavailable_answers_503_so_stripe_retries(url: str, tmp_path: Path) -> None:
    app = make_app(url, tmp_path, **STRIPE_SETTINGS)
    body = checkout_event(stripe_session(1))

    response = deliver(app.test_client(), body)

    assert response.status_code == 503
    with app.app_context():
        db.engine.dispose()


def test_webhook_is_404_without_a_stripe_key(database_url: str, tmp_path: Path) -> None:
    app = make_app(database_url, tmp_path)
    body = checkout_event(stripe_session(1))
    assert deliver(app.test_client(), body).status_code == 404
    with app.app_context():
        db.engine.dispose()


# --- concurrency (PostgreSQL: real row locks, separate connections) --------------------------


def _deliver_at_once(app: Flask, body: str, parties: int = 3) -> list[tuple[int, str | None]]:
    """Deliver the same signed event from `parties` threads released together."""
    barrier = threading.Barrier(parties, timeout=30)
    results: list[tuple[int, str | None]] = []
    errors: list[BaseException] = []
    signature = sign(body)

    def worker() -> None:
        try:
            client = app.test_client()
            barrier.wait()
            response = deliver(client, body, signature)
            results.append((response.status_code, (response.get_json() or {}).get("outcome")))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(parties)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    return results


@pytest.mark.postgres_only
@pytest.mark.parametrize("recorded", [True, False], ids=["recorded-session", "unrecorded-session"])
def test_three_deliveries_at_once_credit_once(app: Flask, backend: str, recorded: bool) -> None:
    user_id = customer(app)
    session = pending_topup(app, user_id) if recorded else stripe_session(user_id)

    results = _deliver_at_once(app, checkout_event(session))

    assert sorted(results) == [(200, "credited"), (200, "duplicate"), (200, "duplicate")]
    assert balance(app, user_id) == 2000
    assert topup_credits(app, user_id) == 1


def _race_all_past_the_check(parties: int) -> None:
    """Hold every delivery at topup.before_credit until all have passed the paid check."""
    barrier = threading.Barrier(parties, timeout=30)
    seen: set[int] = set()

    def hook() -> None:
        if threading.get_ident() not in seen:  # only the first pass; retries run freely
            seen.add(threading.get_ident())
            barrier.wait()

    set_race_hook("topup.before_credit", hook)


def _lock_off(monkeypatch: pytest.MonkeyPatch) -> None:
    def unlocked(session_id: str) -> TopUp | None:
        return db.session.scalars(
            select(TopUp).where(TopUp.stripe_session_id == session_id)
        ).one_or_none()

    monkeypatch.setattr(topup_service, "_lock_topup", unlocked)
    monkeypatch.setattr(topup_service, "_already_credited", lambda topup: False)


@pytest.mark.postgres_only
def test_control_without_the_lock_the_unique_ledger_reference_still_credits_once(
    app: Flask, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Row lock and paid check off, all three deliveries forced past the check together:
    only LedgerEntry.topup_id UNIQUE is left, and it alone refuses the two duplicates."""
    user_id = customer(app)
    session = pending_topup(app, user_id)
    _lock_off(monkeypatch)
    _race_all_past_the_check(3)
    try:
        results = _deliver_at_once(app, checkout_event(session))
    finally:
        set_race_hook("topup.before_credit", None)

    assert Counter(results) == Counter({(200, "credited"): 1, (200, "duplicate"): 2})
    assert balance(app, user_id) == 2000


@pytest.mark.postgres_only
def test_control_with_every_guard_off_the_race_credits_three_times(
    app: Flask, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Negative control: without the lock, the paid check and the unique ledger reference,
    the same forced race credits the pack three times, so the tests above can fail."""
    user_id = customer(app)
    session = pending_topup(app, user_id)
    _lock_off(monkeypatch)
    real_post_entry = topup_service.post_entry

    def post_without_reference(*args: Any, **kwargs: Any) -> LedgerEntry:
        kwargs["topup_id"] = None
        return real_post_entry(*args, **kwargs)

    monkeypatch.setattr(topup_service, "post_entry", post_without_reference)
    _race_all_past_the_check(3)
    try:
        results = _deliver_at_once(app, checkout_event(session))
    finally:
        set_race_hook("topup.before_credit", None)

    assert sorted(results) == [(200, "credited")] * 3
    assert balance(app, user_id) == 3000  # the bug the guards prevent
    assert topup_credits(app, user_id) == 3
