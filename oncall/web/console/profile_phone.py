"""Verifying the phone number entered on ``/profile``: a 6-digit code sent by SMS (again on
request, rate-limited), entered here; the number is paged only once it is verified."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, url_for

from oncall.accounts import profile
from oncall.models import utcnow
from oncall.web import session as db_session
from oncall.web import settings
from oncall.web.console import sessions
from oncall.web.console.blueprint import bp
from oncall.web.console.forms import ButtonForm
from oncall.web.console.profile import render_profile, send_code, signed_in_user
from oncall.web.console.profile_forms import CodeForm


@bp.post("/profile/phone/code")
@sessions.require("viewer")
def send_phone_code() -> Any:
    me = signed_in_user()
    if not ButtonForm().validate_on_submit():
        abort(400)
    problem = send_code(me)
    if problem:
        status = 429 if "wait" in problem or "later" in problem else 400
        return render_profile(problems=[problem], status=status)
    flash(f"A new code was sent by SMS to {me.phone}.", "info")
    return redirect(url_for("console.profile_page") + "#contacts")


@bp.post("/profile/phone/verify")
@sessions.require("viewer")
def verify_phone() -> Any:
    me = signed_in_user()
    form = CodeForm()
    if not form.validate_on_submit():
        return render_profile(code=form, status=400)
    s = db_session()
    try:
        profile.verify(s, me, form.code.data or "", utcnow(), settings().secret_key)
    except profile.ProfileError as exc:
        s.commit()  # a wrong attempt is counted, although the answer is an error
        form.code.errors = [*form.code.errors, exc.message]
        shown = profile.needs_verification(me)  # else the code form is not on the page
        return render_profile(code=form, problems=None if shown else [exc.message], status=400)
    s.commit()
    flash(f"{me.phone} is verified: it is paged from now on.", "info")
    return redirect(url_for("console.profile_page") + "#contacts")
