"""The lean reference: FilmSphere's hold and checkout guarantees as a bare Flask + psycopg app.

    FILMSPHERE_DATABASE_URL=postgresql+psycopg://… FILMSPHERE_SECRET_KEY=… \\
        gunicorn --workers 2 --worker-class gthread --threads 2 'bench.lean_reference:create_app()'

bench/hot_path.py runs it beside the app, over the same database (the app's own schema,
created by the app's migrations), and prints the app's rate as a ratio of this one's: the
floor of what a request costs on this machine. It is a benchmark reference, not a product.

What it does, like the app:
- Seat click `POST /shows/<id>/seats/<seat_id>` holds or releases one seat in one
  transaction, locks in the app's documented order: the seat row (FOR UPDATE), the seat's
  hold row and the customer's holds in other shows (FOR UPDATE, ascending id; holding
  releases them: one show at a time), the wallet row (FOR UPDATE: one customer's clicks
  one at a time), then the show row shared (the INSERT … SELECT … FOR SHARE re-checks that
  it is still scheduled and not started). Refuses seats of another screen, retired, broken,
  sold or held by someone else (409), more than MAX_SEATS_PER_SHOW held + bought (422), a
  companion seat without its wheelchair space (422); releasing a wheelchair space releases
  its companions; a new hold expires HOLD_MINUTES after the customer's first live hold in
  the show; an expired hold is free at once. The unique (show, seat) constraint is the
  last word (a violation answers 409).
- Quick pick `POST /shows/<id>/quick-pick` (`count` 1–10, optional `category`) takes the
  best block from filmsphere/services/booking/quick_pick.py over a snapshot of the map and holds
  it with the click's locks and checks (all seats or none); when someone else got a seat
  of it first, the same request tries the next best block (up to QUICK_PICK_ATTEMPTS).
- Checkout `POST /shows/<id>/checkout` (`checkout_token`) pays all live holds in one
  transaction: locks the held seats (FOR UPDATE, ascending id), the hold rows, the wallet
  (with the facts the rules need), re-checks every hold (still there, not expired, seat of
  this screen and active), the companion and single-empty-seat rules (the app's
  seat_rules functions), the balance; writes the booking (unique checkout_token: a second
  submit of the same token finds its booking), the tickets with frozen prices (the partial
  unique index on active tickets is the last word), one booking_charge ledger entry with
  the balance after, deletes the holds, queues a small confirmation row in the outbox, and
  last re-checks the show under FOR SHARE. All or nothing.
- Grid read `GET /shows/<id>/seats` (htmx): the seat states of the show as an HTML
  fragment of seat buttons (accessible name, aria-pressed, disabled, a formaction each)
  plus the basket; ETag'd: an unchanged map answers 304 before anything is rendered. The
  ETag is the state itself, cheap to compute and to compare: layout version, price,
  whether seats can be picked, the viewer's hold end and balance, and bitmaps of the taken
  seats and the viewer's seats. A click answer carries only what changed: the clicked
  seat, the seats whose state changed since the ETag the client sent (If-None-Match), the
  basket and a status line, all swapped out of band, with the new ETag.
- Seat-map page `GET /shows/<id>`: the same grid and basket inside a minimal page (title,
  CSRF meta tag, stylesheets, htmx, the film heading).
- Customers log in once (`POST /login`: username and password against the users table);
  every request after that is identified by Flask's signed session cookie, which holds the
  user id and a CSRF token that every later POST must carry (`csrf_token`, compared in
  constant time; the log-in form itself has none).
- One statement reads a map: the show, its screen and film, the viewer's balance and the
  claims (sold seats, others' and own live holds). The per-show layout (seats, prices,
  button markup) is built once per layout version and price, as in the app.

What it does not do, unlike the app: it never reloads the user (no session revocation,
deactivation or password-change check after log-in; email verification is checked at
log-in only); no rate limit; no flash messages, security headers, templates or
navigation; no background mail sending (the outbox row holds the booking id, as the
app's does — no sender runs in the benchmark); no booking, wallet, cancel
or account pages; the no-JavaScript answers are bare 303 redirects. Pure rules (seat
rules, prices, the sale rule, quick pick, references) are the app's own functions.
"""

from __future__ import annotations

import base64
import hmac
import os
import secrets
import threading
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from flask import Flask, Response, abort, redirect, request, session
from markupsafe import escape
from psycopg.rows import namedtuple_row
from werkzeug.security import check_password_hash

from filmsphere.services.booking.checkout import new_reference
from filmsphere.services.booking.pricing import CATEGORY_LABELS, seat_price
from filmsphere.services.booking.quick_pick import CATEGORIES, MAX_PARTY, pick_best, ranked_blocks
from filmsphere.services.booking.seat_rules import (
    SeatCell,
    check_companions,
    check_single_seats,
    companion_message,
    lonely_companions,
    stranded_hint,
    stranded_seats,
)
from filmsphere.services.booking.seatmap import not_bookable_reason
from filmsphere.services.errors import SeatRuleViolation

HOLD_MINUTES = int(os.environ.get("FILMSPHERE_HOLD_MINUTES", "10"))
MAX_SEATS_PER_SHOW = int(os.environ.get("FILMSPHERE_MAX_SEATS_PER_SHOW", "10"))
POLL_SECONDS = int(os.environ.get("FILMSPHERE_SEAT_POLL_SECONDS", "4"))
TIMEZONE = ZoneInfo(os.environ.get("FILMSPHERE_TIMEZONE", "Europe/London"))
QUICK_PICK_ATTEMPTS = 5

# --- SQL -------------------------------------------------------------------------------

# Everything a map shows, in one round trip. The viewer may be NULL (a visitor).
MAP_SQL = """
SELECT s.screen_id, s.status, s.starts_at, s.ends_at, s.base_price_coins, sc.layout_version,
       m.title, m.duration_minutes, m.age_rating, sc.name AS screen_name,
       (SELECT w.balance_coins FROM wallets w WHERE w.user_id = %(uid)s) AS balance,
       ARRAY(SELECT t.seat_id FROM tickets t
             WHERE t.show_id = s.id AND t.status = 'active') AS sold,
       ARRAY(SELECT h.seat_id FROM seat_holds h WHERE h.show_id = s.id
             AND h.expires_at > %(now)s AND h.user_id IS DISTINCT FROM %(uid)s) AS held,
       ARRAY(SELECT h.seat_id FROM seat_holds h WHERE h.show_id = s.id
             AND h.expires_at > %(now)s AND h.user_id = %(uid)s) AS mine,
       (SELECT min(h.expires_at) FROM seat_holds h WHERE h.show_id = s.id
             AND h.expires_at > %(now)s AND h.user_id = %(uid)s) AS my_expiry
FROM shows s JOIN screens sc ON sc.id = s.screen_id JOIN movies m ON m.id = s.movie_id
WHERE s.id = %(show)s
"""
SEATS_SQL = """
SELECT se.id, se.row_label, se.number, se.grid_row, se.grid_col, se.category,
       sc.layout_version
FROM seats se JOIN screens sc ON sc.id = se.screen_id
WHERE se.screen_id = %(screen)s AND se.is_active ORDER BY se.grid_row, se.grid_col
"""
LOCK_SEAT_SQL = """
SELECT se.id, se.row_label, se.number, se.category, se.is_active,
       se.screen_id = sh.screen_id AS in_show, sh.status, sh.starts_at, sh.ends_at,
       sh.screen_id, sh.base_price_coins, sc.layout_version
FROM seats se JOIN shows sh ON sh.id = %(show)s JOIN screens sc ON sc.id = sh.screen_id
WHERE se.id = %(seat)s FOR UPDATE OF se
"""
LOCK_SEATS_SQL = """
SELECT id FROM seats WHERE id = ANY(%(seats)s) AND screen_id = %(screen)s AND is_active
ORDER BY id FOR UPDATE
"""
# The hold rows of these seats (anyone's) and the customer's holds in other shows.
LOCK_HOLD_ROWS_SQL = """
SELECT id, show_id, seat_id, user_id, expires_at FROM seat_holds
WHERE (show_id = %(show)s AND seat_id = ANY(%(seats)s))
   OR (user_id = %(uid)s AND show_id <> %(show)s)
ORDER BY id FOR UPDATE
"""
# The wallet lock (one customer's clicks one at a time) and the facts the hold rules need.
LOCK_WALLET_FOR_HOLD_SQL = """
SELECT w.balance_coins,
       ARRAY(SELECT t.seat_id FROM tickets t WHERE t.show_id = %(show)s
             AND t.seat_id = ANY(%(seats)s) AND t.status = 'active') AS sold,
       (SELECT count(*) FROM tickets t JOIN bookings b ON b.id = t.booking_id
        WHERE b.user_id = %(uid)s AND t.show_id = %(show)s AND t.status = 'active') AS bought,
       ARRAY(SELECT h.seat_id FROM seat_holds h WHERE h.user_id = %(uid)s
             AND h.show_id = %(show)s AND h.expires_at > %(now)s) AS mine,
       (SELECT min(h.expires_at) FROM seat_holds h WHERE h.user_id = %(uid)s
             AND h.show_id = %(show)s AND h.expires_at > %(now)s) AS expiry
FROM wallets w WHERE w.user_id = %(uid)s FOR UPDATE OF w
"""
DELETE_HOLDS_SQL = "DELETE FROM seat_holds WHERE id = ANY(%(ids)s)"
RELEASE_SQL = """
DELETE FROM seat_holds WHERE show_id = %(show)s AND user_id = %(uid)s AND seat_id = ANY(%(seats)s)
"""
# New holds, written only while the show is still for sale, under its shared lock.
INSERT_HOLDS_SQL = """
INSERT INTO seat_holds (show_id, seat_id, user_id, created_at, expires_at)
SELECT sh.id, x.seat_id, %(uid)s, %(now)s, %(expires)s
FROM shows sh, unnest(%(seats)s::int[]) AS x(seat_id)
WHERE sh.id = %(show)s AND sh.status = 'scheduled' AND sh.starts_at > %(now)s
FOR SHARE OF sh
"""
CHECKOUT_LOCK_SEATS_SQL = """
SELECT se.id, se.category, se.screen_id, se.is_active FROM seats se
WHERE se.id IN (SELECT seat_id FROM seat_holds WHERE user_id = %(uid)s AND show_id = %(show)s)
ORDER BY se.id FOR UPDATE OF se
"""
CHECKOUT_LOCK_HOLDS_SQL = """
SELECT id, seat_id, expires_at FROM seat_holds
WHERE user_id = %(uid)s AND show_id = %(show)s ORDER BY id FOR UPDATE
"""
CHECKOUT_LOCK_WALLET_SQL = """
SELECT w.id, w.balance_coins, u.email, sh.screen_id, sh.status, sh.starts_at, sh.ends_at,
       sh.base_price_coins, sc.layout_version,
       ARRAY(SELECT t.seat_id FROM tickets t
             WHERE t.show_id = sh.id AND t.status = 'active') AS sold,
       ARRAY(SELECT h.seat_id FROM seat_holds h WHERE h.show_id = sh.id
             AND h.user_id <> %(uid)s AND h.expires_at > %(now)s) AS held
FROM wallets w JOIN users u ON u.id = w.user_id,
     shows sh JOIN screens sc ON sc.id = sh.screen_id
WHERE w.user_id = %(uid)s AND sh.id = %(show)s
FOR UPDATE OF w
"""
INSERT_BOOKING_SQL = """
INSERT INTO bookings (reference, user_id, show_id, status, total_coins, checkout_token,
                      created_at)
VALUES (%(reference)s, %(uid)s, %(show)s, 'paid', %(total)s, %(token)s, %(now)s)
RETURNING id
"""
CHARGE_SQL = """
WITH w AS (
    UPDATE wallets SET balance_coins = balance_coins - %(total)s, updated_at = %(now)s
    WHERE id = %(wallet)s RETURNING id, balance_coins
)
INSERT INTO ledger_entries (wallet_id, kind, amount_coins, balance_after_coins, booking_id,
                            created_at)
SELECT id, 'booking_charge', -%(total)s, balance_coins, %(booking)s, %(now)s FROM w
"""
INSERT_TICKETS_SQL = """
INSERT INTO tickets (booking_id, show_id, seat_id, category, price_coins, status, created_at)
SELECT %(booking)s, %(show)s, x.seat_id, x.category, x.price, 'active', %(now)s
FROM unnest(%(seats)s::int[], %(categories)s::text[], %(prices)s::int[])
     AS x(seat_id, category, price)
"""
QUEUE_MAIL_SQL = """
INSERT INTO outbox_messages (kind, to_address, payload, status, attempts, next_attempt_at,
                             created_at)
VALUES ('booking_confirmation', %(to)s, json_build_object('booking_id', %(booking)s::int),
        'pending', 0, %(now)s, %(now)s)
"""
SHOW_FOR_SALE_SQL = """
SELECT 1 FROM shows WHERE id = %(show)s AND status = 'scheduled' AND starts_at > %(now)s
FOR SHARE
"""
BOOKING_FOR_TOKEN_SQL = """
SELECT reference FROM bookings WHERE checkout_token = %(token)s AND user_id = %(uid)s
"""
LOGIN_SQL = """
SELECT id, password_hash, is_active_account, email_verified_at FROM users
WHERE lower(username) = lower(%(login)s) OR lower(email) = lower(%(login)s)
"""


class Refused(Exception):
    """A refusal with its HTTP status, told to the customer."""

    def __init__(self, status: int, message: str, lost: Iterable[int] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.lost = set(lost)  # seats someone else got first (quick pick tries again)


# --- connections -----------------------------------------------------------------------

_local = threading.local()


def _conninfo() -> str:
    url = os.environ["FILMSPHERE_DATABASE_URL"]
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def db() -> psycopg.Connection[Any]:
    """One connection per worker thread (gthread), opened on first use, autocommit: reads
    are single statements, writes open an explicit transaction."""
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed or conn.broken:
        conn = psycopg.connect(_conninfo(), autocommit=True, row_factory=namedtuple_row)
        _local.conn = conn
    return conn


def utcnow() -> datetime:
    return datetime.now(UTC)


# --- the layout of a show: seats, prices, button markup, built once ---------------------


@dataclass(frozen=True)
class Seat:
    id: int
    label: str
    row_label: str
    number: int
    grid_row: int
    grid_col: int
    category: str
    price: int


@dataclass(frozen=True)
class Layout:
    version: int
    seats: dict[int, Seat]
    order: list[int]  # seat ids by (row, column): the bit positions of the ETag bitmaps
    bit: dict[int, int]
    rows: list[tuple[str, list[int | None]]]
    columns: int
    buttons: dict[tuple[int, str, bool], str]  # (seat, state, interactive) → markup
    legend: str


_layouts: dict[tuple[int, int, int], Layout] = {}
_layouts_lock = threading.Lock()


def layout(show_id: int, screen_id: int, version: int, base_price: int) -> Layout:
    key = (show_id, version, base_price)
    found = _layouts.get(key)
    if found is not None:
        return found
    rows = db().execute(SEATS_SQL, {"screen": screen_id}).fetchall()
    built = _build_layout(show_id, rows[0][6] if rows else version, base_price, rows)
    with _layouts_lock:
        if len(_layouts) > 1024:
            _layouts.clear()
        _layouts[(show_id, built.version, base_price)] = built
    return built


def _build_layout(show_id: int, version: int, base_price: int, rows: list[Any]) -> Layout:
    seats: dict[int, Seat] = {}
    grid: dict[int, tuple[str, dict[int, int]]] = {}
    columns = 0
    for seat_id, row_label, number, grid_row, grid_col, category, _ in rows:
        price = 0 if category == "broken" else seat_price(base_price, category)
        seats[seat_id] = Seat(
            seat_id, f"{row_label}{number}", row_label, number, grid_row, grid_col, category, price
        )
        grid.setdefault(grid_row, (row_label, {}))[1][grid_col] = seat_id
        columns = max(columns, grid_col + 1)
    order = list(seats)
    buttons = {}
    for seat in seats.values():
        for state in ("free", "mine", "taken", "broken"):
            for interactive in (True, False):
                buttons[(seat.id, state, interactive)] = _button(show_id, seat, state, interactive)
    prices: dict[str, int] = {}
    for seat in seats.values():
        if seat.category != "broken":
            prices.setdefault(seat.category, seat.price)
    legend = "".join(
        f'<li><span class="seat seat-sample seat-{c} is-free" aria-hidden="true"></span>'
        f"<span>{escape(CATEGORY_LABELS[c])} <strong>{p} coins</strong></span></li>"
        for c, p in prices.items()
    )
    return Layout(
        version=version,
        seats=seats,
        order=order,
        bit={seat_id: i for i, seat_id in enumerate(order)},
        rows=[
            (label, [cells.get(col) for col in range(columns)])
            for _, (label, cells) in sorted(grid.items())
        ],
        columns=columns,
        buttons=buttons,
        legend=f'<ul class="legend">{legend}</ul>',
    )


def _button(show_id: int, seat: Seat, state: str, interactive: bool) -> str:
    if seat.category == "broken":
        state = "broken"
    if state == "broken":
        name = f"Row {seat.row_label}, seat {seat.number}, out of order"
    else:
        name = (
            f"Row {seat.row_label}, seat {seat.number}, {CATEGORY_LABELS[seat.category]}, "
            f"{seat.price} coins" + (", taken" if state == "taken" else "")
        )
    if interactive and state in ("free", "mine"):
        pressed = "true" if state == "mine" else "false"
        action = f' formaction="/shows/{show_id}/seats/{seat.id}" aria-pressed="{pressed}"'
    else:
        action = " disabled"
    return (
        f'<button id="seat-{seat.id}" class="seat seat-{seat.category} is-{state}"{action}'
        f' aria-label="{escape(name)}">{seat.number}</button>'
    )


# --- a map: one statement, then everything from the cached layout -----------------------


@dataclass(frozen=True)
class Map:
    show_id: int
    row: Any  # the MAP_SQL row
    layout: Layout
    uid: int | None
    reason: str | None  # why seats can't be picked now
    taken: frozenset[int]
    mine: frozenset[int]

    @property
    def interactive(self) -> bool:
        return self.uid is not None and self.reason is None

    def state(self, seat_id: int) -> str:
        if seat_id in self.mine:
            return "mine"
        return "taken" if seat_id in self.taken else "free"

    @property
    def etag(self) -> str:
        row = self.row
        expiry = int(row.my_expiry.timestamp()) if row.my_expiry else 0
        flag = zlib.crc32(self.reason.encode()) if self.reason else int(self.uid is not None)
        return (
            f'W/"{self.layout.version}.{row.base_price_coins}.{flag}.{expiry}.{row.balance}.'
            f'{_bitmap(self.layout, self.taken)}.{_bitmap(self.layout, self.mine)}"'
        )


def _bitmap(lay: Layout, seat_ids: Iterable[int]) -> str:
    bits = 0
    for seat_id in seat_ids:
        position = lay.bit.get(seat_id)
        if position is not None:
            bits |= 1 << position
    raw = bits.to_bytes((len(lay.order) + 7) // 8, "little")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unbitmap(text: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), "little")


def read_map(show_id: int, uid: int | None, now: datetime) -> Map:
    row = db().execute(MAP_SQL, {"show": show_id, "uid": uid, "now": now}).fetchone()
    if row is None:
        abort(404)
    lay = layout(show_id, row.screen_id, row.layout_version, row.base_price_coins)
    return Map(
        show_id=show_id,
        row=row,
        layout=lay,
        uid=uid,
        reason=not_bookable_reason(row, now),
        taken=frozenset(row.sold) | frozenset(row.held),
        mine=frozenset(row.mine),
    )


def changed_since(sm: Map, etag: str | None) -> list[int]:
    """Seats whose state differs from the one the client's ETag describes (none when the
    ETag is missing or of another layout)."""
    if not etag:
        return []
    try:
        parts = etag.removeprefix("W/").strip('"').split(".")
        if int(parts[0]) != sm.layout.version:
            return []
        old_taken, old_mine = _unbitmap(parts[5]), _unbitmap(parts[6])
    except (ValueError, IndexError):
        return []
    new_taken = new_mine = 0
    for seat_id in sm.taken:
        new_taken |= 1 << sm.layout.bit.get(seat_id, 0)
    for seat_id in sm.mine:
        new_mine |= 1 << sm.layout.bit.get(seat_id, 0)
    diff = (old_taken ^ new_taken) | (old_mine ^ new_mine)
    order = sm.layout.order
    return [order[i] for i in range(min(diff.bit_length(), len(order))) if diff >> i & 1]


# --- rendering -------------------------------------------------------------------------


def grid_html(sm: Map) -> str:
    lay, show_id, interactive = sm.layout, sm.show_id, sm.interactive
    poll = (
        f' hx-get="/shows/{show_id}/seats" hx-trigger="every {POLL_SECONDS}s"'
        ' hx-swap="outerHTML" hx-sync="this:drop"'
        if sm.reason is None
        else ""
    )
    parts = [
        f'<section id="seat-grid" class="seat-grid" aria-label="Seats"'
        f' data-etag="{escape(sm.etag)}"{poll}>'
        f'<form method="post" action="/shows/{show_id}" hx-post="/shows/{show_id}/seats"'
        ' hx-swap="none" class="seat-form">'
        f'<input type="hidden" name="csrf_token" value="{session.get("csrf", "")}">'
        f'<div class="seat-rows" data-columns="{lay.columns}">',
    ]
    buttons = lay.buttons
    for label, cells in lay.rows:
        parts.append(
            f'<div class="seat-row" role="group" aria-label="Row {label}">'
            f'<span class="row-label" aria-hidden="true">{label}</span>'
        )
        for seat_id in cells:
            if seat_id is None:
                parts.append('<span class="seat-gap"></span>')
            else:
                parts.append(buttons[(seat_id, sm.state(seat_id), interactive)])
        parts.append("</div>")
    parts.append('<p class="screen-marker">Screen this way</p></div></form></section>')
    return "".join(parts)


def basket_html(sm: Map, *, oob: bool = False, message: str | None = None) -> str:
    if sm.uid is None:
        return ""
    lay, row = sm.layout, sm.row
    attrs = ' hx-swap-oob="true"' if oob else ""
    head = f'<section id="basket" class="panel basket"{attrs}><h2>Your seats</h2>'
    alert = f'<p class="alert" role="alert">{escape(message)}</p>' if message else ""
    balance = row.balance or 0
    if not sm.mine:
        return (
            f"{head}{alert}<p>No seats held yet.</p>"
            '<p class="basket-balance">Your balance: '
            f"<strong>{balance} coins</strong></p></section>"
        )
    seats = sorted((lay.seats[s] for s in sm.mine), key=lambda s: (s.grid_row, s.grid_col))
    total = sum(s.price for s in seats)
    items = "".join(
        f"<li>Row {s.row_label}, seat {s.number} · {CATEGORY_LABELS[s.category]}"
        f' <span class="num">{s.price} coins</span></li>'
        for s in seats
    )
    until = row.my_expiry.astimezone(TIMEZONE).strftime("%H:%M")
    warning = _stranding_warning(sm)
    warn = f'<p class="alert basket-warning">{escape(warning)}</p>' if warning else ""
    return (
        f'{head}{alert}<ul class="basket-seats">{items}</ul><dl class="basket-totals">'
        f"<div><dt>Total</dt><dd>{total} coins</dd></div>"
        f"<div><dt>Your balance</dt><dd>{balance} coins</dd></div>"
        f"<div><dt>Balance after payment</dt><dd>{balance - total} coins</dd></div></dl>"
        f'<p class="countdown" data-expires="{row.my_expiry.isoformat()}">Seats held until '
        f"{until}</p>{warn}"
        f'<form method="post" action="/shows/{sm.show_id}/checkout"'
        f' hx-post="/shows/{sm.show_id}/checkout" hx-swap="none">'
        f'<input type="hidden" name="csrf_token" value="{session.get("csrf", "")}">'
        f'<input type="hidden" name="checkout_token" value="{secrets.token_urlsafe(24)}">'
        f'<button type="submit" class="button pay-button">Pay {total} coins</button></form>'
        "</section>"
    )


def _stranding_warning(sm: Map) -> str | None:
    seats = sm.layout.seats
    rows = {seats[s].grid_row for s in sm.mine}
    cells = [
        SeatCell(s.id, s.label, s.grid_row, s.grid_col, s.category, _rule_state(sm, s.id))
        for s in seats.values()
        if s.grid_row in rows
    ]
    stranded = stranded_seats(cells)
    return stranded_hint(stranded[0]) if stranded else None


def _rule_state(sm: Map, seat_id: int) -> Any:
    return {"mine": "chosen", "taken": "taken", "free": "free"}[sm.state(seat_id)]


PAGE = (
    '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    '<title>Seats · {title}</title><meta name="csrf-token" content="{csrf}">'
    '<link rel="stylesheet" href="/static/css/app.css">'
    '<link rel="stylesheet" href="/static/css/seatmap.css">'
    '<script src="/static/vendor/htmx-2.0.11.min.js" defer></script></head>'
    '<body><main id="main"><header class="show-header"><h1>{title}</h1>'
    '<p class="show-meta"><time datetime="{starts_iso}">{starts}</time> · {screen} · '
    "{minutes} min · {rating}</p></header>{notice}"
    '<div class="booking-layout"><div class="seat-area">'
    '<section class="legend-panel" aria-label="Prices and key">{legend}</section>'
    '{grid}</div><div class="booking-side">{basket}</div></div>'
    '<p id="seat-message" role="status" class="visually-hidden"></p>'
    "</main></body></html>"
)


def page_html(sm: Map) -> str:
    row = sm.row
    notice = f'<p class="panel notice">{escape(sm.reason)}</p>' if sm.reason else ""
    return PAGE.format(
        title=escape(row.title),
        csrf=session.get("csrf", ""),
        starts_iso=row.starts_at.isoformat(),
        starts=row.starts_at.astimezone(TIMEZONE).strftime("%a %d %b, %H:%M"),
        screen=escape(row.screen_name),
        minutes=row.duration_minutes,
        rating=escape(row.age_rating),
        notice=notice,
        legend=sm.layout.legend,
        grid=grid_html(sm),
        basket=basket_html(sm),
    )


def changes_html(sm: Map, seat_ids: Iterable[int], message: str, alert: bool = False) -> str:
    """A click's answer: the seats that changed, the basket and a status line, all out of
    band (the form that posted swaps nothing itself)."""
    buttons = sm.layout.buttons
    parts = [
        buttons[(s, sm.state(s), sm.interactive)].replace(
            "<button ", '<button hx-swap-oob="true" ', 1
        )
        for s in sorted(set(seat_ids))
        if s in sm.layout.seats
    ]
    parts.append(basket_html(sm, oob=True))
    role = "alert" if alert else "status"
    parts.append(f'<p id="seat-message" role="{role}" hx-swap-oob="true">{escape(message)}</p>')
    return "".join(parts)


# --- writes: one transaction each ------------------------------------------------------


def toggle(uid: int, show_id: int, seat_id: int, now: datetime) -> str:
    """Hold or release one seat; returns what to tell the customer. Raises Refused."""
    conn = db()
    with conn.transaction():
        seat = conn.execute(LOCK_SEAT_SQL, {"show": show_id, "seat": seat_id}).fetchone()
        if seat is None:
            raise Refused(404, "There is no such seat in this show.")
        reason = not_bookable_reason(seat, now)
        if reason:
            raise Refused(409, reason)
        if not seat.in_show or not seat.is_active:
            raise Refused(404, "There is no such seat in this show.")
        label = f"{seat.row_label}{seat.number}"
        if seat.category == "broken":
            raise Refused(409, f"Seat {label} is out of order.")
        lay = layout(show_id, seat.screen_id, seat.layout_version, seat.base_price_coins)
        rows = conn.execute(
            LOCK_HOLD_ROWS_SQL, {"show": show_id, "seats": [seat_id], "uid": uid}
        ).fetchall()
        existing = next((r for r in rows if r.show_id == show_id), None)
        if existing is not None and existing.expires_at > now and existing.user_id != uid:
            raise Refused(409, f"Sorry, seat {label} was just taken by someone else.", [seat_id])
        facts = _lock_wallet(conn, uid, show_id, [seat_id], now)
        if existing is not None and existing.expires_at > now:
            released = [seat_id]
            if seat.category == "wheelchair":
                rest = [_cell(lay, s, "chosen") for s in facts.mine if s != seat_id]
                released += [c.seat_id for c in lonely_companions(rest)]
            conn.execute(RELEASE_SQL, {"show": show_id, "uid": uid, "seats": released})
            return f"Seat {label} released."
        stale = [r.id for r in rows if r.show_id != show_id or r.expires_at <= now]
        _hold(conn, lay, uid, show_id, [seat_id], facts, stale, now)
        return f"Seat {label} held for you."


def quick_pick(uid: int, show_id: int, count: int, category: str | None, now: datetime) -> str:
    """Hold the best block of `count` seats, trying the next best when someone else was
    faster to a seat of it. Raises Refused."""
    sm = read_map(show_id, uid, now)
    if sm.reason:
        raise Refused(409, sm.reason)
    cells = [
        SeatCell(s.id, s.label, s.grid_row, s.grid_col, s.category, _rule_state(sm, s.id))
        for s in sm.layout.seats.values()
    ]
    lost: set[int] = set()
    candidates = ranked_blocks(cells, count, category)  # type: ignore[arg-type]
    for _ in range(QUICK_PICK_ATTEMPTS):
        block = next((b for b in candidates if not lost.intersection(b.seat_ids)), None)
        if block is None and not lost:  # none fits at all: say why
            why = pick_best(cells, count, category).reason  # type: ignore[arg-type]
            raise Refused(409, why or "No seats fit.")
        if block is None:
            break
        try:
            _hold_block(uid, show_id, sm, list(block.seat_ids), now)
        except Refused as refused:
            if not refused.lost:
                raise
            lost |= refused.lost
            continue
        labels = ", ".join(block.labels)
        split = " (split across the aisle: no seats side by side were free)" if block.split else ""
        return f"Seats {labels} held for you{split}."
    raise Refused(409, "Others were faster to the best seats. Try again, or pick on the map.")


def _hold_block(uid: int, show_id: int, sm: Map, seats: list[int], now: datetime) -> None:
    conn = db()
    with conn.transaction():
        params = {"show": show_id, "seats": seats, "uid": uid, "screen": sm.row.screen_id}
        locked = conn.execute(LOCK_SEATS_SQL, params).fetchall()
        if len(locked) != len(seats):
            raise Refused(409, "This show's seating changed. Reload the page.")
        rows = conn.execute(LOCK_HOLD_ROWS_SQL, params).fetchall()
        live = {r.seat_id for r in rows if r.show_id == show_id and r.expires_at > now}
        if live:
            raise Refused(409, "Someone else was faster to those seats.", live)
        facts = _lock_wallet(conn, uid, show_id, seats, now)
        stale = [r.id for r in rows if r.show_id != show_id or r.expires_at <= now]
        _hold(conn, sm.layout, uid, show_id, seats, facts, stale, now)


def _lock_wallet(
    conn: psycopg.Connection[Any], uid: int, show_id: int, seats: list[int], now: datetime
) -> Any:
    facts = conn.execute(
        LOCK_WALLET_FOR_HOLD_SQL, {"uid": uid, "show": show_id, "seats": seats, "now": now}
    ).fetchone()
    if facts is None:
        raise Refused(404, "This account has no wallet.")
    return facts


def _hold(
    conn: psycopg.Connection[Any],
    lay: Layout,
    uid: int,
    show_id: int,
    seats: list[int],
    facts: Any,
    stale: list[int],
    now: datetime,
) -> None:
    """The rules of new holds, then the INSERT under the show's shared lock."""
    if facts.sold:
        raise Refused(409, "Sorry, that seat is already sold.", facts.sold)
    if len(facts.mine) + facts.bought + len(seats) > MAX_SEATS_PER_SHOW:
        raise Refused(
            422,
            f"You can have at most {MAX_SEATS_PER_SHOW} seats for one show. "
            "Pay for these first, or release one.",
        )
    lonely = lonely_companions(_cell(lay, s, "chosen") for s in [*facts.mine, *seats])
    if lonely:
        raise Refused(422, companion_message(lonely[0]))
    if stale:
        conn.execute(DELETE_HOLDS_SQL, {"ids": stale})
    expires = facts.expiry or now + timedelta(minutes=HOLD_MINUTES)
    inserted = conn.execute(
        INSERT_HOLDS_SQL,
        {"show": show_id, "seats": seats, "uid": uid, "now": now, "expires": expires},
    )
    if inserted.rowcount != len(seats):
        raise Refused(409, "This show can no longer be booked.")


def _cell(lay: Layout, seat_id: int, state: Any) -> SeatCell:
    s = lay.seats[seat_id]
    return SeatCell(s.id, s.label, s.grid_row, s.grid_col, s.category, state)


def checkout(uid: int, show_id: int, token: str, now: datetime) -> str:
    """Pay every live hold of the show; returns the booking reference. Raises Refused."""
    conn = db()
    try:
        with conn.transaction():
            return _checkout(conn, uid, show_id, token, now)
    except psycopg.errors.UniqueViolation:
        done = conn.execute(BOOKING_FOR_TOKEN_SQL, {"token": token, "uid": uid}).fetchone()
        if done is not None:  # a twin submit of the same form won
            return str(done.reference)
        raise Refused(409, "Sorry, one of your seats was just sold. Please pick again.") from None


def _checkout(
    conn: psycopg.Connection[Any], uid: int, show_id: int, token: str, now: datetime
) -> str:
    params: dict[str, Any] = {"uid": uid, "show": show_id, "now": now}
    seats = {r.id: r for r in conn.execute(CHECKOUT_LOCK_SEATS_SQL, params).fetchall()}
    holds = conn.execute(CHECKOUT_LOCK_HOLDS_SQL, params).fetchall()
    facts = conn.execute(CHECKOUT_LOCK_WALLET_SQL, params).fetchone()
    if facts is None:
        raise Refused(404, "There is no such show.")
    if not holds:
        done = conn.execute(BOOKING_FOR_TOKEN_SQL, {"token": token, "uid": uid}).fetchone()
        if done is not None:
            return str(done.reference)
        raise Refused(422, "You have no seats held for this show.")
    reason = not_bookable_reason(facts, now)
    if reason:
        raise Refused(409, reason)
    if any(
        h.seat_id not in seats
        or seats[h.seat_id].screen_id != facts.screen_id
        or not seats[h.seat_id].is_active
        for h in holds
    ):
        raise Refused(409, "Your seats changed while paying, so nothing was charged.")
    if any(h.expires_at <= now for h in holds):
        raise Refused(409, "Your hold ran out, so nothing was charged. Pick your seats again.")
    lay = layout(show_id, facts.screen_id, facts.layout_version, facts.base_price_coins)
    chosen = {h.seat_id for h in holds}
    taken = set(facts.sold) | set(facts.held)
    rows = {lay.seats[s].grid_row for s in chosen}
    try:
        check_companions(_cell(lay, s, "chosen") for s in chosen)
        check_single_seats(
            _cell(lay, s.id, "chosen" if s.id in chosen else "taken" if s.id in taken else "free")
            for s in lay.seats.values()
            if s.grid_row in rows
        )
    except SeatRuleViolation as exc:
        raise Refused(422, exc.message) from None
    bought = sorted((lay.seats[s] for s in chosen), key=lambda s: (s.grid_row, s.grid_col))
    total = sum(s.price for s in bought)
    if facts.balance_coins < total:
        raise Refused(422, f"These seats cost {total} coins but you have {facts.balance_coins}.")
    reference = new_reference()
    booking = conn.execute(
        INSERT_BOOKING_SQL, params | {"reference": reference, "total": total, "token": token}
    ).fetchone()
    assert booking is not None
    charge = params | {"booking": booking.id, "total": total, "wallet": facts.id}
    if total:
        conn.execute(CHARGE_SQL, charge)
    conn.execute(
        INSERT_TICKETS_SQL,
        charge
        | {
            "seats": [s.id for s in bought],
            "categories": [s.category for s in bought],
            "prices": [s.price for s in bought],
        },
    )
    conn.execute(DELETE_HOLDS_SQL, {"ids": [h.id for h in holds]})
    conn.execute(QUEUE_MAIL_SQL, charge | {"to": facts.email})
    if conn.execute(SHOW_FOR_SALE_SQL, params).fetchone() is None:
        raise Refused(409, "This show can no longer be booked, so nothing was charged.")
    return reference


# --- the app ---------------------------------------------------------------------------


def create_app() -> Flask:
    """The lean app; FILMSPHERE_SECRET_KEY and FILMSPHERE_DATABASE_URL from the environment."""
    app = Flask(__name__, static_folder=None)
    app.secret_key = os.environ["FILMSPHERE_SECRET_KEY"]
    app.config["SESSION_COOKIE_SECURE"] = False  # plain HTTP on loopback
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"

    def htmx() -> bool:
        return request.headers.get("HX-Request") == "true"

    def customer() -> int:
        uid = session.get("uid")
        if uid is None:
            abort(401)
        token = request.form.get("csrf_token", "")
        if not hmac.compare_digest(token, session.get("csrf", "")):
            abort(400)
        return int(uid)

    def fragment(body: str, status: int = 200, etag: str | None = None) -> Response:
        response = Response(body, status, content_type="text/html; charset=utf-8")
        response.headers["Vary"] = "HX-Request"
        response.headers["Cache-Control"] = "private, no-cache"
        if etag:
            response.headers["ETag"] = etag
        return response

    def answer(show_id: int, uid: int, message: str, status: int, extra: Iterable[int] = ()) -> Any:
        if not htmx():
            return redirect(f"/shows/{show_id}#seat-grid", 303)
        sm = read_map(show_id, uid, utcnow())
        seats = set(extra) | set(changed_since(sm, request.headers.get("If-None-Match")))
        body = changes_html(sm, seats, message, alert=status >= 400)
        return fragment(body, status, sm.etag)

    @app.get("/healthz")
    def healthz() -> Any:
        db().execute("SELECT 1")
        return "ok"

    @app.post("/login")
    def login() -> Any:
        row = db().execute(LOGIN_SQL, {"login": request.form.get("login", "")}).fetchone()
        password = request.form.get("password", "")
        if (
            row is None
            or not row.is_active_account
            or row.email_verified_at is None
            or not check_password_hash(row.password_hash, password)
        ):
            return Response("Email/username or password is incorrect.", 401)
        session.clear()
        session["uid"] = row.id
        session["csrf"] = secrets.token_urlsafe(24)
        return redirect("/", 303)

    @app.get("/shows/<int:show_id>")
    def seat_map(show_id: int) -> Any:
        return page_html(read_map(show_id, session.get("uid"), utcnow()))

    @app.get("/shows/<int:show_id>/seats")
    def seat_grid(show_id: int) -> Any:
        if not htmx():
            return redirect(f"/shows/{show_id}", 303)
        sm = read_map(show_id, session.get("uid"), utcnow())
        etag = sm.etag
        if request.headers.get("If-None-Match") == etag:
            return fragment("", 304, etag)
        return fragment(grid_html(sm) + basket_html(sm, oob=True), 200, etag)

    @app.post("/shows/<int:show_id>/seats/<int:seat_id>")
    def toggle_seat(show_id: int, seat_id: int) -> Any:
        uid = customer()
        try:
            message = toggle(uid, show_id, seat_id, utcnow())
        except Refused as refused:
            if refused.status == 404:
                abort(404)
            return answer(show_id, uid, refused.message, refused.status, [seat_id])
        return answer(show_id, uid, message, 200, [seat_id])

    @app.post("/shows/<int:show_id>/quick-pick")
    def quick_pick_seats(show_id: int) -> Any:
        uid = customer()
        raw_count, category = request.form.get("count", ""), request.form.get("category") or None
        if not raw_count.isdigit() or not 1 <= int(raw_count) <= MAX_PARTY:
            return answer(show_id, uid, f"Choose 1 to {MAX_PARTY} seats.", 422)
        if category is not None and category not in CATEGORIES:
            return answer(show_id, uid, "Choose a seat category from the list.", 422)
        try:
            message = quick_pick(uid, show_id, int(raw_count), category, utcnow())
        except Refused as refused:
            if refused.status == 404:
                abort(404)
            return answer(show_id, uid, refused.message, refused.status)
        return answer(show_id, uid, message, 200)

    @app.post("/shows/<int:show_id>/checkout")
    def pay(show_id: int) -> Any:
        uid = customer()
        token = request.form.get("checkout_token", "")
        if not token:
            return answer(show_id, uid, "The payment form was incomplete.", 422)
        try:
            reference = checkout(uid, show_id, token, utcnow())
        except Refused as refused:
            if refused.status == 404:
                abort(404)
            return answer(show_id, uid, refused.message, refused.status)
        target = f"/bookings/{reference}"
        if htmx():
            return Response(status=204, headers={"HX-Redirect": target})
        return redirect(target, 303)

    return app
