"""Opsgenie escalations -> ``policies:``, teams -> ``services:`` with the team's escalation."""

from __future__ import annotations

from typing import Any

from oncall.importers.common import MAX_REPEAT, slug, unique
from oncall.importers.opsgenie.schedules import UNIT_MINUTES
from oncall.importers.report import Report


def _minutes(d: dict[str, Any] | None) -> float:
    d = d or {}
    unit = d.get("timeUnit", "minutes")
    if unit in UNIT_MINUTES:
        return int(d.get("timeAmount") or 0) * UNIT_MINUTES[unit]
    return int(d.get("timeAmount") or 0) / {"seconds": 60}.get(unit, 60_000)


def map_policy(e: dict[str, Any], schedules: dict[str, str], emails: dict[str, str],
            taken: set[str], report: Report, filtered: bool) -> dict[str, Any] | None:
    label = e.get("name") or e["id"]
    name = unique(slug(label), taken)
    levels: dict[float, list[str]] = {}
    for i, rule in enumerate(e.get("rules") or [], 1):
        r, notify = rule.get("recipient") or {}, rule.get("notifyType", "default")
        where = f"{label} rule {i}"
        delay = _minutes(rule.get("delay"))
        if delay != int(delay):
            report.not_mapped("rule", where, f"delay of {delay * 60:g} s is not whole "
                              "minutes; recreate it by hand")
            continue
        target = None
        if r.get("type") == "user" and r.get("id") in emails and notify == "default":
            target = f"user:{emails[r['id']]}"
        elif r.get("type") == "schedule" and r.get("id") in schedules and notify == "default":
            target = f"schedule:{schedules[r['id']]}"
        elif r.get("type") == "schedule" and notify in ("next", "previous"):
            report.not_mapped("rule", where, f"pages the {notify} on-call of schedule "
                              f"{r.get('name')}: no such target here")
        elif r.get("type") == "schedule" and filtered:
            report.not_mapped("rule", where, f"schedule {r.get('name')}: not among the "
                              "imported schedules (--schedule)")
        else:
            report.not_mapped("rule", where, f"{r.get('type')} {r.get('name') or r.get('id')}"
                              f" ({notify}): no such target here (our targets are users and "
                              "schedules)")
        if target is None:
            continue
        if rule.get("condition") == "if-not-closed":
            report.approximated("rule", where, "escalates if not closed; ours stops "
                                "escalating at the first acknowledgement")
        levels.setdefault(delay, []).append(target)
    if not levels:
        report.not_mapped("policy", label, "no escalation rule with a target we imported")
        return None
    delays = sorted(levels)
    if delays[0]:
        report.approximated("policy", label, f"its first rule waits {delays[0]:g} min after "
                            "the alert; ours pages the first level at once")
    repeat = e.get("repeat") or {}
    count = int(repeat.get("count") or 0)
    wait = int(repeat.get("waitInterval") or 0)
    out: dict[str, Any] = {"policy": name}
    if count:
        out["repeat"] = min(count, MAX_REPEAT)
        if count > MAX_REPEAT:
            report.approximated("policy", label, f"repeats {count} times; ours at most "
                                f"{MAX_REPEAT}: imported as {MAX_REPEAT}")
    out["levels"] = []
    for i, d in enumerate(delays):
        level: dict[str, Any] = {"notify": levels[d]}
        after = delays[i + 1] - d if i + 1 < len(delays) else (wait if count else 0)
        if after:
            level["escalate_after"] = f"{after:g}m"
        elif count:
            report.approximated("policy", label, "repeats with no wait; ours waits the "
                                "default 5 min before repeating")
        out["levels"].append(level)
    report.mapped("policy", label, f"policy {name}: {len(delays)} level(s) (rules with the "
                  f"same delay share one), repeat {count}")
    return out


def map_service(t: dict[str, Any], escalations: list[dict[str, Any]],
             policy_names: dict[str, str], report: Report) -> dict[str, Any] | None:
    label = t.get("name") or t["id"]
    owned = [e for e in escalations if (e.get("ownerTeam") or {}).get("id") == t["id"]
             and e["id"] in policy_names]
    if not owned:
        report.not_mapped("team", label, "no imported escalation owned by the team: a "
                          "service needs a policy")
        return None
    out: dict[str, Any] = {"service": slug(label)}
    if t.get("description"):
        out["description"] = str(t["description"])
    out["policy"] = policy_names[owned[0]["id"]]
    if len(owned) > 1:
        report.approximated("team", label, f"owns {len(owned)} escalations; the service "
                            f"uses the first ({out['policy']}); route to the others by hand")
    report.mapped("team", label, f"service {out['service']}, policy {out['policy']}")
    return out
