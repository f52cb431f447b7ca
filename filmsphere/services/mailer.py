"""Send the email outbox: claim due rows under a lease, send them, record the outcome.

Delivery is at-least-once. A row is claimed in a short transaction that moves its
next_attempt_at forward by MAIL_LEASE_SECONDS (PostgreSQL: SELECT … FOR UPDATE SKIP LOCKED,
so concurrent senders take different rows; SQLite: BEGIN IMMEDIATE serialises the claim).
While the lease runs no other sender sees the row as due. After the SMTP server accepted
the message, a second short transaction marks it sent. If the process dies between those
two steps, the lease runs out and the message is sent again: a duplicate is possible,
a lost message is not.

The web process also runs a daemon thread that is woken after any commit that added
outbox rows (SQLAlchemy after_flush/after_commit events), so mail leaves at once without
ever being sent from a request thread. `flask send-mail` (cron) catches anything left.
In production `flask send-mail --watch` runs the same send_pending in its own (niced)
process instead, and the web workers leave MAIL_SEND_AFTER_COMMIT off.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import smtplib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any

from flask import Flask, current_app, has_app_context, has_request_context
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from ..extensions import db
from ..models import OutboxMessage
from ..models.types import utcnow
from .qr import qr_png
from .transaction import is_postgres, race_point, write_transaction

log = logging.getLogger(__name__)

# Tests switch this off for a negative control (two senders then send a row twice).
CLAIM_WITH_SKIP_LOCKED = True


@dataclass
class SendResult:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"mail: {self.sent} sent, {self.retrying} will be retried, "
            f"{self.failed} failed for good"
        )


# --- MIME -------------------------------------------------------------------------------


def build_mime(message: OutboxMessage, sender: str) -> EmailMessage:
    """multipart/mixed[ alternative[ text, related[ html, inline images ] ], attachments ].

    Built with the standard library's email API because Flask-Mail's Message has no
    multipart/related, which inline images (Content-ID) need to show in every client.
    """
    mime = EmailMessage()
    mime["Subject"] = message.subject
    mime["From"] = sender
    mime["To"] = message.to_address
    mime["Date"] = formatdate(localtime=False)
    domain = parseaddr(sender)[1].rpartition("@")[2] or None
    mime["Message-ID"] = make_msgid(idstring=f"outbox{message.id}", domain=domain)
    mime.set_content(message.body_text)
    attachments = message.attachments or []
    if message.body_html:
        mime.add_alternative(message.body_html, subtype="html")
        html_part = mime.get_body(preferencelist=("html",))
        assert isinstance(html_part, EmailMessage)
        for item in attachments:
            if item.get("inline_cid"):
                maintype, subtype = item["content_type"].split("/", 1)
                html_part.add_related(
                    attachment_data(item),
                    maintype=maintype,
                    subtype=subtype,
                    cid=f"<{item['inline_cid']}>",
                    filename=item["filename"],
                    disposition="inline",
                )
    for item in attachments:
        if item.get("inline_cid") and message.body_html:
            continue
        maintype, subtype = item["content_type"].split("/", 1)
        data = attachment_data(item)
        if maintype == "text":
            mime.add_attachment(data.decode("utf-8"), subtype=subtype, filename=item["filename"])
        else:
            mime.add_attachment(data, maintype=maintype, subtype=subtype, filename=item["filename"])
    return mime


def attachment_data(item: dict[str, str]) -> bytes:
    """An outbox attachment's bytes: stored base64, or a ticket QR ({"qr": code}) drawn as
    a PNG now, at send time, rather than inside the transaction that queued the message."""
    if "qr" in item:
        return qr_png(item["qr"])
    return base64.b64decode(item["data_b64"])


# --- transports -------------------------------------------------------------------------


class ServerUnavailable(Exception):
    """The SMTP server can't be reached or refused the session (connect, TLS, login)."""


class SmtpTransport:
    """One SMTP connection for a batch, opened lazily with Flask-Mail's settings
    (MAIL_SERVER, MAIL_PORT, MAIL_USE_TLS/SSL, MAIL_USERNAME/PASSWORD) plus a timeout,
    which Flask-Mail's own Connection doesn't set."""

    def __init__(self, app: Flask) -> None:
        self.state = app.extensions["mail"]
        self.timeout = int(app.config.get("MAIL_TIMEOUT_SECONDS", 30))
        self.host: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        s = self.state
        host: smtplib.SMTP
        if s.use_ssl:
            host = smtplib.SMTP_SSL(s.server, s.port, timeout=self.timeout)
        else:
            host = smtplib.SMTP(s.server, s.port, timeout=self.timeout)
        if s.use_tls:
            host.starttls()
        if s.username and s.password:
            host.login(s.username, s.password)
        return host

    def send(self, mime: EmailMessage) -> None:
        """Hand one message to the server. Raises ServerUnavailable when the connection
        can't be made or breaks, smtplib errors for a refusal of this message."""
        if self.host is None:
            try:
                self.host = self._connect()
            except OSError as exc:  # smtplib.SMTPException is an OSError too
                raise ServerUnavailable(f"{type(exc).__name__}: {exc}") from exc
        try:
            self.host.send_message(mime)
        except smtplib.SMTPServerDisconnected as exc:
            self.close()
            raise ServerUnavailable(f"{type(exc).__name__}: {exc}") from exc
        except smtplib.SMTPException:
            raise
        except OSError as exc:  # reset, timeout: the connection is gone
            self.close()
            raise ServerUnavailable(f"{type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        if self.host is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self.host.quit()
            self.host = None


class ConsoleTransport:
    """The demo: print the message (subject, recipient, text body) to stdout."""

    def send(self, mime: EmailMessage) -> None:
        text_part = mime.get_body(preferencelist=("plain",))
        text = text_part.get_content() if text_part is not None else ""
        names = [
            part.get_filename()
            for part in mime.walk()
            if part.get_filename() and part.get_content_disposition() in ("attachment", "inline")
        ]
        lines = [
            "=" * 72,
            f"To: {mime['To']}",
            f"Subject: {mime['Subject']}",
            *([f"Attachments: {', '.join(str(n) for n in names)}"] if names else []),
            "-" * 72,
            text.rstrip(),
            "=" * 72,
        ]
        print("\n".join(lines), flush=True)

    def close(self) -> None:
        pass


# --- sending ------------------------------------------------------------------------------


def _claim(now: datetime, limit: int, lease_until: datetime, after_id: int) -> list[int]:
    """Take up to `limit` due rows (ids above `after_id`) for this sender by moving their
    next_attempt_at to the lease end, in one short transaction. Returns ids in order."""
    with write_transaction() as session:
        query = (
            select(OutboxMessage.id)
            .where(
                OutboxMessage.status == "pending",
                OutboxMessage.next_attempt_at <= now,
                OutboxMessage.id > after_id,
            )
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
        if is_postgres() and CLAIM_WITH_SKIP_LOCKED:
            query = query.with_for_update(skip_locked=True)
        ids = list(session.scalars(query))
        race_point("mailer.after_claim_select")
        if ids:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids))
                .values(next_attempt_at=lease_until)
            )
    return ids


def _release(ids: list[int], lease_until: datetime, now: datetime) -> None:
    """Hand claimed but unsent rows back (due at `now`), so the next sender takes them at
    once instead of after the lease. Rows no longer under this sender's lease are left."""
    with write_transaction() as session:
        session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id.in_(ids),
                OutboxMessage.status == "pending",
                OutboxMessage.next_attempt_at == lease_until,
            )
            .values(next_attempt_at=now)
        )


def _record(message_id: int, error: str | None, now: datetime, permanent: bool = False) -> str:
    """Record one send outcome under the row lock; returns 'sent', 'retrying' or 'failed'.
    A permanent error (every recipient refused with 5xx) fails the message at once."""
    config = current_app.config
    with write_transaction() as session:
        message = session.get(OutboxMessage, message_id, with_for_update=True)
        if message is None or message.status != "pending":
            return "sent" if message is not None and message.status == "sent" else "failed"
        if error is None:
            message.status = "sent"
            message.sent_at = now
            message.last_error = None
            return "sent"
        message.attempts += 1
        message.last_error = error[:2000]
        if permanent or message.attempts >= int(config["MAIL_MAX_ATTEMPTS"]):
            message.status = "failed"
            return "failed"
        delay = int(config["MAIL_RETRY_BASE_SECONDS"]) * 2**message.attempts
        message.next_attempt_at = now + timedelta(seconds=delay)
        return "retrying"


def send_pending(
    now: datetime, limit: int | None = None, should_stop: Callable[[], bool] | None = None
) -> SendResult:
    """Send every due pending message (status pending, next_attempt_at <= now).

    Each message is claimed under a lease before sending and marked sent right after the
    server accepts it, so two senders (cron and the web thread, or two cron runs) never
    send one message twice in normal operation. A failure adds one attempt and backs off
    MAIL_RETRY_BASE_SECONDS * 2^attempts; after MAIL_MAX_ATTEMPTS the status is 'failed'.
    Commits its own short transactions; never raises for a sending failure (a database
    error does propagate). `should_stop` is asked before each message: once it says yes,
    the run ends and the rest of its claimed rows are released for the next sender.
    """
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    config = app.config
    batch = limit or int(config.get("MAIL_BATCH_SIZE", 50))
    lease_until = now + timedelta(seconds=int(config.get("MAIL_LEASE_SECONDS", 300)))
    sender = str(config["MAIL_DEFAULT_SENDER"])
    transport: SmtpTransport | ConsoleTransport = (
        ConsoleTransport() if config["MAIL_BACKEND"] == "console" else SmtpTransport(app)
    )
    result = SendResult()
    last_id = 0  # each run passes over a row at most once, even if it is due again
    stopping = should_stop or (lambda: False)
    try:
        while not stopping():
            ids = _claim(now, batch, lease_until, last_id)
            if not ids:
                break
            last_id = ids[-1]
            # Once the server can't be reached, the rest of the batch isn't tried (each
            # would wait for the same timeout); it gets the same error and backs off.
            unreachable: str | None = None
            for position, message_id in enumerate(ids):
                if stopping():
                    _release(ids[position:], lease_until, now)
                    break
                message = db.session.get(OutboxMessage, message_id)
                if message is None:
                    continue
                error: str | None = unreachable
                permanent = False
                if error is None:
                    try:
                        mime = build_mime(message, sender)
                        db.session.rollback()  # no transaction stays open during SMTP
                        transport.send(mime)
                    except ServerUnavailable as exc:
                        error = unreachable = str(exc)
                    except smtplib.SMTPRecipientsRefused as exc:
                        error = f"recipient refused: {exc.recipients}"
                        permanent = all(code >= 500 for code, _ in exc.recipients.values())
                    except (smtplib.SMTPException, ValueError, KeyError) as exc:
                        error = f"{type(exc).__name__}: {exc}"
                if error is not None:
                    result.errors.append(error)
                    log.warning("outbox message %s not sent: %s", message_id, error)
                race_point("mailer.before_mark_sent")
                outcome = _record(message_id, error, now, permanent=permanent)
                if outcome == "sent":
                    result.sent += 1
                elif outcome == "retrying":
                    result.retrying += 1
                else:
                    result.failed += 1
            if len(ids) < batch:
                break
    finally:
        transport.close()
    return result


# --- the background sender thread --------------------------------------------------------


class BackgroundSender:
    """A daemon thread that runs send_pending in its own app context when woken (after
    a commit that added outbox rows) and every MAIL_SENDER_POLL_SECONDS while running.
    Started lazily on the first wake, so it exists only in processes that serve requests
    (and after gunicorn forked its workers)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.poll = float(app.config.get("MAIL_SENDER_POLL_SECONDS", 60))
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopping = False

    def wake(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="filmsphere-mail-sender", daemon=True
                )
                self._thread.start()
        self._wake.set()

    def stop(self, timeout: float = 10) -> None:
        """End the thread after its current run (tests; the process exit ends it too)."""
        self._stopping = True
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(self.poll)
            self._wake.clear()
            if self._stopping:
                break
            try:
                with self.app.app_context():
                    try:
                        send_pending(utcnow())
                    finally:
                        db.session.remove()
            except Exception:  # noqa: BLE001 - the thread must survive a bad run
                log.exception("background mail sender failed; cron will retry")


_EXTENSION_KEY = "filmsphere_mail_sender"
_listeners_installed = False


def _after_flush(session: Session, _flush_context: Any) -> None:
    if any(isinstance(obj, OutboxMessage) for obj in session.new):
        session.info["outbox_added"] = True


def _after_commit(session: Session) -> None:
    if not session.info.pop("outbox_added", False):
        return
    # Only request threads wake the sender: CLI commands exit at once, and cron sends.
    if not (has_app_context() and has_request_context()):
        return
    sender = current_app.extensions.get(_EXTENSION_KEY)
    if sender is not None:
        sender.wake()


def _after_rollback(session: Session, _previous: Any) -> None:
    session.info.pop("outbox_added", None)


def background_sender(app: Flask) -> BackgroundSender | None:
    return app.extensions.get(_EXTENSION_KEY)


def register_sender(app: Flask) -> None:
    """Wake a background sender after commits that queued mail, when
    MAIL_SEND_AFTER_COMMIT is on (off in tests: they call send_pending themselves)."""
    global _listeners_installed
    if not app.config.get("MAIL_SEND_AFTER_COMMIT", False):
        return
    app.extensions[_EXTENSION_KEY] = BackgroundSender(app)
    if not _listeners_installed:
        # Session events are per session class, shared by every app in the process; the
        # handlers find the right app's sender through current_app.
        event.listen(Session, "after_flush", _after_flush)
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_soft_rollback", _after_rollback)
        _listeners_installed = True
