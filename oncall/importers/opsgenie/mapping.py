"""An Opsgenie account -> the files to write and the report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from oncall.importers.mapping import map_policies, map_schedules
from oncall.importers.opsgenie.account import SOURCE, Account
from oncall.importers.opsgenie.integrations import map_integrations
from oncall.importers.opsgenie.policies import map_policy, map_service
from oncall.importers.opsgenie.schedules import check_overlaps, map_override, map_schedule
from oncall.importers.opsgenie.users import map_user
from oncall.importers.output import add_files
from oncall.importers.report import Report


@dataclass
class OpsgenieImport:
    """The files to write, the report, and what ``--verify`` needs."""

    files: dict[str, str]
    report: Report
    schedule_ids: dict[str, str]  # our schedule name -> Opsgenie id
    emails: dict[str, str]  # Opsgenie user id -> email (= username)
    timezones: dict[str, str]  # our schedule name -> zone


def map_account(acc: Account, now: datetime, *, filtered: bool = False) -> OpsgenieImport:
    report = Report(SOURCE)
    emails: dict[str, str] = {}
    users_out = []
    for u in acc.users:
        users_out.append(map_user(u, acc.contacts.get(u["id"], []), report))
        emails[u["id"]] = u["username"]

    def extra(s: dict[str, Any], name: str, doc: dict[str, Any],
              mine: list[dict[str, Any]]) -> None:
        for o in acc.overrides.get(s["id"], []):
            map_override(o, s, name, emails, now, mine, report)
        check_overlaps(s, acc.timelines.get(s["id"]) or {}, report)

    sched = map_schedules(acc.schedules, SOURCE,
                          lambda s, name: map_schedule(s, name, emails, now, report), extra)
    policies_out, policy_names = map_policies(
        acc.escalations, lambda e, taken: map_policy(e, sched.names, emails, taken, report,
                                                  filtered))
    services: dict[str, str] = {}  # Opsgenie team id -> our service
    services_out = []
    for t in acc.teams:
        if svc := map_service(t, acc.escalations, policy_names, report):
            services[t["id"]] = svc["service"]
            services_out.append(svc)
    integrations_out = map_integrations(acc.integrations, acc.teams, services, report)
    for kind, name, why in acc.left_out:
        report.not_mapped(kind, name, why)

    add_files(sched.files, report, users_out, policies_out, services_out, sched.overrides,
              SOURCE, integrations_out)
    return OpsgenieImport(sched.files, report, sched.ids, emails, sched.timezones)
