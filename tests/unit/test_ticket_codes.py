"""Signed ticket codes: round trip, tampering, other secrets, canonical form."""

from __future__ import annotations

import re

import pytest

from filmsphere.services.door.ticket_codes import InvalidTicketCode, make_code, read_ticket_code

SECRET = "unit-test-secret"
ALPHABET = "".join(sorted(set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.abcxyz- ")))


def test_round_trip() -> None:
    code = make_code(123, 45, SECRET)
    assert re.fullmatch(r"FS1\.123\.45\.[A-Z2-7]{32}", code)
    assert read_ticket_code(code, SECRET) == (123, 45)


def test_codes_differ_per_ticket_and_show() -> None:
    codes = {make_code(t, s, SECRET) for t in range(1, 20) for s in range(1, 5)}
    assert len(codes) == 19 * 4


def test_surrounding_whitespace_is_ignored() -> None:
    assert read_ticket_code(f"  {make_code(7, 8, SECRET)}\n", SECRET) == (7, 8)


def test_every_single_character_change_is_refused() -> None:
    code = make_code(1234, 56, SECRET)
    refused = 0
    for position, original in enumerate(code):
        for replacement in ALPHABET:
            if replacement == original:
                continue
            tampered = code[:position] + replacement + code[position + 1 :]
            with pytest.raises(InvalidTicketCode):
                read_ticket_code(tampered, SECRET)
            refused += 1
    assert refused == len(code) * (len(ALPHABET) - 1)


def test_swapping_ticket_or_show_with_the_old_signature_is_refused() -> None:
    mac = make_code(10, 20, SECRET).rsplit(".", 1)[1]
    for forged in (f"FS1.11.20.{mac}", f"FS1.10.21.{mac}", f"FS1.010.20.{mac}"):
        with pytest.raises(InvalidTicketCode):
            read_ticket_code(forged, SECRET)


def test_other_secret_is_refused() -> None:
    code = make_code(5, 6, SECRET)
    with pytest.raises(InvalidTicketCode):
        read_ticket_code(code, "another-secret")


@pytest.mark.parametrize(
    "junk",
    ["", "FS1", "FS1.1.2", "FS1.1.2.", "https://example.com/", "FS2.1.2." + "A" * 32, "x" * 500],
)
def test_junk_is_refused(junk: str) -> None:
    with pytest.raises(InvalidTicketCode):
        read_ticket_code(junk, SECRET)


def test_truncated_and_extended_codes_are_refused() -> None:
    code = make_code(3, 4, SECRET)
    for bad in (code[:-1], code + "A", code.lower()):
        with pytest.raises(InvalidTicketCode):
            read_ticket_code(bad, SECRET)
