"""Grafana OnCall escalation chains -> ``policies:`` (notify steps up to a wait make a level)."""

from __future__ import annotations

from typing import Any

from oncall.importers.common import slug, unique
from oncall.importers.report import Report

REPEATS = 5  # Grafana OnCall's repeat_escalation repeats the chain at most 5 times
NOT_STEPS = {
    "resolve": "resolves the alert group: ours never resolves by itself",
    "notify_user_group": "Slack user groups are not targets here",
    "notify_whole_channel": "Slack channels are not targets here",
    "trigger_webhook": "outgoing webhooks are not escalation steps here",
    "trigger_action": "outgoing webhooks are not escalation steps here",
    "notify_if_time_from_to": "time-of-day conditions are not escalation steps here",
    "notify_if_num_alerts_in_window": "alert-count conditions are not escalation steps here",
    "declare_incident": "incidents are not escalation steps here",
    "notify_team_members": "a team's members are not a target here: name the users",
}


def map_chain(c: dict[str, Any], steps: list[dict[str, Any]], schedules: dict[str, str],
           emails: dict[str, str], taken: set[str], report: Report,
           filtered: bool) -> dict[str, Any] | None:
    label = c.get("name") or c["id"]
    levels: list[dict[str, Any]] = []
    notify: list[str] = []
    repeat = 0
    for n, step in enumerate(steps, 1):
        where, kind = f"{label} step {n}", step.get("type")
        if repeat:
            report.not_mapped("step", where, f"{kind} after repeat_escalation")
            continue
        if kind == "wait":
            seconds = int(step.get("duration") or 0)
            minutes = -(-seconds // 60)
            if not notify and not levels:
                report.approximated("step", where, f"a wait of {seconds} s before anyone is "
                                    "notified: ours notifies the first level at once")
                continue
            if seconds % 60:
                report.approximated("step", where, f"a wait of {seconds} s: {minutes} min")
            if notify:
                levels.append({"notify": notify, "escalate_after": f"{minutes}m"})
                notify = []
            else:
                prev = int(levels[-1]["escalate_after"][:-1])
                levels[-1]["escalate_after"] = f"{prev + minutes}m"
            continue
        if kind == "repeat_escalation":
            repeat = REPEATS
            continue
        targets: list[tuple[str, str | None]] = []
        if kind in ("notify_persons", "notify_person_next_each_time"):
            ids = step.get("persons_to_notify") or step.get(
                "persons_to_notify_next_each_time") or []
            targets = [(u, f"user:{emails[u]}" if u in emails else None) for u in ids]
            if kind == "notify_person_next_each_time":
                report.approximated("step", where, "one person each time (round robin): "
                                    "we page every person of the level")
        elif kind == "notify_on_call_from_schedule":
            sid = str(step.get("notify_on_call_from_schedule"))
            targets = [(sid, f"schedule:{schedules[sid]}" if sid in schedules else None)]
        else:
            report.not_mapped("step", where, f"{kind}: "
                              + NOT_STEPS.get(str(kind), "no such step here"))
            continue
        if step.get("important"):
            report.approximated("step", where, "important notification: the users' own "
                                "rules for critical alerts apply")
        for ref, target in targets:
            if target is None:
                why = ("not among the imported schedules (--schedule)" if filtered and
                       kind == "notify_on_call_from_schedule" else "not imported")
                report.not_mapped("target", where, f"{ref}: {why}")
            elif target not in notify:
                notify.append(target)
    if notify:
        levels.append({"notify": notify})
    if not levels:
        report.not_mapped("policy", label, "no step with a target we imported")
        return None
    name = unique(slug(label), taken)
    out: dict[str, Any] = {"policy": name}
    if repeat:
        out["repeat"] = repeat
    out["levels"] = levels
    report.mapped("policy", label, f"policy {name}: {len(levels)} level(s), repeat {repeat}")
    return out
