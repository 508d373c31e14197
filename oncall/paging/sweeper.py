"""The sweeper: the periodic re-drive that makes escalation durable. Whatever the broker
lost, every due incident is stepped and every due page delivered here, in batches of a few
statements each (``dispatch``, also run the moment new incidents wake a worker:
``wake_listener``). Each function opens its own transactions and commits; the caller
(``worker/tasks.py``) enqueues what it returns, after commit."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, sessionmaker

from oncall import actions, db, metrics
from oncall.channels import registry
from oncall.models import Page, SystemState, utcnow
from oncall.paging import delivery, stepping
from oncall.paging.runs import deliver_page
from oncall.paging.step_plan import Lookups, StepResult

log = logging.getLogger(__name__)


@dataclass
class SweepReport:
    steps: list[tuple[int, StepResult]] = field(default_factory=list)
    delivered: int = 0
    failed_incidents: list[int] = field(default_factory=list)
    # Stepped incidents whose due pages are on channels left to a deliver task each.
    to_deliver: list[int] = field(default_factory=list)


def sweep(factory: sessionmaker[Session], now: datetime | None = None,
          budget: float = 10.0) -> SweepReport:
    """The backstop that makes escalation durable: whatever the broker lost, every due
    incident is stepped and every due page delivered here. Works in batches until nothing
    is due or ``budget`` seconds have passed (then the next sweep carries on)."""
    with factory() as session, session.begin():
        actions.expire_acks(session, now or utcnow())
        _mark(session, "sweeper", now or utcnow())
    report = dispatch(factory, now, budget)
    metrics.SWEEPS.inc()
    return report


def dispatch(factory: sessionmaker[Session], now: datetime | None = None,
             budget: float = 10.0, limit: int = 200, local_only: bool = False) -> SweepReport:
    """Step every due incident and deliver every due page, in batches: the sweep without
    its housekeeping. Also run the moment the database announces new incidents
    (``wake_listener``), so that a burst of them is stepped in a few transactions rather
    than one task each. ``local_only``: deliver only pages on channels that make no network
    call (the console) and list the stepped incidents with other due pages in
    ``to_deliver``, for tasks to send (in parallel, so a slow provider holds up no one)."""
    report = SweepReport()
    started = time.monotonic()
    only = registry.LOCAL if local_only else None
    # A batch of steps, then the pages due (theirs first among them), and again: while new
    # incidents keep coming, the pages of the ones already stepped still go out.
    more = True
    while more and time.monotonic() - started < budget:
        stepped = _step_batch(factory, now, report, limit)
        delivered = _deliver_batch(factory, now, report, limit, only)
        more = stepped or delivered
    if local_only and report.steps:
        report.to_deliver = _with_due_pages(factory, [i for i, _ in report.steps],
                                            now or utcnow())
    return report


def _with_due_pages(factory: sessionmaker[Session], incident_ids: list[int],
                    now: datetime) -> list[int]:
    with factory() as session:
        return list(session.scalars(_DUE_ELSEWHERE[db.is_postgres(session)],
                                    {"ids": incident_ids, "now": now}))


# Built once per dialect: every dispatch runs it.
_DUE_ELSEWHERE = {
    pg: select(Page.incident_id).distinct()
    .where(db.among(Page.incident_id, "ids", pg), Page.status == "pending",
           Page.next_attempt_at <= bindparam("now"), Page.channel.not_in(registry.LOCAL))
    .order_by(Page.incident_id)
    for pg in (True, False)}


def _step_batch(factory: sessionmaker[Session], fixed: datetime | None,
                report: SweepReport, limit: int = 200) -> bool:
    """Step one batch of due incidents in one transaction, a few statements for all of them;
    returns whether it was full. Should a step fail (or, on SQLite, an incident change under
    it), the batch is rolled back and stepped again one savepoint per incident, so that one
    bad incident cannot stall every other."""
    try:
        with db.claiming(factory) as session:
            now = fixed or utcnow()
            batch = stepping.due_incidents(session, now, limit)
            results = stepping.take_steps(session, batch, now)
    except Exception as exc:
        log.warning("sweeper: a step failed; stepping the batch one incident at a time",
                    exc_info=not isinstance(exc, stepping.Contended))
        return _step_each(factory, fixed, report, limit)
    report.steps += [(incident.id, r) for incident, r in zip(batch, results, strict=True)]
    return len(batch) == limit


def _step_each(factory: sessionmaker[Session], fixed: datetime | None,
               report: SweepReport, limit: int) -> bool:
    lookups = Lookups()
    with db.claiming(factory) as session:
        batch = stepping.due_incidents(session, fixed or utcnow(), limit)
        for incident in batch:
            try:
                with session.begin_nested():
                    # The real time of each step (unless told), so lateness is measured true.
                    [result] = stepping.take_steps(session, [incident], fixed or utcnow(),
                                                   lookups=lookups)
            except stepping.Contended:  # not due any more: someone else took the step
                continue
            except Exception:  # one bad incident must not stall every other
                log.exception("sweeper: incident %s failed to escalate", incident.id)
                report.failed_incidents.append(incident.id)
                continue
            report.steps.append((incident.id, result))
    return len(batch) == limit


def _deliver_batch(factory: sessionmaker[Session], fixed: datetime | None,
                   report: SweepReport, limit: int = 200,
                   only: tuple[str, ...] | None = None) -> bool:
    """Claim a batch of due pages in one statement, send them, and store the outcomes in
    one transaction. Returns whether there may be more (a full batch, or fallbacks).
    ``only``: these channels alone (none of them sent one by one)."""
    with factory() as session, session.begin():
        claimed, outgoing = delivery.claim_due(session, fixed or utcnow(), limit, only=only,
                                               exclude=registry.one_by_one())
        one_by_one = [] if only is not None else delivery.due_pages(
            session, fixed or utcnow(), limit, channels=registry.one_by_one())
    # Channels with an outbox one by one (SMS: each claim bundles that person's other waiting
    # SMS and respects the per-number throttle; a page bundled into an earlier one is skipped).
    for page_id in one_by_one:
        deliver_page(factory, page_id, fixed)
    follow: list[int] = []
    results = [(page.page_id, *delivery.send(page)) for page in outgoing]
    with db.claiming(factory) as session:
        delivery.record_sent(session, [(page_id, provider_id)
                                       for page_id, provider_id, error in results
                                       if error is None], fixed or utcnow())
        for page_id, provider_id, error in results:
            if error is None:
                continue
            try:
                with session.begin_nested():
                    follow += delivery.record_outcome(session, page_id, provider_id,
                                                      error, fixed or utcnow())
            except Exception:  # the page stays 'sending' and is retried after its lease
                log.exception("sweeper: could not record the outcome of page %s", page_id)
    report.delivered += len(results) + len(one_by_one)
    return claimed == limit or len(one_by_one) == limit or bool(follow)


def _mark(session: Session, key: str, now: datetime) -> None:
    """Note that ``key`` ran at ``now`` (read by /ready); an upsert, so sweepers never clash."""
    insert = db.insert_for(session)
    session.execute(insert(SystemState).values(key=key, value={}, updated_at=now)
                    .on_conflict_do_update(index_elements=["key"], set_={"updated_at": now}))
