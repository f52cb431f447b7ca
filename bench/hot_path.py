"""Hot path, side by side: the app and the lean reference under the same load, as ratios.

    .venv/bin/python bench/hot_path.py     # [--connections 32] [--duration 8] [--pairs 3]
                                           # [--workers 2] [--threads 2] [--customers 300]

What it does, all on 127.0.0.1 and bounded in time (about 7 minutes at the defaults):
1. installs wrk from Debian if it is missing (apt-get; the test command never needs it);
2. starts one throwaway PostgreSQL (fsync on) with pg_stat_statements preloaded, migrates
   it with the app's migrations, and seeds the ticket-rush show (bench/booking_rush.py: one
   screen of 200 seats, 10 rows of 20 with two aisles), N customers with coins (plus a
   bench-only admin_adjustment ledger entry each, so no run runs out of coins) and, for
   the checkout cycle only, more shows of the same screen (8 per connection, 3 h apart) so
   that a run never sells out: each wrk connection books in its own shows;
3. starts the app under gunicorn in its production shape (FILMSPHERE_ENV=production,
   gthread, --workers/--threads as in the README's production command, mail left to the
   outbox: no sender runs) and bench/lean_reference.py under the same gunicorn command;
4. logs every customer in to both (the app through its real login form) and reads each
   one's CSRF token from the seat-map page, in Python, before any load;
5. for each route, runs wrk (one connection per wrk thread, so each is one sequential
   client playing its own customers; bench/hot_path.lua) against the app and the lean
   reference in turn, A B A B, --pairs times after a warm-up of each, resetting the
   database between runs (holds deleted, tickets cancelled), and prints the medians:
   requests (or bookings) per second of each, the ratio app / lean, CPU milliseconds per
   request of the gunicorn master + workers (from /proc: utime + stime, and cutime +
   cstime for workers that ended), PostgreSQL's CPU per request (postmaster + backends,
   the same way), SQL statements per request (pg_stat_statements calls over the run,
   BEGIN/COMMIT/ROLLBACK counted apart as transactions), bytes per answer, the p50/p99
   latency and the load generator's own CPU; every request carries the User-Agent the
   customer logged in with, as a browser's requests do (the app ties a log-in to its
   browser: from another one, flask-login's session protection marks the session not
   fresh and the session cookie is rewritten on every answer);
6. prints the size of an htmx click answer and of a full grid of the 200-seat show.

Routes (the same requests to both):
- seat click: every customer toggles a seat of its own (hold, release, …) on the rush
  show; each click carries the ETag of that customer's last answer (If-None-Match), so an
  answer of what changed has something to compare with;
- quick pick + checkout: one booking of two seats per cycle, paid with a fresh checkout
  token; with a quick-pick route (QUICK_PICK_FORM below) the cycle is quick pick +
  checkout, without one (the app answers 404) two clicks on a pre-planned pair + checkout,
  and the output says so;
- grid poll 200: the grid fragment (htmx) with a stale ETag, so it renders;
- grid poll 304: with the customer's current ETag, so it doesn't;
- seat-map page: the full page, logged in.
The read routes run on a mid-rush map (80 seats held by other customers).

Bench-only settings: FILMSPHERE_SESSION_COOKIE_SECURE=false (plain HTTP), a high login
limit (every customer logs in from 127.0.0.1) and a hold limit of 1,000,000 per minute:
the limiter still runs on every click (its cost is measured), it just never refuses.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.booking_rush import PASSWORD, migrate, seed, start_gunicorn, stop_process  # noqa: E402
from tests.support.postgres import free_port, start_cluster  # noqa: E402
from tests.support.redis import start_redis  # noqa: E402

QUICK_PICK_FORM = """POST /shows/<id>/quick-pick, form fields:
    count       1–10: how many seats together
    category    optional: standard, premium, vip, or wheelchair (a wheelchair space and
                companion seats beside it for the rest of the party)
    csrf_token  the page's CSRF token
htmx (HX-Request: true): 200 and an answer like a seat click's (the seats held and the
basket); 409 or 422 with the reason when no block fits; without htmx: 303 to the map."""

LUA = ROOT / "bench" / "hot_path.lua"
CSRF_RE = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
SHOWS_PER_CONNECTION = 8
BOOKINGS_PER_CUSTOMER_PER_SHOW = 5  # 10 seats: the per-show limit
POLL_HELD_SEATS = 80
CONTROL = re.compile(r"^\s*(BEGIN|COMMIT|ROLLBACK|START TRANSACTION)\b", re.IGNORECASE)


@dataclass
class Customer:
    cookie: str
    csrf: str
    etag: str = ""


@dataclass
class Target:
    name: str
    port: int
    process: Any
    customers: list[Customer] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Run:
    requests: int
    seconds: float
    bookings: int
    statuses: dict[str, int]
    bytes: int
    p50_ms: float
    p99_ms: float
    socket_errors: int
    cpu_ms: float  # gunicorn master + workers
    pg_cpu_ms: float
    wrk_cpu_ms: float
    statements: int
    transactions: int


@dataclass
class Route:
    name: str
    mode: str  # hot_path.lua's mode
    ok: tuple[int, ...]  # statuses that count as served
    per_booking: bool = False
    path: str = ""
    etag: str = "none"
    htmx: bool = False


# --- set-up ------------------------------------------------------------------------------


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("installing wrk (Debian package) ...", flush=True)
    env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run([*sudo, "apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run([*sudo, "apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env)
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk is not installed and apt-get could not install it")
    return found


def sql(url: str) -> Any:
    import psycopg

    return psycopg.connect(url.replace("+psycopg", "", 1), autocommit=True)


@dataclass(frozen=True)
class Seeded:
    extra_shows: list[int]  # more shows of the rush screen, for the checkout cycle
    pairs: list[tuple[int, int]]  # adjacent seats, sellable in this order without strays
    seats: list[int]  # the sellable seats of the screen, by id
    user_ids: list[int]  # the customers, by id


def seed_extra(url: str, show_id: int, shows: int) -> Seeded:
    """More shows of the rush screen for the checkout cycle, coins for every customer (a
    bench-only ledger entry each), and what the plans need to know of the seats."""
    with sql(url) as conn:
        extra = [
            row[0]
            for row in conn.execute(
                "INSERT INTO shows (movie_id, screen_id, starts_at, ends_at, base_price_coins,"
                " status, created_at)"
                " SELECT movie_id, screen_id, starts_at + k * interval '3 hours',"
                " ends_at + k * interval '3 hours', base_price_coins, 'scheduled', now()"
                " FROM shows, generate_series(1, %s) AS k WHERE id = %s RETURNING id",
                (shows, show_id),
            ).fetchall()
        ]
        conn.execute(
            "WITH w AS (UPDATE wallets SET balance_coins = balance_coins + 1000000"
            " RETURNING id, balance_coins)"
            " INSERT INTO ledger_entries (wallet_id, kind, amount_coins, balance_after_coins,"
            " reason, created_at)"
            " SELECT id, 'admin_adjustment', 1000000, balance_coins, 'hot-path bench', now()"
            " FROM w"
        )
        seats = conn.execute(
            "SELECT se.id, se.grid_row, se.grid_col FROM seats se JOIN shows sh"
            " ON sh.screen_id = se.screen_id WHERE sh.id = %s AND se.is_active"
            " AND se.category <> 'broken' ORDER BY se.grid_row, se.grid_col",
            (show_id,),
        ).fetchall()
        user_ids = [row[0] for row in conn.execute("SELECT id FROM users ORDER BY id")]
    pairs: list[tuple[int, int]] = []
    run: list[int] = []
    previous: tuple[int, int] | None = None
    for seat_id, grid_row, grid_col in [*seats, (0, -1, -1)]:
        if previous is None or (grid_row, grid_col) != (previous[0], previous[1] + 1):
            pairs += [(run[i], run[i + 1]) for i in range(0, len(run) - 1, 2)]
            run = []
        run.append(seat_id)
        previous = (grid_row, grid_col)
    return Seeded(extra, pairs, sorted(s[0] for s in seats), user_ids)


def reset(url: str, *, poll_state: list[int] | None = None) -> None:
    """Free every seat (holds deleted, tickets cancelled); for the read routes, hold
    POLL_HELD_SEATS seats for these customers (others, to the viewers) for an hour."""
    with sql(url) as conn:
        conn.execute("DELETE FROM seat_holds")
        conn.execute(
            "UPDATE tickets SET status = 'cancelled', cancelled_at = now() WHERE status = 'active'"
        )
        if poll_state:
            show_id, *holders = poll_state
            conn.execute(
                "INSERT INTO seat_holds (show_id, seat_id, user_id, created_at, expires_at)"
                " SELECT %s, se.id, h.user_id, now(), now() + interval '1 hour'"
                " FROM (SELECT se.id, row_number() OVER (ORDER BY se.id) AS n FROM seats se"
                "       JOIN shows sh ON sh.screen_id = se.screen_id"
                "       WHERE sh.id = %s AND se.is_active AND se.category <> 'broken'"
                "       ORDER BY se.id DESC LIMIT %s) AS se"
                " JOIN unnest(%s::int[]) WITH ORDINALITY AS h(user_id, n) ON h.n = se.n",
                (show_id, show_id, POLL_HELD_SEATS, holders),
            )


def wait_idle(url: str, bound: float = 60) -> None:
    """Until no other connection is inside a statement or a transaction: wrk stops at the
    deadline, but the requests it abandoned are still being served, and the next reset or
    run must not race them."""
    quiet = 0
    deadline = time.monotonic() + bound
    with sql(url) as conn:
        while quiet < 3 and time.monotonic() < deadline:
            busy = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND state IS NOT NULL AND state <> 'idle'"
            ).fetchone()
            quiet = quiet + 1 if busy and busy[0] == 0 else 0
            time.sleep(0.05)


def log_in_app(target: Target, login: str, show_id: int) -> Customer:
    with requests.Session() as http:
        page = http.get(f"{target.base}/auth/login", timeout=30)
        token = CSRF_RE.search(page.text)
        assert token, "the app's login page has no csrf-token meta"
        answer = http.post(
            f"{target.base}/auth/login",
            data={"csrf_token": token.group(1), "login": login, "password": PASSWORD},
            allow_redirects=False,
            timeout=30,
        )
        if answer.status_code not in (302, 303):
            raise RuntimeError(f"app log-in failed for {login}: {answer.status_code}")
        return _customer(http, target, show_id)


def log_in_lean(target: Target, login: str, show_id: int) -> Customer:
    with requests.Session() as http:
        answer = http.post(
            f"{target.base}/login",
            data={"login": login, "password": PASSWORD},
            allow_redirects=False,
            timeout=30,
        )
        if answer.status_code != 303:
            raise RuntimeError(f"lean log-in failed for {login}: {answer.status_code}")
        return _customer(http, target, show_id)


def _customer(http: requests.Session, target: Target, show_id: int) -> Customer:
    page = http.get(f"{target.base}/shows/{show_id}", timeout=30)
    token = CSRF_RE.search(page.text)
    assert token, f"{target.name}: the seat map has no csrf-token meta"
    cookie = "; ".join(f"{c.name}={c.value}" for c in http.cookies)
    return Customer(cookie=cookie, csrf=quote(token.group(1), safe=""))


def refresh_etags(target: Target, show_id: int) -> None:
    """Each customer's current grid ETag (what a 304 poll sends)."""

    def one(customer: Customer) -> None:
        answer = requests.get(
            f"{target.base}/shows/{show_id}/seats",
            headers={"Cookie": customer.cookie, "HX-Request": "true"},
            timeout=30,
        )
        customer.etag = answer.headers.get("ETag", "")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, target.customers))


# --- measuring ---------------------------------------------------------------------------


def proc_cpu(root: int) -> float:
    """CPU seconds of a process and its live children, plus the children it has reaped."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid, ppid = int(stat.parent.name), int(fields[1])
        if pid == root:
            total += sum(int(f) for f in fields[11:15]) / ticks  # utime stime cutime cstime
        elif ppid == root:
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def postmaster_pid(datadir: Path) -> int:
    return int((datadir / "postmaster.pid").read_text().split()[0])


def statement_counts(url: str) -> tuple[int, int]:
    """(statements, transactions) since the last reset, the bench's own queries left out."""
    with sql(url) as conn:
        rows = conn.execute(
            "SELECT query, calls FROM pg_stat_statements"
            " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND query NOT ILIKE '%%pg_stat_statements%%'"
        ).fetchall()
    statements = sum(calls for query, calls in rows if not CONTROL.match(query))
    transactions = sum(
        calls for query, calls in rows if re.match(r"^\s*(COMMIT|ROLLBACK)\b", query, re.I)
    )
    return statements, transactions


def lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def write_plan(path: Path, plan: dict[str, Any]) -> None:
    def lua(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        if isinstance(value, str):
            return lua_string(value)
        if isinstance(value, dict):
            return "{" + ", ".join(f"[{lua_string(k)}] = {lua(v)}" for k, v in value.items()) + "}"
        return "{" + ", ".join(lua(v) for v in value) + "}"

    path.write_text("return " + lua(plan) + "\n")


def run_wrk(
    wrk: str,
    target: Target,
    route: Route,
    plan: dict[str, Any],
    seconds: float,
    connections: int,
    url: str,
    pg_pid: int,
    workdir: Path,
) -> Run:
    plan_file = workdir / f"plan-{secrets.token_hex(4)}.lua"
    write_plan(plan_file, plan)
    with sql(url) as conn:
        conn.execute("SELECT pg_stat_statements_reset()")
    cpu_before, pg_before = proc_cpu(target.process.pid), proc_cpu(pg_pid)
    wrk_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    command = [wrk, "-t", str(connections), "-c", str(connections), "-d", f"{seconds}s"]
    command += ["--timeout", "10s", "-s", str(LUA), target.base, "--", str(plan_file)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    wrk_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # The requests in flight at the deadline (one per connection at most) are finished,
    # and counted, too: the same for both, and the counts are complete.
    wait_idle(url)
    cpu_after, pg_after = proc_cpu(target.process.pid), proc_cpu(pg_pid)
    statements, transactions = statement_counts(url)
    plan_file.unlink()
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{done.stdout}\n{done.stderr}")
    result = json.loads(line.removeprefix("RESULT "))
    served = result["bookings"] if route.per_booking else result["requests"]
    per = max(served, 1)
    wrk_cpu = (wrk_after.ru_utime + wrk_after.ru_stime) - (
        wrk_before.ru_utime + wrk_before.ru_stime
    )
    return Run(
        requests=result["requests"],
        seconds=result["duration_us"] / 1e6,
        bookings=result["bookings"],
        statuses=result["statuses"],
        bytes=result["bytes"],
        p50_ms=result["p50_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        socket_errors=result["socket_errors"],
        cpu_ms=(cpu_after - cpu_before) * 1000 / per,
        pg_cpu_ms=(pg_after - pg_before) * 1000 / per,
        wrk_cpu_ms=wrk_cpu * 1000 / per,
        statements=statements,
        transactions=transactions,
    )


def rate(route: Route, run: Run) -> float:
    served = run.bookings if route.per_booking else run.requests
    return served / run.seconds if run.seconds else 0.0


def unexpected(route: Route, run: Run) -> int:
    return sum(n for status, n in run.statuses.items() if int(status) not in route.ok)


def summary(route: Route, run: Run) -> dict[str, float]:
    """A run's numbers per request served (per booking for the checkout cycle)."""
    served = max(run.bookings if route.per_booking else run.requests, 1)
    return {
        "rate": rate(route, run),
        "cpu_ms": run.cpu_ms,
        "pg_cpu_ms": run.pg_cpu_ms,
        "statements": run.statements / served,
        "transactions": run.transactions / served,
        "kb": run.bytes / max(run.requests, 1) / 1024,
        "p50_ms": run.p50_ms,
        "p99_ms": run.p99_ms,
        "wrk_cpu_ms": run.wrk_cpu_ms,
        "requests_per": run.requests / served,
        "bad": unexpected(route, run),
    }


# --- plans -------------------------------------------------------------------------------


def customers_plan(target: Target, connections: int, count: int) -> list[list[Customer]]:
    chosen = target.customers[:count]
    return [chosen[t::connections] for t in range(connections)]


def plan_for(
    route: Route,
    target: Target,
    connections: int,
    show_id: int,
    seats: list[int],
    extra_shows: list[int],
    pairs: list[tuple[int, int]],
    quick_pick: bool,
) -> dict[str, Any]:
    run_id = f"{target.name}{secrets.token_hex(3)}"
    plan: dict[str, Any] = {"mode": route.mode, "show": show_id, "run": run_id}
    # The browser the customers logged in with (requests'): a log-in is tied to it, and
    # the app marks a session seen from another one as not fresh (flask-login's session
    # protection), which rewrites the session cookie on every answer.
    plan["user_agent"] = requests.utils.default_user_agent()
    if route.mode == "click":
        # Customer i toggles seat i: no two clients ever want the same seat.
        groups = customers_plan(target, connections, min(len(seats), len(target.customers)))
        seat_of = {id(c): seats[i] for i, c in enumerate(target.customers[: len(seats)])}
        plan["send_etag"] = True  # from each customer's last answer, not the read state
        plan["threads"] = [
            {"customers": [_lua_customer(c, seat=seat_of[id(c)], etag=False) for c in group]}
            for group in groups
        ]
        return plan
    if route.mode == "get":
        groups = customers_plan(target, connections, len(target.customers))
        plan.update(path=route.path, etag=route.etag, htmx=route.htmx)
        plan["threads"] = [{"customers": [_lua_customer(c) for c in g]} for g in groups]
        return plan
    groups = customers_plan(target, connections, len(target.customers))
    per_show = min(len(pairs), BOOKINGS_PER_CUSTOMER_PER_SHOW * min(len(g) for g in groups))
    plan.update(
        mode="cycle_quick" if quick_pick else "cycle_clicks",
        send_etag=False,
        per_show=per_show,
        pairs=[list(p) for p in pairs],
    )
    plan["threads"] = [
        {
            "customers": [_lua_customer(c) for c in group],
            "shows": extra_shows[t * SHOWS_PER_CONNECTION : (t + 1) * SHOWS_PER_CONNECTION],
        }
        for t, group in enumerate(groups)
    ]
    return plan


def _lua_customer(customer: Customer, seat: int | None = None, etag: bool = True) -> dict[str, Any]:
    found: dict[str, Any] = {"cookie": customer.cookie, "csrf": customer.csrf}
    if etag and customer.etag:
        found["etag"] = customer.etag
    if seat is not None:
        found["seat"] = seat
    return found


# --- the parts that are not rates --------------------------------------------------------


def has_quick_pick(target: Target, show_id: int, url: str) -> bool:
    customer = target.customers[0]
    answer = requests.post(
        f"{target.base}/shows/{show_id}/quick-pick",
        data={"csrf_token": requests.utils.unquote(customer.csrf), "count": "2"},
        headers={"Cookie": customer.cookie, "HX-Request": "true"},
        timeout=30,
    )
    reset(url)
    return answer.status_code != 404


def sizes(target: Target, show_id: int, seat: int, url: str) -> tuple[int, int]:
    """(bytes of an htmx click answer, bytes of the full grid), for one customer whose
    client is up to date (its ETag from a grid read just before)."""
    customer = target.customers[0]
    headers = {"Cookie": customer.cookie, "HX-Request": "true"}
    grid = requests.get(f"{target.base}/shows/{show_id}/seats", headers=headers, timeout=30)
    click = requests.post(
        f"{target.base}/shows/{show_id}/seats/{seat}",
        data={"csrf_token": requests.utils.unquote(customer.csrf)},
        headers=headers | {"If-None-Match": grid.headers.get("ETag", "")},
        timeout=30,
    )
    assert click.status_code == 200, (target.name, click.status_code)
    reset(url)
    return len(click.content), len(grid.content)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def fmt(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}"


# --- the benchmark ----------------------------------------------------------------------

ROUTES = {
    "click": Route("seat click", "click", ok=(200,)),
    "checkout": Route("quick pick + checkout", "cycle", ok=(200, 204), per_booking=True),
    "poll200": Route("grid poll 200", "get", ok=(200,), etag="stale", htmx=True),
    "poll304": Route("grid poll 304", "get", ok=(304,), etag="own", htmx=True),
    "page": Route("seat-map page", "get", ok=(200,)),
}
READS = ("poll200", "poll304", "page")  # measured on the mid-rush map, before any write


class Bench:
    def __init__(
        self, args: Any, wrk: str, url: str, pg_pid: int, workdir: Path, show_id: int
    ) -> None:
        self.args, self.wrk, self.url, self.pg_pid = args, wrk, url, pg_pid
        self.workdir, self.show_id = workdir, show_id
        self.runs: dict[tuple[str, str], list[Run]] = {}
        self.quick_pick: dict[str, bool] = {}
        self.sizes: dict[str, tuple[int, int]] = {}
        self.poll_state_ready = False  # the read routes' map is set up and ETags read

    def prepare(self, targets: list[Target], logins: list[str], seeded: Seeded) -> None:
        self.app, self.lean = targets
        self.user_ids, self.seats = seeded.user_ids, seeded.seats
        self.extra_shows, self.pairs = seeded.extra_shows, seeded.pairs
        print(f"logging {len(logins)} customers in to both ...", flush=True)
        with ThreadPoolExecutor(8) as pool:
            self.app.customers = list(
                pool.map(lambda n: log_in_app(self.app, n, self.show_id), logins)
            )
            self.lean.customers = list(
                pool.map(lambda n: log_in_lean(self.lean, n, self.show_id), logins)
            )
        for target in targets:
            self.quick_pick[target.name] = has_quick_pick(target, self.show_id, self.url)
            self.sizes[target.name] = sizes(target, self.show_id, self.seats[0], self.url)
        if not self.quick_pick["lean"]:
            raise RuntimeError("the lean reference has no quick-pick route")

    def measure_all(self) -> None:
        chosen = self.args.routes or list(ROUTES)
        order = [key for key in (*READS, "click", "checkout") if key in chosen]
        for key in order:
            route = ROUTES[key]
            if route.mode == "get":
                route.path = f"/shows/{self.show_id}" + ("/seats" if route.htmx else "")
            print(f"{route.name}: warm-up, then {self.args.pairs} pairs A B ...", flush=True)
            for target in (self.app, self.lean):
                self._run(key, target, self.args.warmup)
            for _ in range(self.args.pairs):
                for target in (self.app, self.lean):
                    run = self._run(key, target, self.args.duration)
                    self.runs.setdefault((key, target.name), []).append(run)
                    print(
                        f"  {target.name:4s} {fmt(rate(route, run))}/s"
                        f"  CPU {fmt(run.cpu_ms, 2)} ms  PG {fmt(run.pg_cpu_ms, 2)} ms"
                        f"  answers {dict(sorted(run.statuses.items()))}",
                        flush=True,
                    )

    def _run(self, key: str, target: Target, seconds: float) -> Run:
        route = ROUTES[key]
        wait_idle(self.url)
        if key in READS:
            holders = self.user_ids[-POLL_HELD_SEATS:]
            if not self.poll_state_ready:
                reset(self.url, poll_state=[self.show_id, *holders])
                for each in (self.app, self.lean):
                    refresh_etags(each, self.show_id)
                self.poll_state_ready = True
        else:
            self.poll_state_ready = False
            reset(self.url)
        plan = plan_for(
            route,
            target,
            self.args.connections,
            self.show_id,
            self.seats,
            self.extra_shows,
            self.pairs,
            self.quick_pick[target.name],
        )
        return run_wrk(
            self.wrk,
            target,
            route,
            plan,
            seconds,
            self.args.connections,
            self.url,
            self.pg_pid,
            self.workdir,
        )

    def report(self, started_at: datetime, load_before: tuple[float, float, float]) -> None:
        args = self.args
        print()
        print(
            f"hot path, {started_at:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, load average"
            f" before/after {load_before[0]:.1f} / {os.getloadavg()[0]:.1f}; gunicorn"
            f" {args.workers} workers × {args.threads} threads (gthread) for both;"
            f" PostgreSQL fsync on; wrk {args.connections} connections; {args.duration:g} s"
            f" runs, medians of {args.pairs} interleaved pairs (app, lean)"
        )
        if not self.quick_pick["app"]:
            print(
                "the app has no quick-pick route (404): its checkout cycle holds two seats with"
                " two clicks, then pays; the lean reference quick-picks them"
            )
        columns = [
            ("CPU ms", "cpu_ms", 2),
            ("PG ms", "pg_cpu_ms", 2),
            ("SQL", "statements", 1),
            ("tx", "transactions", 1),
            ("KB", "kb", 1),
            ("p50 ms", "p50_ms", 1),
            ("p99 ms", "p99_ms", 1),
            ("wrk ms", "wrk_cpu_ms", 2),
        ]
        head = f"{'route':35s} {'app/s':>9s} {'lean/s':>9s} {'ratio':>6s}"
        head += "".join(f" | {title + ' app':>11s} {'lean':>6s}" for title, _, _ in columns)
        print(head + " | bad")
        print("-" * (len(head) + 6))
        for key, route in ROUTES.items():
            app = [summary(route, r) for r in self.runs.get((key, "app"), [])]
            lean = [summary(route, r) for r in self.runs.get((key, "lean"), [])]
            if not app or not lean:
                continue
            a = {k: median([s[k] for s in app]) for k in app[0]}
            b = {k: median([s[k] for s in lean]) for k in lean[0]}
            name = route.name + (" (per booking)" if route.per_booking else "")
            line = f"{name:35s} {fmt(a['rate']):>9s} {fmt(b['rate']):>9s}"
            line += f" {fmt(a['rate'] / b['rate'] if b['rate'] else 0, 2):>6s}"
            line += "".join(
                f" | {fmt(a[k], digits):>11s} {fmt(b[k], digits):>6s}" for _, k, digits in columns
            )
            bad = sum(int(s["bad"]) for s in app + lean)
            print(f"{line} | {bad}")
            if route.per_booking:
                print(
                    f"{'':35s} requests per booking: app {fmt(a['requests_per'])},"
                    f" lean {fmt(b['requests_per'])}"
                )
        print(
            "CPU ms: gunicorn master + workers per request (per booking for the cycle); PG ms:"
            " PostgreSQL's CPU the same way; SQL: statements per request, BEGIN/COMMIT/ROLLBACK"
            " left out; tx: transactions per request; KB: bytes per answer; wrk ms: the load"
            " generator's CPU per request; bad: answers with an unexpected status (all runs)."
        )
        for name, (click, grid) in self.sizes.items():
            seats = len(self.seats)
            print(
                f"{name}: htmx click answer {click:,} bytes; full grid of the {seats}-seat show"
                f" {grid:,} bytes ({grid / seats:.0f} bytes per seat)"
            )


# --- main --------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connections", type=int, default=32, help="16 to 64")
    parser.add_argument("--duration", type=int, default=8, help="seconds per measured run")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per route")
    parser.add_argument("--pairs", type=int, default=3, help="A B pairs per route (at least 3)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=2, help="threads per worker")
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument(
        "--routes", nargs="*", default=None, help="only these routes (click, checkout, …)"
    )
    args = parser.parse_args()
    if not 16 <= args.connections <= 64:
        parser.error("--connections must be 16 to 64")
    if args.pairs < 3:
        parser.error("--pairs must be at least 3 (medians of interleaved pairs)")
    if args.customers < 2 * args.connections or args.customers < POLL_HELD_SEATS:
        parser.error("--customers must be at least twice --connections, and at least 80")

    wrk = ensure_wrk()
    started_at = datetime.now(UTC)
    load_before = os.getloadavg()
    cluster = start_cluster(
        max_connections=300,
        durable=True,
        settings={"shared_preload_libraries": "pg_stat_statements"},
    )
    instance = tempfile.mkdtemp(prefix="filmsphere-hot-path-")
    # Rate limits are counted in Redis in production: a throwaway one, as deployed.
    redis_server = start_redis()
    os.environ["FILMSPHERE_RATELIMIT_STORAGE_URI"] = redis_server.url
    workdir = Path(tempfile.mkdtemp(prefix="filmsphere-hot-path-plans-"))
    targets: list[Target] = []
    try:
        url = cluster.createdb("filmsphere_hot_path")
        with sql(url) as conn:
            conn.execute("CREATE EXTENSION pg_stat_statements")
        os.environ.update(
            {
                "FILMSPHERE_ENV": "production",
                "FILMSPHERE_SECRET_KEY": secrets.token_hex(32),
                "FILMSPHERE_DATABASE_URL": url,
                "FILMSPHERE_INSTANCE_PATH": instance,
            }
        )
        print("migrating and seeding ...", flush=True)
        migrate()
        show_id, logins = seed(args.customers)
        seeded = seed_extra(url, show_id, SHOWS_PER_CONNECTION * args.connections)
        env = os.environ | {
            "FILMSPHERE_SESSION_COOKIE_SECURE": "false",
            "FILMSPHERE_RATELIMIT_LOGIN": "1000000 per minute",
            "FILMSPHERE_RATELIMIT_HOLD": "1000000 per minute",
            "FILMSPHERE_MAIL_SEND_AFTER_COMMIT": "false",
        }
        shape = (args.workers, args.threads)
        print(f"starting gunicorn ×2 ({shape[0]} workers × {shape[1]} threads) ...", flush=True)
        for name, spec in (("app", "wsgi:app"), ("lean", "bench.lean_reference:create_app()")):
            port = free_port()
            targets.append(Target(name, port, start_gunicorn(port, *shape, env, app=spec)))
        bench = Bench(args, wrk, url, postmaster_pid(cluster.datadir), workdir, show_id)
        bench.prepare(targets, logins, seeded)
        bench.measure_all()
        bench.report(started_at, load_before)
        return 0
    finally:
        for target in targets:
            stop_process(target.process)
        cluster.stop()
        redis_server.stop()
        shutil.rmtree(instance, ignore_errors=True)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
