"""Rolled-up report days: a report reads the same whether its closed days were rolled up,
partly rolled up (a gap the cron missed) or counted live; a day is rolled up once, only
after it has closed, and later activity never reaches a rolled-up day."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import event, func, select, text

from filmsphere.cli import roll_up_reports
from filmsphere.extensions import db
from filmsphere.models import (
    Booking,
    LedgerKind,
    ReportDay,
    ReportDayRevenue,
    ReportShowSales,
    Show,
)
from filmsphere.services.locks import lock_wallet
from filmsphere.services.ops.report_days import last_closed_day, roll_up_closed_days
from filmsphere.services.ops.reports import Period, build_report, report_table, table_keys
from filmsphere.services.wallet.wallet import post_entry

from .test_reports import FIRST, LAST, app_overrides, seed_fixture, utc  # noqa: F401

# After the fixture's last day, with the 31st (BST) closed more than an hour ago.
LATER = datetime(2026, 4, 2, 12, 0, tzinfo=UTC)
WHOLE = Period(date(2026, 3, 26), date(2026, 4, 1))


def _report_values(period: Period) -> list[object]:
    report = build_report(period)
    return [report.totals] + [table.rows for table in report.tables()]


def _csv_tables(period: Period) -> list[object]:
    return [report_table(period, key).rows for key in table_keys()]


def test_rolled_up_days_read_the_same_as_live_ones(backend, ctx):
    seed_fixture()
    live, live_csv = _report_values(WHOLE), _csv_tables(WHOLE)
    assert roll_up_closed_days(LATER, days=8) == 8  # the 25th..1st: every day closed
    assert db.session.scalar(select(func.count()).select_from(ReportDay)) == 8
    assert db.session.scalar(select(func.count()).select_from(ReportDayRevenue)) > 0
    assert _report_values(WHOLE) == live and _csv_tables(WHOLE) == live_csv
    assert build_report(Period(FIRST, LAST)).revenue_by_day.rows[2] == ["2026-03-29", 12, 10, 2]


def test_a_gap_the_cron_missed_is_counted_live(backend, ctx):
    seed_fixture()
    live = _report_values(WHOLE)
    roll_up_closed_days(LATER, days=8)
    db.session.execute(ReportDay.__table__.delete().where(ReportDay.day == date(2026, 3, 28)))
    db.session.commit()
    assert _report_values(WHOLE) == live


def test_a_day_is_rolled_up_once_and_only_once_closed(backend, ctx):
    seed_fixture()
    # 00:30 BST on the 31st: the 30th ended 30 minutes ago, too recently to roll up.
    just_after = datetime(2026, 3, 30, 23, 30, tzinfo=UTC)
    assert last_closed_day(just_after) == date(2026, 3, 29)
    assert roll_up_closed_days(just_after, days=3) == 3  # the 27th..29th
    assert roll_up_closed_days(just_after, days=3) == 0  # idempotent
    assert roll_up_closed_days(LATER, days=8) == 5
    live_today = _report_values(Period(date(2026, 4, 2), date(2026, 4, 2)))
    assert db.session.get(ReportDay, date(2026, 4, 2)) is None  # today stays live
    assert live_today[1][0] == ["2026-04-02", 0, 0, 0]


def test_money_moved_today_counts_today_not_in_a_rolled_up_day(backend, ctx):
    seed_fixture()
    roll_up_closed_days(LATER, days=8)
    before = build_report(WHOLE).totals["net"]
    booking = db.session.scalars(select(Booking).order_by(Booking.id)).first()
    assert booking is not None
    post_entry(lock_wallet(booking.user_id), LedgerKind.REFUND, 3, LATER, booking_id=booking.id)
    db.session.commit()
    today = LATER.date()
    after = build_report(Period(WHOLE.first, today))
    assert after.totals["net"] == before - 3
    assert after.revenue_by_day.rows[-1] == [today.isoformat(), 0, 3, -3]
    assert build_report(WHOLE).totals["net"] == before  # the rolled-up days unchanged


def test_the_cron_command_rolls_up(backend, app, runner):
    with app.app_context():
        seed_fixture()
    result = runner.invoke(roll_up_reports)
    assert result.exit_code == 0, result.output
    assert "rolled up" in result.output
    with app.app_context():
        # Every day of the last year is closed now: each gets its row, empty or not.
        assert db.session.scalar(select(func.count()).select_from(ReportDay)) == 366


def test_ended_shows_keep_their_tickets_sold_and_the_others_are_counted_live(backend, ctx):
    seed_fixture()
    live = _report_values(WHOLE)
    roll_up_closed_days(LATER, days=8)
    stored = dict(db.session.execute(select(ReportShowSales.show_id, ReportShowSales.sold)).all())
    shows = {s.starts_at: s.id for s in db.session.scalars(select(Show))}
    # The four shows of March ended; the 5 April one (two tickets) is still ahead.
    assert stored == {
        shows[utc(28, 18)]: 2,  # A1 (A2 was cancelled) and A3
        shows[utc(29, 23, 30)]: 2,
        shows[utc(28, 12)]: 0,  # cancelled by the cinema
        shows[utc(27, 15)]: 0,
    }
    assert _report_values(WHOLE) == live
    ahead = Period(date(2026, 4, 5), date(2026, 4, 5))
    assert build_report(ahead).occupancy.rows[0][4] == 2  # counted live


def test_a_report_reads_the_rolled_up_rows_not_the_tickets(backend, ctx):
    """Proof the rolled-up rows are what a report reads for closed days and ended shows:
    an edited row shows through (nothing would, were the report still counting live)."""
    seed_fixture()
    roll_up_closed_days(LATER, days=8)
    db.session.get(ReportDay, date(2026, 3, 28)).charged_coins = 1000  # type: ignore[union-attr]
    alpha_show = db.session.scalar(select(Show.id).where(Show.starts_at == utc(28, 18)))
    db.session.get(ReportShowSales, alpha_show).sold = 5  # type: ignore[union-attr]
    db.session.commit()
    report = build_report(Period(FIRST, LAST))
    assert report.revenue_by_day.rows[1] == ["2026-03-28", 1000, 0, 1000]
    assert [r[4] for r in report.occupancy.rows if r[0] == alpha_show] == [5]


def _plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from _plan_nodes(child)


@pytest.mark.postgres_only
def test_the_planner_expects_a_live_count_only_for_the_shows_not_rolled_up(backend, ctx):
    """PostgreSQL costs a correlated count for every row it may run on. Read as a COALESCE
    of the roll-up and the live count, a year's 26k rolled-up shows looked like 26k
    counts, which switched JIT compiling on (40-90 ms for a 60 ms statement): the count
    must hang on rows the planner expects to be the shows without a roll-up only."""
    seed_fixture()
    roll_up_closed_days(LATER, days=8)  # every show but the one of 5 April
    db.session.execute(text("ANALYZE shows, report_show_sales, movies, screens, seats"))
    statements: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        statements.append((statement, params))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        report_table(Period(date(2026, 3, 26), date(2026, 4, 5)), "occupancy")
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    statement, params = next(s for s in statements if "report_show_sales" in s[0])
    with db.session.connection().connection.driver_connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + statement, params)
        plan = cursor.fetchone()[0][0]["Plan"]
    expected_counts = [  # the rows the planner expects each live count to run for
        node["Plan Rows"]
        for node in _plan_nodes(plan)
        if any(child.get("Parent Relationship") == "SubPlan" for child in node.get("Plans", []))
    ]
    assert expected_counts == [1]  # the show of 5 April; 4 when the shows rolled up counted
