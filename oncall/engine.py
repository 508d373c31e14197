"""The escalation engine: take due incidents a step up their ladder, and deliver pages.

Every entry point takes ids and an explicit ``now``, reloads state, re-checks its
precondition and claims work with a conditional UPDATE, so a task delivered twice, a task and
the sweeper racing, or a worker killed half way can never page anyone twice for the same
(incident, level, loop, recipient, channel): that key is unique in the outbox.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from oncall import escalation, metrics
from oncall.incidents import record
from oncall.models import EscalationPolicy, Incident, Page, Service, User
from oncall.notify import DeliveryError, OutgoingPage, Recipient, page_text
from oncall.notify.registry import channel, channels_for
from oncall.scheduling.store import who_is_on_call

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)  # a page claimed longer ago than this was lost with its worker
MAX_ATTEMPTS = 8


@dataclass
class StepResult:
    """What a step committed: pages to deliver, and when the incident is due next."""

    page_ids: list[int] = field(default_factory=list)
    level: int = 0
    loop: int = 0
    next_action_at: datetime | None = None


def policy_snapshot(policy: EscalationPolicy | None) -> dict[str, Any]:
    if policy is None:
        return {"name": None, "repeat": 0, "levels": []}
    return {
        "id": policy.id, "name": policy.name, "repeat": policy.repeat,
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
    if session.get_bind().dialect.name == "postgresql":
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
    query = (select(Incident)
             .where(Incident.status == "triggered", Incident.next_action_at <= now)
             .order_by(Incident.next_action_at).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, key_share=True, of=Incident)
    return list(session.scalars(query.execution_options(populate_existing=True)))


def take_step(session: Session, incident: Incident, now: datetime) -> StepResult | None:
    policy = incident.policy
    if policy is None:
        service = session.get(Service, incident.service_id)
        policy = policy_snapshot(service.policy if service else None)
    step = escalation.next_step(policy, incident.level, incident.loop, now)
    claimed = session.execute(
        update(Incident)
        .where(Incident.id == incident.id, Incident.status == "triggered",
               Incident.level == incident.level, Incident.loop == incident.loop,
               Incident.next_action_at <= now)
        .values(level=step.level if step else incident.level,
                loop=step.loop if step else incident.loop,
                next_action_at=step.next_action_at if step else None,
                policy=policy, updated_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    if claimed != 1:
        return None
    assert incident.next_action_at is not None
    metrics.ESCALATION_LAG.observe(max(0.0, (now - incident.next_action_at).total_seconds()))
    if step is None:
        why = "no escalation policy" if not escalation.levels(policy) else "ladder exhausted"
        record(session, incident.id, "escalation_stopped", "system", now, reason=why)
        return StepResult(level=incident.level, loop=incident.loop)
    result = StepResult(level=step.level, loop=step.loop, next_action_at=step.next_action_at)
    users = _resolve_targets(session, incident.id, step, now)
    record(session, incident.id, "escalated", "system", now, level=step.level, loop=step.loop,
           notified=[u.email for u in users])
    for user in users:
        for name in channels_for(user):
            page_id = _enqueue_page(session, incident, step, user, name, now)
            if page_id is not None:
                result.page_ids.append(page_id)
    return result


def _resolve_targets(session: Session, incident_id: int, step: escalation.Step,
                     now: datetime) -> list[User]:
    """The users a level names, in order, each once. A schedule contributes whoever is on
    call now; a schedule with nobody on call is noted on the timeline, never skipped silently."""
    users: list[User] = []
    for target in step.targets:
        kind, ref = target.get("type"), target.get("ref")
        user: User | None = None
        if kind == "user":
            user = session.scalar(select(User).where(User.email == ref))
        elif kind == "schedule":
            email = who_is_on_call(session, str(ref), now)
            if email is None:
                record(session, incident_id, "nobody_on_call", "system", now, schedule=ref,
                       level=step.level)
                continue
            user = session.scalar(select(User).where(User.email == email))
        else:
            record(session, incident_id, "target_unsupported", "system", now, target=target)
            continue
        if user is None:
            record(session, incident_id, "target_missing", "system", now, target=target)
        elif user not in users:
            users.append(user)
    return users


def _enqueue_page(session: Session, incident: Incident, step: escalation.Step, user: User,
                  channel_name: str, now: datetime) -> int | None:
    insert = (postgresql.insert if session.get_bind().dialect.name == "postgresql"
              else sqlite.insert)
    stmt = (insert(Page)
            .values(incident_id=incident.id, level=step.level, loop=step.loop,
                    recipient=f"user:{user.id}", user_id=user.id, channel=channel_name,
                    status="pending", attempts=0, next_attempt_at=now, created_at=now,
                    message=page_text(incident.id, incident.severity, incident.service.name,
                                      incident.summary))
            .on_conflict_do_nothing(index_elements=["incident_id", "level", "loop",
                                                    "recipient", "channel"])
            .returning(Page.id))
    return session.execute(stmt).scalar()


def claim_page(session: Session, page_id: int, now: datetime) -> bool:
    """Take a page for sending: pending and due, or left 'sending' by a worker that died."""
    result = session.execute(
        update(Page)
        .where(Page.id == page_id,
               ((Page.status == "pending") & (Page.next_attempt_at <= now))
               | ((Page.status == "sending") & (Page.lease_until < now)))
        .values(status="sending", attempts=Page.attempts + 1, lease_until=now + LEASE)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def prepare_delivery(session: Session, page_id: int, now: datetime) -> OutgoingPage | None:
    """Claim the page and re-check that its incident still wants it. Returns what to send,
    or None (already taken, or cancelled because the incident was acknowledged)."""
    if not claim_page(session, page_id, now):
        return None
    page = session.get(Page, page_id, populate_existing=True)
    assert page is not None
    incident = session.get(Incident, page.incident_id, populate_existing=True)
    if incident is None or incident.status != "triggered":
        page.status = "cancelled"
        page.error = f"incident {incident.status if incident else 'deleted'} before sending"
        metrics.PAGES.labels(page.channel, "cancelled").inc()
        return None
    user = session.get(User, page.user_id) if page.user_id else None
    recipient = (Recipient(user.email, user.name, user.phone, user.slack_id) if user
                 else Recipient(None, page.recipient))
    return OutgoingPage(page_id=page.id, incident_id=incident.id, channel=page.channel,
                        recipient=recipient, severity=incident.severity,
                        summary=incident.summary, service=incident.service.name,
                        level=page.level, text=page.message or "")


def send(page: OutgoingPage) -> tuple[str | None, DeliveryError | None]:
    """Call the provider (outside any transaction)."""
    try:
        return channel(page.channel).send(page).provider_id, None
    except DeliveryError as exc:
        return None, exc


def record_outcome(session: Session, page_id: int, provider_id: str | None,
                   error: DeliveryError | None, now: datetime) -> None:
    page = session.get(Page, page_id, populate_existing=True)
    if page is None or page.status != "sending":
        return
    if error is None:
        page.status, page.provider_id, page.sent_at, page.error = "sent", provider_id, now, None
        record(session, page.incident_id, "paged", "system", now, page_id=page.id,
               channel=page.channel, recipient=page.recipient, provider_id=provider_id)
    elif error.permanent or page.attempts >= MAX_ATTEMPTS:
        page.status, page.error = "failed", str(error)
        record(session, page.incident_id, "page_failed", "system", now, page_id=page.id,
               channel=page.channel, recipient=page.recipient, error=str(error))
    else:
        page.status, page.error = "pending", str(error)
        page.next_attempt_at = now + timedelta(seconds=min(300, 2 ** page.attempts))
        page.lease_until = None
    metrics.PAGES.labels(page.channel, page.status).inc()


def due_pages(session: Session, now: datetime, limit: int = 200) -> list[int]:
    return list(session.scalars(
        select(Page.id)
        .where(((Page.status == "pending") & (Page.next_attempt_at <= now))
               | ((Page.status == "sending") & (Page.lease_until < now)))
        .order_by(Page.next_attempt_at).limit(limit)))
