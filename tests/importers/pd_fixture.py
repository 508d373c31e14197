"""The fixture PagerDuty account: the awkward cases an importer must get right.

"Now" for these tests is NOW (Monday 2027-03-01 12:00 UTC): the next 8 weeks cross the US
(2027-03-14) and the UK (2027-03-28) daylight-saving changes.

- users with and without phone contact methods (an SMS-only user, an e-mail-only user),
  notification rules of both urgencies, a repeated channel, a push rule;
- "Billing Primary" (America/New_York): a weekly layer; a daily layer restricted to
  Saturday and Sunday daytime only; a layer that ended in January; a layer that starts next
  month (on a handoff, its virtual start weeks earlier so the member order is rotated) and
  ends; overrides across a weekly handoff and across the DST night;
- "Ops London" (Europe/London): 12-hour turns (elapsed hours, across the DST change), a
  two-weekly layer restricted to Monday and Wednesday office hours, an override across a
  handoff on the DST night;
- "Secondary" (America/New_York): 3-day turns handing off at 17:30, started mid-turn;
- "Billing Critical": a level targeting a schedule and a user together, repeats (num_loops);
- services pointing at the policies, with integrations of each family: Events API v2
  (ours: ``pagerduty``), Events API v1, email, a vendor's own endpoint (Pingdom);
- three teams: "Billing" (Billing API, its policy, Billing Primary and Secondary), "Ops"
  (Ops Platform, London Web, their policies, Ops London) and "Payments" (its own user pair,
  schedule, policy and service, reached by nothing else), so ``--team`` leaves things out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
API = "https://api.pagerduty.com"
WEB = "https://acme.pagerduty.com"


def obj(kind: str, oid: str, summary: str, path: str) -> dict[str, Any]:
    return {"id": oid, "type": kind, "summary": summary, "self": f"{API}/{path}/{oid}",
            "html_url": f"{WEB}/{path}/{oid}"}


def user(oid: str, name: str, email: str, tz: str, role: str = "user",
         teams: list[str] | None = None) -> dict[str, Any]:
    return {**obj("user", oid, name, "users"), "name": name, "email": email,
            "time_zone": tz, "color": "purple", "role": role, "job_title": "SRE",
            "invitation_sent": False, "description": "",
            "teams": [tref(x) for x in teams or []]}


TEAMS = {"PTEAM1": "Billing", "PTEAM2": "Ops", "PTEAM3": "Payments"}


def team(oid: str) -> dict[str, Any]:
    return {**obj("team", oid, TEAMS[oid], "teams"), "name": TEAMS[oid],
            "description": f"The {TEAMS[oid]} team"}


def tref(oid: str) -> dict[str, Any]:
    return obj("team_reference", oid, TEAMS[oid], "teams")


def integration(oid: str, kind: str, summary: str, service: str) -> dict[str, Any]:
    """A service's integration as PagerDuty lists it (a reference: its type says which
    API its sender speaks)."""
    return {"id": oid, "type": f"{kind}_inbound_integration_reference", "summary": summary,
            "self": f"{API}/services/{service}/integrations/{oid}",
            "html_url": f"{WEB}/services/{service}/integrations/{oid}"}


def ref(oid: str, summary: str = "") -> dict[str, Any]:
    return {"id": oid, "type": "user_reference", "summary": summary or oid,
            "self": f"{API}/users/{oid}", "html_url": f"{WEB}/users/{oid}"}


def sref(oid: str) -> dict[str, Any]:
    return {"id": oid, "type": "schedule_reference", "summary": oid,
            "self": f"{API}/schedules/{oid}", "html_url": f"{WEB}/schedules/{oid}"}


def layer(oid: str, name: str, users: list[str], length: int, virtual: str, start: str,
          end: str | None = None, restrictions: list[dict[str, Any]] | None = None
          ) -> dict[str, Any]:
    out: dict[str, Any] = {"id": oid, "name": name, "start": start,
                           "rotation_virtual_start": virtual,
                           "rotation_turn_length_seconds": length,
                           "users": [{"user": ref(u)} for u in users],
                           "restrictions": restrictions or []}
    if end is not None:
        out["end"] = end
    return out


def weekly_r(day: int, at: str, seconds: int) -> dict[str, Any]:
    return {"type": "weekly_restriction", "start_day_of_week": day, "start_time_of_day": at,
            "duration_seconds": seconds}


def daily_r(at: str, seconds: int) -> dict[str, Any]:
    return {"type": "daily_restriction", "start_time_of_day": at, "duration_seconds": seconds}


def phone(oid: str, kind: str, cc: int, address: str) -> dict[str, Any]:
    return {**obj(kind, oid, "Mobile", "contact_methods"), "label": "Mobile",
            "address": address, "country_code": cc}


def email_cm(oid: str, address: str) -> dict[str, Any]:
    return {**obj("email_contact_method", oid, "Work", "contact_methods"), "label": "Work",
            "address": address}


def rule(oid: str, urgency: str, delay: int, cm_id: str, cm_type: str) -> dict[str, Any]:
    return {**obj("assignment_notification_rule", oid, "rule", "notification_rules"),
            "start_delay_in_minutes": delay, "urgency": urgency,
            "contact_method": {"id": cm_id, "type": f"{cm_type}_reference",
                               "summary": "Mobile"}}


def schedule(oid: str, name: str, tz: str, layers: list[dict[str, Any]],
             teams: list[str] | None = None) -> dict[str, Any]:
    return {**obj("schedule", oid, name, "schedules"), "name": name, "time_zone": tz,
            "description": f"{name} rotation", "schedule_layers": layers,
            "teams": [tref(x) for x in teams or []]}


def override(oid: str, uid: str, start: str, end: str) -> dict[str, Any]:
    return {"id": oid, "start": start, "end": end, "user": ref(uid)}


def account() -> dict[str, Any]:
    users = [
        user("PALICE1", "Alice Moreau", "alice@example.com", "America/New_York", "admin",
             ["PTEAM1"]),
        user("PBOB002", "Bob Okafor", "bob@example.com", "America/New_York", teams=["PTEAM1"]),
        user("PCAROL3", "Carol Ng", "carol@example.com", "Europe/London", "limited_user",
             ["PTEAM2"]),
        user("PDAVE04", "Dave Silva", "dave@example.com", "Europe/London", teams=["PTEAM2"]),
        user("PERIN05", "Erin Park", "erin@example.com", "America/New_York", "observer",
             ["PTEAM1"]),
        user("PFRANK6", "Frank Diaz", "frank@example.com", "Europe/London", teams=["PTEAM3"]),
        user("PGINA07", "Gina Rossi", "gina@example.com", "Europe/London", teams=["PTEAM3"]),
    ]
    contact_methods = {
        "PALICE1": [email_cm("PCM1", "alice@example.com"),
                    phone("PCM2", "phone_contact_method", 1, "415-555-0101")],
        "PBOB002": [phone("PCM3", "sms_contact_method", 1, "4155550102")],
        "PCAROL3": [email_cm("PCM4", "carol@example.com")],  # no phone at all
        "PDAVE04": [phone("PCM5", "phone_contact_method", 44, "7700 900123")],
        "PERIN05": [],
        "PFRANK6": [phone("PCM6", "phone_contact_method", 44, "7700 900456")],
        "PGINA07": [phone("PCM7", "sms_contact_method", 44, "7700 900789")],
    }
    notification_rules = {
        "PALICE1": [rule("PNR1", "high", 0, "PCM2", "phone_contact_method"),
                    rule("PNR2", "high", 5, "PCM1", "email_contact_method"),
                    rule("PNR3", "low", 0, "PCM1", "email_contact_method")],
        "PBOB002": [rule("PNR4", "high", 0, "PCM3", "sms_contact_method"),
                    rule("PNR5", "high", 1, "PCM3", "sms_contact_method"),  # twice: once
                    rule("PNR6", "low", 3, "PCM3", "sms_contact_method")],
        "PCAROL3": [rule("PNR7", "high", 0, "PCM4", "email_contact_method"),
                    rule("PNR8", "high", 0, "PCM9", "push_notification_contact_method")],
    }
    primary = schedule("PSCHED1", "Billing Primary", "America/New_York", [
        layer("PL1", "Weekly", ["PALICE1", "PBOB002", "PCAROL3"], 7 * 86400,
              "2026-11-02T09:00:00-05:00", "2026-11-02T09:00:00-05:00"),
        layer("PL2", "Weekend days", ["PDAVE04", "PERIN05"], 86400,
              "2026-11-01T09:00:00-05:00", "2026-11-01T09:00:00-05:00",
              restrictions=[weekly_r(6, "09:00:00", 12 * 3600),
                            weekly_r(7, "09:00:00", 12 * 3600)]),
        layer("PL3", "Old nights", ["PBOB002"], 86400, "2026-11-01T22:00:00-05:00",
              "2026-11-01T22:00:00-05:00", end="2027-01-31T00:00:00-05:00",
              restrictions=[daily_r("22:00:00", 10 * 3600)]),
        # Starts next month on a handoff; its turns count from March 1st, so Bob goes first.
        layer("PL4", "April cover", ["PERIN05", "PBOB002"], 86400,
              "2027-03-01T09:00:00-05:00", "2027-04-05T09:00:00-04:00",
              end="2027-04-19T00:00:00-04:00",
              restrictions=[daily_r("18:00:00", 14 * 3600)]),
    ], ["PTEAM1"])
    london = schedule("PSCHED2", "Ops London", "Europe/London", [
        layer("PL5", "12h shifts", ["PCAROL3", "PDAVE04", "PALICE1"], 12 * 3600,
              "2027-01-04T08:00:00Z", "2027-01-04T08:00:00Z"),
        layer("PL6", "Office Mon Wed", ["PBOB002", "PERIN05"], 14 * 86400,
              "2027-01-04T09:00:00Z", "2027-01-04T09:00:00Z",
              restrictions=[weekly_r(1, "09:00:00", 8 * 3600),
                            weekly_r(3, "09:00:00", 8 * 3600)]),
    ], ["PTEAM2"])
    secondary = schedule("PSCHED3", "Secondary", "America/New_York", [
        layer("PL7", "3-day", ["PBOB002", "PALICE1", "PDAVE04"], 3 * 86400,
              "2027-02-01T17:30:00-05:00", "2027-02-10T00:00:00Z"),
    ], ["PTEAM1"])
    payments = schedule("PSCHED4", "Payments", "Europe/London", [
        layer("PL8", "Weekly", ["PFRANK6", "PGINA07"], 7 * 86400,
              "2027-01-06T10:00:00Z", "2027-01-06T10:00:00Z"),
    ], ["PTEAM3"])
    overrides = {
        "PSCHED1": [
            override("POV1", "PBOB002", "2027-02-01T10:00:00-05:00",
                     "2027-02-01T12:00:00-05:00"),  # in the past: not imported
            override("POV2", "PDAVE04", "2027-03-08T07:00:00-05:00",
                     "2027-03-08T12:00:00-05:00"),  # across Monday's 09:00 handoff
            override("POV3", "PERIN05", "2027-03-13T22:00:00-05:00",
                     "2027-03-14T10:00:00-04:00"),  # across the spring-forward night
        ],
        "PSCHED2": [
            override("POV4", "PERIN05", "2027-03-27T20:00:00Z", "2027-03-28T10:00:00+01:00"),
        ],
        "PSCHED3": [],
        "PSCHED4": [],
    }
    policies = [
        {**obj("escalation_policy", "PEP1", "Billing Critical", "escalation_policies"),
         "name": "Billing Critical", "description": "Billing pages", "num_loops": 2,
         "teams": [tref("PTEAM1")],
         "on_call_handoff_notifications": "if_has_services",
         "escalation_rules": [
             {"id": "PR1", "escalation_delay_in_minutes": 5, "targets": [sref("PSCHED1")]},
             {"id": "PR2", "escalation_delay_in_minutes": 10,
              "targets": [sref("PSCHED3"), {**ref("PALICE1"), "type": "user_reference"}]},
             {"id": "PR3", "escalation_delay_in_minutes": 30, "targets": [ref("PERIN05")]},
         ]},
        {**obj("escalation_policy", "PEP2", "Ops", "escalation_policies"),
         "name": "Ops", "num_loops": 0, "teams": [tref("PTEAM2")], "escalation_rules": [
             {"id": "PR4", "escalation_delay_in_minutes": 15,
              "targets": [sref("PSCHED2"), ref("PDAVE04")]}]},
        {**obj("escalation_policy", "PEP3", "London only", "escalation_policies"),
         "name": "London only", "num_loops": 1, "teams": [tref("PTEAM2")],
         "escalation_rules": [
             {"id": "PR5", "escalation_delay_in_minutes": 20, "targets": [sref("PSCHED2")]}]},
        {**obj("escalation_policy", "PEP4", "Payments", "escalation_policies"),
         "name": "Payments", "num_loops": 0, "teams": [tref("PTEAM3")], "escalation_rules": [
             {"id": "PR6", "escalation_delay_in_minutes": 10, "targets": [sref("PSCHED4")]}]},
    ]
    services = [
        {**obj("service", "PSVC1", "Billing API", "service-directory"), "name": "Billing API",
         "description": "Public billing API", "status": "active",
         "escalation_policy": {**obj("escalation_policy_reference", "PEP1",
                                      "Billing Critical", "escalation_policies")},
         "teams": [tref("PTEAM1")], "integrations": [
             integration("PI1", "events_api_v2", "Prometheus Alertmanager", "PSVC1"),
             integration("PI2", "generic_events_api", "Datadog", "PSVC1"),  # Events API v1
             integration("PI3", "generic_email", "Billing email", "PSVC1")]},
        {**obj("service", "PSVC2", "Ops Platform", "service-directory"),
         "name": "Ops Platform", "status": "active", "teams": [tref("PTEAM2")],
         "integrations": [integration("PI4", "events_api_v2", "Grafana", "PSVC2"),
                          integration("PI5", "pingdom", "Pingdom", "PSVC2")],
         "escalation_policy": {**obj("escalation_policy_reference", "PEP2", "Ops",
                                      "escalation_policies")}},
        {**obj("service", "PSVC3", "London Web", "service-directory"),
         "name": "London Web", "status": "active", "teams": [tref("PTEAM2")],
         "escalation_policy": {**obj("escalation_policy_reference", "PEP3", "London only",
                                      "escalation_policies")}},
        {**obj("service", "PSVC4", "Payments API", "service-directory"),
         "name": "Payments API", "status": "active", "teams": [tref("PTEAM3")],
         "escalation_policy": obj("escalation_policy_reference", "PEP4", "Payments",
                                  "escalation_policies"),
         "integrations": [integration("PI6", "events_api_v2", "Payments alerts", "PSVC4")]},
    ]
    return {"users": users, "contact_methods": contact_methods,
            "notification_rules": notification_rules,
            "schedules": [primary, london, secondary, payments], "overrides": overrides,
            "policies": policies, "services": services,
            "teams": [team(x) for x in TEAMS]}
