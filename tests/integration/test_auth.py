"""Accounts through the web: register, verify, log in/out, reset, change password, limits."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from filmsphere.extensions import db
from filmsphere.models import (
    AccountRequest,
    AccountToken,
    LedgerEntry,
    OutboxMessage,
    Role,
    User,
    Wallet,
)
from filmsphere.models.types import utcnow
from filmsphere.services.accounts import accounts
from filmsphere.services.accounts.account_requests import process_account_requests
from filmsphere.services.mail.emails import render_message
from filmsphere.services.mail.mailer import send_pending

from ..conftest import get_csrf
from ..factories import PASSWORD, make_user
from ..support.smtp import Inbox, smtp_server

GOOD = "Tangerine-Lamp-42"
NEW = "Blue-Whale-Sings-9"
CHECK_EMAIL_TEXT = "Check your email to finish."


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def app_overrides(smtp: tuple[Inbox, int]) -> dict[str, Any]:
    return {"MAIL_PORT": smtp[1]}


@pytest.fixture
def inbox(smtp: tuple[Inbox, int]) -> Inbox:
    return smtp[0]


def post(client: FlaskClient, path: str, data: dict[str, str], **kwargs: Any) -> Any:
    token = get_csrf(client, kwargs.pop("csrf_page", path))
    return client.post(path, data={**data, "csrf_token": token}, **kwargs)


def register(
    client: FlaskClient,
    email: str = "ann@example.com",
    username: str = "ann",
    password: str = GOOD,
    full_name: str = "Ann Example",
) -> Any:
    """Sign up through the form, then let the mail sender act on the request."""
    response = post(
        client,
        "/auth/register",
        {"email": email, "username": username, "full_name": full_name, "password": password},
    )
    with client.application.app_context():
        process_account_requests(utcnow())
    return response


def log_in(client: FlaskClient, login: str, password: str, next_: str = "") -> Any:
    return post(client, "/auth/login", {"login": login, "password": password, "next": next_})


def deliver(app: Flask, inbox: Inbox, to: str) -> EmailMessage:
    """Send the outbox through the real SMTP server; return the newest message to `to`."""
    with app.app_context():
        send_pending(utcnow())
    received = inbox.to(to)
    assert received, f"no mail arrived for {to}"
    return received[-1]


def text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def code_and_link(message: EmailMessage) -> tuple[str, str]:
    text = text_of(message)
    code = re.search(r"^\s+(\d{6})\s*$", text, re.M)
    link = re.search(r"(http\S+/auth/verify\?token=\S+)", text)
    assert code and link, text
    return code.group(1), link.group(1)


def local(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def page(response: Any) -> str:
    return str(response.get_data(as_text=True))


def user_named(app: Flask, username: str) -> User:
    with app.app_context():
        user = db.session.scalars(select(User).where(User.username == username)).one()
        db.session.expunge(user)
        return user


# --- registration -------------------------------------------------------------------------


def test_register_grants_coins_and_mails_code_and_link(
    backend: str, app: Flask, client: FlaskClient, inbox: Inbox
) -> None:
    response = register(client)
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/auth/verify")
    assert CHECK_EMAIL_TEXT in page(client.get(response.headers["Location"]))

    with app.app_context():
        user = db.session.scalars(select(User).where(User.username == "ann")).one()
        assert user.role == Role.CUSTOMER and user.email_verified_at is None
        wallet = db.session.scalars(select(Wallet).where(Wallet.user_id == user.id)).one()
        entries = db.session.scalars(
            select(LedgerEntry).where(LedgerEntry.wallet_id == wallet.id)
        ).all()
        assert wallet.balance_coins == 1500
        assert [(e.kind, e.amount_coins) for e in entries] == [("signup_grant", 1500)]
        # Only hashes are stored: neither the code nor the link token appear.
        hashes = db.session.scalars(select(AccountToken.secret_hash)).all()

    message = deliver(app, inbox, "ann@example.com")
    code, link = code_and_link(message)
    assert code in str(message["Subject"])
    html = message.get_body(preferencelist=("html",))
    assert html is not None and code in html.get_content()
    assert all(code not in h and link.split("=")[-1] not in h for h in hashes)
    assert len(hashes) == 2


def test_verify_by_code_when_logged_in(
    backend: str, app: Flask, client: FlaskClient, inbox: Inbox
) -> None:
    register(client)
    code, _ = code_and_link(deliver(app, inbox, "ann@example.com"))
    log_in(client, "ann", GOOD)
    assert "not verified" in page(client.get("/account"))

    wrong = "000000" if code != "000000" else "111111"
    response = post(client, "/auth/verify", {"code": wrong})
    assert response.status_code == 422
    assert "4 attempts left" in page(response)

    response = post(client, "/auth/verify", {"code": code, "next": "/account"})
    assert response.status_code == 303 and response.headers["Location"] == "/account"
    assert user_named(app, "ann").email_verified_at is not None
    # Used once: the same code no longer works.
    assert post(client, "/auth/verify", {"code": code}, csrf_page="/account").status_code == 422


def test_verify_by_link_is_single_use(
    backend: str, app: Flask, client: FlaskClient, inbox: Inbox
) -> None:
    register(client)
    _, link = code_and_link(deliver(app, inbox, "ann@example.com"))
    elsewhere = app.test_client()  # not the browser that registered: log in as usual
    response = elsewhere.get(local(link))
    assert response.status_code == 303 and response.headers["Location"] == "/auth/login"
    assert user_named(app, "ann").email_verified_at is not None
    again = elsewhere.get(local(link))
    assert again.status_code == 422 and "not valid any more" in page(again)


def test_verify_by_code_logged_out_with_email(
    backend: str, app: Flask, client: FlaskClient, inbox: Inbox
) -> None:
    register(client)
    code, _ = code_and_link(deliver(app, inbox, "ann@example.com"))
    response = post(client, "/auth/verify", {"email": "ANN@example.com", "code": code})
    assert response.status_code == 303
    assert user_named(app, "ann").email_verified_at is not None


def test_code_attempts_are_capped_at_five(
    backend: str, app: Flask, client: FlaskClient, inbox: Inbox
) -> None:
    register(client)
    code, link = code_and_link(deliver(app, inbox, "ann@example.com"))
    log_in(client, "ann", GOOD)
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        assert post(client, "/auth/verify", {"code": wrong}).status_code == 422
    response = post(client, "/auth/verify", {"code": code})
    assert response.status_code == 422
    assert user_named(app, "ann").email_verified_at is None

    # A new code (resend) works, and the old link stopped working.
    assert post(client, "/auth/verify/resend", {}, csrf_page="/auth/verify").status_code == 303
    new_code, _ = code_and_link(deliver(app, inbox, "ann@example.com"))
    assert client.get(local(link)).status_code == 422
    assert post(client, "/auth/verify", {"code": new_code}).status_code == 303
    assert user_named(app, "ann").email_verified_at is not None


def test_verification_code_expires(backend: str, ctx: Flask) -> None:
    then = utcnow() - timedelta(minutes=31)
    accounts.submit_registration("bob@example.com", "bob", "Bob", GOOD, then)
    process_account_requests(then)
    message = db.session.scalars(select(OutboxMessage)).one()
    code = re.search(r"^\s+(\d{6})\s*$", render_message(message).text, re.M)
    assert code
    user = db.session.scalars(select(User)).one()
    with pytest.raises(accounts.InvalidToken):
        accounts.verify_email(utcnow(), code=code.group(1), user_id=user.id)
    assert accounts.verify_email(then, code=code.group(1), user_id=user.id).is_verified


def test_verified_required_sends_unverified_users_to_verify(
    backend: str, app: Flask, client: FlaskClient
) -> None:
    from flask_login import current_user

    from filmsphere.security import verified_required

    @verified_required
    def members_only() -> str:
        return f"hello {current_user.username}"

    app.add_url_rule("/members-only", "members_only", members_only)
    with app.app_context():
        make_user(verified=False, username="unv")
    log_in(client, "unv", PASSWORD)
    response = client.get("/members-only")
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/auth/verify"
    assert "next=" in response.headers["Location"]


# --- duplicate registration reveals nothing ----------------------------------------------------


def _visible(response: Any, client: FlaskClient) -> tuple[int, str, str]:
    location = response.headers.get("Location", "")
    followed = page(client.get(location))
    flashes = re.search(r'<div id="flashes".*?</div>', followed, re.S)
    assert flashes
    return response.status_code, location, flashes.group(0)


def test_registration_never_reveals_existing_accounts(
    backend: str, app: Flask, client: FlaskClient, inbox: Inbox
) -> None:
    with app.app_context():
        make_user(email="taken@example.com", username="taken")

    fresh = _visible(register(client, "new@example.com", "newbie"), client)
    same_email = _visible(register(client, "Taken@example.com", "someone"), client)
    same_username = _visible(register(client, "other@example.com", "TAKEN"), client)
    assert fresh == same_email == same_username
    assert CHECK_EMAIL_TEXT in fresh[2]

    with app.app_context():
        assert db.session.scalar(select(func.count(User.id))) == 2  # taken + newbie
    deliver(app, inbox, "taken@example.com")
    assert "you already" in text_of(inbox.to("taken@example.com")[-1])
    assert "already taken" in " ".join(text_of(inbox.to("other@example.com")[-1]).split())
    assert "Your verification code" in text_of(inbox.to("new@example.com")[-1])


def test_reset_request_answer_is_the_same_for_unknown_addresses(
    backend: str, app: Flask, client: FlaskClient, inbox: Inbox
) -> None:
    with app.app_context():
        make_user(email="known@example.com")
    known = _visible(post(client, "/auth/reset", {"email": "known@example.com"}), client)
    unknown = _visible(post(client, "/auth/reset", {"email": "nobody@example.com"}), client)
    assert known == unknown
    deliver(app, inbox, "known@example.com")
    assert inbox.to("nobody@example.com") == []


# --- weak input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short", "at least 10 characters"),
        ("onlylowercase", "Mix at least three"),
        ("Ann-1234-xyz", "username or email"),
        ("Password123!", "too common"),
    ],
)
def test_weak_passwords_are_refused_with_422(
    backend: str, app: Flask, client: FlaskClient, password: str, message: str
) -> None:
    response = register(client, password=password)
    assert response.status_code == 422
    assert message in page(response)
    with app.app_context():
        assert db.session.scalar(select(func.count(User.id))) == 0


def test_bad_email_and_username_are_refused_with_422(
    backend: str, app: Flask, client: FlaskClient
) -> None:
    response = register(client, email="not-an-email")
    assert response.status_code == 422 and "valid email address" in page(response)
    response = register(client, username="a b")
    assert response.status_code == 422 and "Usernames are" in page(response)


# --- log in / out ---------------------------------------------------------------------------


def test_log_in_by_email_or_username_any_case(
    backend: str, app: Flask, client: FlaskClient
) -> None:
    with app.app_context():
        make_user(email="Cleo@Example.com", username="Cleo")
    for login in ("cleo@example.com", "CLEO", "cleo"):
        response = log_in(client, login, PASSWORD, next_="/account")
        assert response.status_code == 303 and response.headers["Location"] == "/account"
        assert "Cleo" in page(client.get("/account"))
        assert post(client, "/auth/logout", {}, csrf_page="/account").status_code == 303


def test_every_login_failure_gets_the_same_answer(
    backend: str, app: Flask, client: FlaskClient
) -> None:
    with app.app_context():
        make_user(username="dora")
        make_user(username="gone", active=False)
    answers = []
    for login, password in (("dora", "Wrong-password-1"), ("nobody", PASSWORD), ("gone", PASSWORD)):
        response = log_in(client, login, password)
        assert response.status_code == 422
        body = page(response)
        assert accounts.GENERIC_LOGIN_ERROR in body
        answers.append(re.sub(r'name="csrf[-_]token" content="[^"]+"|value="[^"]*"', "", body))
        assert client.get("/account").status_code == 302  # not logged in
    assert answers[0] == answers[2]  # wrong password and deactivated look alike


def test_log_out_is_post_only(backend: str, app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        make_user(username="eve")
    log_in(client, "eve", PASSWORD)
    assert client.get("/auth/logout").status_code == 405
    assert client.get("/account").status_code == 200
    response = post(client, "/auth/logout", {}, csrf_page="/account")
    assert response.status_code == 303
    assert client.get("/account").status_code == 302


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/account", "/account"),
        ("https://evil.example/", "/"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
    ],
)
def test_next_only_goes_to_local_paths(
    backend: str, app: Flask, client: FlaskClient, target: str, expected: str
) -> None:
    with app.app_context():
        make_user(username="fay")
    response = log_in(client, "fay", PASSWORD, next_=target)
    assert response.status_code == 303 and response.headers["Location"] == expected


# --- reset and change password ------------------------------------------------------------


def reset_link(message: EmailMessage) -> str:
    found = re.search(r"(http\S+/auth/reset/\S+)", text_of(message))
    assert found
    return local(found.group(1))


def test_reset_password_is_single_use(
    backend: str, app: Flask, client: FlaskClient, inbox: Inbox
) -> None:
    with app.app_context():
        make_user(username="gil", email="gil@example.com", verified=False)
    other = app.test_client()
    log_in(other, "gil", PASSWORD)

    post(client, "/auth/reset", {"email": "gil@example.com"})
    path = reset_link(deliver(app, inbox, "gil@example.com"))
    assert client.get(path).status_code == 200
    weak = post(client, path, {"password": "weak"})
    assert weak.status_code == 422 and "at least 10 characters" in page(weak)
    response = post(client, path, {"password": NEW})
    assert response.status_code == 303 and response.headers["Location"] == "/auth/login"

    assert client.get(path).status_code == 410
    assert post(client, path, {"password": "Another-Pass-77"}, csrf_page="/").status_code == 410
    assert log_in(client, "gil", PASSWORD).status_code == 422
    assert log_in(client, "gil", NEW).status_code == 303
    assert other.get("/account").status_code == 302  # the other session ended
    assert user_named(app, "gil").email_verified_at is not None  # the link proved the address


def test_reset_link_expires(backend: str, app: Flask, client: FlaskClient, inbox: Inbox) -> None:
    with app.app_context():
        make_user(username="hal", email="hal@example.com")
        then = utcnow() - timedelta(minutes=31)
        accounts.request_password_reset("hal@example.com", then)
        process_account_requests(then)  # the sender sent the link 31 minutes ago
    path = reset_link(deliver(app, inbox, "hal@example.com"))
    assert client.get(path).status_code == 410
    assert post(client, path, {"password": NEW}, csrf_page="/").status_code == 410
    assert log_in(client, "hal", PASSWORD).status_code == 303


def test_a_newer_reset_link_retires_the_older(backend: str, ctx: Flask) -> None:
    make_user(username="ida", email="ida@example.com")
    now = utcnow()
    accounts.request_password_reset("ida@example.com", now)
    accounts.request_password_reset("ida@example.com", now)
    process_account_requests(now)
    links = [
        re.search(r"/auth/reset/(\S+)", render_message(m).text)
        for m in db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
    ]
    assert links[0] and links[1]
    assert not accounts.reset_token_valid(links[0].group(1), now)
    assert accounts.reset_token_valid(links[1].group(1), now)


def test_change_password_ends_other_sessions(backend: str, app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        make_user(username="jo")
    other = app.test_client()
    log_in(client, "jo", PASSWORD)
    log_in(other, "jo", PASSWORD)

    wrong = post(client, "/account", {"current_password": "nope", "new_password": NEW})
    assert wrong.status_code == 422 and "current password is not right" in page(wrong)
    weak = post(client, "/account", {"current_password": PASSWORD, "new_password": "jo-weak"})
    assert weak.status_code == 422

    response = post(client, "/account", {"current_password": PASSWORD, "new_password": NEW})
    assert response.status_code == 303
    assert client.get("/account").status_code == 200  # this session goes on
    assert other.get("/account").status_code == 302  # the other one ended
    assert log_in(other, "jo", NEW).status_code == 303


def test_deactivated_user_cannot_log_in(backend: str, app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        make_user(username="kim", active=False)
    response = log_in(client, "kim", PASSWORD)
    assert response.status_code == 422
    assert accounts.GENERIC_LOGIN_ERROR in page(response)
    assert client.get("/account").status_code == 302


# --- CSRF, CLI ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/auth/register",
        "/auth/login",
        "/auth/logout",
        "/auth/verify",
        "/auth/verify/resend",
        "/auth/reset",
        "/auth/reset/some-token",
        "/account",
    ],
)
def test_every_post_without_csrf_token_is_400(
    backend: str, app: Flask, client: FlaskClient, path: str
) -> None:
    with app.app_context():
        make_user(username="lea")
    log_in(client, "lea", PASSWORD)
    response = client.post(
        path, data={"login": "lea", "password": PASSWORD, "email": "lea@example.com"}
    )
    assert response.status_code == 400
    assert "Reload the page" in page(response)


def test_create_admin_command(backend: str, app: Flask, runner: Any) -> None:
    args = ["create-admin", "--email", "boss@example.com", "--username", "boss"]
    args += ["--full-name", "Big Boss", "--password", GOOD]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalars(select(User).where(User.username == "boss")).one()
        assert user.role == Role.ADMIN and user.is_verified
        wallet = db.session.scalars(select(Wallet).where(Wallet.user_id == user.id)).one()
        assert wallet.balance_coins == 1500
    again = runner.invoke(args=args)
    assert again.exit_code != 0 and "exists" in again.output
    weak = runner.invoke(
        args=["create-admin", "--email", "b2@example.com", "--username", "boss2"]
        + ["--full-name", "B", "--password", "weak"]
    )
    assert weak.exit_code != 0 and "at least 10 characters" in weak.output


# --- services called directly --------------------------------------------------------------


def test_register_user_refuses_duplicates_for_programmatic_callers(
    backend: str, ctx: Flask
) -> None:
    user = accounts.register_user("mo@example.com", "mo_1", "Mo", GOOD, utcnow())
    assert user.id and user.role == Role.CUSTOMER
    with pytest.raises(accounts.AccountExists):
        accounts.register_user("MO@example.com", "mo_2", "Mo", GOOD, utcnow())
    with pytest.raises(accounts.AccountExists):
        accounts.register_user("mo2@example.com", "MO_1", "Mo", GOOD, utcnow())
    assert db.session.scalar(select(func.count(User.id))) == 1


@pytest.mark.postgres_only
def test_two_simultaneous_sign_ups_with_one_email_make_one_account(
    backend: str, app: Flask
) -> None:
    """Two senders act on two sign-ups for one address at once; both pass the "is it
    taken?" check together. The unique index refuses the second account; its request
    stays and is turned into the "someone tried to register" note, not an error."""
    import threading

    from filmsphere.services.transaction import set_race_hook

    with app.app_context():
        for n in range(2):
            accounts.submit_registration("same@example.com", f"same{n}", "Same", GOOD, utcnow())
    barrier = threading.Barrier(2, timeout=10)
    calls: list[int] = []

    def hook() -> None:
        calls.append(1)
        if len(calls) <= 2:  # only the first pass of each sender meets the other
            barrier.wait()

    done: list[int] = []
    errors: list[BaseException] = []

    def sender() -> None:
        try:
            with app.app_context():
                done.append(process_account_requests(utcnow()))
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    set_race_hook("accounts.before_register", hook)
    try:
        threads = [threading.Thread(target=sender) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        set_race_hook("accounts.before_register", None)
    assert not errors
    with app.app_context():
        # The loser's request is done later: by the winner going on, or by the next pass.
        assert sum(done) + process_account_requests(utcnow()) == 2
        assert len(calls) == 2  # that time it found the account before the race point
        assert db.session.scalar(select(func.count(User.id))) == 1
        kinds = sorted(db.session.scalars(select(OutboxMessage.kind)))
        assert kinds == ["register_attempt", "verify_email"]
        assert db.session.scalar(select(func.count(AccountRequest.id))) == 0


def test_logged_out_code_failures_do_not_reveal_accounts(
    backend: str, app: Flask, client: FlaskClient
) -> None:
    register(client, "pat@example.com", "pat")
    answers = set()
    for email in ("pat@example.com", "nobody@example.com"):
        response = post(client, "/auth/verify", {"email": email, "code": "999999"})
        assert response.status_code == 422
        errors = re.findall(r'class="field-error"[^>]*>([^<]*)<', page(response))
        answers.add(tuple(errors))
    assert len(answers) == 1 and accounts.INVALID_CODE in next(iter(answers))
