"""Staff check-in: outcomes, role gating, the page both ways (htmx and plain form)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Flask
from flask.testing import FlaskClient

from filmsphere.clock import to_local
from filmsphere.extensions import db
from filmsphere.models import Role, Show, ShowStatus, Ticket, TicketStatus
from filmsphere.services.door.checkin import check_in
from filmsphere.services.door.ticket_codes import make_code, ticket_code
from tests import factories

from .tickets_support import Seeded, log_in, page_csrf, seed_booking


def _codes(seeded: Seeded) -> list[str]:
    tickets = db.session.scalars(
        db.select(Ticket).where(Ticket.booking_id == seeded.booking_id).order_by(Ticket.id)
    )
    return [ticket_code(t) for t in tickets]


def _staff_client(app: Flask, client: FlaskClient, **seed: object) -> tuple[Seeded, list[str]]:
    with app.app_context():
        seeded = seed_booking(**seed)  # type: ignore[arg-type]
        codes = _codes(seeded)
    log_in(client, seeded.staff_username)
    return seeded, codes


def _post(client: FlaskClient, code: str, show_id: int = 0, htmx: bool = False):  # type: ignore[no-untyped-def]
    token = page_csrf(client, "/staff/check-in")
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(
        "/staff/check-in",
        data={"code": code, "show_id": str(show_id), "csrf_token": token},
        headers=headers,
    )


# --- service -------------------------------------------------------------------------


def test_valid_then_already_used(ctx: Flask, backend: str) -> None:
    seeded = seed_booking()
    code = _codes(seeded)[0]
    now = factories.now()

    first = check_in(code, seeded.staff_id, now)
    second = check_in(code, seeded.staff_id, now + timedelta(minutes=3))

    assert first.outcome == "valid" and first.headline == "VALID"
    assert (first.film, first.screen, first.seat_label) == ("Alien", seeded.screen_name, "A1")
    assert second.outcome == "already_used"
    assert second.checked_in_at == now
    assert second.checked_in_by == seeded.staff_username
    ticket = db.session.scalars(db.select(Ticket).where(Ticket.booking_id == seeded.booking_id))
    used = [t for t in ticket if t.checked_in_at is not None]
    assert [(t.seat.label, t.checked_in_by_id) for t in used] == [("A1", seeded.staff_id)]


def test_a_code_typed_in_lower_case_with_spaces_is_accepted(ctx: Flask, backend: str) -> None:
    seeded = seed_booking()
    code = _codes(seeded)[0]
    typed = " " + code[:10].lower() + " " + code[10:].lower() + " "
    assert check_in(typed, seeded.staff_id, factories.now()).outcome == "valid"


def test_tampered_and_foreign_codes_are_invalid(ctx: Flask, backend: str) -> None:
    seeded = seed_booking()
    code = _codes(seeded)[0]
    flipped = code[:-1] + ("A" if code[-1] != "A" else "B")
    other_secret = make_code(1, seeded.show_id, "some-other-secret")
    unknown = make_code(999_999, seeded.show_id)  # genuine signature, no such ticket
    for bad in (flipped, other_secret, unknown, "", "hello"):
        assert check_in(bad, seeded.staff_id, factories.now()).outcome == "invalid", bad
    assert check_in(code, seeded.staff_id, factories.now()).outcome == "valid"


def test_cancelled_ticket_is_refused(ctx: Flask, backend: str) -> None:
    seeded = seed_booking()
    code = _codes(seeded)[0]
    ticket = db.session.scalars(db.select(Ticket).where(Ticket.booking_id == seeded.booking_id))
    first = next(iter(ticket))
    first.status = TicketStatus.CANCELLED
    first.refund_coins = 0
    db.session.commit()

    result = check_in(code, seeded.staff_id, factories.now())

    assert result.outcome == "cancelled" and result.headline == "CANCELLED"
    db.session.expire_all()
    assert db.session.get(Ticket, first.id).checked_in_at is None


def test_ticket_of_a_cancelled_show_is_refused(ctx: Flask, backend: str) -> None:
    seeded = seed_booking()
    code = _codes(seeded)[0]
    show = db.session.get(Show, seeded.show_id)
    assert show is not None
    show.status = ShowStatus.CANCELLED
    db.session.commit()
    assert check_in(code, seeded.staff_id, factories.now()).outcome == "cancelled"


def test_wrong_show_when_staff_chose_a_show(ctx: Flask, backend: str) -> None:
    seeded = seed_booking()
    other = factories.make_show(starts_in=timedelta(minutes=40))
    code = _codes(seeded)[0]

    wrong = check_in(code, seeded.staff_id, factories.now(), show_id=other.id)
    right = check_in(code, seeded.staff_id, factories.now(), show_id=seeded.show_id)

    assert wrong.outcome == "wrong_show" and wrong.show_id == seeded.show_id
    assert right.outcome == "valid"


def test_not_today_and_outside_the_entry_window(ctx: Flask, backend: str) -> None:
    # 19:30 in London; the film runs 117 min + 15 min cleaning, so the show ends 21:42.
    start = datetime(2031, 7, 4, 18, 30, tzinfo=UTC)
    seeded = seed_booking(starts_at=start)
    code = _codes(seeded)[0]

    def outcome_at(now: datetime) -> tuple[str, str]:
        result = check_in(code, seeded.staff_id, now)
        return result.outcome, result.headline

    assert outcome_at(start - timedelta(days=1)) == ("not_today", "NOT TODAY")
    assert outcome_at(start - timedelta(hours=3)) == ("not_today", "TOO EARLY")
    assert outcome_at(start + timedelta(minutes=140)) == ("not_today", "SHOW OVER")
    assert outcome_at(start + timedelta(days=1)) == ("not_today", "NOT TODAY")
    # Entry opens 120 min before the start (CHECKIN_OPENS_MINUTES) and lasts till the end.
    assert outcome_at(start + timedelta(minutes=125)) == ("valid", "VALID")


def test_the_entry_window_applies_when_staff_chose_the_show(ctx: Flask, backend: str) -> None:
    start = datetime(2031, 7, 4, 18, 30, tzinfo=UTC)
    seeded = seed_booking(starts_at=start)
    code = _codes(seeded)[0]
    early = check_in(code, seeded.staff_id, start - timedelta(hours=10), show_id=seeded.show_id)
    assert (early.outcome, early.headline) == ("not_today", "TOO EARLY")
    over = check_in(code, seeded.staff_id, start + timedelta(hours=3), show_id=seeded.show_id)
    assert (over.outcome, over.headline) == ("not_today", "SHOW OVER")
    db.session.expire_all()
    assert db.session.get(Ticket, _ticket_id(seeded)).checked_in_at is None  # type: ignore[union-attr]


def test_entry_window_opens_before_the_start(ctx: Flask, backend: str) -> None:
    start = datetime(2031, 7, 4, 18, 30, tzinfo=UTC)
    seeded = seed_booking(starts_at=start)
    code = _codes(seeded)[0]
    assert check_in(code, seeded.staff_id, start - timedelta(minutes=119)).outcome == "valid"


def _ticket_id(seeded: Seeded) -> int:
    return db.session.scalars(
        db.select(Ticket.id).where(Ticket.booking_id == seeded.booking_id).order_by(Ticket.id)
    ).first()  # type: ignore[return-value]


# --- routes --------------------------------------------------------------------------


def test_role_gating(app: Flask, client: FlaskClient, backend: str) -> None:
    with app.app_context():
        customer = factories.make_user().username
        staff = factories.make_user(Role.STAFF).username
        admin = factories.make_user(Role.ADMIN).username

    visitor = client.get("/staff/check-in")
    assert visitor.status_code == 302 and "/auth/login" in visitor.headers["Location"]
    assert client.post("/staff/check-in", data={"code": "x"}).status_code in {302, 400}

    log_in(client, customer)
    assert client.get("/staff/check-in").status_code == 403
    token = page_csrf(client, "/")
    assert (
        client.post("/staff/check-in", data={"code": "x", "csrf_token": token}).status_code == 403
    )

    for login in (staff, admin):
        other = app.test_client()
        log_in(other, login)
        page = other.get("/staff/check-in")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert '<label for="code">Ticket code</label>' in html
        assert 'id="checkin-result"' in html and 'role="status"' in html


def test_plain_form_post_valid_then_already_used(
    app: Flask, client: FlaskClient, backend: str
) -> None:
    seeded, codes = _staff_client(app, client)

    first = _post(client, codes[0])
    assert first.status_code == 200
    html = first.get_data(as_text=True)
    assert "<h1>Ticket check-in</h1>" in html  # the whole page, without JavaScript
    assert 'data-outcome="valid"' in html and "VALID" in html
    assert "Alien" in html and seeded.screen_name in html and "Row A, seat 1" in html
    # Never the customer's personal data.
    assert seeded.email not in html and seeded.full_name not in html
    assert seeded.username not in html

    again = _post(client, codes[0])
    assert again.status_code == 409
    html = again.get_data(as_text=True)
    assert 'data-outcome="already_used"' in html and "ALREADY USED" in html
    assert seeded.staff_username in html


def test_htmx_post_returns_the_result_fragment(
    app: Flask, client: FlaskClient, backend: str
) -> None:
    seeded, codes = _staff_client(app, client)

    response = _post(client, codes[1], htmx=True)

    assert response.status_code == 200
    assert "HX-Request" in response.headers["Vary"]
    html = response.get_data(as_text=True).strip()
    assert html.startswith('<div id="checkin-result"') and "<html" not in html
    assert 'data-outcome="valid"' in html and "Row B, seat 1" in html

    bad = _post(client, codes[1][:-2] + "AA", htmx=True)
    assert bad.status_code == 422
    assert 'data-outcome="invalid"' in bad.get_data(as_text=True)

    empty = _post(client, "", htmx=True)
    assert empty.status_code == 422
    assert "Scan a ticket or type the code" in empty.get_data(as_text=True)


def test_show_select_lists_todays_shows_and_flags_wrong_show(
    app: Flask, client: FlaskClient, backend: str
) -> None:
    # Both shows 30 and 45 minutes from now, or as long ago when that would cross the
    # cinema's midnight: either way shows of the cinema's today, whenever the suite runs.
    with app.app_context():  # the cinema's zone
        now = factories.now()
        today = to_local(now).date() == to_local(now + timedelta(minutes=45)).date()
    sign = 1 if today else -1
    seeded, codes = _staff_client(app, client, starts_in=timedelta(minutes=30 * sign))
    with app.app_context():
        starts_in = timedelta(minutes=45 * sign)
        other = factories.make_show(
            factories.make_movie(title="Other film"), starts_in=starts_in
        ).id
    page = client.get(f"/staff/check-in?show={other}").get_data(as_text=True)
    assert f'<option selected value="{other}">' in page
    assert "Alien" in page and "Other film" in page

    response = _post(client, codes[0], show_id=other)
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert 'data-outcome="wrong_show"' in html and "Alien" in html
    with app.app_context():
        assert db.session.get(Ticket, _ticket_id(seeded)).checked_in_at is None


def test_post_without_csrf_is_refused(app: Flask, client: FlaskClient, backend: str) -> None:
    _, codes = _staff_client(app, client)
    response = client.post("/staff/check-in", data={"code": codes[0], "show_id": "0"})
    assert response.status_code == 400
    with app.app_context():
        assert db.session.scalar(db.select(Ticket.checked_in_at).limit(1)) is None
