"""Does an account form answer faster for a known address than for an unknown one?

    .venv/bin/python bench/account_timing.py [--pairs 200] [--register-pairs 40]

Starts a throwaway PostgreSQL (fsync on), runs the app in its production config (scrypt
password hashing, rate limits off) through Flask's test client, and sends each
anonymous form that names an account — password reset, new verification code, sign-up,
verification code by email — once for an address that has an account and once for one
that hasn't, in random order within each pair. It prints the median time of each side,
the share of pairs where the known address was slower (50 % = no signal), and how often
one request alone tells known from unknown with the best threshold between the two
medians (50 % = a coin toss). One thread, no HTTP server: the app's own time.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import re
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.booking_rush import migrate  # noqa: E402
from tests.support.postgres import start_cluster  # noqa: E402

CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')
STRONG = "Tangerine-Lamp-42"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--register-pairs", type=int, default=40, help="sign-ups hash (slow)")
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args()
    random.seed(args.seed)
    cluster = start_cluster(max_connections=20, durable=True)
    try:
        os.environ.update(
            {
                "FILMSPHERE_ENV": "production",
                "FILMSPHERE_SECRET_KEY": secrets.token_hex(32),
                "FILMSPHERE_DATABASE_URL": cluster.createdb("filmsphere_account_timing"),
                "FILMSPHERE_INSTANCE_PATH": tempfile.mkdtemp(prefix="filmsphere-bench-"),
                "FILMSPHERE_SESSION_COOKIE_SECURE": "false",
                "FILMSPHERE_RATELIMIT_ENABLED": "false",
                "FILMSPHERE_MAIL_SEND_AFTER_COMMIT": "false",
            }
        )
        migrate()
        from filmsphere import create_app
        from filmsphere.models import utcnow
        from filmsphere.services.accounts import accounts

        app = create_app()
        with app.app_context():
            accounts.register_user("waiting@example.com", "waiting", "W", STRONG, utcnow())
            accounts.create_admin("known@example.com", "known", "K", STRONG, utcnow())
        client = app.test_client()
        token = CSRF_RE.search(client.get("/auth/login").text)
        assert token
        csrf = token.group(1)
        names = itertools.count(1)

        def post(path: str, data: Callable[[], dict[str, str]]) -> Callable[[], float]:
            def send() -> float:
                started = time.perf_counter()
                response = client.post(path, data={**data(), "csrf_token": csrf})
                elapsed = time.perf_counter() - started
                assert response.status_code in (303, 422), (path, response.status_code)
                return elapsed

            return send

        def sign_up(email: str) -> Callable[[], dict[str, str]]:
            return lambda: {
                "email": email,
                "username": f"new{next(names)}",
                "full_name": "New Person",
                "password": STRONG,
            }

        cases = [
            (
                "POST /auth/reset",
                args.pairs,
                post("/auth/reset", lambda: {"email": "known@example.com"}),
                post("/auth/reset", lambda: {"email": "nobody@example.com"}),
            ),
            (
                "POST /auth/verify/resend",
                args.pairs,
                post("/auth/verify/resend", lambda: {"email": "waiting@example.com"}),
                post("/auth/verify/resend", lambda: {"email": "nobody@example.com"}),
            ),
            (
                "POST /auth/verify (code)",
                args.pairs,
                post("/auth/verify", lambda: {"email": "waiting@example.com", "code": "000000"}),
                post("/auth/verify", lambda: {"email": "nobody@example.com", "code": "000000"}),
            ),
            (
                "POST /auth/register",
                args.register_pairs,
                post("/auth/register", sign_up("known@example.com")),
                post("/auth/register", lambda: sign_up(f"new{next(names)}@example.com")()),
            ),
        ]
        print(f"production config, PostgreSQL fsync on, test client, one thread ({args.seed=})")
        for label, pairs, known, unknown in cases:
            known()  # warm up both paths
            unknown()
            known_times, unknown_times = [], []
            for _ in range(pairs):
                order = [(known, known_times), (unknown, unknown_times)]
                random.shuffle(order)
                for send, times in order:
                    times.append(send())
            report(label, known_times, unknown_times)
    finally:
        cluster.stop()
    return 0


def report(label: str, known: list[float], unknown: list[float]) -> None:
    k, u = statistics.median(known), statistics.median(unknown)
    slower = sum(a > b for a, b in zip(known, unknown, strict=True)) / len(known)
    threshold = (k + u) / 2
    above_is_known = k > u
    right = sum((t > threshold) == above_is_known for t in known) + sum(
        (t > threshold) != above_is_known for t in unknown
    )
    print(
        f"{label:26} known {k * 1000:7.2f} ms  unknown {u * 1000:7.2f} ms  "
        f"(n={len(known)} pairs)  known slower in {slower:5.1%} of pairs  "
        f"one request guesses right {right / (2 * len(known)):5.1%}"
    )


if __name__ == "__main__":
    sys.exit(main())
