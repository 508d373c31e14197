"""Transactions around the engine: what a worker task or the sweeper runs. Each function
opens its own transactions, commits, and returns what should be enqueued next; the caller
(``worker/tasks.py``) does the enqueueing, after commit."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from oncall import engine, metrics
from oncall.models import SystemState, utcnow
from oncall.notify.sms import outbox

log = logging.getLogger(__name__)


@dataclass
class SweepReport:
    steps: list[tuple[int, engine.StepResult]] = field(default_factory=list)
    delivered: int = 0
    failed_incidents: list[int] = field(default_factory=list)


def escalate_incident(factory: sessionmaker[Session], incident_id: int,
                      expect: tuple[int, int] | None = None,
                      now: datetime | None = None) -> engine.StepResult | None:
    with factory() as session, session.begin():
        return engine.escalate(session, incident_id, now or utcnow(), expect)


def deliver_page(factory: sessionmaker[Session], page_id: int,
                 now: datetime | None = None) -> bool:
    """Send one page: claim and re-check (committed), call the provider outside any
    transaction, then store the outcome. Returns whether a send was attempted."""
    with factory() as session, session.begin():
        outgoing = engine.prepare_delivery(session, page_id, now or utcnow())
    if outgoing is None:
        return False
    # Twilio channels: throttle per number, bundle waiting SMS, record the request first.
    batch = outbox.prepare(factory, outgoing, now or utcnow())
    if batch is None:
        return False
    provider_id, error = outbox.send(batch)
    with factory() as session, session.begin():
        for sent_id in batch.page_ids:
            engine.record_outcome(session, sent_id, provider_id, error, utcnow())
        outbox.finish(session, batch, provider_id, error, utcnow())
    return True


def sweep(factory: sessionmaker[Session], now: datetime | None = None) -> SweepReport:
    """The backstop that makes escalation durable: whatever the broker lost, every due
    incident is stepped and every due page delivered here."""
    now = now or utcnow()
    report = SweepReport()
    with factory() as session, session.begin():
        for incident in engine.due_incidents(session, now):
            try:
                with session.begin_nested():
                    result = engine.take_step(session, incident, now)
            except Exception:  # one bad incident must not stall every other
                log.exception("sweeper: incident %s failed to escalate", incident.id)
                report.failed_incidents.append(incident.id)
                continue
            if result is not None:
                report.steps.append((incident.id, result))
        _mark(session, "sweeper", now)
    with factory() as session:
        page_ids = engine.due_pages(session, now)
    for page_id in page_ids:
        if deliver_page(factory, page_id, now):
            report.delivered += 1
    metrics.SWEEPS.inc()
    return report


def _mark(session: Session, key: str, now: datetime) -> None:
    """Note that ``key`` ran at ``now`` (read by /ready); an upsert, so sweepers never clash."""
    insert = (postgresql.insert if session.get_bind().dialect.name == "postgresql"
              else sqlite.insert)
    session.execute(insert(SystemState).values(key=key, value={}, updated_at=now)
                    .on_conflict_do_update(index_elements=["key"], set_={"updated_at": now}))
