"""Layer editing in the console, for managers, on schedules not managed by files: a layer's
rotation, members (in turn order), restrictions and name; a new layer; removing one. Every
change takes effect from a chosen time (default: the layer's next handoff; now; or a time
given) and is previewed before it is saved: the shift-level diff for the next four weeks
(who gains and loses which shifts, a warning if the person on call now would change, the
gaps it leaves). A save carries the layer's version as the editor opened it: if someone
saved the layer since, it is refused ("changed since you opened it") and the form keeps
what was typed. A file-managed schedule can be handed to the console here (detach).

It all goes through ``oncall.scheduling.service``, as the API does (the same validation,
history rule, audit log and version check)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from oncall.models import Schedule, ScheduleLayer, User, utcnow
from oncall.rotations import ShiftDiff
from oncall.rotations.spec import WEEKDAYS
from oncall.scheduling import coverage, history, service
from oncall.scheduling.store import emails_by_id
from oncall.web import session as db_session
from oncall.web import transaction
from oncall.web.console import sessions
from oncall.web.console.blueprint import bp
from oncall.web.console.forms import ButtonForm
from oncall.web.console.layer_forms import (
    Draft,
    LayerForm,
    ScheduleForm,
    apply_op,
    fingerprint,
    layer_data,
    read_draft,
    restriction_rows,
    rotation_fields,
)
from oncall.web.console.schedule_page import _me, _schedule
from oncall.web.console.timeline_view import span, when
from oncall.web.roster import warnings

Work = Callable[[str | datetime, datetime], Any]
DataWork = Callable[[str | datetime, datetime, dict[str, Any]], Any]


@dataclass
class PersonChange:
    name: str | None  # None: nobody (a gap)
    gained: list[tuple[datetime, datetime, str | None]]
    lost: list[tuple[datetime, datetime, str | None]]

    @staticmethod
    def hours(pieces: list[tuple[datetime, datetime, str | None]]) -> float:
        return sum(((e - s) for s, e, _ in pieces), timedelta()).total_seconds() / 3600


@dataclass
class Preview:
    effective_from: datetime | None
    warnings: list[str]
    people: list[PersonChange]
    gaps: list[tuple[datetime, datetime]]
    window: tuple[datetime, datetime]
    now_before: str | None
    now_after: str | None
    unchanged: bool  # the edit changes nothing from now on


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


def _preview(sched: Schedule, work: Work, effective: str | datetime) -> Preview:
    """Run ``work`` in the request's session, measure what it does to the final schedule
    over the next four weeks, and roll it all back."""
    s = db_session()
    now = utcnow()
    done: list[Any] = []
    try:
        diff: ShiftDiff = service.preview(s, sched, lambda: done.append(work(effective, now)),
                                          now)
        gaps = [(a, b) for a, b in coverage.schedule_gaps(s, sched, now, service.PREVIEW_DAYS)]
        at = done[0] if isinstance(done[0], datetime) else done[0].effective_from
    finally:
        s.rollback()
    names = dict(s.execute(select(User.email, User.name)).all())
    people: dict[str | None, PersonChange] = {}
    for kind, pieces in (("gained", diff.gained), ("lost", diff.lost)):
        for p in pieces:
            entry = people.setdefault(p.user, PersonChange(
                names.get(p.user, p.user) if p.user else None, [], []))
            getattr(entry, kind).append((p.start, p.end, p.source))
    ordered = sorted(people.values(), key=lambda c: (c.name is None, (c.name or "").lower()))
    return Preview(at, warnings(diff), ordered, gaps, (diff.start, diff.end),
                   names.get(diff.now_before or "", diff.now_before),
                   names.get(diff.now_after or "", diff.now_after),
                   unchanged=not ordered and (at is None or at <= now))


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
            shown = _preview(sched, lambda eff, now: work(eff, now, data), effective)
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
        return service.update_layer(db_session(), service.actor_of(_me()), layer, data,
                                    effective=eff, now=now, version=version)

    return _handle(sched, layer, work, f"the change to {layer.name}")


def _remove(sched: Schedule, layer: ScheduleLayer, version: int) -> Any:
    """Remove the layer from the chosen time: previewed first, like any change."""
    form = LayerForm()
    draft = read_draft(request.form)
    zone = ZoneInfo(sched.timezone)
    name = layer.name

    def work(eff: str | datetime, now: datetime) -> Any:
        return service.delete_layer(db_session(), service.actor_of(_me()), layer,
                                    effective=eff, now=now, version=version)

    try:
        effective = _effective(form, zone)
        mark = fingerprint({"remove": layer.id}, str(effective))
        if request.form.get("op") != "remove" or form.previewed.data != mark:
            shown = _preview(sched, work, effective)
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
        return service.add_layer(db_session(), service.actor_of(_me()), sched, data,
                                 effective=eff, now=now)

    return _handle(sched, None, work, "the new layer")


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
