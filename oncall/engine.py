"""The escalation engine: take due incidents a step up their ladder, and deliver pages.

Every entry point takes ids and an explicit ``now``, reloads state, re-checks its
precondition and claims work with a conditional UPDATE, so a task delivered twice, a task and
the sweeper racing, or a worker killed half way can never page anyone twice for the same
(incident, level, loop, recipient, channel): that key is unique in the outbox.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from oncall import escalation, fallback, metrics, outbox
from oncall.incidents import record, record_many
from oncall.models import EscalationPolicy, Incident, Page, Service, User
from oncall.notify import DeliveryError, OutgoingPage, Recipient, page_text, rules
from oncall.notify.registry import channel, enabled
from oncall.scheduling.store import who_is_on_call

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)  # a page claimed longer ago than this was lost with its worker
MAX_ATTEMPTS = 8
MAX_BACKOFF = 300.0  # seconds between attempts, at most
MAX_RETRY_AFTER = 900.0  # a provider asking for a longer pause is not waited on longer


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
    plans: dict[tuple[int, str], rules.Plan] = field(default_factory=dict)

    def user(self, session: Session, email: str) -> User | None:
        if email not in self.users:
            self.users[email] = session.scalar(select(User).where(User.email == email))
        return self.users[email]

    def who_is_on_call(self, session: Session, schedule: str, now: datetime) -> str | None:
        if schedule not in self.on_call:
            self.on_call[schedule] = who_is_on_call(session, schedule, now)
        return self.on_call[schedule]

    def plan(self, session: Session, user: User, severity: str) -> rules.Plan:
        key = (user.id, severity)
        if key not in self.plans:
            self.plans[key] = rules.plan(session, user, severity)
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


def take_step(session: Session, incident: Incident, now: datetime,
              actor: str = "system", lookups: Lookups | None = None) -> StepResult | None:
    """Claim the incident's due step and page its level. A level that names nobody to page
    (nobody on call, no such user) is skipped at once, with a timeline entry, to the next
    level of the same loop; a new loop keeps its schedule."""
    policy = incident.policy
    if policy is None:
        service = session.get(Service, incident.service_id)
        policy = policy_snapshot(service.policy if service else None)
    level, loop, due = incident.level, incident.loop, incident.next_action_at
    lookups = lookups or Lookups()
    result: StepResult | None = None
    while True:
        step = escalation.next_step(policy, level, loop, now)
        # The first claim needs the step to be due; later ones hold the row already.
        claimed = session.connection().execute(_CLAIM_DUE if result is None else _CLAIM, {
            "incident_id": incident.id, "level": level, "loop": loop, "now": now,
            "new_level": step.level if step else level, "new_loop": step.loop if step else loop,
            "next_action_at": step.next_action_at if step else None, "policy": policy,
        }).rowcount
        if claimed != 1:
            return result
        if result is None:
            assert due is not None
            metrics.ESCALATION_LAG.observe(max(0.0, (now - due).total_seconds()))
            result = StepResult()
        if step is None:
            why = "no escalation policy" if not escalation.levels(policy) else "ladder exhausted"
            record(session, incident.id, "escalation_stopped", "system", now, reason=why)
            result.level, result.loop, result.next_action_at = level, loop, None
            return result
        result.level, result.loop = step.level, step.loop
        result.next_action_at = step.next_action_at
        reached = _page_level(session, incident, step, now, due, actor, result, lookups)
        nxt = escalation.following(policy, step.level, step.loop)
        if reached or step.next_action_at is None or nxt is None or nxt[1] != step.loop:
            return result
        record(session, incident.id, "level_skipped", "system", now, level=step.level,
               loop=step.loop, reason="nobody to page at this level")
        level, loop, due = step.level, step.loop, now


_CLAIM = (update(Incident)
          .where(Incident.id == bindparam("incident_id"), Incident.status == "triggered",
                 Incident.level == bindparam("level"), Incident.loop == bindparam("loop"))
          .values(level=bindparam("new_level"), loop=bindparam("new_loop"),
                  next_action_at=bindparam("next_action_at"), policy=bindparam("policy"),
                  updated_at=bindparam("now")))
_CLAIM_DUE = _CLAIM.where(Incident.next_action_at <= bindparam("now"))


def _page_level(session: Session, incident: Incident, step: escalation.Step, now: datetime,
                due: datetime | None, actor: str, result: StepResult,
                lookups: Lookups) -> bool:
    """Queue the level's pages; returns whether the level named anyone to page."""
    users, rooms = _resolve_targets(session, incident.id, step, now, lookups)
    record(session, incident.id, "escalated", actor, now, level=step.level, loop=step.loop,
           notified=[u.email for u in users] + rooms,
           due=due.isoformat() if due else None)
    message = page_text(incident.id, incident.severity, incident.service.name, incident.summary)
    for room in rooms:
        page_id = outbox.enqueue(session, incident.id, step.level, step.loop, room, None,
                                 "slack", message, now, now)
        if page_id is not None:
            result.page_ids.append(page_id)
    for user in users:
        plan = lookups.plan(session, user, incident.severity)
        if not plan.rules:
            record(session, incident.id, "user_unreachable", "system", now, user=user.email,
                   user_id=user.id, level=step.level, loop=step.loop, reasons=plan.skipped)
            continue
        for rule in plan.rules:
            page_id = outbox.enqueue(session, incident.id, step.level, step.loop,
                                     f"user:{user.id}", user.id, rule.channel, message,
                                     now + timedelta(seconds=rule.delay), now)
            if page_id is not None and rule.delay == 0:
                result.page_ids.append(page_id)
    return bool(users or rooms)


def _resolve_targets(session: Session, incident_id: int, step: escalation.Step,
                     now: datetime, lookups: Lookups) -> tuple[list[User], list[str]]:
    """The users a level names, in order, each once, and the Slack channels it names
    (``slack:#room``). A schedule contributes whoever is on call now; a schedule with nobody
    on call is noted on the timeline, never skipped silently."""
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
                record(session, incident_id, "nobody_on_call", "system", now, schedule=ref,
                       level=step.level)
                continue
            user = lookups.user(session, email)
        elif kind == "slack" and enabled("slack"):
            if f"slack:{ref}" not in rooms:
                rooms.append(f"slack:{ref}")
            continue
        else:
            record(session, incident_id, "target_unsupported", "system", now, target=target)
            continue
        if user is None:
            record(session, incident_id, "target_missing", "system", now, target=target)
        elif user not in users:
            users.append(user)
    return users, rooms


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
    found = _outgoing(session, [page_id])
    return found[0] if found else None


def claim_due(session: Session, now: datetime, limit: int = 200) -> tuple[int, list[OutgoingPage]]:
    """Claim up to ``limit`` due pages in one statement (PostgreSQL: ``SKIP LOCKED``, so
    sweepers share them) and re-check their incidents. Returns how many were claimed and
    what to send (pages of incidents acknowledged meanwhile are cancelled)."""
    due = (((Page.status == "pending") & (Page.next_attempt_at <= now))
           | ((Page.status == "sending") & (Page.lease_until < now)))
    pick = select(Page.id).where(due).order_by(Page.next_attempt_at).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True)
    ids = list(session.connection().execute(
        update(Page).where(Page.id.in_(pick.scalar_subquery()), due)
        .values(status="sending", attempts=Page.attempts + 1, lease_until=now + LEASE)
        .returning(Page.id)).scalars())
    return len(ids), _outgoing(session, ids) if ids else []


def _outgoing(session: Session, page_ids: list[int]) -> list[OutgoingPage]:
    """What to send for these claimed pages; those whose incident is no longer triggered
    are cancelled instead (the re-check right before sending)."""
    conn = session.connection()
    rows = conn.execute(
        select(Page.id, Page.incident_id, Page.channel, Page.level, Page.message,
               Page.recipient, Incident.status, Incident.severity, Incident.summary,
               Service.name, User.email, User.name, User.phone, User.slack_id)
        .join(Incident, Incident.id == Page.incident_id)
        .join(Service, Service.id == Incident.service_id)
        .outerjoin(User, User.id == Page.user_id)
        .where(Page.id.in_(page_ids)).order_by(Page.id)).all()
    out: list[OutgoingPage] = []
    for (page_id, incident_id, channel_name, level, message, recipient, status, severity,
         summary, service, email, name, phone, slack_id) in rows:
        if status != "triggered":
            conn.execute(update(Page).where(Page.id == page_id).values(
                status="cancelled", error=f"incident {status} before sending"))
            metrics.PAGES.labels(channel_name, "cancelled").inc()
            continue
        who = Recipient(email, name, phone, slack_id) if email else Recipient(None, recipient)
        out.append(OutgoingPage(page_id=page_id, incident_id=incident_id, channel=channel_name,
                                recipient=who, severity=severity, summary=summary,
                                service=service, level=level, text=message or ""))
    return out


def send(page: OutgoingPage) -> tuple[str | None, DeliveryError | None]:
    """Call the provider (outside any transaction). A channel that breaks in some other way
    (a bug, a channel no longer configured) is a transient failure: retried with backoff,
    then falling back, never leaving the page stuck or the sweeper stalled."""
    try:
        return channel(page.channel).send(page).provider_id, None
    except DeliveryError as exc:
        return None, exc
    except Exception as exc:
        log.exception("channel %s failed on page %s", page.channel, page.page_id)
        return None, DeliveryError(f"{page.channel} channel error: {exc!r}", permanent=False)


def record_outcome(session: Session, page_id: int, provider_id: str | None,
                   error: DeliveryError | None, now: datetime) -> list[int]:
    """Store what the provider said. A transient failure is retried with backoff (never
    sooner than the provider's ``retry_after``); a permanent one, or the last attempt, falls
    back to the user's next channel. Returns pages to send now (the fallback)."""
    conn = session.connection()
    row = conn.execute(select(Page.status, Page.attempts, Page.incident_id, Page.channel,
                              Page.recipient).where(Page.id == page_id)).first()
    if row is None or row.status != "sending":
        return []
    where = update(Page).where(Page.id == page_id, Page.status == "sending")
    about = {"page_id": page_id, "channel": row.channel, "recipient": row.recipient}
    follow: list[int] = []
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
               permanent=error.permanent, attempts=row.attempts, **about)
        follow = fallback.after_failure(session, page_id, str(error),
                                        permanent=error.permanent, now=now)
    else:
        status = "pending"
        retry_at = now + timedelta(seconds=retry_delay(row.attempts, error.retry_after))
        conn.execute(where.values(status=status, error=str(error), lease_until=None,
                                  next_attempt_at=retry_at))
        record(session, row.incident_id, "page_retry", "system", now, error=str(error),
               attempts=row.attempts, retry_at=retry_at.isoformat(),
               retry_after=error.retry_after, **about)
    metrics.PAGES.labels(row.channel, status).inc()
    return follow


def record_sent(session: Session, sent: list[tuple[int, str | None]], now: datetime) -> None:
    """Store many successful sends at once (the sweeper's common case): the same as
    ``record_outcome`` without an error, in three statements instead of three per page."""
    if not sent:
        return
    conn = session.connection()
    query = select(Page.id, Page.incident_id, Page.channel, Page.recipient).where(
        Page.id.in_([page_id for page_id, _ in sent]), Page.status == "sending")
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    rows = {row.id: row for row in conn.execute(query)}
    done = [(page_id, provider) for page_id, provider in sent if page_id in rows]
    if not done:
        return
    conn.execute(_SENT, [{"pid": page_id, "prov": provider, "now": now}
                         for page_id, provider in done])
    record_many(session, [
        {"incident_id": rows[page_id].incident_id, "kind": "paged", "actor": "system",
         "at": now, "detail": {"provider_id": provider, "page_id": page_id,
                               "channel": rows[page_id].channel,
                               "recipient": rows[page_id].recipient}}
        for page_id, provider in done])
    for page_id, _ in done:
        metrics.PAGES.labels(rows[page_id].channel, "sent").inc()


_SENT = (update(Page).where(Page.id == bindparam("pid"), Page.status == "sending")
         .values(status="sent", provider_id=bindparam("prov"), sent_at=bindparam("now"),
                 error=None))


def retry_delay(attempts: int, retry_after: float | None = None) -> float:
    """Seconds before the next attempt: exponential backoff (2, 4, 8 ... 300 s) with +-25%
    jitter so that pages failed together are not retried together; never sooner than the
    provider's Retry-After (itself capped at MAX_RETRY_AFTER)."""
    backoff = min(MAX_BACKOFF, 2.0 ** attempts) * random.uniform(0.75, 1.25)
    if retry_after is not None:
        backoff = max(backoff, min(float(retry_after), MAX_RETRY_AFTER))
    return backoff


def page_failed(session: Session, page_id: int, error: str, *, permanent: bool,
                now: datetime) -> None:
    """A provider reported after the fact that page ``page_id`` was not delivered (e.g. a
    Twilio status callback ``failed``/``undelivered``). A permanent failure disables the
    contact and falls back to the user's next channel at once (the sweeper sends it); a
    transient one is retried with backoff. Reporting the same failure twice changes nothing."""
    conn = session.connection()
    row = conn.execute(select(Page.status, Page.attempts, Page.incident_id, Page.channel,
                              Page.recipient).where(Page.id == page_id)).first()
    if row is None or row.status not in ("sending", "sent"):
        return
    about = {"page_id": page_id, "channel": row.channel, "recipient": row.recipient,
             "reported": "asynchronously"}
    where = update(Page).where(Page.id == page_id, Page.status.in_(("sending", "sent")))
    if permanent or row.attempts >= MAX_ATTEMPTS:
        if conn.execute(where.values(status="failed", error=error)).rowcount != 1:
            return
        record(session, row.incident_id, "page_failed", "system", now, error=error,
               permanent=permanent, attempts=row.attempts, **about)
        metrics.PAGES.labels(row.channel, "failed").inc()
        fallback.after_failure(session, page_id, error, permanent=permanent, now=now)
        return
    retry_at = now + timedelta(seconds=retry_delay(row.attempts))
    if conn.execute(where.values(status="pending", error=error, lease_until=None,
                                 next_attempt_at=retry_at)).rowcount == 1:
        record(session, row.incident_id, "page_retry", "system", now, error=error,
               attempts=row.attempts, retry_at=retry_at.isoformat(), **about)


def due_pages(session: Session, now: datetime, limit: int = 200) -> list[int]:
    return list(session.scalars(
        select(Page.id)
        .where(((Page.status == "pending") & (Page.next_attempt_at <= now))
               | ((Page.status == "sending") & (Page.lease_until < now)))
        .order_by(Page.next_attempt_at).limit(limit)))
