"""Helpers for the admin tests (no tests here): sign in through the session, seed data."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from filmsphere.extensions import db
from filmsphere.models import Role, User, utcnow
from filmsphere.services.accounts.sessions import start_session
from tests import factories
from tests.conftest import csrf_from


def sign_in(client: FlaskClient, app: Flask, user_id: int) -> None:
    """Put the user in the client's session as flask-login would after a log-in."""
    with app.app_context():
        user = db.session.get(User, user_id)
        assert user is not None
        token = start_session(user, remember=False, now=utcnow())
    with client.session_transaction() as session:
        session["_user_id"] = token
        session["_fresh"] = True


def admin_client(client: FlaskClient, app: Flask) -> int:
    """Create an admin, sign the client in as them, return the admin's id."""
    with app.app_context():
        admin_id = factories.make_user(Role.ADMIN, username="boss").id
    sign_in(client, app, admin_id)
    return admin_id


def token(client: FlaskClient, path: str = "/admin/") -> str:
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return csrf_from(response.get_data(as_text=True))


def post(client: FlaskClient, path: str, data: dict[str, object] | None = None, **kw: object):  # type: ignore[no-untyped-def]
    """POST with the CSRF token read from the admin dashboard, as a browser would."""
    form = {"csrf_token": token(client)}
    form.update(data or {})
    return client.post(path, data=form, **kw)
