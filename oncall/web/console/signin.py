"""Signing in and out, and setting a password from an invitation or reset link."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for

from oncall.accounts import links, service
from oncall.models import utcnow
from oncall.web import session as db_session
from oncall.web import settings, transaction
from oncall.web.console import sessions
from oncall.web.console.blueprint import bp
from oncall.web.console.forms import ButtonForm, SetPasswordForm, SignInForm


def _throttle() -> Any:
    return current_app.extensions["oncall.signin_throttle"]


def _minutes(seconds: int) -> str:
    minutes = max(1, round(seconds / 60))
    return f"{minutes} minute" + ("" if minutes == 1 else "s")


@bp.route("/signin", methods=["GET", "POST"])
def signin() -> Any:
    form = SignInForm()
    target = sessions.safe_next(request.args.get("next"))
    if sessions.current() is not None and request.method == "GET":
        return redirect(target or url_for("console.home"))
    error, status = None, 200
    if form.validate_on_submit():
        email, address = form.email.data or "", request.remote_addr
        wait = _throttle().retry_after(email, address)
        if wait is not None:
            error = (f"Too many failed sign-ins. Wait {_minutes(wait)} and try again, or ask "
                     "an admin for a password reset link.")
            status = 429
        else:
            with transaction() as s:
                user = service.authenticate(s, email, form.password.data or "")
            if user is None:
                _throttle().failed(email, address)
                error, status = "Wrong email or password.", 401
            else:
                sessions.start(user)
                return redirect(target or url_for("console.home"))
    elif request.method == "POST":
        status = 400
    return render_template("signin.html", form=form, error=error, next=target), status


@bp.post("/signout")
def signout() -> Any:
    sessions.end()
    flash("You are signed out.", "info")
    return redirect(url_for("console.signin"))


@bp.post("/signout-everywhere")
@sessions.require("viewer")
def signout_everywhere() -> Any:
    user = sessions.current()
    assert user is not None
    with transaction() as s:
        service.sign_out_everywhere(s, user)
    sessions.end()
    flash("You are signed out on every browser and device.", "info")
    return redirect(url_for("console.signin"))


@bp.route("/welcome/<token>", methods=["GET", "POST"])
def welcome(token: str) -> Any:
    """Set a password from an invitation or reset link (the link is used up by the POST
    that succeeds, not by opening it: mail scanners open links too)."""
    s = db_session()
    try:
        link = links.find(s, token, now=utcnow(), secret_key=settings().secret_key)
    except links.LinkError as exc:
        return render_template("message.html", title="Link not valid", message=exc.message,
                               signin=True), 410
    form = SetPasswordForm()
    status = 200
    if form.validate_on_submit():
        try:
            with transaction() as tx:
                user = service.set_password(tx, link, form.password.data or "", now=utcnow())
                sessions.start(user)
        except service.AccountError as exc:
            form.password.errors = [exc.message]
            status = 400
        except links.LinkError as exc:
            return render_template("message.html", title="Link not valid",
                                   message=exc.message, signin=True), 410
        else:
            flash("Your password is set and you are signed in.", "info")
            return redirect(url_for("console.home"))
    elif request.method == "POST":
        status = 400
    return render_template("welcome.html", form=form, user=link.user,
                           purpose=link.purpose), status


@bp.get("/account")
@sessions.require("viewer")
def account() -> Any:
    return render_template("account.html", form=ButtonForm())
