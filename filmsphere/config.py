"""Configuration: safe defaults, secrets only from FILMSPHERE_* environment variables."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE = PROJECT_ROOT / "instance"


class ConfigError(RuntimeError):
    """Raised at start-up when a required setting is missing or inconsistent."""


def env(name: str, default: str | None = None) -> str | None:
    return os.environ.get(f"FILMSPHERE_{name}", default)


def env_int(name: str, default: int) -> int:
    raw = env(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"FILMSPHERE_{name} must be a whole number, got {raw!r}") from exc


def env_bool(name: str, default: bool) -> bool:
    raw = env(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def parse_coin_packs(raw: str) -> list[dict[str, Any]]:
    """Parse "500:500,1200:1000" (coins:price in minor units) into pack dicts."""
    packs = []
    for index, item in enumerate(filter(None, (p.strip() for p in raw.split(",")))):
        try:
            coins, price = (int(x) for x in item.split(":"))
        except ValueError as exc:
            raise ConfigError(f"FILMSPHERE_COIN_PACKS: bad pack {item!r}") from exc
        packs.append({"id": f"pack{index + 1}", "coins": coins, "price_minor": price})
    return packs


class Config:
    """Production defaults. Secrets and the database URL must come from the environment."""

    ENV_NAME = "production"
    TESTING = False
    DEBUG = False
    DEFAULT_RATELIMIT_STORAGE = "redis://127.0.0.1:6379/0"

    def __init__(self) -> None:
        instance = Path(env("INSTANCE_PATH") or DEFAULT_INSTANCE)
        self.INSTANCE_PATH = str(instance)
        self.SECRET_KEY = env("SECRET_KEY")
        self.SQLALCHEMY_DATABASE_URI = env("DATABASE_URL")
        self.SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {}
        # A pooled connection idle longer than this is pinged before use (pool.py).
        self.DB_PING_AFTER_IDLE_SECONDS = env_int("DB_PING_AFTER_IDLE_SECONDS", 2)
        self.SQLALCHEMY_TRACK_MODIFICATIONS = False

        self.TIMEZONE = env("TIMEZONE", "Europe/London")
        self.BASE_URL = (env("BASE_URL", "http://127.0.0.1:5000") or "").rstrip("/")
        self.UPLOAD_DIR = env("UPLOAD_DIR") or str(instance / "uploads")
        self.MAX_CONTENT_LENGTH = env_int("MAX_UPLOAD_BYTES", 5 * 1024 * 1024)

        # Domain numbers (PRODUCT.md "Domain rules").
        self.SIGNUP_GRANT_COINS = env_int("SIGNUP_GRANT_COINS", 1500)
        self.REFILL_ENABLED = env_bool("REFILL_ENABLED", False)
        self.REFILL_TARGET_COINS = env_int("REFILL_TARGET_COINS", 1500)
        self.REFILL_INTERVAL_MINUTES = env_int("REFILL_INTERVAL_MINUTES", 10)
        self.HOLD_MINUTES = env_int("HOLD_MINUTES", 10)
        self.MAX_SEATS_PER_SHOW = env_int("MAX_SEATS_PER_SHOW", 10)
        self.CLEANING_MINUTES = env_int("CLEANING_MINUTES", 15)
        self.REFUND_FULL_BEFORE_MINUTES = env_int("REFUND_FULL_BEFORE_MINUTES", 120)
        self.REFUND_PARTIAL_BEFORE_MINUTES = env_int("REFUND_PARTIAL_BEFORE_MINUTES", 20)
        self.REFUND_PARTIAL_PERCENT = env_int("REFUND_PARTIAL_PERCENT", 80)
        self.SEAT_POLL_SECONDS = env_int("SEAT_POLL_SECONDS", 4)
        # Exchange to another show of any film, not only of the same film.
        self.EXCHANGE_ANY_FILM = env_bool("EXCHANGE_ANY_FILM", False)
        # How long a waitlist offer holds its seats for the customer.
        self.WAITLIST_OFFER_MINUTES = env_int("WAITLIST_OFFER_MINUTES", 15)
        # Check-in without a chosen show accepts a ticket from this long before its show
        # starts until the show ends.
        self.CHECKIN_OPENS_MINUTES = env_int("CHECKIN_OPENS_MINUTES", 120)
        # The screen's doors open this long before the show starts (printed on the ticket
        # view); it can't be earlier than check-in opens, or a ticket would be refused.
        self.DOORS_OPEN_MINUTES = env_int("DOORS_OPEN_MINUTES", 20)
        # Show reminders (`flask send-reminders`): at the show's local time this many
        # calendar days before, and this many minutes before the start; 0 turns one off.
        self.REMINDER_DAYS_BEFORE = env_int("REMINDER_DAYS_BEFORE", 1)
        self.REMINDER_MINUTES_BEFORE = env_int("REMINDER_MINUTES_BEFORE", 120)
        # A ticket sent to a friend: the link works this long (never past the show's start).
        self.TRANSFER_LINK_HOURS = env_int("TRANSFER_LINK_HOURS", 72)

        # Accounts.
        self.VERIFY_CODE_MINUTES = env_int("VERIFY_CODE_MINUTES", 30)
        self.RESET_TOKEN_MINUTES = env_int("RESET_TOKEN_MINUTES", 30)
        self.SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        # Log-ins are server-side sessions (services.sessions): "keep me logged in" lasts
        # REMEMBER_DAYS, any other log-in SESSION_HOURS at most; logout ends either at once.
        self.REMEMBER_DAYS = env_int("REMEMBER_DAYS", 30)
        self.SESSION_HOURS = env_int("SESSION_HOURS", 24)
        self.REMEMBER_COOKIE_SECURE = self.SESSION_COOKIE_SECURE
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.REMEMBER_COOKIE_SAMESITE = "Lax"
        self.WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
        # None = werkzeug's default (scrypt). Only TestConfig picks a faster method.
        self.PASSWORD_HASH_METHOD: str | None = None

        # Rate limits (flask-limiter). Production counts in Redis, shared by every worker
        # and machine; memory:// counts per process (the demo's one process). While the
        # store can't be reached, each process counts on its own instead of answering 500.
        self.RATELIMIT_STORAGE_URI = (
            env("RATELIMIT_STORAGE_URI", self.DEFAULT_RATELIMIT_STORAGE) or "memory://"
        )
        self.RATELIMIT_ENABLED = env_bool("RATELIMIT_ENABLED", True)
        self.RATELIMIT_HEADERS_ENABLED = False
        self.RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
        # A Redis that stops answering must not hold requests: fail fast, then fall back.
        self.RATELIMIT_STORAGE_OPTIONS: dict[str, Any] = (
            {"socket_connect_timeout": 1, "socket_timeout": 1}
            if self.RATELIMIT_STORAGE_URI.startswith(("redis", "rediss"))
            else {}
        )
        # Behind a reverse proxy (nginx) every request comes from the proxy's address: trust
        # X-Forwarded-For / -Proto from this many proxies in front of the app (0 = none; a
        # client could then set the headers itself).
        self.PROXY_COUNT = env_int("PROXY_COUNT", 0)
        self.RATELIMIT_LOGIN = env("RATELIMIT_LOGIN", "10 per minute;50 per hour")
        self.RATELIMIT_REGISTER = env("RATELIMIT_REGISTER", "5 per minute;30 per hour")
        self.RATELIMIT_VERIFY = env("RATELIMIT_VERIFY", "10 per minute;40 per hour")
        self.RATELIMIT_RESET = env("RATELIMIT_RESET", "5 per minute;20 per hour")
        self.RATELIMIT_HOLD = env("RATELIMIT_HOLD", "60 per minute")
        self.RATELIMIT_WAITLIST = env("RATELIMIT_WAITLIST", "10 per minute")
        self.RATELIMIT_TOPUP = env("RATELIMIT_TOPUP", "10 per minute")  # Stripe sessions
        # Every /api/v1 call, per token (holds also count against RATELIMIT_HOLD per token).
        self.RATELIMIT_API = env("RATELIMIT_API", "300 per minute")
        self.RATELIMIT_TRANSFER = env("RATELIMIT_TRANSFER", "5 per minute;20 per day")

        # Email: "console" prints messages (demo), "smtp" sends them through MAIL_SERVER.
        self.MAIL_BACKEND = env("MAIL_BACKEND", "smtp")
        self.MAIL_SERVER = env("MAIL_SERVER", "localhost")
        self.MAIL_PORT = env_int("MAIL_PORT", 25)
        self.MAIL_USERNAME = env("MAIL_USERNAME")
        self.MAIL_PASSWORD = env("MAIL_PASSWORD")
        self.MAIL_USE_TLS = env_bool("MAIL_USE_TLS", False)
        self.MAIL_USE_SSL = env_bool("MAIL_USE_SSL", False)
        self.MAIL_DEFAULT_SENDER = env(
            "MAIL_DEFAULT_SENDER", "FilmSphere <tickets@filmsphere.local>"
        )
        # A failed try waits base * 2^attempts, at most MAIL_RETRY_MAX_SECONDS; tries go on
        # until the horizon (only a permanent 5xx refusal ends them sooner).
        self.MAIL_RETRY_BASE_SECONDS = env_int("MAIL_RETRY_BASE_SECONDS", 30)
        self.MAIL_RETRY_MAX_SECONDS = env_int("MAIL_RETRY_MAX_SECONDS", 900)
        self.MAIL_RETRY_HORIZON_HOURS = env_int("MAIL_RETRY_HORIZON_HOURS", 72)
        # `flask mail-health` and /admin/mail: mail is stuck when a message has waited
        # longer than this, and a message given up within the window is reported.
        self.MAIL_STUCK_MINUTES = env_int("MAIL_STUCK_MINUTES", 30)
        self.MAIL_FAILED_WINDOW_HOURS = env_int("MAIL_FAILED_WINDOW_HOURS", 24)
        # Wake a background sender thread in the web process after a commit that queued
        # mail (cron's `flask send-mail` catches anything left). Tests send explicitly.
        self.MAIL_SEND_AFTER_COMMIT = env_bool("MAIL_SEND_AFTER_COMMIT", True)
        self.MAIL_SENDER_POLL_SECONDS = env_int("MAIL_SENDER_POLL_SECONDS", 60)
        # A sender's claim on a message; renewed while it works, so it only runs out when
        # the sender is gone. One message's SMTP exchange may take MAIL_TIMEOUT_SECONDS at
        # most (cut off after that), which must fit in half a lease.
        self.MAIL_LEASE_SECONDS = env_int("MAIL_LEASE_SECONDS", 30)
        self.MAIL_BATCH_SIZE = env_int("MAIL_BATCH_SIZE", 50)
        self.MAIL_TIMEOUT_SECONDS = env_int("MAIL_TIMEOUT_SECONDS", 10)

        # While the database can't be reached pages answer 503 with this Retry-After.
        self.DATABASE_RETRY_AFTER_SECONDS = env_int("DATABASE_RETRY_AFTER_SECONDS", 5)

        # Stripe top-up (optional; off without a secret key).
        self.STRIPE_SECRET_KEY = env("STRIPE_SECRET_KEY")
        self.STRIPE_WEBHOOK_SECRET = env("STRIPE_WEBHOOK_SECRET")
        self.STRIPE_API_BASE = env("STRIPE_API_BASE")  # tests point this at 127.0.0.1
        self.COIN_PACKS = parse_coin_packs(env("COIN_PACKS", "500:500,1200:1000,3000:2200") or "")
        self.COIN_CURRENCY = env("COIN_CURRENCY", "eur")

    def validate(self) -> None:
        """Fail fast with a message that says exactly what to set."""
        missing = [
            f"FILMSPHERE_{name}"
            for name, value in (
                ("SECRET_KEY", self.SECRET_KEY),
                ("DATABASE_URL", self.SQLALCHEMY_DATABASE_URI),
            )
            if not value
        ]
        if missing:
            raise ConfigError(
                "FilmSphere refuses to start in production without "
                + " and ".join(missing)
                + ". Set them in the environment (see .env.example), or set "
                "FILMSPHERE_ENV=development to run the demo on SQLite."
            )
        if self.STRIPE_SECRET_KEY:
            try:
                import stripe  # noqa: F401
            except ImportError as exc:
                raise ConfigError(
                    "FILMSPHERE_STRIPE_SECRET_KEY is set but the stripe library is not "
                    "installed: pip install 'filmsphere[stripe]'."
                ) from exc
        if self.STRIPE_SECRET_KEY and not self.STRIPE_WEBHOOK_SECRET:
            raise ConfigError(
                "FILMSPHERE_STRIPE_SECRET_KEY is set but FILMSPHERE_STRIPE_WEBHOOK_SECRET is not: "
                "webhook signatures can't be verified, so FilmSphere refuses to start."
            )
        if self.MAIL_BACKEND not in {"smtp", "console"}:
            raise ConfigError("FILMSPHERE_MAIL_BACKEND must be 'smtp' or 'console'")
        if not 0 < 2 * self.MAIL_TIMEOUT_SECONDS <= self.MAIL_LEASE_SECONDS:
            raise ConfigError(
                "FILMSPHERE_MAIL_TIMEOUT_SECONDS must be positive and at most half of "
                "FILMSPHERE_MAIL_LEASE_SECONDS: a message's SMTP exchange has to end well "
                "before its sender's lease can run out, or another sender could send it too."
            )
        if not 0 <= self.DOORS_OPEN_MINUTES <= self.CHECKIN_OPENS_MINUTES:
            raise ConfigError(
                "FILMSPHERE_DOORS_OPEN_MINUTES must be between 0 and "
                "FILMSPHERE_CHECKIN_OPENS_MINUTES (tickets are scanned from then on)"
            )
        if self.PROXY_COUNT < 0:
            raise ConfigError("FILMSPHERE_PROXY_COUNT must be 0 or more")
        if self.REMEMBER_DAYS < 1 or self.SESSION_HOURS < 1:
            raise ConfigError(
                "FILMSPHERE_REMEMBER_DAYS and FILMSPHERE_SESSION_HOURS must be 1 or more"
            )

    def as_dict(self) -> dict[str, Any]:
        return (
            {k: v for k, v in vars(self).items() if k.isupper()}
            | {k: getattr(self, k) for k in ("ENV_NAME", "TESTING", "DEBUG")}
            | {"REMEMBER_COOKIE_DURATION": timedelta(days=self.REMEMBER_DAYS)}
        )


def _instance_secret(instance: Path) -> str:
    """A development secret kept in the instance folder, so tickets survive restarts."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


class DevConfig(Config):
    """The demo: SQLite in instance/, mail printed to the console, refill on."""

    ENV_NAME = "development"
    DEFAULT_RATELIMIT_STORAGE = "memory://"  # one process; no Redis needed for the demo

    def __init__(self) -> None:
        super().__init__()
        instance = Path(self.INSTANCE_PATH)
        self.SECRET_KEY = self.SECRET_KEY or _instance_secret(instance)
        self.SQLALCHEMY_DATABASE_URI = self.SQLALCHEMY_DATABASE_URI or (
            f"sqlite:///{instance / 'filmsphere.db'}"
        )
        self.MAIL_BACKEND = env("MAIL_BACKEND", "console") or "console"
        self.REFILL_ENABLED = env_bool("REFILL_ENABLED", True)
        # The demo serves on $PORT (scripts/demo.sh): links in emails, the .ics and the
        # start-up banner follow it unless FILMSPHERE_BASE_URL says otherwise.
        if not env("BASE_URL"):
            self.BASE_URL = f"http://127.0.0.1:{os.environ.get('PORT') or 5000}"
        self.SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
        self.REMEMBER_COOKIE_SECURE = self.SESSION_COOKIE_SECURE


class TestConfig(Config):
    """Tests: the database URL is given by the test harness; CSRF stays on."""

    ENV_NAME = "testing"
    TESTING = True
    DEFAULT_RATELIMIT_STORAGE = "memory://"  # tests that need Redis start their own

    def __init__(self) -> None:
        super().__init__()
        self.SECRET_KEY = "test-secret-key-not-for-production"
        self.SQLALCHEMY_DATABASE_URI = self.SQLALCHEMY_DATABASE_URI or "sqlite://"
        self.SESSION_COOKIE_SECURE = False
        self.REMEMBER_COOKIE_SECURE = False
        self.MAIL_BACKEND = "smtp"
        self.MAIL_SERVER = "127.0.0.1"
        self.MAIL_PORT = 1  # nothing listens: tests that send mail start a server
        self.MAIL_RETRY_BASE_SECONDS = 0
        self.MAIL_SEND_AFTER_COMMIT = False
        # Tests create and log in many accounts; scrypt would dominate their run time.
        self.PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"
        self.MAIL_TIMEOUT_SECONDS = 5
        self.STRIPE_SECRET_KEY = None
        self.STRIPE_WEBHOOK_SECRET = None
        self.SERVER_NAME = None


CONFIGS: dict[str, type[Config]] = {
    "production": Config,
    "development": DevConfig,
    "testing": TestConfig,
}


def load_config(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the settings for FILMSPHERE_ENV (default production), apply overrides, validate."""
    name = (env("ENV", "production") or "production").lower()
    if name not in CONFIGS:
        raise ConfigError(f"FILMSPHERE_ENV must be one of {', '.join(CONFIGS)}, got {name!r}")
    if overrides and overrides.get("TESTING"):
        name = "testing"
    config = CONFIGS[name]()
    for key, value in (overrides or {}).items():
        setattr(config, key, value)
    config.validate()
    return config.as_dict()
