"""Grafana OnCall (public API v1) -> config-as-code.

What maps to what (docs/migrating.md has the table for operators):

- users -> ``users:`` (email, username as the name, time zone, legacy role). The public API
  gives no full name and no phone numbers (only whether one is verified): every user is
  reported, phones are added here by hand;
- web and calendar schedules -> one ``schedules/<name>.yaml`` each, built from their on-call
  shifts: each ``rolling_users`` or ``recurrent_event`` shift becomes a layer (lower ``level``
  first: a later layer wins, as a higher level wins in Grafana OnCall), its ``frequency`` and
  ``interval`` a rotation (daily and weekly keep the local start time across DST, hourly are
  elapsed hours), its ``start`` the handoff, its user groups (from
  ``start_rotation_from_user_index``) the members, a ``duration`` shorter than the turn and
  ``by_day`` restrictions, its ``until`` the layer's end; ``ical`` schedules, ``by_month`` /
  ``by_monthday`` limits and a ``rotation_start`` after the import are not mapped;
- ``single_event`` and ``override`` shifts (from ``now``: ``--since``) ->
  ``overrides.json``/``overrides.sh``;
- escalation chains and their policies -> ``policies:``: notify steps up to the next ``wait``
  make one level (so a schedule and a user notified at one step stay together), the wait its
  ``escalate_after``, ``repeat_escalation`` -> ``repeat: 5`` (Grafana repeats 5 times);
- integrations -> ``services:`` with their default route's escalation chain, and each one
  whose senders speak a payload we take -> an ``oncall integration add`` line in
  ``integrations.sh`` (``INTEGRATION_KINDS``); the others are reported with why;
- ``--team``: teams (``GET /teams/``), ``team_id`` on schedules, chains and integrations,
  users' ``teams`` (:func:`for_teams`).

Datetimes in shifts are local (``"2027-03-01T09:00:00"``) in the shift's ``time_zone`` or
else its schedule's. Anything that cannot be said exactly goes into the report.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from oncall.importers.http import ApiClient, SourceError
from oncall.importers.pagerduty import (
    _local,
    _unique,
    _yaml,
    _zone,
    add_files,
    integration_entry,
    slug,
)
from oncall.importers.report import Report
from oncall.rotations.spec import WEEKDAYS

__all__ = ["GrafanaImport", "fetch", "for_teams", "gf_client", "map_account", "pages"]

SOURCE = "Grafana OnCall"
ROLES = {"admin": "admin", "editor": "responder", "viewer": "viewer"}  # legacy role names
DAYS = {"MO": 0, "TU": 1, "WE": 2, "TH": 3, "FR": 4, "SA": 5, "SU": 6}
PERIOD = {"hourly": timedelta(hours=1), "daily": timedelta(days=1),
          "weekly": timedelta(weeks=1)}
REPEATS = 5  # Grafana OnCall's repeat_escalation repeats the chain at most 5 times
NOT_STEPS = {
    "resolve": "resolves the alert group: ours never resolves by itself",
    "notify_user_group": "Slack user groups are not targets here",
    "notify_whole_channel": "Slack channels are not targets here",
    "trigger_webhook": "outgoing webhooks are not escalation steps here",
    "trigger_action": "outgoing webhooks are not escalation steps here",
    "notify_if_time_from_to": "time-of-day conditions are not escalation steps here",
    "notify_if_num_alerts_in_window": "alert-count conditions are not escalation steps here",
    "declare_incident": "incidents are not escalation steps here",
    "notify_team_members": "a team's members are not a target here: name the users",
}
# Integration types whose senders already send a payload one of our kinds takes; the note
# says what of theirs ours does not take (docs/alerting.md).
KINDS = {"alertmanager": "alertmanager", "grafana_alerting": "grafana", "grafana": "grafana",
         "webhook": "generic", "formatted_webhook": "generic"}
KIND_GAPS = {
    "grafana": "this is Grafana's legacy (dashboard) alerting: ours takes Grafana Alerting's "
               "webhook contact point (version 1), not legacy alerts (ruleName, evalMatches); "
               "move the rules to Grafana Alerting first",
    "webhook": "Grafana OnCall takes any JSON here and reads it through its templates; ours "
               "(generic) needs `summary` (and reads status, dedup_key, labels): a body "
               "without `summary` is refused (400), so the sender must send our JSON",
    "formatted_webhook": "its body (title, message, state, alert_uid, image_url, "
                         "link_to_upstream_details) has no `summary`: ours (generic) refuses "
                         "it (400); the sender must send our JSON (title -> summary, state ok "
                         "-> status resolved, alert_uid -> dedup_key)",
}
NO_KIND = {
    "heartbeat": "a heartbeat (alerts when pings stop): ours has no heartbeat intake",
    "inbound_email": "email intake: ours takes alerts over HTTP only",
    "direct_paging": "it has no sender (people page by hand in Grafana OnCall)",
}
TEAM_USERS_LISTED = 20  # above this, users left out by --team are one report entry


def gf_client(url: str, token: str, **kw: Any) -> ApiClient:
    """``url`` is the OnCall API's base (``https://oncall-prod-...grafana.net/oncall``)."""
    base = url.rstrip("/")
    return ApiClient(base if base.endswith("/api/v1") else f"{base}/api/v1",
                     {"Authorization": token}, name=SOURCE, **kw)


def pages(client: ApiClient, path: str, params: dict[str, Any] | None = None
          ) -> list[dict[str, Any]]:
    """Every item of ``results`` over the ``next`` links (absolute URLs under the base)."""
    out: list[dict[str, Any]] = []
    page = client.get(path, params)
    while True:
        items = page.get("results") if isinstance(page, dict) else None
        if not isinstance(items, list):
            raise SourceError(f"{SOURCE}: GET {path} has no 'results' list")
        out += items
        nxt = page.get("next")
        if not nxt:
            return out
        if not str(nxt).startswith(client.base_url + "/"):
            raise SourceError(f"{SOURCE}: GET {path} links its next page outside --url: {nxt}")
        page = client.get(str(nxt)[len(client.base_url):])


@dataclass
class Account:
    users: list[dict[str, Any]] = field(default_factory=list)
    schedules: list[dict[str, Any]] = field(default_factory=list)
    shifts: dict[str, dict[str, Any]] = field(default_factory=dict)
    chains: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    integrations: list[dict[str, Any]] = field(default_factory=list)
    left_out: list[tuple[str, str, str]] = field(default_factory=list)  # kind, name, why


def fetch(client: ApiClient, schedule_names: tuple[str, ...] = (),
          team_names: tuple[str, ...] = ()) -> Account:
    """Read the account (GET only); an unknown ``--schedule`` or ``--team`` name is an
    error (before anything is written)."""
    teams = pages(client, "/teams/") if team_names else []
    acc = Account(users=pages(client, "/users/"), schedules=pages(client, "/schedules/"))
    if schedule_names:
        known = {s.get("name") for s in acc.schedules}
        missing = [n for n in schedule_names if n not in known]
        if missing:
            raise SourceError(f"{SOURCE} has no schedule named {', '.join(map(repr, missing))}"
                              f" (there are: {', '.join(sorted(map(str, known))) or 'none'})")
        acc.schedules = [s for s in acc.schedules if s.get("name") in schedule_names]
    acc.shifts = {x["id"]: x for x in pages(client, "/on_call_shifts/")}
    acc.chains = pages(client, "/escalation_chains/")
    acc.steps = pages(client, "/escalation_policies/")
    acc.integrations = pages(client, "/integrations/")
    return for_teams(acc, teams, team_names) if team_names else acc


def for_teams(acc: Account, teams: list[dict[str, Any]], names: tuple[str, ...]) -> Account:
    """What belongs to the teams called ``names``: their integrations, the chains those
    route to, the schedules and users those chains reach, the teams' own schedules and
    members, and every user of a kept schedule's shifts (so that every reference
    resolves). The rest is listed in ``left_out``."""
    ids = {t["id"]: t["name"] for t in teams if t.get("name") in names}
    missing = [n for n in names if n not in ids.values()]
    if missing:
        known = sorted(str(t.get("name")) for t in teams)
        raise SourceError(f"{SOURCE} has no team named {', '.join(map(repr, missing))}"
                          f" (there are: {', '.join(known) or 'none'})")
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
    user_ids |= {u for s in schedules for x in _shifts_of(s, acc.shifts)
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


def _shifts_of(s: dict[str, Any], shifts: dict[str, dict[str, Any]]
               ) -> list[dict[str, Any]]:
    return [shifts[i] for i in s.get("shifts") or [] if i in shifts]


def _shift_users(x: dict[str, Any]) -> list[str]:
    return [*(x.get("users") or []), *(u for g in x.get("rolling_users") or [] for u in g)]


@dataclass
class GrafanaImport:
    files: dict[str, str]
    report: Report
    schedule_ids: dict[str, str]  # our schedule name -> Grafana OnCall id
    emails: dict[str, str]  # Grafana OnCall user id -> email
    timezones: dict[str, str]


def map_account(acc: Account, now: datetime, *, filtered: bool = False) -> GrafanaImport:
    report = Report(SOURCE)
    for kind, name, why in acc.left_out:
        report.not_mapped(kind, name, why)
    emails = {u["id"]: u["email"] for u in acc.users}
    users_out = [_user(u, report) for u in acc.users]
    files: dict[str, str] = {}
    schedule_ids: dict[str, str] = {}
    timezones: dict[str, str] = {}
    overrides: list[dict[str, Any]] = []
    for s in acc.schedules:
        name = _unique(slug(s["name"]), set(schedule_ids))
        doc = _schedule(s, name, acc.shifts, emails, now, overrides, report)
        if doc is None:
            continue
        schedule_ids[name] = s["id"]
        timezones[name] = doc["timezone"]
        files[f"schedules/{name}.yaml"] = _yaml(
            doc, f"{SOURCE} schedule {s['name']!r} ({s['id']})", "grafana-oncall")
    names = {v: k for k, v in schedule_ids.items()}
    policies: list[dict[str, Any]] = []
    chain_names: dict[str, str] = {}
    for c in acc.chains:
        steps = sorted((p for p in acc.steps if p.get("escalation_chain_id") == c["id"]),
                       key=lambda p: int(p.get("position") or 0))
        mapped = _chain(c, steps, names, emails, set(chain_names.values()), report, filtered)
        if mapped is not None:
            chain_names[c["id"]] = mapped["policy"]
            policies.append(mapped)
    services: list[dict[str, Any]] = []
    integrations: list[dict[str, str]] = []
    for i in acc.integrations:
        label = i.get("name") or i["id"]
        chain = (i.get("default_route") or {}).get("escalation_chain_id")
        if i.get("type") == "direct_paging":
            report.not_mapped("integration", label, f"direct_paging: {NO_KIND['direct_paging']}"
                              "; no service is made for it")
            continue
        if chain not in chain_names:
            report.not_mapped("service", label, "its default route has no escalation chain "
                              "that was imported" if chain else "its default route has no "
                              "escalation chain")
            continue
        sname = _unique(slug(label), {x["service"] for x in services})
        services.append({"service": sname, "policy": chain_names[chain]})
        report.mapped("service", label, f"service {sname}, policy {chain_names[chain]}"
                      "; routes other than the default one are not read")
        entry = _integration(i, label, sname, {x["name"] for x in integrations}, report)
        if entry is not None:
            integrations.append(entry)
    add_files(files, report, users_out, policies, services, overrides, "grafana-oncall",
              integrations)
    return GrafanaImport(files, report, schedule_ids, emails, timezones)


def _integration(i: dict[str, Any], label: str, service: str, taken: set[str],
                 report: Report) -> dict[str, str] | None:
    """The integration of ours that ``i``'s senders can send to, or None (reported)."""
    kind = str(i.get("type"))
    if kind not in KINDS:
        why = NO_KIND.get(kind, "its senders' own payload has no adapter here: point them at "
                          "a `generic` integration with our JSON, or at our PagerDuty "
                          "(/v2/enqueue) or Opsgenie (/v2/alerts) API if they speak one")
        report.not_mapped("integration", label, f"{kind}: {why}")
        return None
    entry = integration_entry(service, KINDS[kind], f"{SOURCE} integration {label!r} "
                              f"({i['id']}, {kind})", taken)
    done = (f"{kind} -> kind {KINDS[kind]}, {entry['name']} in integrations.sh; the sender "
            "changes its URL to ours")
    if kind in KIND_GAPS:
        report.approximated("integration", label, f"{done}; {KIND_GAPS[kind]}")
    else:
        report.mapped("integration", label, done)
    return entry


def _user(u: dict[str, Any], report: Report) -> dict[str, Any]:
    label = u["email"]
    # The public API gives no full name: the username is the name (edit it in the file).
    out: dict[str, Any] = {"user": u["email"], "name": u.get("username") or u["email"]}
    out["timezone"] = _zone(u.get("timezone") or "UTC", f"user {label}", report)
    role = ROLES.get(str(u.get("role")), "viewer")
    out["role"] = role
    if str(u.get("role")) in ROLES:
        report.mapped("user", label, f"role {u.get('role')} -> {role}")
    else:
        report.approximated("user", label, f"role {u.get('role')!r} (no access there): "
                            "imported as viewer, the least of ours")
    why = ("its public API does not give phone numbers" if u.get("is_phone_number_verified")
           else "no verified phone number there")
    report.not_mapped("contact", label, f"phone: {why}; SMS and voice pages cannot reach "
                      "this user until a phone is added")
    return out


# -- schedules ---------------------------------------------------------------------------

def _naive(text: str) -> datetime:
    at = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    if at.tzinfo is not None:
        raise SourceError(f"{SOURCE}: a shift time with an offset: {text!r} (local expected)")
    return at


def _schedule(s: dict[str, Any], name: str, shifts: dict[str, dict[str, Any]],
              emails: dict[str, str], now: datetime, overrides: list[dict[str, Any]],
              report: Report) -> dict[str, Any] | None:
    if s.get("type") == "ical":
        report.not_mapped("schedule", s["name"], "an iCal schedule: its shifts are events of "
                          "an iCal feed that the API does not give as shifts; recreate it")
        return None
    if s.get("ical_url_overrides"):
        report.not_mapped("overrides", s["name"], "overrides from an iCal feed are not read")
    tz = _zone(s.get("time_zone") or "UTC", f"schedule {s['name']}", report)
    mine = _shifts_of(s, shifts)
    layers: list[tuple[int, dict[str, Any]]] = []
    taken: set[str] = set()
    for x in mine:
        label = f"{s['name']} / {x.get('name') or x['id']}"
        if (x.get("time_zone") or tz) != tz:
            report.not_mapped("shift", label, f"in {x['time_zone']}, its schedule in {tz}: "
                              "our layers use their schedule's zone; recreate it by hand")
            continue
        if x.get("type") in ("single_event", "override"):
            _override(x, label, name, ZoneInfo(tz), emails, now, overrides, report)
            continue
        layer = _layer(x, label, ZoneInfo(tz), emails, now, report)
        if layer is not None:
            layer["name"] = _unique(str(x.get("name") or "shift"), taken)
            taken.add(layer["name"])
            layers.append((int(x.get("level") or 0), layer))
    if not layers:
        report.not_mapped("schedule", s["name"], "no shift left that is in force now or later")
        return None
    layers.sort(key=lambda p: p[0])  # stable: within a level, the later listed wins
    report.mapped("schedule", s["name"], f"schedule {name}: {len(layers)} layer(s), {tz}")
    return {"schedule": name, "timezone": tz, "layers": [x for _, x in layers]}


def _members(x: dict[str, Any], label: str, emails: dict[str, str],
             report: Report) -> list[str] | None:
    if x.get("type") == "rolling_users":
        groups = [list(g) for g in x.get("rolling_users") or [] if g]
        first = int(x.get("start_rotation_from_user_index") or 0)
        groups = groups[first % len(groups):] + groups[:first % len(groups)] if groups else []
    else:
        groups = [list(x.get("users") or [])] if x.get("users") else []
    if not groups or any(u not in emails for g in groups for u in g):
        report.not_mapped("shift", label, "no users, or a user that is not in the account")
        return None
    for g in groups:
        if len(g) > 1:
            report.approximated("shift", label, f"{', '.join(emails[u] for u in g)} are on "
                                f"call together in one turn; ours has one person per turn: "
                                f"only {emails[g[0]]} is imported (add the others as a "
                                "layer of their own)")
    return [emails[g[0]] for g in groups]


def _clock(t: datetime) -> str:
    return t.strftime("%H:%M")


def _layer(x: dict[str, Any], label: str, zone: ZoneInfo, emails: dict[str, str],
           now: datetime, report: Report) -> dict[str, Any] | None:
    freq, interval = x.get("frequency"), int(x.get("interval") or 1)
    if freq not in PERIOD:
        report.not_mapped("shift", label, f"frequency {freq!r}: our rotations are hourly, "
                          "daily or weekly; recreate it by hand")
        return None
    if x.get("by_month") or x.get("by_monthday"):
        report.not_mapped("shift", label, "limited to some months or days of the month "
                          "(by_month, by_monthday): recreate it by hand")
        return None
    start = _naive(x["start"])
    begins = _naive(x.get("rotation_start") or x["start"])
    if begins > start and _wall(begins, zone) > now:
        report.not_mapped("shift", label, f"its rotation starts {begins:%Y-%m-%d %H:%M}, "
                          f"after the import, on a pattern from {start:%Y-%m-%d %H:%M}: "
                          "recreate it by hand (or import again once it has started)")
        return None
    duration = timedelta(seconds=int(x["duration"]))
    period = PERIOD[freq] * interval
    if start.second or duration.total_seconds() % 60:
        report.not_mapped("shift", label, "not on whole minutes")
        return None
    by_day = sorted(DAYS[d] for d in x.get("by_day") or [])
    last_end = None
    if x.get("until"):
        last_end = _last_end(start, _naive(x["until"]), period, duration, freq, by_day, zone)
        if last_end is None or last_end <= now:
            report.not_mapped("shift", label, f"ended (until {x['until']}), before the "
                              "import: past shifts are not imported")
            return None
    out: dict[str, Any] = {"name": ""}
    if freq == "hourly":
        out["rotation"] = {"hours": interval}
    elif freq == "daily":
        out["rotation"] = "daily" if interval == 1 else {"days": interval}
    else:
        out["rotation"] = "weekly" if interval == 1 else {"weeks": interval}
    out["handoff"] = (f"{WEEKDAYS[start.weekday()]} {_clock(start)}" if freq == "weekly"
                      else _clock(start))
    out["start"] = start.date().isoformat()
    notes = [f"every {interval} {freq.removesuffix('ly').replace('dai', 'day')}(s) from "
             f"{start:%Y-%m-%d %H:%M}"]
    if duration > period or (by_day and duration > timedelta(days=1)):
        report.not_mapped("shift", label, f"events of {duration} overlap each other: "
                          "recreate it by hand")
        return None
    if by_day and freq == "hourly":
        report.not_mapped("shift", label, "an hourly rotation on some weekdays only")
        return None
    if by_day and freq == "weekly" and start.weekday() not in by_day:
        report.not_mapped("shift", label, "its start is not on one of its days (by_day)")
        return None
    if duration < period or by_day:
        if interval > 1 or freq == "hourly":
            report.not_mapped("shift", label, f"events of {duration} every {interval} "
                              f"{freq} period(s) leave gaps that repeat every {period}: "
                              "our restrictions repeat every day or week")
            return None
        stop = start + duration
        if by_day or freq == "daily":
            if duration == timedelta(days=1) and start.time() != start.time().min:
                report.not_mapped("shift", label, "24-hour events on some days starting at "
                                  f"{_clock(start)}: recreate it by hand")
                return None
            r: dict[str, Any] = {"from": _clock(start), "to": "24:00" if stop.time() ==
                                 stop.time().min else _clock(stop)}
            if by_day:
                r["days"] = [WEEKDAYS[d] for d in by_day]
        else:
            r = {"from": f"{WEEKDAYS[start.weekday()]} {_clock(start)}",
                 "to": f"{WEEKDAYS[stop.weekday()]} {_clock(stop)}"}
        out["restrictions"] = [r]
        notes.append(f"on call {duration} per event" + (f" on {', '.join(r['days'])}"
                                                         if by_day else ""))
    if last_end is not None:
        lend = last_end.astimezone(zone)
        end_day = lend.date() if lend.time() == lend.time().min else \
            lend.date() + timedelta(days=1)
        if end_day != lend.date():
            report.approximated("shift", label, f"its last event ends {lend:%Y-%m-%d %H:%M}; "
                                f"our layers end at local midnight: imported to end at "
                                f"{end_day} 00:00")
        out["end"] = end_day.isoformat()
        notes.append(f"until {end_day}")
    members = _members(x, label, emails, report)
    if members is None:
        return None
    out["members"] = members
    report.mapped("shift", label, ", ".join(notes))
    return out


def _wall(at: datetime, zone: ZoneInfo) -> datetime:
    return _local(at.date(), at.time(), zone)


def _last_end(start: datetime, until: datetime, period: timedelta, duration: timedelta,
              freq: str, by_day: list[int], zone: ZoneInfo) -> datetime | None:
    """When the last event ends: the one of the last period starting on or before
    ``until`` (hourly: elapsed time; by day: its last listed weekday)."""
    if freq == "hourly":
        k = (_wall(until, zone) - _wall(start, zone)) // period
        return None if k < 0 else _wall(start, zone) + period * k + duration
    for k in range((until - start) // period, -1, -1):
        anchor = start + period * k
        span = range(7 if freq == "weekly" else 1) if by_day else range(1)
        days = [anchor + timedelta(days=j) for j in span
                if not by_day or (anchor + timedelta(days=j)).weekday() in by_day]
        if days:
            return _wall(days[-1] + duration, zone)
    return None


def _override(x: dict[str, Any], label: str, name: str, zone: ZoneInfo,
              emails: dict[str, str], now: datetime, out: list[dict[str, Any]],
              report: Report) -> None:
    start = _naive(x["start"])
    end = _wall(start + timedelta(seconds=int(x["duration"])), zone)
    begin = _wall(start, zone)
    if end <= now:
        return
    users = [u for u in x.get("users") or [] if u in emails]
    if not users:
        report.not_mapped("override", label, "no user that is in the account")
        return
    if len(users) > 1 or x.get("frequency"):
        report.approximated("override", label, f"imported as one override of "
                            f"{emails[users[0]]} from {begin:%Y-%m-%d %H:%M} UTC"
                            + (" (its other users are left out)" if len(users) > 1 else "")
                            + (" (its repeats are left out)" if x.get("frequency") else ""))
    out.append({"schedule": name, "user": emails[users[0]], "start": begin.isoformat(),
                "end": end.isoformat(), "note": f"imported from {SOURCE} ({x['id']})"})
    report.mapped("override", label, f"{emails[users[0]]}: in overrides.sh and overrides.json "
                  "(run overrides.sh once after `oncall apply`)")


# -- escalation chains -------------------------------------------------------------------

def _chain(c: dict[str, Any], steps: list[dict[str, Any]], schedules: dict[str, str],
           emails: dict[str, str], taken: set[str], report: Report,
           filtered: bool) -> dict[str, Any] | None:
    label = c.get("name") or c["id"]
    levels: list[dict[str, Any]] = []
    notify: list[str] = []
    repeat = 0
    for n, step in enumerate(steps, 1):
        where, kind = f"{label} step {n}", step.get("type")
        if repeat:
            report.not_mapped("step", where, f"{kind} after repeat_escalation")
            continue
        if kind == "wait":
            seconds = int(step.get("duration") or 0)
            minutes = -(-seconds // 60)
            if not notify and not levels:
                report.approximated("step", where, f"a wait of {seconds} s before anyone is "
                                    "notified: ours notifies the first level at once")
                continue
            if seconds % 60:
                report.approximated("step", where, f"a wait of {seconds} s: {minutes} min")
            if notify:
                levels.append({"notify": notify, "escalate_after": f"{minutes}m"})
                notify = []
            else:
                prev = int(levels[-1]["escalate_after"][:-1])
                levels[-1]["escalate_after"] = f"{prev + minutes}m"
            continue
        if kind == "repeat_escalation":
            repeat = REPEATS
            continue
        targets: list[tuple[str, str | None]] = []
        if kind in ("notify_persons", "notify_person_next_each_time"):
            ids = step.get("persons_to_notify") or step.get(
                "persons_to_notify_next_each_time") or []
            targets = [(u, f"user:{emails[u]}" if u in emails else None) for u in ids]
            if kind == "notify_person_next_each_time":
                report.approximated("step", where, "one person each time (round robin): "
                                    "we page every person of the level")
        elif kind == "notify_on_call_from_schedule":
            sid = str(step.get("notify_on_call_from_schedule"))
            targets = [(sid, f"schedule:{schedules[sid]}" if sid in schedules else None)]
        else:
            report.not_mapped("step", where, f"{kind}: "
                              + NOT_STEPS.get(str(kind), "no such step here"))
            continue
        if step.get("important"):
            report.approximated("step", where, "important notification: the users' own "
                                "rules for critical alerts apply")
        for ref, target in targets:
            if target is None:
                why = ("not among the imported schedules (--schedule)" if filtered and
                       kind == "notify_on_call_from_schedule" else "not imported")
                report.not_mapped("target", where, f"{ref}: {why}")
            elif target not in notify:
                notify.append(target)
    if notify:
        levels.append({"notify": notify})
    if not levels:
        report.not_mapped("policy", label, "no step with a target we imported")
        return None
    name = _unique(slug(label), taken)
    out: dict[str, Any] = {"policy": name}
    if repeat:
        out["repeat"] = repeat
    out["levels"] = levels
    report.mapped("policy", label, f"policy {name}: {len(levels)} level(s), repeat {repeat}")
    return out


def final_entries(client: ApiClient, schedule_id: str, emails: dict[str, str],
                  since: datetime, until: datetime) -> list[tuple[datetime, datetime,
                                                                  str | None]]:
    """Grafana OnCall's own final schedule (``final_shifts``) over whole UTC days: from
    ``start_date`` 00:00 UTC to ``end_date`` 00:00 UTC (its view stops a second before
    ``end_date``), so ``end_date`` is the day after ``until`` unless that is midnight."""
    last = until.astimezone(UTC)
    end = last.date() if last.time() == last.time().min else last.date() + timedelta(days=1)
    rows = pages(client, f"/schedules/{schedule_id}/final_shifts", {
        "start_date": since.astimezone(UTC).date().isoformat(),
        "end_date": end.isoformat()})
    return [(datetime.fromisoformat(r["shift_start"].replace("Z", "+00:00")),
             datetime.fromisoformat(r["shift_end"].replace("Z", "+00:00")),
             r.get("user_email") or emails.get(str(r.get("user_pk")))) for r in rows]
