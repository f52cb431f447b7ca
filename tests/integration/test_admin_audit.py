"""The audit log page: filters by actor, action and local dates; pagination."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from filmsphere.extensions import db
from filmsphere.models import Role
from filmsphere.services.ops.audit import record_audit
from tests import factories
from tests.conftest import pager_link

from .test_admin_support import admin_client, post


def test_audit_page_filters_and_paginates(backend, app, client):
    admin_id = admin_client(client, app)
    with app.app_context():
        other = factories.make_user(Role.ADMIN, username="deputy")
        base = datetime(2026, 7, 1, 12, tzinfo=UTC)
        for i in range(55):
            record_audit(
                actor_id=admin_id,
                action="film.update",
                target_type="film",
                target_id=i,
                now=base + timedelta(minutes=i),
                after={"title": f"<b>Film {i}</b>"},
            )
        record_audit(
            actor_id=other.id,
            action="user.role",
            target_type="user",
            target_id=9,
            now=base - timedelta(days=3),
            before={"role": "customer"},
            after={"role": "staff"},
        )
        db.session.commit()
    first = client.get("/admin/audit").get_data(as_text=True)
    assert entries(first) == 50 and 'rel="prev"' not in first
    assert "<b>Film" not in first  # JSON is escaped, never markup
    second = client.get(pager_link(first, "next")).get_data(as_text=True)
    assert entries(second) == 6 and "user.role" in second and 'rel="next"' not in second
    assert client.get("/admin/audit?page=2").status_code == 400  # not a cursor this app made
    by_actor = client.get("/admin/audit?actor=deputy").get_data(as_text=True)
    assert entries(by_actor) == 1 and '{"role": "staff"}' in by_actor
    by_action = client.get("/admin/audit?action=user.role").get_data(as_text=True)
    assert entries(by_action) == 1
    by_date = client.get("/admin/audit?from=2026-06-27&to=2026-06-29").get_data(as_text=True)
    assert entries(by_date) == 1
    assert client.get("/admin/audit?from=June").status_code == 422


def entries(html: str) -> int:
    """Audit rows on the page (each shows its action in a code cell)."""
    return html.count("<td><code>")


def test_admin_actions_write_audit_rows_in_their_transaction(backend, app, client):
    """A refused action leaves no audit row; a successful one leaves exactly one."""
    admin_client(client, app)
    with app.app_context():
        user_id = factories.make_user(coins=5).id
    assert (
        post(
            client, f"/admin/users/{user_id}/coins", {"amount_coins": "-6", "reason": "x"}
        ).status_code
        == 422
    )
    assert entries(client.get("/admin/audit").get_data(as_text=True)) == 0
    assert (
        post(
            client, f"/admin/users/{user_id}/coins", {"amount_coins": "-5", "reason": "x"}
        ).status_code
        == 303
    )
    page = client.get("/admin/audit?action=wallet.adjust").get_data(as_text=True)
    assert entries(page) == 1
