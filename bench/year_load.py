"""Load a year of a 12-screen multiplex into a migrated PostgreSQL database, fast.

Used by bench/year_of_data.py. The cinema (bench/year_cinema.py) is created through the
app (screens and their seats by services.screens.create_screen, films as ORM rows); the
year itself is simulated in Python, in time order, and written with COPY into the tables
the migrations made, naming only the columns it fills (taken from the ORM's table
metadata), so columns other branches add are left to their defaults; foreign keys are
checked afterwards, set-based. Then one INSERT … SELECT writes the history of sent emails,
and the app's own notification code queues the backlog of pending confirmations.

What the simulation keeps true, like the app does:
- no seat is sold twice (one active ticket per show and seat), bookings are 1–6 adjacent
  seats and avoid leaving a single seat on its own where the row allows;
- tickets are bought after the show was scheduled and the customer signed up, before
  the show starts; prices are services.pricing.seat_price of the show's base price;
- every coin movement is a ledger entry in time order and every balance_after is the
  running sum: signup grant, booking charge, refund (100 % until 2 h before, 80 % until
  20 min before, by config), Stripe top-up (with its topups row) whenever a charge needs
  more than the balance, goodwill adjustments by admins; each wallet's balance is its
  newest entry's balance_after;
- cancellations by customers (whole bookings or some of their tickets) and by admins
  (bookings and a few whole shows, 100 % refund), each with its ledger entry and email,
  the admins' with an audit row;
- tickets of past shows are mostly checked in by staff before the show, never cancelled
  ones;
- ids follow time, as they do in production.
"""

from __future__ import annotations

import bisect
import json
import math
import random
import secrets
import time
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from typing import Any

from bench.year_cinema import (
    EMAIL_DOMAINS,
    FIRST_NAMES,
    LAST_NAMES,
    SCREENS,
    FilmSpec,
    all_films,
    freshness,
)

# Scale 1: the year (about 26k shows, 2.3 M tickets, 1.1 M ledger entries).
FULL_USERS = 100_000
FULL_DAYS = 365
TICKETS_PER_SHOW = 2_300_000 / 26_900  # the year: 2.3 M tickets over ~26.9k shows
FULL_BACKLOG = 10_000
SHOWS_PER_DAY = 6
FUTURE_DAYS = 7  # the week ahead is on sale too
PASSWORD = "Year-of-Data-2026"  # every loaded account's password

GROUP_SIZES = (1, 2, 3, 4, 5, 6)
GROUP_WEIGHTS = (20, 45, 12, 15, 4, 4)  # mean 2.5 tickets per booking
WEEKDAY_DEMAND = (0.55, 0.8, 0.6, 0.65, 1.0, 1.3, 1.1)  # Monday … Sunday (Tuesday is cheap)
HOUR_DEMAND = ((13, 0.35), (16, 0.55), (18, 0.8), (20.5, 1.3), (22, 1.0), (99, 0.6))  # start
STAFF = 8
ADMINS = 3
HEAVY = (  # (username, full name, bookings wanted at scale 1): the heaviest accounts
    ("northside.filmsociety", "Northside Film Society", 2000),
    ("st.aidans.school", "St Aidan's School Trips", 1200),
    ("reel.critic", "Morgan Reel", 900),
)
FREQUENT = 60  # regulars with a few hundred bookings each


def _epoch(moment: datetime) -> float:
    return moment.timestamp()


def _dt(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in folded.lower() if c.isalnum())


@dataclass
class ShowRow:
    id: int
    movie: int  # index into films
    screen: int  # index into screens
    starts: float
    ends: float
    price: int
    created: float
    cancelled: float | None = None


@dataclass
class BookingRow:
    created: float
    user: int  # index into users
    show: int  # index into shows
    seats: list[tuple[int, str, int]]  # (seat id, category, price)
    cancel_at: float | None = None
    cancel_count: int = 0  # the last n tickets are cancelled
    cancel_percent: int = 100
    cancel_actor: int | None = None  # user index of the admin, or None (the customer)
    cancel_reason: str | None = None
    id: int = 0


@dataclass
class UserRow:
    username: str
    email: str
    full_name: str
    role: str
    signup: float
    weight: float
    verified: bool = True
    active: bool = True


class Copier:
    """COPY rows into one of the app's tables, naming the columns from the ORM's table
    metadata. Refuses (with the column's name) a NOT NULL column without a default that
    the loader doesn't fill, so a schema change elsewhere fails loudly, not oddly."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def check(self, table: Any, columns: Sequence[str]) -> None:
        unknown = [c for c in columns if c not in table.c]
        if unknown:
            raise SystemExit(f"{table.name}: the models have no column(s) {unknown}")
        required = self.conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = "
            "'public' AND table_name = %s AND is_nullable = 'NO' AND column_default IS NULL "
            "AND is_identity = 'NO' AND is_generated = 'NEVER'",
            (table.name,),
        ).fetchall()
        missing = sorted({r[0] for r in required} - set(columns))
        if missing:
            raise SystemExit(
                f"{table.name}.{missing[0]} is NOT NULL without a default: teach "
                "bench/year_load.py what to put there"
            )

    def copy(self, table: Any, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        self.check(table, columns)
        started = time.monotonic()
        count = 0
        with self.conn.cursor() as cur:
            statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
            with cur.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
        print(f"    COPY {table.name}: {count:,} rows, {time.monotonic() - started:.1f} s")
        return count


class YearLoader:
    """One run of the loader: `load()` fills the database and returns the bench metadata.

    Everything random comes from one seeded generator, so a scale and seed give the same
    cinema (not the same timestamps: the year ends now)."""

    def __init__(self, app: Any, url: str, scale: float, seed: int) -> None:
        self.app = app
        self.url = url
        self.scale = scale
        self.rng = random.Random(seed)
        self.now = _epoch(datetime.now(UTC).replace(second=0, microsecond=0))
        self.retired: set[int] = set()
        self._t = time.monotonic()

    # --- helpers ------------------------------------------------------------------------

    def step(self, what: str) -> None:
        now = time.monotonic()
        print(f"  {what}: {now - self._t:.1f} s", flush=True)
        self._t = now

    def local(self, day: date, at: clock) -> float:
        return _epoch(datetime.combine(day, at, tzinfo=self.tz))

    # --- the run --------------------------------------------------------------------------

    def load(self) -> dict[str, str]:
        import psycopg
        from sqlalchemy.engine import make_url

        from filmsphere.clock import cinema_tz
        from filmsphere.extensions import db

        config = self.app.config
        self.tz = cinema_tz()
        self.grant = int(config["SIGNUP_GRANT_COINS"])
        self.full_before = int(config["REFUND_FULL_BEFORE_MINUTES"]) * 60
        self.partial_before = int(config["REFUND_PARTIAL_BEFORE_MINUTES"]) * 60
        self.partial_percent = int(config["REFUND_PARTIAL_PERCENT"])
        self.packs = [
            (p["id"], int(p["coins"]), int(p["price_minor"])) for p in config["COIN_PACKS"]
        ]
        self.currency = str(config["COIN_CURRENCY"])
        self.today = datetime.fromtimestamp(self.now, self.tz).date()
        self.days_back = max(1, round(FULL_DAYS * self.scale))
        self.first_day = self.today - timedelta(days=self.days_back)
        self.last_day = self.today + timedelta(days=FUTURE_DAYS)
        self.opening = self.local(self.first_day, clock(9)) - 21 * 86400

        self.create_cinema()
        self.step("screens and films (through the app)")
        conninfo = make_url(self.url).set(drivername="postgresql").render_as_string(False)
        with psycopg.connect(conninfo, autocommit=False) as conn:
            self.conn = conn
            self.copier = Copier(conn)
            self.make_shows()
            self.step(f"{len(self.shows):,} shows")
            self.make_users()
            self.step(f"{len(self.users):,} users")
            checks_skipped = self.skip_foreign_key_checks()
            self.sell()
            self.step(f"{len(self.bookings):,} bookings simulated")
            self.write_sales()
            conn.commit()
            self.step("users, shows, bookings, tickets, top-ups, ledger, audit written (COPY)")
            self.write_mail_history()
            conn.commit()
            self.step("history of sent emails (INSERT … SELECT)")
            self.fix_sequences()
            if checks_skipped:
                self.check_foreign_keys()
                self.step("every foreign key checked (set-based)")
            conn.commit()
        self.queue_backlog(db)
        self.step(f"{self.backlog_count:,} pending emails queued by the app")
        return self.meta()

    def skip_foreign_key_checks(self) -> bool:
        """COPY checks each row's foreign keys one by one (and share-locks every parent
        row), which made loading tickets take minutes. In replica mode no trigger fires:
        the keys are checked after the load, set-based (check_foreign_keys). Only when
        no table has a trigger of its own on INSERT, which replica mode would skip too."""
        own = self.conn.execute(
            "SELECT tgrelid::regclass::text, tgname FROM pg_trigger "
            "WHERE NOT tgisinternal AND tgtype & 4 <> 0"
        ).fetchall()
        if own:
            print(f"    INSERT triggers {own}: foreign keys checked row by row (slow)")
            return False
        import psycopg

        try:
            with self.conn.transaction():  # a savepoint: a refusal leaves the load going
                self.conn.execute("SET session_replication_role = replica")
        except psycopg.errors.InsufficientPrivilege:
            print("    not a superuser: foreign keys checked row by row (slow)")
            return False
        return True

    def check_foreign_keys(self) -> None:
        """Every foreign key of the schema (from the catalog, so new ones count too)
        holds for every row: one anti-join per key."""
        keys = self.conn.execute(
            "SELECT c.conrelid::regclass::text, a.attname, c.confrelid::regclass::text, "
            "r.attname FROM pg_constraint c "
            "JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] "
            "JOIN pg_attribute r ON r.attrelid = c.confrelid AND r.attnum = c.confkey[1] "
            "WHERE c.contype = 'f' AND cardinality(c.conkey) = 1 "
            "AND c.connamespace = 'public'::regnamespace"
        ).fetchall()
        for table, column, parent, key in keys:
            broken = self.conn.execute(
                f"SELECT count(*) FROM {table} c WHERE c.{column} IS NOT NULL AND NOT EXISTS "
                f"(SELECT 1 FROM {parent} p WHERE p.{key} = c.{column})"
            ).fetchone()[0]
            if broken:
                raise SystemExit(f"{broken} rows of {table}.{column} point nowhere in {parent}")
        self.conn.execute("RESET session_replication_role")

    # --- screens and films, through the app -------------------------------------------

    def create_cinema(self) -> None:
        from sqlalchemy import select

        from filmsphere.extensions import db
        from filmsphere.models import Genre, Movie, Seat
        from filmsphere.services.catalogue.screens import create_screen

        opening = _dt(self.opening)
        self.screen_ids: list[int] = []
        self.screen_segments: list[list[list[tuple[int, str]]]] = []
        self.screen_pairs: list[list[tuple[tuple[int, str], tuple[int, str]]]] = []
        self.screen_rows: list[list[float]] = []
        for spec in SCREENS:
            screen = create_screen(spec.name, spec.layout(), opening)
            self.screen_ids.append(screen.id)
        for screen_id in self.screen_ids:
            seats = db.session.execute(
                select(Seat.id, Seat.grid_row, Seat.grid_col, Seat.category)
                .where(Seat.screen_id == screen_id, Seat.is_active.is_(True))
                .order_by(Seat.grid_row, Seat.grid_col)
            ).all()
            self._index_seats(seats)

        self.films = all_films()
        n = len(self.films)
        # Releases every few days from ~4 months before the year to the week ahead; the
        # popular films run longer. About a dozen films are showing on any day.
        span_start = self.local(self.first_day, clock(0)) - 130 * 86400
        span_end = self.local(self.today + timedelta(days=FUTURE_DAYS - 1), clock(0))
        order = list(range(n))
        self.rng.shuffle(order)
        self.release: list[float] = [0.0] * n
        self.run_until: list[float] = [0.0] * n
        step = (span_end - span_start) / (n - 1)
        for slot, index in enumerate(order):
            film = self.films[index]
            self.release[index] = span_start + slot * step
            run_days = 150 * (0.55 + 0.45 * film.popularity / 2) * self.rng.uniform(0.8, 1.2)
            self.run_until[index] = self.release[index] + run_days * 86400
        genres: dict[str, Genre] = {}
        self.movie_ids: list[int] = [0] * n
        self.film_created: list[float] = [0.0] * n
        for index in sorted(range(n), key=lambda i: self.release[i]):
            film = self.films[index]
            created = max(self.opening - 20 * 86400, self.release[index] - 28 * 86400)
            created = min(created, self.now - 3600)
            movie = Movie(
                title=film.title,
                description=film.description,
                duration_minutes=film.minutes,
                age_rating=film.rating,
                language=film.language,
                release_date=datetime.fromtimestamp(self.release[index], self.tz).date(),
                poster_hue=film.hue,
                is_retired=False,
                created_at=_dt(created),
                genres=[genres.setdefault(g, Genre(name=g)) for g in film.genres],
            )
            db.session.add(movie)
            db.session.flush()  # ids in release order, as an admin would have added them
            self.movie_ids[index] = movie.id
            self.film_created[index] = created
        db.session.commit()

    def _index_seats(self, seats: Sequence[Any]) -> None:
        """Split a screen's seats into runs a group can sit in (ordinary seats between
        aisles, row ends and wheelchair spaces), and its wheelchair + companion pairs."""
        segments: list[list[tuple[int, str]]] = []
        pairs: list[tuple[tuple[int, str], tuple[int, str]]] = []
        run: list[tuple[int, str]] = []
        previous: tuple[int, int] | None = None
        by_cell = {(r, c): (i, cat) for i, r, c, cat in seats}
        for seat_id, row, col, category in seats:
            adjacent = previous == (row, col - 1)
            if category in ("standard", "premium", "vip") and adjacent:
                run.append((seat_id, category))
            else:
                if len(run) > 0:
                    segments.append(run)
                run = [(seat_id, category)] if category in ("standard", "premium", "vip") else []
            previous = (row, col)
            if category == "wheelchair":
                for dc in (-1, 1):
                    mate = by_cell.get((row, col + dc))
                    if mate and mate[1] == "companion":
                        pairs.append(((seat_id, category), mate))
        if run:
            segments.append(run)
        self.screen_segments.append(segments)
        self.screen_pairs.append(pairs)
        rows = max(r for _, r, _, _ in seats) + 1
        # Where people like to sit: two thirds of the way back from the screen.
        sweet = rows / 3
        seat_row = {i: r for i, r, _, _ in seats}
        self.screen_rows.append([abs(seat_row[s[0][0]] - sweet) for s in segments])

    # --- users --------------------------------------------------------------------------

    def make_users(self) -> None:
        from filmsphere.models import User
        from filmsphere.services.accounts.accounts import hash_password

        rng = self.rng
        total = max(200, round(FULL_USERS * self.scale))
        password_hash = hash_password(PASSWORD)
        users: list[UserRow] = []
        staff_at = self.opening - 14 * 86400
        for n in range(ADMINS):
            name = ("Alex Admin", "Priya Manager", "Tom Duty-Manager")[n]
            login = ("admin", "manager", "duty.manager")[n]
            users.append(UserRow(login, f"{login}@cinema.example", name, "admin", staff_at, 0))
        for n in range(STAFF):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            login = "staff" if n == 0 else f"staff.{_ascii(first)}{n}"
            users.append(
                UserRow(login, f"{login}@cinema.example", f"{first} {last}", "staff", staff_at, 0)
            )
        # Customers sign up over the year: a launch wave, then steady growth.
        launch = self.local(self.first_day, clock(9))
        customers = total - len(users)
        signups = []
        for _ in range(customers):
            if rng.random() < 0.22:
                signups.append(launch - rng.uniform(0, 21 * 86400))
            else:
                signups.append(launch + (self.now - launch) * rng.random() ** 0.8)
        signups.sort()
        early = range(10, max(10 + len(HEAVY), customers // 50))
        heavy_slots = dict(zip(rng.sample(early, len(HEAVY)), HEAVY, strict=True))
        frequent = set(rng.sample(range(customers // 10), min(FREQUENT, customers // 10)))
        # Bookings the year will have: the past shows' and part of the week ahead's.
        past = sum(1 for s in self.shows if s.starts < self.now)
        group = sum(s * w for s, w in zip(GROUP_SIZES, GROUP_WEIGHTS, strict=True))
        group /= sum(GROUP_WEIGHTS)
        total_bookings = TICKETS_PER_SHOW * (past + 0.35 * (len(self.shows) - past)) / group
        self.fixed_users: list[int] = []
        self.fixed_cumulative: list[float] = []
        for n, signup in enumerate(signups):
            first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
            index = len(users)
            login = f"{_ascii(first)}.{_ascii(last)}{index}"
            email = f"{_ascii(first)}.{_ascii(last)}{index}@{rng.choice(EMAIL_DOMAINS)}"
            full_name = f"{first} {last}"
            roll = rng.random()
            weight = 0.0 if roll < 0.3 else rng.lognormvariate(0, 0.9)
            wanted = 0
            if n in frequent:
                wanted = rng.randint(150, 400)
            if n in heavy_slots:
                login, full_name, wanted = heavy_slots[n]
                email = f"{login}@example.org"
            if wanted:
                # A share of all bookings, taken before the ordinary customers' draw.
                weight = 0.0
                share = wanted * self.scale / total_bookings
                self.fixed_users.append(index)
                last_share = self.fixed_cumulative[-1] if self.fixed_cumulative else 0.0
                self.fixed_cumulative.append(last_share + share)
            user = UserRow(login, email, full_name, "customer", signup, weight)
            if weight == 0.0 and not wanted and rng.random() < 0.08:
                user.verified = False  # registered, never verified, never booked
            elif weight == 0.0 and not wanted and rng.random() < 0.004:
                user.active = False  # spam accounts an admin deactivated
            users.append(user)
        self.users = users
        self.signups = [u.signup for u in users]  # sorted for customers (after staff)
        self.customer_start = ADMINS + STAFF
        cumulative = []
        running = 0.0
        for user in users:
            running += user.weight if user.role == "customer" and user.verified else 0.0
            cumulative.append(running)
        self.cumulative = cumulative
        self.admin_indexes = list(range(ADMINS))
        self.staff_indexes = list(range(ADMINS, ADMINS + STAFF))
        self.heavy_logins = [h[0] for h in HEAVY]

        rows = (
            (
                n + 1,
                u.email,
                u.username,
                u.full_name,
                password_hash,
                u.role,
                u.active,
                _dt(u.signup + rng.uniform(60, 1800)) if u.verified else None,
                _dt(u.signup),
            )
            for n, u in enumerate(users)
        )
        names = columns(
            "id email username full_name password_hash role is_active_account "
            "email_verified_at created_at"
        )
        self.copier.copy(User.__table__, names, rows)

    def pick_customer(self, moment: float) -> int | None:
        """A verified customer who had signed up by `moment`, by how often each books:
        the heavy and frequent ones take their fixed share of all bookings, the others
        share the rest by weight."""
        roll = self.rng.random()
        if self.fixed_cumulative and roll < self.fixed_cumulative[-1]:
            user = self.fixed_users[bisect.bisect_right(self.fixed_cumulative, roll)]
            if self.users[user].signup < moment - 600:
                return user
        known = bisect.bisect_right(self.signups, moment - 600, lo=self.customer_start)
        if known <= self.customer_start:
            return None
        top = self.cumulative[known - 1]
        if top <= 0:
            return None
        return bisect.bisect_right(self.cumulative, self.rng.random() * top, hi=known)

    # --- shows --------------------------------------------------------------------------

    def fits(self, film: FilmSpec, local_minutes: int) -> bool:
        """Family films play before the evening, 18-rated films only from 18:00 (as the
        demo's programme does)."""
        if film.rating == "18":
            return local_minutes >= 18 * 60
        if film.rating == "U":
            return local_minutes < 19 * 60
        return True

    def film_weight(self, index: int, moment: float) -> float:
        if not (self.release[index] - 3 * 86400 <= moment <= self.run_until[index]):
            return 0.0
        weeks = (moment - self.release[index]) / (7 * 86400)
        return self.films[index].popularity * freshness(weeks)

    def make_shows(self) -> None:
        from filmsphere.services.catalogue.scheduling import show_end

        rng = self.rng
        shows: list[ShowRow] = []
        day = self.first_day
        while day <= self.last_day:
            noon = self.local(day, clock(12))
            weights = [self.film_weight(i, noon) for i in range(len(self.films))]
            running = [i for i, w in enumerate(weights) if w > 0]
            # The programme is published two weeks ahead, on Mondays.
            monday = day - timedelta(days=day.weekday() + 14)
            published = min(self.local(monday, clock(10)), self.now - 86400)
            published = max(published, self.opening)
            for screen_index, spec in enumerate(SCREENS):
                main = rng.choices(running, [weights[i] ** 1.5 for i in running])[0]
                family = [i for i in running if self.films[i].rating in ("U", "PG")] or running
                matinee = rng.choices(family, [weights[i] for i in family])[0]
                start = self.local(day, clock(10, 10 * (screen_index % 6)))
                for slot in range(SHOWS_PER_DAY):
                    local = datetime.fromtimestamp(start, self.tz)
                    minutes = local.hour * 60 + local.minute
                    if local.date() != day:
                        minutes += 24 * 60
                    film = matinee if slot < 2 else main
                    if not self.fits(self.films[film], minutes):
                        fitting = [i for i in running if self.fits(self.films[i], minutes)]
                        film = rng.choices(fitting, [weights[i] for i in fitting])[0]
                    begins = _dt(start)
                    ends = _epoch(show_end(begins, self.films[film].minutes))
                    evening = minutes >= 17 * 60
                    price = (12 if evening else 9) + (1 if spec.big_format else 0)
                    if day.weekday() == 1:
                        price = 7 + (1 if spec.big_format else 0)  # cheap Tuesdays
                    shows.append(
                        ShowRow(
                            id=len(shows) + 1,
                            movie=film,
                            screen=screen_index,
                            starts=start,
                            ends=ends,
                            price=price,
                            created=published + rng.uniform(0, 3600),
                        )
                    )
                    # Next show: after the cleaning, on the next 5 minutes, plus ads slack.
                    start = math.ceil(ends / 300) * 300 + rng.choice((0, 300, 600))
            day += timedelta(days=1)
        # A few shows cancelled by the cinema (a projector fault, a flood in the foyer).
        past = [s for s in shows if s.starts < self.now]
        for show in rng.sample(past, max(1, round(15 * self.scale))):
            show.cancelled = show.starts - rng.uniform(3600, 2 * 86400)
        self.shows = shows

    # --- sales ----------------------------------------------------------------------------

    def demand(self) -> list[float]:
        """Each show's share of its seats people want: weekday, time of day, the film's
        pull that week, the season, and noise."""
        rng = self.rng
        raw = []
        for show in self.shows:
            local = datetime.fromtimestamp(show.starts, self.tz)
            hour = local.hour + local.minute / 60
            slot = next(share for until, share in HOUR_DEMAND if hour < until)
            weekday = local.weekday()
            film = self.films[show.movie]
            family = film.rating in ("U", "PG") and "Family" in film.genres
            boost = 1.6 if family and hour < 17 and weekday >= 5 else 1.0
            day_of_year = local.timetuple().tm_yday
            season = 1.0 + 0.15 * math.cos((day_of_year - 15) / 365 * 2 * math.pi)
            if (local.month == 12 and local.day >= 20) or (local.month == 8):
                season *= 1.25  # holidays
            raw.append(
                WEEKDAY_DEMAND[weekday]
                * slot
                * self.film_weight(show.movie, show.starts)
                * boost
                * season
                * rng.lognormvariate(0, 0.3)
            )
        return raw

    def sell(self) -> None:
        """Every show's bookings: as many seats as its demand, in groups of 1-6 adjacent
        seats, bought at a time before the show by a customer who had signed up."""
        rng = self.rng
        raw = self.demand()
        capacity = [sum(len(s) for s in segs) for segs in self.screen_segments]
        target = TICKETS_PER_SHOW * len(self.shows)
        low, high = 0.0, 10.0  # the factor that makes the year sell `target` tickets
        for _ in range(40):
            k = (low + high) / 2
            sold = sum(
                min(0.97, k * r) * capacity[s.screen] for r, s in zip(raw, self.shows, strict=True)
            )
            low, high = (k, high) if sold < target else (low, k)
        k = (low + high) / 2
        bookings: list[BookingRow] = []
        sizes_cum = list(_cumulative(GROUP_WEIGHTS))
        for r, show in zip(raw, self.shows, strict=True):
            wanted = round(min(0.97, k * r) * capacity[show.screen] * rng.uniform(0.9, 1.1))
            segments = self.screen_segments[show.screen]
            order = sorted(
                range(len(segments)),
                key=lambda i: self.screen_rows[show.screen][i] + rng.uniform(0, 3),
            )
            lo = [0] * len(segments)
            hi = [len(s) for s in segments]
            pairs_free = list(self.screen_pairs[show.screen])
            placed = 0
            last_sale = show.starts - 60 if show.cancelled is None else show.cancelled
            while placed < wanted:
                size = GROUP_SIZES[bisect.bisect_right(sizes_cum, rng.random() * sizes_cum[-1])]
                created = self._bought_at(show, last_sale)
                if created is None:
                    placed += size  # this customer would come after now (or never)
                    continue
                user = self.pick_customer(created)
                if user is None:
                    placed += size
                    continue
                if size == 2 and pairs_free and rng.random() < 0.02:
                    chosen = list(pairs_free.pop())
                else:
                    chosen = self._place(segments, order, lo, hi, size)
                    if chosen is None:
                        break  # sold out
                seats = [(sid, cat, _price(show.price, cat)) for sid, cat in chosen]
                bookings.append(BookingRow(created, user, show.id - 1, seats))
                placed += len(seats)
        bookings.sort(key=lambda b: b.created)
        for n, booking in enumerate(bookings):
            booking.id = n + 1
        self.bookings = bookings
        self.cancel()

    def _bought_at(self, show: ShowRow, last_sale: float) -> float | None:
        """When a customer bought: mostly the same day or a few days before."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.35:
            lead = rng.uniform(20 * 60, 8 * 3600)
        elif roll < 0.7:
            lead = rng.uniform(8 * 3600, 3 * 86400)
        elif roll < 0.92:
            lead = rng.uniform(3 * 86400, 8 * 86400)
        else:
            lead = rng.uniform(8 * 86400, 14 * 86400)
        moment = max(show.starts - lead, show.created + rng.uniform(300, 86400))
        if moment >= last_sale or moment >= self.now:
            return None
        return moment

    @staticmethod
    def _place(
        segments: list[list[tuple[int, str]]],
        order: list[int],
        lo: list[int],
        hi: list[int],
        size: int,
    ) -> list[tuple[int, str]] | None:
        """Adjacent free seats for a group, in the best run that keeps no single seat
        alone (or any run with room, when none does). Runs fill from both ends."""
        fallback = None
        for i in order:
            free = hi[i] - lo[i]
            if free < size:
                continue
            if free - size == 1:
                fallback = fallback if fallback is not None else i
                continue
            return _take(segments[i], lo, hi, i, size)
        if fallback is not None:
            return _take(segments[fallback], lo, hi, fallback, size)
        return None

    def cancel(self) -> None:
        """Customers cancel some bookings (whole or a ticket), admins a few, and the
        shows the cinema cancelled refund everyone."""
        rng = self.rng
        shows = self.shows
        for booking in self.bookings:
            show = shows[booking.show]
            if show.cancelled is not None:
                booking.cancel_at = show.cancelled
                booking.cancel_count = len(booking.seats)
                booking.cancel_actor = rng.choice(self.admin_indexes)
                booking.cancel_reason = "The show was cancelled: projector fault"
                continue
            roll = rng.random()
            latest = show.starts - self.partial_before - 60
            if roll >= 0.08 or latest <= booking.created + 300:
                continue
            moment = rng.uniform(booking.created + 300, latest)
            if moment >= self.now:
                continue
            if roll < 0.05:  # the customer cancels the whole booking
                booking.cancel_count = len(booking.seats)
            elif roll < 0.075:  # the customer cancels some of the tickets
                if len(booking.seats) == 1:
                    continue
                booking.cancel_count = rng.randint(1, len(booking.seats) - 1)
            else:  # the box office cancels it for them, 100 %
                booking.cancel_count = len(booking.seats)
                booking.cancel_actor = rng.choice(self.admin_indexes)
                booking.cancel_reason = rng.choice(
                    (
                        "Customer called the box office: double booking",
                        "Customer unwell, refunded as goodwill",
                        "Booked the wrong day by mistake",
                    )
                )
            booking.cancel_at = moment
            if booking.cancel_actor is None and show.starts - moment < self.full_before:
                booking.cancel_percent = self.partial_percent

    # --- writing ----------------------------------------------------------------------------

    def write_sales(self) -> None:
        from filmsphere.models import (
            AuditEntry,
            Booking,
            LedgerEntry,
            Show,
            Ticket,
            TopUp,
            Wallet,
        )
        from filmsphere.services.booking.checkout import REFERENCE_ALPHABET, REFERENCE_LENGTH
        from filmsphere.services.booking.pricing import percent_of

        rng = self.rng
        copier = self.copier
        now = self.now

        show_columns = columns(
            "id movie_id screen_id starts_at ends_at base_price_coins status "
            "created_at cancelled_at"
        )
        # Cron marks shows finished every minute; the last minute's are still scheduled.
        copier.copy(
            Show.__table__,
            show_columns,
            (
                (
                    s.id,
                    self.movie_ids[s.movie],
                    self.screen_ids[s.screen],
                    _dt(s.starts),
                    _dt(s.ends),
                    s.price,
                    "cancelled"
                    if s.cancelled is not None
                    else "finished"
                    if s.ends <= now - 60
                    else "scheduled",
                    _dt(s.created),
                    _dt(s.cancelled) if s.cancelled is not None else None,
                )
                for s in self.shows
            ),
        )

        references: set[str] = set()
        self.booking_refs: list[str] = [""]  # by booking id
        booking_rows = []
        ticket_rows = []
        events: list[
            tuple[float, int, int, int, int | None, int | None, int | None, str | None]
        ] = []
        # (time, user, kind, amount, booking_id, ticket_id, actor index, reason); kind codes:
        # 0 signup grant, 1 charge, 2 refund, 3 adjustment
        ticket_id = 0
        shows = self.shows
        staff = self.staff_indexes
        for booking in self.bookings:
            show = shows[booking.show]
            reference = "".join(rng.choices(REFERENCE_ALPHABET, k=REFERENCE_LENGTH))
            while reference in references:
                reference = "".join(rng.choices(REFERENCE_ALPHABET, k=REFERENCE_LENGTH))
            references.add(reference)
            self.booking_refs.append(reference)
            total = sum(price for _, _, price in booking.seats)
            first_cancelled = len(booking.seats) - booking.cancel_count
            refund_total = 0
            single_ticket = None
            for position, (seat_id, category, price) in enumerate(booking.seats):
                ticket_id += 1
                cancelled = position >= first_cancelled
                refund = percent_of(price, booking.cancel_percent) if cancelled else None
                checked_at = checked_by = None
                at_door = not cancelled and show.cancelled is None and show.starts <= now
                if at_door and rng.random() < 0.88:  # the others never came
                    moment = show.starts - rng.uniform(60, 30 * 60)
                    if moment < now:
                        checked_at = _dt(moment)
                        checked_by = rng.choice(staff) + 1
                if cancelled:
                    refund_total += refund or 0
                    single_ticket = ticket_id
                ticket_rows.append(
                    (
                        ticket_id,
                        booking.id,
                        show.id,
                        seat_id,
                        category,
                        price,
                        "cancelled" if cancelled else "active",
                        refund,
                        _dt(booking.cancel_at) if cancelled and booking.cancel_at else None,
                        checked_at,
                        checked_by,
                        _dt(booking.created),
                    )
                )
            status = (
                "paid"
                if booking.cancel_count == 0
                else "cancelled"
                if booking.cancel_count == len(booking.seats)
                else "partially_cancelled"
            )
            booking_rows.append(
                (
                    booking.id,
                    reference,
                    booking.user + 1,
                    show.id,
                    status,
                    total,
                    secrets.token_urlsafe(24),
                    _dt(booking.created),
                    _dt(booking.cancel_at) if status == "cancelled" and booking.cancel_at else None,
                )
            )
            events.append((booking.created, booking.user, 1, -total, booking.id, None, None, None))
            if booking.cancel_count and refund_total:
                assert booking.cancel_at is not None
                events.append(
                    (
                        booking.cancel_at,
                        booking.user,
                        2,
                        refund_total,
                        booking.id,
                        single_ticket if booking.cancel_count == 1 else None,
                        booking.cancel_actor,
                        booking.cancel_reason,
                    )
                )
        copier.copy(
            Booking.__table__,
            columns(
                "id reference user_id show_id status total_coins checkout_token "
                "created_at cancelled_at"
            ),
            booking_rows,
        )
        self.booking_count = len(booking_rows)
        del booking_rows
        copier.copy(
            Ticket.__table__,
            columns(
                "id booking_id show_id seat_id category price_coins status refund_coins "
                "cancelled_at checked_in_at checked_in_by_id created_at"
            ),
            ticket_rows,
        )
        self.ticket_count = len(ticket_rows)
        del ticket_rows

        for n, user in enumerate(self.users):
            events.append((user.signup, n, 0, self.grant, None, None, None, None))
        # Goodwill from the box office, now and then.
        booked = [b for b in self.bookings[:: max(1, len(self.bookings) // 2000)]]
        for booking in rng.sample(booked, min(len(booked), max(5, round(300 * self.scale)))):
            show = shows[booking.show]
            if show.ends + 3600 >= now:
                continue
            moment = show.ends + rng.uniform(600, 86400)
            if moment >= now:
                continue
            amount = rng.choice((20, 30, 50, 100))
            reason = rng.choice(
                (
                    f"Goodwill: sound fault in {SCREENS[show.screen].name}",
                    "Goodwill: the show started 20 minutes late",
                    "Goodwill: broken seat",
                )
            )
            actor = rng.choice(self.admin_indexes)
            events.append((moment, booking.user, 3, amount, None, None, actor, reason))
        events.sort(key=lambda e: (e[0], e[2]))
        adjustments = self.write_ledger(events, LedgerEntry, TopUp, Wallet)
        self.write_audit(adjustments, AuditEntry)

    def write_ledger(
        self, events: list[Any], ledger_model: Any, topup_model: Any, wallet_model: Any
    ) -> list[Any]:
        """Walk the coin movements in time order, computing each balance_after; a charge
        the balance can't cover is preceded by a top-up. Returns the adjustments with the
        balance before and after, for their audit rows."""
        rng = self.rng
        adjustments = []
        kinds = ("signup_grant", "booking_charge", "refund", "admin_adjustment")
        balance = [0] * len(self.users)
        last = [0.0] * len(self.users)
        heavy = {n for n, u in enumerate(self.users) if u.username in self.heavy_logins}
        ledger = []
        topups = []
        for moment, user, kind, amount, booking_id, ticket_id, actor, reason in events:
            if kind == 1 and balance[user] + amount < 0:
                # Buys a coin pack by card a few minutes before paying.
                need = -amount - balance[user]
                fitting = [p for p in self.packs if p[1] >= need] or [self.packs[-1]]
                pack = fitting[-1] if user in heavy else rng.choice(fitting[:2])
                paid_at = max(last[user] + 1, moment - rng.uniform(60, 480))
                if rng.random() < 0.1:  # an abandoned Checkout Session before it
                    topups.append(
                        (len(topups) + 1, user + 1, "cs_live_" + secrets.token_hex(12), pack[0],
                         pack[1], pack[2], self.currency, "expired", _dt(paid_at - 1800), None)
                    )  # fmt: skip
                topup_id = len(topups) + 1
                topups.append(
                    (topup_id, user + 1, "cs_live_" + secrets.token_hex(12), pack[0], pack[1],
                     pack[2], self.currency, "paid", _dt(paid_at - 90), _dt(paid_at))
                )  # fmt: skip
                balance[user] += pack[1]
                ledger.append(
                    (len(ledger) + 1, user + 1, "topup", pack[1], balance[user], None, None,
                     topup_id, None, None, _dt(paid_at))
                )  # fmt: skip
            if kind == 3:
                adjustments.append(
                    (moment, user, amount, reason, actor, balance[user], balance[user] + amount)
                )
            balance[user] += amount
            assert balance[user] >= 0
            last[user] = moment
            ledger.append(
                (
                    len(ledger) + 1,
                    user + 1,
                    kinds[kind],
                    amount,
                    balance[user],
                    booking_id,
                    ticket_id,
                    None,
                    actor + 1 if actor is not None else None,
                    reason,
                    _dt(moment),
                )
            )
        # Wallet id = user id: one wallet per account, opened at sign-up.
        self.copier.copy(
            wallet_model.__table__,
            ["id", "user_id", "balance_coins", "updated_at"],
            (
                (n + 1, n + 1, balance[n], _dt(max(last[n], u.signup)))
                for n, u in enumerate(self.users)
            ),
        )
        self.copier.copy(
            topup_model.__table__,
            columns(
                "id user_id stripe_session_id pack_id coins amount_minor currency "
                "status created_at completed_at"
            ),
            topups,
        )
        self.copier.copy(
            ledger_model.__table__,
            columns(
                "id wallet_id kind amount_coins balance_after_coins booking_id "
                "ticket_id topup_id actor_id reason created_at"
            ),
            ledger,
        )
        self.ledger_count = len(ledger)
        self.topup_count = len(topups)
        return adjustments

    def write_audit(self, adjustments: list[Any], audit_model: Any) -> None:
        """The audit rows the admins' actions over the year left, in time order."""
        from filmsphere.services.catalogue.screens import parse_layout

        rng = self.rng
        rows: list[tuple[float, int | None, str, str, str, Any, Any]] = []
        admin = self.admin_indexes
        for n, spec in enumerate(SCREENS):
            seats = sum(1 for s in parse_layout(spec.layout()) if s.category != "broken")
            rows.append(
                (self.opening - 20 * 86400 + n * 60, 0, "screen.create", "screen",
                 str(self.screen_ids[n]), None,
                 {"name": spec.name, "layout": spec.layout(), "is_active": True, "seats": seats})
            )  # fmt: skip
        for n in self.staff_indexes:
            rows.append(
                (self.opening - 14 * 86400 + n * 60, 0, "user.role", "user", str(n + 1),
                 {"role": "customer"}, {"role": "staff"})
            )  # fmt: skip
        for n in admin[1:]:
            rows.append(
                (self.opening - 14 * 86400 + n * 60, 0, "user.role", "user", str(n + 1),
                 {"role": "customer"}, {"role": "admin"})
            )  # fmt: skip
        last_show: dict[int, float] = {}
        for show in self.shows:
            last_show[show.movie] = max(last_show.get(show.movie, 0.0), show.ends)
        for index, film in enumerate(self.films):
            snapshot = {
                "title": film.title,
                "description": film.description,
                "duration_minutes": film.minutes,
                "age_rating": film.rating,
                "language": film.language,
                "release_date": datetime.fromtimestamp(self.release[index], self.tz)
                .date()
                .isoformat(),
                "genres": sorted(film.genres),
                "poster_hue": film.hue,
                "poster_filename": None,
                "is_retired": False,
            }
            actor = rng.choice(admin)
            rows.append(
                (self.film_created[index], actor, "film.create", "film",
                 str(self.movie_ids[index]), None, snapshot)
            )  # fmt: skip
            if rng.random() < 0.5:
                edited = self.film_created[index] + rng.uniform(3600, 7 * 86400)
                after = snapshot | {"poster_hue": (film.hue + 20) % 360}
                rows.append(
                    (min(edited, self.now - 60), actor, "film.update", "film",
                     str(self.movie_ids[index]), snapshot, after)
                )  # fmt: skip
            ended = last_show.get(index)
            if ended is not None and ended + 21 * 86400 < self.now:
                self.retired.add(index)
                rows.append(
                    (ended + rng.uniform(7, 21) * 86400, actor, "film.retire", "film",
                     str(self.movie_ids[index]), {"is_retired": False}, {"is_retired": True})
                )  # fmt: skip
        for show in self.shows:
            rows.append(
                (
                    show.created,
                    rng.choice(admin),
                    "show.create",
                    "show",
                    str(show.id),
                    None,
                    {
                        "movie_id": self.movie_ids[show.movie],
                        "screen_id": self.screen_ids[show.screen],
                        "starts_at": _dt(show.starts).isoformat(),
                        "base_price_coins": show.price,
                    },
                )
            )
        cancelled_by_show: dict[int, list[BookingRow]] = {}
        for booking in self.bookings:
            show = self.shows[booking.show]
            if show.cancelled is not None:
                cancelled_by_show.setdefault(show.id, []).append(booking)
            elif booking.cancel_actor is not None and booking.cancel_at is not None:
                rows.append(
                    (booking.cancel_at, booking.cancel_actor, "booking.cancel", "booking",
                     self.booking_refs[booking.id],
                     {"status": "paid", "active_tickets": len(booking.seats)},
                     {"status": "cancelled", "active_tickets": 0,
                      "refund_coins": sum(p for _, _, p in booking.seats),
                      "reason": booking.cancel_reason})
                )  # fmt: skip
        for show in self.shows:
            if show.cancelled is None:
                continue
            affected = cancelled_by_show.get(show.id, [])
            rows.append(
                (show.cancelled, rng.choice(admin), "show.cancel", "show", str(show.id),
                 {"status": "scheduled"},
                 {"status": "cancelled", "bookings": len(affected),
                  "tickets": sum(len(b.seats) for b in affected),
                  "refunded_coins": sum(p for b in affected for _, _, p in b.seats)})
            )  # fmt: skip
        for moment, user, amount, reason, actor, before, after in adjustments:
            rows.append(
                (moment, actor, "wallet.adjust", "user", str(user + 1),
                 {"balance_coins": before},
                 {"balance_coins": after, "amount_coins": amount, "reason": reason})
            )  # fmt: skip
        for n, user in enumerate(self.users):
            if not user.active:
                rows.append(
                    (user.signup + rng.uniform(3600, 20 * 86400), rng.choice(admin),
                     "user.deactivate", "user", str(n + 1), {"is_active": True},
                     {"is_active": False})
                )  # fmt: skip
        rows = [r for r in rows if r[0] < self.now]
        rows.sort(key=lambda r: r[0])
        self.copier.copy(
            audit_model.__table__,
            columns("id actor_id action target_type target_id before after created_at"),
            (
                (n + 1, actor + 1 if actor is not None else None, action, kind, target,
                 json.dumps(before) if before is not None else None,
                 json.dumps(after) if after is not None else None, _dt(moment))
                for n, (moment, actor, action, kind, target, before, after) in enumerate(rows)
            ),
        )  # fmt: skip
        self.audit_count = len(rows)

    # --- mail ---------------------------------------------------------------------------------

    def write_mail_history(self) -> None:
        """Every email the year sent, as sent outbox rows (verification, confirmation,
        cancellation), in one INSERT … SELECT, holding the facts the app records (a
        cancellation's ticket list is left empty: nothing reads a sent message again, so
        only their number matters here). The newest bookings' confirmations are left
        out: they are the pending backlog the app queues next."""
        from filmsphere.models import OutboxMessage

        self.backlog_count = min(self.booking_count, max(100, round(FULL_BACKLOG * self.scale)))
        self.backlog_after = self.booking_count - self.backlog_count  # booking ids above wait
        names = columns(
            "kind to_address payload status attempts next_attempt_at created_at sent_at"
        )
        self.copier.check(OutboxMessage.__table__, names)
        with self.conn.cursor() as cur:
            cur.execute("SET LOCAL work_mem = '256MB'")
            cur.execute(
                """
                INSERT INTO outbox_messages ({columns})
                SELECT kind, to_address, payload, 'sent', 1,
                       created_at, created_at, created_at + interval '4 seconds'
                FROM (
                    SELECT 'verify_email' AS kind, u.email AS to_address,
                           json_build_object(
                               'name', u.full_name,
                               'code', lpad((u.id * 7919 % 1000000)::text, 6, '0'),
                               'link', '', 'minutes', 30) AS payload,
                           u.created_at
                    FROM users u
                    UNION ALL
                    SELECT 'booking_confirmation', u.email,
                           json_build_object('booking_id', b.id), b.created_at
                    FROM bookings b
                    JOIN users u ON u.id = b.user_id
                    WHERE b.id <= {last}
                    UNION ALL
                    SELECT CASE WHEN l.actor_id IS NULL THEN 'booking_cancelled'
                                ELSE 'booking_cancelled_by_admin' END,
                           u.email,
                           json_build_object(
                               'booking_id', b.id, 'cancelled', '[]'::json,
                               'refund_coins', l.amount_coins, 'remaining', '[]'::json,
                               'used', '[]'::json, 'reason', '', 'sequence', 1),
                           l.created_at
                    FROM ledger_entries l
                    JOIN bookings b ON b.id = l.booking_id
                    JOIN users u ON u.id = b.user_id
                    WHERE l.kind = 'refund'
                ) AS sent
                ORDER BY created_at
                """.format(last=int(self.backlog_after), columns=", ".join(names))
            )
            self.history_count = cur.rowcount

    def queue_backlog(self, db: Any) -> None:
        """The newest bookings' confirmations wait in the outbox as the app queued them
        (the booking id; the sender renders text, HTML, a QR per ticket and the .ics), as
        if the mail sender had been stopped while they were bought."""
        from sqlalchemy import select

        from filmsphere.models import Booking, OutboxMessage
        from filmsphere.services.mail.notifications import queue_booking_confirmation

        ids = list(
            db.session.scalars(
                select(Booking.id).where(Booking.id > self.backlog_after).order_by(Booking.id)
            )
        )
        for start in range(0, len(ids), 500):
            # Load a chunk's bookings in one query, so the app's code below finds them in
            # the session instead of asking for each.
            chunk = db.session.scalars(
                select(Booking).where(Booking.id.in_(ids[start : start + 500])).order_by(Booking.id)
            ).all()
            for booking in chunk:
                queue_booking_confirmation(booking.id, booking.created_at)
            db.session.commit()
            db.session.expunge_all()
        pending = select(OutboxMessage.id).where(OutboxMessage.status == "pending")
        first = db.session.scalar(pending.order_by(OutboxMessage.id).limit(1))
        last = db.session.scalar(pending.order_by(OutboxMessage.id.desc()).limit(1))
        self.backlog_ids = (int(first or 0), int(last or 0))

    # --- finishing ----------------------------------------------------------------------------

    def fix_sequences(self) -> None:
        """Rows were written with explicit ids: move each id sequence past them, and mark
        the films the admins retired."""
        from filmsphere.extensions import db

        with self.conn.cursor() as cur:
            for table in db.metadata.sorted_tables:
                if "id" not in table.c or not table.c.id.primary_key:
                    continue
                cur.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                    f"GREATEST((SELECT max(id) FROM {table.name}), 1))"
                )
            retired = [self.movie_ids[i] for i in self.retired]
            cur.execute("UPDATE movies SET is_retired = true WHERE id = ANY(%s)", (retired,))

    def meta(self) -> dict[str, str]:
        heavy = self.heavy_logins[0]
        return {
            "scale": str(self.scale),
            "loaded_at": _dt(self.now).isoformat(),
            "heavy_login": heavy,
            "admin_login": "admin",
            "staff_login": "staff",
            "password": PASSWORD,
            "backlog_first_id": str(self.backlog_ids[0]),
            "backlog_last_id": str(self.backlog_ids[1]),
        }


def columns(names: str) -> list[str]:
    """ "id user_id" -> ["id", "user_id"]: a table's columns in the order rows give them."""
    return names.split()


def _cumulative(values: Iterable[float]) -> Iterator[float]:
    total = 0.0
    for value in values:
        total += value
        yield total


def _take(
    segment: list[tuple[int, str]], lo: list[int], hi: list[int], i: int, size: int
) -> list[tuple[int, str]]:
    """Seats from the end of run i nearer the middle of the house: runs fill from both
    ends towards the middle, so what is left stays one block."""
    if (lo[i] + hi[i]) % 2:
        chosen = segment[lo[i] : lo[i] + size]
        lo[i] += size
    else:
        chosen = segment[hi[i] - size : hi[i]]
        hi[i] -= size
    return chosen


_PRICES: dict[tuple[int, str], int] = {}


def _price(base: int, category: str) -> int:
    key = (base, category)
    price = _PRICES.get(key)
    if price is None:
        from filmsphere.services.booking.pricing import seat_price

        price = _PRICES[key] = seat_price(base, category)
    return price
