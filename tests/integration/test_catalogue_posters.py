"""Poster route: uploaded files from UPLOAD_DIR/posters, else a generated SVG; caching."""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from filmsphere.extensions import db
from tests.factories import make_movie


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def test_generated_svg_is_escaped_cacheable_and_conditional(
    backend: str, app: Flask, client: FlaskClient
) -> None:
    with app.app_context():
        movie_id = make_movie('<script>alert(1)</script> & "Co"', rating="18").id
    page = client.get(f"/movies/{movie_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    src = re.search(r'<img class="poster" src="([^"]+)" alt="([^"]+)"', html)
    assert (
        src
        and src.group(2) == "Poster for &lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;Co&#34;"
    )
    versioned = client.get(src.group(1).replace("&amp;", "&"))
    assert versioned.status_code == 200
    assert versioned.mimetype == "image/svg+xml"
    body = versioned.get_data(as_text=True)
    assert "<script>" not in body and "&lt;script&gt;" in body
    assert versioned.cache_control.public and versioned.cache_control.max_age == 31536000
    etag = versioned.headers["ETag"]

    plain = client.get(f"/movies/{movie_id}/poster")
    assert plain.cache_control.no_cache and plain.headers["ETag"] == etag
    again = client.get(f"/movies/{movie_id}/poster", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    assert client.get("/movies/424242/poster").status_code == 404


def test_uploaded_poster_is_served_from_the_upload_folder(
    backend: str, app: Flask, client: FlaskClient
) -> None:
    folder = Path(app.config["UPLOAD_DIR"]) / "posters"
    folder.mkdir(parents=True)
    (folder / "abc123.png").write_bytes(tiny_png())
    with app.app_context():
        movie = make_movie("Has Poster")
        movie.poster_filename = "abc123.png"
        db.session.commit()
        movie_id = movie.id
    response = client.get(f"/movies/{movie_id}/poster")
    assert response.status_code == 200
    assert response.mimetype == "image/png" and response.data == tiny_png()
    assert response.headers.get("ETag")
    # A file name pointing outside the folder is never followed; the SVG is drawn instead.
    with app.app_context():
        movie = db.session.get(type(movie), movie_id)
        assert movie is not None
        movie.poster_filename = "../../secret.txt"
        db.session.commit()
    (Path(app.config["UPLOAD_DIR"]).parent / "secret.txt").write_text("secret")
    response = client.get(f"/movies/{movie_id}/poster")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    assert b"secret" not in response.data
