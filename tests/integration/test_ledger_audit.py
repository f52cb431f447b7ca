"""`flask audit-ledger`: balanced wallets pass; any disagreement is reported with exit 1."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import insert, update

from filmsphere.extensions import db
from filmsphere.models import LedgerEntry, Wallet, utcnow

from ..factories import make_user


def _post_raw(wallet_id: int, amount: int, balance_after: int, new_balance: int) -> None:
    """Write a ledger row and a balance directly, bypassing the service (to corrupt)."""
    db.session.execute(
        insert(LedgerEntry).values(
            wallet_id=wallet_id,
            kind="admin_adjustment",
            amount_coins=amount,
            balance_after_coins=balance_after,
            created_at=utcnow(),
        )
    )
    db.session.execute(
        update(Wallet).where(Wallet.id == wallet_id).values(balance_coins=new_balance)
    )
    db.session.commit()


def test_audit_ledger_passes_then_reports_a_wrong_balance_after(backend: str, app: Flask) -> None:
    runner = app.test_cli_runner()
    with app.app_context():
        wallet_id = db.session.scalar(
            db.select(Wallet.id).where(Wallet.user_id == make_user(coins=100).id)
        )
    ok = runner.invoke(args=["audit-ledger"])
    assert ok.exit_code == 0 and "ledger balanced" in ok.output

    with app.app_context():
        # The sum still matches (105) but the newest entry claims 999.
        _post_raw(wallet_id, 5, 999, 105)
    bad = runner.invoke(args=["audit-ledger"])
    assert bad.exit_code == 1
    assert f"wallet {wallet_id}: balance 105, ledger sum 105, newest entry says 999" in bad.output

    with app.app_context():
        # A balance that no longer equals the sum is reported too.
        _post_raw(wallet_id, -5, 100, 90)
    bad = runner.invoke(args=["audit-ledger"])
    assert bad.exit_code == 1 and "ledger sum 100" in bad.output

    with app.app_context():
        db.session.execute(update(Wallet).where(Wallet.id == wallet_id).values(balance_coins=100))
        db.session.commit()
    assert runner.invoke(args=["audit-ledger"]).exit_code == 0
