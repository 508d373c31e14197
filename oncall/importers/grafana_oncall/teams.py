"""``--team``: the part of a Grafana OnCall account those teams need."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from oncall.importers.common import named
from oncall.importers.grafana_oncall.account import SOURCE, Account, shifts_of

TEAM_USERS_LISTED = 20  # above this, users left out by --team are one report entry


def for_teams(acc: Account, teams: list[dict[str, Any]], names: tuple[str, ...]) -> Account:
    """What belongs to the teams called ``names``: their integrations, the chains those
    route to, the schedules and users those chains reach, the teams' own schedules and
    members, and every user of a kept schedule's shifts (so that every reference
    resolves). The rest is listed in ``left_out``."""
    ids = {t["id"]: t["name"] for t in named(teams, names, SOURCE, "team")}
    label = f"not in team(s) {', '.join(names)}"
    integrations = [i for i in acc.integrations if i.get("team_id") in ids]
    chain_ids = {(i.get("default_route") or {}).get("escalation_chain_id")
                 for i in integrations}
    chains = [c for c in acc.chains if c["id"] in chain_ids]
    steps = [p for p in acc.steps if p.get("escalation_chain_id") in chain_ids]
    schedule_ids = {s["id"] for s in acc.schedules if s.get("team_id") in ids} | {
        str(p.get("notify_on_call_from_schedule")) for p in steps}
    schedules = [s for s in acc.schedules if s["id"] in schedule_ids]
    user_ids = {u["id"] for u in acc.users if set(u.get("teams") or []) & set(ids)}
    user_ids |= {u for p in steps for key in ("persons_to_notify",
                                               "persons_to_notify_next_each_time")
                 for u in p.get(key) or []}
    user_ids |= {u for s in schedules for x in shifts_of(s, acc.shifts)
                 for u in _shift_users(x)}
    users = [u for u in acc.users if u["id"] in user_ids]
    left: list[tuple[str, str, str]] = []
    left += [("service", i.get("name") or i["id"], label) for i in acc.integrations
             if i not in integrations]
    left += [("policy", c.get("name") or c["id"], "no service of the team(s) routes to it"
              if c.get("team_id") in ids else f"{label}, nor used by their services")
             for c in acc.chains if c not in chains]
    left += [("schedule", s["name"], f"{label}, nor reached by their policies")
             for s in acc.schedules if s not in schedules]
    out_users = [u["email"] for u in acc.users if u not in users]
    if len(out_users) > TEAM_USERS_LISTED:
        left.append(("users", f"{len(out_users)} users", f"{label}: {', '.join(out_users)}"))
    else:
        left += [("user", email, label) for email in out_users]
    return replace(acc, users=users, schedules=schedules, chains=chains, steps=steps,
                   integrations=integrations, left_out=acc.left_out + left)


def _shift_users(x: dict[str, Any]) -> list[str]:
    return [*(x.get("users") or []), *(u for g in x.get("rolling_users") or [] for u in g)]
