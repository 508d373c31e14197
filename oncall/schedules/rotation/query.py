"""Questions about a schedule at an instant: who is on call, through what, who is next, and
the override that swaps one shift to someone else."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from oncall.schedules.rotation.model import Layer, OnCall, ScheduleSpec, Shift
from oncall.schedules.rotation.overrides import Override
from oncall.schedules.rotation.restrictions import covers, windows
from oncall.schedules.rotation.shifts import final_shifts, utc
from oncall.schedules.rotation.spec import RotationError
from oncall.schedules.rotation.turns import turn_at

__all__ = ["layer_on_call", "next_shift", "on_call", "on_call_by_layer", "swap"]

NEXT_SHIFT_HORIZON = timedelta(days=90)


def layer_on_call(layer: Layer, tz: ZoneInfo, at: datetime) -> str | None:
    """The member of ``layer`` on call at the instant ``at`` (aware), or None."""
    if not layer.members:
        return None
    at = utc(at, "at")
    if not layer.in_force(at):
        return None
    if not covers(layer.restrictions, tz, at):  # first: restricted layers are mostly off
        return None
    turn = turn_at(layer.rotation, tz, at)
    if turn is None:
        return None
    return layer.member(turn.index)


def on_call(schedule: ScheduleSpec, at: datetime) -> str | None:
    """Who is on call at ``at``: the newest override in effect, else the last layer with
    someone on call; None is a gap."""
    at = utc(at, "at")
    override = schedule.override_index().at(at)
    if override is not None:
        return override.user
    tz = ZoneInfo(schedule.timezone)
    for layer in reversed(schedule.layers):
        who = layer_on_call(layer, tz, at)
        if who is not None:
            return who
    return None


def on_call_by_layer(schedule: ScheduleSpec, at: datetime) -> OnCall:
    """Who is on call at ``at`` and why, with what each layer alone says."""
    at = utc(at, "at")
    tz = ZoneInfo(schedule.timezone)
    said = [(layer.name, layer_on_call(layer, tz, at)) for layer in schedule.layers
            if layer.in_force(at)]
    by_layer = dict(said)
    override = schedule.override_index().at(at)
    if override is not None:
        return OnCall(override.user, None, override, by_layer)
    for name, who in reversed(said):
        if who is not None:
            return OnCall(who, name, None, by_layer)
    return OnCall(None, None, None, by_layer)


def next_shift(schedule: ScheduleSpec, at: datetime, *,
               horizon: timedelta = NEXT_SHIFT_HORIZON, skip_gaps: bool = False
               ) -> Shift | None:
    """Who is next: the first final shift starting after ``at`` whose user differs from the
    one on call at ``at`` (with ``skip_gaps``, the first with someone else on call), searched
    up to ``horizon`` ahead; None if there is none. A shift still going at the horizon is cut
    there."""
    at = utc(at, "at")
    span = min(timedelta(days=2), horizon)
    while True:
        shifts = final_shifts(schedule, at, at + span)
        current = shifts[0].user if shifts else None
        for shift in shifts[1:]:
            if shift.user != current and not (skip_gaps and shift.user is None):
                if shift.end < at + span or span >= horizon:
                    return shift
                break  # it may go on past the range: look further
        else:
            if span >= horizon:
                return None
        span = min(span * 4, horizon)


def swap(schedule: ScheduleSpec, layer_name: str, at: datetime, to_user: str,
         created_at: datetime, id: int | None = None) -> Override:
    """An override handing ``layer_name``'s shift covering ``at`` to ``to_user``: exactly that
    member's turn, or with restrictions the part of the turn inside the window holding ``at``.
    RotationError naming ``layer`` for an unknown layer, ``at`` where it has nobody then."""
    at = utc(at, "at")
    layer = next((la for la in reversed(schedule.layers)
                  if la.name == layer_name and la.in_force(at)), None)
    if layer is None:
        raise RotationError("layer", f"schedule {schedule.name!r} has no layer {layer_name!r}")
    tz = ZoneInfo(schedule.timezone)
    turn = turn_at(layer.rotation, tz, at) if layer.members else None
    if turn is None:
        raise RotationError("at", f"layer {layer_name!r} has nobody on call at {at.isoformat()}")
    start, end = turn.start, turn.end
    if layer.active_from is not None:  # the shift as this version of the layer has it
        start = max(start, layer.active_from)
    if layer.active_until is not None:
        end = min(end, layer.active_until)
    if layer.restrictions:
        window = next(((s, e) for s, e in windows(layer.restrictions, tz, start, end)
                       if s <= at < e), None)
        if window is None:
            raise RotationError("at", f"layer {layer_name!r} is outside its restrictions at "
                                      f"{at.isoformat()}")
        start, end = window
    return Override(start, end, to_user, created_at, id)
