"""Static asset URLs that carry the file's content hash, so browsers may cache them for a year."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from flask import current_app, request, url_for


@cache
def _file_hash(path: str, mtime: float) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def asset_url(filename: str) -> str:
    """A static URL carrying the file's content hash, so it can be cached for a year.

    Outside debug mode the static files don't change while the process runs (a deploy
    restarts it), so each URL is worked out once per process: every page links about ten
    assets, and looking each file up again cost a page more than its database read. In
    debug mode an edited file gets its new hash on the next request."""
    if current_app.debug:
        return _versioned_url(filename)
    urls: dict[tuple[str, str], str] = current_app.extensions.setdefault(
        "filmsphere_asset_urls", {}
    )
    key = (request.script_root, filename)  # the URL's path starts with the app's mount point
    url = urls.get(key)
    if url is None:
        url = urls[key] = _versioned_url(filename)
    return url


def _versioned_url(filename: str) -> str:
    path = Path(current_app.static_folder or "") / filename
    version = _file_hash(str(path), path.stat().st_mtime) if path.exists() else "0"
    return url_for("static", filename=filename, v=version)
