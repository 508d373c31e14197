"""A Grafana OnCall account -> the files to write and the report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from oncall.importers.common import slug, unique
from oncall.importers.grafana_oncall.account import SOURCE, Account
from oncall.importers.grafana_oncall.chains import map_chain
from oncall.importers.grafana_oncall.integrations import map_services
from oncall.importers.grafana_oncall.schedules import map_schedule
from oncall.importers.grafana_oncall.users import map_user
from oncall.importers.output import add_files, yaml_text
from oncall.importers.report import Report


@dataclass
class GrafanaImport:
    files: dict[str, str]
    report: Report
    schedule_ids: dict[str, str]  # our schedule name -> Grafana OnCall id
    emails: dict[str, str]  # Grafana OnCall user id -> email
    timezones: dict[str, str]


def map_account(acc: Account, now: datetime, *, filtered: bool = False) -> GrafanaImport:
    report = Report(SOURCE)
    for kind, name, why in acc.left_out:
        report.not_mapped(kind, name, why)
    emails = {u["id"]: u["email"] for u in acc.users}
    users_out = [map_user(u, report) for u in acc.users]
    files: dict[str, str] = {}
    schedule_ids: dict[str, str] = {}
    timezones: dict[str, str] = {}
    overrides: list[dict[str, Any]] = []
    for s in acc.schedules:
        name = unique(slug(s["name"]), set(schedule_ids))
        doc = map_schedule(s, name, acc.shifts, emails, now, overrides, report)
        if doc is None:
            continue
        schedule_ids[name] = s["id"]
        timezones[name] = doc["timezone"]
        files[f"schedules/{name}.yaml"] = yaml_text(
            doc, f"{SOURCE} schedule {s['name']!r} ({s['id']})", "grafana-oncall")
    names = {v: k for k, v in schedule_ids.items()}
    policies: list[dict[str, Any]] = []
    chain_names: dict[str, str] = {}
    for c in acc.chains:
        steps = sorted((p for p in acc.steps if p.get("escalation_chain_id") == c["id"]),
                       key=lambda p: int(p.get("position") or 0))
        mapped = map_chain(c, steps, names, emails, set(chain_names.values()), report, filtered)
        if mapped is not None:
            chain_names[c["id"]] = mapped["policy"]
            policies.append(mapped)
    services, integrations = map_services(acc.integrations, chain_names, report)
    add_files(files, report, users_out, policies, services, overrides, "grafana-oncall",
              integrations)
    return GrafanaImport(files, report, schedule_ids, emails, timezones)
