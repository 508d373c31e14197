"""Parsing a layer's rotation as written in ``schedules/*.yaml``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import Any

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_HANDOFF = re.compile(r"^(?:(?P<day>[A-Za-z]{3})\s+)?(?P<h>\d{1,2}):(?P<m>\d{2})$")


class RotationError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class RotationSpec:
    """Turns of ``days`` days (handoff at a local wall-clock time) or of ``hours`` hours."""

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
    """``raw`` holds ``rotation`` (daily | weekly | {days: N} | {hours: N}), ``handoff``
    ("09:00", or "Mon 09:00" for weekly), ``start`` (a date) and optionally ``end``."""
    rotation = raw.get("rotation", "weekly")
    handoff = str(raw.get("handoff", "Mon 09:00" if rotation == "weekly" else "09:00"))
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
        if unit == "hours":
            return RotationSpec(start, at, days=0, hours=count, end=end)
    raise RotationError("rotation", "must be daily, weekly, {days: N} or {hours: N}")


def _date(value: Any, field: str) -> date:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise RotationError(field, f"{value!r} is not a date (YYYY-MM-DD)")
