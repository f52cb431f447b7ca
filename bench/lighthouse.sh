#!/usr/bin/env bash
# Lighthouse scores (performance, accessibility, best practices) for the home, a film and a
# seat-map page of a seeded demo served by gunicorn, audited with Debian's Chromium.
#
#   bash bench/lighthouse.sh                 # mobile (Lighthouse's default form factor)
#   LIGHTHOUSE_PRESET=desktop bash bench/lighthouse.sh
#   LIGHTHOUSE_NGINX=0 bash bench/lighthouse.sh   # gunicorn alone, no nginx in front
#
# With nginx installed (Debian: nginx, libnginx-mod-http-brotli-filter), the pages are
# served as in production: nginx with bench/lighthouse-nginx.conf (compression, static files
# from disk with long-lived caching) in front of gunicorn. Otherwise gunicorn alone.
#
# Installs lighthouse from the npm registry into bench/node_modules (gitignored; pinned to
# the last major that runs on Node 20), writes JSON reports to bench/results/ (gitignored)
# and prints one line per page. Not part of the test suite.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HERE")"
PY="$ROOT/.venv/bin/python"
LIGHTHOUSE_VERSION="12.8.2"
PORT="${LIGHTHOUSE_PORT:-8765}"
PRESET="${LIGHTHOUSE_PRESET:-mobile}"
USE_NGINX="${LIGHTHOUSE_NGINX:-auto}"
if [ "$USE_NGINX" = "auto" ]; then
  if command -v nginx >/dev/null; then USE_NGINX=1; else USE_NGINX=0; fi
fi
export CHROME_PATH="${CHROME_PATH:-/usr/bin/chromium}"

if [ ! -x "$HERE/node_modules/.bin/lighthouse" ] || \
   [ "$("$HERE/node_modules/.bin/lighthouse" --version)" != "$LIGHTHOUSE_VERSION" ]; then
  npm install --prefix "$HERE" --no-save --no-package-lock --no-audit --no-fund \
    "lighthouse@$LIGHTHOUSE_VERSION" >/dev/null
fi

WORK="$(mktemp -d)"
SERVER_PID=""
NGINX_PID=""
cleanup() {
  for pid in $NGINX_PID $SERVER_PID; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

# A production-mode app (no debug) on a seeded SQLite file; plain HTTP on loopback.
export FILMSPHERE_ENV=production
export FILMSPHERE_DATABASE_URL="sqlite:///$WORK/demo.db"
export FILMSPHERE_SECRET_KEY="lighthouse-$(date +%s)"
export FILMSPHERE_INSTANCE_PATH="$WORK/instance"
export FILMSPHERE_MAIL_BACKEND=console
export FILMSPHERE_SESSION_COOKIE_SECURE=false
cd "$ROOT"
"$ROOT/.venv/bin/flask" --app wsgi db upgrade >/dev/null 2>&1
# The demo accounts have published passwords: seed-demo only runs in development mode.
FILMSPHERE_ENV=development "$ROOT/.venv/bin/flask" --app wsgi seed-demo >/dev/null
read -r MOVIE_ID SHOW_ID < <("$PY" - <<'PY'
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from filmsphere.extensions import db
from filmsphere.models import Movie, Show
from wsgi import app

with app.app_context():
    soon = datetime.now(UTC) + timedelta(hours=1)
    show = db.session.scalars(
        select(Show).where(Show.starts_at > soon, Show.status == "scheduled").order_by(Show.starts_at)
    ).first()
    movie = db.session.scalars(select(Movie).order_by(Movie.id)).first()
    print(movie.id, show.id)
PY
)

APP_PORT="$PORT"
if [ "$USE_NGINX" = "1" ]; then APP_PORT=$((PORT + 1)); fi
"$ROOT/.venv/bin/gunicorn" --bind "127.0.0.1:$APP_PORT" --workers 2 --threads 4 \
  --worker-class gthread --access-logfile /dev/null --error-logfile "$WORK/gunicorn.log" wsgi:app &
SERVER_PID=$!
SERVED_BY="gunicorn"
if [ "$USE_NGINX" = "1" ]; then
  chmod 755 "$WORK"
  sed -e "s|@WORK@|$WORK|g" -e "s|@PORT@|$PORT|g" -e "s|@UPSTREAM@|127.0.0.1:$APP_PORT|g" \
      -e "s|@STATIC@|$ROOT/filmsphere/static|g" "$HERE/lighthouse-nginx.conf" > "$WORK/nginx.conf"
  if [ ! -e /usr/lib/nginx/modules/ngx_http_brotli_filter_module.so ]; then
    sed -i '/# brotli$/d' "$WORK/nginx.conf"
  fi
  nginx -c "$WORK/nginx.conf" -e "$WORK/nginx-error.log" &
  NGINX_PID=$!
  SERVED_BY="nginx + gunicorn"
fi
for _ in $(seq 50); do
  curl -fs "http://127.0.0.1:$PORT/healthz" >/dev/null && break
  sleep 0.2
done

CSS_URL="$(curl -fs "http://127.0.0.1:$PORT/" | grep -o '/static/css/app.css?v=[0-9a-f]*' | head -1)"
for encoding in gzip br; do
  echo "$encoding: home $(curl -s -o /dev/null -w '%{size_download}' -H "Accept-Encoding: $encoding" \
    "http://127.0.0.1:$PORT/") bytes, app.css $(curl -s -o /dev/null -w '%{size_download}' \
    -H "Accept-Encoding: $encoding" "http://127.0.0.1:$PORT$CSS_URL") bytes"
done

mkdir -p "$HERE/results"
PRESET_FLAG=()
if [ "$PRESET" = "desktop" ]; then PRESET_FLAG=(--preset=desktop); fi
echo "Lighthouse $LIGHTHOUSE_VERSION ($PRESET) on $SERVED_BY, $(chromium --version 2>/dev/null || echo chromium)"
printf '%-10s %-22s %6s %6s %6s\n' page path perf a11y bp
for entry in "home /" "film /movies/$MOVIE_ID" "seat-map /shows/$SHOW_ID"; do
  set -- $entry
  name=$1 path=$2
  report="$HERE/results/lighthouse-$PRESET-$name.json"
  "$HERE/node_modules/.bin/lighthouse" "http://127.0.0.1:$PORT$path" "${PRESET_FLAG[@]}" \
    --only-categories=performance,accessibility,best-practices \
    --chrome-flags="--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage" \
    --output=json --output-path="$report" --quiet
  "$PY" - "$report" "$name" "$path" <<'PY'
import json
import sys

report = json.load(open(sys.argv[1]))
scores = {k: round((v["score"] or 0) * 100) for k, v in report["categories"].items()}
print(f"{sys.argv[2]:<10} {sys.argv[3]:<22} {scores['performance']:>6} "
      f"{scores['accessibility']:>6} {scores['best-practices']:>6}")
for key, audit in report["audits"].items():
    if audit.get("score") is not None and audit["score"] < 0.9 and audit.get("scoreDisplayMode") in ("binary", "numeric", "metricSavings"):
        print(f"    {key}: {audit['title']} ({audit.get('displayValue', '')})")
PY
done
