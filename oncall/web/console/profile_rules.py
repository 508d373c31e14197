"""Saving personal notification rules from ``/profile``: the form's rows per severity as the
API's rule body, checked by the API's own code (``oncall.web.users``), errors shown on
the row they belong to."""

from __future__ import annotations

import re
from typing import Any

from apiflask import HTTPError
from flask import abort, flash, redirect, request, url_for

from oncall.channels import preferences
from oncall.web import session as db_session
from oncall.web import users as users_api
from oncall.web.console import sessions
from oncall.web.console.blueprint import bp
from oncall.web.console.forms import ButtonForm
from oncall.web.console.profile import SEVERITIES, SLOTS, render_profile, signed_in_user

_RULE_FIELD = re.compile(r"rules\.(\w+)\[(\d+)\]\.(channel|delay_seconds)")


def _typed_rules() -> tuple[dict[str, list[dict[str, str]]], dict[str, Any],
                            dict[tuple[str, int, str], str]]:
    """The rules form as typed, as the API's body, and delay errors found here."""
    typed: dict[str, list[dict[str, str]]] = {}
    body: dict[str, Any] = {}
    errors: dict[tuple[str, int, str], str] = {}
    for sev in SEVERITIES:
        typed[sev] = []
        steps = []
        for i in range(SLOTS):
            channel = request.form.get(f"{sev}-{i}-channel", "").strip()
            delay = request.form.get(f"{sev}-{i}-delay", "0").strip() or "0"
            typed[sev].append({"channel": channel, "delay": delay})
            if not channel:
                continue
            if not delay.isdigit() or int(delay) > 1440:
                errors[(sev, i, "delay_seconds")] = "minutes, a whole number from 0 to 1440"
                continue
            steps.append({"channel": channel, "delay_seconds": int(delay) * 60})
        if steps:
            body[sev] = steps
    return typed, body, errors


@bp.post("/profile/rules")
@sessions.require("responder")  # as the API: viewers are never paged
def save_rules() -> Any:
    me = signed_in_user()
    if not ButtonForm().validate_on_submit():
        abort(400)
    managed = preferences.managed_by(db_session(), me.id)
    if managed:
        abort(409, f"your notification rules are managed by {managed}: edit that file")
    typed, body, errors = _typed_rules()
    if request.form.get("defaults"):
        body, typed = {}, {sev: [{"channel": "", "delay": "0"}] * 2 for sev in SEVERITIES}
    if errors:
        return render_profile(typed=typed, rule_errors=errors,
                     problems=["Nothing was saved: see the marked fields."], status=400)
    try:
        users_api.save_rules(me, users_api.parse_rules(body), f"user:{me.email}")
    except HTTPError as exc:
        field = (exc.extra_data or {}).get("field") or ""
        message = str(exc.message).split(": ", 1)[-1]
        found = _RULE_FIELD.fullmatch(field)
        if found is None:
            return render_profile(typed=typed, problems=[str(exc.message)], status=exc.status_code)
        sev, step, what = found.group(1), int(found.group(2)), found.group(3)
        # The API counts steps among the filled slots: find that slot.
        filled = [i for i, row in enumerate(typed[sev]) if row["channel"]]
        slot = filled[step] if step < len(filled) else 0
        return render_profile(typed=typed, rule_errors={(sev, slot, what): message},
                     problems=["Nothing was saved: see the marked fields."], status=400)
    flash("Your notification rules were saved." if body else
          "Your notification rules were cleared: the built-in defaults apply.", "info")
    return redirect(url_for("console.profile_page") + "#rules")
