"""Opsgenie (REST API v2, ``GenieKey`` auth) -> config-as-code.

What maps to what (docs/migrating.md has the table for operators):

- users -> ``users:`` (username = email, full name, time zone, role, the first enabled SMS
  or voice contact as the phone);
- schedules -> one ``schedules/<name>.yaml`` each; every rotation becomes a layer in the
  same order: ``daily``/``weekly`` rotations of ``length`` days/weeks keep the local handoff
  time across DST, ``hourly`` ones are elapsed hours; the rotation's ``startDate`` is the
  handoff and the participant order, its ``endDate`` the layer's end, its time restriction
  (``time-of-day`` or ``weekday-and-time-of-day``) the layer's restrictions. A ``none``
  participant (a deliberately empty turn) or a team cannot be said in our layers (users
  only, no empty turn, and a turn cycle of N turns is not a weekly pattern restrictions
  could cut): its turn goes to the participant before it, reported as approximated, and
  ``--verify`` shows those turns;
- overrides (now on) -> ``overrides.json`` / ``overrides.sh`` (config files hold none);
- escalations -> ``policies:`` (rules with the same delay form a level, delays become the
  waits between levels, ``repeat`` -> ``repeat`` after ``waitInterval``); teams -> services
  with the team's escalation;
- integrations whose senders call Opsgenie's Alert API (API, Prometheus/Alertmanager,
  Grafana) -> ``integrations.sh`` lines for our ``opsgenie`` kind on the team's service (the
  sender only changes its API URL and key); the others are reported with the reason.

``--team NAME`` narrows all of it to those teams: their escalations, the schedules they own
and the schedules and users their escalations reach, the users those schedules (rotations,
overrides in force) name, the teams' members, and their integrations; whatever it leaves out
is reported.

Opsgenie puts the participants of ALL rotations in force on call at once where rotations
overlap (its on-call answer is a list); our layers give one person at a time (the later
layer). Overlaps are found in Opsgenie's own timeline for the next weeks and reported.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from oncall.importers.http import ApiClient, SourceError
from oncall.importers.pagerduty import (
    MAX_REPEAT,
    ORDER_CHECK,
    _iso,
    _local,
    _span,
    _unique,
    _zone,
    add_files,
    add_override,
    first_turn,
    in_force,
    integration_entry,
    layer_end,
    layer_shape,
    map_policies,
    map_schedules,
    named,
    parse_time,
    schedule_doc,
    slug,
)
from oncall.importers.report import Report
from oncall.rotations.spec import WEEKDAYS

__all__ = ["OpsgenieImport", "TeamScope", "fetch", "map_account", "og_client",
           "timeline_entries"]

SOURCE = "Opsgenie"
ROLES = {"owner": "admin", "admin": "admin", "user": "responder"}
DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
UNIT_MINUTES = {"days": 1440, "hours": 60, "minutes": 1}

Entry = tuple[datetime, datetime, str | None]


def og_client(url: str, token: str, **kw: Any) -> ApiClient:
    return ApiClient(url, {"Authorization": f"GenieKey {token}"}, name=SOURCE, **kw)


def pages(client: ApiClient, path: str, limit: int = 100) -> Iterator[dict[str, Any]]:
    """Every item of ``data`` over Opsgenie's ``offset``/``limit`` pages, following
    ``paging.next`` (its query gives the next offset) until a page has none."""
    query: dict[str, Any] = {"offset": 0, "limit": limit}
    while True:
        page = client.get(path, query)
        items = page.get("data")
        if not isinstance(items, list):
            raise SourceError(f"{SOURCE}: GET {path} has no 'data' list")
        yield from items
        after = (page.get("paging") or {}).get("next")
        if not after or not items:
            return
        query = {**query, **dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(after).query))}


@dataclass
class Account:
    """What was read from Opsgenie."""

    users: list[dict[str, Any]] = field(default_factory=list)
    contacts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    schedules: list[dict[str, Any]] = field(default_factory=list)
    overrides: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    timelines: dict[str, dict[str, Any]] = field(default_factory=dict)
    escalations: list[dict[str, Any]] = field(default_factory=list)
    teams: list[dict[str, Any]] = field(default_factory=list)
    integrations: list[dict[str, Any]] = field(default_factory=list)
    # (kind, name, why) of what --team left out, for the report
    left_out: list[tuple[str, str, str]] = field(default_factory=list)


def timeline(client: ApiClient, schedule_id: str, since: datetime, weeks: int
             ) -> dict[str, Any]:
    """Opsgenie's own final schedule for ``weeks`` weeks from ``since``."""
    got = client.get(f"/v2/schedules/{schedule_id}/timeline", {
        "date": _iso(since), "interval": weeks, "intervalUnit": "weeks"})
    return got.get("data") or {}


def fetch(client: ApiClient, now: datetime, schedule_names: tuple[str, ...] = (),
          team_names: tuple[str, ...] = ()) -> Account:
    """Read the account (GET only). With ``schedule_names``, only those schedules; with
    ``team_names``, only what belongs to those teams (:class:`TeamScope`). An unknown name
    is an error: a typo must not give a silently smaller import."""
    acc = Account()
    acc.teams = client.get("/v2/teams").get("data") or []
    chosen = named_teams(acc.teams, team_names)
    acc.users = list(pages(client, "/v2/users"))
    acc.schedules = named(client.get("/v2/schedules", {"expand": "rotation"}).get("data")
                          or [], schedule_names, SOURCE)
    acc.escalations = client.get("/v2/escalations").get("data") or []
    acc.integrations = client.get("/v2/integrations").get("data") or []
    scope = None
    if team_names:
        members = {t["id"]: (client.get(f"/v2/teams/{t['id']}").get("data") or {})
                   .get("members") or [] for t in chosen}
        scope = TeamScope.of(chosen, members, acc.escalations, acc.schedules)
        acc.left_out += scope.left_schedules(acc.schedules)
        acc.schedules = [s for s in acc.schedules if s["id"] in scope.schedules]
    for s in acc.schedules:
        acc.overrides[s["id"]] = client.get(f"/v2/schedules/{s['id']}/overrides").get(
            "data") or []
        acc.timelines[s["id"]] = timeline(client, s["id"], now, ORDER_CHECK.days // 7)
    if scope is not None:
        scope.add_override_users(acc.overrides, now)
        scope.narrow(acc)
    for u in acc.users:
        acc.contacts[u["id"]] = client.get(f"/v2/users/{u['id']}/contacts").get("data") or []
    return acc


def named_teams(teams: list[dict[str, Any]], names: tuple[str, ...]) -> list[dict[str, Any]]:
    """The teams called ``names`` (none without names); an unknown name is an error naming
    the known ones."""
    known = {t.get("name") for t in teams}
    missing = [n for n in names if n not in known]
    if missing:
        raise SourceError(f"{SOURCE} has no team named {', '.join(map(repr, missing))}"
                          f" (there are: {', '.join(sorted(map(str, known))) or 'none'})")
    return [t for t in teams if t.get("name") in names]


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
        left += [("integration", _integration_label(i), why) for i in acc.integrations
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


@dataclass
class OpsgenieImport:
    """The files to write, the report, and what ``--verify`` needs."""

    files: dict[str, str]
    report: Report
    schedule_ids: dict[str, str]  # our schedule name -> Opsgenie id
    emails: dict[str, str]  # Opsgenie user id -> email (= username)
    timezones: dict[str, str]  # our schedule name -> zone


def timeline_entries(data: dict[str, Any]) -> list[Entry]:
    """Opsgenie's ``finalTimeline`` as (start, end, who) without overlaps: where rotations
    overlap, Opsgenie has all their participants on call, written "a + b" (ours can never
    say that, so --verify shows each such stretch)."""
    pieces: list[tuple[datetime, datetime, str]] = []
    for rot in (data.get("finalTimeline") or {}).get("rotations") or []:
        for p in rot.get("periods") or []:
            r = p.get("recipient") or {}
            if r.get("type") == "none":
                continue
            who = str(r.get("name") or r.get("id")) if r.get("type") == "user" else \
                f"{r.get('type')} {r.get('name') or r.get('id')}"
            pieces.append((parse_time(p["startDate"]), parse_time(p["endDate"]), who))
    points = sorted({x for a, b, _ in pieces for x in (a, b)})
    out: list[Entry] = []
    for lo, hi in pairwise(points):
        names = sorted({w for a, b, w in pieces if a <= lo < b})
        if not names:
            continue
        who = " + ".join(names)
        if out and out[-1][1] == lo and out[-1][2] == who:
            out[-1] = (out[-1][0], hi, who)
        else:
            out.append((lo, hi, who))
    return out


def map_account(acc: Account, now: datetime, *, filtered: bool = False) -> OpsgenieImport:
    report = Report(SOURCE)
    emails: dict[str, str] = {}
    users_out = []
    for u in acc.users:
        users_out.append(_user(u, acc.contacts.get(u["id"], []), report))
        emails[u["id"]] = u["username"]

    def extra(s: dict[str, Any], name: str, doc: dict[str, Any],
              mine: list[dict[str, Any]]) -> None:
        for o in acc.overrides.get(s["id"], []):
            _override(o, s, name, emails, now, mine, report)
        _check_overlaps(s, acc.timelines.get(s["id"]) or {}, report)

    sched = map_schedules(acc.schedules, SOURCE,
                          lambda s, name: _schedule(s, name, emails, now, report), extra)
    policies_out, policy_names = map_policies(
        acc.escalations, lambda e, taken: _policy(e, sched.names, emails, taken, report,
                                                  filtered))
    services: dict[str, str] = {}  # Opsgenie team id -> our service
    services_out = []
    for t in acc.teams:
        if svc := _service(t, acc.escalations, policy_names, report):
            services[t["id"]] = svc["service"]
            services_out.append(svc)
    integrations_out = _integrations(acc.integrations, acc.teams, services, report)
    for kind, name, why in acc.left_out:
        report.not_mapped(kind, name, why)

    add_files(sched.files, report, users_out, policies_out, services_out, sched.overrides,
              SOURCE, integrations_out)
    return OpsgenieImport(sched.files, report, sched.ids, emails, sched.timezones)


# -- users -------------------------------------------------------------------------------

def _user(u: dict[str, Any], contacts: list[dict[str, Any]], report: Report) -> dict[str, Any]:
    label = u["username"]
    out: dict[str, Any] = {"user": label, "name": u.get("fullName") or label}
    notes: list[str] = []
    phones = sorted((c for c in contacts if c.get("method") in ("sms", "voice")
                     and (c.get("status") or {}).get("enabled", True)),
                    key=lambda c: int(c.get("applyOrder") or 0))
    numbers = list(dict.fromkeys("+" + re.sub(r"\D", "", str(c.get("to", ""))) for c in phones))
    if not numbers:
        report.not_mapped("contact", label, "no enabled SMS or voice contact: SMS and voice "
                          "pages cannot reach this user until a phone is added")
    elif re.fullmatch(r"\+[1-9][0-9]{6,14}", numbers[0]):
        out["phone"] = numbers[0]
        notes.append(f"phone {numbers[0]}")
        if numbers[1:]:
            report.not_mapped("contact", label, f"other phone numbers {numbers[1:]}: we keep "
                              "one phone per user")
    else:
        report.not_mapped("contact", label, f"phone {phones[0].get('to')!r} is not a valid "
                          "E.164 number")
    for c in contacts:
        if c.get("method") == "mobile":
            report.not_mapped("contact", label, "mobile app contact: no such channel here")
    out["timezone"] = _zone(u.get("timeZone") or "UTC", f"user {label}", report)
    role = str((u.get("role") or {}).get("name") or "user")
    out["role"] = ROLES.get(role.lower(), "responder")
    if role.lower() not in ROLES:
        report.approximated("user", label, f"custom role {role!r} -> responder")
    notes.append(f"role {role} -> {out['role']}")
    report.mapped("user", label, ", ".join(notes))
    report.not_mapped("notification rules", label, "not read: our defaults apply")
    return out


# -- schedules ---------------------------------------------------------------------------

def _schedule(s: dict[str, Any], name: str, emails: dict[str, str], now: datetime,
              report: Report) -> dict[str, Any] | None:
    doc = schedule_doc(s, name, s.get("timezone"), s.get("rotations") or [],
                       lambda raw, zone, label: _rotation(raw, zone, emails, now, label,
                                                          report), report, "rotation")
    if doc is not None and s.get("enabled") is False:
        report.approximated("schedule", s["name"], "disabled in Opsgenie; imported enabled")
    return doc


def _check_overlaps(s: dict[str, Any], data: dict[str, Any], report: Report) -> None:
    both = [e for e in timeline_entries(data) if e[2] and " + " in e[2]]
    if both:
        total = sum((b - a for a, b, _ in both), timedelta())
        report.approximated("rotation overlap", s["name"], f"rotations overlap for "
                            f"{_span(total)} in the next {ORDER_CHECK.days // 7} weeks (first "
                            f"{both[0][0]:%Y-%m-%d %H:%M} UTC: {both[0][2]}): Opsgenie has "
                            "all of them on call at once, ours only the later layer's member")


def _rotation(raw: dict[str, Any], zone: ZoneInfo, emails: dict[str, str], now: datetime,
              label: str, report: Report) -> dict[str, Any] | None:
    bounds = in_force(raw, "startDate", "endDate", now, "rotation", label, report)
    if bounds is None:
        return None
    start, end = bounds
    slots: list[str | None] = []  # None: not a user of ours for that turn
    for p in raw.get("participants") or []:
        kind = p.get("type")
        slots.append(emails.get(p.get("id")) if kind == "user" else None)
    if not any(slots):
        report.not_mapped("rotation", label, "no participant that is a user of the account")
        return None
    n = len(slots)
    members = list(slots)
    for i, p in enumerate(raw.get("participants") or []):
        if slots[i] is not None:
            continue
        # Our layers have no empty turn and hold users only: the turn goes to the user
        # before it, so the turns of everyone else stay where Opsgenie has them.
        cover = next(slots[(i - d) % n] for d in range(1, n + 1) if slots[(i - d) % n])
        members[i] = cover
        what = {"none": "'none' (a deliberately empty turn)",
                "team": f"team {p.get('name') or p.get('id')} (Opsgenie gives the turn to "
                        "the team)"}.get(str(p.get("type")),
                                         f"{p.get('type')} {p.get('username') or p.get('id')}"
                                         " (not a user of the account)")
        report.approximated("participant", label, f"participant {i + 1}, {what}: our "
                            f"layers hold users and have no empty turn; that turn goes to "
                            f"{cover} (the participant before it), so every other turn "
                            "stays as in Opsgenie; change it by hand if that is wrong")
    length = int(raw.get("length") or 1)
    kind = raw.get("type")
    days = {"daily": length, "weekly": 7 * length}.get(str(kind), 0)
    if kind not in ("daily", "weekly", "hourly") or length < 1:
        report.not_mapped("rotation", label, f"rotation type {kind!r} of length {length}")
        return None
    slocal = start.astimezone(zone)

    def turn(k: int) -> datetime:
        if days:
            return _local(slocal.date() + timedelta(days=k * days), slocal.time(), zone)
        return start + timedelta(hours=k * length)

    step = timedelta(days=days) if days else timedelta(hours=length)
    k = max(0, (now - start) // step - 2)  # the turn in force now (or the first one)
    while turn(k + 1) <= now:
        k += 1
    restrictions = _restrictions(raw.get("timeRestriction"), label, report)
    first = first_turn(turn, k, days, zone, now, "rotation", label, report)
    alocal = turn(first).astimezone(zone)
    out, shape = layer_shape(days, length, alocal)
    if end is not None and not layer_end(out, end, zone, alocal, "rotation", label, report):
        return None
    out["members"] = [str(members[(first + i) % n]) for i in range(n)]
    if restrictions:
        out["restrictions"] = restrictions
    what = f"{kind} x{length}: {shape}, {n} participant(s)"
    if restrictions:
        what += f", {len(restrictions)} restriction(s)"
    report.mapped("rotation", label, what)
    return out


def _restrictions(tr: dict[str, Any] | None, label: str, report: Report
                  ) -> list[dict[str, str]]:
    if not tr:
        return []
    if tr.get("type") == "time-of-day":
        r = tr.get("restriction") or {}
        a = f"{int(r['startHour']):02d}:{int(r['startMin']):02d}"
        b = f"{int(r['endHour']):02d}:{int(r['endMin']):02d}"
        return [] if a == b else [{"from": a, "to": b}]
    out = []
    for r in tr.get("restrictions") or []:
        a = (f"{WEEKDAYS[DAYS.index(r['startDay'])]} "
             f"{int(r['startHour']):02d}:{int(r['startMin']):02d}")
        b = f"{WEEKDAYS[DAYS.index(r['endDay'])]} {int(r['endHour']):02d}:{int(r['endMin']):02d}"
        if a == b:
            report.approximated("restriction", label, f"{a} to {b} (the whole week): imported "
                                "as no restriction")
            return []
        out.append({"from": a, "to": b})
    return out


def _override(o: dict[str, Any], s: dict[str, Any], name: str, emails: dict[str, str],
              now: datetime, out: list[dict[str, Any]], report: Report) -> None:
    start, end = parse_time(o["startDate"]), parse_time(o["endDate"])
    label = f"{s['name']} {start:%Y-%m-%d %H:%M}-{end:%Y-%m-%d %H:%M} UTC"
    if end <= now:
        return
    u = o.get("user") or {}
    user = emails.get(str(u.get("id"))) or next(
        (e for e in emails.values() if e == u.get("username")), None)
    if user is None:
        report.not_mapped("override", label, f"its {u.get('type')} is not a user of the "
                          "account")
        return
    rotations = o.get("rotations") or []
    if rotations and len(rotations) < len(s.get("rotations") or []):
        report.approximated("override", label, "applies to rotation(s) "
                            f"{', '.join(str(r.get('name')) for r in rotations)} only in "
                            "Opsgenie; ours overrides the whole schedule")
    add_override(out, report, label, name, user, start, end, f"Opsgenie ({o.get('alias')})")


# -- escalations and teams ---------------------------------------------------------------

def _minutes(d: dict[str, Any] | None) -> float:
    d = d or {}
    unit = d.get("timeUnit", "minutes")
    if unit in UNIT_MINUTES:
        return int(d.get("timeAmount") or 0) * UNIT_MINUTES[unit]
    return int(d.get("timeAmount") or 0) / {"seconds": 60}.get(unit, 60_000)


def _policy(e: dict[str, Any], schedules: dict[str, str], emails: dict[str, str],
            taken: set[str], report: Report, filtered: bool) -> dict[str, Any] | None:
    label = e.get("name") or e["id"]
    name = _unique(slug(label), taken)
    levels: dict[float, list[str]] = {}
    for i, rule in enumerate(e.get("rules") or [], 1):
        r, notify = rule.get("recipient") or {}, rule.get("notifyType", "default")
        where = f"{label} rule {i}"
        delay = _minutes(rule.get("delay"))
        if delay != int(delay):
            report.not_mapped("rule", where, f"delay of {delay * 60:g} s is not whole "
                              "minutes; recreate it by hand")
            continue
        target = None
        if r.get("type") == "user" and r.get("id") in emails and notify == "default":
            target = f"user:{emails[r['id']]}"
        elif r.get("type") == "schedule" and r.get("id") in schedules and notify == "default":
            target = f"schedule:{schedules[r['id']]}"
        elif r.get("type") == "schedule" and notify in ("next", "previous"):
            report.not_mapped("rule", where, f"pages the {notify} on-call of schedule "
                              f"{r.get('name')}: no such target here")
        elif r.get("type") == "schedule" and filtered:
            report.not_mapped("rule", where, f"schedule {r.get('name')}: not among the "
                              "imported schedules (--schedule)")
        else:
            report.not_mapped("rule", where, f"{r.get('type')} {r.get('name') or r.get('id')}"
                              f" ({notify}): no such target here (our targets are users and "
                              "schedules)")
        if target is None:
            continue
        if rule.get("condition") == "if-not-closed":
            report.approximated("rule", where, "escalates if not closed; ours stops "
                                "escalating at the first acknowledgement")
        levels.setdefault(delay, []).append(target)
    if not levels:
        report.not_mapped("policy", label, "no escalation rule with a target we imported")
        return None
    delays = sorted(levels)
    if delays[0]:
        report.approximated("policy", label, f"its first rule waits {delays[0]:g} min after "
                            "the alert; ours pages the first level at once")
    repeat = e.get("repeat") or {}
    count = int(repeat.get("count") or 0)
    wait = int(repeat.get("waitInterval") or 0)
    out: dict[str, Any] = {"policy": name}
    if count:
        out["repeat"] = min(count, MAX_REPEAT)
        if count > MAX_REPEAT:
            report.approximated("policy", label, f"repeats {count} times; ours at most "
                                f"{MAX_REPEAT}: imported as {MAX_REPEAT}")
    out["levels"] = []
    for i, d in enumerate(delays):
        level: dict[str, Any] = {"notify": levels[d]}
        after = delays[i + 1] - d if i + 1 < len(delays) else (wait if count else 0)
        if after:
            level["escalate_after"] = f"{after:g}m"
        elif count:
            report.approximated("policy", label, "repeats with no wait; ours waits the "
                                "default 5 min before repeating")
        out["levels"].append(level)
    report.mapped("policy", label, f"policy {name}: {len(delays)} level(s) (rules with the "
                  f"same delay share one), repeat {count}")
    return out


def _service(t: dict[str, Any], escalations: list[dict[str, Any]],
             policy_names: dict[str, str], report: Report) -> dict[str, Any] | None:
    label = t.get("name") or t["id"]
    owned = [e for e in escalations if (e.get("ownerTeam") or {}).get("id") == t["id"]
             and e["id"] in policy_names]
    if not owned:
        report.not_mapped("team", label, "no imported escalation owned by the team: a "
                          "service needs a policy")
        return None
    out: dict[str, Any] = {"service": slug(label)}
    if t.get("description"):
        out["description"] = str(t["description"])
    out["policy"] = policy_names[owned[0]["id"]]
    if len(owned) > 1:
        report.approximated("team", label, f"owns {len(owned)} escalations; the service "
                            f"uses the first ({out['policy']}); route to the others by hand")
    report.mapped("team", label, f"service {out['service']}, policy {out['policy']}")
    return out


# -- integrations ------------------------------------------------------------------------

# Integration types whose senders call Opsgenie's Alert API (POST /v2/alerts with a
# GenieKey): Opsgenie's own API integration, Alertmanager's opsgenie_configs (Opsgenie's
# "Prometheus" integration) and Grafana's Opsgenie contact point. Ours serves that API
# (kind opsgenie), so the sender only changes its API URL and key.
ALERT_API = {"API", "Prometheus", "Grafana"}
TICKETING = {"Jira", "JiraServiceDesk", "ServiceNow", "ServiceNowV2", "ServiceNowV3",
             "Zendesk", "Freshdesk", "Freshservice", "BMCRemedy", "BMCRemedyForce",
             "BMCRemedyOnDemand", "BMCFootPrintsV11", "BMCFootPrintsV12", "Cherwell",
             "ConnectWise", "ConnectWiseManage", "ConnectWiseManageV2", "ConnectWiseAutomate",
             "Kayako", "Desk", "SalesForceServiceCloud", "HPServiceManager", "Planio",
             "SolarWindsWebHelpDesk", "TrackIt", "Magentrix"}
CHAT = {"Slack", "SlackApp", "MSTeams", "MSTeamsV2", "HipChat", "HipChatAddOn", "HipChatV2",
        "Mattermost", "Flock", "Flowdock", "FlowdockV2", "Campfire", "RingCentralGlip",
        "Moxtra", "Xmpp", "Kore"}
OUTGOING = {"Webhook", "AmazonSnsOutgoing"}


def _integration_label(i: dict[str, Any]) -> str:
    return f"{i.get('name') or i.get('id')} ({i.get('type')})"


def _unmapped_why(kind: str) -> str:
    """Why an integration of this Opsgenie type has no equivalent here."""
    if kind == "Email" or kind.endswith("Email"):
        return ("email intake (alerts sent to an Opsgenie address): we read no email; have "
                "the sender post to an integration instead (docs/alerting.md)")
    if kind == "Heartbeat":
        return ("a heartbeat: define ours in rules (`heartbeats:`, docs/heartbeats.md); the "
                "job pings its new URL")
    if kind in TICKETING:
        return "a ticketing integration (two-way sync with tickets): no such thing here"
    if kind in CHAT:
        return ("a chat integration: ours is Slack (docs/slack.md), set up on our side; "
                "other chat tools are not served")
    if kind in OUTGOING:
        return "an outgoing integration (Opsgenie sends to it): no outgoing webhooks here"
    return (f"its sender posts {kind}'s own format to Opsgenie's endpoint for it, not the "
            "Alert API; ours takes generic JSON, Alertmanager, Grafana, PagerDuty Events v2 "
            "and Opsgenie Alert API requests: point the tool at one of those by hand "
            "(docs/alerting.md)")


def _integrations(items: list[dict[str, Any]], teams: list[dict[str, Any]],
                  services: dict[str, str], report: Report) -> list[dict[str, str]]:
    """The integrations to create (``integrations.sh``): each Alert API sender of an
    imported team's service becomes an ``opsgenie`` integration of that service."""
    team_names = {t["id"]: str(t.get("name") or t["id"]) for t in teams}
    taken: set[str] = set()
    out = []
    for i in items:
        label, kind = _integration_label(i), str(i.get("type"))
        team = i.get("teamId")
        if kind not in ALERT_API:
            report.not_mapped("integration", label, _unmapped_why(kind))
        elif i.get("enabled") is False:
            report.not_mapped("integration", label, "disabled in Opsgenie: not created (add "
                              "it with `oncall integration add SERVICE --kind opsgenie` if "
                              "it is still wanted)")
        elif not team:
            report.not_mapped("integration", label, "belongs to no team, so to no service "
                              "here (Opsgenie routes its alerts by the request's responders "
                              "or alert policies): add it with `oncall integration add "
                              "SERVICE --kind opsgenie` for the service that should get them")
        elif team not in services:
            report.not_mapped("integration", label, f"its team {team_names.get(team, team)} "
                              "has no service here (see that team's entry)")
        else:
            entry = integration_entry(services[team], "opsgenie",
                                      f"Opsgenie integration {label}", taken)
            out.append(entry)
            report.mapped("integration", label, f"-> kind opsgenie on service "
                          f"{entry['service']} ({entry['name']}), in integrations.sh; the "
                          "sender changes its API URL and key to ours")
    return out
