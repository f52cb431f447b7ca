"""Reports: figures checked against hand-computed expectations, local-day bucketing across
a daylight-saving change, CSV export with formula-injection guard, constant query count."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event, insert, literal, select

from filmsphere.extensions import db
from filmsphere.models import Booking, LedgerKind, Show, Ticket
from filmsphere.models.types import UTCDateTime
from filmsphere.services.locks import lock_wallet
from filmsphere.services.ops.reports import (
    Period,
    _bounds,
    _bucket,
    build_report,
    csv_cell,
    make_period,
    to_csv,
)
from filmsphere.services.wallet.wallet import post_entry
from tests import factories

from .test_admin_support import admin_client

FIRST, LAST = date(2026, 3, 27), date(2026, 3, 30)  # Europe/London goes to BST on the 29th


@pytest.fixture
def app_overrides():
    return {"TIMEZONE": "Europe/London"}


def utc(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def _show(movie, screen, starts_at, status="scheduled"):  # type: ignore[no-untyped-def]
    show = Show(
        movie_id=movie.id,
        screen_id=screen.id,
        starts_at=starts_at,
        ends_at=starts_at + timedelta(minutes=120),
        base_price_coins=10,
        status=status,
    )
    db.session.add(show)
    db.session.flush()
    return show


def _book(user, show, seats, each, at, ref):  # type: ignore[no-untyped-def]
    labels = {s.label: s for s in show.screen.seats}
    booking = Booking(
        reference=ref,
        user_id=user.id,
        show_id=show.id,
        total_coins=each * len(seats),
        created_at=at,
    )
    db.session.add(booking)
    db.session.flush()
    tickets = []
    for label in seats:
        seat = labels[label]
        ticket = Ticket(
            booking_id=booking.id,
            show_id=show.id,
            seat_id=seat.id,
            category=seat.category,
            price_coins=each,
            created_at=at,
        )
        db.session.add(ticket)
        tickets.append(ticket)
    db.session.flush()
    post_entry(
        lock_wallet(user.id),
        LedgerKind.BOOKING_CHARGE,
        -booking.total_coins,
        at,
        booking_id=booking.id,
    )
    return booking, tickets


def seed_fixture() -> None:
    """The small cinema whose figures are worked out by hand in the test below."""
    big = factories.make_screen("SSSS\nSX.S", name="Big")  # 6 sellable (broken, gap out)
    small = factories.make_screen("SS", name="Small")  # 2 sellable
    alpha = factories.make_movie(title="Alpha")
    beta = factories.make_movie(title="Beta")
    evil = factories.make_movie(title="=SUM(1)")
    u1, u2 = factories.make_user(coins=500), factories.make_user(coins=500)
    s1 = _show(alpha, big, utc(28, 18))
    s2 = _show(beta, small, utc(29, 23, 30))  # 00:30 BST on the 30th
    _show(alpha, small, utc(28, 12), status="cancelled")
    s4 = _show(beta, big, utc(5, 18, month=4))  # after the period
    _show(evil, small, utc(27, 15))  # no tickets
    db.session.commit()
    _, (_, a2) = _book(u1, s1, ["A1", "A2"], 10, utc(27, 23, 30), "R1")
    _book(u2, s1, ["A3"], 15, utc(28, 23, 30), "R2")  # GMT: still the 28th
    _book(u1, s2, ["A1", "A2"], 8, utc(29, 23, 30), "R3")  # BST: the 30th
    _book(u2, s4, ["A1"], 12, utc(29, 12), "R4")
    _book(u1, s4, ["A2"], 5, utc(30, 23, 30), "R5")  # BST: the 31st, outside
    a2.status, a2.refund_coins, a2.cancelled_at = "cancelled", 10, utc(29, 10)
    post_entry(lock_wallet(u1.id), LedgerKind.REFUND, 10, utc(29, 10), booking_id=a2.booking_id)
    post_entry(lock_wallet(u2.id), LedgerKind.ADMIN_ADJUSTMENT, 7, utc(28, 9), reason="not revenue")
    db.session.commit()


def test_report_matches_hand_computed_figures(backend, ctx):
    seed_fixture()
    report = build_report(Period(FIRST, LAST))
    assert report.revenue_by_day.rows == [
        ["2026-03-27", 20, 0, 20],
        ["2026-03-28", 15, 0, 15],
        ["2026-03-29", 12, 10, 2],
        ["2026-03-30", 16, 0, 16],
    ]
    assert report.revenue_by_film.rows == [["Beta", 28, 0, 28], ["Alpha", 35, 10, 25]]
    assert report.revenue_by_screen.rows == [["Big", 47, 10, 37], ["Small", 16, 0, 16]]
    assert [r[2:] for r in report.occupancy.rows] == [
        ["=SUM(1)", "Small", 0, 2, 0.0],
        ["Alpha", "Big", 2, 6, 33.3],
        ["Beta", "Small", 2, 2, 100.0],
    ]
    assert report.top_films.rows == [
        ["Alpha", 1, 2, 33.3],
        ["Beta", 1, 2, 100.0],
        ["=SUM(1)", 1, 0, 0.0],
    ]
    assert report.activity_by_day.rows == [
        ["2026-03-27", 1, 2, 0, 0],
        ["2026-03-28", 1, 1, 0, 0],
        ["2026-03-29", 1, 1, 1, 0],
        ["2026-03-30", 1, 2, 0, 0],
    ]
    assert (report.totals["net"], report.totals["charged"], report.totals["refunded"]) == (
        53,
        63,
        10,
    )
    assert (
        report.totals["shows"],
        report.totals["tickets_sold"],
        report.totals["seats_offered"],
    ) == (3, 4, 10)
    assert report.totals["occupancy_percent"] == 40.0
    assert report.chart_data()["revenueByDay"]["net"] == [20, 15, 2, 16]


def test_single_day_period(backend, ctx):
    seed_fixture()
    report = build_report(Period(date(2026, 3, 30), date(2026, 3, 30)))
    assert report.revenue_by_day.rows == [["2026-03-30", 16, 0, 16]]
    assert report.revenue_by_film.rows == [["Beta", 16, 0, 16]]


def test_dashboard_and_csv_routes(backend, app, client):
    admin_client(client, app)
    with app.app_context():
        seed_fixture()
    page = client.get("/admin/?from=2026-03-27&to=2026-03-30")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="total-net">53 coins<' in html and 'id="total-occupancy">40.0 %<' in html
    assert 'type="application/json" id="report-data"' in html and "chart.js-4.6.1" in html
    assert 'role="img" aria-label="Bar chart of net revenue in coins per day.' in html
    response = client.get("/admin/reports/occupancy.csv?from=2026-03-27&to=2026-03-30")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][0] == "Show" and rows[1][2] == "'=SUM(1)"
    assert len(rows) == 4
    assert client.get("/admin/reports/nope.csv").status_code == 404
    assert client.get("/admin/?from=2026-03-30&to=2026-03-01").status_code == 422
    assert client.get("/admin/?from=yesterday").status_code == 422
    assert client.get("/admin/").status_code == 200  # default: the last 30 days


def test_csv_cells_that_look_like_formulas_are_defused():
    assert [csv_cell(v) for v in ["=1+2", "+1", "-1", "@SUM(A1)", "Alpha", -5, 3.5]] == [
        "'=1+2", "'+1", "'-1", "'@SUM(A1)", "Alpha", -5, 3.5,
    ]  # fmt: skip
    text = to_csv(build_table_for_csv())
    assert text.splitlines()[1] == "'=cmd|' /C calc'!A0,3"


def build_table_for_csv():  # type: ignore[no-untyped-def]
    from filmsphere.services.ops.reports import Table

    return Table("t", "T", ["Film", "Net"], [["=cmd|' /C calc'!A0", 3]], [False, True])


def test_period_rules():
    today = date(2026, 6, 30)
    assert make_period(None, None, today) == Period(date(2026, 6, 1), today)
    with pytest.raises(Exception, match="at most 366"):
        make_period(date(2025, 1, 1), today, today)


def test_query_count_does_not_grow_with_shows(backend, ctx):
    """Every table is one grouped query: 3 shows or 600 shows cost the same statements."""
    seed_fixture()

    def count_statements() -> int:
        seen: list[str] = []

        def listener(*args):  # type: ignore[no-untyped-def]
            seen.append(args[2])

        engine = db.engine
        event.listen(engine, "before_cursor_execute", listener)
        try:
            build_report(Period(FIRST, LAST))
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len([s for s in seen if s.lstrip().upper().startswith("SELECT")])

    few = count_statements()
    movie = factories.make_movie(title="Bulk")
    screen = factories.make_screen("SSSS", name="Bulk")
    start = utc(27, 0)
    db.session.execute(
        insert(Show),
        [
            {
                "movie_id": movie.id,
                "screen_id": screen.id,
                "starts_at": start + timedelta(minutes=9 * i),
                "ends_at": start + timedelta(minutes=9 * i + 8),
                "base_price_coins": 10,
                "status": "scheduled",
            }
            for i in range(600)
        ],
    )
    db.session.commit()
    report = build_report(Period(FIRST, LAST), occupancy_limit=None)
    assert report.totals["shows"] == 603 and len(report.occupancy.rows) == 603
    assert report.totals["seats_offered"] == 10 + 600 * 4
    assert count_statements() == few


@pytest.mark.parametrize("days", [1, 2, 7, 30, 61])
def test_day_buckets_put_every_instant_in_its_local_day(backend, ctx, days):
    """The bucket tree answers each day's first and last instant with that day, across
    the change to summer time (the 29th is 23 hours long)."""
    period = Period(date(2026, 3, 27), date(2026, 3, 27) + timedelta(days=days - 1))
    bounds = _bounds(period)
    instants = [(b, i) for i, b in enumerate(bounds[:-1])]
    instants += [(b - timedelta(microseconds=1), i) for i, b in enumerate(bounds[1:])]
    found = db.session.execute(
        select(*[_bucket(literal(moment, UTCDateTime()), bounds) for moment, _ in instants])
    ).one()
    assert list(found) == [day for _, day in instants]
