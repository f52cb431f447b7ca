"""Progressive web app: manifest, service worker, offline page."""
