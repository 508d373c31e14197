"""What a roster change does: when it takes effect by default (the layer's next handoff), the
shift-level difference it makes over a window, and the gaps a schedule leaves."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from zoneinfo import ZoneInfo

from oncall.schedules.rotation.model import Layer, ScheduleSpec, Shift
from oncall.schedules.rotation.shifts import final_shifts, utc
from oncall.schedules.rotation.turns import handoff_at, turn_at

__all__ = ["Piece", "ShiftDiff", "gaps", "next_handoff", "shift_diff"]


def next_handoff(layer: Layer, tz: ZoneInfo, now: datetime) -> datetime:
    """The first turn boundary of ``layer`` after ``now``: the end of the turn in progress
    (cut short by the rotation's end), or the first handoff if the rotation has not begun;
    ``now`` itself once the rotation has ended (nobody's shift is then cut)."""
    now = utc(now, "now")
    turn = turn_at(layer.rotation, tz, now)
    if turn is not None:
        return turn.end
    first = handoff_at(layer.rotation, tz, 0)
    return first if first > now else now


@dataclass(frozen=True)
class Piece:
    """[start, end) of someone's time on call (``user`` None: nobody, a gap), put there by
    ``source``: a layer's name, ``override``, or None for a gap."""

    user: str | None
    start: datetime
    end: datetime
    source: str | None


@dataclass(frozen=True)
class ShiftDiff:
    """The final schedule before and after a change over [start, end): what each person
    gains and loses (a person is None for nobody: a gap opened or closed), and who is on call
    at ``start`` before and after."""

    start: datetime
    end: datetime
    gained: list[Piece] = field(default_factory=list)
    lost: list[Piece] = field(default_factory=list)
    now_before: str | None = None
    now_after: str | None = None

    @property
    def changes_now(self) -> bool:
        return self.now_before != self.now_after

    @property
    def empty(self) -> bool:
        return not self.gained and not self.lost


def _source(shift: Shift) -> str | None:
    if shift.layer is not None:
        return shift.layer
    return "override" if shift.user is not None else None


def _at(shifts: list[Shift], i: int, point: datetime) -> tuple[int, Shift]:
    while shifts[i].end <= point:
        i += 1
    return i, shifts[i]


def _add(pieces: list[Piece], piece: Piece) -> None:
    """Append, joining a piece to the same person's piece just before it."""
    last = pieces[-1] if pieces else None
    if (last is not None and last.user == piece.user and last.end == piece.start
            and last.source == piece.source):
        pieces[-1] = Piece(last.user, last.start, piece.end, last.source)
    else:
        pieces.append(piece)


def shift_diff(before: ScheduleSpec, after: ScheduleSpec, start: datetime, end: datetime
               ) -> ShiftDiff:
    """Where ``after``'s final schedule puts someone else on call than ``before``'s, within
    [start, end): the time lost by whoever was on call and gained by whoever now is."""
    start, end = utc(start, "start"), utc(end, "end")
    old, new = final_shifts(before, start, end), final_shifts(after, start, end)
    if not old:
        return ShiftDiff(start, end)
    points = sorted({s.start for s in old} | {s.start for s in new} | {end})
    gained: list[Piece] = []
    lost: list[Piece] = []
    i = j = 0
    for a, b in pairwise(points):
        i, was = _at(old, i, a)
        j, now = _at(new, j, a)
        if was.user != now.user:
            _add(lost, Piece(was.user, a, b, _source(was)))
            _add(gained, Piece(now.user, a, b, _source(now)))
    return ShiftDiff(start, end, gained, lost, old[0].user, new[0].user)


def gaps(schedule: ScheduleSpec, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """The stretches of [start, end) when nobody is on call (overrides included)."""
    return [(s.start, s.end) for s in final_shifts(schedule, start, end) if s.user is None]
