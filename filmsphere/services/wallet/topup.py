"""Stripe coin top-ups: Checkout Sessions priced by the server, credited exactly once."""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ... import MAX_DB_INT
from ...extensions import db
from ...models import LedgerKind, TopUp, TopUpStatus, User
from ...request_guard import has_forbidden_text
from ..errors import DomainError, NotFound
from ..locks import lock_wallet
from ..transaction import race_point, write_transaction
from .wallet import post_entry

if TYPE_CHECKING:
    import stripe

log = logging.getLogger(__name__)


def stripe_module() -> ModuleType:
    """The stripe library, imported only when top-up is configured: it is an optional extra
    (`pip install '.[stripe]'`), and Config.validate refuses a key without it."""
    import stripe

    return stripe


# Stripe needs between 30 minutes and 24 hours; an hour keeps "pending" rows short-lived
# (Stripe then sends checkout.session.expired) while leaving a customer time to pay.
SESSION_LIFETIME = timedelta(hours=1)
NONCE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
# ISO 4217 currencies Stripe treats as having no minor unit.
ZERO_DECIMAL = {
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
}  # fmt: skip
SYMBOLS = {"eur": "€", "gbp": "£", "usd": "$", "jpy": "¥"}

SESSION_ID_MAX_LENGTH = 255  # top_ups.stripe_session_id

WebhookOutcome = Literal["credited", "duplicate", "unpaid", "expired", "ignored"]


class UnknownPack(DomainError):
    """The form named a coin pack the cinema doesn't sell."""


class PaymentProviderError(DomainError):
    """Stripe refused or could not be reached; nothing was recorded."""

    status = 502


class InvalidWebhook(DomainError):
    """The webhook's signature, timestamp or body is not acceptable."""

    status = 400


@dataclass(frozen=True)
class CoinPack:
    id: str
    coins: int
    price_minor: int
    currency: str

    @property
    def price_label(self) -> str:
        return format_money(self.price_minor, self.currency)


@dataclass(frozen=True)
class CheckoutStart:
    topup_id: int
    session_id: str
    url: str


def is_enabled() -> bool:
    """Top-up exists only when the cinema configured a Stripe secret key."""
    return bool(current_app.config.get("STRIPE_SECRET_KEY"))


def format_money(amount_minor: int, currency: str) -> str:
    """500, "eur" -> "€5.00"; 500, "jpy" -> "¥500"; 500, "chf" -> "5.00 CHF"."""
    code = currency.lower()
    amount = f"{amount_minor:,}" if code in ZERO_DECIMAL else f"{amount_minor / 100:,.2f}"
    symbol = SYMBOLS.get(code)
    return f"{symbol}{amount}" if symbol else f"{amount} {code.upper()}"


def coin_packs() -> list[CoinPack]:
    currency = str(current_app.config.get("COIN_CURRENCY") or "eur").lower()
    return [
        CoinPack(id=str(p["id"]), coins=int(p["coins"]), price_minor=int(p["price_minor"]),
                 currency=currency)
        for p in current_app.config.get("COIN_PACKS") or []
    ]  # fmt: skip


def find_pack(pack_id: str | None) -> CoinPack:
    """The configured pack with this id. Raises UnknownPack (422)."""
    for pack in coin_packs():
        if pack.id == pack_id:
            return pack
    raise UnknownPack("Please choose one of the coin packs on offer.")


def new_nonce() -> str:
    """A per-form value: the same form submitted twice maps to one Checkout Session."""
    return secrets.token_urlsafe(18)


def stripe_client() -> stripe.StripeClient:
    config = current_app.config
    base = config.get("STRIPE_API_BASE")
    return stripe_module().StripeClient(
        config["STRIPE_SECRET_KEY"],
        base_addresses={"api": base} if base else None,
        max_network_retries=int(config.get("STRIPE_MAX_NETWORK_RETRIES", 2)),
    )


def start_topup(
    user_id: int, pack_id: str | None, nonce: str | None, now: datetime
) -> CheckoutStart:
    """Create a Stripe Checkout Session for a configured pack and record a pending TopUp.

    The price, coins and currency come from configuration only. The Stripe call happens
    outside any database transaction (no lock is held across the network); the idempotency
    key (user + form nonce) makes a resubmitted form return the same session, and the
    unique stripe_session_id then maps it to the same TopUp row. Commits one transaction.
    Raises UnknownPack (422), NotFound (no such user), PaymentProviderError (502; nothing
    recorded).
    """
    pack = find_pack(pack_id)
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("No such account.")
    db.session.rollback()  # no read transaction stays open during the Stripe call
    if not nonce or not NONCE_PATTERN.match(nonce):
        nonce = new_nonce()
    base_url = current_app.config["BASE_URL"]
    metadata = {"user_id": str(user_id), "pack_id": pack.id, "coins": str(pack.coins)}
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "price_data": {
                    "currency": pack.currency,
                    "unit_amount": pack.price_minor,
                    "product_data": {"name": f"{pack.coins:,} FilmSphere coins"},
                },
                "quantity": 1,
            }
        ],
        "metadata": metadata,
        "payment_intent_data": {"metadata": metadata},
        "client_reference_id": str(user_id),
        "success_url": f"{base_url}/wallet?topup=success",
        "cancel_url": f"{base_url}/wallet?topup=cancelled",
        "expires_at": int((now + SESSION_LIFETIME).timestamp()),
    }
    try:
        session = stripe_client().v1.checkout.sessions.create(
            params=params,  # type: ignore[arg-type]
            options={"idempotency_key": f"filmsphere-topup-{user_id}-{nonce}"},
        )
    except stripe_module().StripeError as exc:
        log.warning("Stripe refused a Checkout Session for user %s: %s", user_id, exc)
        raise PaymentProviderError(
            "The card payment service is not available right now. No money was taken; "
            "please try again in a few minutes."
        ) from exc
    session_id, url = str(session.id), str(session.url)

    for attempt in range(2):
        try:
            with write_transaction() as s:
                existing = s.scalars(
                    select(TopUp).where(TopUp.stripe_session_id == session_id)
                ).one_or_none()
                if existing is None:
                    existing = _pending_topup(user_id, session_id, pack, now)
                    s.add(existing)
                    s.flush()
                topup_id = existing.id
            return CheckoutStart(topup_id=topup_id, session_id=session_id, url=url)
        except IntegrityError:
            # A concurrent resubmission (same idempotency key) inserted the row first.
            if attempt:
                raise
    raise AssertionError("unreachable")


def _pending_topup(user_id: int, session_id: str, pack: CoinPack, now: datetime) -> TopUp:
    """A new top-up row for a Checkout Session of this pack, not yet paid."""
    return TopUp(
        user_id=user_id,
        stripe_session_id=session_id,
        pack_id=pack.id,
        coins=pack.coins,
        amount_minor=pack.price_minor,
        currency=pack.currency,
        status=TopUpStatus.PENDING,
        created_at=now,
    )


def list_topups(user_id: int, limit: int | None = None) -> list[TopUp]:
    """The user's top-ups, newest first (read only)."""
    query = select(TopUp).where(TopUp.user_id == user_id).order_by(TopUp.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return list(db.session.scalars(query))


# --- webhook -------------------------------------------------------------------------------


def verify_event(payload: bytes, signature: str | None) -> dict[str, Any]:
    """Check the Stripe-Signature header (HMAC with STRIPE_WEBHOOK_SECRET, timestamp within
    the library's 300 s tolerance) and return the event as plain JSON: an object with a
    string `type`, whose `data` and `data.object` are objects where present, and whose
    text holds nothing PostgreSQL can't store. Raises InvalidWebhook (400)."""
    secret = current_app.config.get("STRIPE_WEBHOOK_SECRET")
    if not secret:  # Config.validate refuses this; never accept unsigned events anyway
        raise InvalidWebhook("Webhook secret not configured.")
    stripe = stripe_module()
    try:
        # The signature only: the library's event builder fails (TypeError) on a signed
        # body that is JSON but not an object, such as `[]` or `null`.
        stripe.WebhookSignature.verify_header(
            payload, signature or "", secret, tolerance=stripe.Webhook.DEFAULT_TOLERANCE
        )
        event = json.loads(payload)
    except stripe.SignatureVerificationError as exc:
        raise InvalidWebhook("Bad signature.") from exc
    except ValueError as exc:
        raise InvalidWebhook("Bad payload.") from exc
    if not _well_formed(event):
        raise InvalidWebhook("Bad payload.")
    return event


def _well_formed(event: Any) -> bool:
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        return False
    data = event.get("data", {})
    if not isinstance(data, dict) or not isinstance(data.get("object", {}), dict):
        return False
    return not has_forbidden_text(_json_texts(event))


def _json_texts(value: Any) -> Iterator[str]:
    """Every key and string inside a parsed JSON value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _json_texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _json_texts(item)


def handle_event(event: dict[str, Any], now: datetime) -> WebhookOutcome:
    """Apply one verified Stripe event. Paid sessions are credited exactly once; unknown
    event types are ignored. Database errors propagate so the caller answers 5xx and Stripe
    retries."""
    kind = event["type"]
    obj = (event.get("data") or {}).get("object") or {}
    session_id = obj.get("id")
    if not isinstance(session_id, str) or not 0 < len(session_id) <= SESSION_ID_MAX_LENGTH:
        return "ignored"
    if kind in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        if obj.get("payment_status") != "paid":
            # Delayed methods (e.g. SEPA debit) complete unpaid; async_payment_succeeded follows.
            return "unpaid"
        return credit_session(obj, now)
    if kind == "checkout.session.expired":
        return expire_session(obj["id"], now)
    return "ignored"


def _lock_topup(session_id: str) -> TopUp | None:
    return db.session.scalars(
        select(TopUp)
        .where(TopUp.stripe_session_id == session_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()


def _already_credited(topup: TopUp) -> bool:
    return topup.status == TopUpStatus.PAID


def _topup_from_metadata(session: dict[str, Any], now: datetime) -> TopUp | None:
    """Rebuild the row when the webhook beats our own insert (or it was lost), but only for
    a session that is unmistakably ours: valid metadata and the configured price."""
    metadata = session.get("metadata") or {}
    try:
        user_id = int(metadata["user_id"])
        pack = find_pack(metadata.get("pack_id"))
        coins = int(metadata["coins"])
    except (KeyError, TypeError, ValueError, UnknownPack):
        return None
    if (
        not 0 < user_id <= MAX_DB_INT
        or coins != pack.coins
        or session.get("amount_total") != pack.price_minor
        or str(session.get("currency", "")).lower() != pack.currency
        or db.session.get(User, user_id) is None
    ):
        return None
    topup = _pending_topup(user_id, session["id"], pack, now)
    db.session.add(topup)
    db.session.flush()
    return topup


def credit_session(session: dict[str, Any], now: datetime) -> WebhookOutcome:
    """Credit a paid Checkout Session's coins once, in one write transaction.

    Locks the TopUp row (then the wallet), re-reads its status under the lock, posts a
    'topup' ledger entry that references it and marks it paid. LedgerEntry.topup_id is
    UNIQUE, so even a duplicate that got past the lock credits nothing: the IntegrityError
    rolls the whole transaction back and the event counts as a duplicate. Returns
    "credited", "duplicate" or "ignored" (not one of our sessions / amount mismatch).
    """
    for attempt in range(2):
        try:
            with write_transaction():
                topup = _lock_topup(session["id"])
                if topup is None:
                    topup = _topup_from_metadata(session, now)
                    if topup is None:
                        log.warning("Ignored paid Checkout Session %s: not ours", session["id"])
                        return "ignored"
                if _already_credited(topup):
                    return "duplicate"
                if session.get("amount_total") not in (None, topup.amount_minor):
                    log.error(
                        "Checkout Session %s paid %s, expected %s: not credited",
                        session["id"], session.get("amount_total"), topup.amount_minor,
                    )  # fmt: skip
                    return "ignored"
                race_point("topup.before_credit")
                wallet = lock_wallet(topup.user_id)
                post_entry(
                    wallet,
                    LedgerKind.TOPUP,
                    topup.coins,
                    now,
                    topup_id=topup.id,
                    reason=f"Stripe {topup.pack_id}: {topup.coins} coins",
                )
                topup.status = TopUpStatus.PAID
                topup.completed_at = now
            return "credited"
        except IntegrityError:
            # Either the ledger's UNIQUE(topup_id) refused a second credit, or a concurrent
            # delivery created the TopUp row first; a second pass sees the committed state.
            if attempt:
                return "duplicate"
    raise AssertionError("unreachable")


def expire_session(session_id: str, now: datetime) -> WebhookOutcome:
    """Mark a pending top-up expired (Stripe closed the session unpaid). Commits."""
    with write_transaction():
        topup = _lock_topup(session_id)
        if topup is None or topup.status != TopUpStatus.PENDING:
            return "ignored"
        topup.status = TopUpStatus.EXPIRED
        topup.completed_at = now
    return "expired"
