"""``/api/v1/schedules``: schedules, layers, members, restrictions, overrides and swaps, and
the queries (who is on call, shifts). Managers edit; responders may add overrides for
themselves and swap shifts on schedules they are members of (``oncall.permissions``);
viewers read. Every change lands in the audit log."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apiflask import APIBlueprint, HTTPError, Schema
from apiflask.fields import Integer, List, Raw, String
from apiflask.validators import Length, Range
from flask import Flask
from sqlalchemy import select

from oncall.models import Override, Schedule, ScheduleLayer, User, utcnow
from oncall.permissions import OverrideLimits
from oncall.rotations import final_shifts, next_shift, on_call_by_layer, versions_shifts
from oncall.scheduling import service
from oncall.scheduling.store import override_json, schedule_json, spec_for
from oncall.web import commit, roster, session, settings
from oncall.web.auth import actor, current_user, require
from oncall.web.errors import BadRequest

bp = APIBlueprint("schedules", __name__, url_prefix="/api/v1/schedules", tag="Schedules")
MAX_RANGE = timedelta(days=366)


class LayerIn(Schema):
    name = String(required=True, validate=Length(1, 200))
    rotation = Raw(metadata={"description": "daily | weekly | {days: N} | {weeks: N} | {hours: N}"})
    handoff = String(metadata={"description": '"HH:MM", or "Mon HH:MM" for weekly'})
    start = String(metadata={"description": "YYYY-MM-DD: turns count from here"})
    end = String(allow_none=True)
    members = List(String(), required=True, metadata={"description": "emails, in turn order"})
    restrictions = List(Raw(), metadata={"description": '[{days: [Sat, Sun], from: "09:00", '
                                                        'to: "21:00"}]'})


class LayerPatch(LayerIn):
    name = String(validate=Length(1, 200))
    members = List(String())
    position = Integer(validate=Range(min=0, max=10_000))


class ScheduleIn(Schema):
    name = String(required=True, validate=Length(1, 200))
    timezone = String(required=True, metadata={"description": "IANA zone"})
    description = String(allow_none=True)
    layers = List(Raw())


class SchedulePatch(Schema):
    name = String(validate=Length(1, 200))
    timezone = String()
    description = String(allow_none=True)


class OverrideIn(Schema):
    user = String(metadata={"description": "email; default: yourself"})
    start = String(required=True, metadata={"description": "ISO 8601 with offset"})
    end = String(required=True)
    note = String(allow_none=True)


class SwapIn(Schema):
    layer = String(required=True)
    at = String(required=True, metadata={"description": "any instant inside the shift"})
    to = String(required=True, metadata={"description": "email of who takes the shift"})


class MemberIn(Schema):
    user = String(required=True)
    position = Integer(validate=Range(min=0, max=10_000))


class AtQuery(Schema):
    at = String()


class RangeQuery(Schema):
    start = String()
    end = String()
    layer = String()


def parse_time(value: Any, field: str) -> datetime:
    if not isinstance(value, str):
        raise BadRequest(field, "must be an ISO 8601 time with a UTC offset")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(field, f"{value!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise BadRequest(field, "needs a UTC offset, e.g. 2026-12-01T09:00:00-05:00 or ...Z")
    return parsed


def _schedule(schedule_id: int) -> Schedule:
    found = session().get(Schedule, schedule_id)
    if found is None:
        raise HTTPError(404, f"schedule {schedule_id} not found")
    return found


def _layer(schedule: Schedule, layer_id: int) -> ScheduleLayer:
    for layer in schedule.layers:
        if layer.id == layer_id:
            return layer
    raise HTTPError(404, f"schedule {schedule.id} has no layer {layer_id}")


def _user(email: str, field: str) -> User:
    found = session().scalar(select(User).where(User.email == email))
    if found is None:
        raise BadRequest(field, f"no user {email!r}")
    return found



def _commit(work: Callable[[], Any]) -> Any:
    """Run a change and commit it, turning refusals into 4xx answers."""
    return commit(work, service.ScheduleError)


# Layer edits take ?effective= (default: the layer's next handoff; shifts before it never
# change) and ?dry_run=1 (the shift-level diff, nothing saved): oncall.web.roster.
_EDIT_DOC: dict[int | str, dict[str, Any]] = {
    200: roster.DRY_RUN_DOC, 409: {"description": "Managed by a file"}}


@bp.get("")
@bp.doc(security="ApiToken")
@require("viewer")
def list_schedules() -> dict[str, Any]:
    s = session()
    return {"schedules": [schedule_json(s, x) for x in
                          s.scalars(select(Schedule).order_by(Schedule.name))]}


@bp.post("")
@bp.doc(security="ApiToken", responses={201: "Created", 409: "The name is taken"})
@bp.input(ScheduleIn, arg_name="data")
@require("manager")
def create_schedule(data: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Create a schedule (with its layers, in order: a later layer wins)."""
    created = _commit(lambda: service.create_schedule(session(), actor(), data))
    return schedule_json(session(), created), 201


@bp.get("/<int:schedule_id>")
@bp.doc(security="ApiToken")
@require("viewer")
def get_schedule(schedule_id: int) -> dict[str, Any]:
    return schedule_json(session(), _schedule(schedule_id))


@bp.patch("/<int:schedule_id>")
@bp.doc(security="ApiToken", responses=_EDIT_DOC)
@bp.input(SchedulePatch, arg_name="data")
@bp.input(roster.EditQuery, location="query", arg_name="query")
@require("manager")
def update_schedule(schedule_id: int, data: dict[str, Any], query: dict[str, Any]) -> Any:
    """Rename, or change the timezone or description. A new timezone moves every handoff,
    past ones too (it is not versioned): preview it with `dry_run=1`."""
    sched = _schedule(schedule_id)
    return roster.save_or_preview(
        sched, query, lambda _eff, _now: service.update_schedule(session(), actor(), sched,
                                                                 data),
        lambda _: schedule_json(session(), sched))


@bp.delete("/<int:schedule_id>")
@bp.doc(security="ApiToken", responses={204: "Deleted", 409: "Managed by a file"})
@require("manager")
def delete_schedule(schedule_id: int) -> tuple[str, int]:
    sched = _schedule(schedule_id)
    _commit(lambda: service.delete_schedule(session(), actor(), sched))
    return "", 204


_DETACH_DOC: dict[int | str, dict[str, Any]] = {
    200: {"description": "The schedule, now edited here",
          "content": {"application/json": {"schema": roster.ScheduleOut}}},
    409: {"description": "Not managed by a file"}}


@bp.post("/<int:schedule_id>/detach")
@bp.doc(security="ApiToken", responses=_DETACH_DOC)
@require("manager")
def detach_schedule(schedule_id: int) -> dict[str, Any]:
    """Hand a schedule managed by a file to the console and this API: it becomes editable
    here, keeps its layers and history, and `oncall apply` leaves it alone from now on (it
    says so while the file still defines it: remove it there)."""
    sched = _schedule(schedule_id)
    _commit(lambda: service.detach(session(), actor(), sched, utcnow()))
    return schedule_json(session(), sched)


@bp.post("/<int:schedule_id>/layers")
@bp.doc(security="ApiToken", responses={**_EDIT_DOC, 200: roster.PREVIEW_DOC,
                                        201: roster.CREATED_DOC})
@bp.input(LayerIn, arg_name="data")
@bp.input(roster.EditQuery, location="query", arg_name="query")
@require("manager")
def add_layer(schedule_id: int, data: dict[str, Any], query: dict[str, Any]) -> Any:
    """Add a layer on top, in force from `effective` (default: its first handoff)."""
    sched = _schedule(schedule_id)
    return roster.save_or_preview(
        sched, query, lambda eff, now: service.add_layer(session(), actor(), sched, data,
                                                         effective=eff, now=now),
        lambda _: (schedule_json(session(), sched), 201))


@bp.patch("/<int:schedule_id>/layers/<int:layer_id>")
@bp.doc(security="ApiToken", responses=_EDIT_DOC)
@bp.input(LayerPatch, arg_name="data")
@bp.input(roster.EditQuery, location="query", arg_name="query")
@require("manager")
def update_layer(schedule_id: int, layer_id: int, data: dict[str, Any],
                 query: dict[str, Any]) -> Any:
    """Change a layer: its rotation, members (in order), restrictions, name or position,
    from `effective` on (default: the layer's next handoff, so whoever is on call keeps
    their shift). Shifts before then stay as they were."""
    sched = _schedule(schedule_id)
    layer = _layer(sched, layer_id)
    return roster.save_or_preview(
        sched, query, lambda eff, now: service.update_layer(
            session(), actor(), layer, data, effective=eff, now=now,
            version=query.get("version")),
        lambda _: schedule_json(session(), sched))


@bp.delete("/<int:schedule_id>/layers/<int:layer_id>")
@bp.doc(security="ApiToken", responses={**_EDIT_DOC, 200: roster.PREVIEW_DOC,
                                        204: {"description": "Deleted"}})
@bp.input(roster.EditQuery, location="query", arg_name="query")
@require("manager")
def delete_layer(schedule_id: int, layer_id: int, query: dict[str, Any]) -> Any:
    """Remove a layer from `effective` on (default: its next handoff); its earlier shifts
    stay."""
    sched = _schedule(schedule_id)
    layer = _layer(sched, layer_id)
    return roster.save_or_preview(
        sched, query, lambda eff, now: service.delete_layer(
            session(), actor(), layer, effective=eff, now=now, version=query.get("version")),
        lambda _: ("", 204))


def _edit_members(schedule_id: int, layer_id: int, query: dict[str, Any],
                  edit: Callable[[list[str]], None]) -> Any:
    """Change a layer's member list (emails, in turn order) through the validated update."""
    sched = _schedule(schedule_id)
    layer = _layer(sched, layer_id)
    members = list(schedule_json(session(), sched)["layers"][layer.position]["members"])
    edit(members)
    return roster.save_or_preview(
        sched, query, lambda eff, now: service.update_layer(
            session(), actor(), layer, {"members": members}, effective=eff, now=now,
            version=query.get("version")),
        lambda _: schedule_json(session(), sched))


@bp.post("/<int:schedule_id>/layers/<int:layer_id>/members")
@bp.doc(security="ApiToken", responses=_EDIT_DOC)
@bp.input(MemberIn, arg_name="data")
@bp.input(roster.EditQuery, location="query", arg_name="query")
@require("manager")
def add_member(schedule_id: int, layer_id: int, data: dict[str, Any],
               query: dict[str, Any]) -> Any:
    """Add a member to the rotation (at the end, or at `position`), from `effective` on."""
    return _edit_members(schedule_id, layer_id, query, lambda members: members.insert(
        data.get("position", len(members)), data["user"]))


@bp.delete("/<int:schedule_id>/layers/<int:layer_id>/members/<string:email>")
@bp.doc(security="ApiToken", responses={404: {"description": "Not a member"}, **_EDIT_DOC})
@bp.input(roster.EditQuery, location="query", arg_name="query")
@require("manager")
def remove_member(schedule_id: int, layer_id: int, email: str, query: dict[str, Any]) -> Any:
    """Remove a member from the rotation, from `effective` on."""
    def remove(members: list[str]) -> None:
        if email not in members:
            raise HTTPError(404, f"{email} is not a member of layer {layer_id}")
        members.remove(email)

    return _edit_members(schedule_id, layer_id, query, remove)


def _limits() -> OverrideLimits:
    return OverrideLimits.from_days(settings().max_override_days,
                                    settings().manager_max_override_days)


@bp.get("/<int:schedule_id>/overrides")
@bp.doc(security="ApiToken")
@bp.input(RangeQuery, location="query", arg_name="query")
@require("viewer")
def list_overrides(schedule_id: int, query: dict[str, Any]) -> dict[str, Any]:
    """Overrides touching [start, end) (default: from now on)."""
    sched = _schedule(schedule_id)
    start = parse_time(query["start"], "start") if "start" in query else utcnow()
    stmt = select(Override).where(Override.schedule_id == sched.id, Override.end > start)
    if "end" in query:
        stmt = stmt.where(Override.start < parse_time(query["end"], "end"))
    rows = session().scalars(stmt.order_by(Override.start))
    return {"overrides": [override_json(o) for o in rows]}


@bp.post("/<int:schedule_id>/overrides")
@bp.doc(security="ApiToken", responses={201: "Created", 403: "Not yours to override"})
@bp.input(OverrideIn, arg_name="data")
@require("responder")
def add_override(schedule_id: int, data: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Put someone on call for a window, on top of every layer (also on file-managed
    schedules). The most recently created override wins where they overlap. Responders:
    themselves only, on schedules they are members of, ending in the future, at most
    `ONCALL_MAX_OVERRIDE_DAYS` (14) long; managers: anyone, at most
    `ONCALL_MANAGER_MAX_OVERRIDE_DAYS` (366)."""
    sched = _schedule(schedule_id)
    user = _user(data["user"], "user") if data.get("user") else current_user()
    start, end = parse_time(data["start"], "start"), parse_time(data["end"], "end")
    made = _commit(lambda: service.add_override(
        session(), actor(), sched, user, start, end, data.get("note"), by=current_user(),
        now=utcnow(), limits=_limits()))
    return override_json(made), 201


@bp.delete("/<int:schedule_id>/overrides/<int:override_id>")
@bp.doc(security="ApiToken", responses={204: "Deleted", 403: "Not yours"})
@require("responder")
def delete_override(schedule_id: int, override_id: int) -> tuple[str, int]:
    """Delete an override: whoever created it, or a manager or admin."""
    found = session().get(Override, override_id)
    if found is None or found.schedule_id != schedule_id:
        raise HTTPError(404, f"override {override_id} not found")
    _commit(lambda: service.delete_override(session(), actor(), found, by=current_user()))
    return "", 204


@bp.post("/<int:schedule_id>/swaps")
@bp.doc(security="ApiToken", responses={201: "Created", 403: "Not yours to swap"})
@bp.input(SwapIn, arg_name="data")
@require("responder")
def swap_shift(schedule_id: int, data: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Hand one shift of a layer to someone else (an override covering exactly that shift).
    Responders, on schedules they are members of: take a member's shift, or give their own
    to another member; current and future shifts only."""
    sched = _schedule(schedule_id)
    to_user = _user(data["to"], "to")
    at = parse_time(data["at"], "at")
    made = _commit(lambda: service.swap(session(), actor(), sched, data["layer"], at, to_user,
                                        by=current_user(), now=utcnow()))
    return override_json(made), 201


def _shift_json(shift: Any) -> dict[str, Any]:
    return {"start": shift.start.isoformat(), "end": shift.end.isoformat(), "user": shift.user,
            "layer": shift.layer, "override_id": shift.override_id}


@bp.get("/<int:schedule_id>/oncall")
@bp.doc(security="ApiToken")
@bp.input(AtQuery, location="query", arg_name="query")
@require("viewer")
def who_is_on_call(schedule_id: int, query: dict[str, Any]) -> dict[str, Any]:
    """Who is on call at `at` (default now): the final answer, each layer's, and who is next."""
    sched = _schedule(schedule_id)
    at = parse_time(query["at"], "at") if "at" in query else utcnow()
    spec = spec_for(session(), sched, at, at + timedelta(days=90))
    detail = on_call_by_layer(spec, at)
    nxt = next_shift(spec, at)
    return {"schedule": sched.name, "at": at.isoformat(), "user": detail.user,
            "layer": detail.layer, "override_id": detail.override_id,
            "by_layer": detail.by_layer, "next": _shift_json(nxt) if nxt else None}


@bp.get("/<int:schedule_id>/shifts")
@bp.doc(security="ApiToken")
@bp.input(RangeQuery, location="query", arg_name="query")
@require("viewer")
def shifts(schedule_id: int, query: dict[str, Any]) -> dict[str, Any]:
    """The final shifts in [start, end) (default: the next 7 days), gaps included as
    `user: null`; or one layer's shifts with `layer=`. At most 366 days."""
    sched = _schedule(schedule_id)
    start = parse_time(query["start"], "start") if "start" in query else utcnow()
    end = parse_time(query["end"], "end") if "end" in query else start + timedelta(days=7)
    if end <= start:
        raise BadRequest("end", "must be after start")
    if end - start > MAX_RANGE:
        raise BadRequest("end", "the range may span at most 366 days")
    spec = spec_for(session(), sched, start, end)
    if "layer" in query:
        versions = [x for x in spec.layers if x.name == query["layer"]]
        if not versions:
            raise BadRequest("layer", f"no layer {query['layer']!r}")
        found = versions_shifts(versions, ZoneInfo(spec.timezone), start, end)
    else:
        found = final_shifts(spec, start, end)
    return {"schedule": sched.name, "timezone": sched.timezone,
            "shifts": [_shift_json(x) for x in found]}


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
