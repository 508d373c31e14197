"""Transactions around the engine: what a worker task or the sweeper runs. Each function
opens its own transactions, commits, and returns what should be enqueued next; the caller
(``worker/tasks.py``) does the enqueueing, after commit."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, sessionmaker

from oncall import actions, db, engine, metrics
from oncall.channels import DeliveryError, OutgoingPage, registry
from oncall.channels.sending import outbox_for
from oncall.models import Page, SystemState, utcnow

log = logging.getLogger(__name__)


@dataclass
class SweepReport:
    steps: list[tuple[int, engine.StepResult]] = field(default_factory=list)
    delivered: int = 0
    failed_incidents: list[int] = field(default_factory=list)
    # Stepped incidents whose due pages are on channels left to a deliver task each.
    to_deliver: list[int] = field(default_factory=list)


def escalate_incident(factory: sessionmaker[Session], incident_id: int,
                      expect: tuple[int, int] | None = None,
                      now: datetime | None = None) -> engine.StepResult | None:
    with db.claiming(factory) as session:
        return engine.escalate(session, incident_id, now or utcnow(), expect)


def deliver_page(factory: sessionmaker[Session], page_id: int,
                 now: datetime | None = None) -> bool:
    """Send one page: claim and re-check (committed), call the provider outside any
    transaction, then store the outcome. Returns whether a send was attempted.

    Never raises for the page's own failure, so that one page cannot abort a sweep or a
    task delivering others: an unexpected error (a bug, a constraint, the database going
    away half way) is logged, put on the incident's timeline and retried with backoff like
    a transient provider failure (``crashed``)."""
    try:
        with factory() as session, session.begin():
            outgoing = engine.prepare_delivery(session, page_id, now or utcnow())
        if outgoing is None:
            return False
        sent, follow = _deliver_claimed(factory, outgoing, now)
    except Exception as exc:
        log.exception("page %s: delivery failed; retried with backoff", page_id)
        follow = crashed(factory, page_id, exc, now or utcnow())
        sent = False
    for next_id in follow:  # a permanent failure falls back to the user's next channel now
        deliver_page(factory, next_id, now)
    return sent


def crashed(factory: sessionmaker[Session], page_id: int, exc: Exception,
            now: datetime) -> list[int]:
    """A page whose delivery broke unexpectedly: if it is still ours (``sending``), record
    the error as a transient failure (the timeline's ``page_retry``, backoff; after the last
    attempt ``page_failed`` and the user's next channel). If a request went out before the
    error, the next attempt finds it at the provider instead of sending again (its outbox).
    Should even this fail (the database is down), the page's lease runs out and the sweeper
    takes it again. Returns pages to send now (a fallback)."""
    error = DeliveryError(f"internal error: {exc!r}"[:500], permanent=False)
    try:
        with db.claiming(factory) as session:
            return engine.record_outcome(session, page_id, None, error, now)
    except Exception:
        log.exception("page %s: could not record the failure; retried after its lease",
                      page_id)
        return []


def _deliver_claimed(factory: sessionmaker[Session], outgoing: OutgoingPage,
                     now: datetime | None) -> tuple[bool, list[int]]:
    """Send a claimed page through its channel's outbox (``oncall.channels.sending``: SMS
    throttles per number, bundles the person's waiting SMS, records the request before making
    it). Returns whether a send was attempted, and the fallback pages to send now."""
    outbox = outbox_for(outgoing.channel)
    batch = outbox.prepare(factory, outgoing, now or utcnow())
    if batch is None:  # throttled: pending again, due when the number may next be reached
        return False, []
    provider_id, error = outbox.send(batch, engine.send)
    follow: list[int] = []
    note: dict[str, Any] | None = None
    if batch.found is not None:  # no new request: an earlier one had gone out
        note = {"request": batch.found[0], "answer_lost": True}
        if outgoing.closed is not None:
            note["before"] = outgoing.closed  # sent before the incident was acknowledged
    with db.claiming(factory) as session:
        for sent_id in batch.page_ids:
            follow += engine.record_outcome(session, sent_id, provider_id, error,
                                            now or utcnow(), note)
        outbox.finish(session, batch, provider_id, error, now or utcnow())
    return True, follow


def deliver_incident(factory: sessionmaker[Session], incident_id: int,
                     now: datetime | None = None) -> int:
    """Send the incident's pages that are due now: those a manual escalate or reassign just
    queued (without this they would wait for the next sweep). Returns how many were tried."""
    at = now or utcnow()
    with factory() as session:
        due = list(session.scalars(select(Page.id).where(
            Page.incident_id == incident_id, Page.status == "pending",
            Page.next_attempt_at <= at).order_by(Page.id)))
    return sum(deliver_page(factory, page_id, now) for page_id in due)


def hand_over(factory: sessionmaker[Session], incident_ids: list[int],
              enqueue: Callable[[int], bool], now: datetime | None = None) -> None:
    """Hand each incident's due provider pages to a deliver task (``enqueue``). Once the
    broker refuses one (Redis restarting), send this one and the rest here instead: the
    sweeper, whose beat needs the broker too, would not send them until it is back."""
    broker_up = True
    for incident_id in incident_ids:
        broker_up = broker_up and enqueue(incident_id)
        if not broker_up:
            deliver_incident(factory, incident_id, now)


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
    (``oncall.wake``), so that a burst of them is stepped in a few transactions rather
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
            batch = engine.due_incidents(session, now, limit)
            results = engine.take_steps(session, batch, now)
    except Exception as exc:
        log.warning("sweeper: a step failed; stepping the batch one incident at a time",
                    exc_info=not isinstance(exc, engine.Contended))
        return _step_each(factory, fixed, report, limit)
    report.steps += [(incident.id, r) for incident, r in zip(batch, results, strict=True)]
    return len(batch) == limit


def _step_each(factory: sessionmaker[Session], fixed: datetime | None,
               report: SweepReport, limit: int) -> bool:
    lookups = engine.Lookups()
    with db.claiming(factory) as session:
        batch = engine.due_incidents(session, fixed or utcnow(), limit)
        for incident in batch:
            try:
                with session.begin_nested():
                    # The real time of each step (unless told), so lateness is measured true.
                    result = engine.take_step(session, incident, fixed or utcnow(),
                                              lookups=lookups)
            except Exception:  # one bad incident must not stall every other
                log.exception("sweeper: incident %s failed to escalate", incident.id)
                report.failed_incidents.append(incident.id)
                continue
            if result is not None:
                report.steps.append((incident.id, result))
    return len(batch) == limit


def _deliver_batch(factory: sessionmaker[Session], fixed: datetime | None,
                   report: SweepReport, limit: int = 200,
                   only: tuple[str, ...] | None = None) -> bool:
    """Claim a batch of due pages in one statement, send them, and store the outcomes in
    one transaction. Returns whether there may be more (a full batch, or fallbacks).
    ``only``: these channels alone (none of them sent one by one)."""
    with factory() as session, session.begin():
        claimed, outgoing = engine.claim_due(session, fixed or utcnow(), limit,
                                             exclude=registry.one_by_one(), only=only)
        one_by_one = [] if only is not None else engine.due_pages(
            session, fixed or utcnow(), limit, channels=registry.one_by_one())
    # Channels with an outbox one by one (SMS: each claim bundles that person's other waiting
    # SMS and respects the per-number throttle; a page bundled into an earlier one is skipped).
    for page_id in one_by_one:
        deliver_page(factory, page_id, fixed)
    follow: list[int] = []
    results = [(page.page_id, *engine.send(page)) for page in outgoing]
    with db.claiming(factory) as session:
        engine.record_sent(session, [(page_id, provider_id)
                                     for page_id, provider_id, error in results
                                     if error is None], fixed or utcnow())
        for page_id, provider_id, error in results:
            if error is None:
                continue
            try:
                with session.begin_nested():
                    follow += engine.record_outcome(session, page_id, provider_id, error,
                                                    fixed or utcnow())
            except Exception:  # the page stays 'sending' and is retried after its lease
                log.exception("sweeper: could not record the outcome of page %s", page_id)
    report.delivered += len(results) + len(one_by_one)
    return claimed == limit or len(one_by_one) == limit or bool(follow)


def _mark(session: Session, key: str, now: datetime) -> None:
    """Note that ``key`` ran at ``now`` (read by /ready); an upsert, so sweepers never clash."""
    insert = db.insert_for(session)
    session.execute(insert(SystemState).values(key=key, value={}, updated_at=now)
                    .on_conflict_do_update(index_elements=["key"], set_={"updated_at": now}))
