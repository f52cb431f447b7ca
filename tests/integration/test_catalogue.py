"""The public catalogue on PostgreSQL and SQLite: search, filters, pages, showtimes, htmx."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from filmsphere.clock import local_day_bounds
from filmsphere.extensions import db
from filmsphere.models import Movie, ShowStatus
from filmsphere.services.catalogue import catalogue
from filmsphere.services.errors import NotFound
from tests.factories import make_movie, make_screen, make_show

HX = {"HX-Request": "true"}


def titles(html: str) -> list[str]:
    """Film titles of the result cards, in page order."""
    return re.findall(r'<h3 class="card-title"><a href="/movies/\d+">([^<]+)</a>', html)


def seed_films(app: Flask) -> dict[str, int]:
    with app.app_context():
        films = {
            "Alpha Storm": make_movie(
                "Alpha Storm",
                genres=("Action", "Thriller"),
                language="English",
                rating="15",
                description="A pilot flies into the eye of a hurricane.",
            ),
            "Beta Garden": make_movie(
                "Beta Garden",
                genres=("Romance",),
                language="French",
                rating="12A",
                description="Two gardeners and one greenhouse.",
            ),
            "Gamma Ray": make_movie(
                "Gamma Ray",
                genres=("Science Fiction",),
                language="Japanese",
                rating="PG",
                description="A STORM of particles hits a small town.",
            ),
            "Delta Blues": make_movie(
                "Delta Blues",
                genres=("Music", "Drama"),
                language="English",
                rating="U",
                description="A band on the road.",
            ),
        }
        retired = make_movie("Retired Storm", genres=("Action",), description="Old storm.")
        retired.is_retired = True
        db.session.commit()
        screen = make_screen()
        for film in films.values():
            make_show(
                film, screen, starts_in=timedelta(days=2, hours=list(films).index(film.title) * 3)
            )
        return {title: film.id for title, film in films.items()}


def test_search_matches_title_and_description_case_insensitively(
    backend: str, app: Flask, client: FlaskClient
) -> None:
    seed_films(app)
    html = client.get("/movies?q=storm").get_data(as_text=True)
    # Title match, description match in another case; the retired film never appears.
    assert titles(html) == ["Alpha Storm", "Gamma Ray"]
    assert "2 films found" in html
    assert titles(client.get("/movies?q=GARDEN%20greenhouse").get_data(as_text=True)) == [
        "Beta Garden"
    ]
    # LIKE wildcards in the query are literal characters, not patterns.
    assert titles(client.get("/movies?q=%25").get_data(as_text=True)) == []
    assert titles(client.get("/movies?q=_").get_data(as_text=True)) == []


def test_genre_filter_matches_any_of_several_genres(
    backend: str, app: Flask, client: FlaskClient
) -> None:
    seed_films(app)
    html = client.get("/movies?genre=Romance&genre=Music").get_data(as_text=True)
    assert titles(html) == ["Beta Garden", "Delta Blues"]
    assert 'value="Romance" checked' in html and 'value="Music" checked' in html
    assert titles(client.get("/movies?genre=Thriller").get_data(as_text=True)) == ["Alpha Storm"]


def test_language_and_rating_filters_combine(backend: str, app: Flask, client: FlaskClient) -> None:
    seed_films(app)
    assert titles(client.get("/movies?language=English").get_data(as_text=True)) == [
        "Alpha Storm",
        "Delta Blues",
    ]
    assert titles(client.get("/movies?language=English&rating=U").get_data(as_text=True)) == [
        "Delta Blues"
    ]
    html = client.get("/movies").get_data(as_text=True)
    # The rating options come in the order parents read them.
    ratings = re.findall(r'<option value="(U|PG|12A|15|18)"', html)
    assert ratings == ["U", "PG", "12A", "15"]


def test_unknown_filter_values_are_a_clear_400(
    backend: str, app: Flask, client: FlaskClient
) -> None:
    seed_films(app)
    for query in ("genre=Western", "language=Klingon", "rating=R", "date=2026-02-30", "date=soon"):
        response = client.get(f"/movies?{query}")
        assert response.status_code == 400, query
        assert "<nav" in response.get_data(as_text=True)  # the full layout, not a bare error


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    # Nine hours ahead of UTC, so the local day and the UTC day differ around midnight.
    return {"TIMEZONE": "Asia/Tokyo"}


def test_date_filter_uses_the_cinema_local_day(
    backend: str, app: Flask, client: FlaskClient
) -> None:
    tokyo = ZoneInfo("Asia/Tokyo")
    day = (datetime.now(tokyo) + timedelta(days=3)).date()
    with app.app_context():
        late = make_movie("Late Night")
        early = make_movie("Early Bird")
        screen = make_screen()
        # 00:30 local on `day` is 15:30 UTC on the day before.
        make_show(
            late, screen, starts_at=datetime(day.year, day.month, day.day, 0, 30, tzinfo=tokyo)
        )
        make_show(
            early,
            screen,
            starts_at=datetime(day.year, day.month, day.day, 12, 0, tzinfo=tokyo)
            + timedelta(days=1),
        )
    html = client.get(f"/movies?date={day.isoformat()}").get_data(as_text=True)
    assert titles(html) == ["Late Night"]
    before = (day - timedelta(days=1)).isoformat()
    assert titles(client.get(f"/movies?date={before}").get_data(as_text=True)) == []
    shows_html = client.get(f"/shows?date={day.isoformat()}").get_data(as_text=True)
    assert "Late Night" in shows_html and "Early Bird" not in shows_html
    assert re.search(r">00:30<span class=\"visually-hidden\">,</span></time>", shows_html)


def test_pagination_keeps_the_filters(backend: str, app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        for n in range(15):
            make_movie(f"Space Film {n:02d}", genres=("Science Fiction",), language="English")
        make_movie("Not In Space", genres=("Drama",), description="space too")
    first = client.get("/movies?q=space&genre=Science+Fiction").get_data(as_text=True)
    assert len(titles(first)) == catalogue.PER_PAGE
    assert "15 films found, page 1 of 2" in first
    next_link = re.search(r'rel="next" href="([^"]+)"', first)
    assert next_link
    href = next_link.group(1).replace("&amp;", "&")
    assert "q=space" in href and "genre=Science+Fiction" in href and "page=2" in href
    second = client.get(href).get_data(as_text=True)
    assert titles(second) == [f"Space Film {n:02d}" for n in range(12, 15)]
    assert 'rel="prev"' in second and 'rel="next"' not in second


@pytest.mark.parametrize("page", ["0", "-1", "abc", "1.5", "99999999"])
def test_bad_page_numbers_are_400(backend: str, app: Flask, client: FlaskClient, page: str) -> None:
    response = client.get(f"/movies?page={page}")
    assert response.status_code == 400
    assert "page number" in response.get_data(as_text=True)


def test_page_past_the_end_is_404(backend: str, app: Flask, client: FlaskClient) -> None:
    seed_films(app)
    assert client.get("/movies?page=2").status_code == 404
    assert client.get("/movies?page=1").status_code == 200


def test_htmx_gets_the_fragment_and_plain_get_the_page(
    backend: str, app: Flask, client: FlaskClient
) -> None:
    seed_films(app)
    fragment = client.get("/movies?q=garden", headers=HX)
    body = fragment.get_data(as_text=True)
    assert fragment.status_code == 200
    assert body.lstrip().startswith('<section id="movie-results"')
    assert "<html" not in body and titles(body) == ["Beta Garden"]
    assert "HX-Request" in fragment.headers["Vary"]

    page = client.get("/movies?q=garden")
    html = page.get_data(as_text=True)
    assert "<html" in html and 'id="movie-results"' in html
    assert "HX-Request" in page.headers["Vary"]
    # The same form works without JavaScript: a real GET form carrying the search.
    assert re.search(r'<form id="movie-filters"[^>]*method="get" action="/movies"', html)
    assert 'hx-target="#movie-results"' in html and 'hx-push-url="true"' in html
    assert 'name="q" type="search" value="garden"' in html
    # A history restore asks with HX-Request too, but must get the whole page.
    restore = client.get(
        "/movies?q=garden", headers=HX | {"HX-History-Restore-Request": "true"}
    ).get_data(as_text=True)
    assert "<html" in restore


def test_empty_result_has_a_message(backend: str, app: Flask, client: FlaskClient) -> None:
    seed_films(app)
    body = client.get("/movies?q=zzzz", headers=HX).get_data(as_text=True)
    assert "No films found" in body and "clear them all" in body


def test_film_detail_groups_upcoming_shows_by_local_date(
    backend: str, app: Flask, client: FlaskClient
) -> None:
    with app.app_context():
        movie = make_movie("Grouped", genres=("Drama", "Comedy"), language="German", rating="12A")
        screen = make_screen(name="Hall Nine")
        day = (datetime.now(ZoneInfo("Asia/Tokyo")) + timedelta(days=2)).date()
        at = datetime(day.year, day.month, day.day, 14, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
        first = make_show(movie, screen, starts_at=at, price=11)
        second = make_show(movie, screen, starts_at=at + timedelta(hours=4), price=13)
        third = make_show(movie, screen, starts_at=at + timedelta(days=1))
        cancelled = make_show(movie, screen, starts_at=at + timedelta(days=2))
        cancelled.status = ShowStatus.CANCELLED
        past = make_show(movie, make_screen(), starts_in=timedelta(hours=-1))
        db.session.commit()
        ids = (first.id, second.id, third.id, cancelled.id, past.id)
        movie_id = movie.id
    html = client.get(f"/movies/{movie_id}").get_data(as_text=True)
    assert "<h1>Grouped</h1>" in html
    assert "German" in html and "Comedy, Drama" in html and "1 h 40 min" in html
    headings = re.findall(r'<h3 id="day-([\d-]+)">', html)
    assert headings == [day.isoformat(), (day + timedelta(days=1)).isoformat()]
    links = re.findall(r'<a class="time-slot" href="/shows/(\d+)"', html)
    assert links == [str(ids[0]), str(ids[1]), str(ids[2])]
    assert "from 11 coins" in html and "Hall Nine" in html
    assert f"/shows/{ids[3]}" not in html and f"/shows/{ids[4]}" not in html


def test_unknown_and_retired_films_are_404(backend: str, app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        movie = make_movie("Gone")
        movie.is_retired = True
        db.session.commit()
        movie_id = movie.id
    assert client.get("/movies/99999").status_code == 404
    response = client.get(f"/movies/{movie_id}")
    assert response.status_code == 404
    assert "left the programme" in response.get_data(as_text=True)


def test_shows_page_lists_the_day_and_never_offers_started_shows(
    backend: str, app: Flask, client: FlaskClient
) -> None:
    tz = ZoneInfo("Asia/Tokyo")
    now = datetime.now(tz)
    with app.app_context():
        movie = make_movie("Today Film")
        other = make_movie("Other Film")
        screen = make_screen()
        started = make_show(movie, screen, starts_at=now - timedelta(minutes=5))
        later = make_show(other, make_screen(), starts_at=now + timedelta(minutes=1))
        cancelled = make_show(movie, make_screen(), starts_at=now + timedelta(minutes=2))
        cancelled.status = ShowStatus.CANCELLED
        db.session.commit()
        ids = started.id, later.id, cancelled.id
    if (now - timedelta(minutes=5)).date() != (now + timedelta(minutes=2)).date():
        pytest.skip("too close to local midnight for a same-day check")
    html = client.get("/shows").get_data(as_text=True)
    assert "Today Film" in html and "Other Film" in html
    assert f"/shows/{ids[0]}" not in html and "Started" in html
    assert f'href="/shows/{ids[1]}"' in html
    assert f"/shows/{ids[2]}" not in html
    assert html.count('aria-current="date"') == 1


@pytest.mark.parametrize("bad", ["tomorrow", "2026-13-01", "2026-02-30", "20261121", "2026-1-5"])
def test_bad_show_date_is_400_with_a_message(
    backend: str, app: Flask, client: FlaskClient, bad: str
) -> None:
    response = client.get(f"/shows?date={bad}")
    assert response.status_code == 400
    assert "YYYY-MM-DD" in response.get_data(as_text=True) or "calendar date" in (
        response.get_data(as_text=True)
    )


def test_show_date_far_away_is_400(backend: str, app: Flask, client: FlaskClient) -> None:
    assert client.get("/shows?date=9999-12-31").status_code == 400
    assert client.get("/shows?date=0001-01-01").status_code == 400


def test_home_shows_now_showing_date_strip_and_rest_of_today(
    backend: str, app: Flask, client: FlaskClient
) -> None:
    tz = ZoneInfo("Asia/Tokyo")
    with app.app_context():
        soon = make_movie("Soon Showing")
        later = make_movie("Later Showing")
        make_movie("Nothing Scheduled")
        screen = make_screen()
        make_show(later, screen, starts_in=timedelta(days=3))
        soon_show = make_show(soon, screen, starts_in=timedelta(minutes=3))
        soon_local_day = soon_show.starts_at.astimezone(tz).date()
        soon_id = soon_show.id
    html = client.get("/").get_data(as_text=True)
    assert titles(html) == ["Soon Showing", "Later Showing"]
    today = datetime.now(tz).date()
    strip = re.findall(r'href="/shows\?date=([\d-]+)"', html)
    assert strip[:7] == [(today + timedelta(days=n)).isoformat() for n in range(7)]
    if soon_local_day == today:
        assert f'href="/shows/{soon_id}"' in html


def count_queries(app: Flask, client: FlaskClient, path: str) -> int:
    with app.app_context():
        engine = db.engine
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    try:
        assert client.get(path).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return len([s for s in statements if not s.startswith(("BEGIN", "SAVEPOINT"))])


def test_catalogue_pages_do_not_query_per_film(
    backend: str, app: Flask, client: FlaskClient
) -> None:
    with app.app_context():
        screen = make_screen()
        first = make_movie("First", genres=("Drama", "Comedy"))
        show = make_show(first, screen, starts_in=timedelta(hours=30))
        movie_id = first.id
        show_day = show.starts_at.astimezone(ZoneInfo("Asia/Tokyo")).date().isoformat()
    paths = ["/", "/movies", f"/shows?date={show_day}", f"/movies/{movie_id}"]
    few = {path: count_queries(app, client, path) for path in paths}
    with app.app_context():
        for n in range(8):
            movie = make_movie(f"More {n}", genres=(f"Genre {n}", "Drama"))
            for k in range(3):
                make_show(movie, make_screen(), starts_in=timedelta(hours=30, minutes=10 * k + n))
                make_show(first, make_screen(), starts_in=timedelta(hours=31, minutes=n + k))
    many = {path: count_queries(app, client, path) for path in paths}
    assert many == few
    assert max(many.values()) <= 8, many


def test_service_day_bounds_follow_daylight_saving(ctx: Flask, backend: str) -> None:
    ctx.config["TIMEZONE"] = "Europe/London"
    start, end = local_day_bounds(datetime(2026, 3, 29).date())
    assert start == datetime(2026, 3, 29, 0, 0, tzinfo=UTC)
    assert end - start == timedelta(hours=23)


def test_get_public_movie_refuses_retired(ctx: Flask, backend: str) -> None:
    movie = make_movie()
    movie.is_retired = True
    db.session.commit()
    with pytest.raises(NotFound):
        catalogue.get_public_movie(movie.id)
    assert db.session.get(Movie, movie.id) is not None  # retired, not deleted


def test_search_folds_case_beyond_ascii(backend: str, app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        make_movie("El Último Tren", description="Ein Mädchen im ZUG.")
        make_movie("Plain Title")
        lower_works = db.session.scalar(db.select(db.func.lower("Ú"))) == "ú"
    if backend == "postgresql" and not lower_works:
        pytest.skip("this PostgreSQL cluster's locale (C) folds ASCII only")
    assert titles(client.get("/movies?q=último").get_data(as_text=True)) == ["El Último Tren"]
    assert titles(client.get("/movies?q=MÄDCHEN").get_data(as_text=True)) == ["El Último Tren"]
