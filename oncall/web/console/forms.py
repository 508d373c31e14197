"""The console's forms (Flask-WTF: each carries the session's CSRF token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from oncall.accounts.passwords import MAX_LENGTH, MIN_LENGTH
from oncall.models import ROLES


class SignInForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)],
                       render_kw={"autocomplete": "username", "autofocus": True})
    password = PasswordField("Password", validators=[DataRequired(), Length(max=MAX_LENGTH)],
                             render_kw={"autocomplete": "current-password"})


class SetPasswordForm(FlaskForm):
    password = PasswordField(
        "New password", validators=[DataRequired(), Length(MIN_LENGTH, MAX_LENGTH)],
        description=f"At least {MIN_LENGTH} characters.",
        render_kw={"autocomplete": "new-password", "autofocus": True})
    confirm = PasswordField("Repeat the password",
                            validators=[DataRequired(), EqualTo("password", "Does not match.")],
                            render_kw={"autocomplete": "new-password"})


class InviteForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    name = StringField("Name", validators=[Optional(), Length(max=200)],
                       description="Optional: defaults to the part of the email before the @.")
    role = SelectField("Role", choices=list(ROLES), default="responder")


class ButtonForm(FlaskForm):
    """A form that is only a button (sign out, sign out everywhere, a new link): the CSRF
    token is its one field."""
