"""Requests whose answer was lost, and how each is identified exactly at Twilio.

Every SMS carries a reference made for that one request (``(ref K7Q2XM4P)``, see
``text.with_ref``), stored with the request in ``provider_sends.body`` before it is made.
Twilio's Message resource echoes the body, so after a worker died between the request and
storing its answer (or PostgreSQL went away meanwhile), the lookup asks Twilio for the
recent messages to that number and takes the one carrying that reference, and only that
one: never another page's message with the same text (every page to one person for one
incident reads the same across levels and loops), never a message when the request never
left.

A lost request is resolved *before* the throttle is decided: one found at Twilio is the
page's outcome (no new request); one Twilio never received is marked ``unsent`` and no
longer counts against the number's throttle; one that cannot be told (the lookup failed,
or a request made before references existed) is sent again, and still counts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from oncall.channels import DeliveryError
from oncall.channels.sms import text as sms_text
from oncall.models import Page, ProviderSend

LOOKBACK = timedelta(hours=1)  # how far back a lost request is looked up at Twilio
# Rows that may still stand for a page: in flight or lost (requested), or lost and then
# found at Twilio (found, with its SID).
OPEN = ("requested", "found")
log = logging.getLogger(__name__)

Finder = Callable[[str, str, datetime], "str | None"]


@dataclass(frozen=True)
class LostSend:
    id: int
    body: str | None
    at: datetime
    page_ids: frozenset[int]
    provider_id: str | None = None


@dataclass(frozen=True)
class Resolution:
    """What became of a page's earlier requests: ``found`` (the send id and SID of the one
    that reached Twilio), else ``unknown``: those that could not be told (sent again)."""

    found: tuple[int, str] | None = None
    unknown: tuple[LostSend, ...] = ()


def earlier(session: Session, channel: str, destination: str, page_id: int,
            now: datetime | None = None) -> tuple[LostSend, ...]:
    """Earlier SMS requests carrying this page still open: made, or about to be, by a worker
    that died before storing the answer (or found since), after the page's last recorded
    send (a page sent and then reported undelivered is retried with a new request, not
    matched to the message that failed). Most recent first."""
    if channel != "sms":
        return ()
    last_sent = session.scalar(select(Page.sent_at).where(Page.id == page_id))
    query = (select(ProviderSend.id, ProviderSend.body, ProviderSend.created_at,
                    ProviderSend.page_ids, ProviderSend.provider_id)
             .where(ProviderSend.channel == channel, ProviderSend.destination == destination,
                    ProviderSend.status.in_(OPEN))
             .order_by(ProviderSend.id.desc()))
    if now is not None:
        query = query.where(ProviderSend.created_at > now - LOOKBACK)
    if last_sent is not None:
        query = query.where(ProviderSend.created_at > last_sent)
    rows = session.connection().execute(query).all()
    return tuple(LostSend(row.id, row.body, row.created_at, frozenset(row.page_ids or []),
                          row.provider_id)
                 for row in rows if page_id in (row.page_ids or []))


def resolve(factory: sessionmaker[Session], lost: tuple[LostSend, ...], destination: str,
            find: Finder | None, now: datetime) -> Resolution:
    """Look each earlier request up at Twilio (outside any transaction), most recent first.
    Marks those Twilio never received ``unsent``."""
    unknown: list[LostSend] = []
    for send in lost:
        if send.provider_id:  # found already (another page of the same bundle looked)
            return Resolution((send.id, send.provider_id), tuple(unknown))
        ref = sms_text.ref_of(send.body or "")
        if ref is None or find is None:
            log.warning("twilio: request %s carries no reference; it cannot be told whether "
                        "it went out, so it is sent again", send.id)
            unknown.append(send)
            continue
        try:
            sid = find(destination, ref, send.at)
        except DeliveryError as exc:  # can't tell: sending again beats not at all
            log.warning("twilio: lookup of lost request %s failed (%s); sending again",
                        send.id, exc)
            unknown.append(send)
            continue
        if sid:
            log.info("twilio: lost request %s had reached Twilio as %s", send.id, sid)
            return Resolution((send.id, sid), tuple(unknown))
        log.info("twilio: lost request %s never reached Twilio", send.id)
        with factory() as session, session.begin():
            session.execute(update(ProviderSend).where(
                ProviderSend.id == send.id, ProviderSend.status == "requested",
                ProviderSend.provider_id.is_(None))
                .values(status="unsent", updated_at=now,
                        error="not at Twilio: the request never left"))
    return Resolution(None, tuple(unknown))


def awaits_lookup(session: Session, page_id: int, channel: str,
                  destination: str | None) -> bool:
    """Whether an earlier request carrying this page may have gone out unrecorded, so that
    the page cannot simply be cancelled: Twilio decides whether it was sent."""
    if channel != "sms" or not destination:
        return False
    return bool(earlier(session, channel, destination, page_id))
