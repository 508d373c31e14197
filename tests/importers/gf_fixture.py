"""The fixture Grafana OnCall account: the awkward cases an importer must get right.

"Now" is NOW (Monday 2027-03-01 12:00 UTC): the next 8 weeks cross the US (2027-03-14) and
the UK (2027-03-28) daylight-saving changes.

- users: roles admin, editor and viewer; verified phones and none (the public API gives no
  phone numbers at all);
- "Billing Primary" (web, America/New_York): a weekly rotation started from the second user;
  a higher-level shift on weekdays only (``by_day`` Mon-Fri, 09:00-17:00); a daily shift that
  ended in January (``until``); a shift that starts next month and ends (``until``) two weeks
  later; a ``single_event`` override across the Monday handoff and an ``override`` across the
  DST night;
- "Ops London" (web, Europe/London): 12-hour turns (hourly frequency, interval 12) across the
  UK change; a daily shift on Monday and Wednesday office hours only; an override across a
  handoff on the DST night;
- "Secondary" (calendar, America/New_York): 8-hour turns (hourly) across the US change;
- "Legacy" (ical): not mapped;
- "Billing Critical": a schedule and a user notified at one step (no wait between them), a
  round-robin step, an important step, a repeat; "Ops": a webhook step; "Resolver": nothing
  that maps; integrations on each, one without an escalation chain.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def user(uid: str, name: str, email: str, role: str, tz: str, phone: bool) -> dict[str, Any]:
    return {"id": uid, "email": email, "slack": None, "username": name.split()[0].lower(),
            "name": name, "role": role, "timezone": tz, "is_phone_number_verified": phone,
            "teams": []}


def shift(sid: str, name: str, kind: str, start: str, duration: int, level: int = 0,
          **kw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"id": sid, "team_id": None, "name": name, "type": kind,
                           "time_zone": None, "level": level, "start": start,
                           "duration": duration, "frequency": None, "interval": None,
                           "until": None, "week_start": "MO", "by_day": None, "source": 0}
    if kind == "rolling_users":
        out["rolling_users"] = kw.pop("groups")
        out["start_rotation_from_user_index"] = kw.pop("first", 0)
    else:
        out["users"] = kw.pop("users")
    return {**out, **kw}


def schedule(sid: str, name: str, kind: str, tz: str, shifts: list[str],
             **kw: Any) -> dict[str, Any]:
    return {"id": sid, "team_id": None, "name": name, "type": kind, "time_zone": tz,
            "on_call_now": [], "shifts": shifts, "ical_url_overrides": None,
            "slack": {"channel_id": None, "user_group_id": None}, **kw}


def step(sid: str, chain: str, position: int, kind: str, **kw: Any) -> dict[str, Any]:
    return {"id": sid, "escalation_chain_id": chain, "position": position, "type": kind, **kw}


def integration(iid: str, name: str, kind: str, chain: str | None) -> dict[str, Any]:
    return {"id": iid, "name": name, "type": kind, "team_id": None,
            "link": f"https://oncall.example.com/integrations/v1/{kind}/{iid}/",
            "default_route": {"id": f"R{iid}", "escalation_chain_id": chain},
            "maintenance_mode": None}


def account() -> dict[str, Any]:
    users = [user("UALICE", "Alice Moreau", "alice@example.com", "admin", "America/New_York",
                  True),
             user("UBOB", "Bob Stone", "bob@example.com", "editor", "America/New_York", True),
             user("UCAROL", "Carol Diaz", "carol@example.com", "editor", "America/Chicago",
                  False),
             user("UDAVE", "Dave Hughes", "dave@example.com", "editor", "Europe/London",
                  False),
             user("UERIN", "Erin Li", "erin@example.com", "viewer", "Europe/London", False)]
    shifts = [
        shift("OWEEKLY", "Weekly", "rolling_users", "2027-01-04T09:00:00", 7 * 86400,
              frequency="weekly", interval=1, groups=[["UALICE"], ["UBOB"], ["UCAROL"]],
              first=1),
        shift("OWEEKDAY", "Weekdays", "rolling_users", "2027-02-01T09:00:00", 8 * 3600,
              level=1, frequency="weekly", interval=1,
              by_day=["MO", "TU", "WE", "TH", "FR"], groups=[["UDAVE"], ["UERIN"]]),
        shift("ONIGHTS", "Old nights", "rolling_users", "2026-10-01T20:00:00", 12 * 3600,
              level=2, frequency="daily", interval=1, until="2027-01-31T20:00:00",
              groups=[["UBOB"], ["UCAROL"]]),
        shift("OAPRIL", "April cover", "rolling_users", "2027-04-05T00:00:00", 86400,
              level=2, frequency="daily", interval=1, until="2027-04-18T00:00:00",
              groups=[["UBOB"], ["UERIN"]]),
        shift("OSINGLE", "Dentist cover", "single_event", "2027-03-08T07:00:00", 4 * 3600,
              users=["UDAVE"]),
        shift("OOVER", "DST night", "override", "2027-03-13T22:00:00", 12 * 3600,
              users=["UERIN"]),
        shift("OPAST", "Past cover", "single_event", "2027-02-01T07:00:00", 3600,
              users=["UDAVE"]),
        shift("LHOURLY", "Twelve hours", "rolling_users", "2027-02-01T08:00:00", 12 * 3600,
              frequency="hourly", interval=12, groups=[["UDAVE"], ["UALICE"]]),
        shift("LOFFICE", "Office", "rolling_users", "2027-02-01T09:00:00", 8 * 3600, level=1,
              frequency="daily", interval=1, by_day=["MO", "WE"],
              groups=[["UCAROL"], ["UBOB"]]),
        shift("LOVER", "Clock change", "override", "2027-03-27T20:00:00", 13 * 3600,
              users=["UERIN"]),
        shift("SHOURLY", "Eights", "recurrent_event", "2027-02-15T06:00:00", 8 * 3600,
              frequency="hourly", interval=8, users=["UERIN"]),
        shift("SROLL", "Eights rolling", "rolling_users", "2027-02-15T06:00:00", 8 * 3600,
              level=1, frequency="hourly", interval=8,
              groups=[["UERIN"], ["UCAROL"], ["UBOB"]]),
    ]
    schedules = [
        schedule("SBILLING", "Billing Primary", "web", "America/New_York",
                 ["OWEEKLY", "OWEEKDAY", "ONIGHTS", "OAPRIL", "OSINGLE", "OOVER", "OPAST"]),
        schedule("SLONDON", "Ops London", "web", "Europe/London",
                 ["LHOURLY", "LOFFICE", "LOVER"]),
        schedule("SSECOND", "Secondary", "calendar", "America/New_York",
                 ["SHOURLY", "SROLL"]),
        schedule("SLEGACY", "Legacy", "ical", "UTC", [],
                 ical_url_primary="https://calendar.example.com/legacy.ics"),
    ]
    chains = [{"id": "CBILL", "team_id": None, "name": "Billing Critical"},
              {"id": "COPS", "team_id": None, "name": "Ops"},
              {"id": "CRES", "team_id": None, "name": "Resolver"}]
    steps = [
        step("E1", "CBILL", 0, "notify_on_call_from_schedule",
             notify_on_call_from_schedule="SBILLING", important=False),
        step("E2", "CBILL", 1, "notify_persons", persons_to_notify=["UALICE"],
             important=False),
        step("E3", "CBILL", 2, "wait", duration=300),
        step("E4", "CBILL", 3, "notify_person_next_each_time",
             persons_to_notify_next_each_time=["UBOB", "UCAROL"]),
        step("E5", "CBILL", 4, "wait", duration=900),
        step("E6", "CBILL", 5, "notify_persons", persons_to_notify=["UERIN"], important=True),
        step("E7", "CBILL", 6, "repeat_escalation"),
        step("E8", "COPS", 0, "notify_on_call_from_schedule",
             notify_on_call_from_schedule="SLONDON"),
        step("E9", "COPS", 1, "wait", duration=600),
        step("E10", "COPS", 2, "trigger_webhook", action_to_trigger="WH1"),
        step("E11", "COPS", 3, "notify_persons", persons_to_notify=["UDAVE"]),
        step("E12", "CRES", 0, "resolve"),
    ]
    integrations = [integration("IBILL", "Billing API", "webhook", "CBILL"),
                    integration("IOPS", "Ops Alertmanager", "alertmanager", "COPS"),
                    integration("INONE", "Unrouted", "grafana_alerting", None)]
    return {"users": users, "schedules": schedules, "on_call_shifts": shifts,
            "escalation_chains": chains, "escalation_policies": steps,
            "integrations": integrations}
