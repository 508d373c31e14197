"""Escalation policies: a ladder of levels, each naming targets (``user:EMAIL``,
``schedule:NAME``, ``slack:#ROOM``) and how long to wait before the next level, run
``repeat`` more times. Incidents keep a snapshot of the policy they triggered with, so an
edit changes only incidents that trigger after it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from oncall.audit import audit
from oncall.channels import registry
from oncall.manage import Refused, check_editable, check_name, not_found
from oncall.models import (
    EscalationPolicy,
    Heartbeat,
    PolicyLevel,
    Schedule,
    Service,
    ThresholdRule,
    User,
)
from oncall.schedules.store import who_is_on_call

PEOPLE = ("user", "schedule")  # a level's other targets: rooms of channels that have them


def target_help() -> str:
    """The forms a target takes, as refusals and forms say it."""
    rooms = [f"{name}:#CHANNEL" for name in registry.room_channels()]
    return ", ".join(["user:EMAIL", "schedule:NAME", *rooms[:-1]]) + (
        f" or {rooms[-1]}" if rooms else "")


MAX_REPEAT = 20  # as config files allow
MAX_DELAY = 24 * 3600


def get(s: Session, policy_id: int) -> EscalationPolicy:
    found = s.get(EscalationPolicy, policy_id)
    if found is None:
        raise not_found("policy", policy_id)
    return found


def listing(s: Session) -> list[EscalationPolicy]:
    return list(s.scalars(select(EscalationPolicy).order_by(EscalationPolicy.name)))


def target_text(target: dict[str, str]) -> str:
    return f"{target.get('type')}:{target.get('ref')}"


def as_json(policy: EscalationPolicy) -> dict[str, Any]:
    return {"id": policy.id, "name": policy.name, "repeat": policy.repeat,
            "ack_timeout": policy.ack_timeout, "managed_by": policy.managed_by,
            "levels": [{"escalate_after": lvl.escalate_after,
                        "targets": [target_text(t) for t in lvl.targets]}
                       for lvl in policy.levels]}


@dataclass(frozen=True)
class Resolved:
    """A target and who it reaches at a time: ``who`` is a name (or the Slack room), None
    when nobody (a schedule with nobody on call, an unknown user)."""

    target: str
    kind: str
    who: str | None
    email: str | None = None


def resolve(s: Session, target: dict[str, str], now: datetime,
            memo: dict[str, str | None] | None = None) -> Resolved:
    """``memo`` keeps each schedule's answer for pages that resolve many policies."""
    kind, ref = target.get("type", ""), target.get("ref", "")
    text = target_text(target)
    email: str | None
    if kind == "schedule":
        memo = {} if memo is None else memo
        if ref not in memo:
            memo[ref] = who_is_on_call(s, ref, now)
        email = memo[ref]
    elif kind == "user":
        email = ref
    else:
        return Resolved(text, kind, ref or None)
    if email is None:
        return Resolved(text, kind, None)
    user = s.scalar(select(User).where(User.email == email))
    return Resolved(text, kind, user.name if user else None, email if user else None)


def ladder(s: Session, policy: EscalationPolicy, now: datetime,
           memo: dict[str, str | None] | None = None) -> list[dict[str, Any]]:
    """The policy's levels, each with its targets resolved at ``now``, and when each level
    is paged counted from the incident's start (the first loop)."""
    out, after = [], 0
    memo = {} if memo is None else memo
    for i, lvl in enumerate(policy.levels, start=1):
        out.append({"level": i, "at_seconds": after, "escalate_after": lvl.escalate_after,
                    "targets": [resolve(s, t, now, memo) for t in lvl.targets]})
        after += lvl.escalate_after
    return out


def _levels(s: Session, raw: Any) -> list[dict[str, Any]]:
    """Levels as given (``[{"escalate_after": 300, "targets": ["schedule:x"]}]``), checked:
    at least one, each with at least one target that exists."""
    if not isinstance(raw, list) or not raw:
        raise Refused("levels", "at least one level")
    users = set(s.scalars(select(User.email).where(User.deactivated_at.is_(None))))
    schedules = set(s.scalars(select(Schedule.name)))
    rooms = registry.room_channels()
    levels = []
    for i, lvl in enumerate(raw):
        where = f"levels[{i}]"
        delay = lvl.get("escalate_after", 300)
        if not isinstance(delay, int) or isinstance(delay, bool) or not 60 <= delay <= MAX_DELAY:
            raise Refused(f"{where}.escalate_after",
                          f"seconds, from 60 to {MAX_DELAY}")
        targets = lvl.get("targets") or []
        if not targets:
            raise Refused(f"{where}.targets", "at least one target")
        parsed = []
        for k, text in enumerate(targets):
            kind, _, ref = str(text).partition(":")
            ref = ref.strip()
            field = f"{where}.targets[{k}]"
            if kind not in (*PEOPLE, *rooms) or not ref:
                raise Refused(field, target_help())
            known = {"user": users, "schedule": schedules}.get(kind)
            if known is not None and ref not in known:
                raise Refused(field, f"no {kind} {ref!r}" + (" (or deactivated)"
                                                              if kind == "user" else ""))
            if kind in rooms and not ref.startswith("#"):
                raise Refused(field, f"a {kind.capitalize()} channel starts with #")
            parsed.append({"type": kind, "ref": ref})
        levels.append({"escalate_after": delay, "targets": parsed})
    return levels


def _repeat(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_REPEAT:
        raise Refused("repeat", f"a whole number from 0 to {MAX_REPEAT}")
    return value


def _ack_timeout(value: Any) -> int | None:
    if value in (None, 0):
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 60 <= value <= 7 * 86400:
        raise Refused("ack_timeout", "seconds, from 60 to 604800, or null for never")
    return value


def _taken(s: Session, name: str, but: int | None = None) -> None:
    other = s.scalar(select(EscalationPolicy.id).where(EscalationPolicy.name == name))
    if other is not None and other != but:
        raise Refused("name", f"a policy named {name!r} exists", 409)


def create(s: Session, actor: str, *, name: str, levels: Any, repeat: Any = 0,
           ack_timeout: Any = None) -> EscalationPolicy:
    name = check_name("name", name)
    _taken(s, name)
    policy = EscalationPolicy(name=name, repeat=_repeat(repeat),
                              ack_timeout=_ack_timeout(ack_timeout))
    policy.levels = [PolicyLevel(position=i, **lvl) for i, lvl in enumerate(_levels(s, levels))]
    s.add(policy)
    s.flush()
    audit(s, actor, "create", "policy", policy.id, name, None, as_json(policy))
    return policy


def update(s: Session, actor: str, policy: EscalationPolicy,
           changes: dict[str, Any]) -> EscalationPolicy:
    """Change any of ``name``, ``repeat``, ``ack_timeout`` and ``levels`` (replaced whole).
    Open incidents keep the ladder they started with."""
    check_editable("policy", policy.name, policy.managed_by)
    before = as_json(policy)
    if "name" in changes:
        name = check_name("name", changes["name"])
        _taken(s, name, policy.id)
        _check_unreferenced_by_rules(s, policy, "renamed")
        policy.name = name
    if "repeat" in changes:
        policy.repeat = _repeat(changes["repeat"])
    if "ack_timeout" in changes:
        policy.ack_timeout = _ack_timeout(changes["ack_timeout"])
    if "levels" in changes:
        levels = _levels(s, changes["levels"])
        policy.levels = [PolicyLevel(position=i, **lvl) for i, lvl in enumerate(levels)]
    s.flush()
    audit(s, actor, "update", "policy", policy.id, policy.name, before, as_json(policy))
    return policy


def _check_unreferenced_by_rules(s: Session, policy: EscalationPolicy, what: str) -> None:
    """Threshold rules name policies in their files: renaming or deleting one would leave a
    rule pointing nowhere."""
    for rule in s.scalars(select(ThresholdRule)):
        if (rule.spec or {}).get("policy") == policy.name:
            raise Refused(None, f"policy {policy.name} is named by rule {rule.name} "
                                f"({rule.managed_by or 'the API'}); it cannot be {what}", 409)


def delete(s: Session, actor: str, policy: EscalationPolicy) -> None:
    """Delete a policy nothing uses (services, heartbeats and rules are checked)."""
    check_editable("policy", policy.name, policy.managed_by)
    users = [n for n in s.scalars(select(Service.name).where(Service.policy_id == policy.id))]
    if users:
        raise Refused(None, f"policy {policy.name} is the policy of service "
                            f"{', '.join(users)}; choose another there first", 409)
    beats = s.scalar(select(func.count()).select_from(Heartbeat)
                     .where(Heartbeat.policy_id == policy.id)) or 0
    if beats:
        raise Refused(None, f"policy {policy.name} is used by {beats} heartbeats", 409)
    _check_unreferenced_by_rules(s, policy, "deleted")
    audit(s, actor, "delete", "policy", policy.id, policy.name, as_json(policy), None)
    s.delete(policy)
    s.flush()
