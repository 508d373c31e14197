"""Working out an incident's step before anything is written (reads only): the level it
pages next (``next_level``), whom that level names (on call now, users, Slack rooms), each
person's channels for the incident's severity, and the timeline entries that say why anyone
was skipped. ``stepping`` claims and writes the step; the simulator (``oncall.simulate``)
runs whole ladders with ``plan_step`` and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.channels import page_text, preferences
from oncall.channels.registry import enabled, off_reason, room_channels
from oncall.incidents import Entry, event
from oncall.models import Service, User
from oncall.paging import next_level, page_outbox, unpaged
from oncall.paging.policy_snapshot import Policy
from oncall.schedules.store import who_is_on_call


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
    policies: dict[int, Policy] = field(default_factory=dict)

    def user(self, session: Session, email: str) -> User | None:
        if email not in self.users:
            self.users[email] = session.scalar(select(User).where(User.email == email))
        return self.users[email]

    def who_is_on_call(self, session: Session, schedule: str, now: datetime) -> str | None:
        if schedule not in self.on_call:
            self.on_call[schedule] = who_is_on_call(session, schedule, now)
        return self.on_call[schedule]

    def policy(self, session: Session, service_id: int) -> Policy:
        """The snapshot of the service's escalation policy (for incidents that have none of
        their own yet)."""
        if service_id not in self.policies:
            service = session.get(Service, service_id)
            self.policies[service_id] = Policy.of(service.policy if service else None)
        return self.policies[service_id]

    def plan(self, session: Session, user: User, severity: str) -> preferences.Plan:
        key = (user.id, severity)
        if key not in self.plans:
            self.plans[key] = preferences.plan(session, user, severity)
        return self.plans[key]


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
    def policy(self) -> Policy | None: ...
    @property
    def level(self) -> int: ...
    @property
    def loop(self) -> int: ...
    @property
    def next_action_at(self) -> datetime | None: ...


@dataclass(frozen=True, slots=True)
class Claim:
    """A step's claim on its incident: from the state it was read in (``level``, ``loop``,
    due by ``now``) to the state after the step, with the policy it now carries (frozen
    at its first step). ``stepping`` writes it only if the incident is still in that state."""

    incident_id: int
    level: int
    loop: int
    now: datetime
    policy: Policy
    new_level: int
    new_loop: int
    next_action_at: datetime | None

    def row(self) -> dict[str, Any]:
        """The claim as a statement's parameters."""
        return {"incident_id": self.incident_id, "level": self.level, "loop": self.loop,
                "now": self.now, "policy": self.policy, "new_level": self.new_level,
                "new_loop": self.new_loop, "next_action_at": self.next_action_at}


@dataclass
class Plan:
    """An incident's due step, worked out before anything is written: the claim (from the
    state it was read in to the state after the step), timeline entries and pages."""

    incident_id: int
    level: int  # the state the incident was read in
    loop: int
    now: datetime
    policy: Policy
    due: datetime | None
    events: list[Entry] = field(default_factory=list)
    pages: list[page_outbox.QueuedPage] = field(default_factory=list)
    result: StepResult = field(default_factory=StepResult)
    # The incident whose ``unpaged`` entry is logged once the step is written.
    unpaged: Stepped | None = None

    def claim(self) -> Claim:
        """The step's claim: from the state read to the state after the step."""
        return Claim(self.incident_id, self.level, self.loop, self.now, self.policy,
                     self.result.level, self.result.loop, self.result.next_action_at)


def plan_step(session: Session, incident: Stepped, now: datetime, actor: str,
              lookups: Lookups) -> Plan:
    """Work out the incident's step (reads only, writes nothing: the simulator runs whole
    ladders with it): the levels it pages, skipping those that name nobody, or the end of
    the ladder."""
    policy = incident.policy
    if policy is None:
        policy = lookups.policy(session, incident.service_id)
    level, loop, due = incident.level, incident.loop, incident.next_action_at
    plan = Plan(incident.id, incident.level, incident.loop, now, policy, due)
    result = plan.result
    while True:
        step = next_level.next_step(policy, level, loop, now)
        if step is None:
            why = "no escalation policy" if not policy.levels else "ladder exhausted"
            plan.events.append(event(incident.id, "escalation_stopped", "system", now,
                                     reason=why))
            result.level, result.loop, result.next_action_at = level, loop, None
            break
        result.level, result.loop = step.level, step.loop
        result.next_action_at = step.next_action_at
        reached = _page_level(session, incident, step, now, due, actor, plan, lookups)
        nxt = next_level.following(policy, step.level, step.loop)
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
    return plan


def _page_level(session: Session, incident: Stepped, step: next_level.Step, now: datetime,
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
            plan.pages.append(page_outbox.QueuedPage(incident.id, step.level, step.loop,
                                              f"user:{user.id}", user.id, rule.channel,
                                              message, now + timedelta(seconds=rule.delay),
                                              now))
    # People first, then the channel posts of the level.
    for room in rooms:
        plan.pages.append(page_outbox.QueuedPage(incident.id, step.level, step.loop, room, None,
                                          room.split(":", 1)[0], message, now, now))
    return bool(users or rooms)


def _resolve_targets(session: Session, incident_id: int, step: next_level.Step,
                     now: datetime, lookups: Lookups,
                     events: list[Entry]) -> tuple[list[User], list[str]]:
    """The users a level names, in order, each once, and the rooms it names on channels
    that have them (``slack:#room``). A schedule contributes whoever is on call now; a
    schedule with nobody on call is noted on the timeline, never skipped silently."""
    users: list[User] = []
    rooms: list[str] = []
    for target in step.targets:
        kind, ref = target.type, target.ref
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
                                target=target.to_json(), reason=reason))
            continue
        if user is None:
            events.append(event(incident_id, "target_missing", "system", now,
                                target=target.to_json()))
        elif user not in users:
            users.append(user)
    return users, rooms
