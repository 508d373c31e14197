"""Twilio status callbacks: a message's or call's status only ever moves forward; a failure
reported after the request was accepted (``failed``, ``undelivered``, a call ``busy`` or
unanswered) is handed to ``delivery.page_failed``, permanent or not by its error code."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from oncall.channels.twilio.api import is_permanent_code
from oncall.models import Page, ProviderSend
from oncall.paging import delivery

# Message and call statuses in the order they can happen.
RANK = {
    "accepted": 0, "scheduled": 0, "queued": 1, "initiated": 1,
    "sending": 2, "ringing": 2, "sent": 3, "in-progress": 3, "answered": 3,
    "delivered": 4, "completed": 4, "read": 5,
    "undelivered": 6, "failed": 6, "busy": 6, "no-answer": 6, "canceled": 6,
}
FAILED = {"undelivered", "failed", "busy", "no-answer", "canceled"}
SUCCEEDED = {"delivered", "completed", "read"}


def moves_forward(current: str | None, new: str) -> bool:
    """Pure: whether ``new`` may replace ``current``. Unknown statuses never do; nothing
    follows a failure; a delivered message cannot fail afterwards (a late callback)."""
    if new not in RANK:
        return False
    if current is None or current not in RANK:
        return True
    if current in FAILED or (current in SUCCEEDED and new in FAILED):
        return False
    return RANK[new] > RANK[current]


def apply(session: Session, sid: str, status: str, error_code: int | None,
          now: datetime, channel: str | None = None, destination: str | None = None) -> bool:
    """Record a status callback for a message or call SID. Returns whether it changed
    anything (an unknown SID, a repeat or a step backwards changes nothing)."""
    status = status.lower()
    send = session.scalar(select(ProviderSend).where(ProviderSend.provider_id == sid)
                          .with_for_update())
    if send is None and channel and destination:
        send = _in_flight(session, sid, channel, destination)
    page_ids = list(send.page_ids) if send is not None else list(session.scalars(
        select(Page.id).where(Page.provider_id == sid)))
    if not page_ids:
        return False
    current = send.provider_status if send is not None else session.scalar(
        select(Page.provider_status).where(Page.id == page_ids[0]))
    if not moves_forward(current, status):
        return False
    if send is not None:
        send.provider_status = status
        send.updated_at = now
    session.execute(update(Page).where(Page.id.in_(page_ids)).values(provider_status=status))
    if status in FAILED:
        permanent = status != "no-answer" and status != "busy" \
            and is_permanent_code(error_code, None)
        error = f"twilio reported {status}" + (f" (error {error_code})" if error_code else "")
        for page_id in page_ids:
            delivery.page_failed(session, page_id, error, permanent=permanent, now=now)
    return True


def _in_flight(session: Session, sid: str, channel: str, destination: str) -> ProviderSend | None:
    """A callback that overtook the response to our request (its SID not stored yet): the
    one request to that number still in flight is it."""
    candidates = session.scalars(select(ProviderSend).where(
        ProviderSend.channel == channel, ProviderSend.destination == destination,
        ProviderSend.status == "requested", ProviderSend.provider_id.is_(None))
        .with_for_update()).all()
    if len(candidates) != 1:
        return None
    candidates[0].provider_id = sid
    return candidates[0]
