"""Roll up closed days for the dashboard: each day's figures counted once, then read back.

Every row a report counts is dated when it is written (a ledger entry, a booking, a
ticket, a cancellation), so once a cinema-local day has ended its figures never change.
`flask roll-up-reports` (cron, hourly) counts each closed day of the last MAX_DAYS with
the very queries the dashboard uses live (services.reports) and stores them, and the
tickets sold of each show that has ended: a year's dashboard then reads 366 day rows and
a row per show instead of a year of tickets and ledger entries. A day is
rolled up only ROLL_UP_AFTER its end, so a transaction that was writing across midnight
has committed. Days nobody rolled up are simply counted live: the cron makes the
dashboard fast, never right.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from ...clock import local_day_bounds, to_local
from ...extensions import db
from ...models import Movie, ReportDay, ReportDayRevenue, ReportShowSales, Screen, Show
from ..transaction import write_transaction
from .reports import MAX_DAYS, Period, live_day_figures, live_revenue, live_sold

ROLL_UP_AFTER = timedelta(hours=1)


def last_closed_day(now: datetime) -> date:
    """The latest local day that ended at least ROLL_UP_AFTER before `now`."""
    day = to_local(now).date() - timedelta(days=1)
    while local_day_bounds(day)[1] + ROLL_UP_AFTER > now:
        day -= timedelta(days=1)
    return day


def roll_up_closed_days(now: datetime, days: int = MAX_DAYS) -> int:
    """Roll up every closed day of the last `days` that has no report_days row yet, each in
    its own short transaction (its totals and its per film and screen revenue together),
    then the tickets sold of every show of that span that ended ROLL_UP_AFTER ago
    (roll_up_ended_shows). Idempotent; two runs at once roll a day up once (the other's
    insert is refused by the primary key and skipped). Returns the days rolled up."""
    last = last_closed_day(now)
    first = last - timedelta(days=days - 1)
    done = set(db.session.scalars(select(ReportDay.day).where(ReportDay.day.between(first, last))))
    db.session.rollback()
    rolled = 0
    for offset in range(days):
        day = first + timedelta(days=offset)
        if day not in done and _roll_up(day, now):
            rolled += 1
    roll_up_ended_shows(now, local_day_bounds(first)[0])
    return rolled


def roll_up_ended_shows(now: datetime, since: datetime) -> int:
    """Store the tickets sold of every show starting after `since` that ended at least
    ROLL_UP_AFTER before `now` and has no report_show_sales row yet, in one statement.
    No ticket of a show changes once it has ended: customers cancel, exchange or send
    tickets only before the start, the box office only until the end. Two runs at once:
    the second insert is refused by the primary key and skipped. Returns the shows."""
    ended = select(Show.id, live_sold(Show.id)).where(
        Show.starts_at >= since,
        Show.ends_at <= now - ROLL_UP_AFTER,
        ~select(ReportShowSales.show_id).where(ReportShowSales.show_id == Show.id).exists(),
    )
    try:
        with write_transaction() as session:
            result: Any = session.execute(
                insert(ReportShowSales).from_select(["show_id", "sold"], ended)
            )
            return int(result.rowcount or 0)
    except IntegrityError:  # another run stored them meanwhile
        db.session.rollback()
        return 0


def _roll_up(day: date, now: datetime) -> bool:
    period = Period(day, day)
    try:
        with write_transaction() as session:
            figures = live_day_figures(period)[day]
            session.add(
                ReportDay(day=day, **dict(zip(_COLUMNS, figures, strict=True)), rolled_up_at=now)
            )
            session.flush()
            session.add_all(
                ReportDayRevenue(
                    day=day,
                    movie_id=movie_id,
                    screen_id=screen_id,
                    charged_coins=int(charged),
                    refunded_coins=int(refunded),
                )
                for movie_id, screen_id, charged, refunded in live_revenue(
                    period, Movie.id, Screen.id
                )
            )
    except IntegrityError:  # another run rolled this day up meanwhile
        db.session.rollback()
        return False
    return True


_COLUMNS = (
    "charged_coins",
    "refunded_coins",
    "bookings",
    "tickets_sold",
    "tickets_cancelled",
    "bookings_cancelled",
)
