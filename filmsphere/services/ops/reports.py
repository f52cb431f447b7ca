"""Reports for the admin dashboard, computed with SQL aggregates on PostgreSQL and SQLite.

A closed day's money and activity never change (every row is dated when it is written),
so `flask roll-up-reports` (cron) stores them once per day (services/ops/report_days.py);
a period reads its rolled-up days from report_days and counts the others (today, days
not rolled up yet) live, with the same queries the roll-up used.

Days are cinema-local calendar days: their UTC boundaries are computed in Python and rows
are bucketed in SQL with one CASE over those boundaries, so a daylight-saving day is 23 or
25 hours long and every figure matches what the cinema calls "that day". Money comes from
the ledger only: a booking_charge entry (negative amount) is revenue, a refund entry
(positive amount) takes it back, dated when the money moved.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Row,
    and_,
    case,
    func,
    literal,
    select,
    true,
    union_all,
)

from ...clock import cinema_tz, local_day_bounds
from ...extensions import db
from ...models import (
    Booking,
    LedgerEntry,
    LedgerKind,
    Movie,
    ReportDay,
    ReportDayRevenue,
    ReportShowSales,
    Screen,
    Seat,
    SeatCategory,
    Show,
    ShowStatus,
    Ticket,
    TicketStatus,
)
from ..errors import DomainError

MAX_DAYS = 366
OCCUPANCY_PAGE = 200


@dataclass(frozen=True)
class Period:
    first: date
    last: date  # inclusive

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]


@dataclass(frozen=True)
class Table:
    """A report table: header and rows of plain values, shown as HTML and as CSV."""

    key: str
    title: str
    columns: list[str]
    rows: list[list[Any]]
    numeric: list[bool]


@dataclass(frozen=True)
class Report:
    period: Period
    totals: dict[str, Any]
    revenue_by_day: Table
    revenue_by_film: Table
    revenue_by_screen: Table
    activity_by_day: Table
    top_films: Table
    occupancy: Table
    occupancy_total_shows: int

    def tables(self) -> list[Table]:
        return [
            self.revenue_by_day,
            self.revenue_by_film,
            self.revenue_by_screen,
            self.top_films,
            self.occupancy,
            self.activity_by_day,
        ]

    def chart_data(self) -> dict[str, Any]:
        """The numbers the charts draw: the same as the tables."""
        return {
            "revenueByDay": {
                "labels": [r[0] for r in self.revenue_by_day.rows],
                "net": [r[3] for r in self.revenue_by_day.rows],
            },
            "activityByDay": {
                "labels": [r[0] for r in self.activity_by_day.rows],
                "bookings": [r[1] for r in self.activity_by_day.rows],
                "cancelled": [r[3] for r in self.activity_by_day.rows],
            },
            "revenueByFilm": {
                "labels": [r[0] for r in self.revenue_by_film.rows],
                "net": [r[3] for r in self.revenue_by_film.rows],
            },
            "topFilms": {
                "labels": [r[0] for r in self.top_films.rows],
                "tickets": [r[2] for r in self.top_films.rows],
            },
        }


def make_period(first: date | None, last: date | None, today: date) -> Period:
    """The chosen period; default the last 30 days up to today. Raises DomainError when the
    order is wrong or it is longer than MAX_DAYS."""
    last = last or today
    first = first or last - timedelta(days=29)
    if first > last:
        raise DomainError("The start date must be on or before the end date.")
    if (last - first).days + 1 > MAX_DAYS:
        raise DomainError(f"Choose a period of at most {MAX_DAYS} days.")
    return Period(first, last)


def _bounds(period: Period) -> list[datetime]:
    days = period.days
    return [local_day_bounds(d)[0] for d in days] + [local_day_bounds(days[-1])[1]]


def _bucket(column: Any, bounds: list[datetime]) -> ColumnElement[int]:
    """Index of the local day the instant falls in (rows must already be inside the range).

    A balanced tree of CASEs: about log2(days) comparisons a row, not one per day (a flat
    CASE made a year's dashboard compare each of two million tickets with 180 bounds)."""
    return _bucket_between(column, bounds, 0, len(bounds) - 2)


def _bucket_between(column: Any, bounds: list[datetime], low: int, high: int) -> Any:
    """The day index in low..high for an instant known to fall in those days."""
    if low == high:
        return literal(low, Integer)
    middle = (low + high + 1) // 2  # days low..middle-1 end before bounds[middle]
    return case(
        (column < bounds[middle], _bucket_between(column, bounds, low, middle - 1)),
        else_=_bucket_between(column, bounds, middle, high),
    )


def _money_entries(bounds: list[datetime]) -> Any:
    return and_(
        LedgerEntry.kind.in_([LedgerKind.BOOKING_CHARGE, LedgerKind.REFUND]),
        LedgerEntry.booking_id.is_not(None),
        LedgerEntry.created_at >= bounds[0],
        LedgerEntry.created_at < bounds[-1],
    )


_gross = func.coalesce(
    func.sum(
        case((LedgerEntry.kind == LedgerKind.BOOKING_CHARGE, -LedgerEntry.amount_coins), else_=0)
    ),
    0,
)
_refunds = func.coalesce(
    func.sum(case((LedgerEntry.kind == LedgerKind.REFUND, LedgerEntry.amount_coins), else_=0)),
    0,
)


def _per_day(column: Any, bounds: list[datetime], where: Any, *values: Any) -> dict[int, tuple]:
    """{day index: aggregated values} — the CASE is computed in a subquery and grouped by
    name, so PostgreSQL sees one expression."""
    inner = (
        select(_bucket(column, bounds).label("day"), *values)
        .where(column >= bounds[0], column < bounds[-1], where)
        .subquery()
    )
    aggregates: list[Any] = [func.coalesce(func.sum(c), 0) for c in list(inner.c)[1:]]
    aggregates = aggregates or [func.count()]
    rows = db.session.execute(
        select(inner.c.day, *aggregates).group_by(inner.c.day).order_by(inner.c.day)
    ).all()
    return {int(r[0]): tuple(int(v) for v in r[1:]) for r in rows}


# charged, refunded, bookings, tickets sold, tickets cancelled, bookings fully cancelled
DayFigures = tuple[int, int, int, int, int, int]
NO_FIGURES: DayFigures = (0, 0, 0, 0, 0, 0)


def live_day_figures(period: Period) -> dict[date, DayFigures]:
    """Each day's money and activity counted from the ledger, bookings and tickets (five
    grouped statements over the period's rows)."""
    bounds = _bounds(period)
    charge = case(
        (LedgerEntry.kind == LedgerKind.BOOKING_CHARGE, -LedgerEntry.amount_coins), else_=0
    ).label("charge")
    refund = case((LedgerEntry.kind == LedgerKind.REFUND, LedgerEntry.amount_coins), else_=0).label(
        "refund"
    )
    money = _per_day(LedgerEntry.created_at, bounds, _money_entries(bounds), charge, refund)
    bookings = _per_day(Booking.created_at, bounds, true())
    sold = _per_day(Ticket.created_at, bounds, true())
    cancelled = _per_day(Ticket.cancelled_at, bounds, Ticket.status == TicketStatus.CANCELLED)
    cancelled_bookings = _per_day(Booking.cancelled_at, bounds, Booking.cancelled_at.is_not(None))
    return {
        day: (
            *money.get(i, (0, 0)),
            bookings.get(i, (0,))[0],
            sold.get(i, (0,))[0],
            cancelled.get(i, (0,))[0],
            cancelled_bookings.get(i, (0,))[0],
        )
        for i, day in enumerate(period.days)
    }


def live_revenue(period: Period, *keys: Any) -> list[Row[Any]]:
    """(keys..., charged, refunded) of the period's money entries, grouped by `keys`
    (columns of Show, Movie or Screen)."""
    return list(
        db.session.execute(
            select(*keys, _gross, _refunds)
            .select_from(LedgerEntry)
            .join(Booking, Booking.id == LedgerEntry.booking_id)
            .join(Show, Show.id == Booking.show_id)
            .join(Movie, Movie.id == Show.movie_id)
            .join(Screen, Screen.id == Show.screen_id)
            .where(_money_entries(_bounds(period)))
            .group_by(*keys)
        ).all()
    )


@dataclass(frozen=True)
class _Sources:
    """Where a period's figures come from: the closed days rolled up (report_days) and the
    runs of days still counted live (today, and days the cron has not rolled up yet)."""

    rolled: dict[date, DayFigures]
    live: list[Period]

    @classmethod
    def of(cls, period: Period) -> _Sources:
        rolled = {
            row.day: (
                row.charged_coins,
                row.refunded_coins,
                row.bookings,
                row.tickets_sold,
                row.tickets_cancelled,
                row.bookings_cancelled,
            )
            for row in db.session.scalars(
                select(ReportDay).where(ReportDay.day.between(period.first, period.last))
            )
        }
        runs: list[Period] = []
        for day in period.days:
            if day in rolled:
                continue
            if runs and runs[-1].last == day - timedelta(days=1):
                runs[-1] = Period(runs[-1].first, day)
            else:
                runs.append(Period(day, day))
        return cls(rolled, runs)

    def day_figures(self) -> dict[date, DayFigures]:
        figures = dict(self.rolled)
        for run in self.live:
            figures |= live_day_figures(run)
        return figures


def _revenue_by_day(period: Period, figures: dict[date, DayFigures]) -> Table:
    rows = []
    for day in period.days:
        gross, refunds = figures.get(day, NO_FIGURES)[:2]
        rows.append([day.isoformat(), gross, refunds, gross - refunds])
    return Table(
        "revenue-by-day",
        "Revenue per day",
        ["Date", "Charged (coins)", "Refunded (coins)", "Net revenue (coins)"],
        rows,
        [False, True, True, True],
    )


def _revenue_by(group: str, period: Period, sources: _Sources) -> Table:
    """Charges and refunds per film or screen: the rolled-up days' sums plus the live
    runs', merged by the film's or screen's id."""
    key, label = (Movie.id, Movie.title) if group == "film" else (Screen.id, Screen.name)
    found: list[Row[Any]] = []
    if sources.rolled:
        found += db.session.execute(
            select(
                key,
                label,
                func.sum(ReportDayRevenue.charged_coins),
                func.sum(ReportDayRevenue.refunded_coins),
            )
            .select_from(ReportDayRevenue)
            .join(Movie, Movie.id == ReportDayRevenue.movie_id)
            .join(Screen, Screen.id == ReportDayRevenue.screen_id)
            .where(ReportDayRevenue.day.between(period.first, period.last))
            .group_by(key, label)
        ).all()
    for run in sources.live:
        found += live_revenue(run, key, label)
    totals: dict[int, list[Any]] = {}
    for row_key, name, gross, refunds in found:
        total = totals.setdefault(row_key, [name, 0, 0])
        total[1] += int(gross)
        total[2] += int(refunds)
    rows = sorted(
        ([name, gross, refunds, gross - refunds] for name, gross, refunds in totals.values()),
        key=lambda r: (-r[3], r[0]),
    )
    name = "Film" if group == "film" else "Screen"
    return Table(
        f"revenue-by-{group}",
        f"Revenue per {group}",
        [name, "Charged (coins)", "Refunded (coins)", "Net revenue (coins)"],
        rows,
        [False, True, True, True],
    )


def _activity_by_day(period: Period, figures: dict[date, DayFigures]) -> Table:
    rows = [[day.isoformat(), *figures.get(day, NO_FIGURES)[2:]] for day in period.days]
    return Table(
        "activity-by-day",
        "Bookings and cancellations per day",
        ["Date", "Bookings", "Tickets sold", "Tickets cancelled", "Bookings fully cancelled"],
        rows,
        [False, True, True, True, True],
    )


def _percent(part: int, whole: int) -> float:
    return round(int(part) * 100 / int(whole), 1) if whole else 0.0


def _shows_in(bounds: list[datetime]) -> Any:
    return and_(
        Show.starts_at >= bounds[0],
        Show.starts_at < bounds[-1],
        Show.status != ShowStatus.CANCELLED,
    )


def live_sold(show_id: Any) -> Any:
    """The tickets sold (active) of a show, counted (an index-only count)."""
    return (
        select(func.count())
        .where(Ticket.show_id == show_id, Ticket.status == TicketStatus.ACTIVE)
        .scalar_subquery()
    )


def _period_shows(bounds: list[datetime]) -> Any:
    """(show_id, starts_at, movie_id, title, screen, sold, sellable) of every live show
    starting in the period: an ended show's tickets sold read from its roll-up
    (report_show_sales), the other shows' counted (an index-only count per show on the
    live-seat index)."""
    sellable = (
        select(Seat.screen_id, func.count().label("n"))
        .where(Seat.is_active.is_(True), Seat.category != SeatCategory.BROKEN)
        .group_by(Seat.screen_id)
        .cte("sellable")
    )

    def shows(sold: Any) -> Any:
        return (
            select(
                Show.id.label("show_id"),
                Show.starts_at,
                Movie.id.label("movie_id"),
                Movie.title,
                Screen.name.label("screen"),
                sold.label("sold"),
                func.coalesce(sellable.c.n, 0).label("sellable"),
            )
            .join(Movie, Movie.id == Show.movie_id)
            .join(Screen, Screen.id == Show.screen_id)
            .outerjoin(sellable, sellable.c.screen_id == Show.screen_id)
            .where(_shows_in(bounds))
        )

    # Two branches, not COALESCE(roll-up, live count): PostgreSQL costs a correlated count
    # for every row it may run on, so the COALESCE looked like 26k counts to the planner
    # for a year, which switched on JIT compiling (40-90 ms for a 60 ms statement).
    rolled_up = shows(ReportShowSales.sold).join(
        ReportShowSales, ReportShowSales.show_id == Show.id
    )
    counted = shows(live_sold(Show.id)).where(
        ~select(ReportShowSales.show_id).where(ReportShowSales.show_id == Show.id).exists()
    )
    return union_all(rolled_up, counted).subquery("period_shows")


def _occupancy(bounds: list[datetime], limit: int | None) -> Table:
    """The period's shows in time order, the first `limit` of them (a year has 26k)."""
    from ...wording import datetime_formatter

    shows = _period_shows(bounds)
    # Core rows on the session's connection: the ORM's result handling took longer than
    # the statement for a year's 26k rows, and these are plain values anyway.
    found = db.session.connection().execute(
        select(
            shows.c.show_id,
            shows.c.starts_at,
            shows.c.title,
            shows.c.screen,
            shows.c.sold,
            shows.c.sellable,
        )
        .order_by(shows.c.starts_at, shows.c.show_id)
        .limit(limit)
    )
    when = datetime_formatter(cinema_tz())
    return Table(
        "occupancy",
        "Occupancy per show",
        ["Show", "Starts", "Film", "Screen", "Sold", "Sellable seats", "Occupancy (%)"],
        [
            [show, when(starts), film, screen, sold, seats, _percent(sold, seats)]
            for show, starts, film, screen, sold, seats in found
        ],
        [True, False, False, False, True, True, True],
    )


# title, shows, tickets sold, seats offered
FilmFigures = tuple[str, int, int, int]


def _film_figures(bounds: list[datetime]) -> list[FilmFigures]:
    """Per film, its shows in the period, their tickets sold and seats offered (grouped in
    SQL: a year's 26k shows stay in the database)."""
    shows = _period_shows(bounds)
    return [
        (title, int(count), int(sold), int(seats))
        for title, count, sold, seats in db.session.execute(
            select(
                shows.c.title,
                func.count(),
                func.coalesce(func.sum(shows.c.sold), 0),
                func.coalesce(func.sum(shows.c.sellable), 0),
            ).group_by(shows.c.movie_id, shows.c.title)
        )
    ]


def _top_films(films: list[FilmFigures], limit: int = 10) -> Table:
    rows = sorted(films, key=lambda f: (-f[2], f[0]))[:limit]
    return Table(
        "top-films",
        "Top films by tickets sold (shows in the period)",
        ["Film", "Shows", "Tickets sold", "Occupancy (%)"],
        [
            [title, shows, tickets, _percent(tickets, seats)]
            for title, shows, tickets, seats in rows
        ],
        [False, True, True, True],
    )


def build_report(period: Period, occupancy_limit: int | None = OCCUPANCY_PAGE) -> Report:
    """Every dashboard figure for the period, each table from one grouped SQL query (no
    per-row queries), so a period with thousands of shows costs a handful of queries, each
    reading only the period's rows."""
    bounds = _bounds(period)
    sources = _Sources.of(period)
    day_figures = sources.day_figures()
    by_day = _revenue_by_day(period, day_figures)
    films = _film_figures(bounds)
    activity = _activity_by_day(period, day_figures)
    shows = sum(f[1] for f in films)
    sold = sum(f[2] for f in films)
    seats = sum(f[3] for f in films)
    totals = {
        "charged": sum(r[1] for r in by_day.rows),
        "refunded": sum(r[2] for r in by_day.rows),
        "net": sum(r[3] for r in by_day.rows),
        "bookings": sum(r[1] for r in activity.rows),
        "tickets_cancelled": sum(r[3] for r in activity.rows),
        "shows": shows,
        "tickets_sold": sold,
        "seats_offered": seats,
        "occupancy_percent": _percent(sold, seats),
    }
    return Report(
        period=period,
        totals=totals,
        revenue_by_day=by_day,
        revenue_by_film=_revenue_by("film", period, sources),
        revenue_by_screen=_revenue_by("screen", period, sources),
        activity_by_day=activity,
        top_films=_top_films(films),
        occupancy=_occupancy(bounds, occupancy_limit),
        occupancy_total_shows=shows,
    )


def report_table(period: Period, key: str) -> Table:
    """One table by key, complete (the occupancy table is not cut to a page)."""
    bounds = _bounds(period)
    builders = {  # the per-show tables don't read the rolled-up days
        "revenue-by-day": lambda: _revenue_by_day(period, _Sources.of(period).day_figures()),
        "revenue-by-film": lambda: _revenue_by("film", period, _Sources.of(period)),
        "revenue-by-screen": lambda: _revenue_by("screen", period, _Sources.of(period)),
        "activity-by-day": lambda: _activity_by_day(period, _Sources.of(period).day_figures()),
        "top-films": lambda: _top_films(_film_figures(bounds)),
        "occupancy": lambda: _occupancy(bounds, None),
    }
    if key not in builders:
        raise KeyError(key)
    return builders[key]()


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula gets a leading quote (OWASP CSV
    injection advice); numbers stay numbers."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def to_csv(table: Table) -> str:
    """The table as CSV; only the text columns are checked for formulas (a year's
    occupancy table has 180k cells)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([csv_cell(c) for c in table.columns])
    text = [i for i, numeric in enumerate(table.numeric) if not numeric]
    for row in table.rows:
        for i in text:
            if isinstance(row[i], str) and row[i].startswith(FORMULA_STARTS):
                row = row[:i] + [csv_cell(row[i])] + row[i + 1 :]
        writer.writerow(row)
    return out.getvalue()


def table_keys() -> Sequence[str]:
    return (
        "revenue-by-day",
        "revenue-by-film",
        "revenue-by-screen",
        "top-films",
        "occupancy",
        "activity-by-day",
    )
