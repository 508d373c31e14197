"""``/users/<id>``: admins edit a person (name, role, phone, Slack id, timezone), deactivate
them after a confirmation that says what it ends, and reactivate them. File-managed people
are shown read-only with their file. ``oncall.manage.users`` does the work, as for the API;
a refusal (still on a schedule layer or a policy, the last admin) is shown as text."""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

from flask import abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from oncall.manage import Refused, users
from oncall.models import ROLES, User, utcnow
from oncall.web import session as db_session
from oncall.web import transaction
from oncall.web.console import sessions
from oncall.web.console.blueprint import bp
from oncall.web.console.forms import ButtonForm

_ZONES = sorted(available_timezones() - {"localtime"})


class UserForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)],
                       render_kw={"autocomplete": "off"})
    role = SelectField("Role", choices=list(ROLES))
    phone = StringField("Phone", validators=[Optional(), Length(max=32)],
                        description="E.164: + and the country code, e.g. +14155550100. "
                                    "Leave empty for none.",
                        render_kw={"inputmode": "tel", "autocomplete": "off"})
    slack_id = StringField("Slack member ID", validators=[Optional(), Length(max=32)],
                           description="Like U012AB3CD (Slack: profile, ⋮, Copy member ID). "
                                       "Leave empty for none.",
                           render_kw={"autocomplete": "off"})
    timezone = SelectField("Timezone", validate_choice=False,
                           description="Their times in the console and in messages.")


def _actor() -> str:
    admin = sessions.current()
    assert admin is not None
    return f"user:{admin.email}"


def _user(user_id: int) -> User:
    try:
        return users.get(db_session(), user_id)
    except Refused:
        abort(404, f"user {user_id} not found")


def _form(user: User, formdata: Any = None) -> UserForm:
    form = UserForm(formdata=formdata) if formdata is not None else UserForm(
        formdata=None, data={"name": user.name, "role": user.role, "phone": user.phone or "",
                             "slack_id": user.slack_id or "", "timezone": user.timezone})
    zones = _ZONES if user.timezone in _ZONES else [user.timezone, *_ZONES]
    form.timezone.choices = [SelectChoice(z, z.replace("_", " ")) for z in zones]
    return form


def _page(user: User, form: UserForm | None = None, problems: list[str] | None = None,
          status: int = 200) -> Any:
    effects = users.deactivation_effects(db_session(), user, utcnow())
    return render_template("user.html", user=user, form=form or _form(user),
                           button=ButtonForm(), effects=effects,
                           problems=problems or []), status


@bp.get("/users/<int:user_id>")
@sessions.require("admin")
def user_page(user_id: int) -> Any:
    return _page(_user(user_id))


@bp.post("/users/<int:user_id>")
@sessions.require("admin")
def save_user(user_id: int) -> Any:
    user = _user(user_id)
    form = _form(user, formdata=request.form)
    if user.managed_by:
        return _page(user, problems=[
            f"{user.email} is managed by {user.managed_by}; edit that file and run "
            "`oncall apply`. Nothing was saved."], status=409)
    if not form.validate_on_submit():
        return _page(user, form, ["Nothing was saved: correct the fields below."], 400)
    changes = {"name": form.name.data or "", "role": form.role.data,
               "phone": (form.phone.data or "").strip() or None,
               "slack_id": (form.slack_id.data or "").strip() or None,
               "timezone": form.timezone.data}
    wrong = users.field_problems(changes)
    if wrong:
        for name, message in wrong.items():
            field = getattr(form, name)
            field.errors = [*field.errors, message]
        return _page(user, form, ["Nothing was saved: correct the fields below."], 400)
    try:
        with transaction() as s:
            users.update(s, _actor(), user, changes)
    except Refused as exc:
        db_session().expire_all()
        field = getattr(form, exc.field, None) if exc.field else None
        problems = ["Nothing was saved: correct the fields below."]
        if field is None:
            problems = [f"Nothing was saved: {exc.message}"]
        else:
            field.errors = [*field.errors, exc.message]
        return _page(_user(user_id), form, problems, 400 if exc.status == 400 else exc.status)
    flash(f"Saved {user.email}.", "info")
    if not sessions.can("admin"):  # an admin who gave themselves a lesser role
        return redirect(url_for("console.account"))
    return redirect(url_for("console.user_page", user_id=user_id))


@bp.get("/users/<int:user_id>/deactivate")
@sessions.require("admin")
def confirm_deactivate(user_id: int) -> Any:
    user = _user(user_id)
    if user.deactivated_at is not None:
        return redirect(url_for("console.user_page", user_id=user_id))
    return _confirm(user)


def _confirm(user: User, problems: list[str] | None = None, status: int = 200) -> Any:
    effects = users.deactivation_effects(db_session(), user, utcnow())
    return render_template("user_deactivate.html", user=user, effects=effects,
                           button=ButtonForm(), problems=problems or []), status


@bp.post("/users/<int:user_id>/deactivate")
@sessions.require("admin")
def deactivate_user(user_id: int) -> Any:
    user = _user(user_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    if user.deactivated_at is not None:  # a second click, or a second tab
        flash(f"{user.email} was already deactivated.", "info")
        return redirect(url_for("console.user_page", user_id=user_id))
    effects = users.deactivation_effects(db_session(), user, utcnow())
    me = sessions.current()
    try:
        with transaction() as s:
            users.deactivate(s, _actor(), user, utcnow())
    except Refused as exc:
        db_session().expire_all()
        return _confirm(_user(user_id), [f"Not deactivated: {exc.message}."], exc.status)
    ended = [f"{effects['tokens']} API token{'s' if effects['tokens'] != 1 else ''} revoked"]
    if effects["links"]:
        ended.append(f"{effects['links']} unused sign-in link"
                     f"{'s' if effects['links'] != 1 else ''} cancelled")
    flash(f"Deactivated {user.email}: console sessions ended, {', '.join(ended)}.", "info")
    if me is not None and me.id == user_id:
        return redirect(url_for("console.signin"))
    return redirect(url_for("console.users"))


@bp.post("/users/<int:user_id>/reactivate")
@sessions.require("admin")
def reactivate_user(user_id: int) -> Any:
    user = _user(user_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        with transaction() as s:
            users.reactivate(s, _actor(), user, utcnow())
    except Refused as exc:
        db_session().expire_all()
        return _page(_user(user_id), problems=[exc.message], status=exc.status)
    flash(f"Reactivated {user.email}. They have no password any more: create a new "
          "invitation link below and send it to them to sign in again.", "info")
    return redirect(url_for("console.user_page", user_id=user_id))
