"""Admin mail and `flask mail-health`: undelivered mail is shown (never its contents),
a failed message can be resent (audited), and monitoring learns when mail is stuck."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from filmsphere.extensions import db
from filmsphere.models import AuditEntry, Booking, OutboxMessage
from filmsphere.models.types import utcnow
from filmsphere.services.mail.mailer import background_sender, send_pending
from filmsphere.services.mail.outbox import queue_email
from filmsphere.services.transaction import write_transaction

from .. import factories
from ..conftest import csrf_from, make_app, pager_link
from ..support.postgres import free_port
from ..support.smtp import RefusingInbox, running, smtp_server
from .test_admin_support import admin_client

SECRET = "tok-7f3a9c-secret"  # in what every message says: never on the page


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def app_overrides(port: int) -> dict[str, Any]:
    return {"MAIL_PORT": port}


def _facts(kind: str) -> dict[str, Any]:
    """What a real message of `kind` records, with SECRET in what it says."""
    if kind == "password_reset":
        link = f"http://127.0.0.1:5000/auth/reset/{SECRET}"
        return {"name": "Ann Example", "username": "ann", "link": link, "minutes": 30}
    booking = db.session.scalars(select(Booking).limit(1)).first()
    if booking is None:
        user = factories.make_user()
        booking = factories.make_booking(
            user, factories.make_show(factories.make_movie(title=f"Film {SECRET}"))
        )
    facts: dict[str, Any] = {"booking_id": booking.id}
    if kind == "booking_cancelled":
        facts |= {"cancelled": [], "refund_coins": 0, "remaining": [], "sequence": 1}
    return facts


def queue(to: str, kind: str = "booking_confirmation", at: datetime | None = None) -> int:
    facts = _facts(kind)
    with write_transaction():
        message = queue_email(kind=kind, to=to, now=at or utcnow(), **facts)
        db.session.flush()
        return message.id


def fail_for_good(port: int, now: datetime | None = None) -> None:
    """One send pass against a server that refuses gone@… for good."""
    with running(RefusingInbox(), port):
        send_pending(now or utcnow())


def row(message_id: int) -> OutboxMessage:
    db.session.rollback()
    message = db.session.get(OutboxMessage, message_id)
    assert message is not None
    return message


def page(client: FlaskClient, query: str = "") -> tuple[int, str]:
    response = client.get(f"/admin/mail{query}")
    return response.status_code, response.get_data(as_text=True)


def test_admins_see_pending_and_failed_mail_but_never_its_contents(
    backend: str, app: Flask, client: FlaskClient, port: int
) -> None:
    admin_client(client, app)
    with app.app_context():
        failed = queue("gone@example.com")
        waiting = queue("bob@example.com", kind="booking_cancelled")
        fail_for_good(port)  # ann refused for good; bob accepted...
        delivered = waiting
        waiting = queue("cleo@example.com", kind="password_reset")
        send_pending(utcnow())  # ... and nothing listens now: cleo's waits for a retry
        assert (row(failed).status, row(delivered).status) == ("failed", "sent")
        assert row(waiting).status == "pending"
    status, html = page(client)
    assert status == 200
    assert "gone@example.com" in html and "cleo@example.com" in html
    assert "bob@example.com" not in html  # delivered mail is not listed
    assert "booking confirmation" in html and "password reset" in html
    assert "550" in html and "ConnectionRefusedError" in html  # each one's last error
    assert SECRET not in html  # no subject, no body, no link
    assert html.count(">Resend</button>") == 1
    assert f"/admin/mail/{failed}/resend" in html
    assert html.count("@example.com</td>") == 2 and "1 pending" in html and "1 given up" in html
    assert "Mail</a>" in html and 'aria-current="page"' in html

    _, only_failed = page(client, "?status=failed")
    assert "gone@example.com" in only_failed and "cleo@example.com" not in only_failed
    _, by_recipient = page(client, "?q=CLEO")
    assert "cleo@example.com" in by_recipient and "gone@example.com" not in by_recipient
    _, nothing = page(client, "?q=nobody")
    assert "No messages match." in nothing


def test_the_mail_page_is_paged(backend: str, app: Flask, client: FlaskClient) -> None:
    admin_client(client, app)
    with app.app_context():
        for i in range(55):
            queue(f"guest{i:02d}@example.com")
    _, first = page(client)
    _, second = page(client, "?page=" + pager_link(first, "next").split("page=")[1])
    assert first.count("@example.com</td>") == 50 and second.count("@example.com</td>") == 5
    assert "guest54@" in first and "guest00@" in second  # newest first
    assert page(client, "?page=x")[0] == 400


def resend(client: FlaskClient, message_id: int, **kw: Any) -> Any:
    token = csrf_from(client.get("/admin/mail").get_data(as_text=True))
    return client.post(f"/admin/mail/{message_id}/resend", data={"csrf_token": token}, **kw)


def test_resend_queues_a_failed_message_again_audited_and_it_is_delivered(
    backend: str, app: Flask, client: FlaskClient, port: int
) -> None:
    admin_id = admin_client(client, app)
    with app.app_context():
        message_id = queue("gone@example.com")
        fail_for_good(port)
        assert row(message_id).status == "failed"
    assert client.post(f"/admin/mail/{message_id}/resend").status_code == 400  # no CSRF
    response = resend(client, message_id)
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/admin/mail?status=failed")
    assert "is queued again" in client.get(response.headers["Location"]).get_data(as_text=True)
    with app.app_context():
        message = row(message_id)
        assert (message.status, message.attempts, message.failed_at) == ("pending", 0, None)
        assert message.resent_at is not None and message.next_attempt_at <= utcnow()
        audit = db.session.scalars(select(AuditEntry)).one()
        assert (audit.actor_id, audit.action, audit.target_id) == (
            admin_id,
            "mail.resend",
            str(message_id),
        )
        assert audit.before == {"status": "failed", "attempts": 1}
        # The address works again (the customer fixed their mailbox): it is delivered.
        with smtp_server(port) as (inbox, _):
            assert send_pending(utcnow()).sent == 1
        assert [str(m["To"]) for m in inbox.messages] == ["gone@example.com"]
    again = resend(client, message_id)
    assert again.status_code == 409 and "sent already" in again.get_data(as_text=True)
    assert resend(client, 999_999).status_code == 404


def test_a_pending_message_needs_no_resend(backend: str, app: Flask, client: FlaskClient) -> None:
    admin_client(client, app)
    with app.app_context():
        message_id = queue("bob@example.com")
    response = resend(client, message_id)
    assert response.status_code == 409
    assert "still being tried" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(select(AuditEntry)).all() == []


def test_an_expired_reset_link_is_not_resent(
    backend: str, app: Flask, client: FlaskClient, port: int
) -> None:
    admin_client(client, app)
    an_hour_ago = utcnow() - timedelta(hours=1)  # reset links live 30 minutes
    with app.app_context():
        message_id = queue("gone@example.com", kind="password_reset", at=an_hour_ago)
        fail_for_good(port)
    _, html = page(client)
    assert "link expired" in html and ">Resend</button>" not in html
    response = resend(client, message_id)
    assert response.status_code == 409 and "request a new one" in response.get_data(as_text=True)
    with app.app_context():
        assert row(message_id).status == "failed"


def test_a_resent_message_gets_a_new_retry_horizon(
    backend: str, app: Flask, client: FlaskClient, port: int
) -> None:
    admin_client(client, app)
    horizon = timedelta(hours=app.config["MAIL_RETRY_HORIZON_HOURS"])
    long_ago = utcnow() - horizon - timedelta(hours=1)
    with app.app_context():
        message_id = queue("gone@example.com", at=long_ago)
        fail_for_good(port)
    assert resend(client, message_id).status_code == 303
    with app.app_context():
        send_pending(utcnow())  # nothing listens: a failed try, past the first horizon
        message = row(message_id)
        assert (message.status, message.attempts) == ("pending", 1)


# --- flask mail-health -------------------------------------------------------------------


def test_mail_health_is_quiet_and_zero_while_mail_flows(
    backend: str, app: Flask, runner: Any
) -> None:
    with app.app_context():
        queue("ann@example.com")  # queued just now: not stuck
    result = runner.invoke(args=["mail-health"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("mail: 1 pending")
    quiet = runner.invoke(args=["mail-health", "--quiet"])
    assert (quiet.exit_code, quiet.output) == (0, "")


def test_mail_health_fails_when_a_message_waits_too_long(
    backend: str, app: Flask, runner: Any
) -> None:
    with app.app_context():
        queue("ann@example.com", at=utcnow() - timedelta(minutes=45))
    result = runner.invoke(args=["mail-health", "--quiet"])
    assert result.exit_code == 1
    assert "mail stuck: 1 pending, the oldest waiting 45 min" in result.output
    assert "is a sender running?" in result.output  # it is due and nobody took it
    assert runner.invoke(args=["mail-health", "--stuck-minutes", "60"]).exit_code == 0


def test_mail_health_fails_while_a_message_was_given_up_recently(
    backend: str, app: Flask, runner: Any, port: int
) -> None:
    with app.app_context():
        message_id = queue("gone@example.com", at=utcnow() - timedelta(hours=3))
        fail_for_good(port, now=utcnow() - timedelta(hours=2))
    result = runner.invoke(args=["mail-health"])
    assert result.exit_code == 1
    assert f"1 message(s) given up in the last 24 h (ids {message_id})" in result.output
    assert runner.invoke(args=["mail-health", "--failed-hours", "1"]).exit_code == 0


def test_a_resend_wakes_the_web_processs_sender(
    backend: str, database_url: str, tmp_path: Path, port: int
) -> None:
    """With MAIL_SEND_AFTER_COMMIT (the demo) the resent message leaves at once, not at
    the background sender's next poll."""
    app = make_app(database_url, tmp_path, MAIL_PORT=port, MAIL_SEND_AFTER_COMMIT=True)
    sender = background_sender(app)
    assert sender is not None
    try:
        client = app.test_client()
        admin_client(client, app)
        with app.app_context():
            message_id = queue("gone@example.com")
            fail_for_good(port)
        with smtp_server(port) as (inbox, _):
            assert resend(client, message_id).status_code == 303
            deadline = time.monotonic() + 20
            while not inbox.messages and time.monotonic() < deadline:
                time.sleep(0.05)
            assert [str(m["To"]) for m in inbox.messages] == ["gone@example.com"]
            with app.app_context():
                while row(message_id).status != "sent" and time.monotonic() < deadline:
                    time.sleep(0.05)
                assert row(message_id).status == "sent"
    finally:
        sender.stop()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
