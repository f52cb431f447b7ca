"""Configuration fails fast with a clear message and takes secrets only from the environment."""

from __future__ import annotations

import pytest

from filmsphere import create_app
from filmsphere.config import ConfigError, load_config, parse_coin_packs


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ENV", "SECRET_KEY", "DATABASE_URL", "STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"):
        monkeypatch.delenv(f"FILMSPHERE_{name}", raising=False)


def test_production_refuses_to_start_without_secret_and_database() -> None:
    with pytest.raises(ConfigError) as error:
        create_app()
    assert "FILMSPHERE_SECRET_KEY" in str(error.value)
    assert "FILMSPHERE_DATABASE_URL" in str(error.value)


def test_production_reads_secrets_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILMSPHERE_SECRET_KEY", "s3cret-from-env")
    monkeypatch.setenv("FILMSPHERE_DATABASE_URL", "sqlite://")
    settings = load_config()
    assert settings["SECRET_KEY"] == "s3cret-from-env"
    assert settings["SESSION_COOKIE_SECURE"] is True
    assert settings["MAIL_BACKEND"] == "smtp"


def test_development_defaults_to_sqlite_and_a_persistent_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    monkeypatch.setenv("FILMSPHERE_ENV", "development")
    monkeypatch.setenv("FILMSPHERE_INSTANCE_PATH", str(tmp_path))
    first = load_config()
    second = load_config()
    assert first["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'filmsphere.db'}"
    assert first["SECRET_KEY"] == second["SECRET_KEY"]  # tickets stay valid across restarts
    assert first["MAIL_BACKEND"] == "console"


def test_stripe_key_without_webhook_secret_refuses_to_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FILMSPHERE_SECRET_KEY", "x")
    monkeypatch.setenv("FILMSPHERE_DATABASE_URL", "sqlite://")
    monkeypatch.setenv("FILMSPHERE_STRIPE_SECRET_KEY", "sk_test_123")
    with pytest.raises(ConfigError, match="WEBHOOK_SECRET"):
        load_config()


def test_bad_numbers_are_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FILMSPHERE_ENV", "testing")
    monkeypatch.setenv("FILMSPHERE_HOLD_MINUTES", "ten")
    with pytest.raises(ConfigError, match="FILMSPHERE_HOLD_MINUTES must be a whole number"):
        load_config()


def test_coin_packs_parse() -> None:
    assert parse_coin_packs("500:500, 1200:1000") == [
        {"id": "pack1", "coins": 500, "price_minor": 500},
        {"id": "pack2", "coins": 1200, "price_minor": 1000},
    ]
    with pytest.raises(ConfigError):
        parse_coin_packs("lots")


def test_the_app_runs_without_the_optional_stripe_library(tmp_path) -> None:
    """In a fresh interpreter where `import stripe` fails, the app starts and serves; a
    Stripe key without the library is refused at start-up with a clear message."""
    import subprocess
    import sys

    script = f"""
import sys
sys.modules["stripe"] = None  # import stripe -> ImportError
from filmsphere import create_app
from filmsphere.config import ConfigError
app = create_app({{"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://",
                  "INSTANCE_PATH": {str(tmp_path)!r}}})
assert app.test_client().get("/healthz").status_code == 200
try:
    create_app({{"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://",
                "STRIPE_SECRET_KEY": "sk_test_1", "STRIPE_WEBHOOK_SECRET": "whsec_1"}})
except ConfigError as exc:
    assert "stripe library is not installed" in str(exc), exc
else:
    raise SystemExit("a Stripe key without the library was accepted")
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


@pytest.mark.parametrize(
    ("lease", "timeout"), [("30", "20"), ("30", "0"), ("8", "5")], ids=["long", "zero", "small"]
)
def test_an_smtp_exchange_must_fit_in_half_a_mail_lease(
    monkeypatch: pytest.MonkeyPatch, lease: str, timeout: str
) -> None:
    """Otherwise a slow exchange could outlive its lease and another sender send it too."""
    monkeypatch.setenv("FILMSPHERE_SECRET_KEY", "s3cret-from-env")
    monkeypatch.setenv("FILMSPHERE_DATABASE_URL", "sqlite://")
    monkeypatch.setenv("FILMSPHERE_MAIL_LEASE_SECONDS", lease)
    monkeypatch.setenv("FILMSPHERE_MAIL_TIMEOUT_SECONDS", timeout)
    with pytest.raises(ConfigError, match="at most half of FILMSPHERE_MAIL_LEASE_SECONDS"):
        load_config()
    monkeypatch.setenv("FILMSPHERE_MAIL_LEASE_SECONDS", str(2 * int(timeout) or 30))
    monkeypatch.setenv("FILMSPHERE_MAIL_TIMEOUT_SECONDS", str(int(timeout) or 15))
    load_config()  # half a lease exactly is enough


def test_the_mail_defaults_keep_the_exchange_within_half_a_lease(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FILMSPHERE_SECRET_KEY", "s3cret-from-env")
    monkeypatch.setenv("FILMSPHERE_DATABASE_URL", "sqlite://")
    settings = load_config()
    assert 2 * settings["MAIL_TIMEOUT_SECONDS"] <= settings["MAIL_LEASE_SECONDS"] == 30


def test_demo_links_follow_port_unless_base_url_is_set(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    """scripts/demo.sh serves on $PORT: email links, the .ics and the banner follow it."""
    monkeypatch.setenv("FILMSPHERE_ENV", "development")
    monkeypatch.setenv("FILMSPHERE_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("FILMSPHERE_BASE_URL", raising=False)
    monkeypatch.delenv("PORT", raising=False)
    assert load_config()["BASE_URL"] == "http://127.0.0.1:5000"
    monkeypatch.setenv("PORT", "8123")
    assert load_config()["BASE_URL"] == "http://127.0.0.1:8123"
    monkeypatch.setenv("FILMSPHERE_BASE_URL", "https://tickets.example.org/")
    assert load_config()["BASE_URL"] == "https://tickets.example.org"

    monkeypatch.delenv("FILMSPHERE_BASE_URL")
    monkeypatch.setenv("FILMSPHERE_ENV", "production")
    monkeypatch.setenv("FILMSPHERE_SECRET_KEY", "x")
    monkeypatch.setenv("FILMSPHERE_DATABASE_URL", "sqlite://")
    assert load_config()["BASE_URL"] == "http://127.0.0.1:5000"  # PORT is the demo's


def test_absolute_links_come_only_from_base_url() -> None:
    """Emails, the .ics, Stripe's return address and the banner build absolute URLs from
    BASE_URL: no other module names a host or port of its own."""
    from pathlib import Path

    package = Path(__file__).resolve().parents[2] / "filmsphere"
    hosts = ("http://127.0.0.1", "http://localhost", ":5000")
    offenders = [
        str(path.relative_to(package))
        for path in package.rglob("*")
        if path.suffix in {".py", ".html", ".txt", ".js"}
        and "static" not in path.parts
        and path.name != "config.py"
        and any(host in path.read_text() for host in hosts)
    ]
    assert offenders == []


@pytest.mark.parametrize("minutes", ["-1", "121"])
def test_doors_cannot_open_before_check_in_does(
    monkeypatch: pytest.MonkeyPatch, minutes: str
) -> None:
    monkeypatch.setenv("FILMSPHERE_ENV", "testing")
    monkeypatch.setenv("FILMSPHERE_CHECKIN_OPENS_MINUTES", "120")
    monkeypatch.setenv("FILMSPHERE_DOORS_OPEN_MINUTES", minutes)
    with pytest.raises(ConfigError, match="FILMSPHERE_DOORS_OPEN_MINUTES"):
        load_config()
    monkeypatch.setenv("FILMSPHERE_DOORS_OPEN_MINUTES", "120")
    assert load_config()["DOORS_OPEN_MINUTES"] == 120
