"""Overrides and swaps: managers for anyone, responders for themselves on schedules they
are members of (``oncall.permissions``)."""

from __future__ import annotations

from typing import Any

from apiflask import HTTPError
from sqlalchemy import select

from oncall.models import Override, utcnow
from oncall.permissions import OverrideLimits
from oncall.schedules import service
from oncall.schedules.store import override_json
from oncall.web import session, settings
from oncall.web.auth import actor, current_user, require
from oncall.web.schedules.blueprint import bp, commit_change, find_schedule, find_user, parse_time
from oncall.web.schedules.schemas import OverrideIn, RangeQuery, SwapIn


def _limits() -> OverrideLimits:
    return OverrideLimits.from_days(settings().max_override_days,
                                    settings().manager_max_override_days)


@bp.get("/<int:schedule_id>/overrides")
@bp.doc(security="ApiToken")
@bp.input(RangeQuery, location="query", arg_name="query")
@require("viewer")
def list_overrides(schedule_id: int, query: dict[str, Any]) -> dict[str, Any]:
    """Overrides touching [start, end) (default: from now on)."""
    sched = find_schedule(schedule_id)
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
    sched = find_schedule(schedule_id)
    user = find_user(data["user"], "user") if data.get("user") else current_user()
    start, end = parse_time(data["start"], "start"), parse_time(data["end"], "end")
    made = commit_change(lambda: service.add_override(
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
    commit_change(lambda: service.delete_override(session(), actor(), found, by=current_user()))
    return "", 204


@bp.post("/<int:schedule_id>/swaps")
@bp.doc(security="ApiToken", responses={201: "Created", 403: "Not yours to swap"})
@bp.input(SwapIn, arg_name="data")
@require("responder")
def swap_shift(schedule_id: int, data: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Hand one shift of a layer to someone else (an override covering exactly that shift).
    Responders, on schedules they are members of: take a member's shift, or give their own
    to another member; current and future shifts only."""
    sched = find_schedule(schedule_id)
    to_user = find_user(data["to"], "to")
    at = parse_time(data["at"], "at")
    made = commit_change(lambda: service.swap(session(), actor(), sched, data["layer"], at, to_user,
                                        by=current_user(), now=utcnow()))
    return override_json(made), 201
