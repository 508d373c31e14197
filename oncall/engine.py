"""The escalation engine: take due incidents a step up their ladder, queueing their pages
(delivering them is ``oncall.delivery``, whose names are re-exported here).

Every entry point takes ids and an explicit ``now``, reloads state, re-checks its
precondition and claims work with a conditional UPDATE, so a task delivered twice, a task and
the sweeper racing, or a worker killed half way can never page anyone twice for the same
(incident, level, loop, recipient, channel): that key is unique in the outbox.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.orm import Session

from oncall import db, escalation, metrics, outbox, unpaged
from oncall.channels import page_text, preferences
from oncall.channels.registry import enabled, off_reason, room_channels
from oncall.delivery import (  # noqa: F401 - re-exported: callers use oncall.engine.*
    LEASE,
    MAX_ATTEMPTS,
    MAX_BACKOFF,
    MAX_RETRY_AFTER,
    claim_due,
    claim_page,
    due_pages,
    page_failed,
    prepare_delivery,
    record_outcome,
    record_sent,
    retry_delay,
    send,
)
from oncall.incidents import event, record_many
from oncall.models import EscalationPolicy, Incident, Service, User
from oncall.scheduling.store import who_is_on_call

log = logging.getLogger(__name__)


@dataclass
class StepResult:
    """What a step committed: pages to deliver, and when the incident is due next."""

    page_ids: list[int] = field(default_factory=list)
    level: int = 0
    loop: int = 0
    next_action_at: datetime | None = None


@dataclass
class Lookups:
    """Reads shared by the steps of one sweep batch (one transaction, about a second): who is
    on call on each schedule, users by email, and each user's plan per severity. A fresh one
    per step when not given."""

    on_call: dict[str, str | None] = field(default_factory=dict)
    users: dict[str, User | None] = field(default_factory=dict)
    plans: dict[tuple[int, str], preferences.Plan] = field(default_factory=dict)
    policies: dict[int, dict[str, Any]] = field(default_factory=dict)

    def user(self, session: Session, email: str) -> User | None:
        if email not in self.users:
            self.users[email] = session.scalar(select(User).where(User.email == email))
        return self.users[email]

    def who_is_on_call(self, session: Session, schedule: str, now: datetime) -> str | None:
        if schedule not in self.on_call:
            self.on_call[schedule] = who_is_on_call(session, schedule, now)
        return self.on_call[schedule]

    def policy(self, session: Session, service_id: int) -> dict[str, Any]:
        """The snapshot of the service's escalation policy (for incidents that have none of
        their own yet)."""
        if service_id not in self.policies:
            service = session.get(Service, service_id)
            self.policies[service_id] = policy_snapshot(service.policy if service else None)
        return self.policies[service_id]

    def plan(self, session: Session, user: User, severity: str) -> preferences.Plan:
        key = (user.id, severity)
        if key not in self.plans:
            self.plans[key] = preferences.plan(session, user, severity)
        return self.plans[key]


def policy_snapshot(policy: EscalationPolicy | None) -> dict[str, Any]:
    if policy is None:
        return {"name": None, "repeat": 0, "levels": []}
    return {
        "id": policy.id, "name": policy.name, "repeat": policy.repeat,
        "ack_timeout": policy.ack_timeout,
        "levels": [{"escalate_after": lvl.escalate_after, "targets": lvl.targets}
                   for lvl in policy.levels],
    }


def escalate(session: Session, incident_id: int, now: datetime,
             expect: tuple[int, int] | None = None) -> StepResult | None:
    """Run the incident's step if it is due. ``expect`` is the (level, loop) the caller
    believes the incident is at; if it has moved on, someone else took the step.

    Returns None when the incident needs nothing more from this caller; a result with no
    pages and a future ``next_action_at`` when it is not due yet; else the step taken.
    """
    query = select(Incident).where(Incident.id == incident_id)
    if db.is_postgres(session):
        # NO KEY UPDATE: alerts joining the incident hold KEY SHARE locks on its row (their
        # foreign key); those must not make the escalation skip it.
        query = query.with_for_update(skip_locked=True, key_share=True, of=Incident)
    incident = session.scalars(query.execution_options(populate_existing=True)).first()
    if incident is None or incident.status != "triggered" or incident.next_action_at is None:
        return None
    if expect is not None and (incident.level, incident.loop) != tuple(expect):
        return None
    if incident.next_action_at > now:
        return StepResult(level=incident.level, loop=incident.loop,
                          next_action_at=incident.next_action_at)
    return take_step(session, incident, now)


def due_incidents(session: Session, now: datetime, limit: int = 200) -> list[Incident]:
    """Claim due incidents (PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so several sweepers
    share the work; SQLite has one writer at a time and the steps' conditional UPDATE)."""
    return list(session.scalars(_DUE_INCIDENTS[db.is_postgres(session)],
                                {"now": now, "limit": limit}))


_DUE = (select(Incident)
        .where(Incident.status == "triggered", Incident.next_action_at <= bindparam("now"))
        .order_by(Incident.next_action_at).limit(bindparam("limit"))
        .execution_options(populate_existing=True))
_DUE_INCIDENTS = {True: _DUE.with_for_update(skip_locked=True, key_share=True, of=Incident),
                  False: _DUE}


class Contended(RuntimeError):
    """An incident of a batch changed between being read and being claimed (SQLite, which
    locks no rows on reading): the caller steps the batch again one incident at a time."""


class Stepped(Protocol):
    """What working out a step reads of an incident: a stored ``Incident``, or the
    simulator's incident that is never stored (``oncall.simulate``)."""

    @property
    def id(self) -> int: ...
    @property
    def service_id(self) -> int: ...
    @property
    def service(self) -> Service: ...
    @property
    def severity(self) -> str: ...
    @property
    def summary(self) -> str: ...
    @property
    def policy(self) -> dict[str, Any] | None: ...
    @property
    def level(self) -> int: ...
    @property
    def loop(self) -> int: ...
    @property
    def next_action_at(self) -> datetime | None: ...


@dataclass
class Plan:
    """An incident's due step, worked out before anything is written: the claim (from the
    state it was read in to the state after the step), timeline entries and pages."""

    incident_id: int
    claim: dict[str, Any]
    due: datetime | None
    events: list[dict[str, Any]] = field(default_factory=list)
    pages: list[dict[str, Any]] = field(default_factory=list)
    result: StepResult = field(default_factory=StepResult)
    # The incident whose ``unpaged`` entry is logged once the step is written.
    unpaged: Stepped | None = None


def take_step(session: Session, incident: Incident, now: datetime,
              actor: str = "system", lookups: Lookups | None = None) -> StepResult | None:
    """Claim the incident's due step and page its level. A level that names nobody to page
    (nobody on call, no such user) is skipped at once, with a timeline entry, to the next
    level of the same loop; a new loop keeps its schedule. Returns None when the step was
    not due or someone else took it (nothing is written then)."""
    plan = plan_step(session, incident, now, actor, lookups or Lookups())
    return _apply(session, [plan], now)[0] if _claim(session, [plan]) else None


def take_steps(session: Session, incidents: list[Incident], now: datetime,
               lookups: Lookups | None = None) -> list[StepResult]:
    """``take_step`` for a batch of incidents the caller has locked (``due_incidents``), in
    a few statements for the whole batch rather than a few per incident. Raises
    ``Contended`` if any of them was changed meanwhile (the caller rolls back)."""
    if not incidents:
        return []
    lookups = lookups or Lookups()
    plans = [plan_step(session, incident, now, "system", lookups) for incident in incidents]
    if not _claim(session, plans):
        raise Contended(f"{len(plans)} incidents read, fewer claimed")
    return _apply(session, plans, now)


def plan_step(session: Session, incident: Stepped, now: datetime, actor: str,
              lookups: Lookups) -> Plan:
    """Work out the incident's step (reads only, writes nothing: the simulator runs whole
    ladders with it): the levels it pages, skipping those that name nobody, or the end of
    the ladder."""
    policy = incident.policy
    if policy is None:
        policy = lookups.policy(session, incident.service_id)
    level, loop, due = incident.level, incident.loop, incident.next_action_at
    plan = Plan(incident.id, {"incident_id": incident.id, "level": level, "loop": loop,
                              "now": now, "policy": policy}, due)
    result = plan.result
    while True:
        step = escalation.next_step(policy, level, loop, now)
        if step is None:
            why = "no escalation policy" if not escalation.levels(policy) else "ladder exhausted"
            plan.events.append(event(incident.id, "escalation_stopped", "system", now,
                                     reason=why))
            result.level, result.loop, result.next_action_at = level, loop, None
            break
        result.level, result.loop = step.level, step.loop
        result.next_action_at = step.next_action_at
        reached = _page_level(session, incident, step, now, due, actor, plan, lookups)
        nxt = escalation.following(policy, step.level, step.loop)
        if reached or step.next_action_at is None or nxt is None or nxt[1] != step.loop:
            break
        plan.events.append(event(incident.id, "level_skipped", "system", now,
                                 level=step.level, loop=step.loop,
                                 reason="nobody to page at this level"))
        level, loop, due = step.level, step.loop, now
    if (incident.level, incident.loop) == (0, 0) and not plan.pages:
        events, pages = unpaged.page_admins(session, incident, policy, now, lookups)
        plan.events += events
        plan.pages += pages
        plan.unpaged = incident
    plan.claim.update(new_level=result.level, new_loop=result.loop,
                      next_action_at=result.next_action_at)
    return plan


def _claim(session: Session, plans: list[Plan]) -> bool:
    """Move every planned incident from the state it was read in to its state after the
    step, each only if still due and unchanged; whether all of them were."""
    claims = [p.claim for p in plans]
    if db.is_postgres(session):
        claimed = session.connection().execute(_PG_CLAIM_DUE,
                                               _CLAIMS.params(claims)).rowcount
    else:
        claimed = session.connection().execute(_CLAIM_DUE, claims).rowcount
    return bool(claimed == len(plans))


def _apply(session: Session, plans: list[Plan], now: datetime) -> list[StepResult]:
    """Write the claimed steps' timeline entries and pages, one statement each."""
    record_many(session, [e for plan in plans for e in plan.events])
    for plan in plans:
        if plan.unpaged is not None:
            unpaged.warn(plan.unpaged, next(e for e in plan.events if e["kind"] == "unpaged"))
    rows = [row for plan in plans for row in plan.pages]
    if rows:
        made = {(r.incident_id, r.level, r.loop, r.recipient, r.channel): r.id
                for r in outbox.insert_many(session, rows)}
        for plan in plans:
            for row in plan.pages:
                page_id = made.get((row["incident_id"], row["level"], row["loop"],
                                    row["recipient"], row["channel"]))
                if page_id is not None and row["next_attempt_at"] <= now:
                    plan.result.page_ids.append(page_id)
    for plan in plans:
        assert plan.due is not None
        metrics.ESCALATION_LAG.observe(max(0.0, (now - plan.due).total_seconds()))
    return [plan.result for plan in plans]


_CLAIM_DUE = (update(Incident)
              .where(Incident.id == bindparam("incident_id"), Incident.status == "triggered",
                     Incident.level == bindparam("level"), Incident.loop == bindparam("loop"),
                     Incident.next_action_at <= bindparam("now"))
              .values(level=bindparam("new_level"), loop=bindparam("new_loop"),
                      next_action_at=bindparam("next_action_at"), policy=bindparam("policy"),
                      updated_at=bindparam("now")))
# PostgreSQL: the same statement text for any batch size.
_CLAIMS = db.Recordset("c", "incident_id int, level int, loop int, now timestamptz, "
                            "new_level int, new_loop int, next_action_at timestamptz, "
                            "policy json")
_PG_CLAIM_DUE = text(f"""
UPDATE incidents AS i
SET level = c.new_level, loop = c.new_loop, next_action_at = c.next_action_at,
    policy = c.policy, updated_at = c.now
FROM {_CLAIMS.sql}
WHERE i.id = c.incident_id AND i.status = 'triggered' AND i.level = c.level
  AND i.loop = c.loop AND i.next_action_at <= c.now
""")


def _page_level(session: Session, incident: Stepped, step: escalation.Step, now: datetime,
                due: datetime | None, actor: str, plan: Plan, lookups: Lookups) -> bool:
    """Plan the level's pages; returns whether the level named anyone to page."""
    users, rooms = _resolve_targets(session, incident.id, step, now, lookups, plan.events)
    plan.events.append(event(incident.id, "escalated", actor, now, level=step.level,
                             loop=step.loop, notified=[u.email for u in users] + rooms,
                             due=due.isoformat() if due else None))
    message = page_text(incident.id, incident.severity, incident.service.name, incident.summary)
    for user in users:
        user_plan = lookups.plan(session, user, incident.severity)
        for name, why in user_plan.skipped.items():
            if why == preferences.NOT_VERIFIED:  # said on the timeline: never skipped silently
                plan.events.append(event(incident.id, "channel_skipped", "system", now,
                                         user=user.email, user_id=user.id, channel=name,
                                         reason=why, level=step.level, loop=step.loop))
        if not user_plan.rules:
            plan.events.append(event(incident.id, "user_unreachable", "system", now,
                                     user=user.email, user_id=user.id, level=step.level,
                                     loop=step.loop, reasons=user_plan.skipped))
            continue
        for rule in user_plan.rules:
            plan.pages.append(outbox.row(incident.id, step.level, step.loop,
                                         f"user:{user.id}", user.id, rule.channel, message,
                                         now + timedelta(seconds=rule.delay), now))
    # People first, then the channel posts of the level.
    for room in rooms:
        plan.pages.append(outbox.row(incident.id, step.level, step.loop, room, None,
                                     room.split(":", 1)[0], message, now, now))
    return bool(users or rooms)


def _resolve_targets(session: Session, incident_id: int, step: escalation.Step,
                     now: datetime, lookups: Lookups,
                     events: list[dict[str, Any]]) -> tuple[list[User], list[str]]:
    """The users a level names, in order, each once, and the rooms it names on channels
    that have them (``slack:#room``). A schedule contributes whoever is on call now; a
    schedule with nobody on call is noted on the timeline, never skipped silently."""
    users: list[User] = []
    rooms: list[str] = []
    for target in step.targets:
        kind, ref = target.get("type"), target.get("ref")
        user: User | None = None
        if kind == "user":
            user = lookups.user(session, str(ref))
        elif kind == "schedule":
            email = lookups.who_is_on_call(session, str(ref), now)
            if email is None:
                events.append(event(incident_id, "nobody_on_call", "system", now,
                                    schedule=ref, level=step.level))
                continue
            user = lookups.user(session, email)
        elif kind in room_channels() and enabled(str(kind)):
            if f"{kind}:{ref}" not in rooms:
                rooms.append(f"{kind}:{ref}")
            continue
        else:
            reason = (off_reason(str(kind)) if kind in room_channels()
                      else f"unknown target type {kind!r}")
            events.append(event(incident_id, "target_unsupported", "system", now,
                                target=target, reason=reason))
            continue
        if user is None:
            events.append(event(incident_id, "target_missing", "system", now, target=target))
        elif user not in users:
            users.append(user)
    return users, rooms
