"""Admin users: roles (never the last admin), deactivation ends sessions, coin adjustments."""

from __future__ import annotations

import contextlib
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, update

from filmsphere.extensions import db
from filmsphere.models import AuditEntry, LedgerEntry, Role, TopUp, User, UserSession, Wallet
from filmsphere.services.errors import Conflict
from filmsphere.services.transaction import set_race_hook
from tests import factories

from .test_admin_support import admin_client, post, sign_in


def test_search_and_detail(backend, app, client):
    admin_client(client, app)
    with app.app_context():
        user = factories.make_user(username="zelda", email="zelda@example.test")
        db.session.add(
            TopUp(user_id=user.id, stripe_session_id="cs_test_1", pack_id="pack1", coins=500,
                  amount_minor=500, currency="eur", status="paid")
        )  # fmt: skip
        db.session.commit()
        user_id = user.id
    listing = client.get("/admin/users?q=ZELD").get_data(as_text=True)
    assert "zelda@example.test" in listing and "boss" not in listing
    assert "boss" in client.get("/admin/users?role=admin").get_data(as_text=True)
    page = client.get(f"/admin/users/{user_id}").get_data(as_text=True)
    assert "signup grant" in page and "Stripe top-ups" in page and "5.00 EUR" in page


def test_change_role_and_last_admin_cannot_be_demoted(backend, app, client):
    admin_id = admin_client(client, app)
    with app.app_context():
        user_id = factories.make_user().id
    assert post(client, f"/admin/users/{user_id}/role", {"role": "staff"}).status_code == 303
    refused = post(client, f"/admin/users/{admin_id}/role", {"role": "customer"})
    assert refused.status_code == 409 and "last admin" in refused.get_data(as_text=True)
    assert post(client, f"/admin/users/{user_id}/role", {"role": "wizard"}).status_code == 422
    assert post(client, f"/admin/users/{user_id}/role", {"role": "admin"}).status_code == 303
    # Now there are two admins: the first may step down.
    assert post(client, f"/admin/users/{admin_id}/role", {"role": "staff"}).status_code == 303
    with app.app_context():
        assert db.session.get(User, user_id).role == Role.ADMIN
        assert db.session.get(User, admin_id).role == Role.STAFF
        rows = list(db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)))
        assert [(r.action, r.before, r.after) for r in rows] == [
            ("user.role", {"role": "customer"}, {"role": "staff"}),
            ("user.role", {"role": "staff"}, {"role": "admin"}),
            ("user.role", {"role": "admin"}, {"role": "staff"}),
        ]
    # Demoted: the admin area is closed to them now.
    assert client.get("/admin/").status_code == 403


def test_deactivate_ends_sessions_and_reactivate(backend, app, client):
    admin_client(client, app)
    with app.app_context():
        user_id = factories.make_user(Role.STAFF).id
    victim = app.test_client()
    sign_in(victim, app, user_id)
    assert victim.get("/staff/check-in").status_code == 200
    assert post(client, f"/admin/users/{user_id}/deactivate").status_code == 303
    assert victim.get("/staff/check-in").status_code == 302  # session ended: off to log in
    with app.app_context():
        user = db.session.get(User, user_id)
        assert user.is_active_account is False
        assert db.session.scalars(select(UserSession).filter_by(user_id=user_id)).all() == []
    assert post(client, f"/admin/users/{user_id}/deactivate").status_code == 409
    assert post(client, f"/admin/users/{user_id}/reactivate").status_code == 303
    with app.app_context():
        assert db.session.get(User, user_id).is_active_account is True
    assert victim.get("/staff/check-in").status_code == 302  # the old session stays ended


def test_admin_cannot_deactivate_themselves(backend, app, client):
    admin_id = admin_client(client, app)
    response = post(client, f"/admin/users/{admin_id}/deactivate")
    assert response.status_code == 409


def test_coin_adjustments_need_a_reason_and_never_go_negative(backend, app, client):
    admin_id = admin_client(client, app)
    with app.app_context():
        user_id = factories.make_user(coins=100).id
    assert (
        post(
            client,
            f"/admin/users/{user_id}/coins",
            {"amount_coins": "50", "reason": "Sorry for the noise"},
        ).status_code
        == 303
    )
    assert (
        post(
            client, f"/admin/users/{user_id}/coins", {"amount_coins": "-30", "reason": "Correction"}
        ).status_code
        == 303
    )
    no_reason = post(client, f"/admin/users/{user_id}/coins", {"amount_coins": "10", "reason": " "})
    assert no_reason.status_code == 422
    too_much = post(
        client, f"/admin/users/{user_id}/coins", {"amount_coins": "-121", "reason": "Oops"}
    )
    assert too_much.status_code == 422
    assert "at most 120 coins can be removed" in too_much.get_data(as_text=True)
    zero = post(client, f"/admin/users/{user_id}/coins", {"amount_coins": "0", "reason": "Nothing"})
    assert zero.status_code == 422
    with app.app_context():
        assert (
            db.session.scalar(select(Wallet.balance_coins).where(Wallet.user_id == user_id)) == 120
        )
        entries = list(
            db.session.scalars(
                select(LedgerEntry)
                .where(LedgerEntry.kind == "admin_adjustment")
                .order_by(LedgerEntry.id)
            )
        )
        assert [(e.amount_coins, e.reason, e.actor_id) for e in entries] == [
            (50, "Sorry for the noise", admin_id),
            (-30, "Correction", admin_id),
        ]
        audits = list(
            db.session.scalars(select(AuditEntry).where(AuditEntry.action == "wallet.adjust"))
        )
        assert [a.after["balance_coins"] for a in audits] == [150, 120]


@pytest.mark.postgres_only
def test_two_admins_demoting_each_other_at_once_leave_one_admin(backend, app, monkeypatch):
    """Both count "one other admin" only if nothing serialises them: the admin rows are
    locked for the count, so one demotion waits and is then refused. The negative control
    counts without the lock and ends with no admin at all."""
    from filmsphere.services.accounts import admin_users

    def race(with_lock: bool) -> list[object]:
        with app.app_context():
            a = factories.make_user(Role.ADMIN).id
            b = factories.make_user(Role.ADMIN).id
        barrier = threading.Barrier(2)

        def hook() -> None:
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=3)

        results: list[object] = []

        def worker(actor: int, target: int) -> None:
            with app.app_context():
                try:
                    admin_users.change_role(actor, target, "customer", datetime.now(UTC))
                    results.append("demoted")
                except Conflict as exc:
                    results.append(exc)
                except Exception as exc:  # noqa: BLE001 - reported by the assert below
                    results.append(f"unexpected: {exc!r}")
                finally:
                    db.session.remove()

        if not with_lock:
            monkeypatch.setattr(
                admin_users,
                "_other_active_admins",
                lambda user_id: db.session.scalar(
                    select(func.count())
                    .select_from(User)
                    .where(
                        User.role == Role.ADMIN,
                        User.is_active_account.is_(True),
                        User.id != user_id,
                    )
                ),
            )
        set_race_hook("admin.after_admin_count", hook)
        try:
            threads = [threading.Thread(target=worker, args=p) for p in ((a, b), (b, a))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
        finally:
            set_race_hook("admin.after_admin_count", None)
        with app.app_context():
            admins = db.session.scalar(
                select(func.count()).select_from(User).where(User.role == Role.ADMIN)
            )
            db.session.execute(update(User).values(role=Role.CUSTOMER))
            db.session.commit()
        return [results, admins]

    results, admins = race(with_lock=True)
    assert not [r for r in results if isinstance(r, str) and r.startswith("unexpected")]  # type: ignore[attr-defined]
    assert admins == 1 and results.count("demoted") == 1  # type: ignore[attr-defined]
    results, admins = race(with_lock=False)
    assert admins == 0  # the negative control: without the lock both demotions go through
