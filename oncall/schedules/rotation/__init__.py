"""Rotation schedule math. Pure: no Flask, no database; ``at`` is always explicit.

A schedule has an IANA timezone, ordered layers and overrides. Each layer is a rotation of
members, optionally restricted to windows of local time (outside them the layer has nobody;
restrictions never move turn boundaries). A later layer wins wherever it has someone on call,
and an override wins over every layer; among overlapping overrides the newest wins.

Handoffs are wall-clock times in the schedule's zone, so a 09:00 handoff stays at 09:00 across
daylight-saving changes (a daily turn then lasts 23 or 25 hours). A handoff time that does not
exist on a given day (spring forward) happens at the same wall-clock offset after the change,
e.g. 02:30 becomes 03:30; a time that occurs twice (fall back) happens at its first
occurrence. Restriction windows follow the same rule. ``{hours: N}`` turns count real elapsed
hours. All instants returned are in UTC, because Python compares and subtracts datetimes
sharing one tzinfo by wall clock, ignoring DST.

Modules: ``spec`` (rotation parsing), ``restrictions``, ``turns`` (when each turn hands off,
daylight saving included: turn arithmetic and rrule expansion), ``overrides``, ``model`` (the
dataclasses), ``shifts`` (expansion and merging) and ``query`` (questions at an instant) and
``changes`` (what an edit does: its default effective time, the shift-level diff, gaps).
"""

from __future__ import annotations

from oncall.schedules.rotation.changes import Piece, ShiftDiff, gaps, next_handoff, shift_diff
from oncall.schedules.rotation.model import Layer, OnCall, ScheduleSpec, Shift
from oncall.schedules.rotation.overrides import Override, make_override
from oncall.schedules.rotation.query import (
    layer_on_call,
    next_shift,
    on_call,
    on_call_by_layer,
    swap,
)
from oncall.schedules.rotation.restrictions import Restriction, parse_restriction
from oncall.schedules.rotation.shifts import final_shifts, layer_shifts, versions_shifts
from oncall.schedules.rotation.spec import RotationError, RotationSpec, parse_rotation
from oncall.schedules.rotation.turns import Turn, turn_at, turns_between

__all__ = [
    "Layer",
    "OnCall",
    "Override",
    "Piece",
    "Restriction",
    "RotationError",
    "RotationSpec",
    "ScheduleSpec",
    "Shift",
    "ShiftDiff",
    "Turn",
    "final_shifts",
    "gaps",
    "layer_on_call",
    "layer_shifts",
    "make_override",
    "next_handoff",
    "next_shift",
    "on_call",
    "on_call_by_layer",
    "parse_restriction",
    "parse_rotation",
    "shift_diff",
    "swap",
    "turn_at",
    "turns_between",
    "versions_shifts",
]
