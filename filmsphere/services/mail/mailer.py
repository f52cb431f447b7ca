"""Send the email outbox: claim due rows under a lease, render and send them through
Flask-Mail over one SMTP connection per run, mark each sent as the server accepts it.

Delivery is at-least-once. A sender run claims a batch of due rows (MAIL_BATCH_SIZE) in a
short transaction that marks them with its id (claimed_by), moves next_attempt_at to the
end of a short lease (MAIL_LEASE_SECONDS) and reads their facts (PostgreSQL: SELECT … FOR
UPDATE SKIP LOCKED, so concurrent senders take different rows; SQLite: BEGIN IMMEDIATE
serialises the claim). While the lease runs no other sender sees the row as due. The run
renders the whole batch (services/mail/emails.py: a few queries per batch, each message
rendered once) and sends it over one SMTP connection (Flask-Mail's, opened once per
run). It renews the lease of the rows it still holds whenever less than half of it is
left, and cuts off any one SMTP exchange after MAIL_TIMEOUT_SECONDS (at most half a
lease), so a live sender's lease never runs out while it is sending: a message goes to
the SMTP server from one sender at a time. A sender that is gone (crash, kill, lost host)
stops renewing, and the rest of its batch is due again within one lease.

After the SMTP server accepted a message, one UPDATE in a short transaction marks it
sent; if the database is unreachable just then, the sender keeps trying to record it
for as long as its lease holds. A duplicate is possible only when the sender dies, or
the database stays away longer than the lease, between the server's acceptance and that
commit (or the connection breaks after the server took the message but before its
reply arrived); a lost message is not.

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

import contextlib
import logging
import multiprocessing
import secrets
import smtplib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.charset import BASE64, Charset
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.policy import Compat32
from email.utils import make_msgid, parseaddr
from typing import Any

from flask import Flask, current_app, has_app_context, has_request_context
from flask_mail import Attachment, BadHeaderError, Message
from sqlalchemy import Select, event, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session

from ...extensions import db, mail
from ...models import AccountRequest, OutboxMessage
from ...models.types import utcnow
from ..accounts.account_requests import process_account_requests
from ..transaction import is_postgres, race_point, write_transaction
from .emails import CannotRender, Email, render_batch

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


@dataclass(frozen=True)
class Claimed:
    """A row a sender run holds: what rendering it needs."""

    id: int
    kind: str
    to_address: str
    payload: dict[str, Any]
    created_at: datetime


# --- MIME -------------------------------------------------------------------------------


class AsBuilt(Compat32):
    """Writes each header as Flask-Mail and email.mime built it (already encoded and
    folded), with CRLF. policy.SMTP would parse every header of every part again, and
    compat32 would re-encode each through email.header: together more CPU than all the
    rest of building a confirmation."""

    linesep = "\r\n"

    def fold_binary(self, name: str, value: Any) -> bytes:
        lines = str(value).splitlines()
        return (f"{name}: " + "\r\n".join(lines) + "\r\n").encode("utf-8", "surrogateescape")


AS_BUILT = AsBuilt()
_BASE64_UTF8 = Charset("utf-8")
_BASE64_UTF8.header_encoding = BASE64


def _encoded_header(value: str) -> str:
    """A header value as RFC 2047 words, base64 (ASCII as it is). Flask-Mail would choose
    quoted-printable and size each word character by character: a fifth of building a
    confirmation, whose subject has a dash (—) in it."""
    if value.isascii():
        return value
    return Header(value, _BASE64_UTF8).encode()


class OutboxMail(Message):
    """Flask-Mail's message, with the inline images next to the HTML part.

    Flask-Mail builds multipart/mixed[ alternative[ text, html ], attachments ]; an image
    shown in the HTML (Content-ID) belongs in a multipart/related with the HTML (RFC 2387)
    to show inline in every client, so those parts are moved there. The rest is
    Flask-Mail's: headers, encodings, address sanitising."""

    def _message(self) -> Any:
        subject = self.subject
        self.subject = _encoded_header(subject)
        try:
            mime = super()._message()
        finally:
            self.subject = subject
        parts: list[Any] = list(mime.get_payload()) if mime.is_multipart() else []
        inline = [p for p in parts[1:] if p["Content-ID"]]
        if inline and self.html:
            alternative: list[Any] = parts[0].get_payload()  # [text, html]
            related = MIMEMultipart("related")
            related.attach(alternative[-1])
            for part in inline:
                related.attach(part)
            alternative[-1] = related
            mime.set_payload([p for p in parts if not any(p is q for q in inline)])
        # Left to the generator, each boundary is checked against its part's text with a
        # regular expression compiled for it: a fifth of building a confirmation. A random
        # 96-bit boundary can't be in a part (and nobody can aim at it).
        for part in mime.walk():
            if part.is_multipart():
                part.set_boundary(f"=_{secrets.token_hex(12)}")
        return mime

    def as_bytes(self) -> bytes:
        # Flask-Mail encodes and folds every header itself; the compat32 generator writes
        # them as they are (CRLF, no refolding), where policy.SMTP would parse each header
        # of each part again: a third of the sender's CPU for a confirmation.
        return bytes(self._message().as_bytes(policy=AS_BUILT))


def build_message(email: Email, message: Claimed, sender: str) -> OutboxMail:
    """The Flask-Mail message for a rendered email; its Message-ID names the outbox row
    (and the sender's domain, so no host name lookup is needed)."""
    mail_message = OutboxMail(
        subject=email.subject,
        recipients=[message.to_address],
        body=email.text,
        html=email.html,
        sender=sender,
        attachments=[
            Attachment(
                filename=part.filename,
                content_type=part.content_type,
                data=part.data,
                disposition="inline" if part.inline_cid else "attachment",
                headers={"Content-ID": f"<{part.inline_cid}>"} if part.inline_cid else None,
            )
            for part in email.parts
        ],
    )
    domain = parseaddr(sender)[1].rpartition("@")[2] or "filmsphere.local"
    mail_message.msgId = make_msgid(idstring=f"outbox{message.id}", domain=domain)
    return mail_message


# --- transports -------------------------------------------------------------------------


class ServerUnavailable(Exception):
    """The SMTP server can't be reached or refused the session (connect, TLS, login)."""


class SmtpTransport:
    """One Flask-Mail connection (mail.connect()) for a whole run, opened on the first
    message with Flask-Mail's settings (MAIL_SERVER, MAIL_PORT, MAIL_USE_TLS/SSL,
    MAIL_USERNAME/PASSWORD). Its SMTP host is opened here rather than by Flask-Mail,
    which sets no timeout and would hide the socket from the cut-off while connecting."""

    def __init__(self, app: Flask) -> None:
        self.connection = mail.connect()
        self.timeout = float(app.config["MAIL_TIMEOUT_SECONDS"])
        self._cut_off = False

    @property
    def host(self) -> smtplib.SMTP | None:
        return self.connection.host

    def _connect(self, timeout: float) -> None:
        settings = self.connection.mail
        # Created unconnected and kept on the connection first, so that a cut-off can
        # reach the socket while the greeting, STARTTLS or the login are still waiting.
        host = (
            smtplib.SMTP_SSL(timeout=timeout) if settings.use_ssl else smtplib.SMTP(timeout=timeout)
        )
        self.connection.host = host
        host.connect(settings.server, settings.port or 25)
        if settings.use_tls:
            host.starttls()
        if settings.username and settings.password:
            host.login(settings.username, settings.password)

    def send(self, message: OutboxMail, within: float) -> None:
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
            try:
                self.connection.send(message)
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
        host = self.connection.host
        if host is not None:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                host.quit()
            with contextlib.suppress(OSError):
                host.close()
            self.connection.host = None


class ConsoleTransport:
    """The demo: print the message (subject, recipient, text body) to stdout."""

    def send(self, message: OutboxMail, within: float) -> None:
        names = [a.filename for a in message.attachments if a.filename]
        lines = [
            "=" * 72,
            f"To: {', '.join(str(r) for r in message.recipients)}",
            f"Subject: {message.subject}",
            *([f"Attachments: {', '.join(names)}"] if names else []),
            "-" * 72,
            (message.body or "").rstrip(),
            "=" * 72,
        ]
        print("\n".join(lines), flush=True)

    def close(self) -> None:
        pass


# --- claiming and recording ---------------------------------------------------------------


def due_ids(now: datetime, limit: int, after_id: int = 0) -> Select[tuple[int]]:
    """The claim's query: the next `limit` due pending ids above `after_id`, in id order
    (locked, skipping rows another sender is claiming, on PostgreSQL). It walks the
    partial index of pending rows (ix_outbox_messages_pending)."""
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
    return query


def _claim(
    now: datetime, limit: int, lease_until: datetime, after_id: int, owner: str
) -> list[Claimed]:
    """Take up to `limit` due rows (ids above `after_id`) for sender run `owner` until
    `lease_until`, in one short transaction, and read what rendering them needs.
    Returns them in id order."""
    with write_transaction() as session:
        ids = list(session.scalars(due_ids(now, limit, after_id)))
        race_point("mailer.after_claim_select")
        if not ids:
            return []
        rows = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids))
            .values(next_attempt_at=lease_until, claimed_by=owner)
            .returning(
                OutboxMessage.id,
                OutboxMessage.kind,
                OutboxMessage.to_address,
                OutboxMessage.payload,
                OutboxMessage.created_at,
            )
            .execution_options(synchronize_session=False)
        ).all()
    return sorted((Claimed(*row) for row in rows), key=lambda c: c.id)


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
            .execution_options(synchronize_session=False)
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
            .execution_options(synchronize_session=False)
        )


def retry_delay(attempts: int, config: Any) -> timedelta:
    """The wait after the `attempts`-th failed try: base * 2^attempts, capped."""
    base = int(config["MAIL_RETRY_BASE_SECONDS"])
    cap = int(config["MAIL_RETRY_MAX_SECONDS"])
    return timedelta(seconds=min(cap, base * 2 ** min(attempts, 32)))


class SentMarks:
    """Marks messages sent as the server accepts them: one UPDATE each, a transaction of
    its own on a connection the run keeps, so a mark costs no pool check-out (and its
    pre-ping) and no ORM session work; on PostgreSQL in autocommit, so it is one round
    trip (no BEGIN and COMMIT around it). A sent message is marked sent whoever holds it
    now (it was sent)."""

    def __init__(self) -> None:
        self.connection: Connection | None = None

    def mark(self, message_id: int, now: datetime) -> None:
        if self.connection is None:
            self.connection = db.engine.connect()
            if is_postgres():  # SQLite's BEGIN is the app's own (transaction.py)
                self.connection.execution_options(isolation_level="AUTOCOMMIT")
                # A mark need not wait for its WAL flush: lost in a database crash, it
                # only means the message goes again, the at-least-once window the sender
                # has anyway between the server's acceptance and the mark. The setting
                # stays on this connection, which close() discards instead of pooling.
                with self.connection.begin():
                    self.connection.exec_driver_sql("SET synchronous_commit TO off")
        try:
            with self.connection.begin():
                self.connection.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == message_id, OutboxMessage.status == "pending")
                    .values(status="sent", sent_at=now, last_error=None, claimed_by=None)
                )
        except DBAPIError:
            self.close()  # a broken connection: the next mark takes a fresh one
            raise

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(DBAPIError):
                if is_postgres():
                    self.connection.invalidate()  # never pooled with synchronous_commit off
                self.connection.close()
            self.connection = None


def _record_failure(message_id: int, error: str, now: datetime, owner: str, permanent: bool) -> str:
    """Record a failed try under the row lock; returns 'sent', 'retrying' or 'failed'.

    It counts only while this run still holds the row. It fails the message for good
    when the refusal is permanent (5xx) or the retry horizon has passed; otherwise the
    message backs off (retry_delay) and is tried again."""
    config = current_app.config
    with write_transaction() as session:
        message = session.get(OutboxMessage, message_id, with_for_update=True)
        if message is None or message.status != "pending":
            return "sent" if message is not None and message.status == "sent" else "failed"
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


def _mark_sent_through_outage(
    marks: SentMarks,
    message_id: int,
    now: datetime,
    lease_until: datetime,
    clock: Callable[[], datetime],
    stopping: Callable[[], bool],
) -> None:
    """The server accepted the message but the database went away before it was marked
    sent. Until this run's lease ends no other sender can take the row, so keep trying
    to record it rather than leave it to be sent again; re-raise the database error once
    the lease has ended or the sender is asked to stop."""
    while True:
        time.sleep(RECORD_RETRY_SECONDS)
        try:
            marks.mark(message_id, now)
            return
        except (OperationalError, InterfaceError):
            if clock() >= lease_until or stopping():
                raise


def _try(
    transport: SmtpTransport | ConsoleTransport, message: OutboxMail, within: float
) -> tuple[str | None, bool, bool]:
    """Send one message: (error or None, permanent refusal, server unreachable)."""
    try:
        transport.send(message, within)
    except ServerUnavailable as exc:
        return str(exc), False, True
    except smtplib.SMTPRecipientsRefused as exc:
        permanent = all(code >= 500 for code, _ in exc.recipients.values())
        return f"recipient refused: {exc.recipients}", permanent, False
    except smtplib.SMTPDataError as exc:  # the server refused this message
        return f"message refused: {exc.smtp_code} {exc.smtp_error!r}", exc.smtp_code >= 500, False
    except (smtplib.SMTPException, BadHeaderError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}", False, False
    return None, False, False


# --- sending ------------------------------------------------------------------------------


def send_pending(
    now: datetime, limit: int | None = None, should_stop: Callable[[], bool] | None = None
) -> SendResult:
    """Send every due pending message (status pending, next_attempt_at <= now), after
    turning waiting account requests (reset, new code, sign-up) into their mail.

    Batch by batch: claim under a short lease, reading what the batch needs (one
    transaction), render the batch (a few reads; no transaction stays open during SMTP),
    send each message over the run's one SMTP connection and mark it sent right after
    the server accepted it (one UPDATE). The lease is renewed while this run works and
    every SMTP exchange ends within half a lease, so two senders (watchers, cron, the web
    thread) never send one message twice in normal operation, and the claims of a sender
    that is gone lapse within MAIL_LEASE_SECONDS. A failure adds one attempt and backs
    off (retry_delay) until the retry horizon; a permanent refusal or the horizon marks
    it 'failed'. Never raises for a sending failure (a database error does propagate,
    after trying to record a message already sent for as long as the lease holds).
    `should_stop` is asked before each message: once it says yes, the run ends and the
    rest of its claimed rows are released for the next sender.
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
    marks = SentMarks()
    last_id = 0  # each run passes over a row at most once, even if it is due again
    stopping = should_stop or (lambda: False)
    try:
        while not stopping():
            lease_until = clock() + lease
            claimed = _claim(now, batch, lease_until, last_id, owner)
            if not claimed:
                break
            last_id = claimed[-1].id
            rendered = render_batch(claimed)
            db.session.rollback()  # no transaction stays open during SMTP
            ids = [c.id for c in claimed]
            lost: set[int] = set()
            # Once the server can't be reached, the rest of the batch isn't tried (each
            # would wait for the same timeout); it gets the same error and backs off.
            unreachable: str | None = None
            for position, message in enumerate(claimed):
                if stopping():
                    _release(ids[position:], owner, now)
                    break
                if KEEP_LEASES and lease_until - clock() < lease / 2:
                    lease_until = clock() + lease
                    rest = ids[position:]
                    lost |= set(rest) - _renew(rest, owner, lease_until)
                if message.id in lost:
                    continue
                error, permanent = unreachable, False
                email = rendered[message.id]
                if error is None and isinstance(email, CannotRender):
                    error = f"cannot render: {email}"
                    log.error("outbox message %s can't be rendered: %s", message.id, email)
                elif error is None:
                    assert isinstance(email, Email)
                    within = timeout
                    if KEEP_LEASES:
                        within = min(within, (lease_until - clock()).total_seconds())
                    error, permanent, down = _try(
                        transport, build_message(email, message, sender), within
                    )
                    if down:
                        unreachable = error
                if error is not None:
                    result.errors.append(error)
                    log.warning("outbox message %s not sent: %s", message.id, error)
                race_point("mailer.before_mark_sent")
                if error is not None:  # an unrecorded failure is simply tried again
                    outcome = _record_failure(message.id, error, now, owner, permanent)
                else:
                    outcome = "sent"
                    try:
                        marks.mark(message.id, now)
                    except (OperationalError, InterfaceError):
                        if not RECORD_SENT_THROUGH_OUTAGES:
                            raise
                        log.warning("outbox message %s accepted; marking it sent waits", message.id)
                        _mark_sent_through_outage(
                            marks, message.id, now, lease_until, clock, stopping
                        )
                if outcome == "sent":
                    result.sent += 1
                elif outcome == "retrying":
                    result.retrying += 1
                else:
                    result.failed += 1
            if len(claimed) < batch:
                break
    finally:
        transport.close()
        marks.close()
    return result


def send_pending_in_processes(now: datetime, processes: int) -> SendResult:
    """send_pending in `processes` processes side by side (forked from this one), each with
    its own database and SMTP connections, and the sum of their results. Their claims take
    different rows (SKIP LOCKED on PostgreSQL, BEGIN IMMEDIATE on SQLite), so a message is
    sent once, exactly as with senders on several machines. Rendering and MIME are CPU work
    under one interpreter lock: one process can't use a second core for a large backlog.
    A database error in a sender propagates, as from send_pending."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    db.session.remove()
    db.engine.dispose()  # no pooled connection may be shared across the fork
    context = multiprocessing.get_context("fork")
    with context.Pool(processes, initializer=_adopt_app, initargs=(app,)) as pool:
        results = pool.map(_send_in_child, [now] * processes, chunksize=1)
    total = SendResult()
    for result in results:
        total.sent += result.sent
        total.retrying += result.retrying
        total.failed += result.failed
        total.errors += result.errors
    return total


_forked_app: Flask | None = None


def _adopt_app(app: Flask) -> None:
    global _forked_app
    _forked_app = app


def _send_in_child(now: datetime) -> SendResult:
    assert _forked_app is not None
    with _forked_app.app_context():
        try:
            return send_pending(now)
        finally:
            db.session.remove()
            db.engine.dispose()


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
