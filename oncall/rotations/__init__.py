"""Rotation schedule math. Pure: no Flask, no database; ``at`` is always explicit.

A schedule has an IANA timezone and ordered layers; a later layer wins wherever it has
someone on call. Handoffs are wall-clock times in the schedule's zone, so a 09:00 handoff stays
at 09:00 across daylight-saving changes. A handoff time that does not exist on a given day
(spring forward) happens at the same wall-clock offset after the change, e.g. 02:30 becomes
03:30; a time that occurs twice (fall back) happens at its first occurrence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from oncall.rotations.spec import RotationSpec, parse_rotation

__all__ = ["Layer", "RotationSpec", "ScheduleSpec", "layer_on_call", "on_call", "parse_rotation"]


@dataclass(frozen=True)
class Layer:
    name: str
    rotation: RotationSpec
    members: tuple[str, ...]


@dataclass(frozen=True)
class ScheduleSpec:
    name: str
    timezone: str
    layers: tuple[Layer, ...]


def _local_boundary(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of wall-clock ``at`` on ``day`` in ``tz``. fold=0: the first of two
    repeated times; a nonexistent time lands after the gap. Returned in UTC because Python
    compares and subtracts datetimes sharing one tzinfo by wall clock, ignoring DST."""
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def layer_on_call(layer: Layer, tz: ZoneInfo, at: datetime) -> str | None:
    """The member of ``layer`` on call at the instant ``at`` (aware), or None."""
    if not layer.members:
        return None
    at = at.astimezone(UTC)
    rot = layer.rotation
    if rot.end is not None and at >= _local_boundary(rot.end, time(0), tz):
        return None
    if rot.hours:
        anchor = _local_boundary(rot.start, rot.handoff, tz)
        elapsed = at - anchor
        if elapsed < timedelta(0):
            return None
        turn = int(elapsed // timedelta(hours=rot.hours))
    else:
        anchor_day = rot.first_handoff_day()
        local = at.astimezone(tz)
        day = local.date()
        if _local_boundary(day, rot.handoff, tz) > at:
            day -= timedelta(days=1)
        days = (day - anchor_day).days
        if days < 0:
            return None
        turn = days // rot.days
    return layer.members[turn % len(layer.members)]


def on_call(schedule: ScheduleSpec, at: datetime) -> str | None:
    """Who is on call at ``at``: the last layer with someone on call wins; None is a gap."""
    if at.tzinfo is None:
        raise ValueError("at must be timezone-aware")
    tz = ZoneInfo(schedule.timezone)
    for layer in reversed(schedule.layers):
        who = layer_on_call(layer, tz, at)
        if who is not None:
            return who
    return None
