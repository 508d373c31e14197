"""Rotation turns: when each turn of a rotation starts and ends, as UTC instants.

Day-based turns hand off at a local wall-clock time: the handoff instants are generated in
local wall-clock time (by ``dateutil.rrule`` for ranges, by arithmetic for a single instant)
and each is converted to UTC on its own with fold=0, so a 09:00 handoff stays 09:00 local and a
daily turn across spring-forward lasts 23 hours (25 across fall-back). A handoff time that does
not exist that day happens at the same offset after the gap (02:30 -> 03:30); one that occurs
twice happens at its first occurrence. Hour-based turns last real elapsed hours from the first
handoff instant. Everything returned is in UTC: aware datetimes sharing one tzinfo compare and
subtract by wall clock, ignoring daylight saving.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.rrule import DAILY, WEEKLY, rrule

from oncall.schedules.rotation.spec import RotationSpec

__all__ = ["Turn", "handoff_at", "local_instant", "rotation_end", "turn_at", "turns_between"]


@dataclass(frozen=True)
class Turn:
    """Turn ``index`` (0 = the first) of a rotation: [start, end) in UTC. The member on call is
    ``members[index % len(members)]``. ``end`` is cut short by the rotation's end date."""

    index: int
    start: datetime
    end: datetime


def local_instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of wall-clock ``at`` on ``day`` in ``tz`` (fold=0)."""
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def rotation_end(rot: RotationSpec, tz: ZoneInfo) -> datetime | None:
    """The instant the rotation stops (local midnight starting its ``end`` date), or None."""
    return None if rot.end is None else local_instant(rot.end, time(0), tz)


def handoff_at(rot: RotationSpec, tz: ZoneInfo, index: int) -> datetime:
    """The UTC instant turn ``index`` starts (ignoring the rotation's end)."""
    if rot.hours:
        return local_instant(rot.start, rot.handoff, tz) + timedelta(hours=rot.hours * index)
    return local_instant(rot.first_handoff_day() + timedelta(days=rot.days * index),
                         rot.handoff, tz)


def turn_at(rot: RotationSpec, tz: ZoneInfo, at: datetime) -> Turn | None:
    """The turn in progress at the UTC instant ``at``; None before the first handoff or from
    the rotation's end on. Computed from the anchor by arithmetic, not by iterating."""
    end = rotation_end(rot, tz)
    if end is not None and at >= end:
        return None
    if rot.hours:
        anchor = local_instant(rot.start, rot.handoff, tz)
        if at < anchor:
            return None
        length = timedelta(hours=rot.hours)
        index = (at - anchor) // length
        start, stop = anchor + length * index, anchor + length * (index + 1)
    else:
        days = (at.astimezone(tz).date() - rot.first_handoff_day()).days
        index = days // rot.days
        start = handoff_at(rot, tz, index)
        while start > at:  # the handoff on a day is after the instant: an earlier turn
            index -= 1
            start = handoff_at(rot, tz, index)
        stop = handoff_at(rot, tz, index + 1)
        while stop <= at:  # only where a DST change moves a handoff across midnight
            index, start = index + 1, stop
            stop = handoff_at(rot, tz, index + 1)
        if index < 0:
            return None
    return Turn(index, start, stop if end is None else min(stop, end))


def turns_between(rot: RotationSpec, tz: ZoneInfo, start: datetime, end: datetime
                  ) -> list[Turn]:
    """The turns overlapping [start, end) (UTC), not clipped to the range."""
    if start >= end:
        return []
    stop = rotation_end(rot, tz)
    if stop is not None:
        end = min(end, stop)
    first = turn_at(rot, tz, start)
    if first is None:
        if stop is not None and start >= stop:
            return []
        index = 0  # the range starts before the first handoff
    else:
        index = first.index
    found: list[Turn] = []
    previous: datetime | None = None
    for instant in _handoffs(rot, tz, index):
        if previous is not None:
            found.append(Turn(index - 1, previous, instant if stop is None
                              else min(instant, stop)))
        if instant >= end:
            break
        previous, index = instant, index + 1
    return found


def _handoffs(rot: RotationSpec, tz: ZoneInfo, index: int) -> Iterator[datetime]:
    """UTC handoff instants from turn ``index`` on, without end."""
    if rot.hours:
        instant, length = handoff_at(rot, tz, index), timedelta(hours=rot.hours)
        while True:
            yield instant
            instant += length
    first = datetime.combine(rot.first_handoff_day() + timedelta(days=rot.days * index),
                             rot.handoff, tzinfo=tz)
    if rot.weekday is not None and rot.days % 7 == 0:
        rule = rrule(WEEKLY, dtstart=first, interval=rot.days // 7, byweekday=rot.weekday,
                     cache=False)
    else:
        rule = rrule(DAILY, dtstart=first, interval=rot.days, cache=False)
    for local in rule:  # local wall-clock times (fold=0), each converted on its own
        yield local.astimezone(UTC)
