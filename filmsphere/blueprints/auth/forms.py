"""Account forms: field presence and shape; the services apply the account rules."""

from __future__ import annotations

from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    PasswordField,
    SelectMultipleField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from ...forms import AppForm
from ...security import local_path

USERNAME_HINT = "3 to 32 characters: letters, digits, '_', '.' and '-'."
SCOPE_CHOICES = [
    SelectChoice("read", "Read: films, shows, seat maps, my bookings and wallet"),
    SelectChoice("book", "Book: hold seats, pay, cancel"),
    SelectChoice("check-in", "Check in tickets at the door (staff)"),
]
PASSWORD_HINT = (
    "At least 10 characters, mixing three of: lower-case, capitals, digits, symbols "
    "(or 16 characters or more). Not your username or email address."
)


class NextField(HiddenField):
    """Where to go after the form: only a short local path survives the post (anything
    else, another site or an over-long value, becomes empty: the safe default)."""

    def process_formdata(self, valuelist: list[str]) -> None:
        super().process_formdata(valuelist)
        self.data = local_path(str(valuelist[0]) if valuelist else None) or ""


class RegisterForm(AppForm):
    email = EmailField(
        "Email address", validators=[DataRequired("Enter your email address."), Length(max=254)]
    )
    username = StringField(
        "Username",
        validators=[
            DataRequired("Choose a username."),
            Regexp(r"^[A-Za-z0-9_.-]{3,32}$", message=f"Usernames are {USERNAME_HINT}"),
        ],
    )
    full_name = StringField(
        "Full name", validators=[DataRequired("Enter your name."), Length(max=120)]
    )
    password = PasswordField(
        "Password", validators=[DataRequired("Choose a password."), Length(max=200)]
    )


class LoginForm(AppForm):
    login = StringField(
        "Email or username", validators=[DataRequired("Enter your email or username.")]
    )
    password = PasswordField("Password", validators=[DataRequired("Enter your password.")])
    remember = BooleanField("Keep me logged in on this device")
    next = NextField()


class VerifyForm(AppForm):
    email = EmailField("Email address", validators=[Length(max=254)])
    code = StringField(
        "6-digit code",
        validators=[
            DataRequired("Enter the 6-digit code from the email."),
            Regexp(r"^\s*\d{6}\s*$", message="The code is 6 digits."),
        ],
    )
    next = NextField()


class ResendForm(AppForm):
    email = EmailField("Email address", validators=[Length(max=254)])
    next = NextField()


class ResetRequestForm(AppForm):
    email = EmailField(
        "Email address", validators=[DataRequired("Enter your email address."), Length(max=254)]
    )


class ResetPasswordForm(AppForm):
    password = PasswordField(
        "New password", validators=[DataRequired("Choose a new password."), Length(max=200)]
    )


class ChangePasswordForm(AppForm):
    current_password = PasswordField(
        "Current password", validators=[DataRequired("Enter your current password.")]
    )
    new_password = PasswordField(
        "New password", validators=[DataRequired("Choose a new password."), Length(max=200)]
    )


class ApiTokenForm(AppForm):
    """A new personal API token: a name to recognise it by and what it may do."""

    name = StringField(
        "Token name",
        validators=[
            DataRequired("Name the token, e.g. after the app that will use it."),
            Length(max=60, message="Use at most 60 characters."),
        ],
    )
    scopes = SelectMultipleField(
        "What it may do",
        choices=SCOPE_CHOICES,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validators=[DataRequired("Tick at least one thing the token may do.")],
    )


class ChangeNameForm(AppForm):
    full_name = StringField(
        "Full name",
        validators=[
            DataRequired("Enter your name."),
            Length(max=120, message="Enter your name (at most 120 characters)."),
        ],
    )


class ChangeEmailForm(AppForm):
    new_email = EmailField(
        "New email address",
        validators=[DataRequired("Enter the new address."), Length(max=254)],
    )
    email_password = PasswordField(
        "Your password", validators=[DataRequired("Enter your current password.")]
    )


class CloseAccountForm(AppForm):
    close_password = PasswordField(
        "Your password", validators=[DataRequired("Enter your current password.")]
    )
    understood = BooleanField(
        "I understand that closing my account can't be undone",
        validators=[DataRequired("Tick the box to confirm.")],
    )
