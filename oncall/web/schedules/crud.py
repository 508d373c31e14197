"""Schedules themselves: list, create, read, update, delete, and detach from their file."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from oncall.models import Schedule, utcnow
from oncall.schedules import service
from oncall.schedules.store import schedule_json
from oncall.web import roster, session
from oncall.web.auth import actor, require
from oncall.web.schedules.blueprint import EDIT_DOC, bp, commit_change, find_schedule
from oncall.web.schedules.schemas import ScheduleIn, SchedulePatch


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
    created = commit_change(lambda: service.create_schedule(session(), actor(), data))
    return schedule_json(session(), created), 201


@bp.get("/<int:schedule_id>")
@bp.doc(security="ApiToken")
@require("viewer")
def get_schedule(schedule_id: int) -> dict[str, Any]:
    return schedule_json(session(), find_schedule(schedule_id))


@bp.patch("/<int:schedule_id>")
@bp.doc(security="ApiToken", responses=EDIT_DOC)
@bp.input(SchedulePatch, arg_name="data")
@bp.input(roster.EditQuery, location="query", arg_name="query")
@require("manager")
def update_schedule(schedule_id: int, data: dict[str, Any], query: dict[str, Any]) -> Any:
    """Rename, or change the timezone or description. A new timezone moves every handoff,
    past ones too (it is not versioned): preview it with `dry_run=1`."""
    sched = find_schedule(schedule_id)
    return roster.save_or_preview(
        sched, query, lambda _eff, _now: service.update_schedule(session(), actor(), sched,
                                                                 data),
        lambda _: schedule_json(session(), sched))


@bp.delete("/<int:schedule_id>")
@bp.doc(security="ApiToken", responses={204: "Deleted", 409: "Managed by a file"})
@require("manager")
def delete_schedule(schedule_id: int) -> tuple[str, int]:
    sched = find_schedule(schedule_id)
    commit_change(lambda: service.delete_schedule(session(), actor(), sched))
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
    sched = find_schedule(schedule_id)
    commit_change(lambda: service.detach(session(), actor(), sched, utcnow()))
    return schedule_json(session(), sched)
