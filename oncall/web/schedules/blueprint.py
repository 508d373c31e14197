"""The ``/api/v1/schedules`` blueprint and what its routes share: finding a schedule, layer
or user (404 or 400 otherwise), times read strictly, a change committed with refusals as
4xx answers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from apiflask import APIBlueprint, HTTPError
from sqlalchemy import select

from oncall.models import Schedule, ScheduleLayer, User
from oncall.schedules import service
from oncall.web import commit, roster, session
from oncall.web.errors import BadRequest

bp = APIBlueprint("schedules", __name__, url_prefix="/api/v1/schedules", tag="Schedules")
MAX_RANGE = timedelta(days=366)


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


def find_schedule(schedule_id: int) -> Schedule:
    found = session().get(Schedule, schedule_id)
    if found is None:
        raise HTTPError(404, f"schedule {schedule_id} not found")
    return found


def find_layer(schedule: Schedule, layer_id: int) -> ScheduleLayer:
    for layer in schedule.layers:
        if layer.id == layer_id:
            return layer
    raise HTTPError(404, f"schedule {schedule.id} has no layer {layer_id}")


def find_user(email: str, field: str) -> User:
    found = session().scalar(select(User).where(User.email == email))
    if found is None:
        raise BadRequest(field, f"no user {email!r}")
    return found


def commit_change(work: Callable[[], Any]) -> Any:
    """Run a change and commit it, turning refusals into 4xx answers."""
    return commit(work, service.ScheduleError)


# Layer edits take ?effective= (default: the layer's next handoff; shifts before it never
# change) and ?dry_run=1 (the shift-level diff, nothing saved): oncall.web.roster.
EDIT_DOC: dict[int | str, dict[str, Any]] = {
    200: roster.DRY_RUN_DOC, 409: {"description": "Managed by a file"}}
