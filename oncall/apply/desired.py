"""Turning loaded documents into the desired objects: each name claimed by one file only,
durations and zones read, every reference checked against the files and the database
before anything is written."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.apply import rules as rule_files
from oncall.apply.loader import Document
from oncall.channels import preferences as notification_rules
from oncall.channels.preferences import Rule
from oncall.models import EscalationPolicy, Schedule, User
from oncall.schedules.rotation import RotationError, parse_restriction, parse_rotation

_DURATION = re.compile(r"(\d+)([smhd])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass
class Desired:
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    schedules: dict[str, dict[str, Any]] = field(default_factory=dict)
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Personal notification rules of users whose file gives them: {email: {severity: [...]}}.
    user_rules: dict[str, dict[str, list[Rule]]] = field(default_factory=dict)
    where: dict[tuple[str, str], tuple[Document, tuple[Any, ...]]] = field(default_factory=dict)


def seconds(value: Any) -> int:
    if isinstance(value, int):
        return value
    return sum(int(n) * _UNIT[u] for n, u in _DURATION.findall(value))


def _claim(desired: Desired, kind: str, name: str, doc: Document, path: tuple[Any, ...]) -> None:
    if (kind, name) in desired.where:
        first, _ = desired.where[(kind, name)]
        raise doc.error(path, f"{kind} {name!r} is already defined in {first.file}")
    desired.where[(kind, name)] = (doc, path)


def _zone(doc: Document, path: tuple[Any, ...], name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise doc.error(path, f"unknown timezone {name!r} (use an IANA name such as "
                              "Europe/London)") from None
    return name


def collect(docs: list[Document]) -> Desired:
    desired = Desired()
    for doc in docs:
        d = doc.data
        for i, u in enumerate(d.get("users", [])):
            _claim(desired, "user", u["user"], doc, ("users", i))
            desired.users[u["user"]] = {
                "name": u["name"], "phone": u.get("phone"), "slack_id": u.get("slack"),
                "timezone": _zone(doc, ("users", i, "timezone"), u.get("timezone", "UTC")),
                "role": u.get("role", "responder")}
            if "notification_rules" in u:
                wanted = {sev: [Rule(step["channel"], seconds(step.get("after", 0)))
                                for step in steps]
                          for sev, steps in u["notification_rules"].items()}
                try:
                    notification_rules.validate(wanted)
                except ValueError as exc:
                    raise doc.error(("users", i, "notification_rules"), str(exc)) from None
                desired.user_rules[u["user"]] = wanted
        schedules: list[tuple[tuple[Any, ...], dict[str, Any]]] = (
            [((), d)] if "schedule" in d else [])
        schedules += [(("schedules", i), s) for i, s in enumerate(d.get("schedules", []))]
        for path, s in schedules:
            _claim(desired, "schedule", s["schedule"], doc, path)
            layers = []
            for j, layer in enumerate(s["layers"]):
                spec = {k: layer[k] for k in ("rotation", "handoff", "start", "end") if k in layer}
                spec.setdefault("start", "2026-01-01")
                try:
                    parse_rotation(spec)
                except RotationError as exc:
                    raise doc.error((*path, "layers", j, exc.field), exc.message) from None
                restrictions = layer.get("restrictions", [])
                for k, raw in enumerate(restrictions):
                    try:
                        parse_restriction(raw)
                    except RotationError as exc:
                        raise doc.error((*path, "layers", j, "restrictions", k, exc.field),
                                        exc.message) from None
                layers.append({"name": layer["name"], "spec": spec,
                               "members": list(layer["members"]),
                               "restrictions": restrictions, "at": (*path, "layers", j)})
            desired.schedules[s["schedule"]] = {
                "timezone": _zone(doc, (*path, "timezone"), s["timezone"]), "layers": layers}
        for i, p in enumerate(d.get("policies", [])):
            _claim(desired, "policy", p["policy"], doc, ("policies", i))
            ack_timeout = seconds(p["ack_timeout"]) if "ack_timeout" in p else None
            desired.policies[p["policy"]] = {"repeat": p.get("repeat", 0),
                                             "ack_timeout": ack_timeout or None, "levels": [
                {"escalate_after": seconds(lvl.get("escalate_after", "5m")),
                 "targets": [dict(zip(("type", "ref"), t.split(":", 1), strict=True))
                             for t in lvl["notify"]]}
                for lvl in p["levels"]]}
        for i, svc in enumerate(d.get("services", [])):
            _claim(desired, "service", svc["service"], doc, ("services", i))
            desired.services[svc["service"]] = {"description": svc.get("description"),
                                                "policy": svc.get("policy")}
        rule_files.collect(doc, lambda *a: _claim(desired, *a), desired.rules)
    return desired


def check_references(session: Session, desired: Desired) -> None:
    users = set(desired.users) | set(session.scalars(select(User.email)))
    schedules = set(desired.schedules) | set(session.scalars(select(Schedule.name)))
    policies = set(desired.policies) | set(session.scalars(select(EscalationPolicy.name)))
    for name, s in desired.schedules.items():
        doc, _ = desired.where[("schedule", name)]
        for layer in s["layers"]:
            for k, member in enumerate(layer["members"]):
                if member not in users:
                    raise doc.error((*layer["at"], "members", k), f"no user {member!r} (add it "
                                    "under users: or with `oncall user add`)")
    for name, p in desired.policies.items():
        doc, path = desired.where[("policy", name)]
        for i, lvl in enumerate(p["levels"]):
            for k, t in enumerate(lvl["targets"]):
                known = {"user": users, "schedule": schedules}.get(t["type"])
                if known is not None and t["ref"] not in known:
                    raise doc.error((*path, "levels", i, "notify", k),
                                    f"no {t['type']} {t['ref']!r}")
    for name, svc in desired.services.items():
        if svc["policy"] and svc["policy"] not in policies:
            doc, path = desired.where[("service", name)]
            raise doc.error((*path, "policy"), f"no policy {svc['policy']!r}")
    rule_files.check(session, desired.rules, set(desired.policies), set(desired.services),
                     desired.where)
