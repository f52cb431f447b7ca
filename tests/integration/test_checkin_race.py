"""Two scanners present the same ticket at the same moment: exactly one "valid"."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import pytest
from flask import Flask

from filmsphere.extensions import db
from filmsphere.models import Role, Ticket
from filmsphere.models.types import utcnow
from filmsphere.services.door import checkin
from filmsphere.services.door.ticket_codes import ticket_code
from filmsphere.services.locks import guards_off
from filmsphere.services.transaction import set_race_hook
from tests import factories
from tests.integration.tickets_support import seed_booking

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def race_hook() -> Iterator[threading.Barrier]:
    """Each scanner waits here after reading the ticket, before writing it. With the row
    lock the second scanner can't get here while the first waits, so the barrier breaks
    (its timeout) and the first goes on alone; without the lock both read "unused"."""
    barrier = threading.Barrier(2, timeout=2)

    def hook() -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()

    set_race_hook("check_in.locked", hook)
    yield barrier
    set_race_hook("check_in.locked", None)


def _race(app: Flask) -> tuple[list[str], int]:
    with app.app_context():
        seeded = seed_booking()
        staff_two = factories.make_user(Role.STAFF).id
        ticket = db.session.scalars(
            db.select(Ticket).where(Ticket.booking_id == seeded.booking_id).order_by(Ticket.id)
        ).first()
        assert ticket is not None
        code, ticket_id = ticket_code(ticket), ticket.id
    outcomes: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def scan(staff_id: int) -> None:
        try:
            with app.app_context():
                start.wait()
                outcomes.append(checkin.check_in(code, staff_id, utcnow()).outcome)
                db.session.remove()
        except BaseException as exc:  # surfaced below, in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=scan, args=(s,)) for s in (seeded.staff_id, staff_two)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    return sorted(outcomes), ticket_id


def test_two_scanners_exactly_one_valid(
    app: Flask, backend: str, race_hook: threading.Barrier
) -> None:
    outcomes, ticket_id = _race(app)

    assert outcomes == ["already_used", "valid"]
    with app.app_context():
        ticket = db.session.get(Ticket, ticket_id)
        assert ticket is not None and ticket.checked_in_at is not None


def test_negative_control_without_the_row_lock_both_say_valid(
    app: Flask, backend: str, race_hook: threading.Barrier
) -> None:
    """Proves the race test can fail: with the lock off both scanners admit the ticket."""
    with guards_off("tickets"):
        outcomes, _ = _race(app)

    assert outcomes == ["valid", "valid"]
