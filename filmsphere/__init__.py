"""FilmSphere: cinema ticket booking with coins. create_app() builds the application."""

from __future__ import annotations

from typing import Any, cast

from flask import Flask

from .config import PROJECT_ROOT, load_config


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app for FILMSPHERE_ENV (production unless told), with `config` overrides."""
    settings = load_config(config)
    app = Flask(__name__, instance_path=settings["INSTANCE_PATH"], instance_relative_config=False)
    app.config.update(settings)

    register_proxy(app)
    register_request_guard(app)
    register_extensions(app)
    register_url_converters(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_template_helpers(app)
    register_commands(app)
    from .security import register_security_headers

    register_security_headers(app)
    from .services.mail.mailer import register_sender

    register_sender(app)
    from .ratelimits import warn_if_limits_are_per_process

    warn_if_limits_are_per_process(app)
    return app


def register_request_guard(app: Flask) -> None:
    """First of the before-request hooks, so refused text reaches nothing else (CSRF,
    rate-limit keys, the user load)."""
    from .request_guard import register

    register(app)


def register_proxy(app: Flask) -> None:
    """Behind PROXY_COUNT reverse proxies, take the client's address and scheme from the
    X-Forwarded-For / -Proto headers they add (the rightmost PROXY_COUNT entries: a value
    the client wrote itself further left is never trusted)."""
    hops = int(app.config.get("PROXY_COUNT") or 0)
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]


def register_extensions(app: Flask) -> None:
    from .extensions import csrf, db, limiter, login_manager, mail, migrate
    from .pool import ping_after_idle
    from .services.transaction import configure_sqlite

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    mail.init_app(app)
    limiter.init_app(app)
    # flask-login's own context processor loads the user for every template rendered.
    # A full page needs them (the menu) and loads them here, before rendering (templates
    # never query); an htmx fragment gets the lazy proxy, which loads them only if its
    # template asks (a polled seat grid never does; views that need the user have it).
    login_manager.init_app(app, add_context_processor=False)

    @app.context_processor
    def _current_user() -> dict[str, Any]:
        from flask import has_request_context
        from flask_login import current_user

        from .htmx import is_partial_request

        if has_request_context() and is_partial_request():
            return {"current_user": current_user}
        return {"current_user": current_user._get_current_object()}

    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to continue."
    login_manager.login_message_category = "info"

    @login_manager.unauthorized_handler
    def log_in_first() -> Any:
        # flask-login's own handler copies the whole request URL into `next`, however
        # long; this one keeps it to a short local path.
        from flask import flash, redirect, url_for

        from .security import next_here

        flash(login_manager.login_message, login_manager.login_message_category)
        return redirect(url_for("auth.login", next=next_here()))

    with app.app_context():
        ping_after_idle(db.engine, app.config["DB_PING_AFTER_IDLE_SECONDS"])
        if db.engine.dialect.name == "sqlite":
            configure_sqlite(db.engine)

    from .models.types import utcnow
    from .security import preloaded_user
    from .services.accounts.sessions import SignedInUser
    from .services.accounts.sessions import load_user as load_session_user

    @login_manager.user_loader
    def load_user(session_key: str) -> SignedInUser | None:
        # One query: the user, if the log-in session the cookie names is still live;
        # none when the view read them with that check already (security.preload_user).
        known, user = preloaded_user(session_key)
        if known:
            return cast(SignedInUser | None, user)
        return load_session_user(session_key, utcnow())


MAX_DB_INT = 2**31 - 1


def register_url_converters(app: Flask) -> None:
    """Ids in URLs are database integers: a larger number is a 404, not an overflow 500."""
    from werkzeug.routing import IntegerConverter

    class DatabaseIntConverter(IntegerConverter):
        def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:  # noqa: A002
            kwargs.setdefault("max", MAX_DB_INT)
            super().__init__(map, *args, **kwargs)

    app.url_map.converters["int"] = DatabaseIntConverter


def register_blueprints(app: Flask) -> None:
    from .blueprints.admin.routes import bp as admin_bp
    from .blueprints.auth.routes import bp as auth_bp
    from .blueprints.booking.routes import bp as booking_bp
    from .blueprints.bookings.routes import bp as bookings_bp
    from .blueprints.public.routes import bp as public_bp
    from .blueprints.pwa.routes import bp as pwa_bp
    from .blueprints.reminders.routes import bp as reminders_bp
    from .blueprints.staff.routes import bp as staff_bp
    from .blueprints.topup.routes import bp as topup_bp
    from .blueprints.transfers.routes import bp as transfers_bp
    from .blueprints.wallet.routes import bp as wallet_bp

    for bp in (
        public_bp,
        auth_bp,
        booking_bp,
        bookings_bp,
        wallet_bp,
        staff_bp,
        admin_bp,
        pwa_bp,
    ):
        app.register_blueprint(bp)
    app.register_blueprint(topup_bp)  # routes answer 404 unless Stripe is configured
    app.register_blueprint(reminders_bp)
    app.register_blueprint(transfers_bp)
    from .blueprints.api import spec
    from .blueprints.api.docs import bp as api_docs_bp

    spec.register(app)
    app.register_blueprint(api_docs_bp)


def register_errorhandlers(app: Flask) -> None:
    from . import errors, refusals

    errors.register(app)
    refusals.register(app)


def register_template_helpers(app: Flask) -> None:
    from .templating import register

    register(app)


def register_commands(app: Flask) -> None:
    from .cli import register

    register(app)
