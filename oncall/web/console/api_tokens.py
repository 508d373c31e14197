"""``/account/tokens``: everyone lists, creates and revokes their own API tokens (for the
REST API; the console never needs one); admins also see everyone's, with the owner, and may
revoke any. A new token is shown once, with a copy button; afterwards only its first
characters. ``oncall.manage.tokens`` does the work and holds the rules, as for the API."""

from __future__ import annotations

import secrets
from typing import Any

from flask import abort, flash, redirect, render_template, url_for
from flask import session as flask_session
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import DataRequired, Length, Optional

from oncall.manage import Refused, tokens
from oncall.web import session as db_session
from oncall.web import transaction
from oncall.web.console import sessions
from oncall.web.console.blueprint import bp
from oncall.web.console.forms import ButtonForm


class TokenForm(FlaskForm):
    label = StringField("Label", validators=[Optional(), Length(max=200)],
                        description="What it is for, e.g. “deploy script” or “laptop”.",
                        render_kw={"autocomplete": "off"})
    # A fresh value per page: the form sent again (a reload of the page that shows the new
    # token) creates nothing the second time.
    once = HiddenField(default=lambda: secrets.token_urlsafe(12),
                       validators=[DataRequired(), Length(max=40)])


def _page(form: TokenForm | None = None, made: dict[str, Any] | None = None,
          problems: list[str] | None = None, status: int = 200) -> Any:
    me = sessions.current()
    assert me is not None
    every = tokens.listing(db_session(), me)
    mine = [t for t in every if t.user_id == me.id]
    others = [t for t in every if t.user_id != me.id]
    others.sort(key=lambda t: (t.user.email, t.id))
    return render_template("tokens.html", mine=mine, others=others,
                           form=form or TokenForm(formdata=None), button=ButtonForm(),
                           made=made, problems=problems or []), status


@bp.get("/account/tokens")
@sessions.require("viewer")
def tokens_page() -> Any:
    return _page()


@bp.post("/account/tokens")
@sessions.require("viewer")
def create_token() -> Any:
    me = sessions.current()
    assert me is not None
    form = TokenForm()
    if not form.validate_on_submit():
        return _page(form, status=400)
    used: list[str] = flask_session.get("tokens_made", [])
    if form.once.data in used:
        return _page(problems=[
            "This form was already sent and the token created; it is shown only once. "
            "Revoke it below if you did not copy it, and create another."], status=409)
    try:
        with transaction() as s:
            token, value = tokens.create(s, me, label=(form.label.data or "").strip() or None)
            made = {"label": token.label, "prefix": token.prefix, "value": value}
    except Refused as exc:
        field = getattr(form, exc.field, None) if exc.field == "label" else None
        if field is None:
            return _page(form, problems=[exc.message], status=exc.status)
        field.errors = [*field.errors, exc.message]
        return _page(form, status=exc.status)
    flask_session["tokens_made"] = [*used, form.once.data][-20:]
    return _page(made=made)


@bp.post("/account/tokens/<int:token_id>/revoke")
@sessions.require("viewer")
def revoke_token(token_id: int) -> Any:
    me = sessions.current()
    assert me is not None
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:  # someone else's token is "not found" to a non-admin, as in the API
        token = tokens.get(db_session(), me, token_id)
    except Refused:
        abort(404, f"token {token_id} not found")
    what = f"{token.label or 'unlabelled'} ({token.prefix}…)"
    owner = token.user.email
    with transaction() as s:
        tokens.revoke(s, me, token)
    flash(f"Revoked the API token {what}"
          f"{'' if owner == me.email else ' of ' + owner}; it no longer works.", "info")
    return redirect(url_for("console.tokens_page"))
