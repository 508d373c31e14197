"""Delivering pages: claim (with a lease), re-check the incident right before sending, call the
channel outside any transaction, then store the outcome: sent; a transient failure retried with
backoff; a permanent one (or the last) failed, falling back to the next channel (``fallback``)."""

from __future__ import annotations

import functools
import logging
import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.orm import Session

from oncall import db, metrics
from oncall.channels import DeliveryError, OutgoingPage, Recipient
from oncall.channels.preferences import NOT_VERIFIED
from oncall.channels.registry import channel, outbox, phone_channels
from oncall.config import env_float
from oncall.incidents import event, record, record_many
from oncall.models import Incident, Page, Service, User, utcnow
from oncall.paging import fallback

log = logging.getLogger(__name__)

# A page claimed longer ago than this was lost with its worker (the crash tests shorten it).
LEASE = timedelta(seconds=env_float("ONCALL_PAGE_LEASE_SECONDS", 60.0))
MAX_ATTEMPTS = 8
MAX_BACKOFF = 300.0  # seconds between attempts, at most
MAX_RETRY_AFTER = 900.0  # a provider asking for a longer pause is not waited on longer


def _due(exclude: tuple[str, ...] = (), only: tuple[str, ...] | None = None) -> Any:
    """The one condition for a page due for sending (at ``:now``): pending and due, or left
    'sending' by a worker that died (its lease ran out). ``exclude``: not on these channels;
    ``only``: on these channels alone. Every claim and listing of due pages uses it."""
    due = (((Page.status == "pending") & (Page.next_attempt_at <= bindparam("now")))
           | ((Page.status == "sending") & (Page.lease_until < bindparam("now"))))
    if exclude:
        due = due & Page.channel.not_in(exclude)
    if only is not None:
        due = due & Page.channel.in_(only)
    return due


@functools.cache
def _due_ids(exclude: tuple[str, ...] = (), only: tuple[str, ...] | None = None) -> Any:
    """Up to ``:limit`` due pages, oldest first. Built once per channel selection (every
    dispatch runs it: building it costs more than running it)."""
    return (select(Page.id).where(_due(exclude, only)).order_by(Page.next_attempt_at)
            .limit(bindparam("limit")))


_TAKE = {"status": "sending", "attempts": Page.attempts + 1,  # a claim, with its lease
         "lease_until": bindparam("lease_until")}
_CLAIM_PAGE = update(Page).where(Page.id == bindparam("page_id"), _due()).values(_TAKE)


def claim_page(session: Session, page_id: int, now: datetime) -> bool:
    """Take a page for sending if it is due."""
    result = session.connection().execute(
        _CLAIM_PAGE, {"page_id": page_id, "now": now, "lease_until": now + LEASE})
    return bool(result.rowcount == 1)


def prepare_delivery(session: Session, page_id: int, now: datetime) -> OutgoingPage | None:
    """Claim the page and re-check that its incident still wants it. Returns what to send,
    or None (already taken, or cancelled because the incident was acknowledged)."""
    if not claim_page(session, page_id, now):
        return None
    found = _outgoing(session, [page_id])
    return found[0] if found else None


def claim_due(session: Session, now: datetime, limit: int = 200,
              exclude: tuple[str, ...] = (),
              only: tuple[str, ...] | None = None) -> tuple[int, list[OutgoingPage]]:
    """Claim up to ``limit`` due pages in one statement (PostgreSQL: ``SKIP LOCKED``, so
    sweepers share them) and re-check their incidents. Returns how many were claimed and
    what to send (pages of incidents acknowledged meanwhile are cancelled). Pages on the
    ``exclude`` channels are left for one-by-one delivery (Twilio's throttle and bundling);
    ``only``: claim pages on these channels alone."""
    ids = list(session.connection().execute(
        _claim_due_statement(db.is_postgres(session), exclude, only),
        {"now": now, "limit": limit, "lease_until": now + LEASE}).scalars())
    return len(ids), _outgoing(session, ids) if ids else []


@functools.cache
def _claim_due_statement(postgres: bool, exclude: tuple[str, ...],
                         only: tuple[str, ...] | None) -> Any:
    """Built once per dialect and channel selection, like ``_due_ids``."""
    pick = _due_ids(exclude, only)
    if postgres:
        pick = pick.with_for_update(skip_locked=True)
    return (update(Page).where(Page.id.in_(pick.scalar_subquery()), _due(exclude, only))
            .values(_TAKE).returning(Page.id))


def _outgoing(session: Session, page_ids: list[int]) -> list[OutgoingPage]:
    """What to send for these claimed pages; those whose incident is no longer triggered
    are cancelled instead (the re-check right before sending)."""
    conn = session.connection()
    rows = conn.execute(_OUTGOING[db.is_postgres(session)], {"ids": page_ids}).all()
    out: list[OutgoingPage] = []
    phones = phone_channels()
    for (page_id, incident_id, channel_name, level, message, recipient, status, severity,
         summary, service, email, name, phone, slack_id, phone_source, verified_at,
         loop) in rows:
        closed = None
        if channel_name in phones and phone and phone_source == "self" and \
                verified_at is None and status == "triggered":
            # The number changed to a self-entered, unverified one after the page was
            # queued: never paged; the user's next channel is used.
            _not_verified(session, page_id, incident_id, channel_name, recipient)
            continue
        if status != "triggered":
            box = outbox(channel_name)  # one that logs its requests may know of an earlier
            if box is None or not box.awaits_lookup(session, page_id, channel_name, phone):
                conn.execute(update(Page).where(Page.id == page_id).values(
                    status="cancelled", error=f"incident {status} before sending"))
                metrics.PAGES.labels(channel_name, "cancelled").inc()
                continue
            # An earlier request may have gone out before the acknowledgement: the provider
            # says whether it did, so the timeline shows what was really sent (its outbox).
            closed = status
        who = Recipient(email, name, phone, slack_id) if email else Recipient(None, recipient)
        out.append(OutgoingPage(page_id=page_id, incident_id=incident_id, channel=channel_name,
                                recipient=who, severity=severity, summary=summary,
                                service=service, level=level, text=message or "",
                                closed=closed, loop=loop))
    return out


_OUTGOING = {
    pg: select(Page.id, Page.incident_id, Page.channel, Page.level, Page.message,
               Page.recipient, Incident.status, Incident.severity, Incident.summary,
               Service.name, User.email, User.name, User.phone, User.slack_id,
               User.phone_source, User.phone_verified_at, Page.loop)
    .join(Incident, Incident.id == Page.incident_id)
    .join(Service, Service.id == Incident.service_id)
    .outerjoin(User, User.id == Page.user_id)
    .where(db.among(Page.id, "ids", pg)).order_by(Page.id)
    for pg in (True, False)}


def _not_verified(session: Session, page_id: int, incident_id: int, channel_name: str,
                  recipient: str) -> None:
    """Skip a claimed SMS or voice page to an unverified phone: cancelled, said on the
    timeline, and the user's next channel queued now (the sweeper or the caller sends it)."""
    now = utcnow()
    session.connection().execute(update(Page).where(Page.id == page_id).values(
        status="cancelled", error=NOT_VERIFIED, lease_until=None))
    record(session, incident_id, "channel_skipped", "system", now, page_id=page_id,
           channel=channel_name, recipient=recipient, reason=NOT_VERIFIED)
    metrics.PAGES.labels(channel_name, "cancelled").inc()
    fallback.after_failure(session, page_id, NOT_VERIFIED, permanent=False, now=now)


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
                   error: DeliveryError | None, now: datetime,
                   note: dict[str, Any] | None = None) -> list[int]:
    """Store what the provider said. A transient failure is retried with backoff (never
    sooner than the provider's ``retry_after``); a permanent one, or the last attempt, falls
    back to the user's next channel. Returns pages to send now (the fallback). ``note``:
    more detail for the timeline entry."""
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
               **about, **(note or {}))
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
    ``record_outcome`` without an error, in two or three statements instead of three per
    page. Pages no longer 'sending' (their lease ran out and another worker took them) are
    left alone."""
    if not sent:
        return
    conn = session.connection()
    done: list[Any]
    if db.is_postgres(session):
        done = sorted(conn.execute(_PG_SENT, _SENT_ROWS.params(
            [{"pid": page_id, "prov": provider} for page_id, provider in sent], now=now)))
    else:
        rows = {row.id: row for row in conn.execute(_SENDING, {"ids": [i for i, _ in sent]})}
        conn.execute(_SENT, [{"pid": page_id, "prov": provider, "now": now}
                             for page_id, provider in sent if page_id in rows])
        done = [(page_id, rows[page_id].incident_id, rows[page_id].channel,
                 rows[page_id].recipient, provider)
                for page_id, provider in sent if page_id in rows]
    record_many(session, [
        event(incident_id, "paged", "system", now, provider_id=provider, page_id=page_id,
              channel=channel_name, recipient=recipient)
        for page_id, incident_id, channel_name, recipient, provider in done])
    for _, _, channel_name, _, _ in done:
        metrics.PAGES.labels(channel_name, "sent").inc()


_SENDING = select(Page.id, Page.incident_id, Page.channel, Page.recipient).where(
    db.among(Page.id, "ids", False), Page.status == "sending")
_SENT = (update(Page).where(Page.id == bindparam("pid"), Page.status == "sending")
         .values(status="sent", provider_id=bindparam("prov"), sent_at=bindparam("now"),
                 error=None))
# PostgreSQL: one statement, the same text for any number of pages.
_SENT_ROWS = db.Recordset("s", "pid int, prov text")
_PG_SENT = text(f"""
UPDATE pages AS p SET status = 'sent', provider_id = s.prov, sent_at = :now, error = NULL
FROM {_SENT_ROWS.sql}
WHERE p.id = s.pid AND p.status = 'sending'
RETURNING p.id, p.incident_id, p.channel, p.recipient, s.prov
""")


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


def due_pages(session: Session, now: datetime, limit: int = 200,
              channels: tuple[str, ...] | None = None) -> list[int]:
    """Up to ``limit`` due pages (on ``channels`` alone), oldest first, without claiming
    them: pages delivered one by one are each claimed by ``prepare_delivery``."""
    return list(session.scalars(_due_ids((), channels), {"now": now, "limit": limit}))
