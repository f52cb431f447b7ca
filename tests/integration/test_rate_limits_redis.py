"""Rate limits in production: one count in Redis for every app process, a loud warning
when a process would count alone, and no 500 while Redis is down."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask

from filmsphere import create_app
from filmsphere.extensions import db, limiter
from filmsphere.ratelimits import PER_PROCESS_WARNING, UNREACHABLE_WARNING

from ..conftest import CSRF_META, get_csrf, make_app
from ..support.postgres import free_port
from ..support.redis import start_redis

pytestmark = pytest.mark.sqlite_only  # the limits don't depend on the database

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 3


class AppProcess:
    """The app as production runs it: gunicorn serving wsgi:app, FILMSPHERE_* settings."""

    def __init__(self, database: Path, instance: Path, **settings: str) -> None:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("FILMSPHERE_")}
        env.update(
            FILMSPHERE_ENV="production",
            FILMSPHERE_SECRET_KEY="test-secret-key-not-for-production",
            FILMSPHERE_DATABASE_URL=f"sqlite:///{database}",
            FILMSPHERE_INSTANCE_PATH=str(instance),
            FILMSPHERE_SESSION_COOKIE_SECURE="false",
            FILMSPHERE_MAIL_SEND_AFTER_COMMIT="false",
            FILMSPHERE_RATELIMIT_LOGIN=f"{LIMIT} per minute",
        )
        env.update({f"FILMSPHERE_{k}": v for k, v in settings.items()})
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", "1", "--bind", self.address, "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 30
        while True:
            assert self.process.poll() is None, self.stop()
            try:
                if requests.get(self.url("/healthz"), timeout=5).status_code == 200:
                    return
            except requests.RequestException:  # not listening yet, or the worker is booting
                pass
            assert time.monotonic() < deadline, "the app process did not start"
            time.sleep(0.1)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"http://{self.address}{path}"

    def stop(self) -> str:
        """Stop it; returns what it wrote to stderr."""
        if self.process.poll() is None:
            self.process.terminate()
        try:
            _, err = self.process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate()
        return err or ""


@pytest.fixture
def start_app(sqlite_template: Path, tmp_path: Path) -> Iterator[Any]:
    database = tmp_path / "shared.db"
    shutil.copy(sqlite_template, database)
    started: list[AppProcess] = []

    def start(**settings: str) -> AppProcess:
        process = AppProcess(database, tmp_path / "instance", **settings)
        started.append(process)
        return process

    yield start
    for process in started:
        process.stop()


def failed_log_ins(instances: list[AppProcess], attempts: int) -> list[int]:
    """One visitor's wrong passwords, sent to the instances in turn (a load balancer)."""
    browser = requests.Session()
    form = browser.get(instances[0].url("/auth/login"), timeout=10).text
    match = CSRF_META.search(form)
    assert match
    data = {"login": "someone", "password": "Wrong-password-1", "csrf_token": match.group(1)}
    return [
        browser.post(
            instances[n % len(instances)].url("/auth/login"),
            data=data,
            allow_redirects=False,
            timeout=10,
        ).status_code
        for n in range(attempts)
    ]


def test_one_limit_across_app_processes_sharing_redis(
    backend: str, redis_url: str, start_app: Any
) -> None:
    instances = [start_app(RATELIMIT_STORAGE_URI=redis_url) for _ in range(2)]
    assert failed_log_ins(instances, 2 * LIMIT) == [422] * LIMIT + [429] * LIMIT
    for instance in instances:
        assert "WARNING" not in instance.stop()


def test_per_process_storage_lets_each_process_count_alone_and_says_so(
    backend: str, start_app: Any
) -> None:
    """The negative control: memory:// in production, two processes, twice the limit."""
    instances = [start_app(RATELIMIT_STORAGE_URI="memory://") for _ in range(2)]
    assert failed_log_ins(instances, 2 * LIMIT + 2) == [422] * (2 * LIMIT) + [429] * 2
    for instance in instances:
        stderr = instance.stop()
        assert "counted per process" in stderr, stderr


@pytest.fixture
def production_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.delenv("FILMSPHERE_ENV", raising=False)  # create_app's default: production
    monkeypatch.delenv("FILMSPHERE_RATELIMIT_STORAGE_URI", raising=False)
    monkeypatch.setenv("FILMSPHERE_SECRET_KEY", "x")
    monkeypatch.setenv("FILMSPHERE_DATABASE_URL", f"sqlite:///{tmp_path / 'p.db'}")
    monkeypatch.setenv("FILMSPHERE_INSTANCE_PATH", str(tmp_path))

    def build(**settings: str) -> Flask:
        for name, value in settings.items():
            monkeypatch.setenv(f"FILMSPHERE_{name}", value)
        return create_app()

    return build


def test_production_warns_at_start_unless_limits_are_shared(
    redis_url: str,
    production_app: Any,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Alembic's fileConfig (the test databases' migrations) disables existing loggers.
    monkeypatch.setattr(logging.getLogger("filmsphere.ratelimits"), "disabled", False)
    caplog.set_level(logging.WARNING, logger="filmsphere.ratelimits")
    production_app(RATELIMIT_STORAGE_URI=redis_url)
    assert capsys.readouterr().err == "" and caplog.records == []

    production_app(RATELIMIT_STORAGE_URI="memory://")
    expected = PER_PROCESS_WARNING.format(uri="memory://")
    assert expected in capsys.readouterr().err
    assert [r.getMessage() for r in caplog.records] == [expected]

    nobody = f"redis://127.0.0.1:{free_port()}/0"
    production_app(RATELIMIT_STORAGE_URI=nobody)
    assert UNREACHABLE_WARNING.format(uri=nobody) in capsys.readouterr().err


def test_production_counts_in_redis_by_default(production_app: Any) -> None:
    assert production_app().config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/0"


def test_the_demo_counts_in_memory_without_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FILMSPHERE_ENV", "development")
    monkeypatch.setenv("FILMSPHERE_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("FILMSPHERE_RATELIMIT_STORAGE_URI", raising=False)
    app = create_app()
    assert app.config["RATELIMIT_STORAGE_URI"] == "memory://"
    assert capsys.readouterr().err == ""


def test_a_redis_outage_falls_back_to_counting_in_the_process(
    backend: str, database_url: str, tmp_path: Path
) -> None:
    server = start_redis()
    try:
        app = make_app(
            database_url,
            tmp_path,
            RATELIMIT_STORAGE_URI=server.url,
            RATELIMIT_LOGIN=f"{LIMIT} per minute",
        )
        client = app.test_client()
        data = {"login": "someone", "password": "Wrong-1", "csrf_token": get_csrf(client)}
        assert client.post("/auth/login", data=data).status_code == 422
        server.stop()
        # Redis is gone: no 500, and the limit still holds, counted in this process.
        statuses = [client.post("/auth/login", data=data).status_code for _ in range(LIMIT + 1)]
        assert statuses == [422] * LIMIT + [429]
    finally:
        server.stop()
        # The limiter is one object per process: the next test's app must not start in
        # this outage (flask-limiter only re-checks a dead store now and then).
        limiter._storage_dead = False  # noqa: SLF001
        with app.app_context():
            db.engine.dispose()


def test_the_hold_limit_key_costs_no_query(backend: str, app: Flask) -> None:
    from sqlalchemy import event

    from filmsphere.ratelimits import user_or_address

    from ..factories import PASSWORD, make_user

    with app.app_context():
        user = make_user()
        user_id, username = user.id, user.username
    client = app.test_client()
    token = get_csrf(client, "/auth/login")
    response = client.post(
        "/auth/login", data={"login": username, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 303
    cookie = client.get_cookie("session")
    assert cookie is not None
    statements: list[str] = []
    with app.test_request_context("/", headers={"Cookie": f"session={cookie.value}"}):
        engine = db.engine
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            key = user_or_address()
        finally:
            event.remove(engine, "before_cursor_execute", listener)
    assert key == f"user:{user_id}"
    assert statements == []
    with app.test_request_context("/", environ_base={"REMOTE_ADDR": "192.0.2.9"}):
        assert user_or_address() == "ip:192.0.2.9"
