"""Shared fixtures: databases (PostgreSQL and SQLite), app, client, runner."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from filmsphere import create_app
from filmsphere.extensions import db, limiter

from .support.postgres import Cluster, PostgresUnavailable, start_cluster
from .support.redis import RedisUnavailable, start_redis

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(condition: bool, reason: str) -> None:
    """In CI a missing PostgreSQL, Redis or browser is a failure, never a skip."""
    if not condition:
        if IN_CI:
            pytest.fail(f"required in CI: {reason}")
        pytest.skip(reason)


def migrate(url: str, instance: Path) -> None:
    from flask_migrate import upgrade

    app = create_app(
        {"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(instance)}
    )
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str | None]:
    """A migrated PostgreSQL database: TEST_DATABASE_URL, or a throwaway cluster."""
    given = os.environ.get("TEST_DATABASE_URL")
    if given:
        url = given.replace("postgresql://", "postgresql+psycopg://", 1)
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
        migrate(url, tmp_path_factory.mktemp("pg-instance"))
        yield url
        return
    try:
        cluster = start_cluster(max_connections=120)
    except PostgresUnavailable as exc:
        if IN_CI:
            raise
        print(f"PostgreSQL unavailable, its tests will be skipped: {exc}")
        yield None
        return
    try:
        url = cluster.createdb("filmsphere_test")
        migrate(url, tmp_path_factory.mktemp("pg-instance"))
        yield url
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def own_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cluster, str]]:
    """A migrated PostgreSQL cluster of the module's own, for tests that stop and start it
    (the `restartable` fixture); yields the cluster and the database URL."""
    try:
        cluster = start_cluster(max_connections=40)
    except PostgresUnavailable as exc:
        require(False, f"PostgreSQL is not available: {exc}")
        raise
    try:
        url = cluster.createdb("restartable")
        migrate(url, tmp_path_factory.mktemp("restartable-instance"))
        yield cluster, url
    finally:
        cluster.stop()


@pytest.fixture
def restartable(own_postgres: tuple[Cluster, str]) -> Iterator[Cluster]:
    """The module's own cluster, running again and emptied after each test."""
    cluster, url = own_postgres
    yield cluster
    if not cluster.running:
        cluster.start()
    _truncate_postgres(url)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str | None]:
    """The URL of a throwaway redis-server for the whole run (None when there is none)."""
    try:
        server = start_redis()
    except RedisUnavailable as exc:
        print(f"Redis unavailable, its tests will be skipped: {exc}")
        yield None
        return
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: str | None) -> str:
    """A real Redis for the rate limits (each app's start resets the limiter's keys)."""
    require(redis_server is not None, "redis-server is not available")
    assert redis_server is not None
    return redis_server


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies."""
    folder = tmp_path_factory.mktemp("sqlite-template")
    path = folder / "template.db"
    migrate(f"sqlite:///{path}", folder)
    return path


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests that take `backend` run on PostgreSQL and on SQLite, unless postgres_only."""
    if "backend" in metafunc.fixturenames:
        if metafunc.definition.get_closest_marker("postgres_only"):
            metafunc.parametrize("backend", ["postgresql"])
        elif metafunc.definition.get_closest_marker("sqlite_only"):
            metafunc.parametrize("backend", ["sqlite"])
        else:
            metafunc.parametrize("backend", ["postgresql", "sqlite"])


@pytest.fixture
def backend() -> str:  # overridden by parametrisation; unit tests never ask for it
    return "sqlite"


@pytest.fixture
def database_url(
    backend: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sqlite_template: Path,
) -> Iterator[str]:
    if backend == "postgresql":
        url = request.getfixturevalue("postgres_url")
        require(url is not None, "PostgreSQL is not available")
        yield url
        _truncate_postgres(url)
    else:
        path = tmp_path / "test.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"


def _truncate_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = (
            conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                    "AND tablename <> 'alembic_version'"
                )
            )
            .scalars()
            .all()
        )
        if tables:
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    engine.dispose()


def make_app(database_url: str, tmp_path: Path, **overrides: Any) -> Flask:
    config = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "UPLOAD_DIR": str(tmp_path / "uploads"),
    }
    if database_url.startswith("postgresql"):
        config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_size": 20, "max_overflow": 20}
    config.update(overrides)
    return create_app(config)


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    """Override in a test module to change settings for its app."""
    return {}


@pytest.fixture
def app(database_url: str, tmp_path: Path, app_overrides: dict[str, Any]) -> Iterator[Flask]:
    """The app on the test's database. No app context is left pushed: requests made with
    `client` get their own context (and session, and flask-login state), like in
    production. Use the `ctx` fixture, or `with app.app_context():`, to touch the database.
    """
    app = make_app(database_url, tmp_path, **app_overrides)
    with app.app_context():
        limiter.reset()
    yield app
    with app.app_context():
        assert_ledger_balanced()
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    """An app context for service-level tests that don't make requests."""
    with app.app_context():
        yield app
        db.session.remove()


def assert_ledger_balanced() -> None:
    """After every test: every wallet's balance equals the sum of its ledger entries."""
    from filmsphere.services.wallet.wallet import unbalanced_wallets

    problems = unbalanced_wallets()
    db.session.rollback()
    assert problems == [], f"unbalanced wallets (id, balance, ledger sum): {problems}"


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):  # type: ignore[no-untyped-def]
    return app.test_cli_runner()


CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_META.search(html)
    assert match, "page has no csrf-token meta"
    return match.group(1)


def pager_link(html: str, rel: str) -> str:
    """The href of the page link with this rel (first, prev, next, last), unescaped."""
    match = re.search(rf'<a href="([^"]+)" rel="{rel}"', html)
    assert match, f"no {rel} link"
    return match.group(1).replace("&amp;", "&")


def get_csrf(client: FlaskClient, path: str = "/") -> str:
    """Read the CSRF token from a page, as a browser would."""
    response = client.get(path)
    return csrf_from(response.get_data(as_text=True))
