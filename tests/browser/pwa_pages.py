"""Every page type of the site, seeded once, for the accessibility, phone and weight walks.

Add a page type by appending a PageType to PAGE_TYPES. Admin pages are also discovered from
the URL map: every GET route of the admin blueprint whose arguments a Seed can fill in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask import url_for

from filmsphere.clock import to_local
from filmsphere.models import Role

from .. import factories
from .conftest import LiveServer, log_in

# Visitor = None; the others log in with the seeded account of that role.
ROLES = (None, Role.CUSTOMER, Role.STAFF, Role.ADMIN)


@dataclass
class Seed:
    logins: dict[Role, str]
    movie_id: int
    show_id: int
    basket_show_id: int
    booking_ref: str
    booking_id: int
    screen_id: int
    customer_id: int
    held: bool
    day: str
    extra: dict[str, Any] = field(default_factory=dict)

    def url_args(self) -> dict[str, Any]:
        """Values for the URL arguments of parametrised routes (admin pages included)."""
        return {
            "movie_id": self.movie_id,
            "show_id": self.show_id,
            "screen_id": self.screen_id,
            "booking_id": self.booking_id,
            "user_id": self.customer_id,
            "reference": self.booking_ref,
            "ref": self.booking_ref,
        }


@dataclass(frozen=True)
class PageType:
    name: str
    endpoint: str | None  # None: no endpoint needed (e.g. the 404 page)
    role: Role | None
    path: Callable[[Seed], str]
    status: int = 200


PAGE_TYPES: list[PageType] = [
    PageType("home", "public.index", None, lambda s: "/"),
    PageType("film list", "public.movies", None, lambda s: "/movies"),
    PageType("film search", "public.movies", None, lambda s: "/movies?q=Sphere"),
    PageType("film detail", "public.movie_detail", None, lambda s: f"/movies/{s.movie_id}"),
    PageType("day listing", "public.shows", None, lambda s: f"/shows?date={s.day}"),
    PageType("seat map (visitor)", "booking.seat_map", None, lambda s: f"/shows/{s.show_id}"),
    PageType(
        "seat map with basket",
        "booking.seat_map",
        Role.CUSTOMER,
        lambda s: f"/shows/{s.basket_show_id}",
    ),
    PageType("my bookings", "bookings.my_bookings", Role.CUSTOMER, lambda s: "/bookings"),
    PageType(
        "booking", "bookings.booking_detail", Role.CUSTOMER, lambda s: f"/bookings/{s.booking_ref}"
    ),
    PageType(
        "ticket view",
        "bookings.ticket_view",
        Role.CUSTOMER,
        lambda s: f"/bookings/{s.booking_ref}/tickets",
    ),
    PageType(
        "cancel booking",
        "bookings.cancel",
        Role.CUSTOMER,
        lambda s: f"/bookings/{s.booking_ref}/cancel",
    ),
    PageType(
        "exchange: pick a show",
        "bookings.exchange_pick_show",
        Role.CUSTOMER,
        lambda s: f"/bookings/{s.booking_ref}/exchange",
    ),
    PageType(
        "exchange: review",
        "bookings.exchange_review",
        Role.CUSTOMER,
        lambda s: f"/bookings/{s.booking_ref}/exchange/review?show={s.basket_show_id}",
    ),
    PageType(
        "send a ticket",
        "bookings.send_ticket",
        Role.CUSTOMER,
        lambda s: f"/bookings/{s.booking_ref}/send",
    ),
    PageType(
        "ticket link not valid",
        "transfers.offer",
        None,
        lambda s: "/transfers/not-a-valid-link",
        status=404,
    ),
    PageType("wallet", "wallet.wallet", Role.CUSTOMER, lambda s: "/wallet"),
    PageType("account", "auth.account", Role.CUSTOMER, lambda s: "/account"),
    PageType("close account", "auth.close_account", Role.CUSTOMER, lambda s: "/account/close"),
    PageType(
        "expired email-change link",
        "auth.confirm_email",
        None,
        lambda s: "/account/email/not-a-valid-token",
        status=410,
    ),
    PageType("log in", "auth.login", None, lambda s: "/auth/login"),
    PageType("register", "auth.register", None, lambda s: "/auth/register"),
    PageType("password reset", "auth.reset_request", None, lambda s: "/auth/reset"),
    PageType("verify email", "auth.verify", None, lambda s: "/auth/verify"),
    PageType(
        "expired reset link",
        "auth.reset_password",
        None,
        lambda s: "/auth/reset/not-a-valid-token",
        status=410,
    ),
    PageType("check-in", "staff.check_in", Role.STAFF, lambda s: "/staff/check-in"),
    PageType("admin dashboard", "admin.dashboard", Role.ADMIN, lambda s: "/admin/"),
    PageType("not found", None, None, lambda s: "/no-such-page", status=404),
    PageType("forbidden", "admin.dashboard", Role.STAFF, lambda s: "/admin/", status=403),
    PageType("offline", "pwa.offline", None, lambda s: "/offline"),
]


def seed(live: LiveServer) -> Seed:
    """A customer with a paid booking and a held seat (the basket), staff, admin, a film."""
    from filmsphere.extensions import db

    with live.app.app_context():
        customer = factories.make_user(Role.CUSTOMER, username="carla")
        factories.make_user(Role.STAFF, username="stan")
        factories.make_user(Role.ADMIN, username="ada")
        movie = factories.make_movie(
            "FilmSphere Nights", genres=("Drama", "Comedy"), description="A night at the films."
        )
        screen = factories.make_screen("SSSSSSSS\nPPP..PPP\nVVWCCWVV", name="Screen 1")
        show = factories.make_show(movie, screen, starts_in=timedelta(days=1, hours=2))
        basket_show = factories.make_show(movie, screen, starts_in=timedelta(days=2, hours=2))
        booking = factories.make_booking(customer, show, ("A3", "A4"))
        held = hold_seat(customer.id, basket_show.id)
        undelivered_mail(customer, booking.id)
        result = Seed(
            logins={Role.CUSTOMER: "carla", Role.STAFF: "stan", Role.ADMIN: "ada"},
            movie_id=movie.id,
            show_id=show.id,
            basket_show_id=basket_show.id,
            booking_ref=booking.reference,
            booking_id=booking.id,
            screen_id=screen.id,
            customer_id=customer.id,
            held=held,
            day=to_local(show.starts_at).date().isoformat(),
        )
        db.session.remove()
    return result


def undelivered_mail(user: Any, booking_id: int) -> None:
    """One message waiting for a retry and one given up, for the admin mail page."""
    from filmsphere.services.mail.outbox import queue_email
    from filmsphere.services.transaction import write_transaction

    now = factories.now()
    cancelled = {"cancelled": [], "refund_coins": 0, "remaining": [], "sequence": 1}
    with write_transaction():
        for kind, status, facts in (
            ("booking_confirmation", "pending", {}),
            ("booking_cancelled", "failed", cancelled),
        ):
            message = queue_email(kind=kind, to=user.email, now=now, booking_id=booking_id, **facts)
            message.status = status
            message.attempts = 3
            message.last_error = "ConnectionRefusedError: [Errno 111] Connection refused"
            message.failed_at = now if status == "failed" else None


def hold_seat(user_id: int, show_id: int) -> bool:
    """Hold one seat through the real service, if it exists yet."""
    try:
        from filmsphere.services.booking.holds import toggle_hold
    except ImportError:
        return False
    from filmsphere.extensions import db
    from filmsphere.models import Seat, Show

    show = db.session.get(Show, show_id)
    assert show is not None
    seat = db.session.scalar(
        db.select(Seat).where(Seat.screen_id == show.screen_id).order_by(Seat.id).limit(1)
    )
    assert seat is not None
    toggle_hold(user_id, show_id, seat.id, factories.now())
    return True


def admin_pages(live: LiveServer, seed: Seed) -> list[PageType]:
    """Every admin GET page whose URL arguments the seed can fill in."""
    pages = []
    args = seed.url_args()
    for rule in live.app.url_map.iter_rules():
        if not rule.endpoint.startswith("admin.") or "GET" not in (rule.methods or ()):
            continue
        if rule.endpoint == "admin.dashboard" or not set(rule.arguments) <= set(args):
            continue
        if any(part in rule.rule for part in (".csv", ".ics", ".png", ".svg", ".json", "export")):
            continue  # downloads, not pages
        values = {name: args[name] for name in rule.arguments}
        with live.app.test_request_context():
            path = url_for(rule.endpoint, **values)
        pages.append(
            PageType(f"admin {rule.endpoint[6:]}", rule.endpoint, Role.ADMIN, _const(path))
        )
    return sorted(pages, key=lambda p: p.name)


def _const(path: str) -> Callable[[Seed], str]:
    return lambda s: path


def available_pages(live: LiveServer, seed: Seed) -> list[PageType]:
    """All page types plus the discovered admin pages. A page type whose endpoint is gone
    (renamed, removed) fails the walk: it must be updated here, not silently skipped."""
    endpoints = set(live.app.view_functions)
    missing = [
        f"{page_type.name} ({page_type.endpoint})"
        for page_type in PAGE_TYPES
        if page_type.endpoint is not None and page_type.endpoint not in endpoints
    ]
    if not seed.held:
        missing.append("seat map with basket (services.holds.toggle_hold)")
    assert missing == [], f"page types without their endpoint: {missing}"
    return PAGE_TYPES + admin_pages(live, seed)


@contextmanager
def role_pages(
    browser: Any, live: LiveServer, seed: Seed, **context_options: Any
) -> Iterator[Callable[[Role | None], Any]]:
    """One logged-in browser page per role, opened on first use, closed at the end."""
    contexts: list[Any] = []
    pages: dict[Role | None, Any] = {}

    def page_for(role: Role | None) -> Any:
        if role not in pages:
            context = browser.new_context(**context_options)
            context.set_default_timeout(10_000)
            contexts.append(context)
            page = context.new_page()
            if role is not None:
                log_in(page, live, seed.logins[role], factories.PASSWORD)
            pages[role] = page
        return pages[role]

    try:
        yield page_for
    finally:
        for context in contexts:
            context.close()


def visit(page: Any, live: LiveServer, seed: Seed, page_type: PageType) -> str | None:
    """Open the page; returns a problem description if it didn't load as expected."""
    response = page.goto(live.path(page_type.path(seed)), wait_until="load")
    if response is None:
        return "no response"
    if response.status != page_type.status:
        return f"status {response.status}, expected {page_type.status}"
    if page_type.role is not None and "/auth/login" in page.url:
        return "redirected to log in"
    return None
