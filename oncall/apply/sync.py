"""Making the database match the desired objects (``oncall.apply.desired``), each change
audited. Objects a file once managed and no file names any more are removed (schedules,
policies) or handed back to the API (users, services, which history points to)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from oncall.apply import heartbeats as heartbeat_files
from oncall.apply import layers as layer_files
from oncall.apply import maintenance as maintenance_files
from oncall.apply import rules as rule_files
from oncall.apply.desired import Desired, check_references, collect
from oncall.apply.loader import Document
from oncall.audit import audit
from oncall.channels import preferences as notification_rules
from oncall.models import (
    EscalationPolicy,
    NotificationRule,
    PolicyLevel,
    Schedule,
    Service,
    ThresholdRule,
    User,
    utcnow,
)
from oncall.schedules import history


@dataclass
class Change:
    action: str  # create | update | delete | unmanage | skip
    kind: str
    name: str
    detail: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        sign = {"create": "+", "update": "~", "delete": "-", "unmanage": "!",
                "skip": "="}[self.action]
        text = f"{sign} {self.kind} {self.name}"
        if self.action == "unmanage":
            text += " (no longer in any file; left in place, editable through the API)"
        if self.action == "skip":
            text += " (left alone: managed in the console)"
        return text + "".join(f"\n    {d}" for d in self.detail)


def _set(obj: Any, values: dict[str, Any], detail: list[str]) -> None:
    for key, value in values.items():
        old = getattr(obj, key)
        if old != value:
            detail.append(f"{key}: {old!r} -> {value!r}")
            setattr(obj, key, value)


def _upsert(session: Session, model: Any, key: str, name: str, values: dict[str, Any],
            kind: str, managed_by: str, changes: list[Change]) -> Any:
    obj = session.scalar(select(model).where(getattr(model, key) == name))
    if obj is None:
        obj = model(**{key: name}, **values, managed_by=managed_by)
        session.add(obj)
        changes.append(Change("create", kind, name))
        return obj
    detail: list[str] = []
    _set(obj, {**values, "managed_by": managed_by}, detail)
    if detail:
        changes.append(Change("update", kind, name, detail))
    return obj


def _note(changes: list[Change], kind: str, name: str, text: str) -> None:
    """Add ``text`` to this object's change, making it an update if it had none."""
    if not changes or (changes[-1].kind, changes[-1].name) != (kind, name):
        changes.append(Change("update", kind, name))
    changes[-1].detail.append(text)


def apply_config(session: Session, docs: list[Document], *,
                 effective: str | datetime = history.NEXT_HANDOFF,
                 now: datetime | None = None) -> list[Change]:
    """Make the database match ``docs``. The caller commits (or, for a dry run, rolls back).
    A layer change takes effect at ``effective`` (default: that layer's next handoff after
    ``now``; ``now``; or a later time): shifts before it never change. Raises
    ``history.EffectiveError`` for an effective time in the past."""
    now = now or utcnow()
    desired = collect(docs)
    check_references(session, desired)
    changes: list[Change] = []
    src = {k: desired.where[k][0].file for k in desired.where}
    for email, values in desired.users.items():
        _upsert(session, User, "email", email, values, "user", src[("user", email)], changes)
    session.flush()
    if desired.users:  # a number from a config file is trusted as set
        session.execute(update(User).where(
            User.email.in_(list(desired.users)), User.phone.is_not(None),
            or_(User.phone_source.is_(None), User.phone_source != "file"))
            .values(phone_source="file", phone_verified_at=None))
    ids = dict(session.execute(select(User.email, User.id)).all())
    _apply_notification_rules(session, desired, ids, src, changes)
    for name, s in desired.schedules.items():
        existing = session.scalar(select(Schedule).where(Schedule.name == name))
        if existing is not None and existing.managed_by is None and existing.detached_from:
            when = existing.detached_at.strftime("%Y-%m-%d") if existing.detached_at else "?"
            changes.append(Change("skip", "schedule", name, [
                f"handed from {existing.detached_from} to the console on {when}: the "
                f"definition in {src[('schedule', name)]} is ignored; remove it from the file"]))
            continue
        old = layer_files.before(session, existing, now) if existing else None
        sched = _upsert(session, Schedule, "name", name, {"timezone": s["timezone"]},
                        "schedule", src[("schedule", name)], changes)
        wanted = [{"name": lyr["name"], "spec": lyr["spec"],
                   "members": [ids[m] for m in lyr["members"]],
                   "restrictions": lyr["restrictions"]} for lyr in s["layers"]]
        for line in layer_files.sync_layers(session, sched, wanted, effective, now,
                                              created=existing is None):
            _note(changes, "schedule", name, line)
        if old is not None:
            lines = layer_files.diff_lines(session, sched, old, now)
            touched = changes and (changes[-1].kind, changes[-1].name) == ("schedule", name)
            if touched or lines != layer_files.NO_CHANGE:
                for line in lines:
                    _note(changes, "schedule", name, line)
    for name, p in desired.policies.items():
        pol = _upsert(session, EscalationPolicy, "name", name,
                      {"repeat": p["repeat"], "ack_timeout": p["ack_timeout"]},
                      "policy", src[("policy", name)], changes)
        current = [{"escalate_after": lvl.escalate_after, "targets": lvl.targets}
                   for lvl in pol.levels]
        if current != p["levels"]:
            pol.levels = [PolicyLevel(position=i, **lvl) for i, lvl in enumerate(p["levels"])]
            _note(changes, "policy", name, f"levels: {len(current)} -> {len(p['levels'])}")
    session.flush()
    policy_ids = dict(session.execute(select(EscalationPolicy.name, EscalationPolicy.id)).all())
    for name, svc in desired.services.items():
        _upsert(session, Service, "name", name,
                {"description": svc["description"],
                 "policy_id": policy_ids[svc["policy"]] if svc["policy"] else None},
                "service", src[("service", name)], changes)
    rule_files.sync(session, desired.rules, src, changes, Change)
    _prune(session, desired, changes)
    session.flush()
    _audit(session, desired, changes)
    # Heartbeats and maintenance windows audit themselves (through their services).
    return (changes + heartbeat_files.sync_heartbeats(session, docs, Change)
            + maintenance_files.sync_maintenance(session, docs, Change))


def _apply_notification_rules(session: Session, desired: Desired, ids: dict[str, int],
                 src: dict[tuple[str, str], str], changes: list[Change]) -> None:
    """Users' notification rules from files; rules a file managed and no longer gives are
    removed (the user is back on the defaults, and may set rules through the API)."""
    handed_back = select(NotificationRule).where(
        NotificationRule.managed_by.is_not(None), NotificationRule.user_id.not_in(
            [ids[e] for e in desired.users]))
    for row in session.scalars(handed_back):  # the user left every file: rules stay, editable
        row.managed_by = None
    for email in desired.users:
        wanted = desired.user_rules.get(email)
        managed = notification_rules.managed_by(session, ids[email])
        if wanted is None and managed is None:
            continue
        current = notification_rules.load(session, ids[email])
        if wanted is None:
            notification_rules.replace(session, ids[email], {})
            _note_user(changes, email, "notification rules: removed (defaults apply)")
        elif current != wanted or managed != src[("user", email)]:
            notification_rules.replace(session, ids[email], wanted, managed=src[("user", email)])
            _note_user(changes, email, "notification rules: " + "; ".join(
                f"{sev}: " + ", ".join(f"{r.channel}+{r.delay}s" for r in steps)
                for sev, steps in wanted.items()))


def _note_user(changes: list[Change], email: str, text: str) -> None:
    """Add ``text`` to this user's change (create or update), making one if it had none."""
    for change in changes:
        if (change.kind, change.name) == ("user", email):
            change.detail.append(text)
            return
    changes.append(Change("update", "user", email, [text]))


_MODELS: dict[str, tuple[Any, str]] = {
    "user": (User, "email"), "schedule": (Schedule, "name"),
    "policy": (EscalationPolicy, "name"), "service": (Service, "name"),
    "rule": (ThresholdRule, "name"),
}


def _audit(session: Session, desired: Desired, changes: list[Change]) -> None:
    """Changes made from files land in the audit log like any other, by the file's name."""
    for change in changes:
        if change.action == "skip":
            continue
        where = desired.where.get((change.kind, change.name))
        actor = f"file:{where[0].file}" if where else "oncall apply"
        model, key = _MODELS[change.kind]
        object_id = session.scalar(select(model.id).where(getattr(model, key) == change.name))
        action = {"unmanage": "update"}.get(change.action, change.action)
        summary = {"change": str(change)}
        audit(session, actor, action, change.kind, object_id, change.name,
              summary if action != "create" else None, summary if action != "delete" else None)


_PRUNED: tuple[tuple[Any, str, str, str], ...] = (
    # Definitions are deleted; users and services (which history points to) are kept.
    (Schedule, "name", "schedule", "delete"),
    (EscalationPolicy, "name", "policy", "delete"),
    (User, "email", "user", "unmanage"),
    (Service, "name", "service", "unmanage"),
)


def _prune(session: Session, desired: Desired, changes: list[Change]) -> None:
    named = {"schedule": desired.schedules, "policy": desired.policies, "user": desired.users,
             "service": desired.services}
    for model, key, kind, action in _PRUNED:
        for obj in session.scalars(select(model).where(model.managed_by.is_not(None))):
            if getattr(obj, key) in named[kind]:
                continue
            if action == "delete":
                session.delete(obj)
            else:
                obj.managed_by = None
            changes.append(Change(action, kind, getattr(obj, key)))
