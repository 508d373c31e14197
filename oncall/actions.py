"""What people do to a running escalation, and what time does to an acknowledgement:
escalate now, reassign (to users or another policy), and acknowledgements that time out.
Each takes the incident's row lock, leaves a timeline entry with its actor, and pages through
``oncall.paging.stepping.take_steps`` (so the outbox's unique key still keeps every page
exactly-once).
Callers own the transaction; nothing here commits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from oncall import db
from oncall.incidents import followups, record
from oncall.incidents import lock as _lock
from oncall.models import EscalationPolicy, Incident, Schedule, Service, User
from oncall.paging.policy_snapshot import Policy, Target
from oncall.paging.stepping import take_steps


class ActionError(ValueError):
    """The request names something that does not exist; ``field`` says which part."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


def _restart(session: Session, incident: Incident, now: datetime, **values: Any) -> Incident:
    """Make the incident triggered and due now (its acknowledgement, if any, is dropped)."""
    session.execute(update(Incident).where(Incident.id == incident.id).values(
        status="triggered", acked_at=None, acked_by=None, next_action_at=now, updated_at=now,
        **values))
    return _lock(session, incident.id)


def escalate_now(session: Session, incident_id: int, actor: str, now: datetime, *,
                 via: str | None = None) -> Incident:
    """Page the incident's next level now (an acknowledged incident is triggered again).
    A resolved incident is left as it is. ``via``: the channel it came from, for the
    timeline. Raises ``oncall.incidents.NotFound``."""
    incident = _lock(session, incident_id)
    if incident.status == "resolved":
        return incident
    record(session, incident_id, "escalate_requested", actor, now, level=incident.level,
           loop=incident.loop, was=incident.status, **({"via": via} if via else {}))
    incident = _restart(session, incident, now)
    take_steps(session, [incident], now, actor=actor)
    return _paged(session, incident_id)


def _paged(session: Session, incident_id: int) -> Incident:
    """The incident as its step left it, noted for the follow-ups of a page sent by hand
    (``oncall.incidents.followups.paged``: out now, next level, Slack messages)."""
    incident = _lock(session, incident_id)
    followups.paged(session, incident.id, incident.level, incident.loop,
                    incident.next_action_at)
    return incident


def reassign(session: Session, incident_id: int, actor: str, now: datetime, *,
             users: list[str] | None = None, policy: str | None = None,
             schedule: str | None = None) -> Incident:
    """Hand the incident to other people and page them now, from level 1.

    ``policy``: that policy's current levels replace the frozen ones. ``users``: a first
    level naming those users is put in front of the incident's frozen policy, so that if
    they do not acknowledge either, the original ladder runs again after them.
    ``schedule``: the same, with a first level naming that schedule (whoever is on call on
    it when the level pages)."""
    if sum(x is not None for x in (users, policy, schedule)) != 1:
        raise ActionError("users", "give one of users, policy or schedule")
    incident = _lock(session, incident_id)
    if incident.status == "resolved":
        return incident
    if policy is not None:
        found = session.scalar(select(EscalationPolicy).where(EscalationPolicy.name == policy))
        if found is None:
            raise ActionError("policy", f"no policy {policy!r}")
        snapshot = Policy.of(found)
        detail: dict[str, Any] = {"policy": policy}
    elif schedule is not None:
        if session.scalar(select(Schedule.id).where(Schedule.name == schedule)) is None:
            raise ActionError("schedule", f"no schedule {schedule!r}")
        snapshot = _first(session, incident, [Target("schedule", schedule)])
        detail = {"schedule": schedule}
    else:
        assert users is not None
        if not users:
            raise ActionError("users", "name at least one user")
        known = set(session.scalars(select(User.email).where(User.email.in_(users))))
        missing = [u for u in users if u not in known]
        if missing:
            raise ActionError("users", f"no user {', '.join(map(repr, missing))}")
        snapshot = _first(session, incident, [Target("user", u) for u in users])
        detail = {"users": users}
    record(session, incident_id, "reassigned", actor, now, was=incident.status,
           from_policy=incident.policy.name if incident.policy else None, **detail)
    snapshot, loop = snapshot.restarted(incident.loop)
    incident = _restart(session, incident, now, policy=snapshot, level=0, loop=loop)
    take_steps(session, [incident], now, actor=actor)
    return _paged(session, incident_id)


def _first(session: Session, incident: Incident, targets: list[Target]) -> Policy:
    """The incident's frozen policy with a first level of ``targets`` put in front."""
    current = incident.policy
    if current is None:
        service = session.get(Service, incident.service_id)
        current = Policy.of(service.policy if service else None)
    return current.with_first(targets, f"reassigned, then {current.name}")


def expire_acks(session: Session, now: datetime, limit: int = 200) -> list[int]:
    """Re-trigger acknowledged incidents whose acknowledgement has timed out (their
    ``next_action_at`` is the end of the ``ack_timeout``): escalation restarts at level 1,
    in a new loop (so its pages are new pages), with the policy's full repeat count."""
    query = (select(Incident.id, Incident.acked_by, Incident.acked_at, Incident.policy,
                    Incident.loop)
             .where(Incident.status == "acknowledged", Incident.next_action_at <= now)
             .order_by(Incident.next_action_at).limit(limit))
    if db.is_postgres(session):
        query = query.with_for_update(skip_locked=True, key_share=True, of=Incident)
    expired = []
    for incident_id, acked_by, acked_at, policy, loop in session.execute(query).all():
        snapshot, new_loop = (policy or Policy()).restarted(loop)
        changed = session.execute(
            update(Incident)
            .where(Incident.id == incident_id, Incident.status == "acknowledged",
                   Incident.next_action_at <= now)
            .values(status="triggered", acked_at=None, acked_by=None, level=0, loop=new_loop,
                    policy=snapshot, next_action_at=now, updated_at=now)).rowcount  # type: ignore[attr-defined]
        if changed:
            record(session, incident_id, "ack_timed_out", "system", now, acked_by=acked_by,
                   acked_at=acked_at.isoformat() if acked_at else None)
            expired.append(incident_id)
    return expired
