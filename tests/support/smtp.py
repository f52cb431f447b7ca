"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from .postgres import free_port


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]


class RefusingInbox(Inbox):
    """Refuses recipients named gone@… for good (550 No such user), accepts the rest."""

    async def handle_RCPT(  # noqa: N802
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address.startswith("gone@"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"


class CountingInbox(Inbox):
    """Counts what it receives without parsing it (a benchmark's server must not be the
    thing measured); keeps every `keep_every`-th message's raw bytes for checking."""

    def __init__(self, keep_every: int = 0) -> None:
        super().__init__()
        self.count = 0
        self.bytes = 0
        self.keep_every = keep_every
        self.kept: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.count += 1
        self.bytes += len(envelope.content)
        if self.keep_every and self.count % self.keep_every == 1:
            self.kept.append(bytes(envelope.content))
        return "250 Message accepted for delivery"


def subject_of(envelope: Any) -> str:
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    return str(message["Subject"])


class GatedInbox(Inbox):
    """Holds its reply to the first message whose subject ends with `hold` until the test
    opens the gate, so the test can act while a sender is in the middle of sending that
    message (`in_flight` is set then). The message counts as received once the gate opens."""

    def __init__(self, hold: str) -> None:
        super().__init__()
        self.hold = hold
        self.in_flight = threading.Event()
        self.gate = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if subject_of(envelope).endswith(self.hold) and not self.in_flight.is_set():
            self.in_flight.set()
            await asyncio.get_running_loop().run_in_executor(None, self.gate.wait, 30)
        return await super().handle_DATA(server, session, envelope)


class SlowInbox(Inbox):
    """Takes `delay` seconds to accept each message, like a slow relay; `first` is set
    when the first message arrives."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.first = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.first.set()
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


@contextmanager
def running(inbox: Inbox, port: int) -> Iterator[Inbox]:
    """Serve `inbox` (any Inbox subclass) on 127.0.0.1:`port` for the block."""
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


@contextmanager
def smtp_server(port: int | None = None) -> Iterator[tuple[Inbox, int]]:
    """Run an SMTP server for the block; yields (inbox, port)."""
    port = port or free_port()
    with running(Inbox(), port) as inbox:
        yield inbox, port


# Fixtures for a test module whose app sends to a real SMTP server: import all three
# (`from tests.support.smtp import app_overrides, inbox, mail_port`); `app_overrides`
# replaces conftest's for that module.


@pytest.fixture
def mail_port() -> int:
    return free_port()


@pytest.fixture
def app_overrides(mail_port: int) -> dict[str, Any]:
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": mail_port, "MAIL_BACKEND": "smtp"}


@pytest.fixture
def inbox(mail_port: int) -> Iterator[Inbox]:
    with smtp_server(mail_port) as (server_inbox, _):
        yield server_inbox
