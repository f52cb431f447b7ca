"""Wallet balance and ledger, refill, Stripe top-up and webhook."""

from flask import Blueprint

bp = Blueprint("wallet", __name__)
