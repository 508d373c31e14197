"""PagerDuty escalation policies -> ``policies:`` (rules -> levels, ``num_loops`` -> ``repeat``)."""

from __future__ import annotations

from typing import Any

from oncall.importers.common import MAX_REPEAT, slug, unique
from oncall.importers.report import Report


def map_policy(p: dict[str, Any], schedules: dict[str, str], emails: dict[str, str],
            taken: set[str], report: Report, filtered: bool) -> dict[str, Any] | None:
    label = p.get("name") or p["id"]
    name = unique(slug(label), taken)
    levels: list[dict[str, Any]] = []
    rules = p.get("escalation_rules") or []
    for i, rule in enumerate(rules, 1):
        notify: list[str] = []
        for t in rule.get("targets") or []:
            kind = str(t.get("type", "")).removesuffix("_reference")
            if kind == "user" and t["id"] in emails:
                notify.append(f"user:{emails[t['id']]}")
            elif kind in ("schedule", "schedule_v3") and t["id"] in schedules:
                notify.append(f"schedule:{schedules[t['id']]}")
            else:
                why = ("not among the imported schedules (--schedule)" if filtered
                       and kind.startswith("schedule") else "not imported")
                report.not_mapped("target", f"{label} rule {i}",
                                  f"{t.get('summary') or t['id']} ({kind}): {why}")
        if not notify:
            report.not_mapped("rule", f"{label} rule {i}", "no target left: the level is "
                              "left out")
            continue
        if rule.get("escalation_rule_assignment_strategy") == "round_robin":
            report.approximated("rule", f"{label} rule {i}", "round-robin assignment: we "
                                "page every target of the level")
        level: dict[str, Any] = {"notify": notify}
        delay = int(rule.get("escalation_delay_in_minutes") or 0)
        if delay > 0:
            level["escalate_after"] = f"{delay}m"
        levels.append(level)
    if not levels:
        report.not_mapped("policy", label, "no escalation rule with a target we imported")
        return None
    out: dict[str, Any] = {"policy": name}
    loops = int(p.get("num_loops") or 0)
    if loops:
        out["repeat"] = min(loops, MAX_REPEAT)
        if loops > MAX_REPEAT:
            report.approximated("policy", label, f"repeats {loops} times; ours at most "
                                f"{MAX_REPEAT}: imported as {MAX_REPEAT}")
    out["levels"] = levels
    report.mapped("policy", label, f"policy {name}: {len(levels)} level(s), repeat {loops}")
    return out
