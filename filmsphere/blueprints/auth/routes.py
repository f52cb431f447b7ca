"""Accounts: register, verify email, log in and out, reset and change password."""

from __future__ import annotations

from typing import Any, TypeVar

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from ...extensions import limiter
from ...models import User
from ...models.types import utcnow
from ...refusals import default_response, renders_refusals, status_and_message
from ...security import local_path
from ...services.accounts import accounts, sessions
from ...services.errors import DomainError
from .forms import (
    PASSWORD_HINT,
    USERNAME_HINT,
    ChangePasswordForm,
    LoginForm,
    RegisterForm,
    ResendForm,
    ResetPasswordForm,
    ResetRequestForm,
    VerifyForm,
)

# No url_prefix: the account page lives at /account, the rest under /auth/.
bp = Blueprint("auth", __name__)

CHECK_EMAIL = (
    "Check your email to finish. If the address can be used, we sent a message to it "
    "with a 6-digit code and a link."
)
RESET_SENT = (
    "If an account exists for that address, we sent a link to reset the password. "
    "It works once, for {minutes} minutes."
)
RESEND_SENT = "If that address still needs verifying, we sent a new code and link."
VERIFIED = "Thank you: your email address is verified."
# The session key naming the address this browser just registered with.
REGISTERED_EMAIL = "registered_email"


def _limit(setting: str) -> Any:
    """Rate-limit the POSTs of a route by client address, with the limit from config."""
    return limiter.limit(lambda: current_app.config[setting], methods=["POST"])


def _login_name_key() -> str:
    return "login-name:" + request.form.get("login", "").strip().lower()[:254]


def safe_next(target: str | None, default: str = "public.index") -> str:
    """Where to go after logging in: `target` when it is a short local path (never another
    site, never an over-long header), otherwise the `default` endpoint."""
    return local_path(target) or url_for(default)


def see_other(location: str) -> Response:
    return redirect(location, 303)


def form_status() -> int:
    """A form page's status: 422 when it was posted and refused, 200 when first shown."""
    return 422 if request.method == "POST" else 200


Form = TypeVar("Form", bound=FlaskForm)


def with_refusal(form: Form, field: str, message: str) -> Form:
    """`form` as posted, with the refusal's sentence under `field`."""
    form.validate()
    target = getattr(form, field)
    target.errors = [*target.errors, message]
    return form


# --- register -------------------------------------------------------------------------


def _register_page(form: RegisterForm, status: int) -> tuple[str, int]:
    page = render_template(
        "auth/register.html", form=form, username_hint=USERNAME_HINT, password_hint=PASSWORD_HINT
    )
    return page, status


def _register_refused(error: DomainError) -> ResponseReturnValue:
    """The sign-up form again, the sentence under the field it is about (a weak password
    under the password); a refusal about no field is the standard error page."""
    if isinstance(error, accounts.InvalidInput):
        field = error.field
    elif isinstance(error, accounts.WeakPassword):
        field = "password"
    else:
        return default_response(error)
    status, message = status_and_message(error)
    return _register_page(with_refusal(RegisterForm(), field, message), status)


@bp.route("/auth/register", methods=["GET", "POST"])
@_limit("RATELIMIT_REGISTER")
@renders_refusals(_register_refused)
def register() -> Response | str | tuple[str, int]:
    """Sign up. The answer is the same whether or not the email or username is taken
    (services.accounts.submit_registration sends a note by email instead)."""
    if current_user.is_authenticated:
        return see_other(url_for("public.index"))
    form = RegisterForm()
    if not form.validate_on_submit():
        return _register_page(form, form_status())
    accounts.submit_registration(
        email=form.email.data or "",
        username=form.username.data or "",
        full_name=form.full_name.data or "",
        password=form.password.data or "",
        now=utcnow(),
    )
    # The verify page fills in this address, and its code then signs this browser in.
    # Stored whatever the outcome, so the next page tells nobody anything.
    session[REGISTERED_EMAIL] = accounts.normalize_email(form.email.data or "")
    flash(CHECK_EMAIL, "success")
    return see_other(url_for("auth.verify", sent=1))


# --- verify ---------------------------------------------------------------------------


def _code_failed(response: Response) -> bool:
    return response.status_code == 422


def _verify_address_key() -> str:
    return "verify-address:" + request.form.get("email", "").strip().lower()[:254]


def _verify_refused(error: DomainError) -> tuple[str, int]:
    """A refused link: the page with the sentence above the form. A refused code: the
    form again, the sentence under the code."""
    status, message = status_and_message(error)
    if request.method == "GET":
        return _verify_page(VerifyForm(), status=status, error=message)
    if not current_user.is_authenticated:
        # Logged out, "2 attempts left" would tell that the address has an account
        # waiting for verification: answer every failure alike.
        message = accounts.INVALID_CODE
    return _verify_page(with_refusal(VerifyForm(), "code", message), status=status)


@bp.route("/auth/verify", methods=["GET", "POST"])
@_limit("RATELIMIT_VERIFY")
# Logged out, wrong codes are counted per address typed (the service writes nothing then,
# so that an address with an account waiting costs the same time as any other): at most
# MAX_CODE_ATTEMPTS per code lifetime, as a signed-in user gets per code.
@limiter.limit(
    lambda: f"{accounts.MAX_CODE_ATTEMPTS} per {current_app.config['VERIFY_CODE_MINUTES']} minutes",
    methods=["POST"],
    key_func=_verify_address_key,
    scope="verify-address",
    deduct_when=_code_failed,
    exempt_when=lambda: current_user.is_authenticated or not request.form.get("email", "").strip(),
)
@renders_refusals(_verify_refused)
def verify() -> Response | str | tuple[str, int]:
    """Verify the email address: ?token= from the emailed link, or the 6-digit code
    (a logged-in user enters only the code; others also give their email address)."""
    next_url = local_path(request.values.get("next"))
    token = request.args.get("token")
    if request.method == "GET" and token:
        return _verified(accounts.verify_email(utcnow(), token=token), next_url)
    if request.method == "GET":
        return _verify_form(next_url)
    form = VerifyForm()
    if not form.validate_on_submit():
        return _verify_page(form, status=422)
    if current_user.is_authenticated:
        user = accounts.verify_email(utcnow(), code=form.code.data, user_id=current_user.id)
    else:
        user = accounts.verify_email_by_address(
            form.email.data or "", form.code.data or "", utcnow()
        )
    return _verified(user, form.next.data)


def _verify_form(next_url: str | None) -> Response | tuple[str, int]:
    """The code form (the address this browser registered with filled in), or, for a
    signed-in user already verified, on to where they were going."""
    if current_user.is_authenticated and current_user.is_verified:
        flash("Your email address is already verified.", "info")
        return see_other(safe_next(next_url, "auth.account"))
    form = VerifyForm()
    form.next.data = next_url or ""
    if not current_user.is_authenticated:
        form.email.data = session.get(REGISTERED_EMAIL, "")
    return _verify_page(form)


def _verified(user: User, next_url: str | None) -> Response:
    """After a code or link verified `user`'s address: signed in already, go on; in the
    browser that registered this address, sign in (the code proves the address, the
    sign-up the password: no second log-in); anyone else logs in as usual."""
    if current_user.is_authenticated and current_user.id == user.id:
        flash(VERIFIED, "success")
        return see_other(safe_next(next_url, "auth.account"))
    registered = session.get(REGISTERED_EMAIL)
    if registered and registered.lower() == user.email.lower() and user.is_active_account:
        session.clear()  # a fresh session on log-in, as the log-in form does
        key = sessions.start_session(user, False, utcnow())
        login_user(sessions.SignedInUser.of(user, key))
        flash(VERIFIED + " You are logged in.", "success")
        return see_other(safe_next(next_url))
    flash(VERIFIED, "success")
    return see_other(url_for("auth.login"))


def _verify_page(form: VerifyForm, status: int = 200, error: str | None = None) -> tuple[str, int]:
    resend = ResendForm()
    resend.next.data = form.next.data or ""
    registered = session.get(REGISTERED_EMAIL)
    if registered and not resend.email.data:
        resend.email.data = registered
    return (
        render_template(
            "auth/verify.html",
            form=form,
            resend_form=resend,
            error=error,
            registered_email=registered,
        ),
        status,
    )


@bp.post("/auth/verify/resend")
@_limit("RATELIMIT_VERIFY")
def resend_verification() -> Response | tuple[str, int]:
    """Send a new code and link; the answer never says whether the address has an account."""
    form = ResendForm()
    if not form.validate_on_submit():
        return _verify_page(VerifyForm(), status=422)
    if current_user.is_authenticated:
        accounts.resend_verification(utcnow(), user_id=current_user.id)
        flash("We sent a new code and link to your email address.", "success")
    else:
        accounts.resend_verification(utcnow(), email=form.email.data or "")
        flash(RESEND_SENT, "success")
    return see_other(url_for("auth.verify", next=local_path(form.next.data)))


# --- log in / out ---------------------------------------------------------------------


def _failed(response: Response) -> bool:
    return response.status_code != 303


def _login_failed(form: LoginForm) -> tuple[str, int]:
    """The form again with the one generic message, whatever failed (no field, no
    status tells whether the account exists)."""
    return render_template("auth/login.html", form=form, error=accounts.GENERIC_LOGIN_ERROR), 422


def _login_refused(error: DomainError) -> tuple[str, int]:
    """Credentials refused: the form as posted, the generic message, 422 (not the 401 of
    InvalidCredentials: the answer has always been 422, and the limits count it)."""
    return _login_failed(LoginForm())


# Two limits, both counting failed attempts only (a successful log-in is no threat, and
# people behind one shared address shouldn't lock each other out by logging in): per
# client address, and per login name, so that guesses spread over many addresses still
# hit a wall for the account they target.
@bp.route("/auth/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["RATELIMIT_LOGIN"], methods=["POST"], deduct_when=_failed)
@limiter.limit(
    lambda: current_app.config["RATELIMIT_LOGIN"],
    methods=["POST"],
    key_func=_login_name_key,
    scope="login-name",
    deduct_when=_failed,
)
@renders_refusals(_login_refused)
def login() -> Response | str | tuple[str, int]:
    """Log in by email or username and password. One generic message for every failure."""
    form = LoginForm()
    if request.method == "GET":
        if current_user.is_authenticated:
            return see_other(safe_next(request.args.get("next")))
        form.next.data = local_path(request.args.get("next")) or ""
        return render_template("auth/login.html", form=form, error=None)
    if not form.validate_on_submit():
        return _login_failed(form)
    user = accounts.authenticate(form.login.data or "", form.password.data or "", utcnow())
    # A ticket link a friend sent, opened before logging in (or registering), is where
    # the visitor goes back to.
    pending_link = session.get("transfer_link")
    # A fresh session on log-in: nothing from before (fixation) carries over.
    session.clear()
    remember = bool(form.remember.data)
    key = sessions.start_session(user, remember, utcnow())
    login_user(sessions.SignedInUser.of(user, key), remember=remember)
    if not user.is_verified:
        flash("Welcome back. Please verify your email address to book.", "info")
    return see_other(safe_next(form.next.data or pending_link))


def end_browser_session() -> None:
    """Forget the log-in in this browser. In this order: logout_user() marks the remember
    cookie for deletion in the session, which clearing it afterwards would undo."""
    session.clear()
    logout_user()


@bp.post("/auth/logout")
def logout() -> Response:
    """Log out (POST only, so a link or image on another page can't log anyone out). The
    session ends on the server too: a copy of its cookies is refused from now on."""
    if current_user.is_authenticated:  # also when only the remember cookie logged it in
        sessions.end_session(current_user.get_id())
    end_browser_session()
    flash("You are logged out.", "info")
    return see_other(url_for("public.index"))


@bp.post("/account/logout-everywhere")
@login_required
def logout_everywhere() -> Response:
    """End every session of the signed-in user, on every device, this one included."""
    sessions.log_out_everywhere(int(current_user.id))
    end_browser_session()
    flash("You are logged out on every device.", "info")
    return see_other(url_for("auth.login"))


# --- reset ----------------------------------------------------------------------------


@bp.route("/auth/reset", methods=["GET", "POST"])
@_limit("RATELIMIT_RESET")
def reset_request() -> Response | str | tuple[str, int]:
    """Ask for a reset link. The answer is the same whether or not the address exists."""
    form = ResetRequestForm()
    if form.validate_on_submit():
        accounts.request_password_reset(form.email.data or "", utcnow())
        flash(RESET_SENT.format(minutes=current_app.config["RESET_TOKEN_MINUTES"]), "success")
        return see_other(url_for("auth.reset_request"))
    return render_template("auth/reset_request.html", form=form), form_status()


def _reset_page(form: ResetPasswordForm | None, status: int) -> tuple[str, int]:
    """The new-password form, or (no form) the page saying the link is gone."""
    page = render_template("auth/reset_password.html", form=form, password_hint=PASSWORD_HINT)
    return page, status


def _reset_refused(error: DomainError) -> tuple[str, int]:
    """A weak password under the field; any other refusal means the link is gone (410)."""
    if not isinstance(error, accounts.WeakPassword):
        return _reset_page(None, 410)
    status, message = status_and_message(error)
    return _reset_page(with_refusal(ResetPasswordForm(), "password", message), status)


@bp.route("/auth/reset/<token>", methods=["GET", "POST"])
@_limit("RATELIMIT_RESET")
@renders_refusals(_reset_refused)
def reset_password(token: str) -> Response | str | tuple[str, int]:
    """Choose a new password with the emailed link (single use, expires)."""
    form = ResetPasswordForm()
    now = utcnow()
    if not accounts.reset_token_valid(token, now):
        return _reset_page(None, 410)
    if not form.validate_on_submit():
        return _reset_page(form, form_status())
    accounts.reset_password(token, form.password.data or "", now)
    end_browser_session()
    flash("Your password is changed. Log in with the new one.", "success")
    return see_other(url_for("auth.login"))


# --- account --------------------------------------------------------------------------


def _password_refused(error: DomainError) -> ResponseReturnValue:
    """The change-password form again: a wrong current password under it, a weak new one
    under the new; a refusal about neither is the standard error page."""
    if isinstance(error, accounts.WrongPassword):
        field = "current_password"
    elif isinstance(error, accounts.WeakPassword):
        field = "new_password"
    else:
        return default_response(error)
    status, message = status_and_message(error)
    form = with_refusal(ChangePasswordForm(), field, message)
    return routes_account.account_page(status, form=form)


@bp.route("/account", methods=["GET", "POST"])
@login_required
@_limit("RATELIMIT_LOGIN")  # the current password must not be guessable from a live session
@renders_refusals(_password_refused)
def account() -> Response | str | tuple[str, int]:
    """Profile (the name, email and API token forms post to their own routes, in
    routes_account) and
    change password (the current one is required). Changing it ends every other session
    of the user."""
    form = ChangePasswordForm()
    if not form.validate_on_submit():
        return routes_account.account_page(form_status(), form=form)
    accounts.change_password(
        current_user.id,
        form.current_password.data or "",
        form.new_password.data or "",
        utcnow(),
        keep_session=current_user.get_id(),
    )
    flash("Your password is changed. Other devices have been logged out.", "success")
    return see_other(url_for("auth.account"))


# The account page's other forms register on `bp` when imported.
from . import routes_account  # noqa: E402
