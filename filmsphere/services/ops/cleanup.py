"""Cleanup (cron, every minute): delete expired holds and log-in sessions, mark past shows
finished."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update

from ...models import SeatHold, Show, ShowStatus
from ..accounts.sessions import delete_expired_sessions
from ..transaction import is_postgres, race_point, write_transaction

BATCH_SIZE = 200


@dataclass(frozen=True)
class CleanupResult:
    holds_deleted: int
    shows_finished: int
    sessions_deleted: int = 0

    def __str__(self) -> str:
        return (
            f"cleanup: {self.holds_deleted} expired hold(s) deleted, "
            f"{self.shows_finished} show(s) marked finished, "
            f"{self.sessions_deleted} expired log-in session(s) deleted"
        )


def run_cleanup(now: datetime, batch_size: int = BATCH_SIZE) -> CleanupResult:
    """Delete holds that expired by `now`, mark shows that ended by `now` finished and
    delete expired log-in sessions.

    Short transactions of at most `batch_size` holds each. On PostgreSQL the expired holds
    are selected FOR UPDATE SKIP LOCKED: a hold a checkout has locked is skipped (the
    checkout decides its fate), and two cleanups running at once take disjoint batches.
    Idempotent. Never touches bookings, tickets or the ledger. Commits per batch.
    """
    deleted = 0
    while True:
        with write_transaction() as session:
            query = (
                select(SeatHold.id, SeatHold.show_id)
                .where(SeatHold.expires_at <= now)
                .order_by(SeatHold.id)
                .limit(batch_size)
            )
            if is_postgres():
                query = query.with_for_update(skip_locked=True)
            batch = session.execute(query).all()
            if not batch:
                break
            race_point("cleanup.before_delete")
            result: Any = session.execute(
                delete(SeatHold)
                .where(SeatHold.id.in_([h.id for h in batch]), SeatHold.expires_at <= now)
                .execution_options(synchronize_session=False)
            )
            deleted += result.rowcount
        if len(batch) < batch_size:
            break
    with write_transaction() as session:
        finished: Any = session.execute(
            update(Show)
            .where(Show.status == ShowStatus.SCHEDULED, Show.ends_at <= now)
            .values(status=ShowStatus.FINISHED)
            .execution_options(synchronize_session=False)
        )
        shows_finished = finished.rowcount
    return CleanupResult(
        holds_deleted=deleted,
        shows_finished=shows_finished,
        sessions_deleted=delete_expired_sessions(now),
    )
