"""Log-in sessions end on the server: logout, "log out everywhere", a password change or
reset and deactivation refuse copies of the session and remember cookies."""

from __future__ import annotations

import re
from datetime import timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, select, update

from filmsphere.extensions import db
from filmsphere.models import OutboxMessage, UserSession, utcnow
from filmsphere.services.accounts import accounts
from filmsphere.services.accounts.account_requests import process_account_requests
from filmsphere.services.mail.emails import render_message
from filmsphere.services.ops.cleanup import run_cleanup

from ..conftest import get_csrf
from ..factories import PASSWORD, make_user

NEW = "Blue-Whale-Sings-9"
REMEMBER = "remember_token"


def log_in(
    app: Flask, username: str, remember: bool = False, password: str = PASSWORD
) -> FlaskClient:
    client = app.test_client()
    data = {"login": username, "password": password, "csrf_token": get_csrf(client, "/auth/login")}
    if remember:
        data["remember"] = "y"
    assert client.post("/auth/login", data=data).status_code == 303
    return client


def post(client: FlaskClient, path: str, data: dict[str, str] | None = None) -> Any:
    token = get_csrf(client, "/account")
    return client.post(path, data={**(data or {}), "csrf_token": token})


def copy_of(app: Flask, client: FlaskClient, *names: str) -> FlaskClient:
    """Another browser holding copies of the named cookies (a stolen cookie)."""
    thief = app.test_client()
    for name in names:
        cookie = client.get_cookie(name)
        assert cookie is not None, name
        thief.set_cookie(name, cookie.value)
    return thief


def signed_in(client: FlaskClient) -> bool:
    status = client.get("/wallet").status_code
    assert status in (200, 302)
    return status == 200


@pytest.fixture
def user(app: Flask) -> str:
    with app.app_context():
        return make_user(username="sam", email="sam@example.com").username


def test_logout_refuses_a_copied_session_cookie(backend: str, app: Flask, user: str) -> None:
    browser = log_in(app, user)
    thief = copy_of(app, browser, "session")
    assert signed_in(thief)
    assert post(browser, "/auth/logout").status_code == 303
    assert not signed_in(browser)
    assert not signed_in(thief)


def test_logout_refuses_the_remember_cookie_and_deletes_it(
    backend: str, app: Flask, user: str
) -> None:
    browser = log_in(app, user, remember=True)
    thief = copy_of(app, browser, REMEMBER)  # no session cookie: the remember cookie alone
    assert signed_in(thief)
    response = post(browser, "/auth/logout")
    assert browser.get_cookie(REMEMBER) is None  # the browser is told to drop it
    assert any(h.startswith(f"{REMEMBER}=;") for h in response.headers.getlist("Set-Cookie"))
    assert not signed_in(copy_of(app, thief, REMEMBER))
    assert not signed_in(thief)


def test_logout_of_a_session_opened_by_the_remember_cookie_ends_it(
    backend: str, app: Flask, user: str
) -> None:
    browser = log_in(app, user, remember=True)
    reopened = copy_of(app, browser, REMEMBER)  # the browser restarted: no session cookie
    assert post(reopened, "/auth/logout").status_code == 303
    assert not signed_in(browser)  # one log-in, ended wherever its cookies are


def test_remember_cookie_is_lax_http_only_and_lasts_remember_days(
    backend: str, app: Flask, user: str
) -> None:
    client = app.test_client()
    data = {"login": user, "password": PASSWORD, "remember": "y"}
    response = client.post("/auth/login", data={**data, "csrf_token": get_csrf(client)})
    header = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith(REMEMBER))
    assert "SameSite=Lax" in header and "HttpOnly" in header
    expires = re.search(r"Expires=([^;]+)", header)
    assert expires
    lasts = parsedate_to_datetime(expires.group(1)) - utcnow()
    assert timedelta(days=30) - timedelta(minutes=1) < lasts <= timedelta(days=30)
    assert app.config["REMEMBER_DAYS"] == 30
    with app.app_context():
        row = db.session.scalars(select(UserSession)).one()
        assert row.expires_at - row.created_at == timedelta(days=30)


def test_a_session_without_remember_me_ends_on_the_server_after_session_hours(
    backend: str, app: Flask, user: str
) -> None:
    browser = log_in(app, user)
    with app.app_context():
        row = db.session.scalars(select(UserSession)).one()
        assert row.expires_at - row.created_at == timedelta(hours=24)
        db.session.execute(update(UserSession).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert not signed_in(browser)
    with app.app_context():
        assert run_cleanup(utcnow()).sessions_deleted == 1
        assert db.session.scalar(select(func.count()).select_from(UserSession)) == 0


def test_log_out_everywhere_ends_every_session_of_the_user_only(
    backend: str, app: Flask, user: str
) -> None:
    phone = log_in(app, user, remember=True)
    laptop = log_in(app, user)
    stolen = copy_of(app, phone, REMEMBER)
    with app.app_context():
        other = make_user().username
    someone_else = log_in(app, other)

    page = laptop.get("/account").get_data(as_text=True)
    assert "logged in on 2 devices or browsers" in page
    assert laptop.get("/account/logout-everywhere").status_code == 405
    assert laptop.post("/account/logout-everywhere").status_code == 400  # no CSRF token
    response = post(laptop, "/account/logout-everywhere")
    assert response.status_code == 303 and response.headers["Location"] == "/auth/login"
    assert not any(signed_in(c) for c in (phone, laptop, stolen))
    assert signed_in(someone_else)
    assert app.test_client().post("/account/logout-everywhere").status_code == 400
    anonymous = app.test_client()
    token = get_csrf(anonymous, "/auth/login")
    assert (
        anonymous.post("/account/logout-everywhere", data={"csrf_token": token}).status_code == 302
    )


def test_the_user_and_the_session_are_one_query(backend: str, app: Flask, user: str) -> None:
    browser = log_in(app, user)
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert browser.get("/wallet").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    loads = [s for s in statements if re.search(r"\bFROM users\b", s)]
    assert len(loads) == 1 and "user_sessions" in loads[0], loads
    assert not any("user_sessions" in s for s in statements if s not in loads)


# --- every way the password changes: what stood for the old one dies with it --------------


def _reset_link(app: Flask) -> str:
    with app.app_context():
        accounts.request_password_reset("sam@example.com", utcnow())
        process_account_requests(utcnow())  # the mail sender's part
        message = db.session.scalars(
            select(OutboxMessage).order_by(OutboxMessage.id.desc())
        ).first()
        assert message is not None
        body = render_message(message).text
    found = re.search(r"/auth/reset/\S+", body)
    assert found
    return found.group(0)


def _change_on_account_page(app: Flask, browser: FlaskClient) -> None:
    data = {"current_password": PASSWORD, "new_password": NEW}
    assert post(browser, "/account", data).status_code == 303
    assert signed_in(browser)  # the session that changed it goes on


def _reset_with_a_link(app: Flask, browser: FlaskClient) -> None:
    path = _reset_link(app)
    reset = app.test_client()
    token = get_csrf(reset, path)
    assert reset.post(path, data={"password": NEW, "csrf_token": token}).status_code == 303
    assert reset.get(path).status_code == 410  # used: gone, as before
    assert not signed_in(browser)  # every session ends


@pytest.mark.parametrize("change", [_change_on_account_page, _reset_with_a_link])
def test_a_password_change_kills_earlier_reset_links_and_other_log_ins(
    backend: str, app: Flask, user: str, change: Any
) -> None:
    browser = log_in(app, user)
    phone = log_in(app, user, remember=True)
    stolen = copy_of(app, phone, REMEMBER)
    earlier_link = _reset_link(app)
    with app.app_context():
        assert accounts.reset_token_valid(earlier_link.rsplit("/", 1)[1], utcnow())

    change(app, browser)

    assert not signed_in(phone) and not signed_in(stolen)
    visitor = app.test_client()
    assert visitor.get(earlier_link).status_code == 410
    token = get_csrf(visitor, "/auth/login")
    used = visitor.post(earlier_link, data={"password": "Another-Pass-77", "csrf_token": token})
    assert used.status_code == 410
    assert signed_in(log_in(app, user, password=NEW))


def test_only_set_password_writes_a_password_hash() -> None:
    """Every password change goes through accounts._set_password, which retires reset
    links and ends sessions: no other code assigns password_hash of an existing user."""
    from pathlib import Path

    package = Path(__file__).resolve().parents[2] / "filmsphere"
    writers = sorted(
        f"{path.relative_to(package)}:{n}"
        for path in package.rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\.password_hash\s*=[^=]", line)
    )
    assert len(writers) == 1 and writers[0].startswith("services/accounts/accounts.py:"), writers
