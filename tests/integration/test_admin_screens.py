"""Admin screens: the layout editor, seat generation, and refused layout changes."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from filmsphere.extensions import db
from filmsphere.models import AuditEntry, Screen, Seat, SeatHold
from filmsphere.services.catalogue.screens import cycle_cell, resize_layout
from tests import factories

from .test_admin_support import admin_client, post, token


def test_cycle_and_resize_are_pure_layout_edits():
    assert resize_layout("", 2, 3) == "SSS\nSSS"
    assert resize_layout("SP\nVW", 3, 1) == "S\nV\nS"
    layout = "SS"
    seen = []
    for _ in range(7):
        layout = cycle_cell(layout, 0, 1)
        seen.append(layout[1])
    assert seen == ["P", "V", "W", "C", ".", "X", "S"]
    assert cycle_cell("SS", 5, 5) == "SS"


def test_editor_cycles_a_cell_as_fragment_and_as_page(backend, app, client):
    admin_client(client, app)
    csrf = token(client, "/admin/screens/new")
    form = {"csrf_token": csrf, "name": "Four", "layout": "SSS\nSSS", "rows": "2", "columns": "3"}
    htmx = client.post(
        "/admin/screens/editor", data=form | {"cell": "1-2"}, headers={"HX-Request": "true"}
    )
    assert htmx.status_code == 200
    html = htmx.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="layout-editor"') and "<html" not in html
    assert "SSS\nSSP</textarea>" in html
    assert 'aria-label="Row B, cell 3: premium (seat B3). Change to VIP"' in html
    assert "HX-Request" in htmx.headers.get("Vary", "")
    plain = client.post("/admin/screens/editor", data=form | {"resize": "1", "rows": "3"})
    assert plain.status_code == 200
    page = plain.get_data(as_text=True)
    assert "<html" in page and "SSS\nSSS\nSSS</textarea>" in page
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Screen)) == 0


def test_create_screen_generates_seats_and_audits(backend, app, client):
    admin_id = admin_client(client, app)
    response = post(
        client, "/admin/screens/new", {"name": "Studio 9", "layout": "SSXS\nP..P\nWC.V"}
    )
    assert response.status_code == 303
    with app.app_context():
        screen = db.session.scalar(select(Screen).where(Screen.name == "Studio 9"))
        seats = {
            s.label: s.category
            for s in db.session.scalars(select(Seat).where(Seat.screen_id == screen.id))
        }
        assert seats == {
            "A1": "standard", "A2": "standard", "A3": "broken", "A4": "standard",
            "B1": "premium", "B2": "premium",
            "C1": "wheelchair", "C2": "companion", "C3": "vip",
        }  # fmt: skip
        audit = db.session.scalars(
            select(AuditEntry).where(AuditEntry.action == "screen.create")
        ).one()
        assert audit.actor_id == admin_id and audit.after["seats"] == 9
    dup = post(client, "/admin/screens/new", {"name": "studio 9", "layout": "SS"})
    assert dup.status_code == 409 and "already a screen" in dup.get_data(as_text=True)
    bad = post(client, "/admin/screens/new", {"name": "Bad", "layout": "SQ"})
    assert bad.status_code == 422 and "unknown code" in bad.get_data(as_text=True)


def test_layout_change_over_sold_future_seat_is_refused_with_bookings(backend, app, client):
    admin_client(client, app)
    with app.app_context():
        screen = factories.make_screen("SSSS\nSSSS", name="Main")
        show = factories.make_show(screen=screen, starts_in=timedelta(days=2))
        booking = factories.make_booking(factories.make_user(), show, ("A2",))
        screen_id, reference = screen.id, booking.reference
    # Marking the sold seat broken is refused, listing the booking.
    response = post(client, f"/admin/screens/{screen_id}", {"name": "Main", "layout": "SXSS\nSSSS"})
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert reference in html and "Affected bookings" in html
    # So is a gap that would renumber A2.
    response = post(client, f"/admin/screens/{screen_id}", {"name": "Main", "layout": ".SSS\nSSSS"})
    assert response.status_code == 409
    with app.app_context():
        assert db.session.get(Screen, screen_id).layout == "SSSS\nSSSS"
        assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == 0
    # Changing seats nobody bought for the future is fine.
    ok = post(client, f"/admin/screens/{screen_id}", {"name": "Main hall", "layout": "SSSP\nSSXX"})
    assert ok.status_code == 303
    with app.app_context():
        seats = {s.label: s.category for s in db.session.get(Screen, screen_id).seats}
        assert seats["A2"] == "standard" and seats["A4"] == "premium" and seats["B4"] == "broken"
        assert db.session.get(Screen, screen_id).name == "Main hall"


def test_seats_of_past_tickets_are_retired_not_deleted(backend, app, client):
    admin_client(client, app)
    with app.app_context():
        screen = factories.make_screen("SSS", name="Old")
        past = factories.make_show(screen=screen, starts_in=timedelta(days=-3))
        future = factories.make_show(screen=screen, starts_in=timedelta(days=3))
        customer = factories.make_user()
        factories.make_booking(customer, past, ("A1",))
        sold_id = db.session.scalar(
            select(Seat.id).where(Seat.screen_id == screen.id, Seat.number == 1)
        )
        untouched_id = db.session.scalar(
            select(Seat.id).where(Seat.screen_id == screen.id, Seat.number == 3)
        )
        held_id = db.session.scalar(
            select(Seat.id).where(Seat.screen_id == screen.id, Seat.number == 2)
        )
        db.session.add(
            SeatHold(
                show_id=future.id,
                seat_id=held_id,
                user_id=customer.id,
                expires_at=factories.now() + timedelta(minutes=5),
            )
        )
        db.session.commit()
        version = screen.layout_version
        screen_id = screen.id
    response = post(client, f"/admin/screens/{screen_id}", {"name": "Old", "layout": "XPS"})
    assert response.status_code == 303
    with app.app_context():
        old = db.session.get(Seat, sold_id)
        assert old is not None and old.is_active is False and old.category == "standard"
        active = {s.label: s.category for s in db.session.get(Screen, screen_id).seats}
        assert active == {"A1": "broken", "A2": "premium", "A3": "standard"}
        assert db.session.get(Seat, untouched_id).is_active
        assert db.session.scalar(select(func.count()).select_from(SeatHold)) == 0
        assert db.session.get(Screen, screen_id).layout_version == version + 1


def test_a_screen_name_longer_than_the_column_is_422_on_create_and_edit(backend, app, client):
    """The create and edit routes read the raw form: the service checks the length."""
    admin_client(client, app)
    with app.app_context():
        screen_id = factories.make_screen("SS", name="Short").id
    long_name = "N" * 61
    for path in ("/admin/screens/new", f"/admin/screens/{screen_id}"):
        response = post(client, path, {"name": long_name, "layout": "SS"})
        assert response.status_code == 422, path
        assert "at most 60 characters" in response.get_data(as_text=True)
    fits = post(client, "/admin/screens/new", {"name": "N" * 60, "layout": "SS"})
    assert fits.status_code == 303
    with app.app_context():
        assert db.session.get(Screen, screen_id).name == "Short"
        names = set(db.session.scalars(select(Screen.name)))
        assert names == {"Short", "N" * 60}


def test_the_editor_treats_an_impossible_screen_id_as_a_new_screen(backend, app, client):
    admin_client(client, app)
    csrf = token(client, "/admin/screens/new")
    for screen_id in ("9" * 30, str(2**31), "-1", "abc"):
        response = client.post(
            "/admin/screens/editor",
            data={"csrf_token": csrf, "screen_id": screen_id, "layout": "SS", "cell": "0-0"},
            headers={"HX-Request": "true"},
        )
        assert response.status_code == 200, screen_id
        assert "PS</textarea>" in response.get_data(as_text=True)
