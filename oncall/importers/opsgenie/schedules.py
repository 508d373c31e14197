"""Opsgenie schedules -> ``schedules/<name>.yaml``: rotations as layers, time restrictions,
overrides, and overlapping rotations reported."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from oncall.importers.common import ORDER_CHECK, parse_time
from oncall.importers.layers import (
    first_turn,
    format_span,
    in_force,
    layer_end,
    layer_shape,
    local_to_utc,
)
from oncall.importers.mapping import schedule_doc
from oncall.importers.opsgenie.timeline import timeline_entries
from oncall.importers.output import add_override
from oncall.importers.report import Report
from oncall.schedules.rotation.spec import WEEKDAYS

DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
UNIT_MINUTES = {"days": 1440, "hours": 60, "minutes": 1}


def map_schedule(s: dict[str, Any], name: str, emails: dict[str, str], now: datetime,
              report: Report) -> dict[str, Any] | None:
    doc = schedule_doc(s, name, s.get("timezone"), s.get("rotations") or [],
                       lambda raw, zone, label: _rotation(raw, zone, emails, now, label,
                                                          report), report, "rotation")
    if doc is not None and s.get("enabled") is False:
        report.approximated("schedule", s["name"], "disabled in Opsgenie; imported enabled")
    return doc


def check_overlaps(s: dict[str, Any], data: dict[str, Any], report: Report) -> None:
    both = [e for e in timeline_entries(data) if e[2] and " + " in e[2]]
    if both:
        total = sum((b - a for a, b, _ in both), timedelta())
        weeks = _weeks(data)
        report.approximated("rotation overlap", s["name"], f"rotations overlap for "
                            f"{format_span(total)} in the next {weeks} weeks (first "
                            f"{both[0][0]:%Y-%m-%d %H:%M} UTC: {both[0][2]}): Opsgenie has "
                            "all of them on call at once, ours only the later layer's member")


def _weeks(data: dict[str, Any]) -> int:
    """How many weeks Opsgenie's timeline covers (as asked: whole weeks)."""
    try:
        span = parse_time(data["endDate"]) - parse_time(data["startDate"])
    except (KeyError, TypeError, ValueError):
        return ORDER_CHECK.days // 7
    return max(1, round(span / timedelta(weeks=1)))


def _rotation(raw: dict[str, Any], zone: ZoneInfo, emails: dict[str, str], now: datetime,
              label: str, report: Report) -> dict[str, Any] | None:
    bounds = in_force(raw, "startDate", "endDate", now, "rotation", label, report)
    if bounds is None:
        return None
    start, end = bounds
    slots: list[str | None] = []  # None: not a user of ours for that turn
    for p in raw.get("participants") or []:
        kind = p.get("type")
        slots.append(emails.get(p.get("id")) if kind == "user" else None)
    if not any(slots):
        report.not_mapped("rotation", label, "no participant that is a user of the account")
        return None
    n = len(slots)
    members = list(slots)
    for i, p in enumerate(raw.get("participants") or []):
        if slots[i] is not None:
            continue
        # Our layers have no empty turn and hold users only: the turn goes to the user
        # before it, so the turns of everyone else stay where Opsgenie has them.
        cover = next(slots[(i - d) % n] for d in range(1, n + 1) if slots[(i - d) % n])
        members[i] = cover
        what = {"none": "'none' (a deliberately empty turn)",
                "team": f"team {p.get('name') or p.get('id')} (Opsgenie gives the turn to "
                        "the team)"}.get(str(p.get("type")),
                                         f"{p.get('type')} {p.get('username') or p.get('id')}"
                                         " (not a user of the account)")
        report.approximated("participant", label, f"participant {i + 1}, {what}: our "
                            f"layers hold users and have no empty turn; that turn goes to "
                            f"{cover} (the participant before it), so every other turn "
                            "stays as in Opsgenie; change it by hand if that is wrong")
    length = int(raw.get("length") or 1)
    kind = raw.get("type")
    days = {"daily": length, "weekly": 7 * length}.get(str(kind), 0)
    if kind not in ("daily", "weekly", "hourly") or length < 1:
        report.not_mapped("rotation", label, f"rotation type {kind!r} of length {length}")
        return None
    slocal = start.astimezone(zone)

    def turn(k: int) -> datetime:
        if days:
            return local_to_utc(slocal.date() + timedelta(days=k * days), slocal.time(), zone)
        return start + timedelta(hours=k * length)

    step = timedelta(days=days) if days else timedelta(hours=length)
    k = max(0, (now - start) // step - 2)  # the turn in force now (or the first one)
    while turn(k + 1) <= now:
        k += 1
    restrictions = _restrictions(raw.get("timeRestriction"), label, report)
    first = first_turn(turn, k, days, zone, now, "rotation", label, report)
    alocal = turn(first).astimezone(zone)
    out, shape = layer_shape(days, length, alocal)
    if end is not None and not layer_end(out, end, zone, alocal, "rotation", label, report):
        return None
    out["members"] = [str(members[(first + i) % n]) for i in range(n)]
    if restrictions:
        out["restrictions"] = restrictions
    what = f"{kind} x{length}: {shape}, {n} participant(s)"
    if restrictions:
        what += f", {len(restrictions)} restriction(s)"
    report.mapped("rotation", label, what)
    return out


def _restrictions(tr: dict[str, Any] | None, label: str, report: Report
                  ) -> list[dict[str, str]]:
    if not tr:
        return []
    if tr.get("type") == "time-of-day":
        r = tr.get("restriction") or {}
        a = f"{int(r['startHour']):02d}:{int(r['startMin']):02d}"
        b = f"{int(r['endHour']):02d}:{int(r['endMin']):02d}"
        return [] if a == b else [{"from": a, "to": b}]
    out = []
    for r in tr.get("restrictions") or []:
        a = (f"{WEEKDAYS[DAYS.index(r['startDay'])]} "
             f"{int(r['startHour']):02d}:{int(r['startMin']):02d}")
        b = f"{WEEKDAYS[DAYS.index(r['endDay'])]} {int(r['endHour']):02d}:{int(r['endMin']):02d}"
        if a == b:
            report.approximated("restriction", label, f"{a} to {b} (the whole week): imported "
                                "as no restriction")
            return []
        out.append({"from": a, "to": b})
    return out


def map_override(o: dict[str, Any], s: dict[str, Any], name: str, emails: dict[str, str],
              now: datetime, out: list[dict[str, Any]], report: Report) -> None:
    start, end = parse_time(o["startDate"]), parse_time(o["endDate"])
    label = f"{s['name']} {start:%Y-%m-%d %H:%M}-{end:%Y-%m-%d %H:%M} UTC"
    if end <= now:
        return
    u = o.get("user") or {}
    user = emails.get(str(u.get("id"))) or next(
        (e for e in emails.values() if e == u.get("username")), None)
    if user is None:
        report.not_mapped("override", label, f"its {u.get('type')} is not a user of the "
                          "account")
        return
    rotations = o.get("rotations") or []
    if rotations and len(rotations) < len(s.get("rotations") or []):
        report.approximated("override", label, "applies to rotation(s) "
                            f"{', '.join(str(r.get('name')) for r in rotations)} only in "
                            "Opsgenie; ours overrides the whole schedule")
    add_override(out, report, label, name, user, start, end, f"Opsgenie ({o.get('alias')})")
