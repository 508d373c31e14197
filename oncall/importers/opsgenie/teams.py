"""``--team``: the part of an Opsgenie account those teams need."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from oncall.importers.common import parse_time
from oncall.importers.opsgenie.account import Account
from oncall.importers.opsgenie.integrations import integration_label

# More users than this left out by --team are reported as one entry.
LEFT_OUT_USERS = 10


@dataclass
class TeamScope:
    """What ``--team`` keeps (Opsgenie ids): the teams, their escalations, the schedules the
    teams own or their escalations reach, and the users that the escalations, the schedules'
    rotations and overrides, and the teams' member lists name. Every reference of what is
    kept resolves to something kept."""

    teams: dict[str, str]  # id -> name
    escalations: set[str]
    schedules: set[str]
    users: set[str]

    @classmethod
    def of(cls, teams: list[dict[str, Any]], members: dict[str, list[dict[str, Any]]],
           escalations: list[dict[str, Any]], schedules: list[dict[str, Any]]) -> TeamScope:
        ids = {t["id"]: str(t.get("name")) for t in teams}
        owned = [e for e in escalations if (e.get("ownerTeam") or {}).get("id") in ids]
        reached = [(r.get("type"), r.get("id")) for e in owned for r in
                   ((rule.get("recipient") or {}) for rule in e.get("rules") or [])]
        kept = {s["id"] for s in schedules if (s.get("ownerTeam") or {}).get("id") in ids}
        kept |= {rid for kind, rid in reached if kind == "schedule"}
        users = {str(rid) for kind, rid in reached if kind == "user"}
        users |= {str((m.get("user") or {}).get("id")) for ms in members.values() for m in ms}
        users |= {str(p.get("id")) for s in schedules if s["id"] in kept
                  for rot in s.get("rotations") or [] for p in rot.get("participants") or []
                  if p.get("type") == "user"}
        return cls(ids, {e["id"] for e in owned}, kept, users)

    def add_override_users(self, overrides: dict[str, list[dict[str, Any]]],
                           now: datetime) -> None:
        """The users of the kept schedules' overrides still in force (they are imported)."""
        self.users |= {str((o.get("user") or {}).get("id")) for s in self.schedules
                       for o in overrides.get(s, []) if parse_time(o["endDate"]) > now}

    def why(self) -> str:
        return f"not in team(s) {', '.join(sorted(self.teams.values()))} (--team)"

    def narrow(self, acc: Account) -> None:
        """Keep what is in scope in ``acc``; record the rest in ``acc.left_out``. (The
        schedules were narrowed before their overrides were read.)"""
        why = self.why()
        left = acc.left_out
        left += [("team", str(t.get("name") or t["id"]), why) for t in acc.teams
                 if t["id"] not in self.teams]
        acc.teams = [t for t in acc.teams if t["id"] in self.teams]
        left += [("escalation", str(e.get("name") or e["id"]), why) for e in acc.escalations
                 if e["id"] not in self.escalations]
        acc.escalations = [e for e in acc.escalations if e["id"] in self.escalations]
        left += [("integration", integration_label(i), why) for i in acc.integrations
                 if i.get("teamId") not in self.teams]
        acc.integrations = [i for i in acc.integrations if i.get("teamId") in self.teams]
        out = [str(u["username"]) for u in acc.users if u["id"] not in self.users]
        acc.users = [u for u in acc.users if u["id"] in self.users]
        if len(out) > LEFT_OUT_USERS:
            left.append(("user", f"{len(out)} users", f"{why}: {', '.join(out)}"))
        else:
            left += [("user", name, why) for name in out]

    def left_schedules(self, listed: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
        return [("schedule", str(s.get("name") or s["id"]), self.why()) for s in listed
                if s["id"] not in self.schedules]
