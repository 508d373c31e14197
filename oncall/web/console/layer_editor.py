"""Layer editing in the console, for managers, on schedules not managed by files: a layer's
rotation, members (in turn order), restrictions and name; a new layer; removing one. Every
change takes effect from a chosen time (default: the layer's next handoff; now; or a time
given) and is previewed before it is saved: the shift-level diff for the next four weeks
(who gains and loses which shifts, a warning if the person on call now would change, the
gaps it leaves). A save carries the layer's version as the editor opened it: if someone
saved the layer since, it is refused ("changed since you opened it") and the form keeps
what was typed. A file-managed schedule can be handed to the console here (detach).

It all goes through ``oncall.schedules.service`` and ``oncall.schedules.layer_edits``,
as the API does (the same validation, history rule, audit log and version check). The
preview is ``layer_preview``; a new schedule and detach are ``schedule_editor``."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from oncall.models import Schedule, ScheduleLayer, User, utcnow
from oncall.schedules import history, layer_edits, service
from oncall.schedules.rotation.spec import WEEKDAYS
from oncall.schedules.store import emails_by_id
from oncall.web import session as db_session
from oncall.web import transaction
from oncall.web.console import sessions
from oncall.web.console.blueprint import bp
from oncall.web.console.layer_forms import (
    Draft,
    LayerForm,
    apply_op,
    fingerprint,
    layer_data,
    read_draft,
    restriction_rows,
    rotation_fields,
)
from oncall.web.console.layer_preview import DataWork, Preview, preview_edit
from oncall.web.console.schedule_page import _me, _schedule
from oncall.web.console.timeline_view import span, when


def _layer(sched: Schedule, layer_id: int) -> ScheduleLayer:
    found = db_session().get(ScheduleLayer, layer_id)
    if found is None or found.schedule_id != sched.id:
        abort(404, "That layer is gone: it may have been removed since you opened the page.")
    return found


def _people() -> list[tuple[str, str]]:
    users = db_session().scalars(select(User).where(User.deactivated_at.is_(None))
                                 .order_by(User.name))
    return [(u.email, f"{u.name} ({u.email})") for u in users]


def _effective(form: LayerForm, zone: ZoneInfo) -> str | datetime:
    if form.effective.data == "at":
        if form.effective_at.data is None:
            raise service.ScheduleError("effective_at", "Give the date and time it takes "
                                                        "effect.")
        return form.effective_at.data.replace(tzinfo=zone)
    return history.NOW if form.effective.data == "now" else history.NEXT_HANDOFF


def _errors(form: LayerForm, exc: service.ScheduleError) -> dict[str, Any]:
    """Put a refusal on its field; the member and restriction rows' errors are returned."""
    where = exc.field or ""
    rows: dict[str, Any] = {"members": {}, "restrictions": {}, "stale": None}
    head, _, rest = where.partition("[")
    if head in ("members", "restrictions") and rest:
        rows[head][int(rest.split("]")[0])] = exc.message
        return rows
    if head in ("members", "restrictions"):
        rows[head][-1] = exc.message
        return rows
    if where == "version":
        rows["stale"] = exc.message
        return rows
    message = exc.message
    if head == "effective" and message.startswith("is "):
        message = "This time " + message
    target = {"rotation": form.kind, "handoff": form.handoff_time, "name": form.name,
              "start": form.start, "end": form.end, "effective": form.effective_at,
              "effective_at": form.effective_at}.get(head.split(".")[0])
    if target is None:
        form.form_errors.append(message)
    else:
        target.errors = [*target.errors, message]
    return rows


def _render(sched: Schedule, layer: ScheduleLayer | None, form: LayerForm, draft: Draft,
            *, preview: Preview | None = None, rows: dict[str, Any] | None = None,
            status: int = 200) -> Any:
    zone = ZoneInfo(sched.timezone)
    nxt = None
    if layer is not None:
        try:
            nxt = history.resolve(db_session(), history.NEXT_HANDOFF, layer, {},
                                  sched.timezone, utcnow())
        except (ValueError, KeyError):
            nxt = None
    people = _people()
    emails = {e for e, _ in people}
    return render_template(
        "layer_edit.html", schedule=sched, layer=layer, form=form, draft=draft,
        people=people, unknown=[m for m in draft.members if m not in emails],
        preview=preview, rows=rows or {"members": {}, "restrictions": {}, "stale": None},
        zone=zone, next_handoff=nxt, span=span, when=when,
        weekdays=WEEKDAYS), status


def _editable(sched: Schedule) -> None:
    if sched.managed_by:
        abort(409, f"{sched.name} is managed by the file {sched.managed_by}: edit that file "
                   "and run oncall apply, or hand the schedule to the console first.")


def _handle(sched: Schedule, layer: ScheduleLayer | None, work: DataWork, what: str) -> Any:
    """One POST of the editor: a row button (re-render), a preview, or a save."""
    form = LayerForm()
    draft = read_draft(request.form)
    op = request.form.get("op", "preview")
    if apply_op(draft, op):
        return _render(sched, layer, form, draft)
    if not form.validate_on_submit():
        return _render(sched, layer, form, draft, status=400)
    zone = ZoneInfo(sched.timezone)
    data = layer_data(form, draft)
    try:
        effective = _effective(form, zone)
        mark = fingerprint(data, str(effective))
        if op != "save" or form.previewed.data != mark:
            # Nothing is saved before its preview; a form changed after its preview is
            # previewed again.
            shown = preview_edit(sched, lambda eff, now: work(eff, now, data), effective)
            form.previewed.data = mark
            return _render(sched, layer, form, draft, preview=shown)
        with transaction() as s:
            made = work(effective, utcnow(), data)
            at = made if isinstance(made, datetime) else made.effective_from
            s.flush()
    except service.ScheduleError as exc:
        db_session().rollback()
        rows = _errors(form, exc)
        form.previewed.data = ""
        return _render(sched, layer, form, draft, rows=rows,
                       status=409 if rows["stale"] else exc.status)
    flash(f"Saved: {what} takes effect {when(at, zone, with_zone=True)}; shifts before then "
          "are unchanged.", "ok")
    return redirect(url_for("console.schedule", schedule_id=sched.id,
                            start=at.astimezone(zone).date().isoformat()))


@bp.route("/schedules/<int:schedule_id>/layers/<int:layer_id>/edit", methods=["GET", "POST"])
@sessions.require("manager")
def edit_layer(schedule_id: int, layer_id: int) -> Any:
    sched = _schedule(schedule_id)
    _editable(sched)
    layer = _layer(sched, layer_id)
    if request.method == "GET":
        emails = emails_by_id(db_session(), set(layer.members))
        form = LayerForm(formdata=None, name=layer.name, version=str(layer.version),
                         **rotation_fields(layer.spec))
        draft = Draft([emails.get(m, f"#{m}") for m in layer.members],
                      restriction_rows(layer.restrictions or []))
        return _render(sched, layer, form, draft)
    try:
        version = int(request.form.get("version", ""))
    except ValueError:
        abort(400, "This form is missing the layer's version: open the editor again.")
    if request.form.get("op") in ("remove-preview", "remove"):
        return _remove(sched, layer, version)

    def work(eff: str | datetime, now: datetime, data: dict[str, Any]) -> Any:
        return layer_edits.update_layer(db_session(), service.actor_of(_me()), layer, data,
                                    effective=eff, now=now, version=version)

    return _handle(sched, layer, work, f"the change to {layer.name}")


def _remove(sched: Schedule, layer: ScheduleLayer, version: int) -> Any:
    """Remove the layer from the chosen time: previewed first, like any change."""
    form = LayerForm()
    draft = read_draft(request.form)
    zone = ZoneInfo(sched.timezone)
    name = layer.name

    def work(eff: str | datetime, now: datetime) -> Any:
        return layer_edits.delete_layer(db_session(), service.actor_of(_me()), layer,
                                    effective=eff, now=now, version=version)

    try:
        effective = _effective(form, zone)
        mark = fingerprint({"remove": layer.id}, str(effective))
        if request.form.get("op") != "remove" or form.previewed.data != mark:
            shown = preview_edit(sched, work, effective)
            form.previewed.data = mark
            return _render(sched, layer, form, draft, preview=shown)
        with transaction():
            at = work(effective, utcnow())
    except service.ScheduleError as exc:
        db_session().rollback()
        rows = _errors(form, exc)
        form.previewed.data = ""
        return _render(sched, layer, form, draft, rows=rows,
                       status=409 if rows["stale"] else exc.status)
    flash(f"Layer {name} removed from {when(at, zone, with_zone=True)}; its shifts before "
          "then are kept.", "ok")
    return redirect(url_for("console.schedule", schedule_id=sched.id))


@bp.route("/schedules/<int:schedule_id>/layers/new", methods=["GET", "POST"])
@sessions.require("manager")
def new_layer(schedule_id: int) -> Any:
    sched = _schedule(schedule_id)
    _editable(sched)
    if request.method == "GET":
        today = utcnow().astimezone(ZoneInfo(sched.timezone)).date()
        form = LayerForm(formdata=None, start=today, name=f"Layer {len(sched.layers) + 1}")
        return _render(sched, None, form, Draft())

    def work(eff: str | datetime, now: datetime, data: dict[str, Any]) -> Any:
        return layer_edits.add_layer(db_session(), service.actor_of(_me()), sched, data,
                                 effective=eff, now=now)

    return _handle(sched, None, work, "the new layer")
