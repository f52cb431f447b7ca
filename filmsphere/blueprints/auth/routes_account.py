"""The account page and its own changes: name, email address (confirmed from the new
address, the old one told), personal API tokens and closing the account."""

from __future__ import annotations

from typing import Any

from flask import flash, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from ...models import Role
from ...models.types import utcnow
from ...refusals import renders_refusals, status_and_message
from ...services.accounts import account_changes, accounts, api_tokens, sessions
from ...services.errors import DomainError
from .forms import (
    PASSWORD_HINT,
    SCOPE_CHOICES,
    ApiTokenForm,
    ChangeEmailForm,
    ChangeNameForm,
    ChangePasswordForm,
    CloseAccountForm,
)
from .routes import _limit, bp, end_browser_session, see_other, with_refusal


def account_page(
    status: int = 200, new_token: api_tokens.NewToken | None = None, **forms: Any
) -> tuple[str, int]:
    """/account with its forms: the one just posted (with its errors) and fresh others;
    `new_token`'s secret is shown this once."""
    forms.setdefault("form", ChangePasswordForm(formdata=None))
    forms.setdefault("name_form", ChangeNameForm(formdata=None, full_name=current_user.full_name))
    forms.setdefault("email_form", ChangeEmailForm(formdata=None))
    forms.setdefault("token_form", _token_form(formdata=None))
    return (
        render_template(
            "auth/account.html",
            password_hint=PASSWORD_HINT,
            session_count=sessions.count_sessions(int(current_user.id), utcnow()),
            tokens=api_tokens.list_tokens(current_user.id),
            new_token=new_token,
            **forms,
        ),
        status,
    )


def _token_form(**kwargs: Any) -> ApiTokenForm:
    """The new-token form; only staff are offered the check-in scope."""
    form = ApiTokenForm(**kwargs)
    if not current_user.has_role(Role.STAFF):
        form.scopes.choices = [c for c in SCOPE_CHOICES if c.value != "check-in"]
    return form


def _token_refused(error: DomainError) -> tuple[str, int]:
    """A token the service refused (too many, a scope not allowed): the form again, with
    the service's sentence under the name."""
    form = with_refusal(_token_form(), "name", error.message)
    return account_page(status_and_message(error)[0], token_form=form)


@bp.post("/account/api-tokens")
@login_required
@_limit("RATELIMIT_REGISTER")  # a token per click is plenty; hoarding them is not
@renders_refusals(_token_refused)
def create_api_token() -> tuple[str, int]:
    """Create a personal API token and show its secret once (a 201 page, never a
    redirect: the secret must not travel through the session or a URL)."""
    token_form = _token_form()
    if not token_form.validate_on_submit():
        return account_page(422, token_form=token_form)
    new_token = api_tokens.create_token(
        current_user.id, token_form.name.data or "", token_form.scopes.data or [], utcnow()
    )
    return account_page(201, new_token, token_form=token_form)


@bp.post("/account/api-tokens/<int:token_id>/revoke")
@login_required
def revoke_api_token(token_id: int) -> Response:
    """Revoke one of my tokens; it answers 401 from the next call on. Another user's
    token is a 404 (NotFound, rendered by the app-level handler)."""
    api_tokens.revoke_token(current_user.id, token_id, utcnow())
    flash("The token is revoked: apps using it can no longer reach your account.", "success")
    return see_other(url_for("auth.account") + "#api-tokens")


def _name_refused(error: DomainError) -> tuple[str, int]:
    """A name the service refused: the form again, its sentence under the field."""
    form = with_refusal(ChangeNameForm(), "full_name", error.message)
    return account_page(status_and_message(error)[0], name_form=form)


@bp.post("/account/name")
@login_required
@renders_refusals(_name_refused)
def change_name() -> Response | tuple[str, int]:
    """Change the name on the account (tickets and emails use it)."""
    form = ChangeNameForm()
    if not form.validate_on_submit():
        return account_page(422, name_form=form)
    account_changes.change_name(int(current_user.id), form.full_name.data or "")
    flash("Your name is changed.", "success")
    return see_other(url_for("auth.account"))


def _email_refused(error: DomainError) -> tuple[str, int]:
    """The address form again: a wrong password under the password, any other refusal
    (the same address, a bad one) under the new address."""
    field = "email_password" if isinstance(error, accounts.WrongPassword) else "new_email"
    form = with_refusal(ChangeEmailForm(), field, error.message)
    return account_page(status_and_message(error)[0], email_form=form)


@bp.post("/account/email")
@login_required
@_limit("RATELIMIT_LOGIN")  # it checks the password
@renders_refusals(_email_refused)
def change_email() -> Response | tuple[str, int]:
    """Ask to move the account to a new address: a link goes there, the current address is
    told, nothing changes until the link is followed. The answer is the same whether or
    not another account has the new address."""
    form = ChangeEmailForm()
    if not form.validate_on_submit():
        return account_page(422, email_form=form)
    address = account_changes.request_email_change(
        int(current_user.id), form.email_password.data or "", form.new_email.data or "", utcnow()
    )
    flash(
        f"We sent a link to {address}. Your address changes when you follow it; "
        "until then your account keeps the current one.",
        "success",
    )
    return see_other(url_for("auth.account"))


def _email_link_refused(error: DomainError) -> tuple[str, int]:
    """A wrong, used or expired link is gone (410, nothing to act on); a confirmation
    refused for another reason (the address taken meanwhile) says why."""
    if isinstance(error, accounts.InvalidToken) or request.method == "GET":
        return render_template("auth/email_change.html", new_email=None, error=None), 410
    page = render_template("auth/email_change.html", new_email=None, error=error.message)
    return page, status_and_message(error)[0]


@bp.route("/account/email/<token>", methods=["GET", "POST"])
@renders_refusals(_email_link_refused)
def confirm_email(token: str) -> Response | tuple[str, int]:
    """The link sent to a new address: GET shows what it will do, POST (the button) does
    it, so a mail scanner that opens links changes nothing. Works logged in or out."""
    now = utcnow()
    new_email = account_changes.pending_email_change(token, now)
    if request.method == "POST":  # CSRFProtect has refused any post without a good token
        account_changes.confirm_email_change(token, now)
        flash(f"Your email address is now {new_email}.", "success")
        return see_other(url_for("auth.account" if current_user.is_authenticated else "auth.login"))
    return render_template("auth/email_change.html", new_email=new_email, error=None), 200


def _close_page(form: CloseAccountForm, status: int, error: str | None = None) -> tuple[str, int]:
    """The close page with the bookings whose tickets can still be used, each linked."""
    upcoming = account_changes.upcoming_references(int(current_user.id), utcnow())
    page = render_template("auth/close_account.html", form=form, upcoming=upcoming, error=error)
    return page, status


def _close_refused(error: DomainError) -> tuple[str, int]:
    """A wrong password under the password field; any other refusal (tickets still to
    use, a staff or admin account) above the form, with its status."""
    status, message = status_and_message(error)
    if isinstance(error, accounts.WrongPassword):
        return _close_page(with_refusal(CloseAccountForm(), "close_password", message), status)
    return _close_page(CloseAccountForm(), status, message)


@bp.route("/account/close", methods=["GET", "POST"])
@login_required
@_limit("RATELIMIT_LOGIN")  # it checks the password
@renders_refusals(_close_refused)
def close_account() -> Response | tuple[str, int]:
    """Close the account: refused while it has tickets for shows to come (they are
    listed, each with its booking); otherwise personal data goes, bookings and the
    ledger stay, and every session ends."""
    form = CloseAccountForm()
    if not form.validate_on_submit():
        return _close_page(form, 422 if form.is_submitted() else 200)
    account_changes.close_account(int(current_user.id), form.close_password.data or "", utcnow())
    end_browser_session()
    flash("Your account is closed. Thank you for coming to the cinema with us.", "info")
    return see_other(url_for("public.index"))
