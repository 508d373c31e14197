"""Grafana OnCall schedules -> ``schedules/<name>.yaml``: on-call shifts as layers (local
datetimes in the shift's zone), single events and overrides as overrides."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from oncall.importers.common import unique, valid_zone
from oncall.importers.grafana_oncall.account import SOURCE, shifts_of
from oncall.importers.http import SourceError
from oncall.importers.layers import local_to_utc
from oncall.importers.report import Report
from oncall.schedules.rotation.spec import WEEKDAYS

DAYS = {"MO": 0, "TU": 1, "WE": 2, "TH": 3, "FR": 4, "SA": 5, "SU": 6}
PERIOD = {"hourly": timedelta(hours=1), "daily": timedelta(days=1),
          "weekly": timedelta(weeks=1)}


def _naive(text: str) -> datetime:
    at = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    if at.tzinfo is not None:
        raise SourceError(f"{SOURCE}: a shift time with an offset: {text!r} (local expected)")
    return at


def map_schedule(s: dict[str, Any], name: str, shifts: dict[str, dict[str, Any]],
              emails: dict[str, str], now: datetime, overrides: list[dict[str, Any]],
              report: Report) -> dict[str, Any] | None:
    if s.get("type") == "ical":
        report.not_mapped("schedule", s["name"], "an iCal schedule: its shifts are events of "
                          "an iCal feed that the API does not give as shifts; recreate it")
        return None
    if s.get("ical_url_overrides"):
        report.not_mapped("overrides", s["name"], "overrides from an iCal feed are not read")
    tz = valid_zone(s.get("time_zone") or "UTC", f"schedule {s['name']}", report)
    mine = shifts_of(s, shifts)
    layers: list[tuple[int, dict[str, Any]]] = []
    taken: set[str] = set()
    for x in mine:
        label = f"{s['name']} / {x.get('name') or x['id']}"
        if (x.get("time_zone") or tz) != tz:
            report.not_mapped("shift", label, f"in {x['time_zone']}, its schedule in {tz}: "
                              "our layers use their schedule's zone; recreate it by hand")
            continue
        if x.get("type") in ("single_event", "override"):
            _override(x, label, name, ZoneInfo(tz), emails, now, overrides, report)
            continue
        layer = _layer(x, label, ZoneInfo(tz), emails, now, report)
        if layer is not None:
            layer["name"] = unique(str(x.get("name") or "shift"), taken)
            taken.add(layer["name"])
            layers.append((int(x.get("level") or 0), layer))
    if not layers:
        report.not_mapped("schedule", s["name"], "no shift left that is in force now or later")
        return None
    layers.sort(key=lambda p: p[0])  # stable: within a level, the later listed wins
    report.mapped("schedule", s["name"], f"schedule {name}: {len(layers)} layer(s), {tz}")
    return {"schedule": name, "timezone": tz, "layers": [x for _, x in layers]}


def _members(x: dict[str, Any], label: str, emails: dict[str, str],
             report: Report) -> list[str] | None:
    if x.get("type") == "rolling_users":
        groups = [list(g) for g in x.get("rolling_users") or [] if g]
        first = int(x.get("start_rotation_from_user_index") or 0)
        groups = groups[first % len(groups):] + groups[:first % len(groups)] if groups else []
    else:
        groups = [list(x.get("users") or [])] if x.get("users") else []
    if not groups or any(u not in emails for g in groups for u in g):
        report.not_mapped("shift", label, "no users, or a user that is not in the account")
        return None
    for g in groups:
        if len(g) > 1:
            report.approximated("shift", label, f"{', '.join(emails[u] for u in g)} are on "
                                f"call together in one turn; ours has one person per turn: "
                                f"only {emails[g[0]]} is imported (add the others as a "
                                "layer of their own)")
    return [emails[g[0]] for g in groups]


def _clock(t: datetime) -> str:
    return t.strftime("%H:%M")


def _layer(x: dict[str, Any], label: str, zone: ZoneInfo, emails: dict[str, str],
           now: datetime, report: Report) -> dict[str, Any] | None:
    freq, interval = x.get("frequency"), int(x.get("interval") or 1)
    if freq not in PERIOD:
        report.not_mapped("shift", label, f"frequency {freq!r}: our rotations are hourly, "
                          "daily or weekly; recreate it by hand")
        return None
    if x.get("by_month") or x.get("by_monthday"):
        report.not_mapped("shift", label, "limited to some months or days of the month "
                          "(by_month, by_monthday): recreate it by hand")
        return None
    start = _naive(x["start"])
    begins = _naive(x.get("rotation_start") or x["start"])
    if begins > start and _wall(begins, zone) > now:
        report.not_mapped("shift", label, f"its rotation starts {begins:%Y-%m-%d %H:%M}, "
                          f"after the import, on a pattern from {start:%Y-%m-%d %H:%M}: "
                          "recreate it by hand (or import again once it has started)")
        return None
    duration = timedelta(seconds=int(x["duration"]))
    period = PERIOD[freq] * interval
    if start.second or duration.total_seconds() % 60:
        report.not_mapped("shift", label, "not on whole minutes")
        return None
    by_day = sorted(DAYS[d] for d in x.get("by_day") or [])
    last_end = None
    if x.get("until"):
        last_end = _last_end(start, _naive(x["until"]), period, duration, freq, by_day, zone)
        if last_end is None or last_end <= now:
            report.not_mapped("shift", label, f"ended (until {x['until']}), before the "
                              "import: past shifts are not imported")
            return None
    out: dict[str, Any] = {"name": ""}
    if freq == "hourly":
        out["rotation"] = {"hours": interval}
    elif freq == "daily":
        out["rotation"] = "daily" if interval == 1 else {"days": interval}
    else:
        out["rotation"] = "weekly" if interval == 1 else {"weeks": interval}
    out["handoff"] = (f"{WEEKDAYS[start.weekday()]} {_clock(start)}" if freq == "weekly"
                      else _clock(start))
    out["start"] = start.date().isoformat()
    notes = [f"every {interval} {freq.removesuffix('ly').replace('dai', 'day')}(s) from "
             f"{start:%Y-%m-%d %H:%M}"]
    if duration > period or (by_day and duration > timedelta(days=1)):
        report.not_mapped("shift", label, f"events of {duration} overlap each other: "
                          "recreate it by hand")
        return None
    if by_day and freq == "hourly":
        report.not_mapped("shift", label, "an hourly rotation on some weekdays only")
        return None
    if by_day and freq == "weekly" and start.weekday() not in by_day:
        report.not_mapped("shift", label, "its start is not on one of its days (by_day)")
        return None
    if duration < period or by_day:
        if interval > 1 or freq == "hourly":
            report.not_mapped("shift", label, f"events of {duration} every {interval} "
                              f"{freq} period(s) leave gaps that repeat every {period}: "
                              "our restrictions repeat every day or week")
            return None
        stop = start + duration
        if by_day or freq == "daily":
            if duration == timedelta(days=1) and start.time() != start.time().min:
                report.not_mapped("shift", label, "24-hour events on some days starting at "
                                  f"{_clock(start)}: recreate it by hand")
                return None
            r: dict[str, Any] = {"from": _clock(start), "to": "24:00" if stop.time() ==
                                 stop.time().min else _clock(stop)}
            if by_day:
                r["days"] = [WEEKDAYS[d] for d in by_day]
        else:
            r = {"from": f"{WEEKDAYS[start.weekday()]} {_clock(start)}",
                 "to": f"{WEEKDAYS[stop.weekday()]} {_clock(stop)}"}
        out["restrictions"] = [r]
        notes.append(f"on call {duration} per event" + (f" on {', '.join(r['days'])}"
                                                         if by_day else ""))
    if last_end is not None:
        lend = last_end.astimezone(zone)
        end_day = lend.date() if lend.time() == lend.time().min else \
            lend.date() + timedelta(days=1)
        if end_day != lend.date():
            report.approximated("shift", label, f"its last event ends {lend:%Y-%m-%d %H:%M}; "
                                f"our layers end at local midnight: imported to end at "
                                f"{end_day} 00:00")
        out["end"] = end_day.isoformat()
        notes.append(f"until {end_day}")
    members = _members(x, label, emails, report)
    if members is None:
        return None
    out["members"] = members
    report.mapped("shift", label, ", ".join(notes))
    return out


def _wall(at: datetime, zone: ZoneInfo) -> datetime:
    return local_to_utc(at.date(), at.time(), zone)


def _last_end(start: datetime, until: datetime, period: timedelta, duration: timedelta,
              freq: str, by_day: list[int], zone: ZoneInfo) -> datetime | None:
    """When the last event ends: the one of the last period starting on or before
    ``until`` (hourly: elapsed time; by day: its last listed weekday)."""
    if freq == "hourly":
        k = (_wall(until, zone) - _wall(start, zone)) // period
        return None if k < 0 else _wall(start, zone) + period * k + duration
    for k in range((until - start) // period, -1, -1):
        anchor = start + period * k
        span = range(7 if freq == "weekly" else 1) if by_day else range(1)
        days = [anchor + timedelta(days=j) for j in span
                if not by_day or (anchor + timedelta(days=j)).weekday() in by_day]
        if days:
            return _wall(days[-1] + duration, zone)
    return None


def _override(x: dict[str, Any], label: str, name: str, zone: ZoneInfo,
              emails: dict[str, str], now: datetime, out: list[dict[str, Any]],
              report: Report) -> None:
    start = _naive(x["start"])
    end = _wall(start + timedelta(seconds=int(x["duration"])), zone)
    begin = _wall(start, zone)
    if end <= now:
        return
    users = [u for u in x.get("users") or [] if u in emails]
    if not users:
        report.not_mapped("override", label, "no user that is in the account")
        return
    if len(users) > 1 or x.get("frequency"):
        report.approximated("override", label, f"imported as one override of "
                            f"{emails[users[0]]} from {begin:%Y-%m-%d %H:%M} UTC"
                            + (" (its other users are left out)" if len(users) > 1 else "")
                            + (" (its repeats are left out)" if x.get("frequency") else ""))
    out.append({"schedule": name, "user": emails[users[0]], "start": begin.isoformat(),
                "end": end.isoformat(), "note": f"imported from {SOURCE} ({x['id']})"})
    report.mapped("override", label, f"{emails[users[0]]}: in overrides.sh and overrides.json "
                  "(run overrides.sh once after `oncall apply`)")
