"""CPU and SQL statements of one checkout, in-process, and the share that queues its email.

    .venv/bin/python bench/checkout_cost.py [--checkouts 200]

Starts a throwaway PostgreSQL (fsync on), seeds the ticket-rush show (bench/booking_rush.py)
on as many shows as the checkouts need, logs customers in through Flask's test client
(production config, CSRF on) and, for each checkout, holds two adjacent seats with htmx
clicks and pays them with the plain checkout form (303 to the booking). Only the
checkout request is measured: the process CPU time it takes, the SQL statements it sends
(counted on the engine), and how much of its CPU the confirmation email's queueing takes
(notifications.queue_booking_confirmation, timed on its own). One thread, no HTTP server.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.booking_rush import PASSWORD, migrate, seed  # noqa: E402
from tests.support.postgres import start_cluster  # noqa: E402

CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')
TOKEN_RE = re.compile(r'name="checkout_token" value="([^"]+)"')
PAIRS_PER_SHOW = 100  # 200 seats in blocks of 4 and 12: pairs never strand a seat


def more_shows(show_id: int, count: int) -> list[int]:
    """`count` more shows like `show_id` on its screen, a day apart."""
    from datetime import timedelta

    from filmsphere import create_app
    from filmsphere.extensions import db
    from filmsphere.models import Show

    with create_app().app_context():
        first = db.session.get(Show, show_id)
        assert first is not None
        shows = [
            Show(
                movie_id=first.movie_id,
                screen_id=first.screen_id,
                starts_at=first.starts_at + timedelta(days=n + 1),
                ends_at=first.ends_at + timedelta(days=n + 1),
                base_price_coins=first.base_price_coins,
            )
            for n in range(count)
        ]
        db.session.add_all(shows)
        db.session.commit()
        ids = [s.id for s in shows]
        db.engine.dispose()
    return ids


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkouts", type=int, default=200)
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"checkout cost: {os.cpu_count()} CPUs, load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    cluster = start_cluster(max_connections=50, durable=True)
    try:
        os.environ.update(
            {
                "FILMSPHERE_ENV": "production",
                "FILMSPHERE_SECRET_KEY": secrets.token_hex(32),
                "FILMSPHERE_DATABASE_URL": cluster.createdb("filmsphere_checkout_cost"),
                "FILMSPHERE_INSTANCE_PATH": tempfile.mkdtemp(prefix="filmsphere-bench-"),
                "FILMSPHERE_SESSION_COOKIE_SECURE": "false",
                "FILMSPHERE_RATELIMIT_HOLD": "1000000 per minute",
                "FILMSPHERE_RATELIMIT_LOGIN": "1000000 per minute",
                "FILMSPHERE_MAIL_SEND_AFTER_COMMIT": "false",
            }
        )
        migrate()
        show_id, logins = seed(50)  # a customer may hold only so many seats a show
        shows = [(show_id, logins)] + [
            (extra, logins)
            for extra in more_shows(show_id, -(-(args.checkouts + 20) // PAIRS_PER_SHOW) - 1)
        ]

        from sqlalchemy import event

        from filmsphere import create_app
        from filmsphere.extensions import db
        from filmsphere.services.mail import notifications

        app = create_app()
        statements = [0]
        with app.app_context():
            event.listen(
                db.engine,
                "before_cursor_execute",
                lambda *_a, **_k: statements.__setitem__(0, statements[0] + 1),
            )
        queue_cpu = [0.0]
        original = notifications.queue_booking_confirmation

        @functools.wraps(original)
        def timed_queue(*a: Any, **k: Any) -> Any:
            started = time.process_time()
            try:
                return original(*a, **k)
            finally:
                queue_cpu[0] += time.process_time() - started

        notifications.queue_booking_confirmation = timed_queue  # type: ignore[assignment]

        cpu: list[float] = []
        sql: list[int] = []
        queue: list[float] = []
        done = 0
        for show_id, logins in shows:
            clients = []
            for login in logins:
                client = app.test_client()
                token = CSRF_RE.search(client.get("/auth/login").text)
                assert token
                response = client.post(
                    "/auth/login",
                    data={"csrf_token": token.group(1), "login": login, "password": PASSWORD},
                )
                assert response.status_code == 303, response.status_code
                clients.append(client)
            page = clients[0].get(f"/shows/{show_id}").text
            seats = [int(s) for s in re.findall(r'id="seat-(\d+)"', page)]
            for pair in range(PAIRS_PER_SHOW):
                if done == args.checkouts + 20:
                    break
                client = clients[pair % len(clients)]
                page = client.get(f"/shows/{show_id}").text
                csrf = CSRF_RE.search(page)
                assert csrf
                for seat in seats[2 * pair : 2 * pair + 2]:
                    response = client.post(
                        f"/shows/{show_id}/seats/{seat}",
                        data={"csrf_token": csrf.group(1)},
                        headers={"HX-Request": "true"},
                    )
                    assert response.status_code == 200, response.status_code
                page = client.get(f"/shows/{show_id}").text
                token = TOKEN_RE.search(page)
                checkout_token = token.group(1) if token else secrets.token_urlsafe(24)
                statements[0] = 0
                queue_cpu[0] = 0.0
                started = time.process_time()
                response = client.post(
                    f"/shows/{show_id}/checkout",
                    data={"csrf_token": csrf.group(1), "checkout_token": checkout_token},
                )
                spent = time.process_time() - started
                assert response.status_code == 303, response.status_code
                assert "/bookings/" in response.headers["Location"], "the checkout was refused"
                done += 1
                if done > 20:  # the first ones warm caches and prepared statements
                    cpu.append(spent)
                    sql.append(statements[0])
                    queue.append(queue_cpu[0])
        print(
            f"checkout (2 seats), {len(cpu)} measured: CPU median "
            f"{statistics.median(cpu) * 1000:.2f} ms, mean {statistics.mean(cpu) * 1000:.2f} ms; "
            f"SQL statements median {statistics.median(sql):.0f} "
            f"(min {min(sql)}, max {max(sql)}); queueing the email: median "
            f"{statistics.median(queue) * 1000:.2f} ms CPU"
        )
        return 0
    finally:
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
