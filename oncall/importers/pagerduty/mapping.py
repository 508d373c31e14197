"""A PagerDuty account -> the files to write and the report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from oncall.importers.mapping import map_policies, map_schedules
from oncall.importers.output import add_files
from oncall.importers.pagerduty.account import Account
from oncall.importers.pagerduty.policies import map_policy
from oncall.importers.pagerduty.schedules import check_layer_order, map_override, map_schedule
from oncall.importers.pagerduty.services import map_services
from oncall.importers.pagerduty.users import map_user
from oncall.importers.report import Report


@dataclass
class PagerDutyImport:
    """The files to write (relative path -> text), the report, and what ``--verify``
    needs: each imported schedule's PagerDuty id and our name, and user ids -> emails."""

    files: dict[str, str]
    report: Report
    schedule_ids: dict[str, str]  # our schedule name -> PagerDuty id
    emails: dict[str, str]  # PagerDuty user id -> email
    timezones: dict[str, str]  # our schedule name -> zone


def map_account(acc: Account, now: datetime, *, filtered: bool = False) -> PagerDutyImport:
    report = Report("PagerDuty")
    for kind, name, why in acc.left_out:
        report.not_mapped(kind, name, why)
    emails: dict[str, str] = {}
    users_out: list[dict[str, Any]] = []
    for u in acc.users:
        users_out.append(map_user(u, acc.contacts.get(u["id"], []),
                                  acc.notification_rules.get(u["id"]), report))
        emails[u["id"]] = u["email"]

    def extra(s: dict[str, Any], name: str, doc: dict[str, Any],
              mine: list[dict[str, Any]]) -> None:
        for o in acc.overrides.get(s["id"], []):
            map_override(o, s, name, emails, now, mine, report)
        check_layer_order(s, doc, mine, emails, now, report)

    sched = map_schedules(acc.schedules, "PagerDuty",
                          lambda s, name: map_schedule(s, name, emails, now, report), extra)
    files, schedule_ids, names = sched.files, sched.ids, sched.names
    timezones, overrides_out = sched.timezones, sched.overrides
    policies_out, policy_names = map_policies(
        acc.policies, lambda p, taken: map_policy(p, names, emails, taken, report, filtered))

    services_out, integrations_out = map_services(acc.services, policy_names, report)

    add_files(files, report, users_out, policies_out, services_out, overrides_out,
              integrations=integrations_out)
    return PagerDutyImport(files, report, schedule_ids, emails, timezones)
