"""Write transactions: SQLite takes its write lock at BEGIN; times stay aware UTC."""

from __future__ import annotations

import sqlite3
from datetime import datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from filmsphere.extensions import db
from filmsphere.models import User
from filmsphere.services.transaction import write_transaction

from ..factories import make_user


def _try_write_lock(path: str) -> str:
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return "acquired"
    except sqlite3.OperationalError as exc:
        return str(exc)
    finally:
        other.close()


@pytest.mark.sqlite_only
def test_sqlite_write_transaction_starts_with_begin_immediate(ctx, database_url: str) -> None:
    path = database_url.removeprefix("sqlite:///")
    with write_transaction() as session:
        # No statement has run yet, yet the write lock is already held.
        assert _try_write_lock(path) == "database is locked"
        session.execute(select(1))
    assert _try_write_lock(path) == "acquired"
    # A plain read transaction does not take the write lock.
    db.session.execute(select(1))
    assert _try_write_lock(path) == "acquired"
    db.session.rollback()


def test_write_transaction_rolls_back_on_error(backend: str, ctx) -> None:
    user = make_user()
    with pytest.raises(RuntimeError), write_transaction() as session:
        session.get(User, user.id).full_name = "Changed"  # type: ignore[union-attr]
        raise RuntimeError("boom")
    assert db.session.get(User, user.id).full_name != "Changed"  # type: ignore[union-attr]


def test_times_come_back_as_aware_utc(backend: str, ctx) -> None:
    user = make_user()
    db.session.expire_all()
    created = db.session.get(User, user.id).created_at  # type: ignore[union-attr]
    assert isinstance(created, datetime)
    assert created.utcoffset() is not None and created.utcoffset().total_seconds() == 0


def test_naive_datetimes_are_refused(backend: str, ctx) -> None:
    user = make_user()
    user.created_at = datetime(2026, 1, 1, 12, 0)  # naive: a bug waiting to happen
    with pytest.raises(Exception, match="aware datetime"):
        db.session.commit()
    db.session.rollback()


@pytest.mark.postgres_only
def test_a_write_carries_on_a_healthy_read_and_never_a_failed_one(backend: str, ctx) -> None:
    user = make_user(username="before")
    user_id = user.id
    # A healthy read transaction becomes the write one (the same transaction start).
    started = db.session.execute(text("SELECT transaction_timestamp()")).scalar_one()
    with write_transaction() as session:
        assert session.execute(text("SELECT transaction_timestamp()")).scalar_one() == started
        session.execute(text("UPDATE users SET username = 'during' WHERE id = :i"), {"i": user_id})
    # A read that failed (the transaction is aborted) is rolled back first, not carried on.
    with pytest.raises(DBAPIError):
        db.session.execute(text("SELECT 1 / 0"))
    with write_transaction() as session:
        session.execute(text("UPDATE users SET username = 'after' WHERE id = :i"), {"i": user_id})
    db.session.expire_all()
    assert db.session.get(User, user_id).username == "after"  # type: ignore[union-attr]
