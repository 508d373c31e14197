"""What one worker task runs (``worker/tasks.py``): escalate an incident, deliver a page or
an incident's due pages, hand pages over to deliver tasks. Each function opens its own
transactions, commits, and returns what should be enqueued next; the caller does the
enqueueing, after commit. The batches the sweeper and the wake-ups run are ``sweeper``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from oncall import db
from oncall.channels import DeliveryError, OutgoingPage
from oncall.channels.sending import outbox_for
from oncall.models import Page, utcnow
from oncall.paging import delivery, stepping
from oncall.paging.step_plan import StepResult

log = logging.getLogger(__name__)


def escalate_incident(factory: sessionmaker[Session], incident_id: int,
                      expect: tuple[int, int] | None = None,
                      now: datetime | None = None) -> StepResult | None:
    with db.claiming(factory) as session:
        return stepping.escalate(session, incident_id, now or utcnow(), expect)


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
            outgoing = delivery.prepare_delivery(session, page_id, now or utcnow())
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
            return delivery.record_outcome(session, page_id, None, error, now)
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
    batch = outbox.prepare(factory, outgoing, now or utcnow(), delivery.claim_page)
    if batch is None:  # throttled: pending again, due when the number may next be reached
        return False, []
    provider_id, error = outbox.send(batch, delivery.send)
    follow: list[int] = []
    note: dict[str, Any] | None = None
    if batch.found is not None:  # no new request: an earlier one had gone out
        note = {"request": batch.found[0], "answer_lost": True}
        if outgoing.closed is not None:
            note["before"] = outgoing.closed  # sent before the incident was acknowledged
    with db.claiming(factory) as session:
        for sent_id in batch.page_ids:
            follow += delivery.record_outcome(session, sent_id, provider_id, error,
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

