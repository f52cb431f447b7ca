"""Idempotency-Keys of API checkouts: the same key and request pay once, another request
with a used key is refused."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ...extensions import db
from ...models import IdempotencyKey
from ..errors import DomainError
from ..transaction import race_point, write_transaction


class IdempotencyKeyReused(DomainError):
    """The key was used before with a different request."""


def request_digest(*parts: Any) -> str:
    """A digest of a request's meaning (method, path, canonical JSON body)."""
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def checkout_token_for(user_id: int, key: str, digest: str, now: datetime) -> str:
    """The checkout token an Idempotency-Key stands for, after recording the key with the
    request's digest (first use) or checking it (later uses).

    Guarantees: one user's key always maps to the same checkout token, so services.checkout
    (whose token is unique per booking) pays at most once for it, however many requests
    race with it; a key first used with another request raises IdempotencyKeyReused (422)
    and changes nothing. Only hashes of the key are stored. Commits the first use."""
    key_hash = hashlib.sha256(f"{user_id}:{key}".encode("utf-8", "surrogatepass")).hexdigest()
    try:
        with write_transaction() as session:
            session.add(
                IdempotencyKey(
                    user_id=user_id, key_hash=key_hash, request_digest=digest, created_at=now
                )
            )
    except IntegrityError:  # used before (or by a request racing this one)
        seen = db.session.scalar(
            select(IdempotencyKey.request_digest).where(
                IdempotencyKey.user_id == user_id, IdempotencyKey.key_hash == key_hash
            )
        )
        if seen != digest:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was already used for a different request. "
                "Use a new key for a new checkout."
            ) from None
    race_point("idempotency.after_claim")
    return "api:" + key_hash[:56]  # fits Booking.checkout_token (64)
