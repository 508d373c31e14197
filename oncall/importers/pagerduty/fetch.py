"""Reading a PagerDuty account (REST API v2, GET only): what is imported, in detail."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from oncall.importers.common import ORDER_CHECK, iso, named
from oncall.importers.http import ApiClient
from oncall.importers.pagerduty.account import Account
from oncall.importers.pagerduty.teams import team_scope


def pd_client(url: str, token: str, **kw: Any) -> ApiClient:
    return ApiClient(url, {"Authorization": f"Token token={token}",
                           "Accept": "application/vnd.pagerduty+json;version=2"},
                     name="PagerDuty", **kw)


def fetch(client: ApiClient, now: datetime, horizon: timedelta,
          schedule_names: tuple[str, ...] = (), team_names: tuple[str, ...] = ()) -> Account:
    """Read the account (GET only). With ``schedule_names``, only those schedules (an unknown
    name is an error: a typo must not give a silently smaller import); with ``team_names``,
    only what belongs to those teams (:class:`TeamScope`), the rest listed in ``left_out``.
    Details (layers, overrides, contact methods) are read for what is imported only."""
    acc = Account()
    teams = team_scope(client, team_names) if team_names else None
    users = list(client.paginate("/users", "users"))
    listed = named(list(client.paginate("/schedules", "schedules")), schedule_names,
                   "PagerDuty")
    acc.policies = list(client.paginate("/escalation_policies", "escalation_policies"))
    acc.services = list(client.paginate("/services", "services"))
    if teams is not None:
        acc.services, acc.policies, listed = teams.select(acc.services, acc.policies, listed,
                                                          acc.left_out)
    since, until = iso(now), iso(now + horizon)
    for s in listed:
        # In its own zone: PagerDuty gives restrictions' times of day in the zone asked for
        # (in UTC, a 09:00 New York restriction would read 14:00 all year round). With its
        # final schedule for the next weeks, to check the order of its layers.
        full = client.get(f"/schedules/{s['id']}", {
            "time_zone": s.get("time_zone") or "UTC", "since": since,
            "until": iso(now + ORDER_CHECK)})["schedule"]
        acc.schedules.append(full)
        acc.overrides[s["id"]] = client.get(f"/schedules/{s['id']}/overrides",
                                            {"since": since, "until": until}).get(
                                                "overrides", [])
    acc.users = users if teams is None else teams.select_users(users, acc, acc.left_out)
    for u in acc.users:
        acc.contacts[u["id"]] = client.get(f"/users/{u['id']}/contact_methods").get(
            "contact_methods", [])
        acc.notification_rules[u["id"]] = client.get(
            f"/users/{u['id']}/notification_rules").get("notification_rules", [])
    return acc
