"""The outbox sender against a real SMTP server: retries, backoff, no double sends, MIME."""

from __future__ import annotations

import base64
import io
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import PIL.Image
import pytest
import zxingcpp
from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from filmsphere.extensions import db
from filmsphere.models import OutboxMessage
from filmsphere.models.types import utcnow
from filmsphere.services.mail.mailer import background_sender, retry_delay, send_pending
from filmsphere.services.mail.outbox import queue_email
from filmsphere.services.transaction import set_race_hook, write_transaction

from ..conftest import get_csrf, make_app
from ..support.postgres import free_port
from ..support.smtp import (
    GatedInbox,
    Inbox,
    RefusingInbox,
    SlowInbox,
    running,
    smtp_server,
    subject_of,
)
from ..support.tcp_proxy import TcpProxy

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
    return {"MAIL_PORT": port, "MAIL_RETRY_BASE_SECONDS": 10, "MAIL_RETRY_MAX_SECONDS": 3600}


SUBJECT = "Your FilmSphere code: "


def queue(n: int = 1, to: str = "ann@example.com") -> list[int]:
    """Queue n verification emails through the service path; their codes, and so the
    ends of their subjects, are "Message 0", "Message 1", …"""
    now = utcnow()
    with write_transaction():
        messages = [
            queue_email(
                kind="verify_email",
                to=to,
                now=now,
                name="Ann <b>Example</b>",
                code=f"Message {i}",
                link="http://127.0.0.1:5000/auth/verify?token=abc",
                minutes=30,
            )
            for i in range(n)
        ]
        db.session.flush()
        ids = [m.id for m in messages]
    return ids


def label(message: Any) -> str:
    """Which of queue()'s messages a received one is: "Message 0", …"""
    return str(message["Subject"]).removeprefix(SUBJECT)


def labels(messages: list[Any]) -> list[str]:
    return [label(m) for m in messages]


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
    assert sorted(labels(inbox.messages)) == ["Message 0", "Message 1"]
    assert all(row.status == "sent" and row.sent_at == later for row in rows())


def fail_until(now: datetime, end: datetime) -> list[timedelta]:
    """Let the one queued message fail (nothing listens) at each of its tries until `end`;
    returns the waits between tries."""
    waits = []
    while now < end:
        assert send_pending(now).sent == 0
        (row,) = rows()
        if row.status != "pending":
            break
        waits.append(row.next_attempt_at - now)
        now = row.next_attempt_at
    return waits


def test_a_failing_message_is_retried_at_a_capped_interval_until_the_horizon(
    backend: str, ctx: Flask
) -> None:
    """No "max attempts": waits double from the base up to the cap and the tries go on
    until MAIL_RETRY_HORIZON_HOURS; the first try after that gives the message up."""
    queue(1)
    queued = rows()[0].created_at
    horizon = queued + timedelta(hours=ctx.config["MAIL_RETRY_HORIZON_HOURS"])
    waits = fail_until(queued, horizon + timedelta(days=1))
    cap = timedelta(seconds=ctx.config["MAIL_RETRY_MAX_SECONDS"])  # 1 h in this module
    assert waits[:3] == [timedelta(seconds=20), timedelta(seconds=40), timedelta(seconds=80)]
    assert max(waits) == cap and waits[-1] == cap
    assert waits == sorted(waits)
    (row,) = rows()
    assert row.status == "failed" and row.attempts == len(waits) + 1
    assert row.failed_at is not None and horizon <= row.failed_at < horizon + cap
    assert row.last_error and "Connection" in row.last_error


def test_mail_is_delivered_when_the_server_comes_back_after_two_days(
    backend: str, ctx: Flask, port: int
) -> None:
    """The issue's case: confirmations were given up after about two hours of retries."""
    queue(1)
    start = rows()[0].created_at
    fail_until(start, start + timedelta(days=2))
    (row,) = rows()
    assert row.status == "pending" and row.attempts > 40
    with smtp_server(port) as (inbox, _):
        assert send_pending(row.next_attempt_at).sent == 1
    assert labels(inbox.messages) == ["Message 0"]
    assert rows()[0].status == "sent"


def test_retry_delay_never_overflows() -> None:
    """A week of tries every 15 minutes is ~700 attempts: 2^700 seconds must not reach
    timedelta."""
    config = {"MAIL_RETRY_BASE_SECONDS": 30, "MAIL_RETRY_MAX_SECONDS": 900}
    assert retry_delay(1, config) == timedelta(seconds=60)
    assert retry_delay(700, config) == timedelta(seconds=900)


def queue_as_written(attachments: list[dict[str, str]]) -> None:
    """A message as versions before rendering moved to the sender left it in the outbox:
    already rendered (the migration keeps its columns as payload {"rendered": …})."""
    now = utcnow()
    rendered = {
        "subject": "Message 0",
        "text": "Hello Ann,\nyour code is 123456.",
        "html": '<p>Hello Ann, your code is 123456.</p><img src="cid:qr-1@filmsphere">',
        "attachments": attachments,
    }
    with write_transaction() as session:
        session.add(
            OutboxMessage(
                kind="verify_email",
                to_address="ann@example.com",
                payload={"rendered": rendered},
                status="pending",
                next_attempt_at=now,
                created_at=now,
            )
        )


def test_a_message_written_before_the_upgrade_leaves_as_written(
    backend: str, ctx: Flask, port: int
) -> None:
    """Text and HTML alternatives, the image inline in a multipart/related with the HTML,
    the calendar file attached: the bytes stored are the bytes sent."""
    queue_as_written(
        [
            {
                "filename": "qr.png",
                "content_type": "image/png",
                "data_b64": base64.b64encode(PNG).decode(),
                "inline_cid": "qr-1@filmsphere",
            },
            {
                "filename": "show.ics",
                "content_type": "text/calendar",
                "data_b64": base64.b64encode(ICS).decode(),
            },
        ]
    )
    with smtp_server(port) as (inbox, _):
        assert send_pending(utcnow()).sent == 1
    (message,) = inbox.messages
    assert message["Subject"] == "Message 0" and message["To"] == "ann@example.com"
    assert message.get_content_type() == "multipart/mixed"
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    assert plain.get_content().replace("\r\n", "\n").strip() == "Hello Ann,\nyour code is 123456."
    assert 'src="cid:qr-1@filmsphere"' in html.get_content()
    related = next(p for p in message.walk() if p.get_content_type() == "multipart/related")
    image = next(p for p in related.iter_parts() if p.get_content_type() == "image/png")
    assert image["Content-ID"] == "<qr-1@filmsphere>"
    assert image.get_payload(decode=True) == PNG
    ics = next(p for p in message.iter_attachments() if p.get_filename() == "show.ics")
    assert ics.get_content_type() == "text/calendar"
    assert ics.get_payload(decode=True).replace(b"\r\n", b"\n") == ICS.replace(b"\r\n", b"\n")


def test_a_stored_qr_code_of_an_old_message_is_drawn_at_send_time(
    backend: str, ctx: Flask, port: int
) -> None:
    """A {"qr": code} attachment (what confirmations stored before the upgrade) leaves as a
    PNG that decodes to that code, inline under its Content-ID."""
    code = "FS-test-code-1234"
    queue_as_written(
        [
            {
                "filename": "ticket-A1.png",
                "content_type": "image/png",
                "qr": code,
                "inline_cid": "qr-1@filmsphere",
            }
        ]
    )
    with smtp_server(port) as (inbox, _):
        assert send_pending(utcnow()).sent == 1
    (message,) = inbox.messages
    related = next(p for p in message.walk() if p.get_content_type() == "multipart/related")
    image = next(p for p in related.iter_parts() if p.get_content_type() == "image/png")
    assert image["Content-ID"] == "<qr-1@filmsphere>"
    data = image.get_payload(decode=True)
    assert data.startswith(b"\x89PNG")
    [decoded] = zxingcpp.read_barcodes(PIL.Image.open(io.BytesIO(data)))
    assert decoded.text == code


def test_user_text_is_escaped_in_html_and_literal_in_text(
    backend: str, ctx: Flask, port: int
) -> None:
    """Rendered at send time: the customer's name, as given, in both parts."""
    queue(1)
    with smtp_server(port) as (inbox, _):
        assert send_pending(utcnow()).sent == 1
    (message,) = inbox.messages
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    assert "Ann &lt;b&gt;Example&lt;/b&gt;" in html.get_content()
    assert "Ann <b>Example</b>" in plain.get_content()
    assert "Message 0" in plain.get_content() and "Message 0" in html.get_content()


def test_console_backend_prints(
    backend: str, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app = make_app(database_url, tmp_path, MAIL_BACKEND="console")
    with app.app_context():
        queue(1, to="cleo@example.com")
        assert send_pending(utcnow()).sent == 1
        assert rows()[0].status == "sent"
    out = capsys.readouterr().out
    assert "To: cleo@example.com" in out and f"Subject: {SUBJECT}Message 0" in out
    assert "\n    Message 0\n" in out  # the text body, with the code


def test_send_mail_command(backend: str, app: Flask, runner: Any, port: int) -> None:
    with app.app_context():
        queue(1)
    with smtp_server(port) as (inbox, _):
        result = runner.invoke(args=["send-mail"])
        assert result.exit_code == 0 and "1 sent" in result.output
        assert "0 sent" in runner.invoke(args=["send-mail"]).output
    assert len(inbox.messages) == 1


def test_send_mail_with_processes_sends_each_message_once(
    backend: str, app: Flask, runner: Any, port: int
) -> None:
    """Two forked senders share a backlog in small batches: every message leaves once and
    the command prints their sums."""
    app.config["MAIL_BATCH_SIZE"] = 3
    with app.app_context():
        queue(24)
    with smtp_server(port) as (inbox, _):
        result = runner.invoke(args=["send-mail", "--processes", "2"])
        assert result.exit_code == 0, result.output
        assert "mail: 24 sent, 0 will be retried, 0 failed for good" in result.output
        assert "0 sent" in runner.invoke(args=["send-mail", "--processes", "2"]).output
    assert sorted(labels(inbox.messages)) == sorted(f"Message {i}" for i in range(24))
    with app.app_context():
        assert {r.status for r in rows()} == {"sent"}
    watching = runner.invoke(args=["send-mail", "--watch", "--processes", "2"])
    assert watching.exit_code == 2 and "--processes is for one pass" in watching.output


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
    return sorted(results), sorted(labels(inbox.messages))


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
    from filmsphere.services.mail import mailer

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


def test_a_refused_recipient_fails_at_once_and_others_still_go(
    backend: str, ctx: Flask, port: int
) -> None:
    queue(1, to="gone@example.com")
    queue(1, to="ann@example.com")
    with running(RefusingInbox(), port) as inbox:
        result = send_pending(utcnow())
    assert (result.sent, result.failed, result.retrying) == (1, 1, 0)
    refused, delivered = rows()
    assert refused.status == "failed" and "gone@example.com" in (refused.last_error or "")
    assert delivered.status == "sent"
    assert [str(m["To"]) for m in inbox.messages] == ["ann@example.com"]


class DataRefusingInbox(Inbox):
    """Refuses message "Message 0" for good (554) and "Message 1" for now (451)."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        subject = subject_of(envelope)
        if subject.endswith("Message 0"):
            return "554 5.6.0 Message content rejected"
        if subject.endswith("Message 1"):
            return "451 4.3.0 Try again later"
        return await super().handle_DATA(server, session, envelope)


def test_a_permanent_refusal_of_the_message_fails_it_and_a_temporary_one_retries(
    backend: str, ctx: Flask, port: int
) -> None:
    queue(3)
    with running(DataRefusingInbox(), port) as inbox:
        result = send_pending(utcnow())
    assert (result.sent, result.retrying, result.failed) == (1, 1, 1)
    refused, later, delivered = rows()
    assert refused.status == "failed" and "554" in (refused.last_error or "")
    assert refused.failed_at is not None
    assert later.status == "pending" and "451" in (later.last_error or "")
    assert delivered.status == "sent"
    assert labels(inbox.messages) == ["Message 2"]


def test_batches_continue_until_nothing_is_due(backend: str, ctx: Flask, port: int) -> None:
    queue(5)
    with smtp_server(port) as (inbox, _):
        assert send_pending(utcnow(), limit=2).sent == 5
    assert len(inbox.messages) == 5


# --- leases: a live sender keeps its claim, a slow batch included ---------------------------

SHORT_LEASE = {"MAIL_LEASE_SECONDS": 3, "MAIL_TIMEOUT_SECONDS": 1.5}


def _slow_batch_with_a_second_sender(
    database_url: str, tmp_path: Path, port: int
) -> tuple[list[str], dict[str, int]]:
    """Sender A claims ten messages that a slow server (0.5 s each) takes 5 s to accept,
    longer than A's 3 s lease; sender B polls the outbox all the while. Returns the
    subjects received and what each sender counted as sent."""
    app = make_app(database_url, tmp_path, MAIL_PORT=port, **SHORT_LEASE)
    with app.app_context():
        queue(10)
    sent: dict[str, int] = {}
    errors: list[BaseException] = []
    a_done = threading.Event()

    def run(name: str, repeat: bool) -> None:
        try:
            with app.app_context():
                total = send_pending(utcnow()).sent
                while repeat and not a_done.is_set():
                    time.sleep(0.1)
                    total += send_pending(utcnow()).sent
                sent[name] = total
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    try:
        with running(SlowInbox(delay=0.5), port) as inbox:
            a = threading.Thread(target=run, args=("A", False))
            a.start()
            assert inbox.first.wait(10)  # A has claimed the batch and is sending
            b = threading.Thread(target=run, args=("B", True))
            b.start()
            a.join(60)
            a_done.set()
            b.join(60)
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    assert not errors, errors
    return labels(inbox.messages), sent


@pytest.mark.postgres_only
def test_a_live_senders_lease_outlasts_a_slow_batch(
    backend: str, ctx: Flask, database_url: str, tmp_path: Path, port: int
) -> None:
    """A renews its lease while it works, so B never takes (and sends again) a message A
    still holds: every message arrives once, all of them sent by A."""
    received, sent = _slow_batch_with_a_second_sender(database_url, tmp_path, port)
    assert sorted(received) == sorted(f"Message {i}" for i in range(10))
    assert sent == {"A": 10, "B": 0}
    assert all(r.status == "sent" and r.claimed_by is None for r in rows())


@pytest.mark.postgres_only
def test_negative_control_without_kept_leases_a_slow_batch_goes_twice(
    backend: str,
    ctx: Flask,
    database_url: str,
    tmp_path: Path,
    port: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With renewals (and the lease-bound cut-off) off, A's lease runs out mid-batch and
    B sends A's last messages as well: the test above can fail."""
    from filmsphere.services.mail import mailer

    monkeypatch.setattr(mailer, "KEEP_LEASES", False)
    received, sent = _slow_batch_with_a_second_sender(database_url, tmp_path, port)
    assert len(received) > 10 and sent["B"] > 0
    assert set(received) == {f"Message {i}" for i in range(10)}


# --- the database goes away while a message is with the SMTP server --------------------------


def _database_outage_mid_send(
    database_url: str, tmp_path: Path, port: int
) -> tuple[GatedInbox, list[BaseException]]:
    """A sender (through a proxy to PostgreSQL) is sending "Message 1" of three when the
    database goes away; the SMTP server then accepts the message; the database comes back
    a second later. Returns the inbox and what the sender raised."""
    url = make_url(database_url)
    assert url.port is not None
    proxy = TcpProxy(url.port)
    proxy.up()
    proxied = url.set(port=proxy.port).render_as_string(hide_password=False)
    app = make_app(proxied, tmp_path / "sender", MAIL_PORT=port, MAIL_LEASE_SECONDS=10)
    with app.app_context():
        queue(3)
    raised: list[BaseException] = []

    def sender() -> None:
        with app.app_context():
            try:
                send_pending(utcnow())
            except BaseException as exc:  # noqa: BLE001
                raised.append(exc)
            finally:
                db.session.remove()

    inbox = GatedInbox(hold="Message 1")
    try:
        with running(inbox, port):
            thread = threading.Thread(target=sender)
            thread.start()
            assert inbox.in_flight.wait(10)
            proxy.down()  # PostgreSQL restarts: every connection is gone
            inbox.gate.set()  # ... and the SMTP server accepts the message meanwhile
            time.sleep(1.0)
            proxy.up()
            thread.join(30)
            assert not thread.is_alive()
    finally:
        inbox.gate.set()
        proxy.down()
        with app.app_context():
            db.engine.dispose()
    return inbox, raised


@pytest.mark.postgres_only
def test_a_database_restart_mid_send_does_not_send_that_message_twice(
    backend: str, ctx: Flask, database_url: str, tmp_path: Path, port: int
) -> None:
    """The issue's duplicate: the sender keeps trying to mark the accepted message sent
    while its lease holds, so nobody sends it again once the database is back."""
    inbox, raised = _database_outage_mid_send(database_url, tmp_path, port)
    assert raised == []
    assert all(r.status == "sent" for r in rows())
    with smtp_server(port) as (later, _):
        assert send_pending(utcnow() + timedelta(hours=1)).sent == 0
    assert sorted(labels(inbox.messages)) == [f"Message {i}" for i in range(3)]
    assert later.messages == []


@pytest.mark.postgres_only
def test_negative_control_a_sent_message_left_unrecorded_is_sent_again(
    backend: str,
    ctx: Flask,
    database_url: str,
    tmp_path: Path,
    port: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without recording through the outage the pass ends with the database error, the
    accepted message stays pending under its lease, and the next sender sends it again:
    the one duplicate the issue saw."""
    from filmsphere.services.mail import mailer

    monkeypatch.setattr(mailer, "RECORD_SENT_THROUGH_OUTAGES", False)
    inbox, raised = _database_outage_mid_send(database_url, tmp_path, port)
    assert len(raised) == 1 and isinstance(raised[0], OperationalError)
    assert [r.status for r in rows()] == ["sent", "pending", "pending"]
    with smtp_server(port) as (later, _):
        assert send_pending(utcnow() + timedelta(seconds=11)).sent == 2  # lease over
    delivered = labels([*inbox.messages, *later.messages])
    assert delivered.count("Message 1") == 2


@pytest.mark.parametrize("keep_leases", [True, False], ids=["kept", "negative-control"])
def test_a_sender_renews_its_lease_and_never_sends_a_row_it_lost(
    backend: str,
    database_url: str,
    tmp_path: Path,
    port: int,
    keep_leases: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The sender stalls after its first message past half its 2 s lease (as a paused
    process would) while another sender takes "Message 2": it renews the rest before going
    on, learns that row is gone, and sends the others only. Without kept leases it sends
    the lost row as well."""
    from filmsphere.services.mail import mailer

    monkeypatch.setattr(mailer, "KEEP_LEASES", keep_leases)
    app = make_app(
        database_url, tmp_path, MAIL_PORT=port, MAIL_LEASE_SECONDS=2, MAIL_TIMEOUT_SECONDS=1
    )
    stalled: list[bool] = []

    def stall_while_another_sender_takes_a_row() -> None:
        if stalled:
            return
        stalled.append(True)
        time.sleep(1.2)
        with db.engine.begin() as connection:
            connection.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == ids[2])
                .values(
                    claimed_by="another-sender", next_attempt_at=utcnow() + timedelta(minutes=1)
                )
            )

    set_race_hook("mailer.before_mark_sent", stall_while_another_sender_takes_a_row)
    try:
        with app.app_context():
            ids = queue(4)
            with smtp_server(port) as (inbox, _):
                result = send_pending(utcnow())
            states = [(r.payload["code"], r.status, r.claimed_by) for r in rows()]
            db.session.remove()
            db.engine.dispose()
    finally:
        set_race_hook("mailer.before_mark_sent", None)
    received = sorted(labels(inbox.messages))
    if keep_leases:
        assert received == ["Message 0", "Message 1", "Message 3"] and result.sent == 3
        assert states[2] == ("Message 2", "pending", "another-sender")
    else:
        assert received == [f"Message {i}" for i in range(4)]


@pytest.mark.postgres_only
def test_marks_skip_the_wal_flush_on_their_own_connection_only(
    backend: str, ctx: Flask, port: int
) -> None:
    """The sender's marks commit with synchronous_commit off (a lost mark only sends a
    message again); that connection is discarded after the run, so no pooled connection
    (a checkout's) ever commits without waiting for its WAL flush."""
    queue(3)
    pool = db.engine.pool
    with smtp_server(port) as (inbox, _):
        assert send_pending(utcnow()).sent == 3
    assert len(inbox.messages) == 3
    connections = [db.engine.connect() for _ in range(pool.size())]
    try:
        # Set in a session, the setting's source says so (whatever the server default).
        sources = {
            c.exec_driver_sql(
                "SELECT source FROM pg_settings WHERE name = 'synchronous_commit'"
            ).scalar()
            for c in connections
        }
    finally:
        for connection in connections:
            connection.close()
    assert "session" not in sources
