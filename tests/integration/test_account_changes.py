"""A customer's own account: signed in by the emailed code right after registering,
name and email changes (confirmed from the new address, the old one told), and closing
the account (refused while tickets remain; then anonymised, bookings and ledger kept).
Mail goes through the real SMTP test server."""

# The SMTP fixtures are test_auth's, imported: their names come back as test parameters.
# ruff: noqa: F811

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from filmsphere.extensions import db
from filmsphere.models import Booking, LedgerEntry, OutboxMessage, Role, Ticket, User, Wallet
from filmsphere.models.types import utcnow
from filmsphere.services.mail.mailer import send_pending
from filmsphere.services.wallet.wallet import unbalanced_wallets

from .. import factories
from ..support.smtp import Inbox
from .test_auth import (  # noqa: F401 - fixtures
    GOOD,
    NEW,
    app_overrides,
    code_and_link,
    deliver,
    inbox,
    local,
    page,
    post,
    register,
    smtp,
    text_of,
)
from .test_sessions import copy_of, log_in, signed_in

SESSION = "session"


def _link(message: Any, path: str) -> str:
    found = re.search(rf"(http\S+{path}\S+)", text_of(message))
    assert found, text_of(message)
    return local(found.group(1))


def _user(app: Flask, user_id: int) -> User:
    with app.app_context():
        user = db.session.get(User, user_id)
        assert user is not None
        db.session.expunge(user)
        return user


# --- registering: the code signs you in -----------------------------------------------


def test_the_verify_page_knows_the_address_and_its_code_signs_you_in(
    backend: str, app: Flask, client: FlaskClient, inbox: Inbox
) -> None:
    response = register(client, email="Ann@Example.com")
    assert response.headers["Location"].startswith("/auth/verify")
    verify_page = page(client.get(response.headers["Location"]))
    assert 'value="Ann@example.com"' in verify_page  # the email field, filled in
    assert "<strong>Ann@example.com</strong>" in verify_page
    code, _ = code_and_link(deliver(app, inbox, "Ann@example.com"))

    entered = post(client, "/auth/verify", {"email": "Ann@example.com", "code": code})

    assert entered.status_code == 303 and entered.headers["Location"] == "/"
    assert "You are logged in." in page(client.get("/"))
    assert signed_in(client)  # no second log-in
    assert "verified" in page(client.get("/account"))


def test_the_emailed_link_signs_in_the_browser_that_registered(
    backend: str, app: Flask, client: FlaskClient, inbox: Inbox
) -> None:
    register(client)
    _, link = code_and_link(deliver(app, inbox, "ann@example.com"))
    assert client.get(local(link)).status_code == 303
    assert signed_in(client)


def test_a_code_entered_in_another_browser_verifies_but_signs_nobody_in(
    backend: str, app: Flask, client: FlaskClient, inbox: Inbox
) -> None:
    register(client)
    code, _ = code_and_link(deliver(app, inbox, "ann@example.com"))
    elsewhere = app.test_client()
    entered = post(elsewhere, "/auth/verify", {"email": "ann@example.com", "code": code})
    assert entered.headers["Location"] == "/auth/login"
    assert not signed_in(elsewhere) and not signed_in(client)


def test_registering_a_taken_address_shows_the_same_verify_page(
    backend: str, app: Flask, inbox: Inbox
) -> None:
    with app.app_context():
        factories.make_user(username="old", email="taken@example.com")
    pages = []
    for email, username in (("taken@example.com", "newbie"), ("free@example.com", "other")):
        browser = app.test_client()
        response = register(browser, email=email, username=username)
        html = page(browser.get(response.headers["Location"]))
        html = re.sub(r'name="csrf-token" content="[^"]+"', "", html)
        html = re.sub(r'name="csrf_token" type="hidden" value="[^"]+"', "", html)
        html = re.sub(r'csrf_token" value="[^"]+"', "", html)
        pages.append(html.replace(email, "ADDRESS"))
    assert pages[0] == pages[1]
    # The owner of the taken address was told; nobody got a code for it.
    assert "already" in text_of(deliver(app, inbox, "taken@example.com"))


# --- name -----------------------------------------------------------------------------


def test_change_name(backend: str, app: Flask) -> None:
    with app.app_context():
        user_id = factories.make_user(username="sam", email="sam@example.com").id
    client = log_in(app, "sam")
    assert post(client, "/account/name", {"full_name": "  Sam   Spade "}).status_code == 303
    assert _user(app, user_id).full_name == "Sam Spade"
    assert "Sam Spade" in page(client.get("/account"))

    bad = post(client, "/account/name", {"full_name": "x" * 121})
    assert bad.status_code == 422 and "at most 120" in page(bad)
    assert post(client, "/account/name", {"full_name": "   "}).status_code == 422
    assert _user(app, user_id).full_name == "Sam Spade"


# --- email ----------------------------------------------------------------------------


def _sam(app: Flask) -> int:
    with app.app_context():
        return factories.make_user(username="sam", email="sam@example.com").id


def test_a_new_address_counts_once_its_link_is_followed_and_the_old_one_is_told(
    backend: str, app: Flask, inbox: Inbox
) -> None:
    user_id = _sam(app)
    client = log_in(app, "sam")
    wrong = post(client, "/account/email", {"new_email": "s@new.example", "email_password": "no"})
    assert wrong.status_code == 422 and "not right" in page(wrong)

    asked = post(
        client,
        "/account/email",
        {"new_email": "Sam@New.example", "email_password": factories.PASSWORD},
    )
    assert asked.status_code == 303
    assert "We sent a link to Sam@new.example" in page(client.get("/account"))
    link = _link(deliver(app, inbox, "Sam@new.example"), "/account/email/")
    assert "Sam@new.example" in text_of(deliver(app, inbox, "sam@example.com"))
    # Nothing changed yet: the old address still logs in.
    assert _user(app, user_id).email == "sam@example.com"
    assert signed_in(log_in(app, "sam@example.com"))

    # Opening the link (a mail scanner would) changes nothing; the button does.
    shown = client.get(link)
    assert shown.status_code == 200 and "Sam@new.example" in page(shown)
    assert _user(app, user_id).email == "sam@example.com"
    confirmed = post(client, link, {}, csrf_page=link)
    assert confirmed.status_code == 303 and confirmed.headers["Location"] == "/account"

    user = _user(app, user_id)
    assert user.email == "Sam@new.example" and user.email_verified_at is not None
    told = text_of(deliver(app, inbox, "sam@example.com"))
    assert "is now Sam@new.example" in " ".join(told.split())
    assert signed_in(log_in(app, "sam@new.example"))
    assert client.get(link).status_code == 410  # used once


def test_an_address_with_an_account_gets_a_note_and_the_answer_is_the_same(
    backend: str, app: Flask, inbox: Inbox
) -> None:
    user_id = _sam(app)
    with app.app_context():
        factories.make_user(username="tess", email="tess@example.com")
    client = log_in(app, "sam")
    asked = post(
        client,
        "/account/email",
        {"new_email": "tess@example.com", "email_password": factories.PASSWORD},
    )
    assert asked.status_code == 303
    assert "We sent a link to tess@example.com" in page(client.get("/account"))
    note = text_of(deliver(app, inbox, "tess@example.com"))
    assert "already has an account" in " ".join(note.split())
    assert "/account/email/" not in note and "Sam" not in note
    assert _user(app, user_id).email == "sam@example.com"


def _pending_change(app: Flask, inbox: Inbox, address: str) -> tuple[int, FlaskClient, str]:
    """Sam, logged in, has asked to move to `address`: (user id, client, the link)."""
    user_id = _sam(app)
    client = log_in(app, "sam")
    post(client, "/account/email", {"new_email": address, "email_password": factories.PASSWORD})
    return user_id, client, _link(deliver(app, inbox, address), "/account/email/")


def test_a_password_change_cancels_a_pending_address(
    backend: str, app: Flask, inbox: Inbox
) -> None:
    user_id, client, link = _pending_change(app, inbox, "x@new.example")
    changed = post(
        client, "/account", {"current_password": factories.PASSWORD, "new_password": NEW}
    )
    assert changed.status_code == 303
    visitor = app.test_client()
    assert visitor.get(link).status_code == 410
    assert _user(app, user_id).email == "sam@example.com"


def test_an_address_taken_meanwhile_is_refused_at_the_link(
    backend: str, app: Flask, inbox: Inbox
) -> None:
    user_id, client, link = _pending_change(app, inbox, "x@new.example")
    with app.app_context():
        factories.make_user(username="quick", email="X@new.example")
    refused = post(client, link, {}, csrf_page=link)
    assert refused.status_code == 409 and "Another account uses that address" in page(refused)
    assert _user(app, user_id).email == "sam@example.com"


# --- closing --------------------------------------------------------------------------


def _close(client: FlaskClient, password: str = factories.PASSWORD, tick: bool = True) -> Any:
    data = {"close_password": password}
    if tick:
        data["understood"] = "y"
    return post(client, "/account/close", data, csrf_page="/account/close")


def test_closing_is_refused_while_a_ticket_can_still_be_used(
    backend: str, app: Flask, inbox: Inbox
) -> None:
    with app.app_context():
        sam = factories.make_user(username="sam", email="sam@example.com")
        booking = factories.make_booking(sam, factories.make_show(starts_in=timedelta(days=2)))
        reference, user_id = booking.reference, sam.id
    client = log_in(app, "sam")
    listed = client.get("/account/close")
    assert f'href="/bookings/{reference}"' in page(listed)
    assert 'name="close_password"' not in page(listed)  # no form while tickets remain

    refused = _close(client)
    assert refused.status_code == 409 and "Cancel them first" in page(refused)
    assert _user(app, user_id).closed_at is None and signed_in(client)


def test_closing_anonymises_the_account_and_keeps_bookings_and_ledger(
    backend: str, app: Flask, inbox: Inbox
) -> None:
    with app.app_context():
        sam = factories.make_user(username="sam", email="sam@example.com")
        show = factories.make_show(starts_in=timedelta(days=2))
        booking = factories.make_booking(sam, show, ("A1", "A2"))
        ticket = booking.tickets[1]
        ticket.checked_in_at = utcnow()  # one used
        booking.tickets[0].status = "cancelled"  # one cancelled: nothing left to use
        db.session.commit()
        user_id, booking_id = sam.id, booking.id
        entries = db.session.scalar(
            select(func.count())
            .select_from(LedgerEntry)
            .join(Wallet)
            .where(Wallet.user_id == user_id)
        )
    client = log_in(app, "sam")
    phone = log_in(app, "sam", remember=True)
    stolen = copy_of(app, client, SESSION)

    assert _close(client, password="wrong").status_code == 422
    assert _close(client, tick=False).status_code == 422
    closed = _close(client)
    assert closed.status_code == 303 and closed.headers["Location"] == "/"

    # Every session ended, the name and address gone, log-in impossible.
    assert not signed_in(client) and not signed_in(phone) and not signed_in(stolen)
    user = _user(app, user_id)
    assert user.closed_at is not None and not user.is_active_account
    assert "sam" not in (user.email + user.username + user.full_name).lower()
    login = app.test_client()
    for name in ("sam", "sam@example.com", user.username):
        from ..conftest import get_csrf

        data = {
            "login": name,
            "password": factories.PASSWORD,
            "csrf_token": get_csrf(login, "/auth/login"),
        }
        assert login.post("/auth/login", data=data).status_code == 422
    # Bookings, tickets and the ledger are kept and balance.
    with app.app_context():
        assert db.session.get(Booking, booking_id) is not None
        assert (
            db.session.scalar(
                select(func.count()).select_from(Ticket).where(Ticket.booking_id == booking_id)
            )
            == 2
        )
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(LedgerEntry)
                .join(Wallet)
                .where(Wallet.user_id == user_id)
            )
            == entries
        )
        assert unbalanced_wallets() == []
        # No mail kept with the old address but the goodbye note.
        kept = db.session.scalars(
            select(OutboxMessage.kind).where(
                func.lower(OutboxMessage.to_address) == "sam@example.com"
            )
        ).all()
        assert kept == ["account_closed"]
    assert "account is closed" in text_of(deliver(app, inbox, "sam@example.com"))
    with app.app_context():
        send_pending(utcnow())

    # The address is free again: a new account can use it.
    again = register(app.test_client(), email="sam@example.com", username="sam")
    assert again.status_code == 303
    with app.app_context():
        assert db.session.scalar(select(User).where(User.email == "sam@example.com")) is not None


def test_staff_accounts_are_not_closed_by_their_owner(backend: str, app: Flask) -> None:
    with app.app_context():
        staff_id = factories.make_user(Role.STAFF, username="stan").id
    client = log_in(app, "stan")
    refused = _close(client)
    assert refused.status_code == 409 and "closed by an administrator" in page(refused)
    assert _user(app, staff_id).closed_at is None and signed_in(client)


def test_an_admin_cannot_reactivate_a_closed_account(backend: str, app: Flask) -> None:
    from filmsphere.services.accounts.account_changes import close_account
    from filmsphere.services.accounts.admin_users import set_active
    from filmsphere.services.errors import Conflict

    with app.app_context():
        admin_id = factories.make_user(Role.ADMIN).id
        user_id = factories.make_user(username="sam").id
        close_account(user_id, factories.PASSWORD, utcnow())
        with pytest.raises(Conflict, match="can't be reactivated"):
            set_active(admin_id, user_id, True, utcnow())
    assert not _user(app, user_id).is_active_account


def test_closing_revokes_the_accounts_api_tokens(backend: str, app: Flask) -> None:
    from filmsphere.models import ApiToken
    from filmsphere.services.accounts import api_tokens
    from filmsphere.services.accounts.account_changes import close_account

    with app.app_context():
        sam_id = factories.make_user(username="sam").id
        other_id = factories.make_user(username="olive").id
        mine = api_tokens.create_token(sam_id, "phone", ["read"], utcnow())
        api_tokens.create_token(other_id, "kiosk", ["read"], utcnow())
        close_account(sam_id, factories.PASSWORD, utcnow())
        rows = db.session.execute(select(ApiToken.name, ApiToken.revoked_at)).all()
        revoked = {name: at for name, at in rows}
        assert revoked["phone"] is not None and revoked["kiosk"] is None
    client = app.test_client()
    answer = client.get("/api/v1/wallet", headers={"Authorization": f"Bearer {mine.secret}"})
    assert answer.status_code == 401


def test_the_account_page_has_the_token_and_the_account_change_forms(
    backend: str, app: Flask
) -> None:
    with app.app_context():
        factories.make_user(username="sam")
    html = page(log_in(app, "sam").get("/account"))
    for action in ("/account/name", "/account/email", "/account", "/account/api-tokens"):
        assert f'action="{action}' in html
    assert 'href="/account/close"' in html
