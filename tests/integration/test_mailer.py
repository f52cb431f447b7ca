"""The outbox sender against a real SMTP server: retries, backoff, no double sends, MIME."""

from __future__ import annotations

import io
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import PIL.Image
import pytest
import zxingcpp
from aiosmtpd.controller import Controller
from flask import Flask
from sqlalchemy import select

from filmsphere.extensions import db
from filmsphere.models import OutboxMessage
from filmsphere.models.types import utcnow
from filmsphere.services.mailer import background_sender, send_pending
from filmsphere.services.notifications import QrAttachment
from filmsphere.services.outbox import Attachment, queue_email
from filmsphere.services.transaction import set_race_hook, write_transaction

from ..conftest import get_csrf, make_app
from ..support.postgres import free_port
from ..support.smtp import Inbox, smtp_server

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)
ICS = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nEND:VCALENDAR\r\n"


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def app_overrides(port: int) -> dict[str, Any]:
    return {"MAIL_PORT": port, "MAIL_RETRY_BASE_SECONDS": 10, "MAIL_MAX_ATTEMPTS": 3}


class FakeUser:
    full_name = "Ann <b>Example</b>"
    email = "ann@example.com"


def queue(n: int = 1, to: str = "ann@example.com", **kwargs: Any) -> list[int]:
    now = utcnow()
    with write_transaction():
        messages = [
            queue_email(
                kind="verify_email",
                to=to,
                subject=f"Message {i}",
                template="verify_email",
                now=now,
                user=FakeUser(),
                code=f"{i:06d}",
                link="http://127.0.0.1:5000/auth/verify?token=abc",
                minutes=30,
                **kwargs,
            )
            for i in range(n)
        ]
        db.session.flush()
        ids = [m.id for m in messages]
    return ids


def rows() -> list[OutboxMessage]:
    db.session.rollback()
    return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_server_down_then_back_sends_each_message_once(backend: str, ctx: Flask, port: int) -> None:
    queue(2)
    now = utcnow()
    result = send_pending(now)  # nothing listens on the port
    assert (result.sent, result.retrying) == (0, 2)
    for row in rows():
        assert row.status == "pending" and row.attempts == 1
        assert row.last_error and "Connection" in row.last_error
        assert row.next_attempt_at == now + timedelta(seconds=20)  # 10 s * 2^1

    with smtp_server(port) as (inbox, _):
        assert send_pending(now).sent == 0  # backing off: not due yet
        later = now + timedelta(seconds=21)
        assert send_pending(later).sent == 2
        assert send_pending(later).sent == 0
        assert send_pending(later + timedelta(hours=1)).sent == 0
    assert sorted(str(m["Subject"]) for m in inbox.messages) == ["Message 0", "Message 1"]
    assert all(row.status == "sent" and row.sent_at == later for row in rows())


def test_gives_up_after_max_attempts(backend: str, ctx: Flask) -> None:
    queue(1)
    now = utcnow()
    outcomes = []
    for _ in range(3):
        result = send_pending(now)
        outcomes.append((result.retrying, result.failed))
        now += timedelta(hours=1)
    assert outcomes == [(1, 0), (1, 0), (0, 1)]
    (row,) = rows()
    assert row.status == "failed" and row.attempts == 3 and row.last_error


def test_mime_has_alternatives_inline_image_and_attachment(
    backend: str, ctx: Flask, port: int
) -> None:
    queue(
        1,
        attachments=[
            Attachment("qr.png", "image/png", PNG, inline_cid="qr-1@filmsphere"),
            Attachment("show.ics", "text/calendar", ICS),
        ],
    )
    with smtp_server(port) as (inbox, _):
        assert send_pending(utcnow()).sent == 1
    (message,) = inbox.messages
    assert message.get_content_type() == "multipart/mixed"
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    # User text is escaped in the HTML part, kept literal in the text part.
    assert "Ann &lt;b&gt;Example&lt;/b&gt;" in html.get_content()
    assert "Ann <b>Example</b>" in plain.get_content()
    related = next(p for p in message.walk() if p.get_content_type() == "multipart/related")
    image = next(p for p in related.iter_parts() if p.get_content_type() == "image/png")
    assert image["Content-ID"] == "<qr-1@filmsphere>"
    assert image.get_payload(decode=True) == PNG
    ics = next(p for p in message.iter_attachments() if p.get_filename() == "show.ics")
    assert ics.get_content_type() == "text/calendar"
    assert ics.get_payload(decode=True).replace(b"\r\n", b"\n") == ICS.replace(b"\r\n", b"\n")


def test_qr_attachment_is_drawn_at_send_time(backend: str, ctx: Flask, port: int) -> None:
    """A {"qr": code} entry (what booking confirmations store) leaves as a PNG that
    decodes to that code, inline under its Content-ID."""
    code = "FS-test-code-1234"
    queue(
        1,
        attachments=[
            QrAttachment("ticket-A1.png", "image/png", b"", inline_cid="t-1@fs", qr_code=code)
        ],
    )
    (row,) = rows()
    assert row.attachments == [
        {
            "filename": "ticket-A1.png",
            "content_type": "image/png",
            "qr": code,
            "inline_cid": "t-1@fs",
        }
    ]
    with smtp_server(port) as (inbox, _):
        assert send_pending(utcnow()).sent == 1
    (message,) = inbox.messages
    related = next(p for p in message.walk() if p.get_content_type() == "multipart/related")
    image = next(p for p in related.iter_parts() if p.get_content_type() == "image/png")
    assert image["Content-ID"] == "<t-1@fs>"
    data = image.get_payload(decode=True)
    assert data.startswith(b"\x89PNG")
    [decoded] = zxingcpp.read_barcodes(PIL.Image.open(io.BytesIO(data)))
    assert decoded.text == code


def test_console_backend_prints(
    backend: str, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app(database_url, tmp_path, MAIL_BACKEND="console")
    with app.app_context():
        queue(1, to="cleo@example.com")
        assert send_pending(utcnow()).sent == 1
        assert rows()[0].status == "sent"
    out = capsys.readouterr().out
    assert "To: cleo@example.com" in out and "Subject: Message 0" in out
    assert "000000" in out


def test_send_mail_command(backend: str, app: Flask, runner: Any, port: int) -> None:
    with app.app_context():
        queue(1)
    with smtp_server(port) as (inbox, _):
        result = runner.invoke(args=["send-mail"])
        assert result.exit_code == 0 and "1 sent" in result.output
        assert "0 sent" in runner.invoke(args=["send-mail"]).output
    assert len(inbox.messages) == 1


def _race_two_senders(app: Flask, port: int) -> tuple[list[int], list[str]]:
    """Both senders pass the claim's SELECT together (a barrier right after it)."""
    with app.app_context():
        queue(6)
    barrier = threading.Barrier(2, timeout=10)
    set_race_hook("mailer.after_claim_select", barrier.wait)
    results: list[int] = []
    errors: list[BaseException] = []

    def sender() -> None:
        try:
            with app.app_context():
                results.append(send_pending(utcnow()).sent)
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    try:
        with smtp_server(port) as (inbox, _):
            threads = [threading.Thread(target=sender) for _ in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
    finally:
        set_race_hook("mailer.after_claim_select", None)
    assert not errors
    return sorted(results), sorted(str(m["Subject"]) for m in inbox.messages)


@pytest.mark.postgres_only
def test_two_senders_at_once_send_each_message_once(backend: str, app: Flask, port: int) -> None:
    """SKIP LOCKED gives every due row to exactly one of two concurrent senders."""
    results, subjects = _race_two_senders(app, port)
    assert results == [0, 6]
    assert subjects == [f"Message {i}" for i in range(6)]


@pytest.mark.postgres_only
def test_negative_control_without_the_claim_lock_messages_go_twice(
    backend: str, app: Flask, port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the lock off, the race above really happens: the test can fail."""
    from filmsphere.services import mailer

    monkeypatch.setattr(mailer, "CLAIM_WITH_SKIP_LOCKED", False)
    results, subjects = _race_two_senders(app, port)
    assert results == [6, 6]
    assert len(subjects) == 12


def test_commit_with_mail_wakes_the_background_sender(
    backend: str, database_url: str, tmp_path: Path, port: int
) -> None:
    """MAIL_SEND_AFTER_COMMIT: a registration's verification mail leaves without cron."""
    app = make_app(database_url, tmp_path, MAIL_PORT=port, MAIL_SEND_AFTER_COMMIT=True)
    sender = background_sender(app)
    assert sender is not None
    try:
        _register_and_wait(app, port)
    finally:
        # The thread must not outlive the test: it would send other tests' outbox rows.
        sender.stop()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _register_and_wait(app: Flask, port: int) -> None:
    with smtp_server(port) as (inbox, _):
        client = app.test_client()
        token = get_csrf(client, "/auth/register")
        response = client.post(
            "/auth/register",
            data={
                "email": "dan@example.com",
                "username": "dan",
                "full_name": "Dan",
                "password": "Tangerine-Lamp-42",
                "csrf_token": token,
            },
        )
        assert response.status_code == 303
        deadline = time.monotonic() + 20
        while not inbox.to("dan@example.com") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(inbox.to("dan@example.com")) == 1
    with app.app_context():
        # Let the sender thread finish marking the row before the test tears down.
        deadline = time.monotonic() + 20
        while rows()[0].status != "sent" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert rows()[0].status == "sent"


class RefusingInbox(Inbox):
    """An SMTP server that refuses one recipient for good (550)."""

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address.startswith("gone@"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_a_refused_recipient_fails_at_once_and_others_still_go(
    backend: str, ctx: Flask, port: int
) -> None:
    queue(1, to="gone@example.com")
    queue(1, to="ann@example.com")
    inbox = RefusingInbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        result = send_pending(utcnow())
    finally:
        controller.stop()
    assert (result.sent, result.failed, result.retrying) == (1, 1, 0)
    refused, delivered = rows()
    assert refused.status == "failed" and "gone@example.com" in (refused.last_error or "")
    assert delivered.status == "sent"
    assert [str(m["To"]) for m in inbox.messages] == ["ann@example.com"]


def test_batches_continue_until_nothing_is_due(backend: str, ctx: Flask, port: int) -> None:
    queue(5)
    with smtp_server(port) as (inbox, _):
        assert send_pending(utcnow(), limit=2).sent == 5
    assert len(inbox.messages) == 5
