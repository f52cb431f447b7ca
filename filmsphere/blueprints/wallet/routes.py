"""Wallet balance and ledger, refill, Stripe top-up and webhook."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required
from werkzeug.wrappers import Response as BaseResponse

from ...htmx import is_partial_request, trigger
from ...models import utcnow
from ...refusals import renders_refusals
from ...services.errors import DomainError, NotFound
from ...services.wallet.wallet_page import WalletPage, customer_wallet_page
from ...wording import format_coins
from ..topup.routes import topup_panel_data

bp = Blueprint("wallet", __name__)


def _page_data(cursor: str | None) -> WalletPage:
    try:
        return customer_wallet_page(current_user.id, cursor, utcnow())
    except NotFound:
        # An account without a wallet (never for customers) sees an empty one.
        return WalletPage(0, [], None, None, True, False, 0, 0, None, True)


@bp.get("/wallet")
@login_required
def wallet() -> Any:
    """Balance, the ledger newest first (20 a page, `page` a cursor) and the refill button.
    htmx paging asks for the ledger fragment only; a forged cursor is a 400."""
    data = _page_data(request.args.get("page"))
    context = {"w": data, "message": None, "message_kind": "info"}
    if is_partial_request() and request.headers.get("HX-Target") == "ledger":
        return render_template("wallet/_ledger.html", **context)
    return render_template("wallet/wallet.html", topup=topup_panel_data(), **context)


def _refill_refused(error: DomainError) -> BaseResponse:
    return _refill_answer(error.message, "error", error.status)


@bp.post("/wallet/refill")
@renders_refusals(_refill_refused)
@login_required
def refill() -> BaseResponse:
    """Top the balance back up to the refill target (where enabled, at most once per
    interval). htmx: the summary with the message and the ledger out of band."""
    from ...services.wallet.wallet import refill as run_refill

    if not current_app.config["REFILL_ENABLED"]:
        return _refill_answer("Refill is not available here.", "error", 404)
    entry = run_refill(current_user.id, utcnow())
    message = (
        f"Refilled {format_coins(entry.amount_coins)}: your balance is "
        f"{format_coins(entry.balance_after_coins)}."
    )
    return _refill_answer(message, "success", 200)


def _refill_answer(message: str, kind: str, status: int) -> BaseResponse:
    """htmx: the summary with the message and the ledger out of band; otherwise flash
    and 303 back to the wallet."""
    if not is_partial_request():
        flash(message, kind)
        return redirect(url_for("wallet.wallet"), 303)
    data = _page_data(None)
    context = {"w": data, "message": message, "message_kind": kind}
    body = render_template("wallet/_wallet_summary.html", **context) + render_template(
        "wallet/_ledger.html", oob=True, **context
    )
    response = make_response(body, 422 if status == 404 else status)
    if status == 200:
        trigger(response, "wallet-changed")
    return response
