"""A source's rotation layer as one of ours: turns kept at a local handoff time or elapsed
hours, the first turn from now on, the end at local midnight (every source's layers meet
the same limits of ours, reported the same way)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from oncall.importers.common import parse_time
from oncall.importers.report import Report
from oncall.schedules.rotation.spec import WEEKDAYS


def local_to_utc(d: date, t: time, zone: ZoneInfo) -> datetime:
    """A local wall-clock time as a UTC instant, resolved as our rotations resolve it
    (fold 0: a skipped time lands after the gap, a repeated one at its first occurrence)."""
    return datetime.combine(d, t.replace(fold=0), tzinfo=zone).astimezone(UTC)


def in_force(raw: dict[str, Any], start_key: str, end_key: str, now: datetime, kind: str,
             label: str, report: Report) -> tuple[datetime, datetime | None] | None:
    """A layer's start and end, or None (reported) when it ended before ``now``."""
    start = parse_time(raw[start_key])
    end = parse_time(raw[end_key]) if raw.get(end_key) else None
    if end is not None and end <= now:
        report.not_mapped(kind, label, f"ended {end:%Y-%m-%d %H:%M} UTC, before the "
                          "import: past shifts are not imported")
        return None
    return start, end


def first_turn(turn: Callable[[int], datetime], k: int, days: int, zone: ZoneInfo,
               now: datetime, kind: str, label: str, report: Report) -> int:
    """Turn ``k``, or the next one when ``k`` is hourly and starts in the repeated hour of a
    fall-back night (our hourly rotations start at the first occurrence of a local time)."""
    anchor = turn(k)
    alocal = anchor.astimezone(zone)
    if days or local_to_utc(alocal.date(), alocal.time(), zone) == anchor:
        return k
    if turn(k + 1) > now:
        report.approximated(kind, label, f"its turn from {anchor:%Y-%m-%d %H:%M} UTC "
                            "(a repeated local hour) is not imported: our hourly "
                            "rotations start at the first occurrence of a local time")
    return k + 1


def layer_shape(days: int, hours: int, alocal: datetime) -> tuple[dict[str, Any], str]:
    """A layer's rotation, handoff and start for turns of ``days`` (kept at the local
    handoff time) or ``hours`` (elapsed) from the local handoff ``alocal``; and in words."""
    out: dict[str, Any] = {"name": ""}
    hhmm = alocal.strftime("%H:%M")
    if days and days % 7 == 0:
        out["rotation"] = "weekly" if days == 7 else {"weeks": days // 7}
        out["handoff"] = f"{WEEKDAYS[alocal.weekday()]} {hhmm}"
        what = f"every {days // 7} week(s), {out['handoff']}"
    elif days:
        out["rotation"] = "daily" if days == 1 else {"days": days}
        out["handoff"] = hhmm
        what = f"every {days} day(s) at {hhmm}"
    else:
        out["rotation"] = {"hours": hours}
        out["handoff"] = hhmm
        what = f"every {hours} hour(s) (elapsed)"
    out["start"] = alocal.date().isoformat()
    return out, what


def layer_end(out: dict[str, Any], end: datetime, zone: ZoneInfo, alocal: datetime, kind: str,
              label: str, report: Report) -> bool:
    """Set ``out["end"]`` for a layer ending at ``end`` (our layers end at local midnight:
    another time is rounded up, reported); False (reported) when that leaves no whole turn
    after the first handoff ``alocal``."""
    elocal = end.astimezone(zone)
    midnight = datetime.combine(elocal.date(), time(0), tzinfo=zone)
    if elocal.replace(tzinfo=None) == midnight.replace(tzinfo=None):
        end_day = elocal.date()
    else:
        end_day = elocal.date() + timedelta(days=1)
        report.approximated(kind, label, f"ends at {elocal:%Y-%m-%d %H:%M %Z}; our "
                            f"layers end at local midnight: imported to end at "
                            f"{end_day} 00:00 (the last "
                            f"{format_span(local_to_utc(end_day, time(0), zone) - end)} more)")
    if end_day <= alocal.date():
        report.not_mapped(kind, label, f"ends at {elocal:%Y-%m-%d %H:%M %Z}, before "
                          "its first whole turn: our layers begin at a handoff and end "
                          "at local midnight")
        return False
    out["end"] = end_day.isoformat()
    return True


def format_span(delta: timedelta) -> str:
    """A duration as ``1h05m``, for the report."""
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m"
