"""Admin users: search, roles, deactivate/reactivate, wallet, ledger and coin adjustments."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from ...security import admin_required
from ...services import admin_users
from ...services.errors import DomainError
from .base import actor_id, bp, now
from .forms import CoinAdjustForm, RoleForm


@bp.get("/users")
@admin_required
def users() -> str:
    """Users matching `q` (email, username, name) and `role`, newest first."""
    q = request.args.get("q", "")
    role = request.args.get("role", "")
    return render_template(
        "admin/users.html", rows=admin_users.search_users(q, role), q=q, role=role
    )


def _render_user(user_id: int, status: int = 200, **extra: Any) -> tuple[str, int]:
    try:
        detail = admin_users.user_detail(user_id)
    except DomainError as exc:
        return render_template("admin/message.html", title="User", error=exc.message), 404
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


@bp.get("/users/<int:user_id>")
@admin_required
def user(user_id: int) -> tuple[str, int]:
    """A user's account, role, wallet, ledger and Stripe top-ups."""
    return _render_user(user_id)


@bp.post("/users/<int:user_id>/role")
@admin_required
def user_role(user_id: int) -> Response | tuple[str, int]:
    """Change a user's role; the last admin can't be demoted (409)."""
    form = RoleForm()
    if not form.validate():
        return _render_user(user_id, 422, role_form=form)
    try:
        admin_users.change_role(actor_id(), user_id, form.role.data or "", now())
    except DomainError as exc:
        return _render_user(user_id, exc.status, role_form=form, error=exc.message)
    flash(f"The role is now {form.role.data}.", "success")
    return redirect(url_for("admin.user", user_id=user_id), 303)


@bp.post("/users/<int:user_id>/deactivate")
@admin_required
def user_deactivate(user_id: int) -> Response | tuple[str, int]:
    """Deactivate a user: they can't log in and every session of theirs ends."""
    return _set_active(user_id, False)


@bp.post("/users/<int:user_id>/reactivate")
@admin_required
def user_reactivate(user_id: int) -> Response | tuple[str, int]:
    """Let a deactivated user log in again."""
    return _set_active(user_id, True)


def _set_active(user_id: int, active: bool) -> Response | tuple[str, int]:
    try:
        admin_users.set_active(actor_id(), user_id, active, now())
    except DomainError as exc:
        return _render_user(user_id, exc.status, error=exc.message)
    flash("The account was " + ("reactivated." if active else "deactivated."), "success")
    return redirect(url_for("admin.user", user_id=user_id), 303)


@bp.post("/users/<int:user_id>/coins")
@admin_required
def user_coins(user_id: int) -> Response | tuple[str, int]:
    """Add or remove coins with a required reason (ledger kind admin_adjustment)."""
    form = CoinAdjustForm()
    if not form.validate():
        return _render_user(user_id, 422, coin_form=form)
    try:
        entry = admin_users.adjust_coins(
            actor_id(), user_id, int(form.amount_coins.data or 0), form.reason.data or "", now()
        )
    except DomainError as exc:
        form.amount_coins.errors = [exc.message]
        return _render_user(user_id, exc.status, coin_form=form)
    flash(
        f"Adjusted by {entry.amount_coins:+d} coins; the balance is now "
        f"{entry.balance_after_coins}.",
        "success",
    )
    return redirect(url_for("admin.user", user_id=user_id), 303)
