"""The JSON API: tokens, every endpoint's answer and refusals, problem+json, idempotency."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from filmsphere.extensions import db
from filmsphere.models import ApiToken, Booking, LedgerEntry, Role, Show, Ticket, User
from filmsphere.services.accounts.api_tokens import create_token, hash_secret, revoke_token
from filmsphere.services.booking import idempotency
from filmsphere.services.booking.holds import toggle_hold
from filmsphere.services.transaction import set_race_hook
from tests import factories as f
from tests.conftest import get_csrf

from .test_booking_routes import log_in
from .test_holds import seat_id


def token_for(user_id: int, scopes: tuple[str, ...] = ("read", "book")) -> str:
    return create_token(user_id, "test app", list(scopes), f.now()).secret


def call(client: FlaskClient, method: str, path: str, token: str | None, **kw: Any) -> Any:
    headers = dict(kw.pop("headers", {}))
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return client.open(f"/api/v1{path}", method=method, headers=headers, **kw)


def assert_problem(response: Any, status: int, words: str = "") -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and body["title"] and words in body["detail"]
    return body  # type: ignore[no-any-return]


@pytest.fixture
def world(ctx: Flask) -> dict[str, Any]:
    customer = f.make_user(coins=100)
    other = f.make_user()
    show = f.make_show(price=10)
    return {
        "customer": customer.id,
        "other": other.id,
        "show": show.id,
        "movie": show.movie_id,
        "A1": seat_id(show, "A1"),
        "A2": seat_id(show, "A2"),
        "A3": seat_id(show, "A3"),
        "token": token_for(customer.id),
        "other_token": token_for(other.id),
    }


# ------------------------------------------------------------------ tokens and auth


def test_account_page_creates_a_token_shown_once_and_stored_hashed(
    backend: str, app: Flask, client: FlaskClient
) -> None:
    with app.app_context():
        user_id = f.make_user(username="tokenuser").id
    log_in(client, "tokenuser")
    csrf = get_csrf(client, "/account")
    response = client.post(
        "/account/api-tokens",
        data={"csrf_token": csrf, "name": "Kiosk", "scopes": ["read", "book"]},
    )
    assert response.status_code == 201
    html = response.get_data(as_text=True)
    secret = html.split('<code class="token-secret">')[1].split("</code>")[0]
    assert secret.startswith("fs_") and len(secret) > 40
    with app.app_context():
        stored = db.session.scalars(select(ApiToken).where(ApiToken.user_id == user_id)).one()
        assert stored.token_hash == hash_secret(secret) and secret not in stored.token_hash
        assert stored.scope_list == ["read", "book"]
        token_id = stored.id
    page = client.get("/account").get_data(as_text=True)
    assert "Kiosk" in page and secret not in page  # shown once
    # A customer can't ask for check-in; no scope at all is refused.
    bad = client.post(
        "/account/api-tokens", data={"csrf_token": csrf, "name": "Door", "scopes": ["check-in"]}
    )
    assert bad.status_code == 422
    # Without the CSRF token the form is refused.
    assert (
        client.post("/account/api-tokens", data={"name": "x", "scopes": ["read"]}).status_code
        == 400
    )

    api = client.get("/api/v1/wallet", headers={"Authorization": f"Bearer {secret}"})
    assert api.status_code == 200 and api.get_json()["balance_coins"] == 1500
    assert api.headers["Cache-Control"] == "private, no-store"
    with app.app_context():
        assert db.session.scalars(select(ApiToken)).one().last_used_at is not None

    revoked = client.post(f"/account/api-tokens/{token_id}/revoke", data={"csrf_token": csrf})
    assert revoked.status_code == 303
    assert_problem(
        client.get("/api/v1/wallet", headers={"Authorization": f"Bearer {secret}"}), 401, "token"
    )
    # Revoking again, or someone else's token, is a 404.
    again = client.post(f"/account/api-tokens/{token_id}/revoke", data={"csrf_token": csrf})
    assert again.status_code == 404


def test_browser_session_cannot_call_the_api(backend: str, app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        f.make_user(username="sessionuser")
    log_in(client, "sessionuser")
    assert client.get("/wallet").status_code == 200  # the session works on pages
    response = client.get("/api/v1/wallet")
    body = assert_problem(response, 401, "Bearer")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert body["type"] == "about:blank"
    assert "Set-Cookie" not in response.headers


def test_unknown_revoked_and_deactivated_tokens_are_401(
    backend: str, world: dict[str, Any], client: FlaskClient
) -> None:
    assert_problem(call(client, "GET", "/wallet", "fs_not-a-token"), 401)
    assert_problem(call(client, "GET", "/wallet", None), 401)
    revoke_token(world["customer"], _token_id(world["customer"]), f.now())
    assert_problem(call(client, "GET", "/wallet", world["token"]), 401)
    user = f.make_user(active=False)
    assert_problem(call(client, "GET", "/wallet", token_for(user.id)), 401)


def _token_id(user_id: int) -> int:
    return db.session.scalars(select(ApiToken.id).where(ApiToken.user_id == user_id)).first()  # type: ignore[return-value]


def test_wrong_scope_is_403(backend: str, world: dict[str, Any], client: FlaskClient) -> None:
    reader = token_for(world["customer"], ("read",))
    path = f"/shows/{world['show']}/holds/{world['A1']}"
    assert_problem(call(client, "PUT", path, reader), 403, "“book”")
    booker = token_for(world["customer"], ("book",))
    assert_problem(call(client, "GET", "/wallet", booker), 403, "“read”")
    unverified = f.make_user(verified=False)
    assert_problem(
        call(client, "PUT", path, token_for(unverified.id)), 403, "verify your email address"
    )


def test_check_in_needs_staff(backend: str, world: dict[str, Any], client: FlaskClient) -> None:
    from filmsphere.services.errors import Forbidden

    with pytest.raises(Forbidden):
        token_for(world["customer"], ("read", "check-in"))
    staff = f.make_user(Role.STAFF)
    door = token_for(staff.id, ("check-in",))
    soon = f.make_show(starts_in=timedelta(minutes=30))
    booking = f.make_booking(db.session.get(User, world["customer"]), soon, ("A1",))  # type: ignore[arg-type]
    from filmsphere.services.door.ticket_codes import ticket_code

    code = ticket_code(booking.tickets[0])
    first = call(client, "POST", "/check-in", door, json={"code": code})
    assert first.status_code == 200, first.get_data(as_text=True)
    body = first.get_json()
    assert body["outcome"] == "valid" and body["seat_label"] == "A1"
    text = first.get_data(as_text=True)
    customer = db.session.get(User, world["customer"])
    assert customer is not None and customer.email not in text and customer.full_name not in text
    second = call(client, "POST", "/check-in", door, json={"code": code})
    assert second.status_code == 409 and second.get_json()["outcome"] == "already_used"
    assert_problem(call(client, "POST", "/check-in", door, json={"code": "garbage"}), 422)
    assert_problem(call(client, "POST", "/check-in", door, json={}), 422)
    # A member demoted to customer: the token stops checking in.
    staff_row = db.session.get(User, staff.id)
    assert staff_row is not None
    staff_row.role = Role.CUSTOMER
    db.session.commit()
    assert_problem(call(client, "POST", "/check-in", door, json={"code": code}), 403)


# ------------------------------------------------------------------ catalogue


def test_catalogue(backend: str, world: dict[str, Any], client: FlaskClient) -> None:
    token = world["token"]
    films = call(client, "GET", "/films", token)
    assert films.status_code == 200
    items = films.get_json()["items"]
    assert [i["id"] for i in items] == [world["movie"]]
    assert items[0]["next_show_at"] is not None
    assert call(client, "GET", "/films?q=zzzz", token).get_json()["items"] == []
    assert films.get_json()["next"] is None and films.get_json()["previous"] is None
    assert_problem(call(client, "GET", "/films?cursor=abc", token), 400, "page")
    assert_problem(call(client, "GET", "/films?date=31-12-2026", token), 400, "not a date")

    detail = call(client, "GET", f"/films/{world['movie']}", token).get_json()
    assert [s["id"] for s in detail["shows"]] == [world["show"]]
    assert_problem(call(client, "GET", "/films/999999", token), 404, "couldn't find that film")

    starts = db.session.get(Show, world["show"]).starts_at  # type: ignore[union-attr]
    from filmsphere.services.catalogue.catalogue import local_date

    day = call(client, "GET", f"/shows?date={local_date(starts)}", token).get_json()
    assert [s["id"] for fs in day["films"] for s in fs["shows"]] == [world["show"]]
    assert_problem(call(client, "GET", "/shows?date=2026-02-30", token), 400)


# ------------------------------------------------------------------ seats, holds, checkout


def test_seat_map_etag_and_holds(backend: str, world: dict[str, Any], client: FlaskClient) -> None:
    token, show = world["token"], world["show"]
    first = call(client, "GET", f"/shows/{show}/seats", token)
    assert first.status_code == 200 and first.headers["ETag"].startswith('W/"')
    seats = {s["label"]: s for row in first.get_json()["rows"] for s in row["seats"] if s}
    assert seats["A1"]["state"] == "free" and seats["B1"]["category"] == "premium"
    assert seats["B1"]["price_coins"] == 15
    unchanged = call(
        client,
        "GET",
        f"/shows/{show}/seats",
        token,
        headers={"If-None-Match": first.headers["ETag"]},
    )
    assert unchanged.status_code == 304 and unchanged.get_data() == b""

    held = call(client, "PUT", f"/shows/{show}/holds/{world['A1']}", token)
    assert held.status_code == 200, held.get_data(as_text=True)
    assert held.get_json()["action"] == "held"
    assert [s["label"] for s in held.get_json()["basket"]["seats"]] == ["A1"]
    again = call(client, "PUT", f"/shows/{show}/holds/{world['A1']}", token)
    assert again.get_json()["basket"]["total_coins"] == 10  # a repeat holds, never releases

    changed = call(
        client,
        "GET",
        f"/shows/{show}/seats",
        token,
        headers={"If-None-Match": first.headers["ETag"]},
    )
    assert changed.status_code == 200
    theirs = call(client, "GET", f"/shows/{show}/seats", world["other_token"]).get_json()
    states = {s["label"]: s["state"] for row in theirs["rows"] for s in row["seats"] if s}
    assert states["A1"] == "taken"

    taken = call(client, "PUT", f"/shows/{show}/holds/{world['A1']}", world["other_token"])
    assert_problem(taken, 409, "just taken by someone else")
    assert_problem(call(client, "PUT", f"/shows/{show}/holds/999999", token), 404)
    assert_problem(call(client, "GET", "/shows/999999/seats", token), 404, "no such show")

    basket = call(client, "GET", f"/shows/{show}/basket", token).get_json()
    assert basket["total_coins"] == 10 and basket["expires_at"]
    released = call(client, "DELETE", f"/shows/{show}/holds/{world['A1']}", token)
    assert released.get_json()["action"] == "released"
    assert released.get_json()["basket"]["seats"] == []


def test_seat_rule_is_422(
    backend: str, app: Flask, world: dict[str, Any], client: FlaskClient
) -> None:
    app.config["MAX_SEATS_PER_SHOW"] = 1
    show = world["show"]
    call(client, "PUT", f"/shows/{show}/holds/{world['A1']}", world["token"])
    second = call(client, "PUT", f"/shows/{show}/holds/{world['A2']}", world["token"])
    assert_problem(second, 422, "at most 1 seats")


def checkout(client: FlaskClient, world: dict[str, Any], key: str | None, seats: list[int]) -> Any:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return call(
        client,
        "POST",
        f"/shows/{world['show']}/checkout",
        world["token"],
        headers=headers,
        json={"seat_ids": seats},
    )


def charges() -> int:
    db.session.expire_all()
    return (
        db.session.scalar(
            select(func.count())
            .select_from(LedgerEntry)
            .where(LedgerEntry.kind == "booking_charge")
        )
        or 0
    )


def test_checkout_is_idempotent(backend: str, world: dict[str, Any], client: FlaskClient) -> None:
    show = world["show"]
    seats = [world["A1"], world["A2"]]
    for seat in seats:
        call(client, "PUT", f"/shows/{show}/holds/{seat}", world["token"])
    assert_problem(checkout(client, world, None, seats), 400)
    paid = checkout(client, world, "key-1", seats)
    assert paid.status_code == 201, paid.get_data(as_text=True)
    body = paid.get_json()
    assert body["total_coins"] == 20 and len(body["tickets"]) == 2
    assert all(t["code"] for t in body["tickets"])
    assert paid.headers["Location"].endswith(f"/api/v1/bookings/{body['reference']}")
    replay = checkout(client, world, "key-1", seats)
    assert replay.status_code == 201 and replay.get_json()["reference"] == body["reference"]
    assert charges() == 1
    assert_problem(checkout(client, world, "key-1", [world["A1"]]), 422, "different request")
    wallet = call(client, "GET", "/wallet", world["token"]).get_json()
    assert wallet["balance_coins"] == 80 and wallet["entries"][0]["amount_coins"] == -20
    # A new key with nothing held: the page's words.
    assert_problem(checkout(client, world, "key-2", []), 422, "no seats held")


def test_checkout_refusals(backend: str, world: dict[str, Any], client: FlaskClient) -> None:
    show = world["show"]
    poor = f.make_user(coins=5)
    world = world | {"token": token_for(poor.id)}
    call(client, "PUT", f"/shows/{show}/holds/{world['A3']}", world["token"])
    assert_problem(checkout(client, world, "k", [world["A3"]]), 422, "coins")
    assert_problem(
        call(
            client,
            "POST",
            "/shows/999999/checkout",
            world["token"],
            headers={"Idempotency-Key": "z"},
            json={},
        ),
        404,
    )
    assert_problem(
        call(
            client,
            "POST",
            f"/shows/{show}/checkout",
            world["token"],
            headers={"Idempotency-Key": "y"},
            data="{",
            content_type="application/json",
        ),
        400,
    )


@pytest.mark.postgres_only
@pytest.mark.parametrize("guard", ["on", "off"])
def test_checkout_racing_itself_charges_once(
    backend: str, app: Flask, guard: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two requests with one Idempotency-Key, both past the key check before either pays:
    both answer the same booking, charged once. Negative control: with the key ignored
    (each request its own checkout token) the second payer is refused instead of given
    the booking — the test can tell."""
    with app.app_context():
        user = f.make_user(coins=100)
        show = f.make_show(price=10)
        seat = seat_id(show, "A1")
        toggle_hold(user.id, show.id, seat, f.now())
        token = token_for(user.id)
        show_id = show.id
    if guard == "off":
        real = idempotency.checkout_token_for
        counter = iter(range(100))
        monkeypatch.setattr(
            "filmsphere.blueprints.api.routes.checkout_token_for",
            lambda *a: real(*a) + f"-{next(counter)}",
        )
    barrier = threading.Barrier(2, timeout=10)
    set_race_hook("idempotency.after_claim", lambda: _wait(barrier))
    results: list[tuple[int, str]] = []

    def pay() -> None:
        response = app.test_client().post(
            f"/api/v1/shows/{show_id}/checkout",
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "same"},
            json={"seat_ids": [seat]},
        )
        results.append((response.status_code, (response.get_json() or {}).get("reference", "")))

    threads = [threading.Thread(target=pay) for _ in range(2)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        set_race_hook("idempotency.after_claim", None)
    with app.app_context():
        counts = (
            db.session.scalar(select(func.count()).select_from(Booking)),
            db.session.scalar(select(func.count()).select_from(Ticket)),
            charges(),
        )
        assert counts == (1, 1, 1)  # coins: the holds make a double sale impossible anyway
        same_booking = [r[0] for r in results] == [201, 201] and results[0][1] == results[1][1]
        if guard == "on":
            assert same_booking, results
        else:
            assert not same_booking, "negative control: without the key a retry is refused"


def _wait(barrier: threading.Barrier) -> None:
    barrier.wait()


# ------------------------------------------------------------------ bookings, quote, cancel


def test_bookings_quote_and_cancel(
    backend: str, world: dict[str, Any], client: FlaskClient
) -> None:
    customer = db.session.get(User, world["customer"])
    show = db.session.get(Show, world["show"])
    booking = f.make_booking(customer, show, ("A1", "A2"))  # type: ignore[arg-type]
    ref = booking.reference
    token = world["token"]
    listed = call(client, "GET", "/bookings", token).get_json()
    assert [b["reference"] for b in listed["items"]] == [ref]
    assert listed["next"] is None and listed["previous"] is None
    one = call(client, "GET", f"/bookings/{ref.lower()}", token).get_json()
    assert one["reference"] == ref and {t["seat_label"] for t in one["tickets"]} == {"A1", "A2"}
    assert all(t["code"] for t in one["tickets"])
    assert_problem(call(client, "GET", f"/bookings/{ref}", world["other_token"]), 404)
    assert call(client, "GET", "/bookings", world["other_token"]).get_json()["items"] == []

    first_ticket = one["tickets"][0]["id"]
    quote = call(client, "GET", f"/bookings/{ref}/refund-quote?ticket_id={first_ticket}", token)
    assert quote.status_code == 200
    q = quote.get_json()
    assert q["percent"] == 100 and q["refund_coins"] == 10 and len(q["lines"]) == 1
    assert_problem(call(client, "GET", f"/bookings/{ref}/refund-quote", world["other_token"]), 404)
    stale = call(
        client,
        "POST",
        f"/bookings/{ref}/cancel",
        token,
        json={"ticket_ids": [first_ticket], "expected_refund_coins": 3},
    )
    body = assert_problem(stale, 409, "Nothing was cancelled")
    assert body["quote"]["refund_coins"] == 10
    done = call(
        client,
        "POST",
        f"/bookings/{ref}/cancel",
        token,
        json={"ticket_ids": [first_ticket], "expected_refund_coins": 10},
    )
    assert done.status_code == 200 and done.get_json()["refund_coins"] == 10
    again = call(
        client,
        "POST",
        f"/bookings/{ref}/cancel",
        token,
        json={"ticket_ids": [first_ticket], "expected_refund_coins": 10},
    )
    assert_problem(again, 409, "Already cancelled: seat A1.")
    assert_problem(
        call(client, "POST", f"/bookings/{ref}/cancel", token, json={"ticket_ids": []}), 422
    )
    wallet = call(client, "GET", "/wallet", token).get_json()
    assert wallet["entries"][0]["kind"] == "refund" and wallet["entries"][0]["amount_coins"] == 10


# ------------------------------------------------------------------ errors and limits


def test_rate_limit_is_per_token_and_a_problem(
    backend: str, app: Flask, world: dict[str, Any], client: FlaskClient
) -> None:
    app.config["RATELIMIT_API"] = "3 per minute"
    for _ in range(3):
        assert call(client, "GET", "/wallet", world["token"]).status_code == 200
    limited = call(client, "GET", "/wallet", world["token"])
    assert_problem(limited, 429, "Too many")
    assert int(limited.headers["Retry-After"]) >= 1
    assert call(client, "GET", "/wallet", world["other_token"]).status_code == 200


def test_unknown_path_method_and_spec(
    backend: str, world: dict[str, Any], client: FlaskClient
) -> None:
    assert_problem(call(client, "GET", "/nowhere", world["token"]), 404)
    assert_problem(call(client, "PATCH", "/wallet", world["token"]), 405)
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"] == "3.1.0"
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    docs = client.get("/api/docs")
    assert docs.status_code == 200 and "swagger-ui-5.35.0" in docs.get_data(as_text=True)
    assert "script-src 'self'" in docs.headers["Content-Security-Policy"]


def test_started_show_quote_and_cancel_are_409(
    backend: str, world: dict[str, Any], client: FlaskClient
) -> None:
    started = f.make_show(starts_in=timedelta(minutes=-5))
    customer = db.session.get(User, world["customer"])
    booking = f.make_booking(customer, started, ("A1",))  # type: ignore[arg-type]
    path = f"/bookings/{booking.reference}"
    words = "This show has started"
    assert_problem(call(client, "GET", f"{path}/refund-quote", world["token"]), 409, words)
    cancel = call(
        client, "POST", f"{path}/cancel", world["token"], json={"expected_refund_coins": 0}
    )
    assert_problem(cancel, 409, words)
    seats = call(client, "GET", f"/shows/{started.id}/seats", world["token"]).get_json()
    assert seats["bookable"] is False and seats["not_bookable_reason"]
    hold = call(
        client, "PUT", f"/shows/{started.id}/holds/{seat_id(started, 'A2')}", world["token"]
    )
    assert_problem(hold, 409)


def test_quick_pick_holds_a_block(backend: str, world: dict[str, Any], client: FlaskClient) -> None:
    """The seat map's quick pick through the API: a block held and in the basket; too many
    (422), no block of that size left together (409), a read-only token (403), no show."""
    path = f"/shows/{world['show']}/quick-pick"
    picked = call(client, "POST", path, world["token"], json={"count": 2})
    assert picked.status_code == 200, picked.get_data(as_text=True)
    body = picked.get_json()
    assert len(body["seat_ids"]) == 2 and len(body["basket"]["seats"]) == 2
    assert sorted(s["id"] for s in body["basket"]["seats"]) == sorted(body["seat_ids"])
    assert_problem(call(client, "POST", path, world["token"], json={"count": 11}), 422)
    too_many = call(client, "POST", path, world["token"], json={"count": 7})
    refused = assert_problem(too_many, 409, "the most together now is 6")
    # What is left, for the client's next ask (its own 2 seats count: a pick replaces them).
    assert (refused["largest_block"], refused["free_seats"], refused["held_seats"]) == (6, 12, 0)
    assert refused["sold_out"] is False and "Retry-After" not in too_many.headers
    reader = token_for(world["customer"], ("read",))
    assert_problem(call(client, "POST", path, reader, json={"count": 1}), 403)
    assert_problem(
        call(client, "POST", "/shows/999999/quick-pick", world["token"], json={"count": 1}), 404
    )


def test_bookings_and_wallet_page_by_cursor(
    backend: str, world: dict[str, Any], client: FlaskClient
) -> None:
    """The API lists page like the pages: `next` / `previous` cursors, 10 bookings or 20
    ledger entries a page, past bookings apart, a forged cursor a 400 problem."""
    customer = db.session.get(User, world["customer"])
    shows = [f.make_show(starts_in=timedelta(days=d + 1)) for d in range(12)]
    refs = [f.make_booking(customer, s, ("A1",), price=5).reference for s in shows]  # type: ignore[arg-type]
    token = world["token"]
    first = call(client, "GET", "/bookings", token).get_json()
    assert [b["reference"] for b in first["items"]] == refs[:10]  # soonest first
    assert first["previous"] is None and first["next"]
    second = call(client, "GET", f"/bookings?cursor={first['next']}", token).get_json()
    assert [b["reference"] for b in second["items"]] == refs[10:] and second["next"] is None
    back = call(client, "GET", f"/bookings?cursor={second['previous']}", token).get_json()
    assert [b["reference"] for b in back["items"]] == refs[:10]
    assert call(client, "GET", "/bookings?list=past", token).get_json()["items"] == []
    assert_problem(call(client, "GET", "/bookings?cursor=not-a-cursor", token), 400, "page")
    assert_problem(call(client, "GET", "/bookings?list=all", token), 422)

    wallet = call(client, "GET", "/wallet", token).get_json()
    assert len(wallet["entries"]) == 13 and wallet["next"] is None  # the grant and 12 charges
    assert wallet["entries"][0]["amount_coins"] < 0 and wallet["entries"][-1]["amount_coins"] > 0
    assert_problem(call(client, "GET", "/wallet?cursor=x", token), 400, "page")


def test_films_page_by_cursor_in_title_order(
    backend: str, world: dict[str, Any], client: FlaskClient
) -> None:
    """14 films showing: 12, then 2, by title (case folded as the database folds it),
    and back; the cursor keeps the filters' results."""
    for n in range(13):
        f.make_show(f.make_movie(title=f"Zeta {n:02d}"), starts_in=timedelta(days=1))
    token = world["token"]
    first = call(client, "GET", "/films", token).get_json()
    titles = [i["title"] for i in first["items"]]
    assert len(titles) == 12 and titles == sorted(titles, key=str.lower)
    second = call(client, "GET", f"/films?cursor={first['next']}", token).get_json()
    assert [i["title"] for i in second["items"]] == ["Zeta 11", "Zeta 12"]
    assert second["next"] is None
    back = call(client, "GET", f"/films?cursor={second['previous']}", token).get_json()
    assert [i["title"] for i in back["items"]] == titles
    searched = call(client, "GET", "/films?q=zeta", token).get_json()
    assert [i["title"] for i in searched["items"]] == [f"Zeta {n:02d}" for n in range(12)]
