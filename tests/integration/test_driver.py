"""Hot statements (services/driver.py) run on psycopg's own cursor and give what SQLAlchemy
gives: the same rows with the same Python types, SQLAlchemy's exceptions (a lost connection
invalidated), every statement seen by the engine's listeners; what can't run there runs
through SQLAlchemy; and a request's lone read (read_alone) runs in autocommit on a
connection of its own, or in the session's transaction when one is open."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import bindparam, create_engine, select, text
from sqlalchemy.exc import IntegrityError, InvalidRequestError, OperationalError

from filmsphere.extensions import db
from filmsphere.models import Role, Seat, SeatHold
from filmsphere.services import driver
from filmsphere.services.accounts import sessions
from filmsphere.services.booking import seatmap
from filmsphere.services.driver import DriverResult, hot
from filmsphere.services.locks import _WALLET_ROW, insert_hold_if_for_sale
from filmsphere.services.transaction import execute_core, read_alone
from tests import factories

from .test_seat_poll_cost import watching

pytestmark = pytest.mark.postgres_only


def _customer_with_hold(app: Flask) -> tuple[Any, int, str, Any]:
    """A customer holding one seat of a show, their log-in key and the hold's expiry."""
    user = factories.make_user()
    show = factories.make_show()
    seat_id = db.session.scalars(select(Seat.id).where(Seat.screen_id == show.screen_id)).first()
    now = factories.now()
    expires = now + timedelta(minutes=10)
    assert insert_hold_if_for_sale(show.id, seat_id, user.id, now, expires)
    db.session.commit()
    key = sessions.start_session(user, False, now)
    return user, show.id, key, expires


def test_a_hot_read_gives_the_rows_and_types_sqlalchemy_gives(ctx: Flask, backend: str) -> None:
    user, show_id, key, expires = _customer_with_hold(ctx)
    parsed = sessions.SessionKey.parse(key)
    assert parsed is not None
    now = factories.now()
    params = sessions.key_parameters(parsed, now) | {"show_id": show_id}
    statement = seatmap._PAGE_READ_OF_SESSION  # the widest: user, heading, map
    # Not UTC: psycopg then hands back datetimes in this zone, and UTCDateTime's result
    # conversion is what makes them UTC.
    execute_core(text("SET LOCAL TIME ZONE 'America/New_York'"))

    with watching(ctx) as seen:
        result = execute_core(statement, params)
    assert isinstance(result, DriverResult)  # it ran on the driver
    assert len(seen.statements) == 1 and seen.statements[0].lstrip().startswith("SELECT")
    ours = result.one_or_none()
    theirs = db.session.connection().execute(statement, params).one()

    assert tuple(ours) == tuple(theirs)
    assert ours._mapping == dict(theirs._mapping)
    assert [type(v) for v in ours] == [type(v) for v in theirs]
    assert ours.user_role == Role.CUSTOMER
    assert ours.my_expiry == expires and ours.my_expiry.tzinfo == UTC  # UTCDateTime
    assert ours.viewer_id == user.id and ours.mine


def test_a_hot_write_raises_sqlalchemys_integrity_error_and_the_session_recovers(
    ctx: Flask, backend: str
) -> None:
    user, show_id, _key, expires = _customer_with_hold(ctx)
    seat_id = db.session.scalars(select(SeatHold.seat_id)).one()
    now = factories.now()
    with pytest.raises(IntegrityError):  # the same seat twice: the unique constraint
        insert_hold_if_for_sale(show_id, seat_id, user.id, now, expires)
    db.session.rollback()
    assert (
        execute_core(
            sessions._USER_BY_SESSION,
            {
                "session_id": 0,
                "user_id": user.id,
                "secret_hash": "",
                "now": now,
            },
        ).first()
        is None
    )


def test_a_lost_connection_is_invalidated_and_the_next_statement_gets_a_new_one(
    ctx: Flask, backend: str
) -> None:
    user = factories.make_user()
    params = {"user_id": user.id}
    pid = execute_core(text("SELECT pg_backend_pid()")).scalar()
    killer = create_engine(db.engine.url)
    try:
        with killer.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        killer.dispose()
    with pytest.raises(OperationalError) as raised:
        execute_core(_WALLET_ROW, params)
    assert raised.value.connection_invalidated
    db.session.rollback()
    assert execute_core(_WALLET_ROW, params).first() is not None  # a new connection


def test_what_cant_run_on_the_driver_runs_through_sqlalchemy(ctx: Flask, backend: str) -> None:
    show = factories.make_show()
    ids = list(db.session.scalars(select(Seat.id).where(Seat.screen_id == show.screen_id)))[:3]
    listed = hot(select(Seat.id).where(Seat.id.in_(bindparam("ids", expanding=True))))
    assert driver.plan_for(listed, db.session.connection()) is None
    result = execute_core(listed, {"ids": ids})
    assert not isinstance(result, DriverResult)
    assert sorted(result.scalars()) == sorted(ids)


def test_a_lone_read_runs_in_autocommit_or_in_the_open_transaction(
    ctx: Flask, backend: str
) -> None:
    user, show_id, _key, _expires = _customer_with_hold(ctx)
    params = {"show_id": show_id, "user_id": user.id, "now": factories.now()}
    db.session.remove()
    with watching(ctx) as seen:
        row = read_alone(seatmap._MAP_READ, params).first()
    assert row.mine and seen.autocommit == [True]  # one statement, autocommit
    assert not db.session.registry.has() or not db.session().in_transaction()

    # With the session's transaction open it reads there: it sees the uncommitted delete.
    db.session.execute(SeatHold.__table__.delete())
    with watching(ctx) as seen:
        row = read_alone(seatmap._MAP_READ, params).first()
    assert row.mine is None and seen.autocommit == [False]
    db.session.rollback()
    assert read_alone(seatmap._MAP_READ, params).first().mine  # rolled back: still held


def test_a_missing_parameter_is_refused_before_anything_is_sent(ctx: Flask, backend: str) -> None:
    with watching(ctx) as seen, pytest.raises(InvalidRequestError, match="user_id"):
        execute_core(_WALLET_ROW, {})
    assert seen.statements == []
