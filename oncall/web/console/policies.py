"""``/policies``: every escalation policy as its ladder (levels, targets and who each
reaches right now, delays, repeats); managers create and edit those not managed by files.
The same ``oncall.manage.policies`` functions as the API do the work."""

from __future__ import annotations

import re
from typing import Any

from flask import abort, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from wtforms import FieldList, Form, FormField, IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from oncall.manage import Refused, policies
from oncall.models import EscalationPolicy, utcnow
from oncall.web import session as db_session
from oncall.web import transaction
from oncall.web.console import sessions
from oncall.web.console.blueprint import bp

SPARE_LEVELS = 2  # empty rows under the ladder for adding levels without script


class LevelForm(Form):
    wait = IntegerField("Minutes before the next level", default=5,
                        validators=[Optional(), NumberRange(1, 1440)])
    targets = TextAreaField(
        "Notify", validators=[Optional(), Length(max=2000)],
        description=f"One per line: {policies.target_help()}. Leave empty to drop the level.")


class PolicyForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
    repeat = IntegerField("Repeat the whole ladder", default=0,
                          validators=[Optional(), NumberRange(0, policies.MAX_REPEAT)],
                          description="How many more times, after the last level.")
    ack_timeout = IntegerField("Acknowledgement timeout (minutes)",
                               validators=[Optional(), NumberRange(1, 7 * 1440)],
                               description="Re-trigger an acknowledged, unresolved incident "
                                           "after this long. Empty: never.")
    levels = FieldList(FormField(LevelForm), min_entries=1)


def _form_for(policy: EscalationPolicy | None) -> PolicyForm:
    form = PolicyForm(formdata=None)
    if policy is not None:
        form.name.data, form.repeat.data = policy.name, policy.repeat
        form.ack_timeout.data = policy.ack_timeout // 60 if policy.ack_timeout else None
        while form.levels.entries:
            form.levels.pop_entry()
        for lvl in policy.levels:
            form.levels.append_entry({"wait": lvl.escalate_after // 60, "targets": "\n".join(
                policies.target_text(t) for t in lvl.targets)})
    for _ in range(SPARE_LEVELS):
        form.levels.append_entry({"wait": 5, "targets": ""})
    return form


def _submitted(form: PolicyForm) -> tuple[dict[str, Any], list[int]]:
    """The form as the domain takes it, and for each level given the form row it came from
    (empty rows are dropped)."""
    levels, rows = [], []
    for i, entry in enumerate(form.levels.entries):
        targets = [t.strip() for t in re.split(r"[\n,]", entry.form.targets.data or "")
                   if t.strip()]
        if targets:
            levels.append({"escalate_after": (entry.form.wait.data or 5) * 60,
                           "targets": targets})
            rows.append(i)
    return {"name": form.name.data or "", "repeat": form.repeat.data or 0,
            "ack_timeout": (form.ack_timeout.data or 0) * 60 or None, "levels": levels}, rows


def _show_refusal(form: PolicyForm, exc: Refused, rows: list[int]) -> list[str]:
    """Put a domain refusal on the form field it names; what names no field is returned."""
    found = re.fullmatch(r"levels\[(\d+)\]\.(\w+)(?:\[(\d+)\])?", exc.field or "")
    target: Any = None
    message = exc.message
    if found:
        entry = form.levels.entries[rows[int(found.group(1))]].form
        target = entry.wait if found.group(2) == "escalate_after" else entry.targets
        if found.group(3) is not None:
            message = f"Line {int(found.group(3)) + 1}: {message}"
    elif exc.field == "levels":
        target, message = form.levels.entries[0].form.targets, "Notify someone on level 1."
    elif exc.field in ("name", "repeat", "ack_timeout"):
        target = getattr(form, exc.field)
    if target is None:
        return [message]
    target.errors = [*target.errors, message]
    return []


@bp.get("/policies")
@sessions.require("viewer")
def policies_page() -> Any:
    s, now = db_session(), utcnow()
    memo: dict[str, str | None] = {}  # a schedule in several policies is resolved once
    found = [(p, policies.ladder(s, p, now, memo)) for p in policies.listing(s)]
    return render_template("policies.html", policies=found, now=now)


def _editable(policy_id: int) -> EscalationPolicy:
    try:
        policy = policies.get(db_session(), policy_id)
    except Refused:
        abort(404, f"policy {policy_id} not found")
    if policy.managed_by:
        abort(409, f"policy {policy.name} is managed by {policy.managed_by}; edit that file "
                   "and run `oncall apply`")
    return policy


def _edit_page(form: PolicyForm, policy: EscalationPolicy | None, problems: list[str],
               status: int = 200) -> Any:
    return render_template("policy_edit.html", form=form, policy=policy,
                           problems=problems, failed=status >= 400), status


@bp.get("/policies/new")
@sessions.require("manager")
def new_policy() -> Any:
    return _edit_page(_form_for(None), None, [])


@bp.get("/policies/<int:policy_id>")
@sessions.require("manager")
def edit_policy(policy_id: int) -> Any:
    policy = _editable(policy_id)
    return _edit_page(_form_for(policy), policy, [])


@bp.post("/policies/new")
@bp.post("/policies/<int:policy_id>")
@sessions.require("manager")
def save_policy(policy_id: int | None = None) -> Any:
    policy = _editable(policy_id) if policy_id is not None else None
    form = PolicyForm()
    if not form.validate_on_submit():
        return _edit_page(form, policy, [], 400)
    data, rows = _submitted(form)
    user = sessions.current()
    assert user is not None
    try:
        with transaction() as s:
            if policy is None:
                saved = policies.create(s, f"user:{user.email}", **data)
            else:
                saved = policies.update(s, f"user:{user.email}", policy, data)
            name = saved.name
    except Refused as exc:
        return _edit_page(form, policy, _show_refusal(form, exc, rows), exc.status)
    flash(f"Saved policy {name}.", "info")
    return redirect(url_for("console.policies_page") + f"#policy-{name}")
