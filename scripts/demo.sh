#!/usr/bin/env bash
# Install FilmSphere and run the demo: SQLite, demo data, mail printed to the console.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .

export FILMSPHERE_ENV=${FILMSPHERE_ENV:-development}
export FLASK_APP=wsgi.py
.venv/bin/flask db upgrade
.venv/bin/flask seed-demo
echo
echo "FilmSphere is starting at http://127.0.0.1:${PORT:-5000}  (Ctrl+C stops it)"
exec .venv/bin/flask run --host 127.0.0.1 --port "${PORT:-5000}"
