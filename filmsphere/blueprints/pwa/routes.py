"""Progressive web app: manifest, service worker, offline page."""

from __future__ import annotations

import hashlib
import json

from flask import Blueprint, Response, current_app, render_template, request, url_for

from ...assets import asset_url
from .manifest import web_manifest

bp = Blueprint("pwa", __name__)

# What the service worker installs up front: enough to draw any saved page and /offline.
SHELL_ASSETS = (
    "css/app.css",
    "vendor/htmx-2.0.11.min.js",
    "js/app.js",
    "js/pwa.js",
    # The ticket view at the door: it must draw offline even if it was saved moments ago.
    "css/ticket_view.css",
    "js/ticket_view.js",
    "icons/favicon.svg",
    "icons/icon-192.png",
    "icons/icon-512.png",
    "icons/icon-maskable-512.png",
    "icons/apple-touch-icon-180.png",
)


def precache_urls() -> list[str]:
    """Versioned shell URLs (their ?v= is the file's content hash) plus the offline page."""
    return [asset_url(name) for name in SHELL_ASSETS] + [url_for("pwa.offline")]


def cache_version(urls: list[str]) -> str:
    """Changes whenever a shell file or the worker's own source changes, so browsers see a
    new worker byte-for-byte and install it; old caches are then dropped on activate."""
    loader = current_app.jinja_env.loader
    assert loader is not None
    source, _, _ = loader.get_source(current_app.jinja_env, "pwa/sw.js")
    digest = hashlib.sha256(source.encode())
    for url in urls:
        digest.update(url.encode())
    return digest.hexdigest()[:12]


@bp.get("/manifest.webmanifest")
def manifest() -> Response:
    """The web app manifest: what an installed FilmSphere looks like."""
    response = Response(json.dumps(web_manifest(), ensure_ascii=False, indent=1))
    response.mimetype = "application/manifest+json"
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/sw.js")
def service_worker() -> Response:
    """The service worker, served from the root so its scope is the whole site. Never
    cached by HTTP, so a deploy is picked up on the next navigation."""
    urls = precache_urls()
    body = render_template(
        "pwa/sw.js",
        cache_version=cache_version(urls),
        precache=urls,
        offline_url=url_for("pwa.offline"),
    )
    response = Response(body, mimetype="text/javascript")
    response.headers["Service-Worker-Allowed"] = "/"
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/offline")
def offline() -> str:
    """What the service worker shows for a page it can't fetch and hasn't saved. It is
    precached, so it carries nothing personal (no nav for the signed-in user, no CSRF)."""
    return render_template("pwa/offline.html")


@bp.after_app_request
def immutable_static(response: Response) -> Response:
    """A versioned static URL never changes content: let browsers skip revalidation."""
    if request.endpoint == "static" and request.args.get("v") and response.status_code == 200:
        response.cache_control.immutable = True
    return response
