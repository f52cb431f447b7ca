"""Error pages render in the site layout; /healthz proves a database round trip."""

from __future__ import annotations

import socket
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import make_app


def test_404_page_uses_the_layout(backend: str, app: Flask, client: FlaskClient) -> None:
    response = client.get("/no/such/page")
    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert '<nav class="nav" aria-label="Main">' in html and '<main id="main"' in html
    assert html.count("<h1") == 1 and "Not found" in html
    assert "Back to what's on" in html


def test_405_page_uses_the_layout(backend: str, app: Flask, client: FlaskClient) -> None:
    response = client.post("/movies")
    html = response.get_data(as_text=True)
    assert response.status_code == 405
    assert "Method not allowed" in html and '<main id="main"' in html
    assert "GET" in response.headers["Allow"]


def test_error_fragment_for_htmx(backend: str, app: Flask, client: FlaskClient) -> None:
    response = client.get("/shows?date=nope", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert html.lstrip().startswith('<section id="error"') and "<html" not in html


def test_healthz_answers_with_the_database(backend: str, app: Flask, client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_healthz_is_503_when_postgresql_does_not_answer(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://nobody@127.0.0.1:{closed_port()}/filmsphere?connect_timeout=2"
    app = make_app(url, tmp_path)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "error", "database": "unreachable"}
    assert response.headers["Cache-Control"] == "no-cache"
