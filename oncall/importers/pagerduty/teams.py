"""``--team``: the part of a PagerDuty account those teams' services need."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from oncall.importers.common import named
from oncall.importers.http import ApiClient
from oncall.importers.pagerduty.account import Account

# More users than this left out by --team: one report entry naming them all.
USERS_ONE_BY_ONE = 10


def _team_ids(item: dict[str, Any]) -> set[str]:
    return {str(t.get("id")) for t in item.get("teams") or []}


@dataclass
class TeamScope:
    """What ``--team`` imports: the teams' services, the policies those use (and the teams'
    own policies), the schedules those policies target (and the teams' own schedules), and
    the users those policies and schedules reach (layer members, override users, user
    targets) with the teams' members: every reference in the import resolves. The rest is
    left out, each with a reason."""

    ids: set[str]
    names: list[str]
    members: set[str]

    @property
    def why(self) -> str:
        return f"not in team(s) {', '.join(self.names)} (--team)"

    def select(self, services: list[dict[str, Any]], policies: list[dict[str, Any]],
               schedules: list[dict[str, Any]], left_out: list[tuple[str, str, str]]
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        """The services, policies and schedules to import (the rest into ``left_out``)."""
        kept_services = [s for s in services if _team_ids(s) & self.ids]
        used = {str((s.get("escalation_policy") or {}).get("id")) for s in kept_services}
        kept_policies = [p for p in policies if p["id"] in used or _team_ids(p) & self.ids]
        targeted = {str(t.get("id")) for p in kept_policies
                    for r in p.get("escalation_rules") or [] for t in r.get("targets") or []
                    if str(t.get("type", "")).startswith("schedule")}
        kept_schedules = [s for s in schedules if s["id"] in targeted
                          or _team_ids(s) & self.ids]
        for kind, every, kept in (("service", services, kept_services),
                                  ("policy", policies, kept_policies),
                                  ("schedule", schedules, kept_schedules)):
            ids = {x["id"] for x in kept}
            left_out += [(kind, str(x.get("name") or x["id"]), self.why) for x in every
                         if x["id"] not in ids]
        return kept_services, kept_policies, kept_schedules

    def select_users(self, users: list[dict[str, Any]], acc: Account,
                     left_out: list[tuple[str, str, str]]) -> list[dict[str, Any]]:
        """The teams' members and every user the kept policies and schedules reach."""
        reached = set(self.members)
        reached |= {str(t.get("id")) for p in acc.policies
                    for r in p.get("escalation_rules") or [] for t in r.get("targets") or []
                    if str(t.get("type", "")).startswith("user")}
        reached |= {str(m["user"]["id"]) for s in acc.schedules
                    for layer in s.get("schedule_layers") or [] for m in layer.get("users") or []}
        reached |= {str(o["user"]["id"]) for found in acc.overrides.values() for o in found}
        kept = [u for u in users if u["id"] in reached or _team_ids(u) & self.ids]
        ids = {u["id"] for u in kept}
        out = [str(u.get("email") or u["id"]) for u in users if u["id"] not in ids]
        if len(out) > USERS_ONE_BY_ONE:
            left_out.append(("users", f"{len(out)} left out", f"{self.why}, nor reached by their "
                             f"policies and schedules: {', '.join(out)}"))
        else:
            left_out += [("user", email, f"{self.why}, nor reached by their policies and "
                          "schedules") for email in out]
        return kept


def team_scope(client: ApiClient, names: tuple[str, ...]) -> TeamScope:
    """The teams called ``names`` and their members; an unknown name is an error naming the
    known ones (read before anything else: nothing is written)."""
    teams = named(list(client.paginate("/teams", "teams")), names, "PagerDuty", "team")
    ids = {str(t["id"]) for t in teams}
    members = {str(m["user"]["id"]) for i in sorted(ids)
               for m in client.paginate(f"/teams/{i}/members", "members")}
    return TeamScope(ids, list(dict.fromkeys(names)), members)
