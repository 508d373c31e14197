"""``/schedules/<id>``: one schedule as a timeline (each layer, the overrides, the final
schedule with its gaps in red) over a chosen window, in the viewer's timezone or the
schedule's; a shift of the final row opens a prefilled override form, and overrides are
deleted here. Every change goes through ``oncall.schedules.service``, as the API's do, so
the same role rules hold (``oncall.permissions``)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from oncall.models import Override, Schedule, User, utcnow
from oncall.permissions import OverrideLimits
from oncall.schedules import service
from oncall.schedules.rotation import RotationError
from oncall.schedules.timeline import final_shift_at, timeline
from oncall.web import session as db_session
from oncall.web import settings, transaction
from oncall.web.console import sessions
from oncall.web.console.blueprint import bp
from oncall.web.console.forms import ButtonForm
from oncall.web.console.override_forms import OverrideForm, SwapForm
from oncall.web.console.timeline_view import Drawing, span, when, window

DEFAULT_WEEKS, MAX_WEEKS = 2, 8
FARTHEST = timedelta(days=3660)  # a start date further away falls back to today


def _schedule(schedule_id: int) -> Schedule:
    found = db_session().get(Schedule, schedule_id)
    if found is None:
        abort(404, f"There is no schedule {schedule_id}.")
    return found


def _me() -> User:
    user = sessions.current()
    assert user is not None  # sessions.require ran first
    return user


def _zone(schedule: Schedule) -> tuple[ZoneInfo, bool]:
    """The zone to show times in: the viewer's, or the schedule's with ``?tz=schedule``;
    and whether it is the schedule's."""
    if request.args.get("tz") == "schedule":
        return ZoneInfo(schedule.timezone), True
    try:
        return ZoneInfo(_me().timezone or "UTC"), False
    except (ValueError, KeyError):
        return ZoneInfo("UTC"), False


def may_override(user: User, schedule: Schedule) -> bool:
    """Whether to offer override controls: the rule ``oncall.permissions`` enforces
    (managers anywhere; responders on schedules they are a member of)."""
    return sessions.at_least(user, "manager") or (
        sessions.at_least(user, "responder") and user.id in service.members_of(schedule))


def may_delete(user: User, override: Override) -> bool:
    return sessions.at_least(user, "manager") or (
        sessions.at_least(user, "responder")
        and override.created_by == service.actor_of(user))


def _names() -> dict[str, str]:
    return dict(db_session().execute(select(User.email, User.name)).all())


def _range(zone: ZoneInfo) -> tuple[date, int]:
    try:
        weeks = min(max(int(request.args.get("weeks", DEFAULT_WEEKS)), 1), MAX_WEEKS)
    except ValueError:
        weeks = DEFAULT_WEEKS
    today = utcnow().astimezone(zone).date()
    try:
        day = date.fromisoformat(request.args.get("start", ""))
    except ValueError:
        day = today
    return (day if abs(day - today) <= FARTHEST else today), weeks


@bp.get("/schedules/<int:schedule_id>")
@sessions.require("viewer")
def schedule(schedule_id: int) -> Any:
    sched = _schedule(schedule_id)
    zone, in_schedule_zone = _zone(sched)
    day, weeks = _range(zone)
    start, end = window(day, weeks * 7, zone)
    try:
        found = timeline(db_session(), sched, start, end)
    except (RotationError, ValueError) as exc:  # a broken layer: say so, as the list does
        return render_template("message.html", title=sched.name,
                               message=f"This schedule cannot be computed: {exc}")
    me = _me()
    emails = dict(db_session().execute(select(User.id, User.email)).all())
    order = [emails[m] for layer in sched.layers for m in layer.members if m in emails]
    drawing = Drawing(found, zone, _names(), order)
    overrides = list(db_session().scalars(
        select(Override).where(Override.schedule_id == sched.id, Override.end > start,
                               Override.start < end).order_by(Override.start)))
    tz = "schedule" if in_schedule_zone else None
    now = utcnow()
    return render_template(
        "schedule.html", schedule=sched, timeline=found, drawing=drawing, zone=zone,
        in_schedule_zone=in_schedule_zone, tz=tz, day=day, weeks=weeks,
        max_weeks=MAX_WEEKS, prev_day=day - timedelta(days=weeks * 7),
        next_day=day + timedelta(days=weeks * 7), overrides=overrides,
        now_x=drawing.x(now) if start <= now < end else None, span=span, when=when,
        editable=may_override(me, sched), deletable={o.id for o in overrides
                                                     if may_delete(me, o)},
        button=ButtonForm())


def _utc(value: str | None) -> datetime | None:
    try:
        # a hand-typed "+00:00" arrives as " 00:00" (a + in a query string is a space)
        found = datetime.fromisoformat((value or "").replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        return None
    if found.tzinfo is None or abs(found - utcnow()) > FARTHEST:
        return None
    return found


def _choices(sched: Schedule, me: User, shift_user: str | None) -> list[tuple[str, str]]:
    """Who may be put on call: a responder only themselves; a manager anyone, the
    schedule's members first."""
    if not sessions.at_least(me, "manager"):
        return [(me.email, f"{me.name} (you)")]
    members = service.members_of(sched)
    users = db_session().scalars(select(User).order_by(User.name))
    ranked = sorted(users, key=lambda u: (u.id not in members, u.name.lower()))
    return [("", "Choose someone")] + [
        (u.email, u.name + (" (on call then)" if u.email == shift_user else ""))
        for u in ranked]


def _swap_choices(sched: Schedule, me: User, shift_user: str | None
                  ) -> list[tuple[str, str]]:
    """Who may take a layer's shift: for a manager anyone; for a responder the schedule's
    members (``oncall.permissions.swap_refusal`` then checks that they hold or take it)."""
    if sessions.at_least(me, "manager"):
        return _choices(sched, me, shift_user)
    members = service.members_of(sched)
    users = db_session().scalars(select(User).where(User.id.in_(members)).order_by(User.name))
    return [("", "Choose someone")] + [
        (u.email, u.name + (" (you)" if u.id == me.id else "")) for u in users]


def _override_page(sched: Schedule, at: datetime, form: OverrideForm | None = None,
                   swap: SwapForm | None = None, status: int = 200) -> Any:
    me = _me()
    if not may_override(me, sched):
        abort(403, "Only managers, and responders who are members of this schedule, may "
                   "change who is on call here.")
    zone, in_schedule_zone = _zone(sched)
    shift = final_shift_at(db_session(), sched, at)
    names = _names()
    now = utcnow()
    # A shift under way is overridden from now on: its past is not rewritten unless a
    # manager sets an earlier From on purpose (to correct the record).
    begins = max(shift.start, (now + timedelta(minutes=1)).replace(second=0, microsecond=0))
    if form is None:
        form = OverrideForm(formdata=None, zone=str(zone),
                            start=begins.astimezone(zone).replace(tzinfo=None),
                            end=shift.end.astimezone(zone).replace(tzinfo=None),
                            user=me.email if not sessions.at_least(me, "manager") else "")
    form.user.choices = _choices(sched, me, shift.user)
    if swap is None and shift.layer is not None:
        swap = SwapForm(formdata=None, prefix="swap", layer=shift.layer,
                        at=at.isoformat())
    if swap is not None:
        swap.to.choices = _swap_choices(sched, me, shift.user)
    return render_template(
        "override.html", schedule=sched, shift=shift, who=names.get(shift.user or "", None),
        zone=zone, tz="schedule" if in_schedule_zone else None, form=form, swap=swap,
        span=span, at=at, now=utcnow(), back=_back(sched, shift.start.astimezone(zone).date()),
        keep=_kept()), status


def _kept() -> dict[str, str]:
    """The schedule page's range and zone, carried through the override form and back."""
    return {k: request.args[k] for k in ("start", "weeks", "tz") if request.args.get(k)}


def _back(sched: Schedule, day: date) -> str:
    """The schedule page the form was opened from (else the one starting on ``day``)."""
    values: dict[str, Any] = {"start": day.isoformat(), **_kept()}
    return url_for("console.schedule", schedule_id=sched.id, **values)


@bp.get("/schedules/<int:schedule_id>/override")
@sessions.require("responder")
def override_form(schedule_id: int) -> Any:
    """The override form, prefilled with the final shift that holds ``?at=``."""
    sched = _schedule(schedule_id)
    at = _utc(request.args.get("at")) or utcnow()
    return _override_page(sched, at)


def _local(value: datetime | None, zone: ZoneInfo) -> datetime | None:
    return None if value is None else value.replace(tzinfo=zone)


@bp.post("/schedules/<int:schedule_id>/override")
@sessions.require("responder")
def create_override(schedule_id: int) -> Any:
    sched = _schedule(schedule_id)
    me = _me()
    at = _utc(request.args.get("at")) or utcnow()
    form = OverrideForm()
    form.user.choices = _choices(sched, me, None)
    if not form.validate_on_submit():
        return _override_page(sched, at, form=form, status=400)
    try:
        zone = ZoneInfo(service.check_timezone(form.zone.data))
    except service.ScheduleError as exc:
        form.start.errors = [*form.start.errors, exc.message]
        return _override_page(sched, at, form=form, status=400)
    start, end = _local(form.start.data, zone), _local(form.end.data, zone)
    user = db_session().scalar(select(User).where(User.email == form.user.data))
    assert start is not None and end is not None and user is not None  # validated above
    try:
        with transaction() as s:
            service.add_override(
                s, service.actor_of(me), sched, user, start, end, form.note.data or None,
                by=me, now=utcnow(), limits=OverrideLimits.from_days(
                    settings().max_override_days, settings().manager_max_override_days))
    except service.ScheduleError as exc:
        field = getattr(form, exc.field or "", None)
        errors = field.errors if field is not None else form.form_errors
        errors.append(exc.message)
        return _override_page(sched, at, form=form, status=exc.status)
    past = (" It is in the past: it changes the record of who was on call then, not who "
            "was paged." if end <= utcnow() else
            " Its start is in the past: the record of who was on call then changes too."
            if start < utcnow() - timedelta(minutes=1) else "")
    flash(f"Override saved: {user.name} is on call {span(start, end, zone)}.{past}", "ok")
    return redirect(_back(sched, start.astimezone(zone).date()))


@bp.post("/schedules/<int:schedule_id>/swap")
@sessions.require("responder")
def swap_shift(schedule_id: int) -> Any:
    sched = _schedule(schedule_id)
    me = _me()
    form = SwapForm(prefix="swap")
    form.to.choices = _swap_choices(sched, me, None)
    at = _utc(form.at.data)
    if at is None:
        abort(400, "This form is missing the shift's time.")
    if not form.validate_on_submit():
        return _override_page(sched, at, swap=form, status=400)
    to_user = db_session().scalar(select(User).where(User.email == form.to.data))
    assert to_user is not None  # a choice
    try:
        with transaction() as s:
            made = service.swap(s, service.actor_of(me), sched, form.layer.data or "", at,
                                to_user, by=me, now=utcnow())
            zone = _zone(sched)[0]
            said = span(made.start, made.end, zone)
    except service.ScheduleError as exc:
        form.to.errors = [*form.to.errors, exc.message]
        return _override_page(sched, at, swap=form, status=exc.status)
    flash(f"Shift swapped: {to_user.name} is on call {said}.", "ok")
    return redirect(_back(sched, made.start.astimezone(zone).date()))


@bp.post("/schedules/<int:schedule_id>/overrides/<int:override_id>/delete")
@sessions.require("responder")
def delete_override(schedule_id: int, override_id: int) -> Any:
    sched = _schedule(schedule_id)
    found = db_session().get(Override, override_id)
    if found is None or found.schedule_id != sched.id:
        abort(404, "That override is gone.")
    if not ButtonForm().validate_on_submit():
        abort(400, "This form expired or did not come from this site.")
    me = _me()
    who, when = found.user.name, span(found.start, found.end, _zone(sched)[0])
    try:
        with transaction() as s:
            service.delete_override(s, service.actor_of(me), found, by=me)
    except service.ScheduleError as exc:
        abort(exc.status, exc.message)
    flash(f"Override deleted: {who}, {when}.", "ok")
    return redirect(sessions.safe_next(request.form.get("back"))
                    or url_for("console.schedule", schedule_id=sched.id))
