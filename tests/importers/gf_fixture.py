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
  that maps; integrations on each, one without an escalation chain, and of kinds that map
  (alertmanager, grafana_alerting, grafana, webhook, formatted_webhook) and that do not
  (heartbeat, inbound_email, direct_paging, a vendor one);
- teams (``GET /teams/``, ``team_id`` on schedules, chains and integrations, ``teams`` on
  users): "Billing" owns Billing Primary and its chain and service, "Ops" Ops London and
  its; "Search" is a team of its own (Frank, with Alice in its rotation): its schedule,
  chain and service reach nobody else, so ``--team Search`` leaves the rest out.

The shapes follow Grafana OnCall's public API serializers (engine/apps/public_api/
serializers): users have no ``name`` (``username`` only) and a legacy ``role`` of admin,
editor, viewer or none; a shift lists only the fields of its type (no ``level`` on an
``override``, no recurrence fields on a ``single_event``, ``week_start`` only when weekly)
and has a ``rotation_start``; a web schedule has no ``ical_url_overrides``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def user(uid: str, username: str, email: str, role: str, tz: str, phone: bool,
         teams: list[str] | None = None) -> dict[str, Any]:
    return {"id": uid, "email": email, "slack": None, "username": username, "role": role,
            "is_phone_number_verified": phone, "timezone": tz, "teams": teams or []}


# The fields each shift type shows (CustomOnCallShiftSerializer._get_fields_to_represent).
_RECURRENCE = ("frequency", "interval", "until", "by_day", "by_month", "by_monthday",
               "week_start")


def shift(sid: str, name: str, kind: str, start: str, duration: int, level: int = 0,
          **kw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"id": sid, "team_id": kw.pop("team", None), "name": name,
                           "type": kind, "time_zone": None, "level": level, "start": start,
                           "duration": duration, "rotation_start": kw.pop("rotation_start",
                                                                          start),
                           "frequency": None, "interval": None, "until": None,
                           "week_start": "MO", "by_day": None, "by_month": None,
                           "by_monthday": None}
    if kind == "rolling_users":
        out["rolling_users"] = kw.pop("groups")
        out["start_rotation_from_user_index"] = kw.pop("first", 0)
    else:
        out["users"] = kw.pop("users")
    out.update(kw)
    hidden = {"single_event": _RECURRENCE, "override": ("level", *_RECURRENCE)}.get(kind, ())
    if out.get("frequency") != "weekly":
        hidden = (*hidden, "week_start")
    return {k: v for k, v in out.items() if k not in hidden}


def schedule(sid: str, name: str, kind: str, tz: str, shifts: list[str],
             team: str | None = None, **kw: Any) -> dict[str, Any]:
    out = {"id": sid, "team_id": team, "name": name, "type": kind, "time_zone": tz,
           "on_call_now": [], "shifts": shifts,
           "slack": {"channel_id": None, "user_group_id": None}, **kw}
    if kind != "web":  # calendar and ical schedules have one (schedules_calendar/ical.py)
        out.setdefault("ical_url_overrides", None)
    return out


def step(sid: str, chain: str, position: int, kind: str, **kw: Any) -> dict[str, Any]:
    return {"id": sid, "escalation_chain_id": chain, "position": position, "type": kind, **kw}


def integration(iid: str, name: str, kind: str, chain: str | None,
                team: str | None = None) -> dict[str, Any]:
    return {"id": iid, "name": name, "type": kind, "team_id": team,
            "link": f"https://oncall.example.com/integrations/v1/{kind}/{iid}/",
            "default_route": {"id": f"R{iid}", "escalation_chain_id": chain},
            "maintenance_mode": None}


def team(tid: str, grafana_id: int, name: str) -> dict[str, Any]:
    return {"id": tid, "grafana_id": grafana_id, "name": name, "email": "",
            "avatar_url": f"/avatar/{tid.lower()}"}


def account() -> dict[str, Any]:
    users = [user("UALICE", "alice", "alice@example.com", "admin", "America/New_York", True,
                  ["TBILL"]),
             user("UBOB", "bob", "bob@example.com", "editor", "America/New_York", True,
                  ["TBILL"]),
             user("UCAROL", "carol", "carol@example.com", "editor", "America/Chicago", False,
                  ["TBILL"]),
             user("UDAVE", "dave", "dave@example.com", "editor", "Europe/London", False,
                  ["TOPS"]),
             user("UERIN", "erin", "erin@example.com", "viewer", "Europe/London", False,
                  ["TOPS"]),
             user("UFRANK", "frank", "frank@example.com", "none", "America/Chicago", False,
                  ["TSEARCH"])]
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
        shift("QDAILY", "Search days", "rolling_users", "2027-02-01T10:00:00", 86400,
              frequency="daily", interval=1, groups=[["UFRANK"], ["UALICE"]],
              team="TSEARCH"),
        shift("QLATER", "Search nights", "rolling_users", "2027-02-01T22:00:00", 8 * 3600,
              level=1, frequency="daily", interval=1, groups=[["UFRANK"]],
              rotation_start="2027-02-15T22:00:00", team="TSEARCH"),
    ]
    schedules = [
        schedule("SBILLING", "Billing Primary", "web", "America/New_York",
                 ["OWEEKLY", "OWEEKDAY", "ONIGHTS", "OAPRIL", "OSINGLE", "OOVER", "OPAST"],
                 team="TBILL"),
        schedule("SLONDON", "Ops London", "web", "Europe/London",
                 ["LHOURLY", "LOFFICE", "LOVER"], team="TOPS"),
        schedule("SSECOND", "Secondary", "calendar", "America/New_York",
                 ["SHOURLY", "SROLL"]),
        schedule("SLEGACY", "Legacy", "ical", "UTC", [],
                 ical_url_primary="https://calendar.example.com/legacy.ics"),
        schedule("SSEARCH", "Search", "web", "America/Chicago", ["QDAILY", "QLATER"],
                 team="TSEARCH"),
    ]
    chains = [{"id": "CBILL", "team_id": "TBILL", "name": "Billing Critical"},
              {"id": "COPS", "team_id": "TOPS", "name": "Ops"},
              {"id": "CRES", "team_id": None, "name": "Resolver"},
              {"id": "CSEARCH", "team_id": "TSEARCH", "name": "Search escalation"}]
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
        step("E13", "CSEARCH", 0, "notify_on_call_from_schedule",
             notify_on_call_from_schedule="SSEARCH"),
        step("E14", "CSEARCH", 1, "wait", duration=300),
        step("E15", "CSEARCH", 2, "notify_persons", persons_to_notify=["UFRANK"]),
    ]
    integrations = [
        integration("IBILL", "Billing API", "webhook", "CBILL", "TBILL"),
        integration("IOPS", "Ops Alertmanager", "alertmanager", "COPS", "TOPS"),
        integration("INONE", "Unrouted", "grafana_alerting", None),
        integration("IGRAF", "Billing Grafana", "grafana_alerting", "CBILL", "TBILL"),
        integration("ILEGACY", "Ops legacy Grafana", "grafana", "COPS", "TOPS"),
        integration("IFORM", "Ops formatted", "formatted_webhook", "COPS", "TOPS"),
        integration("IBEAT", "Billing heartbeat", "heartbeat", "CBILL", "TBILL"),
        integration("IMAIL", "Ops mailbox", "inbound_email", "COPS", "TOPS"),
        integration("IPAGE", "Direct paging", "direct_paging", "CBILL", "TBILL"),
        integration("IZABBIX", "Ops Zabbix", "zabbix", "COPS", "TOPS"),
        integration("ISEARCH", "Search Prometheus", "alertmanager", "CSEARCH", "TSEARCH")]
    teams = [team("TBILL", 11, "Billing"), team("TOPS", 12, "Ops"),
             team("TSEARCH", 13, "Search")]
    return {"teams": teams, "users": users, "schedules": schedules, "on_call_shifts": shifts,
            "escalation_chains": chains, "escalation_policies": steps,
            "integrations": integrations}
