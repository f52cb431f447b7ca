"""Queue email in the outbox, inside the caller's transaction; the sender renders and sends it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ...extensions import db
from ...models import OutboxMessage
from .emails import RENDERERS


def queue_email(*, kind: str, to: Any, now: datetime, **facts: Any) -> OutboxMessage:
    """Add a message of `kind` for `to` (an address, or a scalar subquery that reads it
    inside the INSERT) to the outbox, holding only `facts`: the ids and values the
    message will say (JSON). Nothing is rendered here; the sender renders it after
    commit (services/mail/emails.py), so a change's transaction stays short.

    Runs in the caller's transaction: the message exists if and only if the change it
    reports is committed. Raises ValueError for a kind no renderer knows.
    """
    if kind not in RENDERERS:
        raise ValueError(f"no renderer for {kind!r} emails")
    message = OutboxMessage(
        kind=kind,
        to_address=to,
        payload=facts,
        status="pending",
        next_attempt_at=now,
        created_at=now,
    )
    db.session.add(message)
    return message
