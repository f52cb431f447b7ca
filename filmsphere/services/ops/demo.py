"""Demo data for `flask seed-demo`: films, three screens, a week of shows, demo accounts.

Idempotent: every piece is looked up by its natural key (title, screen name, username, a
screen's shows on a local day) before it is created, so a second run adds nothing except
the shows of days that came into the 7-day window since the last run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from ...clock import cinema_tz, local_day_bounds, to_local
from ...extensions import db
from ...models import Genre, Movie, Role, Screen, Show, ShowStatus, User
from ..catalogue.scheduling import schedule_show, show_end
from ..catalogue.screens import create_screen, sellable_seat_count
from ..errors import ShowOverlap
from ..transaction import write_transaction
from ..wallet.wallet import open_wallet

DAYS = 7
FIRST_START = time(12, 0)
LAST_START = time(22, 30)
EVENING = time(17, 0)


@dataclass(frozen=True)
class DemoFilm:
    title: str
    genres: tuple[str, ...]
    language: str
    rating: str
    minutes: int
    hue: int
    released: date
    description: str


FILMS: tuple[DemoFilm, ...] = (
    DemoFilm(
        "The Lighthouse Keeper's Daughter",
        ("Drama",),
        "English",
        "12A",
        118,
        205,
        date(2026, 9, 18),
        "On a storm-beaten island off the Cornish coast, a girl keeps her late father's lamp "
        "burning while the mainland decides whether the lighthouse should go dark for good.",
    ),
    DemoFilm(
        "Neon Harbour",
        ("Thriller", "Crime"),
        "English",
        "15",
        124,
        290,
        date(2026, 10, 2),
        "A night-shift crane operator sees a container that isn't on any manifest, and has "
        "until the tide turns to work out who will kill to keep it closed.",
    ),
    DemoFilm(
        "Les Jardins de Minuit",
        ("Romance", "Drama"),
        "French",
        "12A",
        105,
        330,
        date(2026, 8, 28),
        "Two rival gardeners at a Paris palace are forced to share one greenhouse for a "
        "summer competition, and find that some flowers only open after midnight.",
    ),
    DemoFilm(
        "El Último Tren a Sevilla",
        ("Comedy", "Adventure"),
        "Spanish",
        "PG",
        98,
        25,
        date(2026, 7, 10),
        "A retired conductor, his chaotic grandson and a stolen flamenco guitar share the "
        "last carriage of a night train that refuses to arrive on time.",
    ),
    DemoFilm(
        "Kaze no Tōge",
        ("Animation", "Fantasy"),
        "Japanese",
        "U",
        92,
        165,
        date(2026, 11, 6),
        "High on a mountain pass, a young courier befriends the wind spirit that has been "
        "blowing away her letters, and together they race to deliver the last one.",
    ),
    DemoFilm(
        "Orbit of Silence",
        ("Science Fiction", "Thriller"),
        "English",
        "12A",
        158,
        250,
        date(2026, 10, 23),
        "When a deep-space relay stops answering, its only engineer must decide whether the "
        "voice asking to be let back in is really her crewmate.",
    ),
    DemoFilm(
        "Seoul After Rain",
        ("Drama", "Mystery"),
        "Korean",
        "15",
        131,
        190,
        date(2026, 9, 4),
        "A detective on her last week before retirement reopens a missing-person case that "
        "only makes sense when it rains over the old market district.",
    ),
    DemoFilm(
        "Der Uhrmacher",
        ("Mystery", "History"),
        "German",
        "12A",
        112,
        40,
        date(2026, 6, 19),
        "Leipzig, 1911: a watchmaker's apprentice discovers that every clock in his master's "
        "shop runs exactly seven minutes fast, except the one that stopped.",
    ),
    DemoFilm(
        "Captain Marmalade and the Sky Pirates",
        ("Animation", "Family", "Adventure"),
        "English",
        "U",
        88,
        45,
        date(2026, 11, 13),
        "A ginger cat with a homemade airship takes on a gang of pigeons who have stolen "
        "every biscuit in town. Songs, storms and a very brave goldfish.",
    ),
    DemoFilm(
        "Blood Moon Motel",
        ("Horror",),
        "English",
        "18",
        101,
        355,
        date(2026, 10, 30),
        "Six strangers check in to a desert motel on the night of a lunar eclipse. The "
        "register says seven. Not for the faint-hearted.",
    ),
    DemoFilm(
        "The Long Way to Tromsø",
        ("Documentary",),
        "English",
        "PG",
        95,
        185,
        date(2026, 5, 22),
        "A cyclist rides 3,000 kilometres north to see the aurora with her father's old "
        "camera, meeting the people who live where the road runs out.",
    ),
    DemoFilm(
        "Velvet Riot",
        ("Music", "Drama"),
        "Spanish",
        "15",
        109,
        310,
        date(2026, 8, 7),
        "Madrid, 1983: four teenagers with borrowed instruments and one stolen amplifier "
        "start the loudest band the neighbourhood has ever complained about.",
    ),
)


@dataclass(frozen=True)
class DemoScreen:
    name: str
    layout: str
    matinee_price: int
    evening_price: int


SCREENS: tuple[DemoScreen, ...] = (
    DemoScreen(
        "Grand",
        # Aisles ('.'), a premium block, VIP back row, wheelchair spaces with companion
        # seats beside them, and one broken seat (X) in row D.
        "SSSSS..SSSSSSSSSS..SSSSS\n"
        "SSSSS..SSSSSSSSSS..SSSSS\n"
        "SSSSS..SSSSSSSSSS..SSSSS\n"
        "SSSSS..SSSSSSSSXS..SSSSS\n"
        "SSSSS..PPPPPPPPPP..SSSSS\n"
        ".......PPPPPPPPPP.......\n"
        "WCCW...VVVVVVVVVV...WCCW",
        10,
        12,
    ),
    DemoScreen(
        "Studio",
        "SSSS.SSSSSSSS.SSSS\n"
        "SSSS.SSSSSSSS.SSSS\n"
        "SSSS.SSSSSSSS.SSSS\n"
        "PPPP.PPPPPPPP.PPPP\n"
        "WC...VVVVVVVV...CW",
        9,
        11,
    ),
    DemoScreen(
        "Salon",
        "VV.VVVV.VV\nVV.VVVV.VV\nPP.PPPP.PP\nWC......CW",
        14,
        16,
    ),
)


@dataclass(frozen=True)
class DemoAccount:
    username: str
    email: str
    full_name: str
    role: Role
    password: str


ACCOUNTS: tuple[DemoAccount, ...] = (
    DemoAccount(
        "customer", "customer@example.com", "Casey Customer", Role.CUSTOMER, "popcorn-customer"
    ),
    DemoAccount("staff", "staff@example.com", "Sam Staff", Role.STAFF, "popcorn-staff"),
    DemoAccount("admin", "admin@example.com", "Alex Admin", Role.ADMIN, "popcorn-admin"),
)


def seed_demo(now: datetime) -> list[str]:
    """Create whatever demo data is missing and return the lines the CLI prints (counts,
    the demo logins with their passwords, where to open the app).

    Each film, screen, account and show is its own committed unit of work (shows go
    through scheduling.schedule_show, so they can never overlap), so an interrupted run
    is completed by the next one.
    """
    films_added = _seed_films(now)
    screens_added = _seed_screens(now)
    shows_added = _seed_shows(now)
    accounts_added = _seed_accounts(now)

    screens = list(
        db.session.scalars(
            select(Screen).where(Screen.name.in_([s.name for s in SCREENS])).order_by(Screen.id)
        )
    )
    upcoming = db.session.scalar(
        select(func.count())
        .select_from(Show)
        .where(Show.status == ShowStatus.SCHEDULED, Show.starts_at > now)
    )
    grant = int(current_app.config["SIGNUP_GRANT_COINS"])
    lines = [
        "FilmSphere demo data",
        f"  films:   {len(FILMS)} ({films_added} added)",
        "  screens: "
        + ", ".join(f"{s.name} ({sellable_seat_count(s.id)} seats)" for s in screens)
        + f" ({screens_added} added)",
        f"  shows:   {upcoming} upcoming ({shows_added} added for the next {DAYS} days)",
        f"  accounts: {len(ACCOUNTS)} ({accounts_added} added)",
        "",
        "Demo accounts (log in with the username or the email address):",
    ]
    for account in ACCOUNTS:
        lines.append(
            f"  {account.role.value:<8}  login: {account.username:<8}  "
            f"password: {account.password:<17}  ({account.email})"
        )
    lines += [
        f"  New accounts start with {grant} coins.",
        "",
        f"Open {current_app.config['BASE_URL']}/ in your browser once the app is running "
        "(flask run, or bash scripts/demo.sh).",
    ]
    return lines


def _seed_films(now: datetime) -> int:
    added = 0
    for film in FILMS:
        with write_transaction() as session:
            exists = session.scalar(
                select(func.count())
                .select_from(Movie)
                # Exact match: SQLite's lower() only folds ASCII (think "Último").
                .where(Movie.title == film.title)
            )
            if exists:
                continue
            genres = []
            for name in film.genres:
                genre = session.scalar(select(Genre).where(Genre.name == name))
                if genre is None:
                    genre = Genre(name=name)
                    session.add(genre)
                genres.append(genre)
            session.add(
                Movie(
                    title=film.title,
                    description=film.description,
                    duration_minutes=film.minutes,
                    age_rating=film.rating,
                    language=film.language,
                    release_date=film.released,
                    poster_hue=film.hue,
                    genres=genres,
                    created_at=now,
                )
            )
            added += 1
    return added


def _seed_screens(now: datetime) -> int:
    existing = {name.lower() for name in db.session.scalars(select(Screen.name))}
    added = 0
    for screen in SCREENS:
        if screen.name.lower() not in existing:
            create_screen(screen.name, screen.layout, now)
            added += 1
    return added


def _fits(film: Movie, local_start: time) -> bool:
    """Family films play before the evening, 18-rated films only from 18:00."""
    if film.age_rating == "18":
        return local_start >= time(18, 0)
    if film.age_rating == "U":
        return local_start < time(19, 0)
    return True


def _seed_shows(now: datetime) -> int:
    tz = cinema_tz()
    titles = [f.title for f in FILMS]
    movies = sorted(
        db.session.scalars(
            select(Movie).where(Movie.title.in_(titles), Movie.is_retired.is_(False))
        ),
        key=lambda m: titles.index(m.title),
    )
    screens = list(
        db.session.scalars(select(Screen).where(Screen.name.in_([s.name for s in SCREENS])))
    )
    specs = {s.name: s for s in SCREENS}
    screens.sort(key=lambda s: list(specs).index(s.name))
    if not movies or not screens:
        return 0
    today = to_local(now).date()
    added = 0
    for day_index in range(DAYS):
        day = today + timedelta(days=day_index)
        day_start, day_end = local_day_bounds(day)
        for screen_index, screen in enumerate(screens):
            has_shows = db.session.scalar(
                select(func.count())
                .select_from(Show)
                .where(
                    Show.screen_id == screen.id,
                    Show.status != ShowStatus.CANCELLED,
                    Show.starts_at >= day_start,
                    Show.starts_at < day_end,
                )
            )
            if has_shows:
                continue
            added += _seed_screen_day(
                screen, specs[screen.name], movies, day, day_index * 5 + screen_index * 4, tz, now
            )
    return added


def _seed_screen_day(
    screen: Screen,
    spec: DemoScreen,
    movies: list[Movie],
    day: date,
    rotation: int,
    tz: ZoneInfo,
    now: datetime,
) -> int:
    """One screen's programme for one local day: back-to-back shows from 12:00, each
    starting on the quarter hour after the previous one's cleaning, the last by 22:30."""
    added = 0
    start = datetime.combine(day, FIRST_START, tzinfo=tz)
    last = datetime.combine(day, LAST_START, tzinfo=tz)
    slot = 0
    while start <= last:
        local_start = start.timetz().replace(tzinfo=None)
        film = next(
            (
                movies[(rotation + slot + k) % len(movies)]
                for k in range(len(movies))
                if _fits(movies[(rotation + slot + k) % len(movies)], local_start)
            ),
            movies[(rotation + slot) % len(movies)],
        )
        starts_at = start.astimezone(UTC)
        ends_at = show_end(starts_at, film.duration_minutes)
        if starts_at > now:
            price = spec.evening_price if local_start >= EVENING else spec.matinee_price
            try:
                schedule_show(
                    movie_id=film.id,
                    screen_id=screen.id,
                    starts_at=starts_at,
                    base_price_coins=price,
                    now=now,
                )
                added += 1
            except ShowOverlap:
                pass  # someone scheduled this screen meanwhile; leave their show alone
        slot += 1
        start = _next_quarter(ends_at.astimezone(tz))
    return added


def _next_quarter(moment: datetime) -> datetime:
    """The first quarter hour at or after `moment` (local wall-clock arithmetic)."""
    base = moment.replace(second=0, microsecond=0)
    if base < moment:
        base += timedelta(minutes=1)
    extra = (-base.minute) % 15
    return base + timedelta(minutes=extra)


def _seed_accounts(now: datetime) -> int:
    grant = int(current_app.config["SIGNUP_GRANT_COINS"])
    added = 0
    for account in ACCOUNTS:
        with write_transaction() as session:
            exists = session.scalar(
                select(func.count())
                .select_from(User)
                .where(func.lower(User.username) == account.username.lower())
            )
            if exists:
                continue
            user = User(
                email=account.email,
                username=account.username,
                full_name=account.full_name,
                password_hash=generate_password_hash(account.password),
                role=account.role,
                email_verified_at=now,
                created_at=now,
            )
            session.add(user)
            session.flush()
            open_wallet(user.id, grant, now)
            added += 1
    return added
