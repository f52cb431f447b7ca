"""Send the email outbox: claim due rows under a lease, send them, record the outcome.

Delivery is at-least-once. A sender run claims due rows in a short transaction that
marks them with its id (claimed_by) and moves next_attempt_at to the end of a short lease
(MAIL_LEASE_SECONDS; PostgreSQL: SELECT … FOR UPDATE SKIP LOCKED, so concurrent senders
take different rows; SQLite: BEGIN IMMEDIATE serialises the claim). While the lease runs
no other sender sees the row as due. The sender renews the lease of the rows it still
holds whenever less than half of it is left, and cuts off any one SMTP exchange after
MAIL_TIMEOUT_SECONDS (at most half a lease), so a live sender's lease never runs out
while it is sending: a message goes to the SMTP server from one sender at a time. A
sender that is gone (crash, kill, lost host) stops renewing, and the rest of its batch is
due again within one lease. After the SMTP server accepted a message, a second short
transaction marks it sent; if the database is unreachable just then, the sender keeps
trying to record it for as long as its lease holds. A duplicate is possible only when the
sender dies, or the database stays away longer than the lease, between the server's
acceptance and that commit (or the connection breaks after the server took the message
but before its reply arrived); a lost message is not.

A failed try backs off MAIL_RETRY_BASE_SECONDS * 2^attempts, capped at
MAIL_RETRY_MAX_SECONDS, and the tries go on for MAIL_RETRY_HORIZON_HOURS after the
message was queued (or resent by an admin); only a permanent (5xx) refusal of the message
or the end of the horizon marks it failed, for admins to see and resend (admin_mail).

The web process also runs a daemon thread that is woken after any commit that added or
resent outbox rows (SQLAlchemy after_flush/after_commit events), so mail leaves at once
without ever being sent from a request thread. `flask send-mail` (cron) catches anything
left. In production `flask send-mail --watch` runs the same send_pending in its own
(niced) process instead, and the web workers leave MAIL_SEND_AFTER_COMMIT off.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import secrets
import smtplib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Any

from flask import Flask, current_app, has_app_context, has_request_context
from sqlalchemy import event, select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from ..extensions import db
from ..models import AccountRequest, OutboxMessage
from ..models.types import utcnow
from .account_requests import process_account_requests
from .qr import qr_png
from .transaction import is_postgres, race_point, write_transaction

log = logging.getLogger(__name__)

# Tests switch these off for negative controls: without the claim lock two senders send
# a row twice; without leases kept (renewed, exchanges cut off in time) a slow batch
# outlives its lease and another sender sends its messages too; without recording
# through an outage the message in flight when the database went away is sent again.
CLAIM_WITH_SKIP_LOCKED = True
KEEP_LEASES = True
RECORD_SENT_THROUGH_OUTAGES = True
# How often a sender retries marking a message sent while the database is unreachable.
RECORD_RETRY_SECONDS = 0.5


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
        self.timeout = float(app.config["MAIL_TIMEOUT_SECONDS"])
        self.host: smtplib.SMTP | None = None
        self._cut_off = False

    def _connect(self, timeout: float) -> None:
        s = self.state
        # Created unconnected and kept on self first, so that a cut-off can reach the
        # socket while the greeting, STARTTLS or the login are still waiting.
        host = smtplib.SMTP_SSL(timeout=timeout) if s.use_ssl else smtplib.SMTP(timeout=timeout)
        self.host = host
        host.connect(s.server, s.port)
        if s.use_tls:
            host.starttls()
        if s.username and s.password:
            host.login(s.username, s.password)

    def send(self, mime: EmailMessage, within: float) -> None:
        """Hand one message to the server within `within` seconds, connecting first if
        need be. An exchange still running then is cut off (its socket shut down), so a
        message is never still on its way when its sender's lease can run out. Raises
        ServerUnavailable when the connection can't be made, breaks or is cut off,
        smtplib errors for a refusal of this message."""
        self._cut_off = False
        watchdog = threading.Timer(max(within, 0.0), self._cut)
        watchdog.daemon = True
        watchdog.start()
        try:
            if self.host is None:
                try:
                    self._connect(min(self.timeout, max(within, 0.001)))
                except OSError as exc:  # smtplib.SMTPException is an OSError too
                    self.close()
                    raise self._unavailable(exc, within) from exc
            if self._cut_off:  # the time ran out while connecting
                raise self._unavailable(TimeoutError("connecting took too long"), within)
            assert self.host is not None
            try:
                self.host.send_message(mime)
            except smtplib.SMTPServerDisconnected as exc:
                self.close()
                raise self._unavailable(exc, within) from exc
            except smtplib.SMTPException:
                raise
            except OSError as exc:  # reset, timeout: the connection is gone
                self.close()
                raise self._unavailable(exc, within) from exc
        finally:
            watchdog.cancel()
            if self._cut_off:  # even if the reply made it: that socket is shut
                self.close()

    def _cut(self) -> None:
        self._cut_off = True
        sock = getattr(self.host, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)  # wakes the send or read blocked on it

    def _unavailable(self, exc: BaseException, within: float) -> ServerUnavailable:
        if self._cut_off:
            return ServerUnavailable(f"no answer within {within:.3g} s; the exchange was cut off")
        return ServerUnavailable(f"{type(exc).__name__}: {exc}")

    def close(self) -> None:
        if self.host is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                self.host.quit()
            with contextlib.suppress(OSError):
                self.host.close()
            self.host = None


class ConsoleTransport:
    """The demo: print the message (subject, recipient, text body) to stdout."""

    def send(self, mime: EmailMessage, within: float) -> None:
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


def _claim(
    now: datetime, limit: int, lease_until: datetime, after_id: int, owner: str
) -> list[int]:
    """Take up to `limit` due rows (ids above `after_id`) for sender run `owner` until
    `lease_until`, in one short transaction. Returns ids in order."""
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
                .values(next_attempt_at=lease_until, claimed_by=owner)
            )
    return ids


def _held(ids: list[int], owner: str) -> Any:
    """The rows among `ids` that sender run `owner` still holds (a lost lease drops them)."""
    return (
        OutboxMessage.id.in_(ids),
        OutboxMessage.status == "pending",
        OutboxMessage.claimed_by == owner,
    )


def _renew(ids: list[int], owner: str, lease_until: datetime) -> set[int]:
    """Extend the lease of the rows among `ids` this run still holds; returns those ids.
    A row missing from the answer was taken by another sender after this one's lease ran
    out (the process was paused): this run must not send it."""
    with write_transaction() as session:
        held = session.scalars(
            update(OutboxMessage)
            .where(*_held(ids, owner))
            .values(next_attempt_at=lease_until)
            .returning(OutboxMessage.id)
        )
        return set(held)


def _release(ids: list[int], owner: str, now: datetime) -> None:
    """Hand claimed but unsent rows back (due at `now`), so the next sender takes them at
    once instead of after the lease. Rows this run no longer holds are left alone."""
    with write_transaction() as session:
        session.execute(
            update(OutboxMessage)
            .where(*_held(ids, owner))
            .values(next_attempt_at=now, claimed_by=None)
        )


def retry_delay(attempts: int, config: Any) -> timedelta:
    """The wait after the `attempts`-th failed try: base * 2^attempts, capped."""
    base = int(config["MAIL_RETRY_BASE_SECONDS"])
    cap = int(config["MAIL_RETRY_MAX_SECONDS"])
    return timedelta(seconds=min(cap, base * 2 ** min(attempts, 32)))


def _record(
    message_id: int, error: str | None, now: datetime, owner: str, permanent: bool = False
) -> str:
    """Record one send outcome under the row lock; returns 'sent', 'retrying' or 'failed'.

    A sent message is marked sent whoever holds it now (it was sent). A failure counts
    only while this run still holds the row. It fails the message for good when the
    refusal is permanent (5xx) or the retry horizon has passed; otherwise the message
    backs off (retry_delay) and is tried again."""
    config = current_app.config
    with write_transaction() as session:
        message = session.get(OutboxMessage, message_id, with_for_update=True)
        if message is None or message.status != "pending":
            return "sent" if message is not None and message.status == "sent" else "failed"
        if error is None:
            message.status = "sent"
            message.sent_at = now
            message.last_error = None
            message.claimed_by = None
            return "sent"
        if message.claimed_by != owner:  # another sender holds it now; its try counts
            return "retrying"
        message.attempts += 1
        message.last_error = error[:2000]
        message.claimed_by = None
        horizon = timedelta(hours=int(config["MAIL_RETRY_HORIZON_HOURS"]))
        if permanent or now >= message.retrying_since + horizon:
            message.status = "failed"
            message.failed_at = now
            return "failed"
        message.next_attempt_at = now + retry_delay(message.attempts, config)
        return "retrying"


def _record_sent_through_outage(
    message_id: int,
    now: datetime,
    owner: str,
    lease_until: datetime,
    clock: Callable[[], datetime],
    stopping: Callable[[], bool],
) -> str:
    """The server accepted the message but the database went away before it was marked
    sent. Until this run's lease ends no other sender can take the row, so keep trying
    to record it rather than leave it to be sent again; re-raise the database error once
    the lease has ended or the sender is asked to stop."""
    while True:
        time.sleep(RECORD_RETRY_SECONDS)
        try:
            return _record(message_id, None, now, owner)
        except (OperationalError, InterfaceError):
            if clock() >= lease_until or stopping():
                raise


def send_pending(
    now: datetime, limit: int | None = None, should_stop: Callable[[], bool] | None = None
) -> SendResult:
    """Send every due pending message (status pending, next_attempt_at <= now), after
    turning waiting account requests (reset, new code, sign-up) into their mail.

    Each message is claimed under a short lease before sending and marked sent right
    after the server accepts it; the lease is renewed while this run works and every SMTP
    exchange ends within half a lease, so two senders (watchers, cron, the web thread)
    never send one message twice in normal operation, and the claims of a sender that is
    gone lapse within MAIL_LEASE_SECONDS. A failure adds one attempt and backs off
    (retry_delay) until the retry horizon; a permanent refusal or the horizon marks it
    'failed'. Commits its own short transactions; never raises for a sending failure (a
    database error does propagate, after trying to record a message already sent for as
    long as the lease holds). `should_stop` is asked before each message: once it says
    yes, the run ends and the rest of its claimed rows are released for the next sender.
    """
    # Reset, new-code and sign-up requests become mail here, out of the request.
    process_account_requests(now)
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    config = app.config
    batch = limit or int(config.get("MAIL_BATCH_SIZE", 50))
    lease = timedelta(seconds=int(config["MAIL_LEASE_SECONDS"]))
    timeout = float(config["MAIL_TIMEOUT_SECONDS"])
    sender = str(config["MAIL_DEFAULT_SENDER"])
    transport: SmtpTransport | ConsoleTransport = (
        ConsoleTransport() if config["MAIL_BACKEND"] == "console" else SmtpTransport(app)
    )
    owner = secrets.token_hex(16)
    started = time.monotonic()

    def clock() -> datetime:
        # Leases are measured from `now` (which tests may set) on a steady clock.
        return now + timedelta(seconds=time.monotonic() - started)

    result = SendResult()
    last_id = 0  # each run passes over a row at most once, even if it is due again
    stopping = should_stop or (lambda: False)
    try:
        while not stopping():
            lease_until = clock() + lease
            ids = _claim(now, batch, lease_until, last_id, owner)
            if not ids:
                break
            last_id = ids[-1]
            lost: set[int] = set()
            # Once the server can't be reached, the rest of the batch isn't tried (each
            # would wait for the same timeout); it gets the same error and backs off.
            unreachable: str | None = None
            for position, message_id in enumerate(ids):
                if stopping():
                    _release(ids[position:], owner, now)
                    break
                if KEEP_LEASES and lease_until - clock() < lease / 2:
                    lease_until = clock() + lease
                    rest = ids[position:]
                    lost |= set(rest) - _renew(rest, owner, lease_until)
                if message_id in lost:
                    continue
                message = db.session.get(OutboxMessage, message_id)
                if message is None:
                    continue
                error: str | None = unreachable
                permanent = False
                if error is None:
                    try:
                        mime = build_mime(message, sender)
                        db.session.rollback()  # no transaction stays open during SMTP
                        within = timeout
                        if KEEP_LEASES:
                            within = min(within, (lease_until - clock()).total_seconds())
                        transport.send(mime, within)
                    except ServerUnavailable as exc:
                        error = unreachable = str(exc)
                    except smtplib.SMTPRecipientsRefused as exc:
                        error = f"recipient refused: {exc.recipients}"
                        permanent = all(code >= 500 for code, _ in exc.recipients.values())
                    except smtplib.SMTPDataError as exc:  # the server refused this message
                        error = f"message refused: {exc.smtp_code} {exc.smtp_error!r}"
                        permanent = exc.smtp_code >= 500
                    except (smtplib.SMTPException, ValueError, KeyError) as exc:
                        error = f"{type(exc).__name__}: {exc}"
                if error is not None:
                    result.errors.append(error)
                    log.warning("outbox message %s not sent: %s", message_id, error)
                race_point("mailer.before_mark_sent")
                try:
                    outcome = _record(message_id, error, now, owner, permanent=permanent)
                except (OperationalError, InterfaceError):
                    if error is not None or not RECORD_SENT_THROUGH_OUTAGES:
                        raise  # an unrecorded failure is simply tried again
                    log.warning("outbox message %s accepted; marking it sent waits", message_id)
                    outcome = _record_sent_through_outage(
                        message_id, now, owner, lease_until, clock, stopping
                    )
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
    # New rows, or rows changed in a request (an admin's resend; senders run without one);
    # a new account request also becomes mail in the sender.
    if any(isinstance(obj, OutboxMessage) for obj in (*session.new, *session.dirty)) or any(
        isinstance(obj, AccountRequest) for obj in session.new
    ):
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
