"""The limiter skips browser reads (ratelimits.unlimited_read): that is only right while
every limit of the browser site is on a POST and only the API limits its reads. These
tests read the limits the app declared, so a new limit on a browser GET fails here
instead of being silently skipped."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask_limiter.util import get_qualified_name

from filmsphere import create_app
from filmsphere.extensions import limiter
from filmsphere.ratelimits import LIMITED_BLUEPRINTS_FOR_READS, unlimited_read


def _app(tmp_path: Path) -> Flask:
    return create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path)})


def test_every_browser_limit_is_on_posts_only(tmp_path: Path) -> None:
    app = _app(tmp_path)
    decorated = limiter.limit_manager._decorated_limits
    seen, reads_limited = 0, []
    for rule in app.url_map.iter_rules():
        name = get_qualified_name(app.view_functions[rule.endpoint])
        for group in decorated.get(name, ()):
            with app.test_request_context():  # a group reads its limit from the config
                limits = list(group)
            for limit in limits:
                seen += 1
                methods = set(limit.methods or (m.lower() for m in rule.methods or ()))
                if methods & {"get", "head"} and rule.endpoint.split(".")[0] != "api":
                    reads_limited.append((rule.rule, sorted(methods)))
    assert seen >= 8, "the site declares limits: the walk must see them"
    assert reads_limited == []
    assert set(limiter.limit_manager._blueprint_limits) <= LIMITED_BLUEPRINTS_FOR_READS


def test_the_filter_skips_browser_reads_and_never_the_api_or_a_post(tmp_path: Path) -> None:
    app = _app(tmp_path)
    for method, path, skipped in [
        ("GET", "/shows/1/seats", True),
        ("HEAD", "/shows/1", True),
        ("POST", "/shows/1/seats", False),
        ("POST", "/auth/login", False),
        ("GET", "/api/v1/wallet", False),
    ]:
        with app.test_request_context(path, method=method):
            assert unlimited_read() is skipped, (method, path)
