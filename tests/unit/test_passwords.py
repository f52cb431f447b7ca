"""Password strength rules and username/email checks (no database)."""

from __future__ import annotations

import pytest

from filmsphere.services.accounts.accounts import (
    COMMON_PASSWORDS,
    InvalidInput,
    check_username,
    password_problems,
)


@pytest.mark.parametrize(
    "password",
    ["Tangerine-Lamp-42", "blue.Whale.sings9", "all lower case and long enough"],
)
def test_strong_passwords_pass(password: str) -> None:
    assert password_problems(password, "ann", "ann@example.com") == []


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        ("Short-1a", "at least 10 characters"),
        ("abcdefghijkl", "Mix at least three"),
        ("ABCDEFGH1234", "Mix at least three"),
        ("Annabel-2024!", "username or email"),
        ("xx-ANNABEL-99", "username or email"),
        ("Password123!", "too common"),
    ],
)
def test_weak_passwords_are_explained(password: str, expected: str) -> None:
    problems = " ".join(password_problems(password, "annabel", "annabel@example.com"))
    assert expected in problems


def test_email_local_part_is_refused_too() -> None:
    problems = password_problems("Moviebuff-2026!", "someone", "moviebuff@example.com")
    assert any("username or email" in p for p in problems)


def test_common_list_entries_would_otherwise_pass_length() -> None:
    # The common list is only useful for entries the other rules let through.
    passing_other_rules = [p for p in COMMON_PASSWORDS if len(p) >= 10]
    assert passing_other_rules


@pytest.mark.parametrize("name", ["ann", "Ann.Lee-2", "a_b", "x" * 32])
def test_usernames_accepted(name: str) -> None:
    assert check_username(name) == name


@pytest.mark.parametrize("name", ["ab", "x" * 33, "ann lee", "ann@home", "émile"])
def test_usernames_refused(name: str) -> None:
    with pytest.raises(InvalidInput):
        check_username(name)


def test_the_app_default_hash_is_scrypt() -> None:
    """Only the test config speeds hashing up; production keeps werkzeug's scrypt."""
    from flask import Flask

    from filmsphere.config import Config, TestConfig
    from filmsphere.services.accounts.accounts import hash_password

    assert Config().PASSWORD_HASH_METHOD is None
    assert TestConfig().PASSWORD_HASH_METHOD == "pbkdf2:sha256:1000"
    app = Flask(__name__)
    app.config["PASSWORD_HASH_METHOD"] = None
    with app.app_context():
        assert hash_password("Tangerine-Lamp-42").startswith("scrypt:")
