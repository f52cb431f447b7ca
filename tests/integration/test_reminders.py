"""Show reminders: when they go (daylight-saving days included), to whom, once, by SMTP."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from filmsphere.extensions import db
from filmsphere.models import Booking, BookingReminder, OutboxMessage, Ticket, User
from filmsphere.models.types import utcnow
from filmsphere.services.booking.cancellation import cancel_tickets
from filmsphere.services.locks import guards_off
from filmsphere.services.mail import reminders
from filmsphere.services.mail.mailer import send_pending
from filmsphere.services.transaction import set_race_hook
from tests.conftest import csrf_from
from tests.support import smtp
from tests.support.smtp import Inbox

from .tickets_support import Seeded, log_in, seed_booking

# This module's app sends to a real SMTP server (fixtures shared in tests/support/smtp.py).
mail_port, app_overrides, inbox = smtp.mail_port, smtp.app_overrides, smtp.inbox


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def _reminders_queued() -> list[tuple[str, str]]:
    return [
        (m.kind, m.to_address)
        for m in db.session.scalars(
            db.select(OutboxMessage)
            .where(OutboxMessage.kind.like("reminder_%"))
            .order_by(OutboxMessage.id)
        )
    ]


def _run(at: datetime) -> reminders.ReminderRun:
    result = reminders.send_reminders(at)
    db.session.remove()
    return result


# --- when ------------------------------------------------------------------------------


def test_day_before_at_the_local_time_and_two_hours_before(ctx: Flask, backend: str) -> None:
    """An ordinary day (London in winter, UTC+0): 24 h and 2 h before; once each."""
    start = _utc(2027, 1, 15, 20, 0)
    seeded = seed_booking(starts_at=start)

    assert _run(start - timedelta(hours=24, minutes=1)).total == 0
    assert str(_run(start - timedelta(hours=24))) == (
        "reminders: 1 queued (1 for the day before, 0 shortly before)"
    )
    assert _run(start - timedelta(hours=23)).total == 0  # sent already
    assert _run(start - timedelta(hours=2, minutes=1)).total == 0
    assert _run(start - timedelta(hours=2)).queued == {"day_before": 0, "soon": 1}
    assert _run(start - timedelta(minutes=30)).total == 0
    assert _reminders_queued() == [
        ("reminder_day_before", seeded.email),
        ("reminder_soon", seeded.email),
    ]


def test_spring_forward_day_before_is_23_hours_at_the_same_local_time(
    ctx: Flask, backend: str
) -> None:
    """London, Sunday 28 March 2027: clocks go from 01:00 GMT to 02:00 BST. A 20:00 BST
    show (19:00 UTC) is reminded at 20:00 GMT on Saturday (20:00 UTC), not 24 h before."""
    start = _utc(2027, 3, 28, 19, 0)
    seed_booking(starts_at=start)

    assert _run(_utc(2027, 3, 27, 19, 0)).total == 0  # 24 h before: 19:00 local, too early
    assert _run(_utc(2027, 3, 27, 19, 59)).total == 0
    assert _run(_utc(2027, 3, 27, 20, 0)).queued["day_before"] == 1


def test_fall_back_day_before_is_25_hours_at_the_same_local_time(ctx: Flask, backend: str) -> None:
    """Sunday 31 October 2027: 02:00 BST becomes 01:00 GMT. A 20:00 GMT show (20:00 UTC)
    is reminded at 20:00 BST on Saturday, 19:00 UTC."""
    start = _utc(2027, 10, 31, 20, 0)
    seed_booking(starts_at=start)

    assert _run(_utc(2027, 10, 30, 18, 59)).total == 0
    assert _run(_utc(2027, 10, 30, 19, 0)).queued["day_before"] == 1


def test_show_on_the_night_of_the_change_is_reminded_two_real_hours_before(
    ctx: Flask, backend: str
) -> None:
    """A 03:00 BST show on 28 March 2027 (02:00 UTC), an hour after the clocks jumped:
    the soon reminder goes two elapsed hours before (00:00 UTC, 00:00 GMT on the clock),
    not at 01:00 local on the clock (which that night never shows)."""
    start = _utc(2027, 3, 28, 2, 0)
    seed_booking(starts_at=start)

    assert _run(_utc(2027, 3, 27, 2, 59)).total == 0
    assert _run(_utc(2027, 3, 27, 3, 0)).queued["day_before"] == 1  # 03:00 GMT Saturday
    assert _run(_utc(2027, 3, 27, 23, 59)).total == 0
    assert _run(_utc(2027, 3, 28, 0, 0)).queued["soon"] == 1


def test_a_late_run_sends_only_the_reminder_still_useful(ctx: Flask, backend: str) -> None:
    """Cron was down the whole day before: at 1 h before, only the soon reminder goes."""
    start = _utc(2027, 1, 15, 20, 0)
    seed_booking(starts_at=start)

    assert _run(start - timedelta(hours=1)).queued == {"day_before": 0, "soon": 1}
    assert _run(start + timedelta(minutes=1)).total == 0


@pytest.mark.parametrize(
    ("days", "minutes", "at", "expected"),
    [
        (0, 120, timedelta(hours=24), {"day_before": 0, "soon": 0}),
        (2, 120, timedelta(hours=48), {"day_before": 1, "soon": 0}),
        (1, 0, timedelta(minutes=30), {"day_before": 1, "soon": 0}),
        (1, 45, timedelta(minutes=45), {"day_before": 0, "soon": 1}),
    ],
)
def test_offsets_come_from_the_configuration(
    app: Flask, backend: str, days: int, minutes: int, at: timedelta, expected: dict[str, int]
) -> None:
    app.config.update(REMINDER_DAYS_BEFORE=days, REMINDER_MINUTES_BEFORE=minutes)
    start = _utc(2027, 1, 15, 20, 0)
    with app.app_context():
        seed_booking(starts_at=start)
        assert _run(start - at).queued == expected


# --- to whom ---------------------------------------------------------------------------


def test_no_reminder_for_cancelled_used_opted_out_or_late_bookings(
    ctx: Flask, backend: str
) -> None:
    start = utcnow().replace(second=0, microsecond=0) + timedelta(hours=3)
    at = start - timedelta(hours=2)
    cancelled = seed_booking(starts_at=start, seats=("A1",))
    cancel_tickets(cancelled.user_id, cancelled.reference, None, utcnow())
    used = seed_booking(starts_at=start, seats=("A1",))
    ticket = db.session.scalars(db.select(Ticket).where(Ticket.booking_id == used.booking_id)).one()
    ticket.checked_in_at = utcnow()
    opted_out = seed_booking(starts_at=start, seats=("A1",))
    reminders.set_reminders(opted_out.user_id, False)
    kept = seed_booking(starts_at=start, seats=("A1",))
    db.session.commit()
    db.session.remove()

    assert _run(at).queued == {"day_before": 0, "soon": 1}
    assert _reminders_queued() == [("reminder_soon", kept.email)]
    # Booked after the reminder was due (a show in 90 minutes): the confirmation has only
    # just gone.
    late = seed_booking(starts_at=start - timedelta(minutes=90), seats=("A1",))
    assert _run(utcnow()).total == 0
    assert late.email not in {to for _, to in _reminders_queued()}


def test_a_booking_cancelled_between_the_read_and_the_claim_gets_none(
    ctx: Flask, backend: str
) -> None:
    """The claim re-checks the booking under its lock, after the candidate list was read."""
    start = _utc(2027, 1, 15, 20, 0)
    seeded = seed_booking(starts_at=start)

    def cancel_meanwhile() -> None:
        cancel_tickets(seeded.user_id, seeded.reference, None, start - timedelta(hours=3))

    set_race_hook("reminders.before_claim", cancel_meanwhile)
    try:
        assert _run(start - timedelta(hours=2)).total == 0
    finally:
        set_race_hook("reminders.before_claim", None)
    assert _reminders_queued() == []


def test_an_account_closed_between_the_read_and_the_claim_gets_none(
    ctx: Flask, backend: str
) -> None:
    """A closed (or deactivated) account is re-checked under the booking's lock too."""
    start = _utc(2027, 1, 15, 20, 0)
    seeded = seed_booking(starts_at=start)

    def close_meanwhile() -> None:
        db.session.execute(
            db.update(User).where(User.id == seeded.user_id).values(is_active_account=False)
        )
        db.session.commit()

    set_race_hook("reminders.before_claim", close_meanwhile)
    try:
        assert _run(start - timedelta(hours=2)).total == 0
    finally:
        set_race_hook("reminders.before_claim", None)
    assert _reminders_queued() == []


# --- once ------------------------------------------------------------------------------


@pytest.fixture
def both_read_first() -> Iterator[None]:
    """Each run waits here after reading the due reminders, before claiming them, so both
    runs have seen the same reminders as not sent."""
    barrier = threading.Barrier(2, timeout=5)

    def hook() -> None:
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait()

    set_race_hook("reminders.before_claim", hook)
    yield
    set_race_hook("reminders.before_claim", None)


def _two_runs_at_once(app: Flask) -> tuple[list[int], list[tuple[str, str]]]:
    start = _utc(2027, 1, 15, 20, 0)
    with app.app_context():
        seed_booking(starts_at=start, seats=("A1",))
        seed_booking(starts_at=start, seats=("A2",))
    totals: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with app.app_context():
                totals.append(_run(start - timedelta(hours=2)).total)
        except BaseException as exc:  # surfaced in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    with app.app_context():
        return sorted(totals), _reminders_queued()


@pytest.mark.postgres_only
def test_two_runs_at_once_queue_each_reminder_once(
    app: Flask, backend: str, both_read_first: None
) -> None:
    totals, queued = _two_runs_at_once(app)

    assert sum(totals) == 2  # two bookings, one reminder each, whoever sent it
    assert len(queued) == 2 and len(set(queued)) == 2
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(BookingReminder)) == 2


@pytest.mark.postgres_only
def test_negative_control_without_the_claim_row_both_runs_send(
    app: Flask, backend: str, both_read_first: None
) -> None:
    with guards_off("reminders"):
        totals, queued = _two_runs_at_once(app)

    assert totals == [2, 2]
    assert len(queued) == 4  # every customer would get each reminder twice


# --- by SMTP, and the cron command -------------------------------------------------------


def test_cron_command_queues_and_the_reminder_arrives_by_smtp(
    app: Flask, backend: str, inbox: Inbox
) -> None:
    start = utcnow().replace(second=0, microsecond=0) + timedelta(hours=1, minutes=30)
    with app.app_context():
        seeded: Seeded = seed_booking(starts_at=start, seats=("A1", "A2"), title="Vertigo")
        # Booked well before the reminder was due.
        db.session.execute(
            db.update(Booking)
            .where(Booking.id == seeded.booking_id)
            .values(created_at=start - timedelta(days=3))
        )
        db.session.commit()

    first = app.test_cli_runner().invoke(args=["send-reminders"])
    second = app.test_cli_runner().invoke(args=["send-reminders"])
    assert first.exit_code == 0 and "reminders: 1 queued (0 for the day before, 1 shortly" in (
        first.output
    )
    assert "reminders: 0 queued" in second.output

    with app.app_context():
        assert send_pending(utcnow()).sent == 1
    [message] = inbox.to(seeded.email)
    assert message["Subject"].startswith("Starting soon: Vertigo — ")
    text = message.get_body(preferencelist=("plain",))
    assert text is not None
    body = text.get_content()
    assert "A1, A2" in body and seeded.reference in body and "/account" in body


# --- the opt-out on /account -------------------------------------------------------------


def _account(client: FlaskClient) -> str:
    response = client.get("/account")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _enabled(app: Flask, user_id: int) -> bool:
    with app.app_context():
        user = db.session.get(User, user_id)
        assert user is not None
        return user.reminders_enabled


def test_opt_out_plain_form_post_redirects(app: Flask, backend: str, client: FlaskClient) -> None:
    with app.app_context():
        seeded = seed_booking()
    log_in(client, seeded.username)
    page = _account(client)
    assert 'value="on" checked' in page

    response = client.post(
        "/account/reminders", data={"reminders": "off", "csrf_token": csrf_from(page)}
    )

    assert response.status_code == 303 and response.headers["Location"].endswith("/account")
    assert _enabled(app, seeded.user_id) is False
    page = _account(client)
    assert "Reminders are off" in page and 'value="off" checked' in page


def test_opt_out_with_htmx_returns_the_panel(app: Flask, backend: str, client: FlaskClient) -> None:
    with app.app_context():
        seeded = seed_booking()
    log_in(client, seeded.username)
    token = csrf_from(_account(client))
    headers = {"HX-Request": "true"}

    off = client.post(
        "/account/reminders", data={"reminders": "off", "csrf_token": token}, headers=headers
    )
    assert off.status_code == 200 and "HX-Request" in off.headers["Vary"]
    html = off.get_data(as_text=True)
    assert html.startswith('<section id="reminder-setting"') and "Reminders are off" in html
    assert _enabled(app, seeded.user_id) is False

    bad = client.post(
        "/account/reminders", data={"reminders": "maybe", "csrf_token": token}, headers=headers
    )
    assert bad.status_code == 422 and 'role="alert"' in bad.get_data(as_text=True)
    assert _enabled(app, seeded.user_id) is False

    on = client.post(
        "/account/reminders", data={"reminders": "on", "csrf_token": token}, headers=headers
    )
    assert on.status_code == 200 and _enabled(app, seeded.user_id) is True


def test_opt_out_needs_csrf_and_a_login(app: Flask, backend: str, client: FlaskClient) -> None:
    assert client.post("/account/reminders", data={"reminders": "off"}).status_code == 400
    with app.app_context():
        seeded = seed_booking()
    log_in(client, seeded.username)
    assert client.post("/account/reminders", data={"reminders": "off"}).status_code == 400
    assert _enabled(app, seeded.user_id) is True
