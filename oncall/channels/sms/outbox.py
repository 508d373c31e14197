"""Around each Twilio send: throttle per number, bundle several waiting SMS pages for one
person into one message, and record the request before it is made (``provider_sends``).

The SMS and voice channels' outbox (``ChannelInfo.outbox``, see ``oncall.channels.sending``):
the core calls :func:`prepare` after the page is claimed (lending its claim on other pages,
for bundling), :func:`send`, and :func:`finish` in the transaction that stores the outcome.
Other pages (notices, no phone) pass through untouched (no database work).
"""

from __future__ import annotations

import dataclasses
import logging
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from oncall import db, metrics
from oncall.channels import DeliveryError, OutgoingPage, registry, sending
from oncall.channels.sms import codes, lost, throttle
from oncall.channels.sms import text as sms_text
from oncall.channels.sms.lost import LostSend
from oncall.incidents import record
from oncall.models import Incident, Page, ProviderSend, Service

TWILIO_CHANNELS = ("sms", "voice")
MAX_BUNDLE = 10
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Batch(sending.Batch):
    """A batch with its request logged (``send_id``); ``found``: an earlier request found at
    Twilio (its send id and SID)."""

    send_id: int | None = None
    # Earlier requests for these pages whose outcome was lost and could not be told (the
    # lookup failed): this batch sends again, and supersedes them when it succeeds.
    lost: tuple[LostSend, ...] = ()


def send(batch: Batch, send_page: sending.SendPage) -> tuple[str | None, DeliveryError | None]:
    """Send the batch, unless its earlier request was found at Twilio: then that message's
    SID is the outcome, and nobody gets the page twice."""
    if batch.found is not None:
        return batch.found[1], None
    return send_page(batch.page)


def handles(outgoing: OutgoingPage) -> bool:
    """Whether this page goes through the Twilio outbox (throttle, bundle, request log)."""
    return (outgoing.channel in TWILIO_CHANNELS and outgoing.kind == "page"
            and bool(outgoing.recipient.phone))


def prepare(factory: sessionmaker[Session], outgoing: OutgoingPage,
            now: datetime, claim: sending.ClaimPage) -> Batch | None:
    """Returns the batch to send, or None when there is nothing to send now: the throttle
    deferred the page (it is pending again, due when the number may next be reached), or
    its incident was closed meanwhile (``outgoing.closed``) and no earlier request for it
    had gone out (it is cancelled).

    An earlier request for the page whose answer was lost is resolved first, at Twilio
    (``lost``), so that the throttle counts only requests that may really have left.
    ``claim``: the core's, for the person's other waiting SMS pages bundled into this one."""
    single = Batch(outgoing, [outgoing.page_id])
    if not handles(outgoing):
        if outgoing.closed is not None:
            _cancel(factory, outgoing, (), now)
            return None
        return single
    destination = outgoing.recipient.phone
    assert destination is not None
    with factory() as session:
        earlier = lost.earlier(session, outgoing.channel, destination, outgoing.page_id, now)
    resolution = lost.Resolution()
    if earlier:
        find = getattr(registry.channel(outgoing.channel), "find_sent", None)
        resolution = lost.resolve(factory, earlier, destination, find, now)
    if resolution.found is not None:
        return Batch(outgoing, [outgoing.page_id], found=resolution.found)
    if outgoing.closed is not None:
        _cancel(factory, outgoing, resolution.unknown, now)
        return None
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
        if outgoing.channel == "sms":
            if user_id is not None:
                if not resolution.unknown:  # else resend exactly what may have gone out
                    page_ids += _claim_waiting(session, user_id, outgoing.page_id,
                                               destination, now, claim)
                outgoing = dataclasses.replace(
                    outgoing, text=_compose(session, user_id, page_ids, now))
            outgoing = dataclasses.replace(
                outgoing, text=sms_text.with_ref(outgoing.text, sms_text.new_ref()))
        conn.execute(update(ProviderSend).where(ProviderSend.id == send_id).values(
            page_ids=page_ids, user_id=user_id, body=outgoing.text))
        return Batch(outgoing, page_ids, send_id=send_id, lost=resolution.unknown)


def finish(session: Session, batch: Batch, provider_id: str | None,
           error: DeliveryError | None, now: datetime) -> None:
    """Store the provider's id (or the error) on the send, after ``record_outcome``. A
    provider id another send already holds (``uq_provider_sends_provider_id``) is logged
    and left off this one: the pages' outcome, already stored, stands. An SMS whose answer
    was lost (``DeliveryError.answer_lost``) is not refused: it stays ``requested``, to be
    looked up at Twilio when the page is retried."""
    if batch.found is not None:
        # No new request: the lost one was found at Twilio and holds the SID.
        found_id, sid = batch.found
        _store_id(session, update(ProviderSend).where(
            ProviderSend.id == found_id, ProviderSend.status.in_(lost.OPEN)),
            dict(status="found", updated_at=now,
                 error="its answer was lost; found at Twilio by its reference"),
            sid, found_id)
        return
    if batch.send_id is None:
        return
    conn = session.connection()
    covered = [earlier.id for earlier in batch.lost
               if earlier.page_ids <= set(batch.page_ids)]
    if covered and error is None:
        # Every page of these lost requests is now delivered: they await nothing more. (One
        # that also carried other pages stays, for those pages' own lookup.)
        conn.execute(update(ProviderSend).where(
            ProviderSend.id.in_(covered), ProviderSend.status == "requested")
            .values(status="superseded", updated_at=now))
    if error is not None and error.answer_lost and batch.page.channel == "sms":
        # Twilio may have taken it: the request stays open ("requested"), so that the
        # page's retry looks it up by its reference (``lost``) instead of texting again.
        conn.execute(update(ProviderSend).where(ProviderSend.id == batch.send_id).values(
            error=f"answer lost: {error}", updated_at=now))
        return
    _store_id(session, update(ProviderSend).where(ProviderSend.id == batch.send_id),
              dict(status="accepted" if error is None else "rejected",
                   error=str(error) if error else None, updated_at=now),
              provider_id, batch.send_id)
    if error is not None and error.retry_after:
        # Twilio said when to come back (429): don't knock sooner.
        conn.execute(update(Page).where(
            Page.id.in_(batch.page_ids), Page.status == "pending",
            Page.next_attempt_at < now + timedelta(seconds=error.retry_after),
        ).values(next_attempt_at=now + timedelta(seconds=error.retry_after)))


def _store_id(session: Session, stmt: Any, values: dict[str, Any], provider_id: str | None,
              send_id: int) -> None:
    """Apply ``values`` and the provider id to a send, in a savepoint: should the id be on
    another send already, the values are stored without it."""
    if provider_id is None:
        session.connection().execute(stmt.values(**values))
        return
    try:
        with session.begin_nested():
            session.connection().execute(stmt.values(**values, provider_id=provider_id))
    except IntegrityError:
        log.error("twilio: %s is already recorded on another request; request %s is stored "
                  "without it", provider_id, send_id)
        session.connection().execute(stmt.values(
            **{**values, "error": f"{provider_id} is already recorded on another request"}))


def _cancel(factory: sessionmaker[Session], outgoing: OutgoingPage,
            unknown: tuple[LostSend, ...], now: datetime) -> None:
    """The incident was closed before this page went out, and Twilio has no earlier request
    for it (or cannot say): the page is cancelled, as the re-check before sending does."""
    reason = f"incident {outgoing.closed} before sending"
    if unknown:
        reason += (f"; whether earlier request {unknown[0].id} reached Twilio could not be "
                   "told")
    with factory() as session, session.begin():
        changed = session.connection().execute(
            update(Page).where(Page.id == outgoing.page_id, Page.status == "sending")
            .values(status="cancelled", error=reason, lease_until=None)).rowcount
    if changed:
        metrics.PAGES.labels(outgoing.channel, "cancelled").inc()


def _lock(session: Session, key: str) -> None:
    """Serialise sends to one destination (PostgreSQL; SQLite has one writer anyway)."""
    if db.is_postgres(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"),
                        {"k": zlib.crc32(key.encode())})


def _recent(session: Session, channel: str, destination: str, now: datetime,
            exclude: int) -> list[datetime]:
    """When requests to this destination were made within the longest throttle window; a
    request whose outcome was lost and could not be told counts (it may have gone out); a
    rejected one does not, nor one Twilio never received ("unsent"), nor a "recovered" row
    (written by earlier releases: no request, an earlier lost one had gone out)."""
    since = now - throttle.longest_window(channel)
    return list(session.connection().scalars(select(ProviderSend.created_at).where(
        ProviderSend.channel == channel, ProviderSend.destination == destination,
        ProviderSend.created_at > since, ProviderSend.id != exclude,
        ProviderSend.status.notin_(["rejected", "recovered", "unsent"]))))


def _defer(session: Session, outgoing: OutgoingPage, until: datetime, now: datetime) -> None:
    """Hand the claimed page back, due when the throttle allows; not counted as an attempt."""
    changed = session.connection().execute(
        update(Page).where(Page.id == outgoing.page_id, Page.status == "sending")
        .values(status="pending", attempts=Page.attempts - 1, lease_until=None,
                next_attempt_at=until)).rowcount
    if changed and outgoing.incident_id is not None:
        record(session, outgoing.incident_id, "page_throttled", "system", now,
               page_id=outgoing.page_id, channel=outgoing.channel, until=until.isoformat())


def _claim_waiting(session: Session, user_id: int, page_id: int, destination: str,
                   now: datetime, claim: sending.ClaimPage) -> list[int]:
    """Take the user's other due SMS pages (for incidents still triggered) into this send.
    A page with an earlier request still open (its answer was lost) is left out: it may
    have gone out already, and only its own delivery looks that request up at Twilio."""
    waiting = session.connection().scalars(
        select(Page.id).join(Incident, Incident.id == Page.incident_id)
        .where(Page.user_id == user_id, Page.channel == "sms", Page.status == "pending",
               Page.next_attempt_at <= now, Page.id != page_id,
               Incident.status == "triggered")
        .order_by(Page.id).limit(MAX_BUNDLE - 1)).all()
    claimed = []
    for other in waiting:
        if lost.earlier(session, "sms", destination, other, now):
            continue
        if claim(session, other, now):
            claimed.append(other)
    return claimed


def _compose(session: Session, user_id: int, page_ids: list[int], now: datetime) -> str:
    """The SMS for these pages, leaving room for the request's reference."""
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
    api = getattr(registry.channel("sms"), "api", None)
    return sms_text.bundle(items, reserve=sms_text.REF_ROOM,
                           base_url=getattr(api, "public_url", None))


def awaits_lookup(session: Session, page_id: int, channel: str,
                  destination: str | None) -> bool:
    """Whether an earlier request carrying this page may have gone out unrecorded (the core
    then keeps the page for :func:`prepare` to look up rather than cancel it)."""
    return lost.awaits_lookup(session, page_id, channel, destination)
