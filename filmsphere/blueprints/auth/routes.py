"""Accounts: register, verify email, log in and out, reset and change password."""

from flask import Blueprint

bp = Blueprint("auth", __name__, url_prefix="/auth")
