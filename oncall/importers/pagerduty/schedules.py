"""PagerDuty schedules -> ``schedules/<name>.yaml``: layers, restrictions, overrides, and the
layers' order checked against PagerDuty's own final schedule."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from oncall.importers.common import ORDER_CHECK, parse_time
from oncall.importers.layers import first_turn, in_force, layer_end, layer_shape, local_to_utc
from oncall.importers.mapping import schedule_doc
from oncall.importers.output import add_override
from oncall.importers.report import Report
from oncall.schedules.rotation.spec import WEEKDAYS

DAY = 86400


def map_schedule(s: dict[str, Any], name: str, emails: dict[str, str], now: datetime,
              report: Report) -> dict[str, Any] | None:
    return schedule_doc(s, name, s.get("time_zone"), s.get("schedule_layers") or [],
                        lambda raw, zone, label: map_layer(raw, zone, emails, now, label, report),
                        report)


def final_entries(s: dict[str, Any], emails: dict[str, str]
           ) -> list[tuple[datetime, datetime, str | None]] | None:
    final = s.get("final_schedule") or {}
    if "rendered_schedule_entries" not in final:
        return None
    return [(parse_time(e["start"]), parse_time(e["end"]),
             emails.get(str((e.get("user") or {}).get("id")))) for e in
            final["rendered_schedule_entries"]]


def check_layer_order(s: dict[str, Any], doc: dict[str, Any],
                       overrides: list[dict[str, Any]], emails: dict[str, str],
                       now: datetime, report: Report) -> None:
    """PagerDuty's API has listed a schedule's layers in either order over the years
    (highest priority first, the reverse of what it accepts when creating one). Where the
    listed order (a later layer wins) disagrees with PagerDuty's own final schedule for the
    next weeks and the reverse order agrees with it exactly, the layers are written in the
    reverse order, and the report says so."""
    theirs = final_entries(s, emails)
    if theirs is None or len(doc["layers"]) < 2:
        return
    from oncall.importers.files import spec_from_doc
    from oncall.importers.verify import compare
    from oncall.schedules.rotation import final_shifts

    start, end = now, now + ORDER_CHECK

    def differences(layers: list[dict[str, Any]]) -> int:
        spec = spec_from_doc({**doc, "layers": layers}, overrides)
        ours = [(x.start, x.end, x.user) for x in final_shifts(spec, start, end)]
        return len(compare(doc["schedule"], theirs, ours, start, end))

    if differences(doc["layers"]) and not differences(doc["layers"][::-1]):
        doc["layers"].reverse()
        report.mapped("layer order", s["name"], "PagerDuty listed the layers highest "
                      "priority first; written lowest first (a later layer wins), the order "
                      "that matches its final schedule")


def map_layer(raw: dict[str, Any], zone: ZoneInfo, emails: dict[str, str], now: datetime,
           label: str, report: Report) -> dict[str, Any] | None:
    members = [emails.get(x["user"]["id"]) for x in raw.get("users") or []]
    if not members or any(m is None for m in members):
        report.not_mapped("layer", label, "no users, or a user that is not in the account")
        return None
    bounds = in_force(raw, "start", "end", now, "layer", label, report)
    if bounds is None:
        return None
    start, end = bounds
    length = int(raw["rotation_turn_length_seconds"])
    virtual = parse_time(raw["rotation_virtual_start"])
    if length <= 0 or length % 3600:
        report.not_mapped("layer", label, f"turns of {length} s: our rotations are whole "
                          "hours or whole days; recreate it with the nearest length by hand")
        return None
    if virtual.second or virtual.microsecond:
        report.not_mapped("layer", label, "its handoff is not on a whole minute")
        return None
    days = length // DAY if length % DAY == 0 else 0
    hours = length // 3600
    vlocal = virtual.astimezone(zone)

    def turn(k: int) -> datetime:
        if days:
            return local_to_utc(vlocal.date() + timedelta(days=k * days), vlocal.time(), zone)
        return virtual + timedelta(hours=k * hours)

    # Our layer starts at its first handoff on or after its start date. A layer already in
    # force starts at the handoff before its PagerDuty start (earlier turns are past); a
    # future one at the first handoff on or after its start.
    guess = int((start - virtual).total_seconds() // length)
    k = guess - 2
    while turn(k + 1) <= start:
        k += 1
    while turn(k) > start:
        k -= 1
    if start > now and turn(k) < start:
        lost = (start, turn(k + 1))
        k += 1
        report.approximated("layer", label, f"starts at {lost[0]:%Y-%m-%d %H:%M} UTC, in "
                            f"the middle of a turn: the turn's first part until the handoff "
                            f"at {lost[1]:%Y-%m-%d %H:%M} UTC ({members[(k - 1) % len(members)]}) "
                            "is not imported (our layers begin at a handoff)")
    k = first_turn(turn, k, days, zone, now, "layer", label, report)
    anchor = turn(k)
    alocal = anchor.astimezone(zone)
    n = len(members)
    out, what = layer_shape(days, hours, alocal)
    notes = [what]
    if end is not None and end <= anchor:
        report.not_mapped("layer", label, f"ends at {end.astimezone(zone):%Y-%m-%d %H:%M %Z}, "
                          "before its first handoff from now on: our layers begin at a "
                          "handoff")
        return None
    if end is not None:
        if not layer_end(out, end, zone, alocal, "layer", label, report):
            return None
        notes.append(f"until {out['end']}")
    out["members"] = [str(members[(k + i) % n]) for i in range(n)]
    restrictions: list[dict[str, Any]] = []
    for r in raw.get("restrictions") or []:
        mapped = map_restriction(r, label, report)
        if mapped == "all":
            restrictions = []
            break
        if isinstance(mapped, dict):
            restrictions.append(mapped)
    if restrictions:
        out["restrictions"] = restrictions
        notes.append(f"{len(restrictions)} restriction(s)")
    report.mapped("layer", label, ", ".join(notes))
    return out


def map_restriction(r: dict[str, Any], label: str, report: Report
                 ) -> dict[str, Any] | str | None:
    """A PagerDuty restriction as ours; "all" when it covers all the time (no restriction)."""
    h, m, sec = (int(x) for x in (str(r["start_time_of_day"]) + ":00").split(":")[:3])
    seconds = int(r["duration_seconds"])
    if sec or seconds % 60:
        report.not_mapped("restriction", label, f"{r['type']} at {r['start_time_of_day']} "
                          f"for {seconds} s is not on whole minutes; recreate it by hand")
        return None
    minutes = seconds // 60
    start = f"{h:02d}:{m:02d}"
    if r["type"] == "daily_restriction":
        if minutes >= 1440:
            return "all"
        stop = h * 60 + m + minutes
        return {"from": start, "to": f"{stop // 60 % 24:02d}:{stop % 60:02d}"}
    if minutes >= 7 * 1440:
        return "all"
    day = int(r["start_day_of_week"]) - 1
    stop = day * 1440 + h * 60 + m + minutes
    return {"from": f"{WEEKDAYS[day]} {start}",
            "to": f"{WEEKDAYS[stop // 1440 % 7]} {stop % 1440 // 60:02d}:{stop % 60:02d}"}


def map_override(o: dict[str, Any], s: dict[str, Any], name: str, emails: dict[str, str],
              now: datetime, out: list[dict[str, Any]], report: Report) -> None:
    start, end = parse_time(o["start"]), parse_time(o["end"])
    label = f"{s['name']} {start:%Y-%m-%d %H:%M}-{end:%Y-%m-%d %H:%M} UTC"
    user = emails.get(o["user"]["id"])
    if end <= now:
        return
    if user is None:
        report.not_mapped("override", label, "its user is not in the account")
        return
    add_override(out, report, label, name, user, start, end, f"PagerDuty ({o.get('id')})")
