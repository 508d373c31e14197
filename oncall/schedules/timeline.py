"""A schedule drawn over a window: one lane per layer (its versions joined, so an edit
that took effect mid-window shows where it did), the overrides lane, and the final lane
that says who is really on call (gaps included, ``user`` None). The console's schedule
page reads this; the math is ``oncall.schedules.rotation``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from oncall.models import Schedule
from oncall.schedules.rotation import Shift, final_shifts, versions_shifts
from oncall.schedules.store import spec_for

# How far around an instant to look for the whole final shift that holds it (a shift cut
# by the edge of the window would be snapped short).
SNAP_WINDOW = timedelta(days=40)


@dataclass(frozen=True)
class Lane:
    """``kind``: ``layer`` (``name`` is the layer's), ``overrides`` or ``final``."""

    name: str
    kind: str
    shifts: list[Shift]


@dataclass(frozen=True)
class Timeline:
    start: datetime
    end: datetime
    layers: list[Lane]
    overrides: Lane
    final: Lane

    @property
    def lanes(self) -> list[Lane]:
        return [*self.layers, self.overrides, self.final]

    @property
    def gaps(self) -> list[Shift]:
        return [s for s in self.final.shifts if s.user is None]


def timeline(session: Session, schedule: Schedule, start: datetime, end: datetime
             ) -> Timeline:
    """``schedule`` over [start, end): every shift clipped to the window, in UTC."""
    spec = spec_for(session, schedule, start, end)
    tz = ZoneInfo(spec.timezone)
    names = list(dict.fromkeys(layer.name for layer in spec.layers))  # bottom layer first
    layers = [Lane(name, "layer", versions_shifts([v for v in spec.layers if v.name == name],
                                                  tz, start, end)) for name in names]
    overrides = Lane("Overrides", "overrides", [
        Shift(s, e, o.user, None, o.id)
        for s, e, o in spec.override_index().segments(start, end)])
    return Timeline(start, end, layers, overrides,
                    Lane("Final schedule", "final", final_shifts(spec, start, end)))


def final_shift_at(session: Session, schedule: Schedule, at: datetime) -> Shift:
    """The whole final shift (or gap) holding ``at``, up to ``SNAP_WINDOW`` either side:
    what an override "for this shift" should cover."""
    start, end = at - SNAP_WINDOW, at + SNAP_WINDOW
    spec = spec_for(session, schedule, start, end)
    for shift in final_shifts(spec, start, end):
        if shift.start <= at < shift.end:
            return shift
    raise ValueError(f"no shift at {at.isoformat()}")  # final_shifts tiles the window
