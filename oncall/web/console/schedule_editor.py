"""Schedules in the console, for managers: a new schedule (its layers are added next, with
the layer editor), and handing a file-managed schedule to the console (detach)."""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

from flask import abort, flash, redirect, render_template, request, url_for

from oncall.models import utcnow
from oncall.schedules import service
from oncall.web import transaction
from oncall.web.console import sessions
from oncall.web.console.blueprint import bp
from oncall.web.console.forms import ButtonForm
from oncall.web.console.layer_forms import ScheduleForm
from oncall.web.console.schedule_page import _me, _schedule


@bp.route("/schedules/new", methods=["GET", "POST"])
@sessions.require("manager")
def new_schedule() -> Any:
    """A schedule (name, timezone); its layers are added next, with the layer editor."""
    form = ScheduleForm()
    if request.method == "GET" or not form.validate_on_submit():
        if request.method == "GET":
            form = ScheduleForm(formdata=None, timezone=_me().timezone or "UTC")
        return render_template("schedule_new.html", form=form,
                               zones=sorted(available_timezones())), (
            200 if request.method == "GET" else 400)
    try:
        with transaction() as s:
            made = service.create_schedule(s, service.actor_of(_me()), {
                "name": (form.name.data or "").strip(), "timezone": form.timezone.data,
                "description": form.description.data or None})
            made_id = made.id
    except service.ScheduleError as exc:
        field = getattr(form, exc.field or "", None)
        errors: Any = field.errors if field is not None else form.form_errors
        errors.append(exc.message)
        return render_template("schedule_new.html", form=form,
                               zones=sorted(available_timezones())), exc.status
    flash("Schedule created. Now add its first layer: who takes turns, and when.", "ok")
    return redirect(url_for("console.new_layer", schedule_id=made_id))


@bp.route("/schedules/<int:schedule_id>/detach", methods=["GET", "POST"])
@sessions.require("manager")
def detach(schedule_id: int) -> Any:
    """Hand a file-managed schedule to the console (asked first, since the file then no
    longer applies to it)."""
    sched = _schedule(schedule_id)
    button = ButtonForm()
    if request.method == "GET" or not sched.managed_by:
        return render_template("detach.html", schedule=sched, button=button)
    if not button.validate_on_submit():
        abort(400, "This form expired or did not come from this site: try again.")
    try:
        with transaction() as s:
            service.detach(s, service.actor_of(_me()), sched, utcnow())
    except service.ScheduleError as exc:
        abort(exc.status, exc.message)
    flash(f"{sched.name} is now edited here. oncall apply leaves it alone from now on: "
          f"remove it from {sched.detached_from} when you can.", "ok")
    return redirect(url_for("console.schedule", schedule_id=sched.id))
