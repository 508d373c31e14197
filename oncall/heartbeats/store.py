"""Heartbeats in the database: recording pings, the beat check, and the incidents they open
and resolve (through ``oncall.incidents.intake``, so dedup, maintenance windows and the
escalation are the same as for any alert). Callers own the transaction and enqueue
escalations after commit.

Concurrency: the checker claims due rows with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL; a
ping locks its row (waiting for a checker that holds it). On SQLite, and as a second guard
everywhere, every write is ``UPDATE .. WHERE version = :seen``: a writer that lost the race
re-reads and runs again, so a ping and the checker can never undo each other.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from oncall import db
from oncall.heartbeats import state
from oncall.heartbeats.state import Event, Spec, Status
from oncall.hostile import clean
from oncall.incidents import followups, intake
from oncall.ingest import NormalizedAlert
from oncall.models import Heartbeat, HeartbeatPing, Incident, utcnow
from oncall.paging.policy_snapshot import Policy

log = logging.getLogger(__name__)

BODY_LIMIT = 10_000  # bytes of a ping's body kept, as healthchecks.io does
PINGS_KEPT = 100  # per heartbeat
ATTEMPTS = 5


def spec_of(hb: Heartbeat) -> Spec:
    return Spec(hb.period, hb.cron, hb.timezone, hb.grace)


def status_of(hb: Heartbeat) -> Status:
    return Status(hb.state, hb.next_due_at, hb.last_start_at, hb.down_reason)


def dedup_key(name: str) -> str:
    return f"heartbeat:{name}"


def save(session: Session, hb: Heartbeat, status: Status, **extra: Any) -> bool:
    """Store ``status`` if nobody changed the heartbeat since it was read."""
    changed = session.connection().execute(
        update(Heartbeat)
        .where(Heartbeat.id == hb.id, Heartbeat.version == hb.version)
        .values(state=status.state, next_due_at=status.next_due_at,
                last_start_at=status.last_start_at, down_reason=status.down_reason,
                check_at=state.check_at(spec_of(hb), status), version=hb.version + 1, **extra)
    ).rowcount
    return bool(changed == 1)


def _load(session: Session, query: Any, lock: bool) -> Heartbeat | None:
    if lock and db.is_postgres(session):
        query = query.with_for_update(of=Heartbeat)
    found: Heartbeat | None = session.scalars(
        query.execution_options(populate_existing=True)).first()
    return found


def record_ping(session: Session, uuid: str, kind: str, now: datetime, *,
                exit_status: int | None = None, remote_addr: str | None = None,
                user_agent: str | None = None, body: bytes | None = None) -> list[int] | None:
    """Log the ping and move the state machine. Returns the incidents opened (to escalate
    after commit), or None for an unknown uuid."""
    query = select(Heartbeat).where(Heartbeat.uuid == uuid)
    for _ in range(ATTEMPTS):
        hb = _load(session, query, lock=True)
        if hb is None:
            return None
        status, event = state.ping(spec_of(hb), status_of(hb), kind, now, exit_status)
        extra: dict[str, Any] = {"last_ping_at": now}
        if kind == "success":
            extra["last_success_at"] = now
        if save(session, hb, status, **extra):
            break
    else:
        raise RuntimeError(f"heartbeat {uuid}: could not record a ping (constant contention)")
    session.add(HeartbeatPing(
        heartbeat_id=hb.id, kind=kind, at=now, exit_status=exit_status,
        remote_addr=clean(remote_addr or "")[:64] or None,
        user_agent=clean(user_agent or "")[:300] or None,
        # A ping is a ping: a NUL (which the database cannot hold) is replaced, not refused.
        body=clean(body[:BODY_LIMIT].decode("utf-8", "replace")) if body else None))
    session.flush()
    _prune(session, hb.id)
    return report(session, hb, event, now) if event else []


def _prune(session: Session, heartbeat_id: int) -> None:
    cutoff = session.scalar(select(HeartbeatPing.id)
                            .where(HeartbeatPing.heartbeat_id == heartbeat_id)
                            .order_by(HeartbeatPing.id.desc()).offset(PINGS_KEPT).limit(1))
    if cutoff is not None:
        session.execute(delete(HeartbeatPing).where(HeartbeatPing.heartbeat_id == heartbeat_id,
                                                    HeartbeatPing.id <= cutoff))


def check_due(session: Session, now: datetime, limit: int = 200) -> list[int]:
    """The beat check: move every heartbeat due at ``now`` (late, down). Returns the
    incidents opened."""
    query = (select(Heartbeat.id).where(Heartbeat.check_at <= now)
             .order_by(Heartbeat.check_at).limit(limit))
    if db.is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    opened: list[int] = []
    for heartbeat_id in list(session.scalars(query)):
        try:
            with session.begin_nested():
                opened += _check_one(session, heartbeat_id, now)
        except Exception:  # one bad heartbeat must not stall every other
            log.exception("heartbeat %s: check failed", heartbeat_id)
    return opened


def _check_one(session: Session, heartbeat_id: int, now: datetime) -> list[int]:
    hb = _load(session, select(Heartbeat).where(Heartbeat.id == heartbeat_id), lock=False)
    if hb is None or hb.check_at is None or hb.check_at > now:
        return []  # a ping got there first
    status, event = state.check(spec_of(hb), status_of(hb), now)
    if not save(session, hb, status):
        return []  # changed under us (a ping): the next check looks again
    return report(session, hb, event, now) if event else []


def _when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC") if at else "never"


def summary(hb: Heartbeat, event: Event) -> str:
    name = hb.name
    if event.reason == "failed":
        code = f" (exit status {event.exit_status})" if event.exit_status is not None else ""
        return f"Heartbeat {name} is down: the job reported failure{code}"
    if event.reason == "run_timeout":
        return (f"Heartbeat {name} is down: started at {_when(event.started)} and sent no "
                f"success within {timedelta(seconds=hb.grace)}")
    since = hb.last_success_at
    what = f"no ping since {_when(since)}" if since else \
        f"never pinged since it was created at {_when(hb.created_at)}"
    return f"Heartbeat {name} is down: {what} (a run was due at {_when(event.due)})"


def report(session: Session, hb: Heartbeat, event: Event, now: datetime) -> list[int]:
    """Open (or join) the heartbeat's incident for a ``down`` event; resolve it for ``up``."""
    source = intake.Source(None, f"heartbeat:{hb.name}", "heartbeat", hb.service_id,
                           hb.service.name, actor=f"heartbeat:{hb.name}")
    firing = event.kind == "down"
    text = summary(hb, event) if firing else f"Heartbeat {hb.name} is up: success at {_when(now)}"
    alert = NormalizedAlert(
        type="heartbeat", summary=text, severity=hb.severity,
        status="firing" if firing else "resolved", dedup_key=dedup_key(hb.name),
        labels={"heartbeat": hb.name, **({"reason": event.reason} if event.reason else {})},
        raw={"heartbeat": hb.name, "uuid_prefix": hb.uuid[:8], "event": event.kind,
             "reason": event.reason, "due": event.due.isoformat() if event.due else None})
    [outcome] = intake.ingest(session, source, [alert], now)
    if not (outcome.new and outcome.incident_id is not None):
        return []
    if hb.policy is not None:  # the heartbeat's own policy, frozen like any other
        session.execute(update(Incident)
                        .where(Incident.id == outcome.incident_id, Incident.level == 0)
                        .values(policy=Policy.of(hb.policy)))
    return [outcome.incident_id]


def run_checks(factory: sessionmaker[Session], now: datetime | None = None) -> list[int]:
    """The beat task's body: one transaction; returns the incidents opened, whose first
    step is enqueued once it commits (``oncall.incidents.followups``).
    It reads, then writes what it read: on SQLite it takes the write lock first
    (``db.claiming``), or a ping or an alert committed in between would fail its writes."""
    with db.claiming(factory) as session:
        opened = check_due(session, now or utcnow())
        for incident_id in opened:
            followups.due(session, incident_id)
        return opened
