"""Restrictions: windows of the schedule's local time during which a layer has someone.

Every restriction is stored the same way: a wall-clock ``start`` on each of ``days`` and a
wall-clock ``duration``, so a window from 22:00 to 06:00 ends at 06:00 local the next morning
whatever daylight saving does in between, and ``Fri 18:00`` to ``Mon 09:00`` is a window
starting on Friday lasting 2 days 15 hours of wall clock. Local times map to instants as
handoffs do: a nonexistent time happens at the same offset after the gap (02:30 -> 03:30), a
repeated time at its first occurrence. A window that this makes empty (say 02:30 to 03:00 on
a spring-forward night in New York) has nobody.

Written forms (``parse_restriction``)::

    {from: "09:00", to: "17:00"}                      every day
    {days: [Sat, Sun], from: "09:00", to: "21:00"}   some weekdays ("Mon-Fri" ranges too)
    {days: Mon-Fri, from: "22:00", to: "06:00"}      crosses midnight: starts on the day listed
    {from: "00:00", to: "24:00", days: [Sat]}        the whole day
    {from: "Fri 18:00", to: "Mon 09:00"}             a weekly span
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from oncall.schedules.rotation.spec import RotationError, parse_clock, parse_weekday

__all__ = ["EVERY_DAY", "Restriction", "covers", "parse_restriction", "windows"]

EVERY_DAY = (0, 1, 2, 3, 4, 5, 6)
_DAY = timedelta(days=1)
_WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Restriction:
    """A window opening at local ``start`` on each weekday in ``days`` (Monday = 0) and lasting
    ``duration`` of wall-clock time (more than zero, at most a week)."""

    start: time
    duration: timedelta
    days: tuple[int, ...] = EVERY_DAY

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None:
            raise RotationError("from", "must be a local time of day without a zone")
        if not timedelta(0) < self.duration <= _WEEK:
            raise RotationError("to", "the window must last more than zero and at most a week")
        days = tuple(sorted(set(self.days)))
        if not days or any(not 0 <= d <= 6 for d in days):
            raise RotationError("days", "must name at least one weekday, Monday = 0")
        object.__setattr__(self, "days", days)

    def window(self, day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """The window opening on local ``day`` as UTC instants (possibly empty: end <= start).
        UTC because aware datetimes sharing one tzinfo compare by wall clock."""
        local = datetime.combine(day, self.start, tzinfo=tz)  # fold=0, as is local + duration
        return local.astimezone(UTC), (local + self.duration).astimezone(UTC)


def parse_restriction(raw: dict[str, Any]) -> Restriction:
    """A restriction as written in YAML (see the module docstring). Errors name ``from``,
    ``to`` or ``days``."""
    if not isinstance(raw, dict):
        raise RotationError("restriction", "must be a mapping with from, to and days")
    for key in raw:
        if key not in ("from", "to", "days"):
            raise RotationError(str(key), "unknown field (a restriction has from, to, days)")
    for key in ("from", "to"):
        if raw.get(key) is None:
            raise RotationError(key, "is required")
    from_day, start, _ = parse_clock(raw["from"], "from")
    to_day, end, end_is_24 = parse_clock(raw["to"], "to", allow_24=True)
    start_min = start.hour * 60 + start.minute
    end_min = end.hour * 60 + end.minute + (1440 if end_is_24 else 0)
    if from_day is not None or to_day is not None:
        if to_day is None:
            raise RotationError("to", "must name a weekday ('Mon 09:00') since from does")
        if from_day is None:
            raise RotationError("from", "must name a weekday ('Fri 18:00') since to does")
        if raw.get("days") is not None:
            raise RotationError("days", "cannot be combined with a weekly span like "
                                        "'Fri 18:00' to 'Mon 09:00'")
        length = (to_day * 1440 + end_min - from_day * 1440 - start_min) % (7 * 1440)
        if length == 0:
            raise RotationError("to", "the weekly span ends where it starts (zero length)")
        return Restriction(start, timedelta(minutes=length), (from_day,))
    days = _parse_days(raw["days"]) if raw.get("days") is not None else EVERY_DAY
    length = end_min - start_min if end_is_24 else (end_min - start_min) % 1440
    if length == 0:
        raise RotationError("to", "the window ends where it starts (zero length); "
                                  "use from 00:00 to 24:00 for a whole day")
    return Restriction(start, timedelta(minutes=length), days)


def _parse_days(value: Any) -> tuple[int, ...]:
    items: list[Any]
    if isinstance(value, str):
        items = value.split(",")
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        raise RotationError("days", f"{value!r} is not a list of weekdays or a range 'Mon-Fri'")
    days: set[int] = set()
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise RotationError("days", f"{item!r} is not a weekday")
        first, sep, last = item.partition("-")
        lo = parse_weekday(first, "days")
        hi = parse_weekday(last, "days") if sep else lo
        days.update((lo + i) % 7 for i in range((hi - lo) % 7 + 1))  # Fri-Mon wraps
    if not days:
        raise RotationError("days", "must name at least one weekday")
    return tuple(sorted(days))


def covers(restrictions: tuple[Restriction, ...], tz: ZoneInfo, at: datetime) -> bool:
    """Whether the UTC instant ``at`` falls in one of the windows (true with no restrictions)."""
    if not restrictions:
        return True
    today = at.astimezone(tz).date()
    for r in restrictions:
        # A window opening up to duration + 1 days before today can still be open; the day
        # after is there for a repeated hour at midnight (its first 00:00 precedes ``at``).
        for back in range(-1, r.duration.days + 2):
            day = today - timedelta(days=back)
            if day.weekday() in r.days:
                start, end = r.window(day, tz)
                if start <= at < end:
                    return True
    return False


def windows(restrictions: tuple[Restriction, ...], tz: ZoneInfo, start: datetime,
            end: datetime) -> list[tuple[datetime, datetime]]:
    """The union of the windows within [start, end) (UTC), clipped, sorted and disjoint; with
    no restrictions, the whole range."""
    if start >= end:
        return []
    if not restrictions:
        return [(start, end)]
    back = max(r.duration.days for r in restrictions) + 2
    day = start.astimezone(tz).date() - timedelta(days=back)
    last = end.astimezone(tz).date() + _DAY
    found: list[tuple[datetime, datetime]] = []
    while day <= last:
        weekday = day.weekday()
        for r in restrictions:
            if weekday in r.days:
                s, e = r.window(day, tz)
                if s < e and e > start and s < end:
                    found.append((max(s, start), min(e, end)))
        day += _DAY
    found.sort()
    merged: list[tuple[datetime, datetime]] = []
    for s, e in found:
        if merged and s <= merged[-1][1]:
            if e > merged[-1][1]:
                merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return merged
