"""`flask send-mail --watch` as a real process: sends once, outlives outages, stops cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.engine import make_url

from filmsphere.extensions import db
from filmsphere.models import OutboxMessage
from filmsphere.models.types import utcnow
from filmsphere.services.mail.mailer import send_pending
from filmsphere.services.mail.outbox import queue_email
from filmsphere.services.transaction import write_transaction

from ..support.postgres import free_port
from ..support.smtp import GatedInbox, Inbox, running, smtp_server
from ..support.tcp_proxy import TcpProxy

ROOT = Path(__file__).resolve().parents[2]
PATIENCE_SECONDS = 30  # generous: only a broken watcher ever waits this long


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def app_overrides(port: int) -> dict[str, Any]:
    # The test's own app queues mail, and in one test plays cron's one-shot send-mail.
    return {"MAIL_PORT": port}


SUBJECT = "Your FilmSphere code: "


def queue(*labels: str) -> None:
    """Queue verification emails through the service path, in one write transaction;
    each label is its code, so its subject ends with it."""
    now = utcnow()
    with write_transaction():
        for label in labels:
            queue_email(
                kind="verify_email",
                to="ann@example.com",
                now=now,
                name="Ann Example",
                code=label,
                link="http://127.0.0.1:5000/auth/verify?token=abc",
                minutes=30,
            )


def rows() -> list[OutboxMessage]:
    db.session.rollback()  # a fresh snapshot: the watcher changes rows behind our back
    return list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def subjects(inbox: Inbox) -> list[str]:
    """The labels of the messages received, in order."""
    return [str(m["Subject"]).removeprefix(SUBJECT) for m in inbox.messages]


class Watcher:
    """`flask send-mail --watch` in its own process, its output collected line by line."""

    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "send-mail", "--watch"]
            + ["--interval", "0.2"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._readers = [
            threading.Thread(target=self._collect, args=(stream, lines), daemon=True)
            for stream, lines in (
                (self.process.stdout, self.stdout),
                (self.process.stderr, self.stderr),
            )
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _collect(stream: Any, lines: list[str]) -> None:
        for line in stream:
            lines.append(line)

    def output(self) -> str:
        return "stdout:\n" + "".join(self.stdout) + "stderr:\n" + "".join(self.stderr)

    def eventually(self, condition: Callable[[], bool], what: str) -> None:
        """Wait until `condition` holds; fail at once if the watcher died meanwhile."""
        deadline = time.monotonic() + PATIENCE_SECONDS
        while not condition():
            assert self.process.poll() is None, (
                f"watcher exited while waiting for {what}\n{self.output()}"
            )
            assert time.monotonic() < deadline, f"gave up waiting for {what}\n{self.output()}"
            time.sleep(0.05)

    def stop(self, signum: int = signal.SIGTERM) -> int:
        self.process.send_signal(signum)
        return self.wait()

    def wait(self) -> int:
        code = self.process.wait(PATIENCE_SECONDS)
        for reader in self._readers:
            reader.join(5)
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def start_watcher(database_url: str, port: int, tmp_path: Path) -> Iterator[Callable[..., Watcher]]:
    """Start watchers configured like production (FILMSPHERE_* variables, SMTP on `port`).
    Any still running at teardown is killed before the database is emptied."""
    watchers: list[Watcher] = []

    def start(database: str = database_url, **settings: str) -> Watcher:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FILMSPHERE_")}
        env.update(
            PYTHONUNBUFFERED="1",
            FILMSPHERE_ENV="production",
            FILMSPHERE_SECRET_KEY="test-secret-key-not-for-production",
            FILMSPHERE_DATABASE_URL=database,
            FILMSPHERE_INSTANCE_PATH=str(tmp_path / "watcher-instance"),
            FILMSPHERE_MAIL_BACKEND="smtp",
            FILMSPHERE_MAIL_SERVER="127.0.0.1",
            FILMSPHERE_MAIL_PORT=str(port),
            FILMSPHERE_MAIL_TIMEOUT_SECONDS="10",
            FILMSPHERE_MAIL_SEND_AFTER_COMMIT="false",
        )
        env.update({f"FILMSPHERE_{k}": v for k, v in settings.items()})
        watcher = Watcher(env)
        watchers.append(watcher)
        return watcher

    yield start
    for watcher in watchers:
        watcher.kill()


def test_watcher_sends_each_message_once_and_stops_on_sigterm(
    backend: str, ctx: Flask, port: int, start_watcher: Callable[..., Watcher]
) -> None:
    with smtp_server(port) as (inbox, _):
        watcher = start_watcher()
        queue("First")
        watcher.eventually(lambda: "First" in subjects(inbox), "the first message")
        # The watcher keeps passing over the outbox; by the time a second message has
        # arrived it has had every chance to send the first one again.
        queue("Second")
        watcher.eventually(lambda: "Second" in subjects(inbox), "the second message")
        assert subjects(inbox) == ["First", "Second"]
        assert watcher.stop(signal.SIGTERM) == 0, watcher.output()
    assert [(r.payload["code"], r.status) for r in rows()] == [
        ("First", "sent"),
        ("Second", "sent"),
    ]
    assert "mail: 1 sent, 0 will be retried, 0 failed for good\n" in watcher.stdout
    assert watcher.stdout[-1] == "mail: stopped\n"


@pytest.mark.postgres_only
def test_mail_queued_while_smtp_is_down_goes_when_it_is_back(
    backend: str, ctx: Flask, port: int, start_watcher: Callable[..., Watcher]
) -> None:
    # Backoff 1 s * 2^attempts: the retry comes 2 s after the failed try.
    watcher = start_watcher(MAIL_RETRY_BASE_SECONDS="1")
    queue("Delayed")
    watcher.eventually(lambda: rows()[0].attempts >= 1, "a failed try while SMTP is down")
    assert rows()[0].status == "pending" and "Connection" in (rows()[0].last_error or "")
    with smtp_server(port) as (inbox, _):
        watcher.eventually(lambda: rows()[0].status == "sent", "the retry to succeed")
        assert subjects(inbox) == ["Delayed"]
        assert watcher.stop(signal.SIGTERM) == 0, watcher.output()
    assert "mail: 0 sent, 1 will be retried, 0 failed for good\n" in watcher.stdout


@pytest.mark.postgres_only
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_mid_send_finishes_that_message_and_hands_back_the_rest(
    backend: str, ctx: Flask, port: int, start_watcher: Callable[..., Watcher], signum: int
) -> None:
    queue(*(f"Message {i}" for i in range(5)))  # one batch: all five claimed at once
    inbox = GatedInbox(hold="Message 1")
    with running(inbox, port):
        try:
            watcher = start_watcher()
            watcher.eventually(inbox.in_flight.is_set, "the second message to be in flight")
            watcher.process.send_signal(signum)
            inbox.gate.set()
            assert watcher.wait() == 0, watcher.output()
            assert subjects(inbox) == ["Message 0", "Message 1"]
            states = [(r.payload["code"], r.status, r.attempts) for r in rows()]
            assert states == [
                ("Message 0", "sent", 0),
                ("Message 1", "sent", 0),
                ("Message 2", "pending", 0),
                ("Message 3", "pending", 0),
                ("Message 4", "pending", 0),
            ]
            # Released, not left under the lease: cron's next one-shot run sends them.
            assert all(r.next_attempt_at <= utcnow() for r in rows()[2:])
            assert all(r.claimed_by is None for r in rows()[2:])
            assert send_pending(utcnow()).sent == 3
        finally:
            inbox.gate.set()
    assert sorted(subjects(inbox)) == [f"Message {i}" for i in range(5)]


# A short lease for the fault test (production: 30 s); the SMTP exchange must fit in half.
FAULT_LEASE = {"MAIL_LEASE_SECONDS": "4", "MAIL_TIMEOUT_SECONDS": "2"}


@pytest.mark.postgres_only
def test_a_killed_senders_batch_is_sent_by_another_within_its_short_lease(
    backend: str, ctx: Flask, port: int, start_watcher: Callable[..., Watcher]
) -> None:
    """kill -9 a watcher in the middle of its batch: the rest of the batch is due again
    when its lease runs out (seconds, not the old 300 s) and a second watcher sends it;
    every message arrives once, except at most a second copy of the one in flight."""
    names = [f"Message {i}" for i in range(6)]
    queue(*names)  # one batch: the first watcher claims all six
    inbox = GatedInbox(hold="Message 2")
    with running(inbox, port):
        try:
            first = start_watcher(**FAULT_LEASE)
            first.eventually(inbox.in_flight.is_set, "the third message to be in flight")
            first.process.send_signal(signal.SIGKILL)
            assert first.wait() == -signal.SIGKILL
            killed_at = time.monotonic()
            inbox.gate.set()  # the server may still take the message the sender was sending
            claimed = rows()
            assert [r.status for r in claimed] == ["sent", "sent"] + ["pending"] * 4
            assert len({r.claimed_by for r in claimed[2:]}) == 1  # still the dead sender's
            second = start_watcher(**FAULT_LEASE)
            second.eventually(
                lambda: all(r.status == "sent" for r in rows()), "the rest to be sent"
            )
            took = time.monotonic() - killed_at
            assert second.stop(signal.SIGTERM) == 0, second.output()
        finally:
            inbox.gate.set()
    counts = {name: subjects(inbox).count(name) for name in names}
    assert counts.pop("Message 2") in (1, 2), subjects(inbox)  # the one in flight
    assert set(counts.values()) == {1}, subjects(inbox)
    # Within a lease and a pass or two of the second watcher; the old 300 s lease would
    # have kept the rest back for five minutes (and this test waits at most 30 s).
    assert took < PATIENCE_SECONDS
    print(f"rest of the killed sender's batch delivered {took:.1f} s after the kill")


@pytest.mark.postgres_only
def test_watcher_outlives_a_database_outage(
    backend: str, ctx: Flask, database_url: str, port: int, start_watcher: Callable[..., Watcher]
) -> None:
    url = make_url(database_url)
    assert url.port is not None
    proxy = TcpProxy(url.port)
    proxy.up()
    try:
        with smtp_server(port) as (inbox, _):
            watcher = start_watcher(
                database=url.set(port=proxy.port).render_as_string(hide_password=False)
            )
            queue("Before")
            watcher.eventually(lambda: "Before" in subjects(inbox), "mail before the outage")
            # Between passes: a message recorded as sent (an outage while recording is
            # test_mailer's test_a_database_restart_mid_send_does_not_send_that_message_twice).
            watcher.eventually(lambda: rows()[0].status == "sent", "it to be recorded sent")
            proxy.down()
            watcher.eventually(
                lambda: any("pass failed (OperationalError" in line for line in watcher.stderr),
                "the watcher to notice the outage",
            )
            proxy.up()
            queue("After")
            watcher.eventually(lambda: "After" in subjects(inbox), "mail after the outage")
            assert subjects(inbox) == ["Before", "After"]
            assert watcher.stop(signal.SIGTERM) == 0, watcher.output()
    finally:
        proxy.down()
