"""Signed ticket codes: "FS1.<ticket id>.<show id>.<HMAC>", compact and QR-friendly."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from typing import Protocol

from flask import current_app

from ..errors import DomainError

PREFIX = "FS1"
# Domain separation: the app secret signs other things too (sessions, CSRF); a ticket MAC
# must never be valid in any of those places, nor the other way round.
_SALT = b"filmsphere.ticket-code.v1"
_MAC_BYTES = 20  # 160 bits: far beyond guessing, 32 base32 characters
# Only the canonical form is accepted (upper case, no leading zeros), so a code has exactly
# one spelling and any changed character is refused. Upper-case letters, digits and dots
# also keep the QR in its dense alphanumeric mode.
_CODE = re.compile(r"FS1\.([1-9][0-9]{0,17})\.([1-9][0-9]{0,17})\.([A-Z2-7]{32})")


class InvalidTicketCode(DomainError):
    """The code is malformed or its signature does not match."""

    status = 422


class _TicketLike(Protocol):
    id: int
    show_id: int


def _mac(ticket_id: int, show_id: int, secret: str | bytes) -> str:
    key_material = secret.encode() if isinstance(secret, str) else secret
    key = hmac.new(key_material, _SALT, hashlib.sha256).digest()
    digest = hmac.new(key, f"{ticket_id}.{show_id}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:_MAC_BYTES]).decode("ascii")


def _secret(secret: str | bytes | None) -> str | bytes:
    value = secret if secret is not None else current_app.config["SECRET_KEY"]
    if not value:
        raise RuntimeError("SECRET_KEY is required to sign ticket codes")
    return value


def make_code(ticket_id: int, show_id: int, secret: str | bytes | None = None) -> str:
    """The code for a ticket id and show id, signed with `secret` (default: SECRET_KEY)."""
    return f"{PREFIX}.{ticket_id}.{show_id}.{_mac(ticket_id, show_id, _secret(secret))}"


def ticket_code(ticket: _TicketLike, secret: str | bytes | None = None) -> str:
    """The signed code a ticket's QR carries."""
    return make_code(ticket.id, ticket.show_id, secret)


def read_ticket_code(code: str, secret: str | bytes | None = None) -> tuple[int, int]:
    """Check a code's form and signature and return (ticket_id, show_id).

    Raises InvalidTicketCode for anything that is not exactly a code this app signed.
    Says nothing about the ticket's state (cancelled, used): check-in looks that up.
    """
    match = _CODE.fullmatch(code.strip()) if isinstance(code, str) else None
    if match is None:
        raise InvalidTicketCode("This is not a FilmSphere ticket code.")
    ticket_id, show_id = int(match.group(1)), int(match.group(2))
    expected = _mac(ticket_id, show_id, _secret(secret))
    if not hmac.compare_digest(expected, match.group(3)):
        raise InvalidTicketCode("This ticket code is not genuine.")
    return ticket_id, show_id
