"""An Opsgenie account with the awkward cases, as Opsgenie's API answers it.

Now is Monday 2027-03-01 15:00 UTC; the 8 verified weeks cross New York's spring-forward
(2027-03-14) and London's (2027-03-28).

- Billing Primary (New York): weekday business hours only (five weekday-and-time-of-day
  windows), a weekend rotation, a rotation that ended in January; overrides in the past,
  across Tuesday's 09:00 handoff and across the spring-forward night.
- Ops London (London): 12-hour hourly turns across the DST change.
- Secondary (New York): 8-hour hourly turns across the DST change, ending April 12.
- April Cover (New York): starts next month, evenings only (a time-of-day window across
  midnight), ends at local midnight.
- With ``inexpressible``: Team Rota (a team participant) and Gap Weekends (a ``none``
  participant: every third weekend nobody).
- Users: Carol and Erin have no phone; Erin has a custom role.
- Billing Critical: a level of a schedule and a user (two rules with one delay), a rule
  for the schedule's next on-call (not mapped), repeats.
- Teams: Billing (Billing Critical; members Alice and Bob), Ops (owns Ops London and the Ops
  escalation; member Dave), Marketing (no escalation: no service). ``--team Ops`` leaves
  out Bob, Billing's schedules, escalation and integrations.
- Integrations: Alert API senders (API, Prometheus, Grafana) of Billing and Ops, one of
  Marketing (no service), one without a team, a disabled one, and Email, Jira, Slack and
  Datadog ones (no equivalent here).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

NOW = datetime(2027, 3, 1, 15, 0, tzinfo=UTC)

Json = dict[str, Any]

USERS = [("u-alice", "alice@example.com", "Alice Moreau", "America/New_York", "Owner"),
         ("u-bob", "bob@example.com", "Bob Chen", "America/New_York", "Admin"),
         ("u-carol", "carol@example.com", "Carol Diaz", "America/New_York", "User"),
         ("u-dave", "dave@example.com", "Dave Singh", "Europe/London", "User"),
         ("u-erin", "erin@example.com", "Erin Walsh", "Europe/London", "Stakeholder")]


def user(uid: str) -> Json:
    username = next(u[1] for u in USERS if u[0] == uid)
    return {"type": "user", "id": uid, "username": username}


NONE: Json = {"type": "none"}


def rotation(rid: str, name: str, kind: str, length: int, start: str, participants: list[Json],
             end: str | None = None, restriction: Json | None = None) -> Json:
    out: Json = {"id": rid, "name": name, "type": kind, "length": length, "startDate": start,
                 "participants": participants}
    if end:
        out["endDate"] = end
    if restriction:
        out["timeRestriction"] = restriction
    return out


def weekday(start_day: str, sh: int, end_day: str, eh: int) -> Json:
    return {"startDay": start_day, "startHour": sh, "startMin": 0, "endDay": end_day,
            "endHour": eh, "endMin": 0}


def contact(cid: str, method: str, to: str, order: int) -> Json:
    return {"id": cid, "method": method, "to": to, "applyOrder": order,
            "status": {"enabled": True}}


def override(alias: str, uid: str, start: str, end: str) -> Json:
    return {"alias": alias, "user": user(uid), "startDate": start, "endDate": end,
            "rotations": []}


def account(*, inexpressible: bool = False) -> Json:
    """The account; ``inexpressible`` adds two schedules our layers cannot say exactly: a
    rotation with a team participant, and one with a ``none`` participant."""
    users = [{"id": uid, "username": email, "fullName": name, "timeZone": tz,
              "role": {"id": f"role-{role.lower()}", "name": role}, "blocked": False,
              "verified": True} for uid, email, name, tz, role in USERS]
    contacts = {
        "u-alice": [contact("c1", "voice", "1-4155550101", 0),
                    contact("c2", "email", "alice@example.com", 1)],
        "u-bob": [contact("c3", "sms", "1-4155550102", 0), contact("c4", "voice",
                                                                   "1-4155550199", 1)],
        "u-carol": [contact("c5", "email", "carol@example.com", 0),
                    contact("c6", "mobile", "Carol's phone", 1)],
        "u-dave": [contact("c7", "sms", "44-7700900123", 0)],
    }
    business = {"type": "weekday-and-time-of-day", "restrictions": [
        weekday(d, 9, d, 17) for d in ("monday", "tuesday", "wednesday", "thursday", "friday")]}
    primary = {"id": "s-primary", "name": "Billing Primary", "timezone": "America/New_York",
               "enabled": True, "ownerTeam": {"id": "t-billing", "name": "Billing"},
               "rotations": [
                   rotation("r1", "Weekdays", "daily", 1, "2027-01-04T09:00:00-05:00",
                            [user("u-alice"), user("u-bob"), user("u-carol")],
                            restriction=business),
                   rotation("r2", "Weekends", "weekly", 1, "2027-01-08T17:00:00-05:00",
                            [user("u-dave"), user("u-bob")],
                            restriction={"type": "weekday-and-time-of-day", "restrictions": [
                                weekday("friday", 17, "monday", 9)]}),
                   rotation("r3", "Old nights", "daily", 1, "2026-11-01T22:00:00-05:00",
                            [user("u-bob")], end="2027-01-31T00:00:00-05:00"),
               ]}
    london = {"id": "s-london", "name": "Ops London", "timezone": "Europe/London",
              "enabled": True, "ownerTeam": {"id": "t-ops", "name": "Ops"}, "rotations": [
                  rotation("r4", "12h shifts", "hourly", 12, "2027-01-04T08:00:00Z",
                           [user("u-carol"), user("u-dave"), user("u-alice")])]}
    secondary = {"id": "s-secondary", "name": "Secondary", "timezone": "America/New_York",
                 "enabled": True, "rotations": [
                     rotation("r5", "8h", "hourly", 8, "2027-02-01T06:00:00-05:00",
                              [user("u-bob"), user("u-alice"), user("u-dave")],
                              end="2027-04-12T00:00:00-04:00")]}
    cover = {"id": "s-cover", "name": "April Cover", "timezone": "America/New_York",
             "enabled": True, "rotations": [
                 rotation("r6", "Evenings", "daily", 2, "2027-04-05T09:00:00-04:00",
                          [user("u-erin"), user("u-bob")], end="2027-04-19T00:00:00-04:00",
                          restriction={"type": "time-of-day", "restriction": {
                              "startHour": 18, "startMin": 0, "endHour": 8, "endMin": 0}})]}
    schedules = [primary, london, secondary, cover]
    if inexpressible:
        schedules.append({"id": "s-team", "name": "Team Rota", "timezone": "Europe/London",
                          "enabled": True, "rotations": [
                              rotation("r7", "Days", "daily", 1, "2027-02-01T09:00:00Z",
                                       [user("u-dave"), {"type": "team", "id": "t-ops",
                                                         "name": "Ops"}])]})
        schedules.append({"id": "s-gaps", "name": "Gap Weekends",
                          "timezone": "America/New_York", "enabled": True, "rotations": [
                              rotation("r8", "Weekends", "weekly", 1,
                                       "2027-01-08T17:00:00-05:00",
                                       [user("u-dave"), NONE, user("u-bob")],
                                       restriction={"type": "weekday-and-time-of-day",
                                                    "restrictions": [
                                                        weekday("friday", 17, "monday", 9)]})]})
    overrides = {
        "s-primary": [
            override("ov-past", "u-bob", "2027-02-01T10:00:00-05:00", "2027-02-01T12:00:00-05:00"),
            override("ov-handoff", "u-dave", "2027-03-09T07:00:00-05:00",
                     "2027-03-09T12:00:00-05:00"),
            override("ov-dst", "u-erin", "2027-03-13T22:00:00-05:00",
                     "2027-03-14T10:00:00-04:00"),
        ],
        "s-london": [override("ov-london", "u-erin", "2027-03-27T20:00:00Z",
                              "2027-03-28T10:00:00+01:00")],
    }

    def sched(sid: str, name: str) -> Json:
        return {"type": "schedule", "id": sid, "name": name}

    def rule(delay: int, recipient: Json, notify: str = "default") -> Json:
        return {"condition": "if-not-acked", "notifyType": notify,
                "delay": {"timeAmount": delay, "timeUnit": "minutes"}, "recipient": recipient}

    escalations = [
        {"id": "e-billing", "name": "Billing Critical", "ownerTeam": {"id": "t-billing",
                                                                      "name": "Billing"},
         "rules": [rule(0, sched("s-primary", "Billing Primary")),
                   rule(5, sched("s-secondary", "Secondary")),
                   rule(5, user("u-alice")),
                   rule(15, sched("s-primary", "Billing Primary"), "next"),
                   rule(30, user("u-erin"))],
         "repeat": {"waitInterval": 10, "count": 2, "resetRecipientStates": False,
                    "closeAlertAfterAll": False}},
        {"id": "e-ops", "name": "Ops", "ownerTeam": {"id": "t-ops", "name": "Ops"},
         "rules": [rule(0, sched("s-london", "Ops London")),
                   rule(10, {"type": "team", "id": "t-ops", "name": "Ops"})]},
    ]
    teams = [{"id": "t-billing", "name": "Billing", "description": "Billing services"},
             {"id": "t-ops", "name": "Ops"}, {"id": "t-marketing", "name": "Marketing"}]
    members = {"t-billing": [member("u-alice", "admin"), member("u-bob", "user")],
               "t-ops": [member("u-dave", "admin")]}
    integrations = [
        integration("i-api", "Billing API", "API", "t-billing"),
        integration("i-grafana", "Billing Grafana", "Grafana", "t-billing"),
        integration("i-prom", "Ops Alertmanager", "Prometheus", "t-ops"),
        integration("i-mkt", "Marketing API", "API", "t-marketing"),
        integration("i-shared", "Shared API", "API", None),
        integration("i-old", "Old API", "API", "t-billing", enabled=False),
        integration("i-email", "Billing email", "Email", "t-billing"),
        integration("i-jira", "Ops Jira", "Jira", "t-ops"),
        integration("i-slack", "Ops Slack", "Slack", "t-ops"),
        integration("i-dd", "Datadog", "Datadog", "t-billing"),
    ]
    return {"users": users, "contacts": contacts, "schedules": schedules,
            "overrides": overrides, "escalations": escalations, "teams": teams,
            "members": members, "integrations": integrations}


def member(uid: str, role: str) -> Json:
    return {"user": {"id": uid, "username": next(u[1] for u in USERS if u[0] == uid)},
            "role": role}


def integration(iid: str, name: str, kind: str, team: str | None, *, enabled: bool = True
                ) -> Json:
    out: Json = {"id": iid, "name": name, "type": kind, "enabled": enabled}
    if team:
        out["teamId"] = team
    return out
