"""Audit rows, written inside the admin action's own transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ...extensions import db
from ...models import AuditEntry


def record_audit(
    *,
    actor_id: int | None,
    action: str,
    target_type: str,
    target_id: int | str | None,
    now: datetime,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit row to the current transaction (never commits on its own)."""
    entry = AuditEntry(
        actor_id=actor_id,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        before=before,
        after=after,
        created_at=now,
    )
    db.session.add(entry)
    return entry
