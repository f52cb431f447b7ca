"""A year of a 12-screen multiplex: load it, then time every page and cron job on it.

    .venv/bin/python bench/year_of_data.py                  # load a year (minutes), then time
    .venv/bin/python bench/year_of_data.py --scale 0.1      # a tenth of the year: quick
    .venv/bin/python bench/year_of_data.py --keep           # leave the database running
    .venv/bin/python bench/year_of_data.py --reuse URL      # time a database loaded before

1. Starts a throwaway PostgreSQL cluster (fsync on), runs the app's migrations (flask db
   upgrade) and loads a year (bench/year_load.py): 12 screens of 84-389 seats, 6 shows a
   day each for the past year and the week ahead (about 26.9k shows), 40 films, 100k
   customers, about 2.25 M tickets and 1.08 M ledger entries, cancellations and refunds,
   top-ups, staff check-ins, admin audit rows, a year of sent emails and a backlog of 10k
   pending confirmations. It prints how long each step took. `--scale 0.1` loads a tenth
   (37 days, 10k customers). With `--reuse URL` (a database an earlier `--keep` run left)
   nothing is loaded: the migrations are applied (a branch's new indexes get built on
   the loaded data) and the cron work is set up again (expired holds, the mail backlog
   pending again).
2. Serves the app with gunicorn in the production shape (4 workers x 8 threads,
   FILMSPHERE_ENV=production) and logs the customer with the most bookings, a staff
   member and an admin in through the real login form (visitors stay anonymous).
3. Inspects every request once on a second gunicorn (one worker, one thread) whose
   database sessions load auto_explain with log_min_duration 0 and ANALYZE (no timing):
   requests run one at a time, so the plans the server log gains during a request are
   that request's. It counts the statements (SELECT/INSERT/UPDATE/DELETE; the pool's
   pre-ping SELECT 1 is left out), names the tables that grow with time any plan reads
   with a Seq Scan, and adds up the rows the scans of those tables went through. Each
   request is made twice and the second one counted, so per-process caches are warm.
4. Times every request on the production-shape server: one warm-up, then up to --reps
   repetitions, fewer for slow pages (about --budget seconds per request, at least 5), so
   the run stays bounded. Prints one line per request: p50 and p95, the statement count,
   the seq-scanned tables, the rows read and the response size.
5. Times `flask cleanup`, `flask audit-ledger` (which must pass) and `flask send-mail` on
   the backlog, to a local SMTP server (messages per second); then runs each once more
   under auto_explain on fresh work (new expired holds, 100 messages pending again) for
   its statement count, seq scans and rows read.

Timings are wall-clock on whatever else the machine is doing: the header prints the load
average and CPU count.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import itertools
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.booking_rush import migrate, start_gunicorn, stop_process  # noqa: E402
from tests.support.postgres import free_port, start_cluster  # noqa: E402

CSRF_RE = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
PLAN_RE = re.compile(r"LOG:  duration: [\d.]+ ms  plan:\n")
SCAN_RE = re.compile(
    r"(Seq Scan|Index Scan|Index Only Scan|Bitmap Heap Scan)(?: Backward)?(?: using \S+)? "
    r"on (\w+)[^(]*\(cost=[^)]*\) \((?:actual rows=(\d+) loops=(\d+)|never executed)\)"
)
REMOVED_RE = re.compile(r"Rows Removed by (?:Filter|Index Recheck|Join Filter): (\d+)")
# Tables whose rows grow with the age of the cinema: a plan that reads one whole is a page
# that gets slower every month.
GROWING = (
    "tickets",
    "bookings",
    "ledger_entries",
    "users",
    "wallets",
    "outbox_messages",
    "audit_entries",
    "shows",
    "topups",
    "account_tokens",
)


# --- the database ------------------------------------------------------------------------


def bench_env(url: str, secret: str, instance: str) -> dict[str, str]:
    return {
        "FILMSPHERE_ENV": "production",
        "FILMSPHERE_SECRET_KEY": secret,
        "FILMSPHERE_DATABASE_URL": url,
        "FILMSPHERE_INSTANCE_PATH": instance,
        # Bench-only: plain HTTP on loopback, and a few log-ins from one address.
        "FILMSPHERE_SESSION_COOKIE_SECURE": "false",
        "FILMSPHERE_RATELIMIT_LOGIN": "1000 per minute",
        "FILMSPHERE_MAIL_SEND_AFTER_COMMIT": "false",  # mail is sent by `flask send-mail`
    }


def connect(url: str) -> Any:
    import psycopg
    from sqlalchemy.engine import make_url

    conninfo = make_url(url).set(drivername="postgresql").render_as_string(False)
    return psycopg.connect(conninfo, autocommit=True)


def load(url: str, scale: float, seed: int) -> dict[str, str]:
    """Migrate, load the year, store what later runs need in bench.meta, VACUUM ANALYZE
    (what autovacuum does for a real database). Returns the metadata."""
    from bench.year_load import YearLoader
    from filmsphere import create_app
    from filmsphere.extensions import db

    started = time.monotonic()
    print(f"loading a year at scale {scale} ...", flush=True)
    migrate()
    print(f"  migrations (flask db upgrade): {time.monotonic() - started:.1f} s", flush=True)
    app = create_app()
    with app.app_context():
        loader = YearLoader(app, url, scale, seed)
        meta = loader.load()
        db.session.remove()
        db.engine.dispose()
    meta["secret_key"] = os.environ["FILMSPHERE_SECRET_KEY"]
    step = time.monotonic()
    with connect(url) as conn:
        conn.execute("CREATE SCHEMA bench")
        conn.execute("CREATE TABLE bench.meta (key text PRIMARY KEY, value text NOT NULL)")
        for key, value in meta.items():
            conn.execute("INSERT INTO bench.meta VALUES (%s, %s)", (key, value))
        conn.execute("VACUUM (ANALYZE)")
    print(f"  VACUUM ANALYZE: {time.monotonic() - step:.1f} s", flush=True)
    print(f"loaded in {time.monotonic() - started:.0f} s", flush=True)
    return meta


def read_meta(url: str) -> dict[str, str]:
    with connect(url) as conn:
        return dict(conn.execute("SELECT key, value FROM bench.meta").fetchall())


def data_summary(url: str, meta: dict[str, str]) -> list[str]:
    """What is in the database, in numbers a cinema manager would recognise."""
    with connect(url) as conn:

        def one(sql: str, *params: Any) -> Any:
            return conn.execute(sql, params).fetchone()

        shows = one(
            "SELECT count(*), count(*) FILTER (WHERE starts_at > now()), "
            "count(*) FILTER (WHERE status = 'cancelled') FROM shows"
        )
        tickets = one(
            "SELECT count(*), count(*) FILTER (WHERE status = 'cancelled'), "
            "count(checked_in_at) FROM tickets"
        )
        bookings = one("SELECT count(*) FROM bookings")[0]
        ledger = one("SELECT count(*), count(DISTINCT wallet_id) FROM ledger_entries")
        users = one("SELECT count(*), count(*) FILTER (WHERE role <> 'customer') FROM users")
        outbox = one(
            "SELECT count(*) FILTER (WHERE status = 'sent'), "
            "count(*) FILTER (WHERE status = 'pending') FROM outbox_messages"
        )
        audit = one("SELECT count(*) FROM audit_entries")[0]
        topups = one("SELECT count(*) FROM topups")[0]
        heavy = one(
            "SELECT u.id, (SELECT count(*) FROM bookings b WHERE b.user_id = u.id), "
            "(SELECT count(*) FROM ledger_entries l JOIN wallets w ON w.id = l.wallet_id "
            "WHERE w.user_id = u.id) FROM users u WHERE u.username = %s",
            meta["heavy_login"],
        )
        top = conn.execute(
            "SELECT count(*) FROM (SELECT user_id FROM bookings GROUP BY user_id "
            "HAVING count(*) >= 100) t"
        ).fetchone()[0]
        month = one(
            "SELECT -sum(amount_coins) FILTER (WHERE kind = 'booking_charge') - "
            "sum(amount_coins) FILTER (WHERE kind = 'refund'), "
            "count(*) FILTER (WHERE kind = 'booking_charge') "
            "FROM ledger_entries WHERE created_at >= now() - interval '30 days' "
            "AND kind IN ('booking_charge', 'refund')"
        )
        occupancy = one(
            "SELECT avg(sold::float / seats), max(sold::float / seats) FROM ("
            " SELECT s.id, (SELECT count(*) FROM tickets t WHERE t.show_id = s.id "
            "   AND t.status = 'active') AS sold,"
            " (SELECT count(*) FROM seats x WHERE x.screen_id = s.screen_id AND x.is_active "
            "   AND x.category <> 'broken') AS seats"
            " FROM shows s WHERE s.status <> 'cancelled' AND s.starts_at < now() "
            " AND s.starts_at >= now() - interval '30 days') o"
        )
        size = one("SELECT pg_size_pretty(pg_database_size(current_database()))")[0]
    return [
        f"data (scale {meta['scale']}, loaded {meta['loaded_at'][:16]} UTC, database {size}):",
        f"  shows {shows[0]:,} ({shows[1]:,} ahead, {shows[2]} cancelled by the cinema); "
        f"bookings {bookings:,}; tickets {tickets[0]:,} ({tickets[1]:,} cancelled, "
        f"{tickets[2]:,} checked in)",
        f"  users {users[0]:,} ({users[1]} staff and admins); ledger entries {ledger[0]:,} in "
        f"{ledger[1]:,} wallets; top-ups {topups:,}; audit rows {audit:,}; "
        f"outbox {outbox[0]:,} sent, {outbox[1]:,} pending",
        f"  heaviest customer {meta['heavy_login']} (id {heavy[0]}): {heavy[1]:,} bookings, "
        f"{heavy[2]:,} ledger entries; {top} customers have 100+ bookings",
        f"  last 30 days: {month[1] or 0:,} bookings, net revenue {month[0] or 0:,} coins, "
        f"occupancy of past shows {100 * (occupancy[0] or 0):.0f} % on average "
        f"(fullest {100 * (occupancy[1] or 0):.0f} %)",
    ]


def prepare_cron_work(
    url: str, meta: dict[str, str], backlog: int | None = None
) -> tuple[int, int]:
    """What a minute of cron finds on a busy day: expired holds (customers who picked
    seats and walked away) and, for send-mail, the backlog pending again (a --reuse run
    after an earlier one sent it), or only its first `backlog` messages. Returns
    (expired holds, pending messages)."""
    first, last = int(meta["backlog_first_id"]), int(meta["backlog_last_id"])
    if backlog is not None:
        last = min(last, first + backlog - 1)
    scale = float(meta["scale"])
    wanted = max(20, round(300 * scale))
    with connect(url) as conn:
        conn.execute(
            """
            INSERT INTO seat_holds (show_id, seat_id, user_id, created_at, expires_at)
            SELECT s.id, x.id, u.id, now() - interval '25 minutes', now() - interval '15 minutes'
            FROM (SELECT id, screen_id FROM shows WHERE status = 'scheduled'
                  AND starts_at > now() + interval '1 hour' ORDER BY starts_at LIMIT 10) s
            JOIN LATERAL (
                SELECT x.id FROM seats x
                WHERE x.screen_id = s.screen_id AND x.is_active AND x.category = 'standard'
                AND NOT EXISTS (SELECT 1 FROM tickets t WHERE t.show_id = s.id
                                AND t.seat_id = x.id AND t.status = 'active')
                ORDER BY x.id DESC LIMIT %(per_show)s
            ) x ON true
            JOIN (SELECT min(id) AS first FROM users WHERE role = 'customer') c ON true
            JOIN users u ON u.id = c.first + x.id %% 1000
            ON CONFLICT DO NOTHING
            """,
            {"per_show": -(-wanted // 10)},
        )
        conn.execute(
            "UPDATE outbox_messages SET status = 'pending', attempts = 0, sent_at = NULL, "
            "last_error = NULL, next_attempt_at = created_at WHERE id BETWEEN %s AND %s",
            (first, last),
        )
        holds = conn.execute("SELECT count(*) FROM seat_holds WHERE expires_at <= now()")
        pending = conn.execute("SELECT count(*) FROM outbox_messages WHERE status = 'pending'")
        return int(holds.fetchone()[0]), int(pending.fetchone()[0])


def server_log(url: str) -> Path | None:
    """The server log of a cluster started by tests/support/postgres.py (pg_ctl -l)."""
    with connect(url) as conn:
        datadir = conn.execute("SHOW data_directory").fetchone()[0]
    path = Path(datadir).parent / "log"
    return path if path.exists() else None


# --- requests ----------------------------------------------------------------------------


@dataclass
class Probe:
    name: str
    role: str  # visitor, customer, staff, admin
    path: str
    method: str = "GET"
    htmx: bool = False
    form: Callable[[], dict[str, str]] | None = None
    ok: tuple[int, ...] = (200,)


@dataclass
class Result:
    times: list[float] = field(default_factory=list)
    statuses: set[int] = field(default_factory=set)
    size: int = 0
    statements: int | None = None
    seq_scans: set[str] = field(default_factory=set)
    rows_read: int = 0


class Client:
    """One browser: a requests session (cookie jar) logged in through the real form."""

    def __init__(self, role: str) -> None:
        self.role = role
        self.session = requests.Session()
        self.base = ""
        self.csrf = ""

    def log_in(self, login: str, password: str) -> None:
        page = self.session.get(f"{self.base}/auth/login", timeout=30)
        token = CSRF_RE.search(page.text)
        assert token, "log-in page without a csrf-token meta"
        answer = self.session.post(
            f"{self.base}/auth/login",
            data={"csrf_token": token.group(1), "login": login, "password": password},
            allow_redirects=False,
            timeout=30,
        )
        if answer.status_code not in (302, 303):
            raise SystemExit(f"could not log in as {login}: {answer.status_code}")

    def refresh_csrf(self, path: str) -> None:
        token = CSRF_RE.search(self.session.get(f"{self.base}{path}", timeout=60).text)
        assert token, f"{path} without a csrf-token meta"
        self.csrf = token.group(1)

    def request(self, probe: Probe) -> requests.Response:
        headers = {"HX-Request": "true"} if probe.htmx else {}
        if probe.method == "POST":
            data = {"csrf_token": self.csrf, **(probe.form() if probe.form else {})}
            return self.session.post(
                f"{self.base}{probe.path}",
                data=data,
                headers=headers,
                allow_redirects=False,
                timeout=600,
            )
        return self.session.get(
            f"{self.base}{probe.path}", headers=headers, allow_redirects=False, timeout=600
        )


def build_probes(url: str, meta: dict[str, str], secret: str) -> list[Probe]:
    """Every page the issue names, with arguments taken from the loaded data."""
    from filmsphere.services.door.ticket_codes import make_code
    from filmsphere.services.ops.reports import table_keys

    with connect(url) as conn:

        def one(sql: str, *params: Any) -> Any:
            return conn.execute(sql, params).fetchone()

        zone = os.environ.get("FILMSPHERE_TIMEZONE") or "Europe/London"
        today = one("SELECT (now() AT TIME ZONE %s)::date", zone)[0]
        tomorrow = today + timedelta(days=1)
        heavy_id = one("SELECT id FROM users WHERE username = %s", meta["heavy_login"])[0]
        entries = one(
            "SELECT count(*) FROM ledger_entries l JOIN wallets w ON w.id = l.wallet_id "
            "WHERE w.user_id = %s",
            heavy_id,
        )[0]
        booking = one(
            "SELECT b.reference, b.id FROM bookings b JOIN shows s ON s.id = b.show_id "
            "WHERE b.user_id = %s AND b.status = 'paid' ORDER BY s.starts_at DESC, b.id LIMIT 1",
            heavy_id,
        )
        busy_show = one(
            "SELECT s.id FROM shows s WHERE s.status = 'scheduled' AND s.starts_at > now() "
            "ORDER BY (SELECT count(*) FROM tickets t WHERE t.show_id = s.id "
            "AND t.status = 'active') DESC LIMIT 1"
        )[0]
        past_show = one(
            "SELECT show_id FROM bookings WHERE created_at > now() - interval '3 days' "
            "GROUP BY show_id ORDER BY count(*) DESC LIMIT 1"
        )[0]
        film = one(
            "SELECT movie_id FROM shows WHERE status = 'scheduled' AND starts_at > now() "
            "GROUP BY movie_id ORDER BY count(*) DESC LIMIT 1"
        )[0]
        any_reference = one(
            "SELECT reference FROM bookings ORDER BY id DESC LIMIT 1 "
            "OFFSET (SELECT count(*) / 3 FROM bookings)"
        )
        # Filter values the film search offers now (those of films not retired).
        genres = [
            row[0]
            for row in conn.execute(
                "SELECT g.name FROM genres g JOIN movie_genres mg ON mg.genre_id = g.id "
                "JOIN movies m ON m.id = mg.movie_id WHERE NOT m.is_retired "
                "GROUP BY g.name ORDER BY count(*) DESC, g.name LIMIT 2"
            )
        ]
        language = one(
            "SELECT language FROM movies WHERE NOT is_retired "
            "ORDER BY language = 'English', id LIMIT 1"
        )[0]
        rating = one(
            "SELECT age_rating FROM movies WHERE NOT is_retired "
            "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
        )[0]
        # An admin looks a person up by full name, or by the start of an address: few
        # users match, so a search that reads the users in order finds no early stop.
        full_name, address = one(
            "SELECT full_name, regexp_replace(split_part(email, '@', 1), '[0-9]+$', '') "
            "FROM users WHERE role = 'customer' ORDER BY id LIMIT 1 OFFSET 500"
        )
        # Tickets a door scanner would see now: shows whose check-in is open.
        door = conn.execute(
            "SELECT t.id, t.show_id FROM tickets t JOIN shows s ON s.id = t.show_id "
            "WHERE s.status = 'scheduled' AND s.starts_at - interval '120 minutes' <= now() "
            "AND s.ends_at > now() AND t.status = 'active' AND t.checked_in_at IS NULL "
            "ORDER BY t.id LIMIT 400"
        ).fetchall()
        if len(door) < 100:  # at night: tomorrow's tickets (the answer is TOO EARLY)
            door += conn.execute(
                "SELECT t.id, t.show_id FROM tickets t JOIN shows s ON s.id = t.show_id "
                "WHERE s.status = 'scheduled' AND s.starts_at > now() AND t.status = 'active' "
                "AND t.checked_in_at IS NULL ORDER BY s.starts_at, t.id LIMIT 400"
            ).fetchall()
    # Each check-in is a different ticket while they last (then they are ALREADY USED).
    codes = itertools.cycle([make_code(t, s, secret) for t, s in door] or ["FS1.1.1.X"])

    def next_code() -> dict[str, str]:
        return {"show_id": "0", "code": next(codes)}

    pages = max(1, -(-entries // 20))
    reference, yesterday = any_reference[0], today - timedelta(days=1)

    def day(n: int) -> str:
        """The period of the last n days, as the dashboard's query string."""
        return f"from={today - timedelta(days=n - 1)}&to={today}"

    probes = [
        Probe("home", "visitor", "/"),
        Probe("films", "visitor", "/movies"),
        Probe("films: text search", "visitor", "/movies?q=the"),
        Probe("films: genre", "visitor", "/movies?" + urlencode({"genre": genres[0]})),
        Probe("films: two genres", "visitor", "/movies?" + urlencode({"genre": genres}, True)),
        Probe("films: language", "visitor", "/movies?" + urlencode({"language": language})),
        Probe("films: rating", "visitor", "/movies?" + urlencode({"rating": rating})),
        Probe("films: showing on a date", "visitor", f"/movies?date={tomorrow}"),
        Probe(
            "films: all filters (htmx)",
            "visitor",
            "/movies?" + urlencode({"q": "e", "genre": genres[0], "date": tomorrow}),
            htmx=True,
        ),
        Probe("film page", "visitor", f"/movies/{film}"),
        Probe("showtimes of a day", "visitor", f"/shows?date={tomorrow}"),
        Probe("seat map (visitor)", "visitor", f"/shows/{busy_show}"),
        Probe("seat map (customer)", "customer", f"/shows/{busy_show}"),
        Probe("seat grid poll (htmx)", "customer", f"/shows/{busy_show}/seats", htmx=True),
        Probe("my bookings (heaviest)", "customer", "/bookings"),
        Probe("booking page", "customer", f"/bookings/{booking[0]}"),
        Probe("wallet, first page", "customer", "/wallet"),
        # The ledger pages by cursor; "last" names the oldest page (page {pages} of 20).
        Probe(f"wallet, deepest page ({pages})", "customer", "/wallet?page=last"),
        Probe("check-in page (staff)", "staff", "/staff/check-in"),
        Probe(
            "check-in a ticket (htmx)",
            "staff",
            "/staff/check-in",
            method="POST",
            htmx=True,
            form=next_code,
            ok=(200, 409),
        ),
        Probe("dashboard 7 days", "admin", f"/admin/?{day(7)}"),
        Probe("dashboard 30 days", "admin", "/admin/"),
        Probe("dashboard 365 days", "admin", f"/admin/?{day(365)}"),
    ]
    for key in table_keys():
        probes.append(Probe(f"CSV {key} 30 days", "admin", f"/admin/reports/{key}.csv?{day(30)}"))
    for key in table_keys():
        probes.append(Probe(f"CSV {key} 365 days", "admin", f"/admin/reports/{key}.csv?{day(365)}"))
    probes += [
        Probe("admin films search", "admin", "/admin/films?q=the"),
        Probe("admin bookings by reference", "admin", f"/admin/bookings?reference={reference}"),
        Probe("admin bookings by customer", "admin", "/admin/bookings?customer=northside"),
        Probe("admin bookings by show", "admin", f"/admin/bookings?show={past_show}"),
        Probe("admin bookings by date", "admin", f"/admin/bookings?date={yesterday}"),
        Probe("admin booking page", "admin", f"/admin/bookings/{booking[1]}"),
        Probe("admin users by name", "admin", "/admin/users?" + urlencode({"q": full_name})),
        Probe("admin users by email", "admin", "/admin/users?" + urlencode({"q": address})),
        Probe("admin user page (heaviest)", "admin", f"/admin/users/{heavy_id}"),
        Probe("audit log", "admin", "/admin/audit"),
        Probe("audit log by action", "admin", "/admin/audit?action=booking.cancel"),
        Probe(
            "audit log by actor and dates",
            "admin",
            f"/admin/audit?actor=manager&{day(30)}",
        ),
    ]  # fmt: skip
    return probes


def log_in_all(clients: dict[str, Client], meta: dict[str, str]) -> None:
    logins = {
        "customer": meta["heavy_login"],
        "staff": meta["staff_login"],
        "admin": meta["admin_login"],
    }
    for role, login in logins.items():
        clients[role].log_in(login, meta["password"])
    clients["staff"].refresh_csrf("/staff/check-in")


def inspect_url(url: str) -> str:
    """The database URL with auto_explain loaded into every session it opens, logging
    each statement's plan with actual row counts (ANALYZE, without the timing calls)."""
    options = (
        "-c session_preload_libraries=auto_explain -c auto_explain.log_min_duration=0 "
        "-c auto_explain.log_analyze=on -c auto_explain.log_timing=off"
    )
    return f"{url}{'&' if '?' in url else '?'}options={quote(options)}"


def read_plans(text: str) -> tuple[int, set[str], int]:
    """From auto_explain's log (text format, ANALYZE without timing): the number of
    statements (the pool's pre-ping SELECT 1 left out), the growing tables a Seq Scan
    read, and the rows the scans of growing tables went through (rows returned plus rows
    a filter removed, times loops): a full index scan reads a whole table as surely as a
    Seq Scan does."""
    statements = 0
    seq_scans: set[str] = set()
    rows_read = 0
    for entry in PLAN_RE.split(text)[1:]:
        if entry.startswith("\tQuery Text: SELECT 1\n"):
            continue
        statements += 1
        loops = 0
        growing = False
        for line in entry.splitlines():
            scan = SCAN_RE.search(line)
            if scan:
                kind, table, rows, loops_text = scan.groups()
                growing = table in GROWING and rows is not None
                loops = int(loops_text or 0)
                if growing:
                    rows_read += int(rows) * loops
                    if kind == "Seq Scan":
                        seq_scans.add(table)
                continue
            removed = REMOVED_RE.search(line)
            if removed and growing:
                rows_read += int(removed.group(1)) * loops
            elif "->" in line:
                growing = False  # a node that is not a scan: later counts aren't ours
    return statements, seq_scans, rows_read


def inspect(
    probes: list[Probe], clients: dict[str, Client], results: dict[str, Result], log: Path
) -> None:
    """Count each request's statements, seq scans and rows read from the plans
    auto_explain logged while it ran (the only sessions with auto_explain are this
    server's, one request at a time)."""
    for probe in probes:
        client = clients[probe.role]
        client.request(probe)
        start = log.stat().st_size
        client.request(probe)
        time.sleep(0.15)  # the backend has written its plans before it answered; margin
        with log.open("rb") as handle:
            handle.seek(start)
            text = handle.read().decode("utf-8", "replace")
        result = results[probe.name]
        result.statements, result.seq_scans, result.rows_read = read_plans(text)


def time_requests(
    probes: list[Probe],
    clients: dict[str, Client],
    results: dict[str, Result],
    reps: int,
    budget: float,
) -> None:
    for probe in probes:
        client = clients[probe.role]
        result = results[probe.name]
        started = time.perf_counter()
        answer = client.request(probe)  # warm-up
        first = time.perf_counter() - started
        result.statuses.add(answer.status_code)
        count = min(reps, max(5, int(budget / max(first, 0.001))))
        for _ in range(count):
            started = time.perf_counter()
            answer = client.request(probe)
            result.times.append(time.perf_counter() - started)
            result.statuses.add(answer.status_code)
            result.size = len(answer.content)
        bad = result.statuses - set(probe.ok)
        print(
            f"  {probe.name}: {percentile(result.times, 50) * 1000:.1f} ms"
            + (f"  (unexpected status {sorted(bad)})" if bad else ""),
            flush=True,
        )


def percentile(values: list[float], p: float) -> float:
    """Nearest rank: with 5 samples p95 is the slowest."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def http_phase(
    url: str, meta: dict[str, str], env: dict[str, str], args: Any
) -> tuple[list[Probe], dict[str, Result], bool]:
    clients = {role: Client(role) for role in ("visitor", "customer", "staff", "admin")}
    probes = build_probes(url, meta, env["FILMSPHERE_SECRET_KEY"])
    if args.only:
        probes = [p for p in probes if any(text in p.name for text in args.only)]
    results = {p.name: Result() for p in probes}
    log = server_log(url)
    inspected = False
    if log is None:
        print("(no server log found: statement counts and seq scans are not inspected)")
    else:
        port = free_port()
        inspect_env = os.environ | env | {"FILMSPHERE_DATABASE_URL": inspect_url(url)}
        print("inspecting plans (auto_explain, one request at a time) ...", flush=True)
        server = start_gunicorn(port, 1, 1, inspect_env)
        try:
            for client in clients.values():
                client.base = f"http://127.0.0.1:{port}"
            log_in_all(clients, meta)
            inspect(probes, clients, results, log)
            inspected = True
        finally:
            stop_process(server)
    port = free_port()
    print(
        f"timing on gunicorn {args.workers} workers x {args.threads} threads "
        f"(up to {args.reps} repetitions, about {args.budget:g} s per request) ...",
        flush=True,
    )
    server = start_gunicorn(port, args.workers, args.threads, os.environ | env)
    try:
        for client in clients.values():
            client.base = f"http://127.0.0.1:{port}"
            client.session = requests.Session()
        log_in_all(clients, meta)
        time_requests(probes, clients, results, args.reps, args.budget)
    finally:
        stop_process(server)
    return probes, results, inspected


def table(probes: list[Probe], results: dict[str, Result], inspected: bool) -> list[str]:
    width = max(len(p.name) for p in probes)
    lines = [
        f"{'request':<{width}}  {'p50 ms':>8}  {'p95 ms':>8}  {'n':>3}  {'status':>7}  "
        f"{'SQL':>4}  {'seq scans (growing tables)':<40}  {'rows read':>10}  {'bytes':>9}"
    ]
    for probe in probes:
        r = results[probe.name]
        statements = str(r.statements) if inspected and r.statements is not None else "?"
        scans = (", ".join(sorted(r.seq_scans)) or "-") if inspected else "?"
        rows = f"{r.rows_read:,}" if inspected else "?"
        lines.append(
            f"{probe.name:<{width}}  {percentile(r.times, 50) * 1000:>8.1f}  "
            f"{percentile(r.times, 95) * 1000:>8.1f}  {len(r.times):>3}  "
            f"{','.join(str(s) for s in sorted(r.statuses)):>7}  {statements:>4}  "
            f"{scans:<40}  {rows:>10}  {r.size:>9,}"
        )
    return lines


# --- cron commands ----------------------------------------------------------------------


class CountingInbox:
    """An SMTP server's handler that only counts (and keeps one message to check): the
    tests' Inbox parses every message, which on two shared cores would slow the very
    sender being measured."""

    def __init__(self) -> None:
        self.count = 0
        self.bytes = 0
        self.sample: bytes | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.count += 1
        self.bytes += len(envelope.content)
        if self.sample is None:
            self.sample = envelope.content
        return "250 Message accepted for delivery"


def flask(command: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Run a flask CLI command; (seconds, exit code, its last line of output)."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *command],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    output = (done.stdout + done.stderr).strip().splitlines()
    return time.monotonic() - started, done.returncode, output[-1] if output else ""


@contextmanager
def smtp_counter() -> Iterator[tuple[CountingInbox, dict[str, str]]]:
    """A local SMTP server for the block; yields its inbox and the settings to reach it."""
    from aiosmtpd.controller import Controller

    inbox = CountingInbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, {"FILMSPHERE_MAIL_SERVER": "127.0.0.1", "FILMSPHERE_MAIL_PORT": str(port)}
    finally:
        controller.stop()


CRON = ("cleanup", "audit-ledger", "send-mail")


def cron_phase(
    url: str, meta: dict[str, str], env: dict[str, str], pending: int, log: Path | None
) -> list[str]:
    """Time each cron command on the work prepared for it, then (with a server log) run
    it again under auto_explain on fresh work (expired holds, 100 of the backlog's
    messages pending again) for its statements, seq scans and rows read."""
    lines = []
    for command in CRON:
        with smtp_counter() as (inbox, mail_env):
            seconds, code, said = flask([command], env | mail_env)
        line = f"flask {command:<13} {seconds:7.1f} s  exit {code}  {said}"
        if command == "send-mail":
            line += (
                f": {pending:,} pending -> {inbox.count:,} received by the SMTP server, "
                f"{inbox.count / seconds:,.0f} messages/s "
                f"({inbox.bytes / max(inbox.count, 1) / 1024:.0f} KB each)"
            )
            if inbox.sample is not None:
                message = email.message_from_bytes(inbox.sample, policy=email.policy.default)
                pngs = sum(1 for p in message.walk() if p.get_content_type() == "image/png")
                line += f"; first: {message['Subject']!r} with {pngs} QR image(s)"
        lines.append(line)
    if log is None:
        return lines
    prepare_cron_work(url, meta, backlog=100)
    inspect_env = env | {"FILMSPHERE_DATABASE_URL": inspect_url(url)}
    for command in CRON:
        start = log.stat().st_size
        with smtp_counter() as (inbox, mail_env):
            flask([command], inspect_env | mail_env)
        with log.open("rb") as handle:
            handle.seek(start)
            statements, scans, rows = read_plans(handle.read().decode("utf-8", "replace"))
        per = f" ({statements / inbox.count:.1f} a message)" if inbox.count else ""
        lines.append(
            f"  {command} under auto_explain: {statements:,} statements{per}, seq scans: "
            f"{', '.join(sorted(scans)) or '-'}, rows read {rows:,}"
            + (f", {inbox.count} messages" if inbox.count else "")
        )
    return lines


# --- main ----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="share of the year to load")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep", action="store_true", help="leave the database running")
    parser.add_argument("--reuse", metavar="URL", help="a database an earlier --keep run left")
    parser.add_argument("--load-only", action="store_true", help="load, print, stop (use --keep)")
    parser.add_argument("--reps", type=int, default=30, help="most repetitions per request")
    parser.add_argument("--budget", type=float, default=10.0, help="seconds per request, about")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument(
        "--only",
        metavar="TEXT",
        action="append",
        help="time only the requests whose name contains TEXT (repeatable); skips the cron",
    )
    args = parser.parse_args()
    if not 0 < args.scale <= 2:
        parser.error("--scale must be more than 0 and at most 2")
    started_at = datetime.now(UTC)
    clock_start = time.monotonic()
    print(
        f"year of data: {started_at:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f} (shared machine: other processes count)",
        flush=True,
    )
    instance = tempfile.mkdtemp(prefix="filmsphere-year-")
    cluster = None
    try:
        if args.reuse:
            url = args.reuse
            meta = read_meta(url)
            os.environ.update(bench_env(url, meta["secret_key"], instance))
            migrate()  # a branch's new migrations, built on the loaded data
        else:
            cluster = start_cluster(max_connections=100, durable=True)
            url = cluster.createdb("filmsphere_year")
            os.environ.update(bench_env(url, secrets.token_hex(32), instance))
            meta = load(url, args.scale, args.seed)
        env = bench_env(url, meta["secret_key"], instance)
        loaded = time.monotonic()
        print("\n".join(data_summary(url, meta)), flush=True)
        if args.load_only:
            return 0
        # The hourly cron keeps every closed day of the year rolled up for the dashboard.
        seconds, code, said = flask(["roll-up-reports"], os.environ | env)
        print(f"flask roll-up-reports {seconds:.1f} s  exit {code}  {said}", flush=True)
        holds, pending = prepare_cron_work(url, meta)
        print(f"cron work waiting: {holds} expired holds, {pending:,} pending emails", flush=True)
        probes, results, inspected = http_phase(url, meta, env, args)
        cron = []
        if not args.only:
            cron = cron_phase(url, meta, os.environ | env, pending, server_log(url))
        print()
        print(
            f"A year of data (scale {meta['scale']}), measured {started_at:%Y-%m-%d %H:%M} UTC "
            f"on {os.cpu_count()} shared CPUs; load average now {os.getloadavg()[0]:.1f}"
        )
        print("\n".join(table(probes, results, inspected)))
        print()
        print("\n".join(cron))
        print(
            f"\n(set-up {loaded - clock_start:.0f} s, measuring {time.monotonic() - loaded:.0f} s)"
        )
        return 0
    finally:
        shutil.rmtree(instance, ignore_errors=True)
        if cluster is not None:
            if args.keep:
                print(
                    f"\nthe database is still running: --reuse '{url}'\n"
                    f"stop it with: runuser -u postgres -- {cluster.bindir}/pg_ctl -D "
                    f"{cluster.datadir} stop && rm -rf {cluster.datadir.parent}"
                )
            else:
                cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
