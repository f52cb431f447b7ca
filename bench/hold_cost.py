"""CPU cost of one seat click, in-process, split by where it goes.

    .venv/bin/python bench/hold_cost.py [--clicks 400]

Starts a throwaway PostgreSQL (fsync on), seeds the ticket-rush show, logs one customer in
through Flask's test client and clicks four seats on and off (hold, release, …) with htmx
requests, CSRF on, production config. It prints the process CPU time per click and how
much of it the main parts took (each part's own timer; they nest: the rate limiter's share
includes loading the user, which its key needs). One thread, no HTTP server: this is the
app's own cost per click, the number that bounds how many clicks two cores can serve.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import os
import pstats
import re
import secrets
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.booking_rush import PASSWORD, migrate, seed  # noqa: E402
from tests.support.postgres import start_cluster  # noqa: E402

CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')


def timed(owner: Any, name: str, spent: Counter[str]) -> None:
    """Replace owner.name with a wrapper that adds its CPU time to spent[name]."""
    original = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            spent[name] += time.process_time() - started

    setattr(owner, name, wrapper)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clicks", type=int, default=400)
    parser.add_argument(
        "--profile", type=int, metavar="N", default=0, help="also print cProfile's top N functions"
    )
    args = parser.parse_args()
    cluster = start_cluster(max_connections=50, durable=True)
    try:
        os.environ.update(
            {
                "FILMSPHERE_ENV": "production",
                "FILMSPHERE_SECRET_KEY": secrets.token_hex(32),
                "FILMSPHERE_DATABASE_URL": cluster.createdb("filmsphere_hold_cost"),
                "FILMSPHERE_INSTANCE_PATH": tempfile.mkdtemp(prefix="filmsphere-bench-"),
                "FILMSPHERE_SESSION_COOKIE_SECURE": "false",
                "FILMSPHERE_RATELIMIT_HOLD": "1000000 per minute",
                "FILMSPHERE_MAIL_SEND_AFTER_COMMIT": "false",
            }
        )
        migrate()
        show_id, logins = seed(1)

        import flask_limiter
        import flask_login.login_manager
        import flask_wtf.csrf

        from filmsphere import create_app
        from filmsphere.blueprints.booking import routes

        spent: Counter[str] = Counter()
        for owner, name in (
            (routes, "toggle_hold"),
            (routes, "build_seat_map"),
            (routes, "render_template"),
            (flask_login.login_manager.LoginManager, "_load_user"),
            (flask_wtf.csrf.CSRFProtect, "protect"),
            (flask_limiter.Limiter, "_check_request_limit"),
        ):
            timed(owner, name, spent)

        client = create_app().test_client()
        token = CSRF_RE.search(client.get("/auth/login").text)
        assert token
        client.post(
            "/auth/login",
            data={"csrf_token": token.group(1), "login": logins[0], "password": PASSWORD},
        )
        page = client.get(f"/shows/{show_id}").text
        token = CSRF_RE.search(page)
        assert token
        seats = [int(s) for s in re.findall(r'id="seat-(\d+)"', page)][:4]
        headers = {"HX-Request": "true"}

        def click(n: int) -> None:
            url = f"/shows/{show_id}/seats/{seats[n % len(seats)]}"
            response = client.post(url, data={"csrf_token": token.group(1)}, headers=headers)
            assert response.status_code == 200, response.status_code

        for n in range(50):  # warm caches and prepared statements
            click(n)
        spent.clear()
        started = time.process_time()
        for n in range(args.clicks):
            click(n)
        per_click = (time.process_time() - started) / args.clicks
        print(f"CPU per seat click: {per_click * 1000:.2f} ms ({args.clicks} clicks, one thread)")
        for name, seconds in spent.most_common():
            print(f"  {name:24s} {seconds / args.clicks * 1000:.3f} ms")
        if args.profile:
            profiler = cProfile.Profile()
            profiler.runcall(lambda: [click(n) for n in range(args.clicks)])
            pstats.Stats(profiler).sort_stats("tottime").print_stats(args.profile)
        return 0
    finally:
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
