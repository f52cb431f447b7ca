"""The committed migrations build the schema the models describe, on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from filmsphere.extensions import db
from filmsphere.models import LedgerEntry, Show

from ..factories import make_movie, make_screen, make_show, make_user


def test_models_and_migrations_agree(backend: str, database_url: str) -> None:
    """No drift: autogenerate against the migrated database finds nothing to change."""
    engine = create_engine(database_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    engine.dispose()
    assert diff == []


def test_ledger_rows_cannot_be_updated_or_deleted(backend: str, ctx) -> None:
    make_user(coins=100)
    entry = db.session.scalars(db.select(LedgerEntry)).one()
    for statement in (
        "UPDATE ledger_entries SET amount_coins = 5 WHERE id = :id",
        "DELETE FROM ledger_entries WHERE id = :id",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text(statement), {"id": entry.id})
        db.session.rollback()


def test_wallet_balance_cannot_go_negative(backend: str, ctx) -> None:
    make_user(coins=10)
    with pytest.raises(IntegrityError):
        db.session.execute(text("UPDATE wallets SET balance_coins = -1"))
    db.session.rollback()


@pytest.mark.postgres_only
def test_exclusion_constraint_refuses_overlapping_shows(backend: str, ctx) -> None:
    movie = make_movie(duration=100)
    screen = make_screen()
    first = make_show(movie, screen)
    overlapping = Show(
        movie_id=movie.id,
        screen_id=screen.id,
        starts_at=first.ends_at - timedelta(minutes=1),
        ends_at=first.ends_at + timedelta(minutes=100),
        base_price_coins=10,
    )
    db.session.add(overlapping)
    with pytest.raises(IntegrityError, match="ex_shows_screen_no_overlap"):
        db.session.commit()
    db.session.rollback()
    back_to_back = Show(
        movie_id=movie.id,
        screen_id=screen.id,
        starts_at=first.ends_at,
        ends_at=first.ends_at + timedelta(minutes=100),
        base_price_coins=10,
    )
    db.session.add(back_to_back)
    db.session.commit()
