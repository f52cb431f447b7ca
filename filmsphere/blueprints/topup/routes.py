"""Stripe top-up routes: POST /wallet/topup (to Stripe Checkout) and POST /stripe/webhook.

Both exist only when FILMSPHERE_STRIPE_SECRET_KEY is set; otherwise they answer 404 and
the wallet's top-up panel renders nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, request
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required

from ...errors import DATABASE_UNAVAILABLE, discard_session, render_error
from ...extensions import csrf, limiter
from ...models import TopUp, utcnow
from ...ratelimits import user_or_address
from ...refusals import default_response, renders_refusals, status_and_message
from ...services.errors import DomainError
from ...services.wallet import topup as topup_service
from .forms import TopUpForm

bp = Blueprint("topup", __name__)
log = logging.getLogger(__name__)
WALLET_PATH = "/wallet"  # public contract (PRODUCT.md), also Stripe's return address
RECENT_TOPUPS = 20


@bp.url_value_preprocessor
def _only_when_configured(endpoint: str | None, values: dict[str, Any] | None) -> None:
    # Runs before any before_request hook (CSRF included): with Stripe off the routes are
    # simply not there, whatever the request carries.
    if not topup_service.is_enabled():
        abort(404)


def _rate_limit() -> str:
    return str(current_app.config.get("RATELIMIT_TOPUP") or "10 per minute")


def _start_refused(error: DomainError) -> ResponseReturnValue:
    """Stripe unreachable: say so on the wallet page (nothing was recorded)."""
    if isinstance(error, topup_service.PaymentProviderError):
        flash(error.message, "error")
        return redirect(WALLET_PATH, 303)
    return default_response(error)


@bp.post("/wallet/topup")
@renders_refusals(_start_refused)
@login_required
@limiter.limit(_rate_limit, key_func=user_or_address)
def start() -> ResponseReturnValue:
    """Create a Checkout Session for the chosen pack and send the customer to Stripe (303).

    Unknown pack -> 422; Stripe unavailable -> message on the wallet page, nothing recorded.
    """
    form = TopUpForm()
    if not form.validate():
        return render_error(422, "Please choose one of the coin packs on offer.")
    started = topup_service.start_topup(current_user.id, form.pack.data, form.nonce.data, utcnow())
    return redirect(started.url, 303)


def _webhook_refused(error: DomainError) -> ResponseReturnValue:
    """JSON for Stripe; a bad signature is 400, anything else (e.g. the customer has no
    wallet) keeps Stripe retrying."""
    status, message = status_and_message(error)
    if not isinstance(error, topup_service.InvalidWebhook):
        log.error("Stripe event not applied: %s", message)
    return jsonify(error=message), status


@bp.post("/stripe/webhook")
@renders_refusals(_webhook_refused)
@csrf.exempt
def webhook() -> ResponseReturnValue:
    """Stripe's event delivery. 400 bad signature; 200 for handled, duplicate, unpaid and
    ignored events; 503 when the database is unavailable, so that Stripe retries."""
    event = topup_service.verify_event(
        request.get_data(cache=False), request.headers.get("Stripe-Signature")
    )
    try:
        outcome = topup_service.handle_event(event, utcnow())
    except DATABASE_UNAVAILABLE:
        log.exception("Stripe event %s not applied: database unavailable", event.get("id"))
        discard_session()
        return jsonify(error="Database unavailable; please retry."), 503
    log.info("Stripe event %s (%s): %s", event.get("id"), event["type"], outcome)
    return jsonify(received=True, outcome=outcome), 200


# --- the wallet page's panel -----------------------------------------------------------------


@dataclass(frozen=True)
class TopUpRow:
    pack_id: str
    coins: int
    amount_label: str
    status: str
    created_at: datetime
    completed_at: datetime | None


@dataclass(frozen=True)
class TopUpPanel:
    packs: list[topup_service.CoinPack]
    topups: list[TopUpRow]
    nonce: str
    notice: str | None  # "success" / "cancelled" when back from Stripe


def topup_row(topup: TopUp) -> TopUpRow:
    return TopUpRow(
        pack_id=topup.pack_id,
        coins=topup.coins,
        amount_label=topup_service.format_money(topup.amount_minor, topup.currency),
        status=topup.status,
        created_at=topup.created_at,
        completed_at=topup.completed_at,
    )


def topup_panel_data() -> TopUpPanel | None:
    """What templates/topup/_topup_panel.html shows (the wallet view passes it as
    `topup`); None hides the panel (Stripe off, or nobody signed in)."""
    if not topup_service.is_enabled() or not current_user.is_authenticated:
        return None
    notice = request.args.get("topup")
    return TopUpPanel(
        packs=topup_service.coin_packs(),
        topups=[topup_row(t) for t in topup_service.list_topups(current_user.id, RECENT_TOPUPS)],
        nonce=topup_service.new_nonce(),
        notice=notice if notice in ("success", "cancelled") else None,
    )
