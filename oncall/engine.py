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
from oncall.config import env_float
from oncall.incidents import record
from oncall.models import EscalationPolicy, Incident, Page, Service, User
from oncall.notify import DeliveryError, OutgoingPage, Recipient, page_text
from oncall.notify.registry import channel, channels_for
from oncall.scheduling.store import who_is_on_call

log = logging.getLogger(__name__)

# A page claimed longer ago than this was lost with its worker (tests shorten it).
LEASE = timedelta(seconds=env_float("ONCALL_PAGE_LEASE_SECONDS", 60.0))
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
    claimed = session.connection().execute(
        update(Incident)
        .where(Incident.id == incident.id, Incident.status == "triggered",
               Incident.level == incident.level, Incident.loop == incident.loop,
               Incident.next_action_at <= now)
        .values(level=step.level if step else incident.level,
                loop=step.loop if step else incident.loop,
                next_action_at=step.next_action_at if step else None,
                policy=policy, updated_at=now)
    ).rowcount
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
    return session.connection().execute(stmt).scalar()


def claim_page(session: Session, page_id: int, now: datetime) -> bool:
    """Take a page for sending: pending and due, or left 'sending' by a worker that died."""
    result = session.connection().execute(
        update(Page)
        .where(Page.id == page_id,
               ((Page.status == "pending") & (Page.next_attempt_at <= now))
               | ((Page.status == "sending") & (Page.lease_until < now)))
        .values(status="sending", attempts=Page.attempts + 1, lease_until=now + LEASE)
    )
    return bool(result.rowcount == 1)


def prepare_delivery(session: Session, page_id: int, now: datetime) -> OutgoingPage | None:
    """Claim the page and re-check that its incident still wants it. Returns what to send,
    or None (already taken, or cancelled because the incident was acknowledged)."""
    if not claim_page(session, page_id, now):
        return None
    conn = session.connection()
    row = conn.execute(
        select(Page.incident_id, Page.channel, Page.level, Page.message, Page.recipient,
               Incident.status, Incident.severity, Incident.summary, Service.name,
               User.email, User.name, User.phone, User.slack_id)
        .join(Incident, Incident.id == Page.incident_id)
        .join(Service, Service.id == Incident.service_id)
        .outerjoin(User, User.id == Page.user_id)
        .where(Page.id == page_id)).one()
    (incident_id, channel_name, level, message, recipient, status, severity, summary,
     service, email, name, phone, slack_id) = row
    if status != "triggered":
        conn.execute(update(Page).where(Page.id == page_id).values(
            status="cancelled", error=f"incident {status} before sending"))
        metrics.PAGES.labels(channel_name, "cancelled").inc()
        return None
    who = Recipient(email, name, phone, slack_id) if email else Recipient(None, recipient)
    return OutgoingPage(page_id=page_id, incident_id=incident_id, channel=channel_name,
                        recipient=who, severity=severity, summary=summary, service=service,
                        level=level, text=message or "")


def send(page: OutgoingPage) -> tuple[str | None, DeliveryError | None]:
    """Call the provider (outside any transaction)."""
    try:
        return channel(page.channel).send(page).provider_id, None
    except DeliveryError as exc:
        return None, exc


def record_outcome(session: Session, page_id: int, provider_id: str | None,
                   error: DeliveryError | None, now: datetime) -> None:
    conn = session.connection()
    row = conn.execute(select(Page.status, Page.attempts, Page.incident_id, Page.channel,
                              Page.recipient).where(Page.id == page_id)).first()
    if row is None or row.status != "sending":
        return
    where = update(Page).where(Page.id == page_id, Page.status == "sending")
    about = {"page_id": page_id, "channel": row.channel, "recipient": row.recipient}
    if error is None:
        status = "sent"
        conn.execute(where.values(status=status, provider_id=provider_id, sent_at=now,
                                  error=None))
        record(session, row.incident_id, "paged", "system", now, provider_id=provider_id,
               **about)
    elif error.permanent or row.attempts >= MAX_ATTEMPTS:
        status = "failed"
        conn.execute(where.values(status=status, error=str(error)))
        record(session, row.incident_id, "page_failed", "system", now, error=str(error),
               **about)
    else:
        status = "pending"
        conn.execute(where.values(
            status=status, error=str(error), lease_until=None,
            next_attempt_at=now + timedelta(seconds=min(300, 2 ** row.attempts))))
    metrics.PAGES.labels(row.channel, status).inc()


def due_pages(session: Session, now: datetime, limit: int = 200) -> list[int]:
    return list(session.scalars(
        select(Page.id)
        .where(((Page.status == "pending") & (Page.next_attempt_at <= now))
               | ((Page.status == "sending") & (Page.lease_until < now)))
        .order_by(Page.next_attempt_at).limit(limit)))


def page_failed(session: Session, page_id: int, error: str, *, permanent: bool,
                now: datetime) -> None:
    """A provider reported asynchronously that a sent page was not delivered (e.g. a Twilio
    status callback ``undelivered``). Records it on the page and the timeline."""
    # SEAM: replaced at merge (the notification-rules helper falls back to the next channel).
    conn = session.connection()
    row = conn.execute(select(Page.incident_id, Page.channel, Page.recipient, Page.status)
                       .where(Page.id == page_id)).first()
    if row is None or row.status == "failed":
        return
    conn.execute(update(Page).where(Page.id == page_id).values(status="failed", error=error))
    record(session, row.incident_id, "page_failed", "system", now, page_id=page_id,
           channel=row.channel, recipient=row.recipient, error=error, permanent=permanent)
    metrics.PAGES.labels(row.channel, "failed").inc()
