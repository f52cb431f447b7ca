"""Admin users: search, roles, deactivate/reactivate, wallet, ledger and coin adjustments."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ...refusals import renders_refusals
from ...security import admin_required
from ...services.accounts import admin_users
from ...services.errors import DomainError, NotFound
from .base import actor_id, bp, message_page, now, view_arg
from .forms import CoinAdjustForm, RoleForm


@bp.get("/users")
@admin_required
def users() -> str:
    """Users matching `q` (email, username, name) and `role`, newest first; 50 a page,
    `page` a cursor (a forged one is a 400)."""
    q = request.args.get("q", "")
    role = request.args.get("role", "")
    result = admin_users.search_users(q, role, request.args.get("page"))
    return render_template("admin/users.html", result=result, q=q, role=role)


def _render_user(user_id: int, status: int = 200, **extra: Any) -> tuple[str, int]:
    detail = admin_users.user_detail(user_id)
    role_form = extra.pop("role_form", None) or RoleForm(formdata=None, role=detail.user.role)
    coin_form = extra.pop("coin_form", None) or CoinAdjustForm(formdata=None)
    context: dict[str, Any] = {
        "detail": detail,
        "role_form": role_form,
        "coin_form": coin_form,
        "error": None,
    }
    context.update(extra)
    return render_template("admin/user.html", **context), status


_user_message = message_page("User")


def _user_refused(error: DomainError, **forms: Any) -> tuple[str, int]:
    """The user page again with the refusal (an unknown user: the message page)."""
    if isinstance(error, NotFound):
        return _user_message(error)
    return _render_user(view_arg("user_id"), error.status, error=error.message, **forms)


def _role_refused(error: DomainError) -> tuple[str, int]:
    return _user_refused(error, role_form=RoleForm())


def _coins_refused(error: DomainError) -> tuple[str, int]:
    if isinstance(error, NotFound):
        return _user_message(error)
    form = CoinAdjustForm()
    form.amount_coins.errors = [error.message]
    return _render_user(view_arg("user_id"), error.status, coin_form=form)


@bp.get("/users/<int:user_id>")
@renders_refusals(_user_message)
@admin_required
def user(user_id: int) -> tuple[str, int]:
    """A user's account, role, wallet, ledger and Stripe top-ups."""
    return _render_user(user_id)


@bp.post("/users/<int:user_id>/role")
@renders_refusals(_role_refused)
@admin_required
def user_role(user_id: int) -> Response | tuple[str, int]:
    """Change a user's role; the last admin can't be demoted (409)."""
    form = RoleForm()
    if not form.validate():
        return _render_user(user_id, 422, role_form=form)
    admin_users.change_role(actor_id(), user_id, form.role.data or "", now())
    flash(f"The role is now {form.role.data}.", "success")
    return redirect(url_for("admin.user", user_id=user_id), 303)


@bp.post("/users/<int:user_id>/deactivate")
@renders_refusals(_user_refused)
@admin_required
def user_deactivate(user_id: int) -> Response | tuple[str, int]:
    """Deactivate a user: they can't log in and every session of theirs ends."""
    return _set_active(user_id, False)


@bp.post("/users/<int:user_id>/reactivate")
@renders_refusals(_user_refused)
@admin_required
def user_reactivate(user_id: int) -> Response | tuple[str, int]:
    """Let a deactivated user log in again."""
    return _set_active(user_id, True)


def _set_active(user_id: int, active: bool) -> Response | tuple[str, int]:
    admin_users.set_active(actor_id(), user_id, active, now())
    flash("The account was " + ("reactivated." if active else "deactivated."), "success")
    return redirect(url_for("admin.user", user_id=user_id), 303)


@bp.post("/users/<int:user_id>/coins")
@renders_refusals(_coins_refused)
@admin_required
def user_coins(user_id: int) -> Response | tuple[str, int]:
    """Add or remove coins with a required reason (ledger kind admin_adjustment)."""
    form = CoinAdjustForm()
    if not form.validate():
        return _render_user(user_id, 422, coin_form=form)
    entry = admin_users.adjust_coins(
        actor_id(), user_id, int(form.amount_coins.data or 0), form.reason.data or "", now()
    )
    flash(
        f"Adjusted by {entry.amount_coins:+d} coins; the balance is now "
        f"{entry.balance_after_coins}.",
        "success",
    )
    return redirect(url_for("admin.user", user_id=user_id), 303)
