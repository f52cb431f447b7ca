"""Units of work: one write transaction per service call, the same on PostgreSQL and SQLite."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from psycopg.pq import TransactionStatus
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, scoped_session
from sqlalchemy.sql.expression import Executable

from ..extensions import db
from .driver import DriverResult, plan_for, run

_write_intent: ContextVar[bool] = ContextVar("filmsphere_write_intent", default=False)
_race_hooks: dict[str, Callable[[], None]] = {}


@contextmanager
def write_transaction() -> Iterator[scoped_session[Any]]:
    """Run the block as one write transaction and commit it; roll back on any exception.

    On SQLite, any read transaction the request already opened is ended first so that the
    write starts with BEGIN IMMEDIATE (SQLite ignores FOR UPDATE: the database-wide write
    lock is what serialises writers). On PostgreSQL services take row locks with FOR
    UPDATE in primary-key order, and a healthy read transaction (idle in transaction, no
    pending objects) simply carries on as the write one: under READ COMMITTED each
    statement sees the latest commits anyway, and every object loaded before is expired,
    so what the service uses is re-read under its locks. That saves a ROLLBACK, a pool
    check-out and a BEGIN on every write request. Anything else is rolled back first.
    """
    session = db.session
    if _can_carry_on(session()):
        session.expire_all()
    else:
        session.rollback()
    token = _write_intent.set(True)
    try:
        session.connection()  # BEGIN (IMMEDIATE on SQLite) while the intent is set
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        _write_intent.reset(token)


def _can_carry_on(current: Session) -> bool:
    """A PostgreSQL read transaction that is open, not failed, with nothing pending."""
    if not (current.in_transaction() and current.is_active) or current.new or current.dirty:
        return False
    connection = current.connection()
    if connection.dialect.name != "postgresql":
        return False
    raw: Any = connection.connection.dbapi_connection
    return bool(raw.info.transaction_status == TransactionStatus.INTRANS)


def read_without_transaction() -> None:
    """Declare that this request only reads, and that its statements need no common
    snapshot (one statement, or independent reads such as the signed-in user and then the
    seat map): on PostgreSQL they then run without a transaction (autocommit), saving the
    BEGIN and ROLLBACK round trips; each statement sees one snapshot anyway. Call before
    the request's first query; on SQLite, or once a transaction has begun, nothing
    changes."""
    session = db.session
    if session().in_transaction() or not is_postgres():
        return
    session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def execute_core(
    statement: Executable, params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None
) -> Any:
    """Run a Core statement (columns or rows, never entities) on the session's connection,
    in its transaction, past the ORM's execute layer: on the hot paths (a request's user,
    a seat click's locks and writes, the seat map's read) that layer cost more CPU than
    the statements themselves. The ORM's autoflush comes first, as it would (nothing to do
    unless objects are pending). Objects already loaded are not synchronised with a
    DELETE or UPDATE run this way: use it where the unit of work loads none it changes.
    A statement marked `driver.hot` runs on the driver's cursor (driver.py)."""
    session = db.session
    session.flush()
    connection = session.connection()
    params = params or {}
    if isinstance(params, Mapping) and (plan := plan_for(statement, connection)) is not None:
        return run(connection, plan, params)
    return connection.execute(statement, params)


def read_alone(statement: Executable, params: Mapping[str, Any]) -> Any:
    """Run the one read of a request that reads nothing else in its transaction (a grid
    poll, the seat map page): on PostgreSQL, when the request's session has no transaction
    open, on a pooled connection of its own in autocommit (no BEGIN, no ROLLBACK), past
    the ORM's session, whose bookkeeping cost a poll more CPU than its statement; the
    connection goes back to the pool at once. Otherwise it runs as execute_core does, in
    the session's transaction."""
    session = db.session
    if (session.registry.has() and session().in_transaction()) or not is_postgres():
        return execute_core(statement, params)
    with db.engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT")
        plan = plan_for(statement, connection)
        if plan is not None:
            return run(connection, plan, params)
        result = connection.execute(statement, params)
        return DriverResult(list(result.all()), result.rowcount)


def is_postgres() -> bool:
    return db.engine.dialect.name == "postgresql"


def race_point(name: str) -> None:
    """A named point between a check and its write. Tests register a hook here to force
    races (a barrier or a pause); in production nothing is registered and it costs a lookup."""
    hook = _race_hooks.get(name)
    if hook is not None:
        hook()


def set_race_hook(name: str, hook: Callable[[], None] | None) -> None:
    if hook is None:
        _race_hooks.pop(name, None)
    else:
        _race_hooks[name] = hook


def _unicode_lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def configure_sqlite(engine: Engine) -> None:
    """Give pysqlite explicit transactions so BEGIN IMMEDIATE is ours to issue."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        # SQLite's lower() folds ASCII only; catalogue search needs Unicode case folding.
        dbapi_connection.create_function("fs_lower", 1, _unicode_lower, deterministic=True)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _write_intent.get() else "BEGIN")
