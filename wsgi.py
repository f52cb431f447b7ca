"""The WSGI entry point: gunicorn wsgi:app."""

from filmsphere import create_app

app = create_app()
