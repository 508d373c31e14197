"""Parsing a layer's rotation as written in ``schedules/*.yaml``, and the small text forms
(clock times, weekdays) that restrictions share with it."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import Any

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_FULL_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_HANDOFF = re.compile(r"^(?:(?P<day>[A-Za-z]{3})\s+)?(?P<h>\d{1,2}):(?P<m>\d{2})$")
_CLOCK = re.compile(r"^(?:(?P<day>[A-Za-z]+)\s+)?(?P<h>\d{1,2}):(?P<m>\d{2})$")


class RotationError(ValueError):
    """Bad schedule input; ``field`` names the offending field (e.g. ``handoff``, ``to``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class RotationSpec:
    """Turns of ``days`` days (handoff at a local wall-clock time) or of ``hours`` hours.

    Day-based turns with a ``weekday`` are weekly turns (``days`` a multiple of 7) whose
    handoffs fall on that weekday; without one they start on ``start``. Hour-based turns
    (``hours`` > 0, ``days`` = 0) start at ``handoff`` on ``start`` and last real hours.
    ``end`` is exclusive: nobody is on call from local midnight at the start of ``end``.
    """

    start: date
    handoff: time
    days: int = 1
    hours: int = 0
    weekday: int | None = None  # for weekly turns: the handoff weekday, Monday = 0
    end: date | None = None

    def first_handoff_day(self) -> date:
        if self.weekday is None:
            return self.start
        return self.start + timedelta(days=(self.weekday - self.start.weekday()) % 7)


def parse_rotation(raw: dict[str, Any]) -> RotationSpec:
    """``raw`` holds ``rotation`` (daily | weekly | {days: N} | {weeks: N} | {hours: N}),
    ``handoff`` ("09:00", or "Mon 09:00" for weekly turns), ``start`` (a date) and optionally
    ``end``."""
    rotation = raw.get("rotation", "weekly")
    weekly = rotation == "weekly" or (isinstance(rotation, dict) and "weeks" in rotation)
    handoff = str(raw.get("handoff", "Mon 09:00" if weekly else "09:00"))
    match = _HANDOFF.match(handoff.strip())
    if not match or int(match["h"]) > 23 or int(match["m"]) > 59:
        raise RotationError("handoff", f"{handoff!r} is not HH:MM or 'Mon HH:MM'")
    at = time(int(match["h"]), int(match["m"]))
    weekday = None
    if match["day"]:
        day = match["day"].capitalize()
        if day not in WEEKDAYS:
            raise RotationError("handoff", f"unknown weekday {match['day']!r}")
        weekday = WEEKDAYS.index(day)
    start = _date(raw.get("start"), "start")
    end = _date(raw["end"], "end") if raw.get("end") is not None else None
    if end is not None and end <= start:
        raise RotationError("end", "must be after start")
    if rotation == "daily":
        return RotationSpec(start, at, days=1, weekday=None, end=end)
    if rotation == "weekly":
        return RotationSpec(start, at, days=7, weekday=weekday if weekday is not None else 0,
                            end=end)
    if isinstance(rotation, dict) and len(rotation) == 1:
        (unit, count), = rotation.items()
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise RotationError(f"rotation.{unit}", "must be a whole number of at least 1")
        if unit == "days":
            return RotationSpec(start, at, days=count, end=end)
        if unit == "weeks":
            return RotationSpec(start, at, days=7 * count,
                                weekday=weekday if weekday is not None else 0, end=end)
        if unit == "hours":
            return RotationSpec(start, at, days=0, hours=count, end=end)
    raise RotationError("rotation", "must be daily, weekly, {days: N}, {weeks: N} or {hours: N}")


def parse_weekday(text: str, field: str) -> int:
    """"Mon" or "monday" (any case) -> 0."""
    name = text.strip().lower()
    for i, (short, full) in enumerate(zip(WEEKDAYS, _FULL_WEEKDAYS, strict=True)):
        if name in (short.lower(), full):
            return i
    raise RotationError(field, f"unknown weekday {text!r}")


def parse_clock(value: Any, field: str, *, allow_24: bool = False
                ) -> tuple[int | None, time, bool]:
    """"HH:MM" or "Mon HH:MM" -> (weekday or None, time, is_24). "24:00" (the end of the day)
    is accepted only with ``allow_24`` and comes back as 00:00 with ``is_24`` true."""
    if not isinstance(value, str):
        raise RotationError(field, f"{value!r} is not HH:MM or 'Mon HH:MM'")
    match = _CLOCK.match(value.strip())
    if not match:
        raise RotationError(field, f"{value!r} is not HH:MM or 'Mon HH:MM'")
    hours, minutes = int(match["h"]), int(match["m"])
    is_24 = allow_24 and hours == 24 and minutes == 0
    if not is_24 and (hours > 23 or minutes > 59):
        raise RotationError(field, f"{value!r} is not a time of day")
    day = parse_weekday(match["day"], field) if match["day"] else None
    return day, time(0 if is_24 else hours, minutes), is_24


def _date(value: Any, field: str) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise RotationError(field, f"{value!r} is not a date (YYYY-MM-DD)")
