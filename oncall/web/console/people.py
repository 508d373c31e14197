"""``/users``: admins list people, invite them and hand out reset links (shown once, with a
copy button). The links are the same as ``oncall user invite`` prints."""

from __future__ import annotations

from typing import Any

from flask import abort, render_template
from sqlalchemy import func, select

from oncall.accounts import service
from oncall.models import SignInLink, User, utcnow
from oncall.web import session as db_session
from oncall.web import settings, transaction
from oncall.web.console import sessions
from oncall.web.console.blueprint import bp
from oncall.web.console.forms import ButtonForm, InviteForm


def _page(form: InviteForm, issued: dict[str, Any] | None = None, status: int = 200) -> Any:
    s = db_session()
    now = utcnow()
    pending = dict(s.execute(
        select(SignInLink.user_id, func.max(SignInLink.expires_at))
        .where(SignInLink.used_at.is_(None), SignInLink.expires_at > now)
        .group_by(SignInLink.user_id)).all())
    users = list(s.scalars(select(User).order_by(User.email)))
    return render_template("users.html", users=users, pending=pending, form=form,
                           button=ButtonForm(), issued=issued), status


def _issued(user_email: str, role: str, issued: Any) -> dict[str, Any]:
    return {"email": user_email, "role": role, "purpose": issued.link.purpose,
            "url": issued.url(settings().public_url), "expires_at": issued.link.expires_at}


@bp.get("/users")
@sessions.require("admin")
def users() -> Any:
    return _page(InviteForm())


@bp.post("/users/invite")
@sessions.require("admin")
def invite() -> Any:
    form = InviteForm()
    if not form.validate_on_submit():
        return _page(form, status=400)
    admin = sessions.current()
    assert admin is not None
    try:
        with transaction() as s:
            made = service.invite(s, form.email.data or "", actor=f"user:{admin.email}",
                                  now=utcnow(), secret_key=settings().secret_key,
                                  role=form.role.data or "responder", name=form.name.data)
            shown = _issued(made.link.user.email, made.link.user.role, made)
    except service.AccountError as exc:
        field = getattr(form, exc.field or "email")
        field.errors = [*field.errors, exc.message]
        return _page(form, status=400)
    return _page(InviteForm(formdata=None), issued=shown, status=200)


@bp.post("/users/<int:user_id>/link")
@sessions.require("admin")
def new_link(user_id: int) -> Any:
    """A fresh invitation (no password yet) or reset link for an existing user."""
    if not ButtonForm().validate_on_submit():
        return _page(InviteForm(formdata=None), status=400)
    admin = sessions.current()
    assert admin is not None
    user = db_session().get(User, user_id)
    if user is None:
        return _page(InviteForm(formdata=None), status=404)
    try:
        with transaction() as s:
            made = service.invite(s, user.email, actor=f"user:{admin.email}", now=utcnow(),
                                  secret_key=settings().secret_key, role=user.role)
            shown = _issued(user.email, user.role, made)
    except service.AccountError as exc:  # a deactivated user gets no link
        abort(409, exc.message)
    return _page(InviteForm(formdata=None), issued=shown, status=200)
