"""Editing schedules: every change validated, audited and refused on file-managed schedules
(except overrides, which are always editable, within the limits of the editor's role).
Callers own the transaction.

Here: schedules themselves, the validation of a layer's values, overrides and swaps;
``layer_edits`` edits layers (from an effective time, with a preview)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.audit import audit
from oncall.models import Override, Schedule, ScheduleLayer, User, utcnow
from oncall.permissions import (
    DEFAULT_LIMITS,
    OverrideLimits,
    Refusal,
    delete_override_refusal,
    override_refusal,
    swap_refusal,
)
from oncall.schedules.rotation import (
    RotationError,
    on_call_by_layer,
    parse_restriction,
    parse_rotation,
)
from oncall.schedules.rotation import swap as swap_shift
from oncall.schedules.store import override_json, schedule_json, spec_for

ROTATION_KEYS = ("rotation", "handoff", "start", "end")


class ScheduleError(ValueError):
    """Refused: ``field`` names the input at fault; ``status`` is the HTTP status to answer."""

    def __init__(self, field: str | None, message: str, status: int = 400) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field, self.message, self.status = field, message, status


def check_timezone(name: Any, field: str = "timezone") -> str:
    if not isinstance(name, str):
        raise ScheduleError(field, "must be an IANA timezone name")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(field, f"unknown timezone {name!r}") from None
    return name


def editable(schedule: Schedule) -> None:
    if schedule.managed_by:
        raise ScheduleError(None, f"schedule {schedule.name} is managed by "
                                  f"{schedule.managed_by}: edit that file and run `oncall "
                                  "apply`, or hand it to the console (detach); overrides can "
                                  "still be added here", status=409)


def detach(session: Session, actor: str, schedule: Schedule, now: datetime) -> Schedule:
    """Hand a file-managed schedule to the console and the API: from now on it is edited
    there, and ``oncall apply`` leaves it alone (saying so) while the file still defines it.
    Its layers and history are kept as they are."""
    if not schedule.managed_by:
        raise ScheduleError(None, f"schedule {schedule.name} is not managed by a file",
                            status=409)
    before = {"managed_by": schedule.managed_by}
    schedule.detached_from, schedule.detached_at = schedule.managed_by, now
    schedule.managed_by = None
    audit(session, actor, "update", "schedule", schedule.id, schedule.name, before,
          {"managed_by": None, "detached_from": schedule.detached_from})
    return schedule


def _users(session: Session, emails: list[Any], field: str) -> list[int]:
    if not isinstance(emails, list) or not emails:
        raise ScheduleError(field, "a rotation needs at least one member")
    found = dict(session.execute(select(User.email, User.id).where(
        User.email.in_([e for e in emails if isinstance(e, str)]))).all())
    ids = []
    for i, email in enumerate(emails):
        if email not in found:
            raise ScheduleError(f"{field}[{i}]", f"no user {email!r}")
        ids.append(found[email])
    return ids


def layer_values(session: Session, data: dict[str, Any], at: str) -> dict[str, Any]:
    """Validate a layer's input (all of it: a layer is replaced whole)."""
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise ScheduleError(f"{at}name", "must be a non-empty string of at most 200 characters")
    spec = {k: data[k] for k in ROTATION_KEYS if data.get(k) is not None}
    spec.setdefault("start", utcnow().date().isoformat())
    try:
        parse_rotation(spec)
    except RotationError as exc:
        raise ScheduleError(f"{at}{exc.field}", exc.message) from None
    restrictions = data.get("restrictions") or []
    if not isinstance(restrictions, list):
        raise ScheduleError(f"{at}restrictions", "must be a list")
    for i, raw in enumerate(restrictions):
        try:
            if not isinstance(raw, dict):
                raise RotationError("", "must be an object with from and to")
            parse_restriction(raw)
        except RotationError as exc:
            raise ScheduleError(f"{at}restrictions[{i}]" + (f".{exc.field}" if exc.field
                                                             else ""), exc.message) from None
    return {"name": name.strip(), "spec": spec,
            "members": _users(session, data.get("members"), f"{at}members"),  # type: ignore[arg-type]
            "restrictions": restrictions}


def create_schedule(session: Session, actor: str, data: dict[str, Any]) -> Schedule:
    name = data.get("name")
    if session.scalar(select(Schedule).where(Schedule.name == name)):
        raise ScheduleError("name", f"a schedule named {name!r} exists", status=409)
    schedule = Schedule(name=name, timezone=check_timezone(data.get("timezone")),
                        description=data.get("description"))
    schedule.layers = [ScheduleLayer(position=i, **layer_values(session, raw, f"layers[{i}]."))
                       for i, raw in enumerate(data.get("layers") or [])]
    session.add(schedule)
    session.flush()
    audit(session, actor, "create", "schedule", schedule.id, schedule.name, None,
          schedule_json(session, schedule))
    return schedule


def update_schedule(session: Session, actor: str, schedule: Schedule,
                    data: dict[str, Any]) -> Schedule:
    editable(schedule)
    before = schedule_json(session, schedule)
    if "name" in data and data["name"] != schedule.name:
        if session.scalar(select(Schedule).where(Schedule.name == data["name"])):
            raise ScheduleError("name", f"a schedule named {data['name']!r} exists", 409)
        schedule.name = data["name"]
    if "timezone" in data:
        schedule.timezone = check_timezone(data["timezone"])
    if "description" in data:
        schedule.description = data["description"]
    session.flush()
    audit(session, actor, "update", "schedule", schedule.id, schedule.name, before,
          schedule_json(session, schedule))
    return schedule


def delete_schedule(session: Session, actor: str, schedule: Schedule) -> None:
    editable(schedule)
    audit(session, actor, "delete", "schedule", schedule.id, schedule.name,
          schedule_json(session, schedule), None)
    session.delete(schedule)


def members_of(schedule: Schedule) -> set[int]:
    """The ids of everyone in any layer of the schedule."""
    return {m for layer in schedule.layers for m in layer.members}


def _refuse(refusal: Refusal | None) -> None:
    if refusal is not None:
        raise ScheduleError(refusal.field, refusal.message, refusal.status)


def add_override(session: Session, actor: str, schedule: Schedule, user: User,
                 start: datetime, end: datetime, note: str | None = None, *, by: User,
                 now: datetime, limits: OverrideLimits = DEFAULT_LIMITS) -> Override:
    """Put ``user`` on call for [start, end), if ``by`` may (``oncall.permissions``)."""
    if end <= start:
        raise ScheduleError("end", "must be after start")
    _refuse(override_refusal(by.role, for_self=user.id == by.id,
                             member=by.id in members_of(schedule), start=start, end=end,
                             now=now, limits=limits))
    return _insert(session, actor, schedule, user, start, end, note, "override", now)


def _insert(session: Session, actor: str, schedule: Schedule, user: User, start: datetime,
            end: datetime, note: str | None, kind: str, now: datetime) -> Override:
    override = Override(schedule_id=schedule.id, user_id=user.id, start=start, end=end,
                        kind=kind, note=note, created_at=now, created_by=actor)
    session.add(override)
    session.flush()
    session.refresh(override)
    audit(session, actor, "create", "override", override.id, schedule.name, None,
          override_json(override))
    return override


def delete_override(session: Session, actor: str, override: Override, *, by: User) -> None:
    """Delete an override, if ``by`` created it or is a manager or admin."""
    _refuse(delete_override_refusal(by.role, created_it=override.created_by == actor_of(by)))
    audit(session, actor, "delete", "override", override.id, None, override_json(override), None)
    session.delete(override)


def actor_of(user: User) -> str:
    """How the audit log and ``Override.created_by`` name a person."""
    return f"user:{user.email}"


def swap(session: Session, actor: str, schedule: Schedule, layer_name: str, at: datetime,
         to_user: User, *, by: User, now: datetime) -> Override:
    """Hand the shift of ``layer_name`` covering ``at`` to ``to_user`` (an override for
    exactly that shift), if ``by`` may (``oncall.permissions``)."""
    if not any(layer.name == layer_name for layer in schedule.layers):
        raise ScheduleError("layer", f"schedule {schedule.name} has no layer {layer_name!r}")
    spec = spec_for(session, schedule, at)
    try:
        made = swap_shift(spec, layer_name, at, to_user.email, now)
    except (RotationError, ValueError) as exc:
        raise ScheduleError("at", str(exc)) from None
    members = members_of(schedule)
    holder = on_call_by_layer(spec, at).by_layer.get(layer_name)
    _refuse(swap_refusal(by.role, member=by.id in members, to_self=to_user.id == by.id,
                         to_member=to_user.id in members, holds_shift=holder == by.email,
                         shift_end=made.end, now=now))
    return _insert(session, actor, schedule, to_user, made.start, made.end,
                   f"swap on layer {layer_name}", "swap", now)
