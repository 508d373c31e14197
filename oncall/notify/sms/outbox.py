"""Around each Twilio send: throttle per number, bundle several waiting SMS pages for one
person into one message, and record the request before it is made (``provider_sends``).

``paging.deliver_page`` calls :func:`prepare` after the page is claimed and :func:`finish`
in the transaction that stores the outcome. Channels other than SMS and voice pass through
untouched (no database work).
"""

from __future__ import annotations

import dataclasses
import logging
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from oncall import db, engine
from oncall.incidents import record
from oncall.models import Incident, Page, ProviderSend, Service
from oncall.notify import DeliveryError, OutgoingPage, registry
from oncall.notify.sms import codes, throttle
from oncall.notify.sms import text as sms_text

TWILIO_CHANNELS = ("sms", "voice")
MAX_BUNDLE = 10
LOST_LOOKBACK = timedelta(hours=1)  # how far back a lost request is looked up at Twilio
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Batch:
    """What to send, and every page row the one provider request delivers."""

    page: OutgoingPage
    page_ids: list[int]
    send_id: int | None = None
    # Earlier requests for these pages whose outcome was lost (a worker died between the
    # request and storing its answer).
    lost: tuple[LostSend, ...] = ()
    # Set by send(): the lost request found at Twilio, whose message stands for this batch.
    found: list[int] = dataclasses.field(default_factory=list)


@dataclass(frozen=True)
class LostSend:
    id: int
    body: str
    at: datetime
    page_ids: frozenset[int]


def send(batch: Batch) -> tuple[str | None, DeliveryError | None]:
    """Send the batch, unless an earlier request for it whose answer was lost did reach
    Twilio: then that message's SID is the outcome, and nobody gets the page twice."""
    if batch.lost and batch.page.recipient.phone:
        channel = registry.channel(batch.page.channel)
        find = getattr(channel, "find_sent", None)
        for lost in batch.lost if find else ():
            try:
                sid = find(batch.page.recipient.phone, lost.body, lost.at)  # type: ignore[misc]
            except DeliveryError as exc:  # can't tell: sending again beats not at all
                log.warning("twilio: lookup of a lost send failed (%s); sending again", exc)
                break
            if sid:
                log.info("twilio: page(s) %s already reached Twilio as %s", batch.page_ids, sid)
                batch.found.append(lost.id)
                return sid, None
    return engine.send(batch.page)


def handles(outgoing: OutgoingPage) -> bool:
    """Whether this page goes through the Twilio outbox (throttle, bundle, request log)."""
    return (outgoing.channel in TWILIO_CHANNELS and outgoing.kind == "page"
            and bool(outgoing.recipient.phone))


def prepare(factory: sessionmaker[Session], outgoing: OutgoingPage,
            now: datetime) -> Batch | None:
    """Returns the batch to send, or None when the throttle deferred the page (it is pending
    again, due when the number may next be reached)."""
    single = Batch(outgoing, [outgoing.page_id])
    if not handles(outgoing):
        return single
    destination = outgoing.recipient.phone
    assert destination is not None
    with factory() as session, session.begin():
        conn = session.connection()
        _lock(session, f"{outgoing.channel}:{destination}")
        # Written first: on SQLite this takes the write lock, so the count below is exact.
        send_id = conn.execute(insert(ProviderSend).values(
            channel=outgoing.channel, destination=destination, page_ids=[outgoing.page_id],
            status="requested", created_at=now, updated_at=now)
            .returning(ProviderSend.id)).scalar_one()
        allowed = throttle.next_allowed(outgoing.channel,
                                        _recent(session, outgoing.channel, destination, now,
                                                exclude=send_id), now)
        if allowed is not None:
            conn.execute(delete(ProviderSend).where(ProviderSend.id == send_id))
            _defer(session, outgoing, allowed, now)
            return None
        user_id = conn.execute(select(Page.user_id)
                               .where(Page.id == outgoing.page_id)).scalar()
        page_ids = [outgoing.page_id]
        lost = _lost(session, outgoing.channel, destination, outgoing.page_id, send_id, now)
        if outgoing.channel == "sms" and user_id is not None:
            if not lost:  # after a lost request, resend exactly what may have gone out
                page_ids += _claim_waiting(session, user_id, outgoing.page_id, now)
            outgoing = dataclasses.replace(outgoing,
                                           text=_compose(session, user_id, page_ids, now))
        conn.execute(update(ProviderSend).where(ProviderSend.id == send_id).values(
            page_ids=page_ids, user_id=user_id, body=outgoing.text))
        return Batch(outgoing, page_ids, send_id, lost)


def finish(session: Session, batch: Batch, provider_id: str | None,
           error: DeliveryError | None, now: datetime) -> None:
    """Store the provider's id (or the error) on the send, after ``record_outcome``."""
    if batch.send_id is None:
        return
    conn = session.connection()
    covered = [lost.id for lost in batch.lost if lost.page_ids <= set(batch.page_ids)]
    if covered and error is None:
        # Every page of these lost requests is now delivered: they await nothing more. (One
        # that also carried other pages stays, for those pages' own lookup.)
        conn.execute(update(ProviderSend).where(
            ProviderSend.id.in_(covered), ProviderSend.status == "requested")
            .values(status="superseded", updated_at=now))
    if batch.found:
        # No new request was made: the lost one was found at Twilio and holds the SID.
        conn.execute(update(ProviderSend).where(
            ProviderSend.id == batch.found[0], ProviderSend.provider_id.is_(None))
            .values(provider_id=provider_id, updated_at=now))
        conn.execute(update(ProviderSend).where(ProviderSend.id == batch.send_id).values(
            status="recovered", error=f"already sent by request {batch.found[0]}",
            updated_at=now))
        return
    conn.execute(update(ProviderSend).where(ProviderSend.id == batch.send_id).values(
        status="accepted" if error is None else "rejected", provider_id=provider_id,
        error=str(error) if error else None, updated_at=now))
    if error is not None and error.retry_after:
        # Twilio said when to come back (429): don't knock sooner.
        conn.execute(update(Page).where(
            Page.id.in_(batch.page_ids), Page.status == "pending",
            Page.next_attempt_at < now + timedelta(seconds=error.retry_after),
        ).values(next_attempt_at=now + timedelta(seconds=error.retry_after)))


def _lost(session: Session, channel: str, destination: str, page_id: int, send_id: int,
          now: datetime) -> tuple[LostSend, ...]:
    """Earlier requests carrying this page still marked ``requested``: made, or about to
    be, by a worker that died before storing the answer. Most recent first."""
    if channel != "sms":
        return ()
    rows = session.connection().execute(
        select(ProviderSend.id, ProviderSend.body, ProviderSend.created_at,
               ProviderSend.page_ids)
        .where(ProviderSend.channel == channel, ProviderSend.destination == destination,
               ProviderSend.status == "requested", ProviderSend.id != send_id,
               ProviderSend.created_at > now - LOST_LOOKBACK)
        .order_by(ProviderSend.id.desc())).all()
    return tuple(LostSend(row.id, row.body, row.created_at, frozenset(row.page_ids or []))
                 for row in rows if row.body and page_id in (row.page_ids or []))


def _lock(session: Session, key: str) -> None:
    """Serialise sends to one destination (PostgreSQL; SQLite has one writer anyway)."""
    if db.is_postgres(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"),
                        {"k": zlib.crc32(key.encode())})


def _recent(session: Session, channel: str, destination: str, now: datetime,
            exclude: int) -> list[datetime]:
    """When requests to this destination were made within the longest throttle window; a
    request whose outcome was lost counts (it may have gone out); a rejected one does not,
    nor a "recovered" row (no request: an earlier lost one was found to have gone out)."""
    since = now - throttle.longest_window(channel)
    return list(session.connection().scalars(select(ProviderSend.created_at).where(
        ProviderSend.channel == channel, ProviderSend.destination == destination,
        ProviderSend.created_at > since, ProviderSend.id != exclude,
        ProviderSend.status.notin_(["rejected", "recovered"]))))


def _defer(session: Session, outgoing: OutgoingPage, until: datetime, now: datetime) -> None:
    """Hand the claimed page back, due when the throttle allows; not counted as an attempt."""
    changed = session.connection().execute(
        update(Page).where(Page.id == outgoing.page_id, Page.status == "sending")
        .values(status="pending", attempts=Page.attempts - 1, lease_until=None,
                next_attempt_at=until)).rowcount
    if changed and outgoing.incident_id is not None:
        record(session, outgoing.incident_id, "page_throttled", "system", now,
               page_id=outgoing.page_id, channel=outgoing.channel, until=until.isoformat())


def _claim_waiting(session: Session, user_id: int, page_id: int, now: datetime) -> list[int]:
    """Take the user's other due SMS pages (for incidents still triggered) into this send."""
    waiting = session.connection().scalars(
        select(Page.id).join(Incident, Incident.id == Page.incident_id)
        .where(Page.user_id == user_id, Page.channel == "sms", Page.status == "pending",
               Page.next_attempt_at <= now, Page.id != page_id,
               Incident.status == "triggered")
        .order_by(Page.id).limit(MAX_BUNDLE - 1)).all()
    claimed = []
    for other in waiting:
        if engine.claim_page(session, other, now):
            claimed.append(other)
    return claimed


def _compose(session: Session, user_id: int, page_ids: list[int], now: datetime) -> str:
    rows = session.connection().execute(
        select(Incident.id, Incident.severity, Service.name, Incident.summary)
        .join(Page, Page.incident_id == Incident.id)
        .join(Service, Service.id == Incident.service_id)
        .where(Page.id.in_(page_ids)).order_by(Incident.id)).all()
    items, seen = [], set()
    for incident_id, severity, service, summary in rows:
        if incident_id in seen:
            continue
        seen.add(incident_id)
        items.append(sms_text.Item(codes.code_for(session, user_id, incident_id, now),
                                   incident_id, severity, service, summary))
    return sms_text.bundle(items)
