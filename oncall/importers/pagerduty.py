"""PagerDuty (REST API v2) -> config-as-code.

What maps to what (docs/migrating.md has the table for operators):

- users -> ``users:`` (email, name, time zone, role, the first phone or SMS contact method);
- schedules -> one ``schedules/<name>.yaml`` each; every layer becomes a layer in the same
  order (later layers win in both), its turn length a rotation (whole days: ``daily``,
  ``weekly``, ``{days: N}``, ``{weeks: N}``, kept at the local handoff time across DST; whole
  hours: ``{hours: N}``, real elapsed hours), its ``rotation_virtual_start`` the handoff
  and the member order, its start, end and restrictions;
- overrides (now on) -> ``overrides.json``, the API requests to make them: config files do not
  hold overrides (docs/config-as-code.md);
- escalation policies -> ``policies:`` (rules -> levels, delays, user and schedule targets,
  ``num_loops`` -> ``repeat``); services -> ``services:`` with their policy;
- services' integrations -> ``integrations.sh``/``.json`` where one of our kinds takes what
  the sender sends (Events API v2 -> ``pagerduty``), reported otherwise;
- ``--team``: only what those teams' services need (:class:`TeamScope`).

Anything that cannot be said exactly goes into the report, never silently.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from oncall.importers.http import ApiClient, SourceError
from oncall.importers.report import Report
from oncall.rotations.spec import WEEKDAYS

__all__ = ["PagerDutyImport", "fetch", "map_account", "pd_client"]

DAY = 86400
ROLES = {"owner": "admin", "admin": "admin", "user": "responder", "limited_user": "responder",
         "observer": "viewer", "read_only_user": "viewer", "read_only_limited_user": "viewer",
         "restricted_access": "viewer"}
ORDER_CHECK = timedelta(weeks=4)  # how far PagerDuty's final schedule decides layer order
MAX_REPEAT = 20  # the config schema's limit for ``repeat``
_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


def pd_client(url: str, token: str, **kw: Any) -> ApiClient:
    return ApiClient(url, {"Authorization": f"Token token={token}",
                           "Accept": "application/vnd.pagerduty+json;version=2"},
                     name="PagerDuty", **kw)


@dataclass
class Account:
    """What was read from PagerDuty."""

    users: list[dict[str, Any]] = field(default_factory=list)
    contacts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    notification_rules: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    schedules: list[dict[str, Any]] = field(default_factory=list)
    overrides: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    policies: list[dict[str, Any]] = field(default_factory=list)
    services: list[dict[str, Any]] = field(default_factory=list)
    # What a filter left out: (kind, name, why), for the report.
    left_out: list[tuple[str, str, str]] = field(default_factory=list)


def fetch(client: ApiClient, now: datetime, horizon: timedelta,
          schedule_names: tuple[str, ...] = (), team_names: tuple[str, ...] = ()) -> Account:
    """Read the account (GET only). With ``schedule_names``, only those schedules (an unknown
    name is an error: a typo must not give a silently smaller import); with ``team_names``,
    only what belongs to those teams (:class:`TeamScope`), the rest listed in ``left_out``.
    Details (layers, overrides, contact methods) are read for what is imported only."""
    acc = Account()
    teams = team_scope(client, team_names) if team_names else None
    users = list(client.paginate("/users", "users"))
    listed = named(list(client.paginate("/schedules", "schedules")), schedule_names,
                   "PagerDuty")
    acc.policies = list(client.paginate("/escalation_policies", "escalation_policies"))
    acc.services = list(client.paginate("/services", "services"))
    if teams is not None:
        acc.services, acc.policies, listed = teams.select(acc.services, acc.policies, listed,
                                                          acc.left_out)
    since, until = _iso(now), _iso(now + horizon)
    for s in listed:
        # In its own zone: PagerDuty gives restrictions' times of day in the zone asked for
        # (in UTC, a 09:00 New York restriction would read 14:00 all year round). With its
        # final schedule for the next weeks, to check the order of its layers.
        full = client.get(f"/schedules/{s['id']}", {
            "time_zone": s.get("time_zone") or "UTC", "since": since,
            "until": _iso(now + ORDER_CHECK)})["schedule"]
        acc.schedules.append(full)
        acc.overrides[s["id"]] = client.get(f"/schedules/{s['id']}/overrides",
                                            {"since": since, "until": until}).get(
                                                "overrides", [])
    acc.users = users if teams is None else teams.select_users(users, acc, acc.left_out)
    for u in acc.users:
        acc.contacts[u["id"]] = client.get(f"/users/{u['id']}/contact_methods").get(
            "contact_methods", [])
        acc.notification_rules[u["id"]] = client.get(
            f"/users/{u['id']}/notification_rules").get("notification_rules", [])
    return acc


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
    teams = list(client.paginate("/teams", "teams"))
    known = {str(t.get("name")): str(t["id"]) for t in teams}
    missing = [n for n in names if n not in known]
    if missing:
        raise SourceError(f"PagerDuty has no team named {', '.join(map(repr, missing))} "
                          f"(there are: {', '.join(sorted(known)) or 'none'})")
    ids = {known[n] for n in names}
    members = {str(m["user"]["id"]) for i in sorted(ids)
               for m in client.paginate(f"/teams/{i}/members", "members")}
    return TeamScope(ids, list(dict.fromkeys(names)), members)


def named(listed: list[dict[str, Any]], names: tuple[str, ...], source: str
          ) -> list[dict[str, Any]]:
    """The schedules called ``names`` (all without names); an unknown name is an error."""
    if not names:
        return listed
    known = {s.get("name") for s in listed}
    missing = [n for n in names if n not in known]
    if missing:
        raise SourceError(f"{source} has no schedule named {', '.join(map(repr, missing))}"
                          f" (there are: {', '.join(sorted(map(str, known))) or 'none'})")
    return [s for s in listed if s.get("name") in names]


@dataclass
class PagerDutyImport:
    """The files to write (relative path -> text), the report, and what ``--verify``
    needs: each imported schedule's PagerDuty id and our name, and user ids -> emails."""

    files: dict[str, str]
    report: Report
    schedule_ids: dict[str, str]  # our schedule name -> PagerDuty id
    emails: dict[str, str]  # PagerDuty user id -> email
    timezones: dict[str, str]  # our schedule name -> zone


def slug(name: str) -> str:
    """A PagerDuty name as one of ours (letters, digits, ``_.-``)."""
    out = _NAME.sub("-", name.strip().lower()).strip("-._")
    return out[:200] or "unnamed"


def map_account(acc: Account, now: datetime, *, filtered: bool = False) -> PagerDutyImport:
    report = Report("PagerDuty")
    for kind, name, why in acc.left_out:
        report.not_mapped(kind, name, why)
    emails: dict[str, str] = {}
    users_out: list[dict[str, Any]] = []
    for u in acc.users:
        users_out.append(_user(u, acc.contacts.get(u["id"], []),
                               acc.notification_rules.get(u["id"]), report))
        emails[u["id"]] = u["email"]

    def extra(s: dict[str, Any], name: str, doc: dict[str, Any],
              mine: list[dict[str, Any]]) -> None:
        for o in acc.overrides.get(s["id"], []):
            _override(o, s, name, emails, now, mine, report)
        _check_layer_order(s, doc, mine, emails, now, report)

    sched = map_schedules(acc.schedules, "PagerDuty",
                          lambda s, name: _schedule(s, name, emails, now, report), extra)
    files, schedule_ids, names = sched.files, sched.ids, sched.names
    timezones, overrides_out = sched.timezones, sched.overrides
    policies_out, policy_names = map_policies(
        acc.policies, lambda p, taken: _policy(p, names, emails, taken, report, filtered))

    services_out: list[dict[str, Any]] = []
    integrations_out: list[dict[str, str]] = []
    used: set[str] = set()
    for svc in acc.services:
        label = svc.get("name") or svc["id"]
        policy_ref = (svc.get("escalation_policy") or {}).get("id")
        if policy_ref not in policy_names:
            report.not_mapped("service", label, "its escalation policy was not imported "
                              "(see that policy's entry)")
            continue
        sname = _unique(slug(label), used)
        used.add(sname)
        out: dict[str, Any] = {"service": sname}
        if svc.get("description"):
            out["description"] = str(svc["description"])
        out["policy"] = policy_names[policy_ref]
        services_out.append(out)
        report.mapped("service", label, f"service {sname}, policy {out['policy']}")
        for i in svc.get("integrations") or []:
            _integration(i, label, sname, integrations_out, report)
        if svc.get("status") == "disabled":
            report.approximated("service", label, "disabled in PagerDuty; imported enabled")

    add_files(files, report, users_out, policies_out, services_out, overrides_out,
              integrations=integrations_out)
    return PagerDutyImport(files, report, schedule_ids, emails, timezones)


# PagerDuty's integration types (a reference's type without ``_reference``; a full object,
# with ``include[]=integrations``, has the same type) -> the kind of ours whose payload the
# sender already sends.
INTEGRATION_KINDS = {"events_api_v2_inbound_integration": "pagerduty"}
_OWN_ENDPOINT = ("PagerDuty's own {} endpoint, which takes that tool's payload: we have no "
                 "such intake; make the tool send PagerDuty Events API v2 (then `oncall "
                 "integration add SERVICE --kind pagerduty`) or a webhook (`--kind generic`)")
# ... and the ones with no equivalent here, with why.
NO_INTEGRATION = {
    "generic_events_api_inbound_integration": "PagerDuty Events API v1: our /v2/enqueue "
    "speaks Events API v2 only; switch the sender to Events API v2, then `oncall "
    "integration add SERVICE --kind pagerduty`",
    "generic_email_inbound_integration": "email intake: we take no alerts by email; send "
    "them from the monitoring tool as a webhook (`oncall integration add SERVICE --kind "
    "generic`) or Events API v2 (`--kind pagerduty`)",
    "event_transformer_api_inbound_integration": "a custom event transformer (code PagerDuty "
    "runs on each event): no equivalent here; send Events API v2 or a webhook instead",
    "inbound_integration": "PagerDuty does not say which API this integration's sender "
    "uses: if it sends Events API v2, `oncall integration add SERVICE --kind pagerduty`",
    **{f"{k}_inbound_integration": _OWN_ENDPOINT.format(v) for k, v in (
        ("aws_cloudwatch", "Amazon CloudWatch"), ("cloudkick", "Cloudkick"),
        ("keynote", "Keynote"), ("nagios", "Nagios"), ("pingdom", "Pingdom"),
        ("sql_monitor", "SQL Monitor"))},
}


def _integration(i: dict[str, Any], service_label: str, service: str,
                 out: list[dict[str, str]], report: Report) -> None:
    """One of a service's integrations: to ``out`` (for integrations.sh) when one of our
    kinds takes what its sender sends, otherwise reported with why."""
    kind_of = str(i.get("type", "")).removesuffix("_reference")
    vendor = (i.get("vendor") or {}).get("summary")
    name = i.get("summary") or i.get("name") or i["id"]
    label = f"{service_label} / {name}"
    kind = INTEGRATION_KINDS.get(kind_of)
    if kind is None:
        why = NO_INTEGRATION.get(kind_of, f"type {kind_of!r}: not one we know")
        report.not_mapped("integration", label, why)
        return
    source = (f"PagerDuty integration {name!r} ({i['id']}, {kind_of}"
              + (f", vendor {vendor}" if vendor else "") + f") of service {service_label!r}")
    entry = integration_entry(service, kind, source, {x["name"] for x in out})
    out.append(entry)
    report.mapped("integration", label, f"-> kind {kind} ({entry['name']}), in "
                  "integrations.sh; the sender changes its URL to our /v2/enqueue and its "
                  "routing key to the new integration's key")


@dataclass
class Schedules:
    """The imported schedules: their files, our name -> the source's id and the reverse,
    our name -> zone, and their overrides."""

    files: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    timezones: dict[str, str] = field(default_factory=dict)
    overrides: list[dict[str, Any]] = field(default_factory=list)


def map_schedules(schedules: list[dict[str, Any]], source: str,
                  make: Callable[[dict[str, Any], str], dict[str, Any] | None],
                  extra: Callable[[dict[str, Any], str, dict[str, Any], list[dict[str, Any]]],
                                  None]) -> Schedules:
    """Each schedule through ``make`` (the source schedule, our name -> its document or
    None), then ``extra`` (the schedule, name, document, a list for its overrides)."""
    out = Schedules()
    for s in schedules:
        name = _unique(slug(s["name"]), set(out.ids))
        doc = make(s, name)
        if doc is None:
            continue
        out.names[s["id"]] = name
        out.ids[name] = s["id"]
        out.timezones[name] = doc["timezone"]
        mine: list[dict[str, Any]] = []
        extra(s, name, doc, mine)
        out.overrides += mine
        out.files[f"schedules/{name}.yaml"] = _yaml(
            doc, f"{source} schedule {s['name']!r} ({s['id']})", source.lower())
    return out


def map_policies(items: list[dict[str, Any]],
                 make: Callable[[dict[str, Any], set[str]], dict[str, Any] | None]
                 ) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Each policy through ``make`` (the source policy, our names taken -> ours or None):
    ours, and the source's id -> our name."""
    out: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for p in items:
        mapped = make(p, set(names.values()))
        if mapped is not None:
            names[p["id"]] = mapped["policy"]
            out.append(mapped)
    return out, names


def add_files(files: dict[str, str], report: Report, users: list[dict[str, Any]],
              policies: list[dict[str, Any]], services: list[dict[str, Any]],
              overrides: list[dict[str, Any]], source: str = "PagerDuty",
              integrations: list[dict[str, str]] | None = None) -> None:
    """``rules/<source>.yaml`` (users, policies, services), the overrides, the integrations
    to create (dicts of service, kind, name and ``source``: the source's integration) and
    the report."""
    main: dict[str, Any] = {"users": users}
    if policies:
        main["policies"] = policies
    if services:
        main["services"] = services
    files[f"rules/{source.lower()}.yaml"] = _yaml(main, "Users, escalation policies and "
                                                  f"services imported from {source}",
                                                  source.lower())
    files["overrides.json"] = json.dumps(overrides, indent=2) + "\n"
    files["overrides.sh"] = _overrides_script(overrides, source.lower())
    files["integrations.json"] = json.dumps(integrations or [], indent=2) + "\n"
    files["integrations.sh"] = _integrations_script(integrations or [], source.lower())
    files["REPORT.txt"] = report.text()


def _integrations_script(integrations: list[dict[str, str]], command: str) -> str:
    """The integrations as `oncall integration add` commands: config files hold no
    integrations (each has a secret URL or key, shown once when it is created)."""
    lines = ["#!/bin/sh", f"# The services' integrations, imported by `oncall import {command}`.",
             "# Run once on the server, after `oncall apply` (like `oncall apply`, it uses the",
             "# service's database). Each command prints the new URL or key ONCE: keep the",
             "# output somewhere safe and give each sender its new one (docs/migrating.md).",
             "set -e"]
    for i in integrations:
        # One line whatever the source's names hold (a newline would start a command).
        lines.append(f"# {' '.join(i['source'].split())}")
        lines.append(" ".join(shlex.quote(x) for x in (
            "oncall", "integration", "add", i["service"], "--kind", i["kind"],
            "--name", i["name"])))
    return "\n".join(lines) + "\n"


def integration_entry(service: str, kind: str, label: str, taken: set[str]) -> dict[str, str]:
    """One integration to create for ``service`` (its name unique among ``taken``)."""
    name = _unique(slug(f"{service}-{kind}"), taken)
    taken.add(name)
    return {"service": service, "kind": kind, "name": name, "source": label}


def _overrides_script(overrides: list[dict[str, Any]], command: str = "pagerduty") -> str:
    """The overrides as `oncall override` commands, to run once after `oncall apply` (as a
    manager, after `oncall login`): config files do not hold overrides."""
    lines = ["#!/bin/sh", f"# The overrides from now on, imported by `oncall import "
             f"{command}`.", "# Run once, after `oncall apply` and `oncall login` (as a "
             "manager).", "set -e"]
    for o in overrides:
        lines.append(" ".join(shlex.quote(x) for x in (
            "oncall", "override", o["schedule"], "--user", o["user"], "--from", o["start"],
            "--until", o["end"], "--note", o["note"])))
    return "\n".join(lines) + "\n"


def _yaml(doc: dict[str, Any], title: str, command: str = "pagerduty") -> str:
    return (f"# {title}. Written by `oncall import {command}`: review it, then\n"
            f"# `oncall apply --dry-run` and `oncall apply`. See REPORT.txt.\n"
            + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100))


def _unique(name: str, taken: set[str]) -> str:
    out, n = name, 2
    while out in taken:
        out = f"{name}-{n}"
        n += 1
    return out


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: str) -> datetime:
    at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if at.tzinfo is None:
        raise SourceError(f"PagerDuty sent a time without an offset: {value!r}")
    return at.astimezone(UTC)


def _zone(name: str | None, what: str, report: Report) -> str:
    try:
        ZoneInfo(str(name))
        return str(name)
    except (ZoneInfoNotFoundError, ValueError):
        report.approximated(what.split(" ", 1)[0], what.split(" ", 1)[1],
                            f"time zone {name!r} is not an IANA zone name; UTC used")
        return "UTC"


# -- users -------------------------------------------------------------------------------

def _user(u: dict[str, Any], contacts: list[dict[str, Any]],
          rules: list[dict[str, Any]] | None, report: Report) -> dict[str, Any]:
    label = u["email"]
    out: dict[str, Any] = {"user": u["email"], "name": u.get("name") or u["email"]}
    phones = [c for c in contacts if c.get("type") in ("phone_contact_method",
                                                        "sms_contact_method")]
    notes: list[str] = []
    if phones:
        c = phones[0]
        number = "+" + str(c.get("country_code", "")) + re.sub(r"\D", "", c.get("address", ""))
        if re.fullmatch(r"\+[1-9][0-9]{6,14}", number):
            out["phone"] = number
            notes.append(f"phone {number} ({c.get('label') or c['type']})")
            others = {("+" + str(x.get("country_code", "")) + re.sub(r"\D", "", x["address"]))
                      for x in phones[1:]} - {number}
            if others:
                report.not_mapped("contact", label, f"other phone numbers {sorted(others)}: "
                                  "we keep one phone per user")
        else:
            report.not_mapped("contact", label, f"phone {c.get('address')!r} is not a valid "
                              "E.164 number")
    else:
        report.not_mapped("contact", label, "no phone or SMS contact method: SMS and voice "
                          "pages cannot reach this user until a phone is added")
    for c in contacts:
        if c.get("type") in ("push_notification_contact_method", "whatsapp_contact_method"):
            report.not_mapped("contact", label, f"{c['type'].replace('_contact_method', '')} "
                              f"contact {c.get('label')!r}: no such channel here")
    out["timezone"] = _zone(u.get("time_zone") or "UTC", f"user {label}", report)
    role = ROLES.get(u.get("role", "user"), "responder")
    out["role"] = role
    notes.append(f"role {u.get('role', 'user')} -> {role}")
    report.mapped("user", label, ", ".join(notes))
    if rules is None:
        report.not_mapped("notification rules", label, "not read: our defaults apply")
    else:
        mapped = _notification_rules(rules, label, out.get("phone"), phones, report)
        if mapped:
            out["notification_rules"] = mapped
    return out


# PagerDuty's two urgencies -> our severities.
URGENCIES = {"high": ("critical", "error"), "low": ("warning", "info")}
CHANNELS = {"phone_contact_method": "voice", "sms_contact_method": "sms",
            "email_contact_method": "email"}


def _notification_rules(rules: list[dict[str, Any]], label: str, phone: str | None,
                        phones: list[dict[str, Any]], report: Report
                        ) -> dict[str, list[dict[str, Any]]]:
    """High-urgency rules -> critical and error, low-urgency -> warning and info: each
    contact method's channel (phone: a voice call, SMS, email) after its delay."""
    kept_phone = phones[0]["id"] if phones and phone else None
    out: dict[str, list[dict[str, Any]]] = {}
    for urgency, severities in URGENCIES.items():
        steps: list[dict[str, Any]] = []
        seen: set[str] = set()
        for r in sorted((r for r in rules if r.get("urgency") == urgency),
                        key=lambda r: int(r.get("start_delay_in_minutes") or 0)):
            cm = r.get("contact_method") or {}
            kind = str(cm.get("type", "")).removesuffix("_reference")
            delay = int(r.get("start_delay_in_minutes") or 0)
            what = f"{urgency} urgency, {kind.replace('_contact_method', '')} after {delay} min"
            channel = CHANNELS.get(kind)
            if channel is None:
                report.not_mapped("notification rule", label, f"{what}: no such channel here")
                continue
            if channel in seen:
                report.approximated("notification rule", label, f"{what}: a second {channel} "
                                    "step; ours pages each channel once per severity, the "
                                    "earlier step is kept")
                continue
            if channel in ("sms", "voice") and kept_phone and cm.get("id") != kept_phone:
                report.approximated("notification rule", label, f"{what}: sent to the "
                                    f"user's one phone {phone}")
            seen.add(channel)
            step: dict[str, Any] = {"channel": channel}
            if delay:
                step["after"] = f"{delay}m"
            steps.append(step)
        if steps:
            for severity in severities:
                out[severity] = [dict(x) for x in steps]
            report.mapped("notification rules", label,
                          f"{urgency} urgency -> {' and '.join(severities)}: "
                          + ", ".join(x["channel"] + (f" after {x['after']}" if "after" in x
                                                      else "") for x in steps))
        else:
            report.approximated("notification rules", label,
                                f"no {urgency}-urgency rule in PagerDuty: our defaults apply "
                                f"to {' and '.join(severities)}")
    return out


# -- schedules ---------------------------------------------------------------------------

def _schedule(s: dict[str, Any], name: str, emails: dict[str, str], now: datetime,
              report: Report) -> dict[str, Any] | None:
    return schedule_doc(s, name, s.get("time_zone"), s.get("schedule_layers") or [],
                        lambda raw, zone, label: _layer(raw, zone, emails, now, label, report),
                        report)


def schedule_doc(s: dict[str, Any], name: str, tz_name: str | None, raws: list[dict[str, Any]],
                 make: Callable[[dict[str, Any], ZoneInfo, str], dict[str, Any] | None],
                 report: Report, what: str = "layer") -> dict[str, Any] | None:
    """A schedule's document: ``make`` maps each of ``raws`` (the source's layers) to one
    of ours or None (having said why in the report)."""
    tz = _zone(tz_name, f"schedule {s['name']}", report)
    zone = ZoneInfo(tz)
    layers: list[dict[str, Any]] = []
    taken: set[str] = set()
    for raw in raws:
        label = f"{s['name']} / {raw.get('name') or raw.get('id')}"
        layer = make(raw, zone, label)
        if layer is not None:
            layer["name"] = _unique(str(raw.get("name") or what), taken)
            taken.add(layer["name"])
            layers.append(layer)
    if not layers:
        report.not_mapped("schedule", s["name"], f"no {what} left that is in force now or "
                          f"later (see the {what}s' entries)")
        return None
    report.mapped("schedule", s["name"], f"schedule {name}: {len(layers)} layer(s), {tz}")
    return {"schedule": name, "timezone": tz, "layers": layers}


def _final(s: dict[str, Any], emails: dict[str, str]
           ) -> list[tuple[datetime, datetime, str | None]] | None:
    final = s.get("final_schedule") or {}
    if "rendered_schedule_entries" not in final:
        return None
    return [(parse_time(e["start"]), parse_time(e["end"]),
             emails.get(str((e.get("user") or {}).get("id")))) for e in
            final["rendered_schedule_entries"]]


def _check_layer_order(s: dict[str, Any], doc: dict[str, Any],
                       overrides: list[dict[str, Any]], emails: dict[str, str],
                       now: datetime, report: Report) -> None:
    """PagerDuty's API has listed a schedule's layers in either order over the years
    (highest priority first, the reverse of what it accepts when creating one). Where the
    listed order (a later layer wins) disagrees with PagerDuty's own final schedule for the
    next weeks and the reverse order agrees with it exactly, the layers are written in the
    reverse order, and the report says so."""
    theirs = _final(s, emails)
    if theirs is None or len(doc["layers"]) < 2:
        return
    from oncall.importers.files import spec_from_doc
    from oncall.importers.verify import compare
    from oncall.rotations import final_shifts

    start, end = now, now + ORDER_CHECK

    def differences(layers: list[dict[str, Any]]) -> int:
        spec = spec_from_doc({**doc, "layers": layers}, overrides)
        ours = [(x.start, x.end, x.user) for x in final_shifts(spec, start, end)]
        return len(compare(doc["schedule"], theirs, ours, start, end))

    if differences(doc["layers"]) and not differences(doc["layers"][::-1]):
        doc["layers"].reverse()
        report.mapped("layer order", s["name"], "PagerDuty listed the layers highest "
                      "priority first; written lowest first (a later layer wins), the order "
                      "that matches its final schedule")


def _local(d: date, t: time, zone: ZoneInfo) -> datetime:
    """A local wall-clock time as a UTC instant, resolved as our rotations resolve it
    (fold 0: a skipped time lands after the gap, a repeated one at its first occurrence)."""
    return datetime.combine(d, t.replace(fold=0), tzinfo=zone).astimezone(UTC)


def in_force(raw: dict[str, Any], start_key: str, end_key: str, now: datetime, kind: str,
             label: str, report: Report) -> tuple[datetime, datetime | None] | None:
    """A layer's start and end, or None (reported) when it ended before ``now``."""
    start = parse_time(raw[start_key])
    end = parse_time(raw[end_key]) if raw.get(end_key) else None
    if end is not None and end <= now:
        report.not_mapped(kind, label, f"ended {end:%Y-%m-%d %H:%M} UTC, before the "
                          "import: past shifts are not imported")
        return None
    return start, end


def _layer(raw: dict[str, Any], zone: ZoneInfo, emails: dict[str, str], now: datetime,
           label: str, report: Report) -> dict[str, Any] | None:
    members = [emails.get(x["user"]["id"]) for x in raw.get("users") or []]
    if not members or any(m is None for m in members):
        report.not_mapped("layer", label, "no users, or a user that is not in the account")
        return None
    bounds = in_force(raw, "start", "end", now, "layer", label, report)
    if bounds is None:
        return None
    start, end = bounds
    length = int(raw["rotation_turn_length_seconds"])
    virtual = parse_time(raw["rotation_virtual_start"])
    if length <= 0 or length % 3600:
        report.not_mapped("layer", label, f"turns of {length} s: our rotations are whole "
                          "hours or whole days; recreate it with the nearest length by hand")
        return None
    if virtual.second or virtual.microsecond:
        report.not_mapped("layer", label, "its handoff is not on a whole minute")
        return None
    days = length // DAY if length % DAY == 0 else 0
    hours = length // 3600
    vlocal = virtual.astimezone(zone)

    def turn(k: int) -> datetime:
        if days:
            return _local(vlocal.date() + timedelta(days=k * days), vlocal.time(), zone)
        return virtual + timedelta(hours=k * hours)

    # Our layer starts at its first handoff on or after its start date. A layer already in
    # force starts at the handoff before its PagerDuty start (earlier turns are past); a
    # future one at the first handoff on or after its start.
    guess = int((start - virtual).total_seconds() // length)
    k = guess - 2
    while turn(k + 1) <= start:
        k += 1
    while turn(k) > start:
        k -= 1
    if start > now and turn(k) < start:
        lost = (start, turn(k + 1))
        k += 1
        report.approximated("layer", label, f"starts at {lost[0]:%Y-%m-%d %H:%M} UTC, in "
                            f"the middle of a turn: the turn's first part until the handoff "
                            f"at {lost[1]:%Y-%m-%d %H:%M} UTC ({members[(k - 1) % len(members)]}) "
                            "is not imported (our layers begin at a handoff)")
    k = first_turn(turn, k, days, zone, now, "layer", label, report)
    anchor = turn(k)
    alocal = anchor.astimezone(zone)
    n = len(members)
    out, what = layer_shape(days, hours, alocal)
    notes = [what]
    if end is not None and end <= anchor:
        report.not_mapped("layer", label, f"ends at {end.astimezone(zone):%Y-%m-%d %H:%M %Z}, "
                          "before its first handoff from now on: our layers begin at a "
                          "handoff")
        return None
    if end is not None:
        if not layer_end(out, end, zone, alocal, "layer", label, report):
            return None
        notes.append(f"until {out['end']}")
    out["members"] = [str(members[(k + i) % n]) for i in range(n)]
    restrictions: list[dict[str, Any]] = []
    for r in raw.get("restrictions") or []:
        mapped = _restriction(r, label, report)
        if mapped == "all":
            restrictions = []
            break
        if isinstance(mapped, dict):
            restrictions.append(mapped)
    if restrictions:
        out["restrictions"] = restrictions
        notes.append(f"{len(restrictions)} restriction(s)")
    report.mapped("layer", label, ", ".join(notes))
    return out


def first_turn(turn: Callable[[int], datetime], k: int, days: int, zone: ZoneInfo,
               now: datetime, kind: str, label: str, report: Report) -> int:
    """Turn ``k``, or the next one when ``k`` is hourly and starts in the repeated hour of a
    fall-back night (our hourly rotations start at the first occurrence of a local time)."""
    anchor = turn(k)
    alocal = anchor.astimezone(zone)
    if days or _local(alocal.date(), alocal.time(), zone) == anchor:
        return k
    if turn(k + 1) > now:
        report.approximated(kind, label, f"its turn from {anchor:%Y-%m-%d %H:%M} UTC "
                            "(a repeated local hour) is not imported: our hourly "
                            "rotations start at the first occurrence of a local time")
    return k + 1


def layer_shape(days: int, hours: int, alocal: datetime) -> tuple[dict[str, Any], str]:
    """A layer's rotation, handoff and start for turns of ``days`` (kept at the local
    handoff time) or ``hours`` (elapsed) from the local handoff ``alocal``; and in words."""
    out: dict[str, Any] = {"name": ""}
    hhmm = alocal.strftime("%H:%M")
    if days and days % 7 == 0:
        out["rotation"] = "weekly" if days == 7 else {"weeks": days // 7}
        out["handoff"] = f"{WEEKDAYS[alocal.weekday()]} {hhmm}"
        what = f"every {days // 7} week(s), {out['handoff']}"
    elif days:
        out["rotation"] = "daily" if days == 1 else {"days": days}
        out["handoff"] = hhmm
        what = f"every {days} day(s) at {hhmm}"
    else:
        out["rotation"] = {"hours": hours}
        out["handoff"] = hhmm
        what = f"every {hours} hour(s) (elapsed)"
    out["start"] = alocal.date().isoformat()
    return out, what


def layer_end(out: dict[str, Any], end: datetime, zone: ZoneInfo, alocal: datetime, kind: str,
              label: str, report: Report) -> bool:
    """Set ``out["end"]`` for a layer ending at ``end`` (our layers end at local midnight:
    another time is rounded up, reported); False (reported) when that leaves no whole turn
    after the first handoff ``alocal``."""
    elocal = end.astimezone(zone)
    midnight = datetime.combine(elocal.date(), time(0), tzinfo=zone)
    if elocal.replace(tzinfo=None) == midnight.replace(tzinfo=None):
        end_day = elocal.date()
    else:
        end_day = elocal.date() + timedelta(days=1)
        report.approximated(kind, label, f"ends at {elocal:%Y-%m-%d %H:%M %Z}; our "
                            f"layers end at local midnight: imported to end at "
                            f"{end_day} 00:00 (the last "
                            f"{_span(_local(end_day, time(0), zone) - end)} more)")
    if end_day <= alocal.date():
        report.not_mapped(kind, label, f"ends at {elocal:%Y-%m-%d %H:%M %Z}, before "
                          "its first whole turn: our layers begin at a handoff and end "
                          "at local midnight")
        return False
    out["end"] = end_day.isoformat()
    return True


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m"


def _restriction(r: dict[str, Any], label: str, report: Report
                 ) -> dict[str, Any] | str | None:
    """A PagerDuty restriction as ours; "all" when it covers all the time (no restriction)."""
    h, m, sec = (int(x) for x in (str(r["start_time_of_day"]) + ":00").split(":")[:3])
    seconds = int(r["duration_seconds"])
    if sec or seconds % 60:
        report.not_mapped("restriction", label, f"{r['type']} at {r['start_time_of_day']} "
                          f"for {seconds} s is not on whole minutes; recreate it by hand")
        return None
    minutes = seconds // 60
    start = f"{h:02d}:{m:02d}"
    if r["type"] == "daily_restriction":
        if minutes >= 1440:
            return "all"
        stop = h * 60 + m + minutes
        return {"from": start, "to": f"{stop // 60 % 24:02d}:{stop % 60:02d}"}
    if minutes >= 7 * 1440:
        return "all"
    day = int(r["start_day_of_week"]) - 1
    stop = day * 1440 + h * 60 + m + minutes
    return {"from": f"{WEEKDAYS[day]} {start}",
            "to": f"{WEEKDAYS[stop // 1440 % 7]} {stop % 1440 // 60:02d}:{stop % 60:02d}"}


def _override(o: dict[str, Any], s: dict[str, Any], name: str, emails: dict[str, str],
              now: datetime, out: list[dict[str, Any]], report: Report) -> None:
    start, end = parse_time(o["start"]), parse_time(o["end"])
    label = f"{s['name']} {start:%Y-%m-%d %H:%M}-{end:%Y-%m-%d %H:%M} UTC"
    user = emails.get(o["user"]["id"])
    if end <= now:
        return
    if user is None:
        report.not_mapped("override", label, "its user is not in the account")
        return
    add_override(out, report, label, name, user, start, end, f"PagerDuty ({o.get('id')})")


def add_override(out: list[dict[str, Any]], report: Report, label: str, schedule: str,
                 user: str, start: datetime, end: datetime, source: str) -> None:
    out.append({"schedule": schedule, "user": user, "start": start.isoformat(),
                "end": end.isoformat(), "note": f"imported from {source}"})
    report.mapped("override", label, f"{user}: in overrides.sh and overrides.json (config "
                  "files do not hold overrides: run overrides.sh once after `oncall apply`)")


# -- escalation policies -----------------------------------------------------------------

def _policy(p: dict[str, Any], schedules: dict[str, str], emails: dict[str, str],
            taken: set[str], report: Report, filtered: bool) -> dict[str, Any] | None:
    label = p.get("name") or p["id"]
    name = _unique(slug(label), taken)
    levels: list[dict[str, Any]] = []
    rules = p.get("escalation_rules") or []
    for i, rule in enumerate(rules, 1):
        notify: list[str] = []
        for t in rule.get("targets") or []:
            kind = str(t.get("type", "")).removesuffix("_reference")
            if kind == "user" and t["id"] in emails:
                notify.append(f"user:{emails[t['id']]}")
            elif kind in ("schedule", "schedule_v3") and t["id"] in schedules:
                notify.append(f"schedule:{schedules[t['id']]}")
            else:
                why = ("not among the imported schedules (--schedule)" if filtered
                       and kind.startswith("schedule") else "not imported")
                report.not_mapped("target", f"{label} rule {i}",
                                  f"{t.get('summary') or t['id']} ({kind}): {why}")
        if not notify:
            report.not_mapped("rule", f"{label} rule {i}", "no target left: the level is "
                              "left out")
            continue
        if rule.get("escalation_rule_assignment_strategy") == "round_robin":
            report.approximated("rule", f"{label} rule {i}", "round-robin assignment: we "
                                "page every target of the level")
        level: dict[str, Any] = {"notify": notify}
        delay = int(rule.get("escalation_delay_in_minutes") or 0)
        if delay > 0:
            level["escalate_after"] = f"{delay}m"
        levels.append(level)
    if not levels:
        report.not_mapped("policy", label, "no escalation rule with a target we imported")
        return None
    out: dict[str, Any] = {"policy": name}
    loops = int(p.get("num_loops") or 0)
    if loops:
        out["repeat"] = min(loops, MAX_REPEAT)
        if loops > MAX_REPEAT:
            report.approximated("policy", label, f"repeats {loops} times; ours at most "
                                f"{MAX_REPEAT}: imported as {MAX_REPEAT}")
    out["levels"] = levels
    report.mapped("policy", label, f"policy {name}: {len(levels)} level(s), repeat {loops}")
    return out
