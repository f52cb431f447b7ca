"""Account forms that name an address take the same time whoever asks.

A password reset, a new verification code or a sign-up did more work in the request
when the address had an account (tokens, the email, a wallet) than when it had none, and
the difference showed in the response time: one request told the two apart about three
times in four. Now the request only stores what was asked — one row, the same statement
and commit for every address — and the mail sender acts on it out of the request
(mailer.send_pending runs process_account_requests before sending), where the time it
takes tells the asker nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

from ...extensions import db
from ...models import AccountRequest
from ..transaction import is_postgres, write_transaction

log = logging.getLogger(__name__)


def queue_account_request(kind: str, email: str, now: datetime, **payload: str) -> None:
    """Store a request ('reset', 'verify' or 'register') for `email`, whether or not it
    has an account. Commits."""
    with write_transaction():
        db.session.add(AccountRequest(kind=kind, email=email, payload=payload, created_at=now))


def _handlers() -> dict[str, Callable[..., Any]]:
    from . import accounts

    return {
        "reset": accounts.send_reset_link,
        "verify": accounts.send_verification_code,
        "register": accounts.complete_registration,
    }


def process_account_requests(now: datetime) -> int:
    """Act on every waiting request, oldest first, each in its own transaction that also
    deletes its row: each is done exactly once, and on PostgreSQL several senders share
    the work (FOR UPDATE SKIP LOCKED). A request that fails stays for the next pass (a
    sign-up that lost a race for its address then finds the account and sends the note);
    a database that can't be reached raises. Returns how many were done."""
    handlers = _handlers()
    done = 0
    last_id = 0  # each pass looks at a row once, even if it fails
    while True:
        try:
            with write_transaction() as session:
                query = (
                    select(AccountRequest)
                    .where(AccountRequest.id > last_id)
                    .order_by(AccountRequest.id)
                    .limit(1)
                )
                if is_postgres():
                    query = query.with_for_update(skip_locked=True)
                request = session.scalars(query).first()
                if request is None:
                    return done
                last_id = request.id
                handlers[request.kind](request.email, now, **request.payload)
                session.delete(request)
            done += 1
        except (OperationalError, InterfaceError):
            raise
        except IntegrityError:
            log.info("account request %s lost a race; it is tried again next pass", last_id)
        except Exception:  # noqa: BLE001 - one bad request must not stop the others
            log.exception("account request %s failed; it is tried again next pass", last_id)
