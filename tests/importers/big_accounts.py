"""The benchmark's accounts for Opsgenie and Grafana OnCall, shaped as the tests' fixtures:
200 users, 50 schedules of 3 rotations or shifts (weekly days, 12-hour turns at night,
weekend days) and 50 escalations or chains, in New York and London (the 8 weeks from the fixtures'
"now" cross both daylight-saving changes). PagerDuty's is ``test_pagerduty_bench.big_account``."""

from __future__ import annotations

from typing import Any

from tests.importers import gf_fixture as gf
from tests.importers import og_fixture as og

ZONES = ["America/New_York", "Europe/London"]
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")
Json = dict[str, Any]


def opsgenie_account() -> Json:
    users = [{"id": f"u{i:03d}", "username": f"user{i}@example.com", "fullName": f"User {i}",
              "timeZone": ZONES[i % 2], "role": {"id": "role-user", "name": "User"},
              "blocked": False, "verified": True} for i in range(200)]
    names = {u["id"]: u["username"] for u in users}

    def who(uid: str) -> Json:
        return {"type": "user", "id": uid, "username": names[uid]}

    contacts = {u["id"]: [og.contact(f"c{i}", "sms", f"1-41555{i:05d}", 0)]
                for i, u in enumerate(users)}
    schedules, escalations, teams = [], [], []
    for i in range(50):
        members = [users[(i * 4 + j) % 200]["id"] for j in range(4)]
        offset = "-05:00" if i % 2 == 0 else "Z"
        schedules.append({
            "id": f"s{i:03d}", "name": f"Team {i}", "timezone": ZONES[i % 2], "enabled": True,
            "ownerTeam": {"id": f"t{i:03d}", "name": f"Team {i}"}, "rotations": [
                # Opsgenie puts every rotation in force on call at once: these never overlap.
                og.rotation(f"r{i}a", "Weekdays", "weekly", 1, f"2027-01-04T08:00:00{offset}",
                            [who(m) for m in members],
                            restriction={"type": "weekday-and-time-of-day", "restrictions": [
                                og.weekday(d, 8, d, 20) for d in WEEKDAYS]}),
                og.rotation(f"r{i}b", "Nights", "hourly", 12, f"2027-01-04T20:00:00{offset}",
                            [who(m) for m in members[::-1]],
                            restriction={"type": "time-of-day", "restriction": {
                                "startHour": 20, "startMin": 0, "endHour": 8, "endMin": 0}}),
                og.rotation(f"r{i}c", "Weekend days", "daily", 1,
                            f"2027-01-02T08:00:00{offset}", [who(m) for m in members[1:3]],
                            restriction={"type": "weekday-and-time-of-day", "restrictions": [
                                og.weekday(d, 8, d, 20) for d in ("saturday", "sunday")]})]})
        escalations.append({
            "id": f"e{i:03d}", "name": f"Team {i}", "ownerTeam": {"id": f"t{i:03d}",
                                                                   "name": f"Team {i}"},
            "rules": [{"condition": "if-not-acked", "notifyType": "default",
                       "delay": {"timeAmount": 0, "timeUnit": "minutes"},
                       "recipient": {"type": "schedule", "id": f"s{i:03d}",
                                     "name": f"Team {i}"}},
                      {"condition": "if-not-acked", "notifyType": "default",
                       "delay": {"timeAmount": 10, "timeUnit": "minutes"},
                       "recipient": who(members[0])}]})
        teams.append({"id": f"t{i:03d}", "name": f"Team {i}"})
    return {"users": users, "contacts": contacts, "schedules": schedules, "overrides": {},
            "escalations": escalations, "teams": teams, "integrations": []}


def grafana_account() -> Json:
    users = [gf.user(f"U{i:03d}", f"user{i}", f"user{i}@example.com", "editor", ZONES[i % 2],
                     True) for i in range(200)]
    shifts, schedules, chains, steps, integrations = [], [], [], [], []
    for i in range(50):
        members = [users[(i * 4 + j) % 200]["id"] for j in range(4)]
        ids = [f"O{i}a", f"O{i}b", f"O{i}c"]
        shifts += [
            gf.shift(ids[0], "Primary", "rolling_users", "2027-01-04T09:00:00", 7 * 86400,
                     frequency="weekly", interval=1, groups=[[m] for m in members]),
            gf.shift(ids[1], "Nights", "rolling_users", "2027-01-04T20:00:00", 10 * 3600,
                     level=1, frequency="daily", interval=1,
                     groups=[[m] for m in members[::-1]]),
            gf.shift(ids[2], "Weekend", "rolling_users", "2027-01-02T10:00:00", 10 * 3600,
                     level=2, frequency="daily", interval=1, by_day=["SA", "SU"],
                     groups=[[m] for m in members[1:3]]),
        ]
        schedules.append(gf.schedule(f"S{i:03d}", f"Team {i}", "web", ZONES[i % 2], ids))
        chains.append({"id": f"C{i:03d}", "team_id": None, "name": f"Team {i}"})
        steps += [gf.step(f"E{i}a", f"C{i:03d}", 0, "notify_on_call_from_schedule",
                          notify_on_call_from_schedule=f"S{i:03d}"),
                  gf.step(f"E{i}b", f"C{i:03d}", 1, "wait", duration=600),
                  gf.step(f"E{i}c", f"C{i:03d}", 2, "notify_persons",
                          persons_to_notify=[members[0]])]
        integrations.append(gf.integration(f"I{i:03d}", f"Team {i}", "alertmanager",
                                           f"C{i:03d}"))
    return {"users": users, "schedules": schedules, "on_call_shifts": shifts,
            "escalation_chains": chains, "escalation_policies": steps,
            "integrations": integrations}
