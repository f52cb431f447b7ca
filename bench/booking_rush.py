"""Ticket-rush benchmark: hundreds of customers race for one show over real HTTP.

    .venv/bin/python bench/booking_rush.py                 # defaults below
    .venv/bin/python bench/booking_rush.py --customers 300 --workers 2 --threads 2
    .venv/bin/python bench/booking_rush.py --service-level   # same rush, no HTTP layer

What it does, all on 127.0.0.1 and bounded in time:
1. starts a throwaway PostgreSQL cluster (fsync on: `durable=True`), migrates it;
2. seeds one show in a screen of 200 seats (10 rows of 20 with two aisles) and N customers
   (verified, 1500 coins each through the normal signup-grant ledger entry);
3. starts the app under gunicorn (FILMSPHERE_ENV=production, secrets and the database URL
   from the environment, gthread workers), a local SMTP server, and the mail watcher
   (`nice -n 10 flask send-mail --watch`; web workers don't send mail, as in production);
4. every customer logs in through the real login form (CSRF token from the page) and
   opens the seat map page, then all start at once and do what a person on the seat map
   does. Clickers plan a block of 1-4 adjacent free seats from the grid they see (the
   page, kept current from each answer: the grid's ETag goes with every click and quick
   pick, and the answer's changed seats are merged in, as seatmap.js does) and click it
   one seat at a time: a seat someone else was faster to is replaced by a free neighbour
   of the seats already held, only a block boxed in by others is released, and after two
   clicks lost in a row they use quick pick as the refusal suggests; a seat the basket
   says would be left on its own is taken too; then pay. Quick pickers (--quick-pick-share)
   ask for their party; a refusal says what is left, so they ask straight for the most
   seats together it names, watch the grid (a poll with its ETag every Retry-After
   seconds, 304 while unchanged) while every seat left is in a basket, and go home at
   "sold out". Nobody refetches the grid while the view they have shows a free seat.
   Some abandon (release their seats and pick again), some cancel right after paying
   (open the cancel page, read the refund quote, confirm it: whole booking, policy
   refund); a refusal from the single-empty-seat rule at checkout is answered by also
   picking the seat it names;
5. stops when every seat has an active ticket or after --duration seconds, then prints:
   seats sold, double sales (active tickets per (show, seat) > 1, from the database),
   coins conserved (balances + charges - refunds == grants, with the sums), tickets per
   minute, requests per seat sold (every request of the rush, 304 polls included, by
   kind and status), and p50/p95/p99 latency of the hold, quick pick and checkout
   requests.

The load generator is one asyncio event loop with a minimal HTTP/1.1 keep-alive client
per customer (own connection and cookie jar, like a browser tab): it runs on the same 2
cores as the server, and 250 `requests` threads used to take a large share of them.
Every request is still a real one: CSRF token in each POST, HX-Request header, the grid
parsed from each response the way htmx swaps it in. --think adds a random pause (uniform
0..2×think seconds) before each click; the default 0 is the worst case, a closed loop in
which every customer clicks again the moment the previous answer arrives, so latency is
bounded below by customers / throughput (Little's law).

Bench-only settings, all through the environment of the gunicorn process:
FILMSPHERE_SESSION_COOKIE_SECURE=false (plain HTTP on loopback) and a high
FILMSPHERE_RATELIMIT_LOGIN (every simulated customer logs in from 127.0.0.1). The hold rate
limit (per customer) stays at its production default. Customers get a fast pbkdf2 password
hash so logging in 300 of them does not dominate the set-up time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.postgres import free_port, start_cluster  # noqa: E402
from tests.support.redis import start_redis  # noqa: E402
from tests.support.smtp import smtp_server  # noqa: E402

PASSWORD = "Bench-Rush-2026"
ROW_LAYOUTS = {
    "S": "SSSS.SSSSSSSSSSSS.SSSS",
    "P": "PPPP.PPPPPPPPPPPP.PPPP",
    "V": "VVVV.VVVVVVVVVVVV.VVVV",
}
LAYOUT = "\n".join(ROW_LAYOUTS[c] for c in "SSSSSPPPPV")  # 10 rows × 20 = 200 seats

# A seat's row and column are its place in the grid: the rows in order, a cell (seat or
# gap) per column. A free seat has no state class.
ROW_RE = re.compile(r'<div class="seat-row"[^>]*>(.*?)</div>', re.S)
CELL_RE = re.compile(r'<span class="seat-gap"></span>|<button[^>]*>')
SEAT_RE = re.compile(
    r'id="seat-(\d+)" class="seat(?: seat-\w+)?(?: is-(\w+))?"'
    r'[^>]*aria-label="Row (\w+), seat (\d+)'
)
CSRF_RE = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
TOKEN_RE = re.compile(r'name="checkout_token" value="([^"]+)"')
STRANDED_RE = re.compile(r"Pick (\w+?) too")
QUOTED_RE = re.compile(r'name="quoted"[^>]*value="([^"]*)"')
GRID_ETAG_RE = re.compile(r'id="seat-grid"[^>]*data-etag="([^"]+)"')
# What a quick pick's refusal says is left (data-* on the grid's message).
LEFT_RE = re.compile(r'data-largest-block="(\d+)" data-free-seats="(\d+)" data-held-seats="(\d+)"')


@dataclass
class Stats:
    hold: list[float] = field(default_factory=list)
    quick: list[float] = field(default_factory=list)
    checkout: list[float] = field(default_factory=list)
    grid: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    last_sale: float = 0.0
    sold_at: list[tuple[float, int]] = field(default_factory=list)  # (monotonic, seats sold)

    def record_sold(self, sold: int) -> int:
        self.sold_at.append((time.monotonic(), sold))
        return sold


@dataclass(frozen=True)
class GridSeat:
    id: int
    label: str
    state: str
    grid_row: int
    grid_col: int


# --- set-up ------------------------------------------------------------------------------


def seed(customers: int) -> tuple[int, list[str]]:
    """Create the show and the customers in the freshly migrated database."""
    from werkzeug.security import generate_password_hash

    from filmsphere import create_app
    from filmsphere.extensions import db
    from filmsphere.models import Movie, Show, User
    from filmsphere.services.catalogue.screens import create_screen
    from filmsphere.services.wallet.wallet import open_wallet

    app = create_app()
    now = datetime.now(UTC)
    password_hash = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    with app.app_context():
        screen = create_screen("Rush Screen", LAYOUT, now)
        movie = Movie(
            title="The Rush",
            description="Everybody wants a seat.",
            duration_minutes=100,
            age_rating="12A",
            language="English",
            release_date=date(2026, 1, 1),
        )
        db.session.add(movie)
        db.session.flush()
        starts = (now + timedelta(days=2)).replace(second=0, microsecond=0)
        show = Show(
            movie_id=movie.id,
            screen_id=screen.id,
            starts_at=starts,
            ends_at=starts + timedelta(minutes=115),
            base_price_coins=10,
        )
        db.session.add(show)
        logins = []
        for n in range(customers):
            user = User(
                email=f"rush{n}@bench.test",
                username=f"rush{n}",
                full_name=f"Rush Customer {n}",
                password_hash=password_hash,
                email_verified_at=now,
            )
            db.session.add(user)
            db.session.flush()
            open_wallet(user.id, 1500, now)
            logins.append(user.username)
        db.session.commit()
        show_id = show.id
        db.session.remove()
        db.engine.dispose()
    return show_id, logins


def migrate() -> None:
    from flask_migrate import upgrade

    from filmsphere import create_app
    from filmsphere.extensions import db

    app = create_app()
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        db.engine.dispose()


def start_gunicorn(
    port: int, workers: int, threads: int, env: dict[str, str], app: str = "wsgi:app"
) -> Any:
    """gunicorn with gthread workers on 127.0.0.1:port, once /healthz answers 200."""
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--bind",
        f"127.0.0.1:{port}",
        "--chdir",
        str(ROOT),
        "--log-level",
        "warning",
        "--backlog",
        "2048",
        "--timeout",
        "120",
        "--keep-alive",
        "120",  # the simulated browsers keep their connection between clicks
        app,
    ]
    process = subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("gunicorn exited during start-up")
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return process
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer /healthz within 60 s")


def start_mail_watcher(env: dict[str, str]) -> Any:
    """The production way to send mail: its own low-priority process (`flask send-mail
    --watch` under nice), so QR codes and SMTP never take CPU from the web workers."""
    command = ["nice", "-n", "10", sys.executable, "-m", "flask", "--app", "wsgi"]
    command += ["send-mail", "--watch", "--interval", "0.5"]
    return subprocess.Popen(
        command, env=env, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL
    )


def wait_for_outbox(engine: Any, bound: float = 120) -> None:
    """Until the watcher has sent every queued message (or `bound` seconds pass)."""
    from sqlalchemy import text

    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            pending = conn.execute(
                text("SELECT count(*) FROM outbox_messages WHERE status = 'pending'")
            ).scalar_one()
        if not pending:
            return
        time.sleep(0.25)


def stop_process(process: Any) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# --- one simulated customer --------------------------------------------------------------


class HttpError(Exception):
    """The connection broke or the server answered something unreadable."""


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    text: str


class Http:
    """A minimal HTTP/1.1 keep-alive client on asyncio: one connection per customer, like a
    browser tab, with its own cookie jar. Hundreds of these share one event loop, so the
    load generator costs a fraction of the CPU that hundreds of `requests` threads did
    (it runs on the same 2 cores as the server it measures)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.cookies: dict[str, str] = {}
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with suppress(Exception):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def request(
        self,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
        htmx: bool = False,
        etag: str = "",
    ) -> Reply:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        body = urlencode(form).encode() if form is not None else b""
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        if self.cookies:
            lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        if htmx:
            lines.append("HX-Request: true")
        if etag:  # the grid's ETag, as seatmap.js sends it with polls, clicks, quick picks
            lines.append(f"If-None-Match: {etag}")
        if form is not None:
            lines.append("Content-Type: application/x-www-form-urlencoded")
            lines.append(f"Content-Length: {len(body)}")
        try:
            self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
            head = await self.reader.readuntil(b"\r\n\r\n")
            status_line, *header_lines = head.decode("latin-1").split("\r\n")
            status = int(status_line.split(" ", 2)[1])
            headers: dict[str, str] = {}
            for line in header_lines:
                if not line:
                    continue
                name, _, value = line.partition(":")
                name, value = name.strip().lower(), value.strip()
                if name == "set-cookie":
                    key, _, rest = value.partition("=")
                    self.cookies[key] = rest.split(";", 1)[0]
                headers[name] = value
            if headers.get("transfer-encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                    data = await self.reader.readexactly(size + 2)
                    if size == 0:
                        break
                    chunks.append(data[:-2])
                raw = b"".join(chunks)
            else:
                raw = await self.reader.readexactly(int(headers.get("content-length", "0")))
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            await self.close()
            raise HttpError(f"{type(exc).__name__}: {exc}") from exc
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return Reply(status, headers, raw.decode("utf-8", "replace"))


class Customer:
    def __init__(
        self,
        base: tuple[str, int],
        show_id: int,
        login: str,
        stats: Stats,
        rng: random.Random,
        abandon_rate: float,
        cancel_rate: float,
        think: float = 0.0,
        quick_pick: bool = False,
    ) -> None:
        self.think = think
        self.quick_pick = quick_pick  # asks for the party's seats in one request
        self.show_id = show_id
        self.login_name = login
        self.stats = stats
        self.rng = rng
        self.abandon_rate = abandon_rate
        self.cancel_rate = cancel_rate
        self.http = Http(*base)
        self.csrf = ""
        self.checkout_token = ""
        self.held: list[GridSeat] = []
        self.view: list[GridSeat] = []  # the grid as the customer sees it now
        self.etag = ""  # the ETag of that grid (sent with polls, clicks and quick picks)
        self.warning = ""  # the seat the basket says would be left on its own
        self.poll_seconds = 4.0  # SEAT_POLL_SECONDS, the page's poll interval (its default)

    async def _post(self, path: str, data: dict[str, str], kind: str) -> Reply:
        if self.think:
            await asyncio.sleep(self.rng.uniform(0, 2 * self.think))
        clock = asyncio.get_running_loop().time  # time.monotonic, or the model's clock
        started = clock()
        response = await self.http.request(
            "POST",
            path,
            {"csrf_token": self.csrf, **data},
            htmx=True,
            etag=self.etag if kind in ("hold", "quick") else "",
        )
        elapsed = clock() - started
        if kind == "hold":
            self.stats.hold.append(elapsed)
        elif kind == "quick":
            self.stats.quick.append(elapsed)
        elif kind == "checkout":
            self.stats.checkout.append(elapsed)
        self.stats.statuses[f"{kind} {response.status}"] += 1
        return response

    async def log_in(self) -> None:
        for attempt in range(3):
            try:
                return await self._log_in()
            except HttpError:
                if attempt == 2:
                    raise
                await asyncio.sleep(1)

    async def _log_in(self) -> None:
        page = await self.http.request("GET", "/auth/login")
        csrf = CSRF_RE.search(page.text)
        assert csrf, "login page without csrf-token meta"
        response = await self.http.request(
            "POST",
            "/auth/login",
            {"csrf_token": csrf.group(1), "login": self.login_name, "password": PASSWORD},
        )
        if response.status not in (302, 303):
            raise RuntimeError(f"login failed for {self.login_name}: {response.status}")
        seat_map = await self.http.request("GET", f"/shows/{self.show_id}")
        found = CSRF_RE.search(seat_map.text)
        assert found, "seat map without csrf-token meta"
        self.csrf = found.group(1)
        # Like a browser, start from the grid the seat map page itself shows.
        self.view = self.parse(seat_map.text)
        etag = GRID_ETAG_RE.search(seat_map.text)
        self.etag = etag.group(1) if etag else ""
        poll = re.search(r'hx-trigger="every (\d+)s', seat_map.text)
        self.poll_seconds = float(poll.group(1)) if poll else self.poll_seconds

    async def poll(self) -> bool:
        """One poll of the grid with its ETag, as the page does every SEAT_POLL_SECONDS:
        True when it changed (200, the new grid kept), False on 304."""
        clock = asyncio.get_running_loop().time
        started = clock()
        response = await self.http.request(
            "GET", f"/shows/{self.show_id}/seats", htmx=True, etag=self.etag
        )
        self.stats.grid.append(clock() - started)
        self.stats.statuses[f"grid {response.status}"] += 1
        if response.status != 200:
            return False
        self.view = self.parse(response.text)
        self.etag = response.headers.get("etag", "")
        return True

    async def wait_for_free_seat(self, stop: asyncio.Event, pause: float) -> bool:
        """The view if it shows a free seat, else watch the grid until it does. False when
        the rush ended."""
        if any(s.state == "free" for s in self.view):
            return True
        return await self.watch(stop, pause)

    async def watch(self, stop: asyncio.Event, pause: float) -> bool:
        """Watch the grid like the page does (a poll with the ETag every `pause` seconds,
        304 while nothing changed) until a change shows a free seat. False when the rush
        ended."""
        while not stop.is_set():
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)
            if stop.is_set():
                break
            if await self.poll() and any(s.state == "free" for s in self.view):
                return True
        return False

    @staticmethod
    def parse(html: str) -> list[GridSeat]:
        """The seats of a whole grid, or of a click's delta (out-of-band buttons, which
        carry no place: row and column -1)."""
        rows = ROW_RE.findall(html)
        cells = [
            (r, c, cell)
            for r, row in enumerate(rows)
            for c, cell in enumerate(CELL_RE.findall(row))
        ]
        if not rows:
            cells = [(-1, -1, m.group(0)) for m in re.finditer(r"<button[^>]*>", html)]
        return [
            GridSeat(int(m[1]), f"{m[3]}{m[4]}", m[2] or "free", r, c)
            for r, c, cell in cells
            if (m := SEAT_RE.search(cell))
        ]

    async def toggle(self, seat: GridSeat) -> int:
        response = await self._post(f"/shows/{self.show_id}/seats/{seat.id}", {}, "hold")
        return await self._took(response)

    async def _took(self, response: Reply) -> int:
        """Keep what a hold's answer carries, like htmx: the seats (the whole grid, or
        only the changed ones out of band: merged into the view), basket and token."""
        token = TOKEN_RE.search(response.text)
        if token:
            self.checkout_token = token.group(1)
        # 200, 409 and 429 all re-draw the grid or send its changes.
        seats = self.parse(response.text)
        if response.headers.get("hx-reswap") == "none":  # a delta: only what changed
            changed = {s.id: s.state for s in seats}
            self.view = [replace(s, state=changed.get(s.id, s.state)) for s in self.view]
        elif seats:
            self.view = seats
        if seats or response.headers.get("hx-reswap") == "none":
            self.etag = response.headers.get("etag", self.etag)
            warning = STRANDED_RE.search(response.text)
            self.warning = warning.group(1) if warning else ""
        if response.status == 429:
            self.stats.outcomes["told to slow down (429)"] += 1
            await asyncio.sleep(2)  # "Wait a few seconds, then try again."
        return response.status

    async def release_all(self) -> None:
        for seat in list(self.held):
            await self.toggle(seat)
        self.held.clear()

    async def pay(self) -> tuple[int, str]:
        token = self.checkout_token or secrets.token_urlsafe(24)
        response = await self._post(
            f"/shows/{self.show_id}/checkout", {"checkout_token": token}, "checkout"
        )
        if response.status == 204:
            return 204, response.headers.get("hx-redirect", "")
        await self._took(response)  # a refusal redraws the grid and the basket
        return response.status, response.text

    async def run(self, start: asyncio.Event, stop: asyncio.Event) -> None:
        await start.wait()
        while not stop.is_set():
            try:
                if await self.attempt(stop):
                    return
            except HttpError as exc:
                self.stats.outcomes[f"HTTP error {str(exc).split(':')[0]}"] += 1
                await asyncio.sleep(0.5)

    async def take_named_seat(self, seats: list[GridSeat], label: str, outcome: str) -> bool:
        """Also hold the seat a single-empty-seat warning names, if it is free to click."""
        extra = next((s for s in seats if s.label == label), None)
        if extra is None or await self.toggle(extra) != 200:
            return False
        self.held.append(extra)
        self.stats.outcomes[outcome] += 1
        return True

    async def quick_pick_party(self, stop: asyncio.Event, party: int = 0) -> bool | None:
        """Ask for the party's seats in one request (the server re-picks by itself when
        someone is faster to its first choice). A refusal says what is left: ask straight
        for the most seats together it names; when every seat left is in someone's
        basket, watch the grid (Retry-After apart, 304 while unchanged) until one comes
        back. True when held; False when the rush ended; None at "sold out"."""
        party = party or self.rng.choices([1, 2, 3, 4], weights=[2, 4, 3, 2])[0]
        # Nobody presses "Find seats" while the map they see shows no seat to have (a pick
        # replaces their own seats, so those count).
        if not any(s.state in ("free", "mine") for s in self.view) and not await self.watch(
            stop, self.poll_seconds
        ):
            return False
        while not stop.is_set():
            response = await self._post(
                f"/shows/{self.show_id}/quick-pick", {"count": str(party)}, "quick"
            )
            status = await self._took(response)
            if status == 200:
                self.held = [s for s in self.view if s.state == "mine"]
                return True
            left = LEFT_RE.search(response.text) if status == 409 else None
            if left is None:  # 429 (waited already), or others were faster: ask again
                continue
            largest, free, held = (int(n) for n in left.groups())
            if largest:
                self.stats.outcomes["quick pick: asked for the most seats together"] += 1
                party = largest
            elif "retry-after" in response.headers:
                self.stats.outcomes["quick pick: all in baskets, watched the grid"] += 1
                if not await self.watch(stop, float(response.headers["retry-after"])):
                    return False
                party = max(1, min(party, longest_free_run(self.view)))
            else:
                self.stats.outcomes["quick pick: sold out, stopped"] += 1
                return None
        return False

    async def hold_block(self, stop: asyncio.Event) -> bool | None:
        """Hold a block of adjacent seats one click at a time, re-planning from the grid
        each answer carries, like a person: a seat someone else took is replaced by its
        neighbour; only seats boxed in by others are let go. After two clicks lost in a
        row, do what the refusal suggests: quick pick for the party (it replaces the seats
        held). False when nothing fits; None at "sold out" (from the quick pick)."""
        if not await self.wait_for_free_seat(stop, self.poll_seconds):
            return False
        seats = self.view
        plan = pick_block(self.rng, seats)
        want = len(plan)
        lost_in_a_row = 0
        while plan and len(self.held) < want:
            if stop.is_set():
                return False
            seat = next_seat(self.rng, seats, self.held, plan, want)
            if seat is None and self.held:
                self.stats.outcomes["boxed in: released, picked again"] += 1
                await self.release_all()
                seats = self.view
            if seat is None:
                plan = pick_block(self.rng, seats)
                want = len(plan)
                continue
            status = await self.toggle(seat)
            seats = self.view
            if status == 200:
                self.held.append(seat)
                lost_in_a_row = 0
            elif status == 409:
                self.stats.outcomes["lost a click (someone was faster)"] += 1
                lost_in_a_row += 1
                if lost_in_a_row == 2:
                    self.stats.outcomes["lost two clicks in a row: used quick pick"] += 1
                    return await self.quick_pick_party(stop, want)
            elif status != 429:
                self.stats.outcomes[f"hold refused ({status}): released, picked again"] += 1
                return False  # a seat rule said no: start over
        return bool(plan)

    async def attempt(self, stop: asyncio.Event) -> bool:
        """Try to buy until paid (True) or nothing is free right now (False)."""
        bought = False
        while not bought:
            if stop.is_set():
                return True
            held = (
                await self.quick_pick_party(stop)
                if self.quick_pick
                else await self.hold_block(stop)
            )
            if held is None:  # the quick pick said "sold out": this customer goes home
                return True
            if not held:
                if self.held:
                    await self.release_all()
                if stop.is_set():
                    return True
                await asyncio.sleep(0.5)  # everything is held or sold: wait for releases
                return False
            seats = self.view
            if self.rng.random() < self.abandon_rate:
                self.stats.outcomes["abandoned (released)"] += 1
                await self.release_all()
                continue
            if self.warning:
                # The basket says a seat would be left on its own: take it too, as it asks.
                await self.take_named_seat(seats, self.warning, "added the seat the basket named")
            status, body = await self.pay()
            if (
                status == 422
                and (stranded := STRANDED_RE.search(body))
                and await self.take_named_seat(
                    seats, stranded.group(1), "added the seat the rule named"
                )
            ):
                status, body = await self.pay()
            if status != 204:
                self.stats.outcomes[f"checkout refused ({status})"] += 1
                await self.release_all()
                continue
            self.stats.last_sale = asyncio.get_running_loop().time()
            self.stats.outcomes["paid"] += 1
            self.held.clear()
            self.checkout_token = ""
            bought = True
            reference = body.rstrip("/").rsplit("/", 1)[-1]
            if reference and self.rng.random() < self.cancel_rate and not stop.is_set():
                # Like a person: open the cancel page, read the refund quote, confirm it.
                page = await self.http.request("GET", f"/bookings/{reference}/cancel")
                self.stats.statuses[f"cancel page {page.status}"] += 1
                quoted = QUOTED_RE.search(page.text)
                if stop.is_set():
                    return True  # sold out meanwhile: the rush is over, keep the tickets
                response = await self.http.request(
                    "POST",
                    f"/bookings/{reference}/cancel",
                    {
                        "csrf_token": self.csrf,
                        "whole": "y",
                        "quoted": quoted.group(1) if quoted else "",
                        "confirm": "yes",
                    },
                )
                self.stats.statuses[f"cancel {response.status}"] += 1
                self.stats.outcomes["cancelled after paying"] += 1
                bought = False  # changed their mind: back to the seat map
        return True


def free_runs(seats: list[GridSeat]) -> list[list[GridSeat]]:
    """The runs of free seats side by side, row by row, left to right."""
    runs: list[list[GridSeat]] = []
    for seat in sorted(seats, key=lambda s: (s.grid_row, s.grid_col)):
        if seat.state != "free":
            continue
        last = runs[-1][-1] if runs else None
        if last and last.grid_row == seat.grid_row and last.grid_col + 1 == seat.grid_col:
            runs[-1].append(seat)
        else:
            runs.append([seat])
    return runs


def longest_free_run(seats: list[GridSeat]) -> int:
    return max((len(run) for run in free_runs(seats)), default=0)


def pick_block(rng: random.Random, seats: list[GridSeat]) -> list[GridSeat]:
    """k adjacent free seats at one end of a free run, like a person choosing."""
    wanted = rng.choices([1, 2, 3, 4], weights=[2, 4, 3, 2])[0]
    runs = free_runs(seats)
    if not runs:
        return []
    fitting = [r for r in runs if len(r) >= wanted] or [max(runs, key=len)]
    run = rng.choice(fitting)
    wanted = min(wanted, len(run))
    # Take a whole run when only one seat would be left over.
    if len(run) - wanted == 1:
        wanted = len(run)
    # Anywhere in the run that leaves no single seat on either side.
    starts = [s for s in range(len(run) - wanted + 1) if s != 1 and len(run) - wanted - s != 1] or [
        0
    ]
    start = rng.choice(starts)
    return run[start : start + wanted]


def next_seat(
    rng: random.Random,
    seats: list[GridSeat],
    held: list[GridSeat],
    plan: list[GridSeat],
    want: int,
) -> GridSeat | None:
    """The seat a person clicks next, from the grid they see now: the next seat of their
    plan while it is free; once someone took one, a free seat beside the block they
    hold (same row), preferring the side that leaves no seat on its own. None when the
    plan broke and nothing beside their seats is free (or they hold none yet)."""
    at = {(s.grid_row, s.grid_col): s for s in seats}
    held_ids = {h.id for h in held}
    upcoming = next((s for s in plan if s.id not in held_ids), None)
    if upcoming is not None:
        now = at.get((upcoming.grid_row, upcoming.grid_col))
        if now is not None and now.state == "free":
            return now
    if not held:
        return None
    row = held[0].grid_row
    cols = sorted(h.grid_col for h in held)
    sides: list[tuple[int, GridSeat]] = []
    for col, step in ((cols[0] - 1, -1), (cols[-1] + 1, 1)):
        run = 0
        while (seat := at.get((row, col + run * step))) is not None and seat.state == "free":
            run += 1
        if run:
            sides.append((run, at[(row, col)]))
    need = want - len(held)
    # Growing into a run of two for the last seat would leave its other seat alone.
    good = [seat for run, seat in sides if not (run == 2 and need == 1)]
    options = good or [seat for _, seat in sides]
    return rng.choice(options) if options else None


# --- the race and the report -------------------------------------------------------------


def percentiles(values: list[float]) -> str:
    if len(values) < 2:
        return "n/a"
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return (
        f"p50 {cuts[49] * 1000:.1f} ms, p95 {cuts[94] * 1000:.1f} ms, "
        f"p99 {cuts[98] * 1000:.1f} ms (n={len(values)})"
    )


def timeline(samples: list[tuple[float, int]], t0: float, total: int) -> str:
    """When the first quarter, half, … of the seats were sold (the rush slows at the end,
    when many customers compete for the last seats)."""
    marks = []
    for share in (0.25, 0.5, 0.75, 0.9, 1.0):
        when = next((t for t, sold in samples if sold >= share * total), None)
        marks.append(f"{share:.0%} {when - t0:.1f} s" if when is not None else f"{share:.0%} -")
    return ", ".join(marks)


def sold_count(engine: Any, show_id: int) -> int:
    from sqlalchemy import text

    with engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT count(*) FROM tickets WHERE show_id = :s AND status = 'active'"),
                {"s": show_id},
            ).scalar_one()
        )


def report(engine: Any, show_id: int, seats_total: int) -> dict[str, Any]:
    from sqlalchemy import text

    with engine.connect() as conn:

        def one(sql: str, **params: Any) -> int:
            return int(conn.execute(text(sql), params).scalar_one() or 0)

        kinds = dict(
            conn.execute(
                text("SELECT kind, sum(amount_coins) FROM ledger_entries GROUP BY kind")
            ).all()
        )
        return {
            "sold": one(
                "SELECT count(*) FROM tickets WHERE show_id = :s AND status = 'active'", s=show_id
            ),
            "seats": seats_total,
            "double_sales": one(
                "SELECT count(*) FROM (SELECT show_id, seat_id FROM tickets "
                "WHERE status = 'active' GROUP BY show_id, seat_id HAVING count(*) > 1) d"
            ),
            "grants": int(kinds.get("signup_grant", 0)),
            "charges": -int(kinds.get("booking_charge", 0)),
            "refunds": int(kinds.get("refund", 0)),
            "other": sum(
                int(v)
                for k, v in kinds.items()
                if k not in {"signup_grant", "booking_charge", "refund"}
            ),
            "balances": one("SELECT sum(balance_coins) FROM wallets"),
            "ticket_prices": one("SELECT sum(price_coins) FROM tickets"),
            "ticket_refunds": one("SELECT coalesce(sum(refund_coins), 0) FROM tickets"),
            "bookings": one("SELECT count(*) FROM bookings"),
            "cancelled_tickets": one("SELECT count(*) FROM tickets WHERE status = 'cancelled'"),
            "unbalanced_wallets": one(
                "SELECT count(*) FROM wallets w WHERE w.balance_coins <> "
                "(SELECT coalesce(sum(amount_coins), 0) FROM ledger_entries l "
                "WHERE l.wallet_id = w.id)"
            ),
            "outbox": one("SELECT count(*) FROM outbox_messages"),
        }


# --- service level: the same rush without HTTP, for comparison -------------------------


def service_rush(
    show_id: int,
    logins: list[str],
    args: Any,
    stats: Stats,
    seats_total: int,
    engine: Any,
    smtp_port: int,
) -> tuple[float, float | None, int]:
    """Run the rush against the services in-process (threads, one app context and
    connection each): what the booking transactions cost without HTTP, sessions, CSRF and
    template rendering. Returns (t0, sold_out_at, customers)."""
    from sqlalchemy import select

    from filmsphere import create_app
    from filmsphere.extensions import db
    from filmsphere.models import User
    from filmsphere.services.booking.cancellation import cancel_tickets
    from filmsphere.services.booking.checkout import checkout
    from filmsphere.services.booking.holds import toggle_hold
    from filmsphere.services.booking.quick_hold import quick_hold
    from filmsphere.services.booking.seatmap import build_seat_map
    from filmsphere.services.errors import DomainError, SeatRuleViolation

    app = create_app({"SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 40, "max_overflow": 10}})
    with app.app_context():
        ids = list(db.session.scalars(select(User.id).where(User.username.in_(logins))))
        db.session.remove()
    start, stop = threading.Event(), threading.Event()

    def quick(user_id: int, rng: random.Random) -> list[GridSeat] | None:
        """The party's seats by quick pick (one seat fewer each time no block is left);
        None when nothing is free."""
        party = rng.choices([1, 2, 3, 4], weights=[2, 4, 3, 2])[0]
        while True:
            t = time.perf_counter()
            try:
                held = quick_hold(user_id, show_id, party, None, datetime.now(UTC))
            except DomainError:
                stats.outcomes["quick pick found no block"] += 1
                if party == 1:
                    return None
                party -= 1
                continue
            finally:
                stats.quick.append(time.perf_counter() - t)
            return [
                GridSeat(i, label, "mine", 0, 0)
                for i, label in zip(held.seat_ids, held.labels, strict=True)
            ]

    def customer(user_id: int, rng: random.Random, quick_picker: bool) -> None:
        now = datetime.now
        start.wait()
        with app.app_context():
            try:
                while not stop.is_set():
                    if quick_picker:
                        quick_held = quick(user_id, rng)
                        if quick_held is None:
                            time.sleep(0.2)
                            continue
                        seats = held = quick_held
                    else:
                        t = time.perf_counter()
                        seat_map = build_seat_map(show_id, user_id, now(UTC))
                        db.session.rollback()  # end the read: give the connection back
                        stats.grid.append(time.perf_counter() - t)
                        seats = [
                            GridSeat(v.id, v.label, v.state, v.grid_row, v.grid_col)
                            for _, row in seat_map.rows
                            for v in row
                            if v is not None
                        ]
                        block = pick_block(rng, seats)
                        if not block:
                            time.sleep(0.2)
                            continue
                        held = []
                        try:
                            for seat in block:
                                t = time.perf_counter()
                                try:
                                    toggle_hold(user_id, show_id, seat.id, now(UTC))
                                    held.append(seat)
                                finally:
                                    stats.hold.append(time.perf_counter() - t)
                        except DomainError:
                            stats.outcomes["lost a seat, picked again"] += 1
                            for seat in held:
                                toggle_hold(user_id, show_id, seat.id, now(UTC))
                            continue
                    if rng.random() < args.abandon:
                        stats.outcomes["abandoned (released)"] += 1
                        for seat in held:
                            toggle_hold(user_id, show_id, seat.id, now(UTC))
                        continue
                    t = time.perf_counter()
                    try:
                        booking = checkout(user_id, show_id, now(UTC), secrets.token_hex(16))
                    except SeatRuleViolation as exc:
                        stats.outcomes["checkout refused (422)"] += 1
                        named = STRANDED_RE.search(exc.message)
                        extra = next(
                            (s for s in seats if named and s.label == named.group(1)), None
                        )
                        released = [*held]
                        if extra is not None:
                            try:
                                toggle_hold(user_id, show_id, extra.id, now(UTC))
                                released.append(extra)
                                booking = checkout(
                                    user_id, show_id, now(UTC), secrets.token_hex(16)
                                )
                                stats.outcomes["added the seat the rule named"] += 1
                            except DomainError:
                                booking = None
                        else:
                            booking = None
                        if booking is None:
                            for seat in released:
                                with suppress(DomainError):
                                    toggle_hold(user_id, show_id, seat.id, now(UTC))
                            continue
                    except DomainError:
                        stats.outcomes["checkout refused"] += 1
                        continue
                    finally:
                        stats.checkout.append(time.perf_counter() - t)
                    stats.outcomes["paid"] += 1
                    stats.last_sale = time.monotonic()
                    if rng.random() < args.cancel and not stop.is_set():
                        cancel_tickets(user_id, booking.reference, None, now(UTC))
                        stats.outcomes["cancelled after paying"] += 1
                        continue
                    return
            finally:
                db.session.remove()

    threads = [
        threading.Thread(
            target=customer,
            args=(uid, random.Random(args.seed + n), n < round(len(ids) * args.quick_pick_share)),
        )
        for n, uid in enumerate(ids)
    ]
    for t in threads:
        t.start()
    t0 = time.monotonic()
    start.set()
    sold_out_at = None
    while time.monotonic() - t0 < args.duration:
        if stats.record_sold(sold_count(engine, show_id)) >= seats_total:
            sold_out_at = time.monotonic()
            break
        if all(not t.is_alive() for t in threads):
            break
        time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join(timeout=70)
    with app.app_context():
        db.engine.dispose()
    return t0, sold_out_at, len(ids)


def http_rush(
    show_id: int,
    logins: list[str],
    args: Any,
    stats: Stats,
    seats_total: int,
    engine: Any,
    smtp_port: int,
) -> tuple[Any, float, float | None, int]:
    """Start gunicorn and the mail watcher, log every customer in, let them race over HTTP.
    Returns ([gunicorn, mail watcher], t0, sold_out_at, customers)."""
    port = free_port()
    env = os.environ | {
        "FILMSPHERE_SESSION_COOKIE_SECURE": "false",
        "FILMSPHERE_RATELIMIT_LOGIN": "100000 per minute",
        "FILMSPHERE_MAIL_SERVER": "127.0.0.1",
        "FILMSPHERE_MAIL_PORT": str(smtp_port),
        "FILMSPHERE_BASE_URL": f"http://127.0.0.1:{port}",
        "FILMSPHERE_MAIL_SEND_AFTER_COMMIT": "false",  # the watcher sends
    }
    processes = [start_gunicorn(port, args.workers, args.threads, env), start_mail_watcher(env)]
    try:
        result = asyncio.run(_http_race(port, show_id, logins, args, stats, seats_total, engine))
    except BaseException:
        for process in processes:
            stop_process(process)
        raise
    return (processes, *result)


async def _http_race(
    port: int,
    show_id: int,
    logins: list[str],
    args: Any,
    stats: Stats,
    seats_total: int,
    engine: Any,
) -> tuple[float, float | None, int]:
    customers = [
        Customer(
            ("127.0.0.1", port),
            show_id,
            login,
            stats,
            random.Random(args.seed + n),
            args.abandon,
            args.cancel,
            args.think,
            quick_pick=n < round(len(logins) * args.quick_pick_share),
        )
        for n, login in enumerate(logins)
    ]
    print(f"logging in {len(customers)} customers ...", flush=True)
    t_login = time.monotonic()
    for i in range(0, len(customers), 25):
        await asyncio.gather(*(c.log_in() for c in customers[i : i + 25]))
    print(f"logged in in {time.monotonic() - t_login:.1f} s; the rush starts", flush=True)

    start, stop = asyncio.Event(), asyncio.Event()
    tasks = [asyncio.create_task(c.run(start, stop)) for c in customers]
    await asyncio.sleep(0)
    t0 = time.monotonic()
    start.set()
    sold_out_at = None
    loop = asyncio.get_running_loop()
    while time.monotonic() - t0 < args.duration:
        # The sold-out check is a blocking database query: off the event loop.
        sold = await loop.run_in_executor(None, sold_count, engine, show_id)
        if stats.record_sold(sold) >= seats_total:
            sold_out_at = time.monotonic()
            break
        if all(t.done() for t in tasks):
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait(tasks, timeout=70)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*(c.http.close() for c in customers), return_exceptions=True)
    return t0, sold_out_at, len(customers)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=250)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=2, help="threads per worker")
    parser.add_argument("--duration", type=float, default=120, help="time bound, seconds")
    parser.add_argument("--abandon", type=float, default=0.10, help="share that abandon")
    parser.add_argument("--cancel", type=float, default=0.05, help="share that cancel")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--think", type=float, default=0.0, help="pause between a customer's clicks, seconds"
    )
    parser.add_argument(
        "--quick-pick-share",
        type=float,
        default=0.6,
        help="share of customers who use quick pick (party size, then pay) instead of clicks",
    )
    parser.add_argument(
        "--service-level",
        action="store_true",
        help="call the services in-process instead of HTTP (no gunicorn, no templates)",
    )
    args = parser.parse_args()
    load_before = f"{os.getloadavg()[0]:.1f}"

    from sqlalchemy import create_engine

    cluster = start_cluster(max_connections=200, durable=True)
    processes: list[Any] = []
    instance = tempfile.mkdtemp(prefix="filmsphere-bench-")
    # Rate limits are counted in Redis in production: a throwaway one, as deployed.
    redis_server = start_redis()
    os.environ["FILMSPHERE_RATELIMIT_STORAGE_URI"] = redis_server.url
    try:
        url = cluster.createdb("filmsphere_bench")
        os.environ.update(
            {
                "FILMSPHERE_ENV": "production",
                "FILMSPHERE_SECRET_KEY": secrets.token_hex(32),
                "FILMSPHERE_DATABASE_URL": url,
                "FILMSPHERE_INSTANCE_PATH": instance,
            }
        )
        migrate()
        show_id, logins = seed(args.customers)
        seats_total = 200
        engine = create_engine(url)
        stats = Stats()
        if args.service_level:
            mode = "service level (no HTTP), threads in one process"
            with smtp_server() as (inbox, smtp_port):
                t0, sold_out_at, customers = service_rush(
                    show_id, logins, args, stats, seats_total, engine, smtp_port
                )
                time.sleep(0.5)
                mails = len(inbox.messages)
        else:
            mode = f"HTTP, gunicorn {args.workers} workers × {args.threads} threads"
            with smtp_server() as (inbox, smtp_port):
                processes, t0, sold_out_at, customers = http_rush(
                    show_id, logins, args, stats, seats_total, engine, smtp_port
                )
                stop_process(processes[0])  # gunicorn
                wait_for_outbox(engine)
                for process in processes:
                    stop_process(process)
                processes = []
                mails = len(inbox.messages)
        elapsed = (sold_out_at or stats.last_sale or time.monotonic()) - t0
        numbers = report(engine, show_id, seats_total)
        engine.dispose()

        conserved = (
            numbers["balances"] + numbers["charges"] - numbers["refunds"]
            == numbers["grants"] + numbers["other"]
        )
        # A cancellation already on its way when the last seat sold may land after it.
        sold = max(numbers["sold"], max((n for _, n in stats.sold_at), default=0))
        late_cancelled = sold - numbers["sold"]
        per_minute = sold / elapsed * 60 if elapsed > 0 else 0.0
        print()
        print(
            f"customers: {customers} ({args.quick_pick_share:.0%} quick pick), {mode}, "
            f"PostgreSQL fsync on, think time {args.think} s, "
            f"load average before/after: {load_before} / {os.getloadavg()[0]:.1f} "
            f"on {os.cpu_count()} CPUs"
        )
        print(
            f"seats sold: {sold}/{numbers['seats']}"
            + (f" (sold out after {elapsed:.1f} s)" if sold_out_at else f" in {elapsed:.1f} s")
            + (
                f"; {late_cancelled} cancelled by a cancellation already under way"
                if late_cancelled
                else ""
            )
        )
        print(f"double sales: {numbers['double_sales']}")
        print(
            f"coins conserved: {'yes' if conserved else 'NO'} — balances {numbers['balances']}"
            f" + charges {numbers['charges']} - refunds {numbers['refunds']} = "
            f"{numbers['balances'] + numbers['charges'] - numbers['refunds']}; grants "
            f"{numbers['grants']}; ticket prices {numbers['ticket_prices']}, ticket refunds "
            f"{numbers['ticket_refunds']}; wallets off their ledger: "
            f"{numbers['unbalanced_wallets']}"
        )
        print(f"tickets per minute: {per_minute:,.0f}")
        if not args.service_level:
            requests_made = sum(stats.statuses.values())
            print(
                f"requests in the rush: {requests_made} ({requests_made / elapsed:,.0f}/s, "
                f"{requests_made / max(sold, 1):.1f} per seat sold)"
            )
        print("seats sold after: " + timeline(stats.sold_at, t0, seats_total))
        print(f"hold latency:     {percentiles(stats.hold)}")
        print(f"quick pick lat.:  {percentiles(stats.quick)}")
        print(f"checkout latency: {percentiles(stats.checkout)}")
        print(f"grid latency:     {percentiles(stats.grid)}")
        print(
            f"bookings: {numbers['bookings']}, cancelled tickets: "
            f"{numbers['cancelled_tickets']}, outbox messages: {numbers['outbox']}, "
            f"emails received by the SMTP server: {mails}"
        )
        print("outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(stats.outcomes.items())))
        print("responses: " + ", ".join(f"{k}: {v}" for k, v in sorted(stats.statuses.items())))
        ok = (
            sold == numbers["seats"]
            and numbers["double_sales"] == 0
            and conserved
            and numbers["unbalanced_wallets"] == 0
        )
        return 0 if ok else 1
    finally:
        for process in processes:
            stop_process(process)
        cluster.stop()
        redis_server.stop()


if __name__ == "__main__":
    sys.exit(main())
