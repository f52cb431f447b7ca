"""`flask send-mail` on a backlog of booking confirmations: messages per second over SMTP.

    .venv/bin/python bench/mail_throughput.py                    # 10,000 messages
    .venv/bin/python bench/mail_throughput.py --messages 2000    # quicker
    .venv/bin/python bench/mail_throughput.py --processes 2      # two senders side by side

1. Starts a throwaway PostgreSQL (fsync on) and applies the migrations (flask db upgrade).
2. Seeds, in a few set-based statements, one 200-seat screen, enough shows three hours
   apart (about one per 70 messages), 2,000 customers and one paid booking per message
   wanted, of 1-4 tickets (2.5 on average, so about 25,000 tickets for 10,000 bookings).
3. Queues each booking's confirmation with the app's own code, as checkout does
   (notifications.queue_booking_confirmation, 500 per transaction): real messages with a
   QR code per ticket and the .ics.
4. Starts tests/support/smtp.py's SMTP server (aiosmtpd) in a process of its own with an
   inbox that only counts (parsing 10,000 messages would make the server the thing
   measured), then runs `flask send-mail` once, as cron does, as a subprocess, and
   times it from start to exit (the interpreter's start-up included).
5. Checks the outcome: every row sent, as many messages received, and a sample of the
   received messages parsed: their QR images decode to the tickets' codes and the
   calendar file is there.

Prints messages per second and the sender's CPU time per message. The machine may be
shared: the header prints the load average and the CPU count.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import io
import multiprocessing
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.booking_rush import LAYOUT, migrate  # noqa: E402
from tests.support.postgres import free_port, start_cluster  # noqa: E402

CUSTOMERS = 2_000
SAMPLE_EVERY = 500  # received messages parsed and checked


def seed(messages: int, rng: random.Random) -> list[int]:
    """One screen, its shows, CUSTOMERS customers, `messages` paid bookings of 1-4
    tickets each; returns the booking ids."""
    from sqlalchemy import insert, select

    from filmsphere import create_app
    from filmsphere.extensions import db
    from filmsphere.models import Booking, Movie, Seat, Show, Ticket, User
    from filmsphere.services.catalogue.screens import create_screen

    app = create_app()
    now = datetime.now(UTC).replace(microsecond=0)
    with app.app_context():
        screen = create_screen("Screen 1", LAYOUT, now)
        movie = Movie(
            title="The Long Queue",
            description="Everybody gets their tickets.",
            duration_minutes=110,
            age_rating="12A",
            language="English",
            release_date=date(2026, 1, 1),
        )
        db.session.add(movie)
        db.session.flush()
        first = (now + timedelta(days=1)).replace(minute=0, second=0)
        show_ids = []
        for n in range(messages * 3 // 200 + 2):  # 2.5 tickets a booking on 200 seats
            starts = first + timedelta(hours=3 * n)
            show = Show(
                movie_id=movie.id,
                screen_id=screen.id,
                starts_at=starts,
                ends_at=starts + timedelta(minutes=125),
                base_price_coins=12,
            )
            db.session.add(show)
            db.session.flush()
            show_ids.append(show.id)
        seats = list(
            db.session.execute(
                select(Seat.id, Seat.category)
                .where(Seat.screen_id == screen.id, Seat.is_active.is_(True))
                .order_by(Seat.grid_row, Seat.grid_col)
            )
        )
        db.session.execute(
            insert(User),
            [
                {
                    "email": f"customer{n}@example.com",
                    "username": f"customer{n}",
                    "full_name": f"Customer {n}",
                    "password_hash": "x",
                    "email_verified_at": now,
                    "created_at": now,
                }
                for n in range(CUSTOMERS)
            ],
        )
        user_ids = list(db.session.scalars(select(User.id).order_by(User.id)))
        # Fill the shows seat by seat, one booking after the other.
        bookings, tickets = [], []
        show_n = seat_n = 0
        for n in range(messages):
            count = rng.choice((1, 2, 2, 3, 3, 4))
            if seat_n + count > len(seats):
                show_n, seat_n = show_n + 1, 0
            mine = seats[seat_n : seat_n + count]
            seat_n += count
            bookings.append(
                {
                    "reference": f"B{n:07d}",
                    "user_id": user_ids[n % len(user_ids)],
                    "show_id": show_ids[show_n],
                    "status": "paid",
                    "total_coins": 12 * count,
                    "created_at": now,
                }
            )
            tickets.append([(show_ids[show_n], s.id, s.category) for s in mine])
        db.session.execute(insert(Booking), bookings)
        booking_ids = list(db.session.scalars(select(Booking.id).order_by(Booking.id)))
        db.session.execute(
            insert(Ticket),
            [
                {
                    "booking_id": booking_id,
                    "show_id": show_id,
                    "seat_id": seat_id,
                    "category": category,
                    "price_coins": 12,
                    "status": "active",
                    "created_at": now,
                }
                for booking_id, mine in zip(booking_ids, tickets, strict=True)
                for show_id, seat_id, category in mine
            ],
        )
        db.session.commit()
        db.engine.dispose()
    return booking_ids


def queue_backlog(booking_ids: list[int]) -> None:
    """Each booking's confirmation, queued by the app's code in chunks of 500."""
    from filmsphere import create_app
    from filmsphere.extensions import db
    from filmsphere.models.types import utcnow
    from filmsphere.services.mail.notifications import queue_booking_confirmation
    from filmsphere.services.transaction import write_transaction

    app = create_app()
    with app.app_context():
        for start in range(0, len(booking_ids), 500):
            with write_transaction():
                for booking_id in booking_ids[start : start + 500]:
                    queue_booking_confirmation(booking_id, utcnow())
            db.session.expunge_all()
        db.engine.dispose()


def serve(port: int, ready: Any, stop: Any, results: Any) -> None:
    """tests/support/smtp.py's server with a counting inbox, until `stop` is set; sends
    back the number of messages and a sample of them (raw bytes)."""
    from tests.support.smtp import CountingInbox, running

    inbox = CountingInbox(keep_every=SAMPLE_EVERY)
    with running(inbox, port):
        ready.set()
        stop.wait()
    cpu = os.times()
    results.send((inbox.count, inbox.bytes, inbox.kept, cpu.user + cpu.system))


def check_sample(raw: list[bytes], codes: set[str]) -> int:
    """Parse the kept messages: every QR image decodes to a ticket code of the backlog and
    each confirmation has its calendar file. Returns the QR images checked."""
    import PIL.Image
    import zxingcpp

    checked = 0
    for data in raw:
        message = email.message_from_bytes(data, policy=email.policy.default)
        parts = [p for p in message.walk() if not p.is_multipart()]
        images = [p for p in parts if p.get_content_type() == "image/png"]
        calendars = [p for p in parts if p.get_content_type() == "text/calendar"]
        assert images and len(calendars) == 1, message["Subject"]
        for image in images:
            data = image.get_payload(decode=True)
            [decoded] = zxingcpp.read_barcodes(PIL.Image.open(io.BytesIO(data)))
            assert decoded.text in codes, decoded.text
            checked += 1
    return checked


def time_sender() -> subprocess.CompletedProcess[str]:
    """send_pending in this process with a wall-clock timer around each of its parts
    (they nest: sending includes building the bytes; rendering includes QR and .ics)."""
    import functools
    from collections import Counter

    from filmsphere import create_app
    from filmsphere.models.types import utcnow
    from filmsphere.services.mail import emails, mailer

    spent: Counter[str] = Counter()

    def timed(owner: Any, name: str) -> None:
        original = getattr(owner, name)

        @functools.wraps(original)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent[f"{getattr(owner, '__name__', owner)}.{name}"] += (
                    time.perf_counter() - started
                )

        setattr(owner, name, wrapper)

    for owner, name in (
        (mailer, "_claim"),
        (mailer, "render_batch"),
        (emails.Batch, "load"),
        (emails.Batch, "qr_png"),
        (emails.Batch, "calendar"),
        (emails, "_render"),
        (mailer, "build_message"),
        (mailer.SmtpTransport, "send"),
        (mailer.OutboxMail, "as_bytes"),
        (mailer.SentMarks, "mark"),
    ):
        timed(owner, name)
    with create_app().app_context():
        started = time.perf_counter()
        result = mailer.send_pending(utcnow())
        total = time.perf_counter() - started
    count = max(result.sent, 1)
    print(f"in-process send_pending: {total / count * 1000:.2f} ms per message, of which:")
    for name, seconds in spent.most_common():
        print(f"  {name:28s} {seconds / count * 1000:.3f} ms")
    return subprocess.CompletedProcess([], 0, str(result), "")


def profile_sender(top: int) -> subprocess.CompletedProcess[str]:
    """send_pending in this process under cProfile; prints its top functions."""
    import cProfile
    import pstats

    from filmsphere import create_app
    from filmsphere.models.types import utcnow
    from filmsphere.services.mail.mailer import send_pending

    with create_app().app_context():
        profiler = cProfile.Profile()
        result = profiler.runcall(send_pending, utcnow())
    stats = pstats.Stats(profiler).sort_stats("tottime")
    stats.print_stats(top)
    stats.sort_stats("cumulative").print_stats(
        r"mailer.py.*\((send_pending|build_message|as_bytes|_claim|mark|send|_renew)\)"
        r"|emails.py.*\((render_batch|load|_render|qr_png|calendar)\)"
    )
    if os.environ.get("PROFILE_CALLERS"):
        stats.print_callers(os.environ["PROFILE_CALLERS"])
    return subprocess.CompletedProcess([], 0, str(result), "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="run `flask send-mail --processes N` (senders side by side)",
    )
    parser.add_argument(
        "--profile",
        type=int,
        metavar="N",
        default=0,
        help="send in this process under cProfile instead, and print its top N functions",
    )
    parser.add_argument(
        "--timings",
        action="store_true",
        help="send in this process and print the wall time each part of sending takes",
    )
    args = parser.parse_args()
    load = os.getloadavg()
    print(
        f"mail throughput: {args.messages:,} confirmations, {args.processes} sender(s), "
        f"{os.cpu_count()} CPUs, "
        f"load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    cluster = start_cluster(max_connections=50, durable=True)
    try:
        url = cluster.createdb("filmsphere_mail_bench")
        smtp_port = free_port()
        env = {
            "FILMSPHERE_ENV": "production",
            "FILMSPHERE_SECRET_KEY": secrets.token_hex(32),
            "FILMSPHERE_DATABASE_URL": url,
            "FILMSPHERE_INSTANCE_PATH": tempfile.mkdtemp(prefix="filmsphere-bench-"),
            "FILMSPHERE_MAIL_SEND_AFTER_COMMIT": "false",
            "FILMSPHERE_MAIL_BACKEND": "smtp",
            "FILMSPHERE_MAIL_SERVER": "127.0.0.1",
            "FILMSPHERE_MAIL_PORT": str(smtp_port),
        }
        os.environ.update(env)
        migrate()
        started = time.monotonic()
        booking_ids = seed(args.messages, random.Random(args.seed))
        seeded = time.monotonic()
        queue_backlog(booking_ids)
        queued = time.monotonic()
        print(
            f"seeded {len(booking_ids):,} bookings in {seeded - started:.1f} s, "
            f"queued their confirmations in {queued - seeded:.1f} s"
        )

        from sqlalchemy import create_engine, text

        engine = create_engine(url)
        with engine.connect() as conn:
            pending = conn.scalar(
                text("SELECT count(*) FROM outbox_messages WHERE status = 'pending'")
            )
            tickets = conn.scalar(text("SELECT count(*) FROM tickets"))
        print(f"backlog: {pending:,} pending messages, {tickets:,} tickets (QR codes)")

        context = multiprocessing.get_context("spawn")
        ready, stop = context.Event(), context.Event()
        receive, send = context.Pipe(duplex=False)
        server = context.Process(target=serve, args=(smtp_port, ready, stop, send))
        server.start()
        assert ready.wait(30), "the SMTP server did not start"
        try:
            before = os.times()
            started = time.monotonic()
            if args.profile:
                result = profile_sender(args.profile)
            elif args.timings:
                result = time_sender()
            else:
                result = subprocess.run(
                    [
                        *(sys.executable, "-m", "flask", "--app", "wsgi:app", "send-mail"),
                        *(("--processes", str(args.processes)) if args.processes > 1 else ()),
                    ],
                    cwd=ROOT,
                    env={**os.environ, **env},
                    capture_output=True,
                    text=True,
                )
            elapsed = time.monotonic() - started
            after = os.times()
        finally:
            stop.set()
            count, size, kept, server_cpu = receive.recv()
            server.join(30)
        print(result.stdout.strip())
        if result.returncode != 0:
            print(result.stderr, file=sys.stderr)
            return 1
        with engine.connect() as conn:
            sent = conn.scalar(text("SELECT count(*) FROM outbox_messages WHERE status='sent'"))
        engine.dispose()
        cpu = (after.children_user - before.children_user) + (
            after.children_system - before.children_system
        )
        if args.profile or args.timings:
            cpu = (after.user - before.user) + (after.system - before.system)

        from filmsphere import create_app
        from filmsphere.extensions import db
        from filmsphere.models import Ticket
        from filmsphere.services.door.ticket_codes import ticket_code

        with create_app().app_context():
            codes = {ticket_code(t) for t in db.session.scalars(db.select(Ticket))}
            db.engine.dispose()
        checked = check_sample(kept, codes)
        assert sent == pending == count, (sent, pending, count)
        print(
            f"send-mail: {count:,} messages ({size / count / 1024:.1f} KB each) in "
            f"{elapsed:.1f} s = {count / elapsed:.0f} messages/s; sender CPU "
            f"{cpu / count * 1000:.2f} ms per message (the SMTP server's: "
            f"{server_cpu / count * 1000:.2f} ms)"
        )
        print(f"checked {len(kept)} received messages: {checked} QR codes decode, .ics present")
        return 0
    finally:
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
