"""Who is on call at a time, and a schedule's shifts over a range (with ``layer``: one
layer's, through its history)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from oncall.models import utcnow
from oncall.schedules.rotation import final_shifts, next_shift, on_call_by_layer, versions_shifts
from oncall.schedules.store import spec_for
from oncall.web import session
from oncall.web.auth import require
from oncall.web.errors import BadRequest
from oncall.web.schedules.blueprint import MAX_RANGE, bp, find_schedule, parse_time
from oncall.web.schedules.schemas import AtQuery, RangeQuery


def _shift_json(shift: Any) -> dict[str, Any]:
    return {"start": shift.start.isoformat(), "end": shift.end.isoformat(), "user": shift.user,
            "layer": shift.layer, "override_id": shift.override_id}


@bp.get("/<int:schedule_id>/oncall")
@bp.doc(security="ApiToken")
@bp.input(AtQuery, location="query", arg_name="query")
@require("viewer")
def who_is_on_call(schedule_id: int, query: dict[str, Any]) -> dict[str, Any]:
    """Who is on call at `at` (default now): the final answer, each layer's, and who is next."""
    sched = find_schedule(schedule_id)
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
    sched = find_schedule(schedule_id)
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
