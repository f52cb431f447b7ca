"""Rate-limit keys (who a request counts against) and the start-up check of the shared store."""

from __future__ import annotations

import logging
import sys

import click
from flask import Flask, request, session

log = logging.getLogger(__name__)

PER_PROCESS_WARNING = (
    "WARNING: FilmSphere runs in production with rate limits counted per process "
    "(FILMSPHERE_RATELIMIT_STORAGE_URI={uri}). With several workers or machines each one "
    "counts alone, so every limit lets through workers x the configured number. Point "
    "FILMSPHERE_RATELIMIT_STORAGE_URI at Redis (redis://127.0.0.1:6379/0, the default)."
)
UNREACHABLE_WARNING = (
    "WARNING: the rate-limit store {uri} does not answer. Until it does, each worker counts "
    "on its own (workers x the configured limits). Start Redis (see README, Production)."
)


def client_address() -> str:
    """The client's address: the peer, or with FILMSPHERE_PROXY_COUNT the address the
    trusted proxies forwarded (ProxyFix rewrites remote_addr before any view runs)."""
    return request.remote_addr or "unknown"


def session_user_id() -> int | None:
    """The signed-in user's id as the signed session cookie states it, without loading
    the user: flask-login keeps the id the user logged in with in `_user_id`
    ("<user id>:..."). A revoked session's cookie still names its user here; views refuse
    it when they load the user, so at worst it spends that user's own allowance."""
    raw = session.get("_user_id")
    if not isinstance(raw, str):
        return None
    head = raw.split(":", 1)[0]
    return int(head) if head.isdigit() else None


# Every limit of the browser site is on a POST (log-in, codes, holds, top-ups, transfers,
# the waitlist); the API's limit covers all its methods. A browser page or poll is then
# never limited, and skipping the limiter for it saves its per-request lookups (a seat-map
# poll's largest cost after the database). test_rate_limits_scope.py keeps this true.
LIMITED_BLUEPRINTS_FOR_READS = frozenset({"api"})


def unlimited_read() -> bool:
    """Whether the limiter can skip this request: a GET or HEAD of the browser site."""
    return (
        request.method in ("GET", "HEAD") and request.blueprint not in LIMITED_BLUEPRINTS_FOR_READS
    )


def user_or_address() -> str:
    """Per signed-in user, else per client address; costs no query."""
    user_id = session_user_id()
    if user_id is not None:
        return f"user:{user_id}"
    return f"ip:{client_address()}"


def warn_if_limits_are_per_process(app: Flask) -> None:
    """In a production process that serves requests, say loudly (log and stderr) when rate
    limits are not counted in one shared store: memory:// storage, or a store that doesn't
    answer. CLI commands (cron, migrations) serve nothing and stay quiet."""
    if app.config["ENV_NAME"] != "production" or not app.config.get("RATELIMIT_ENABLED", True):
        return
    if click.get_current_context(silent=True) is not None:
        return
    uri = str(app.config["RATELIMIT_STORAGE_URI"])
    if uri.startswith("memory://"):
        message = PER_PROCESS_WARNING.format(uri=uri)
    else:
        from .extensions import limiter

        try:
            healthy = bool(limiter.storage.check())
        except Exception:  # noqa: BLE001 - any failure means the same: not reachable
            healthy = False
        if healthy:
            return
        message = UNREACHABLE_WARNING.format(uri=uri)
    log.warning(message)
    print(message, file=sys.stderr, flush=True)
