"""``/api/v1/shifts``: the final shifts of every schedule (or one) in a window, optionally
only one person's: "when am I on call next?" in one request (``oncall shifts --me``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from apiflask import APIBlueprint, HTTPError, Schema
from apiflask.fields import String
from apiflask.validators import Length
from flask import Flask
from sqlalchemy import func, select

from oncall.models import Schedule, User, utcnow
from oncall.schedules.rotation import final_shifts
from oncall.schedules.store import spec_for
from oncall.web import session
from oncall.web.auth import current_user, require
from oncall.web.errors import BadRequest
from oncall.web.openapi import BODIES, INT, OPT_STR, SCHEMAS, STR, TIME, array, obj, ref
from oncall.web.schedules.blueprint import parse_time

bp = APIBlueprint("shifts", __name__, url_prefix="/api/v1", tag="Schedules")
DEFAULT_RANGE = timedelta(days=7)
MAX_RANGE = timedelta(days=92)


class ShiftsQuery(Schema):
    user = String(validate=Length(max=254),
                  metadata={"description": "an email, or `me`: only that person's shifts "
                                           "(default: everyone's, gaps included)"})
    schedule = String(validate=Length(max=200),
                      metadata={"description": "a schedule name (default: every schedule)"})
    start = String(metadata={"description": "ISO 8601 with offset (default: now)"})
    end = String(metadata={"description": "ISO 8601 with offset (default: start + 7 days; "
                                          "at most 92 days after start)"})


@bp.get("/shifts")
@bp.doc(security="ApiToken", responses={404: "No such schedule"})
@bp.input(ShiftsQuery, location="query", arg_name="query")
@require("viewer")
def list_shifts(query: dict[str, Any]) -> dict[str, Any]:
    """The final shifts (overrides, layers and restrictions applied) in [start, end) on every
    schedule or on `schedule`, in time order. With `user` (an email, or `me`) only that
    person's shifts; without, everyone's, and the gaps when nobody is on call as
    `user: null`."""
    s = session()
    start = parse_time(query["start"], "start") if "start" in query else utcnow()
    end = parse_time(query["end"], "end") if "end" in query else start + DEFAULT_RANGE
    if end <= start:
        raise BadRequest("end", "must be after start")
    if end - start > MAX_RANGE:
        raise BadRequest("end", "the range may span at most 92 days")
    email = None
    if "user" in query:
        if query["user"] == "me":
            email = current_user().email
        else:
            found = s.scalar(select(User).where(
                func.lower(User.email) == query["user"].strip().lower()))
            if found is None:
                raise BadRequest("user", f"no user {query['user']!r}")
            email = found.email
    stmt = select(Schedule).order_by(Schedule.name)
    if "schedule" in query:
        stmt = stmt.where(Schedule.name == query["schedule"])
    schedules = list(s.scalars(stmt))
    if "schedule" in query and not schedules:
        raise HTTPError(404, f"schedule {query['schedule']!r} not found")
    rows = []
    for schedule in schedules:
        for shift in final_shifts(spec_for(s, schedule, start, end), start, end):
            if email is not None and shift.user != email:
                continue
            rows.append((shift.start, schedule.name, {
                "schedule": schedule.name, "timezone": schedule.timezone,
                "start": shift.start.isoformat(), "end": shift.end.isoformat(),
                "user": shift.user, "layer": shift.layer, "override_id": shift.override_id}))
    rows.sort(key=lambda r: (r[0], r[1]))
    return {"start": start.isoformat(), "end": end.isoformat(), "user": email,
            "shifts": [r[2] for r in rows]}


SCHEMAS["ScheduleShift"] = obj({"schedule": STR, "timezone": STR, "start": TIME, "end": TIME,
                                "user": OPT_STR, "layer": OPT_STR,
                                "override_id": {**INT, "nullable": True}})
BODIES[("get", "/api/v1/shifts")] = (200, obj({"start": TIME, "end": TIME, "user": OPT_STR,
                                               "shifts": array(ref("ScheduleShift"))}))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
