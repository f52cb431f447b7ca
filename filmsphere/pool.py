"""The connection pool's liveness check: ping a connection only after it sat idle.

SQLAlchemy's `pool_pre_ping` sends a round trip to the database before every request's
first statement. On a poll that is one statement in all, that ping was a second round
trip, paid by the app and by PostgreSQL on every request of a rush. A connection used a
moment ago is alive in all but the rarest case, and that case is handled anyway: a
statement on a connection that broke gives the request a 503 "try again" (errors.py) and
makes the pool drop every connection opened before it, so only that one request sees it.
What the ping is for — a connection left idle while the database restarted, or while a
firewall forgot it — is still caught: one idle longer than `idle_seconds` is pinged when it
is checked out, and replaced (the pool opens a new one) when the ping finds it dead.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import Engine

_LAST_USED = "filmsphere_last_used"


def ping_after_idle(engine: Engine, idle_seconds: float) -> None:
    """Ping each connection the pool hands out that was idle more than `idle_seconds`
    (0: every one, as pool_pre_ping does)."""
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info[_LAST_USED] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        last_used = record.info.get(_LAST_USED)
        if last_used is None or time.monotonic() - last_used <= idle_seconds:
            return  # just opened, or used a moment ago
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                # The pool discards this connection and checks out another (a new one).
                raise exc.DisconnectionError() from error
            raise
