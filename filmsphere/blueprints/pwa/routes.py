"""Progressive web app: manifest, service worker, offline page."""

from flask import Blueprint

bp = Blueprint("pwa", __name__)
