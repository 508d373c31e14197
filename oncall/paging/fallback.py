"""Falling back to a user's next channel when a page to them failed for good: the contact is
disabled (on a permanent failure) and the next channel of their plan that has not been paged
at this level goes out now. Callers own the transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from oncall.channels import preferences, registry
from oncall.incidents import record
from oncall.models import Incident, Page, User
from oncall.paging import page_outbox

UNDER_WAY = ("pending", "sending", "sent")


def after_failure(session: Session, page_id: int, reason: str, *, permanent: bool,
                  now: datetime) -> list[int]:
    """Handle page ``page_id`` having failed for good. Returns the pages to send now."""
    conn = session.connection()
    page = conn.execute(
        select(Page.incident_id, Page.level, Page.loop, Page.user_id, Page.channel,
               Page.recipient, Page.message, Incident.status, Incident.severity)
        .join(Incident, Incident.id == Page.incident_id).where(Page.id == page_id)).first()
    if page is None or page.user_id is None:  # a Slack room has nowhere else to go
        return []
    user = session.get(User, page.user_id)
    if user is None:
        return []
    if permanent and page.channel != registry.CONSOLE:
        preferences.disable(session, user, page.channel, reason, now)
        record(session, page.incident_id, "contact_disabled", "system", now, user=user.email,
               channel=page.channel, address=preferences.address(user, page.channel), reason=reason)
    if page.status != "triggered":
        return []
    existing = {row.channel: row for row in conn.execute(
        select(Page.id, Page.channel, Page.status, Page.next_attempt_at).where(
            Page.incident_id == page.incident_id, Page.level == page.level,
            Page.loop == page.loop, Page.recipient == page.recipient))}
    about = {"user": user.email, "level": page.level, "loop": page.loop,
             "from_channel": page.channel}
    for name in preferences.fallbacks(session, user, page.severity):
        other = existing.get(name)
        if other is None:
            queued = page_outbox.QueuedPage(page.incident_id, page.level, page.loop,
                                            page.recipient, user.id, name, page.message or "",
                                            now, now)
            new_id = page_outbox.insert(session, [queued]).get(queued.key)
            if new_id is not None:
                record(session, page.incident_id, "fallback", "system", now, to_channel=name,
                       page_id=new_id, **about)
                return [new_id]
        elif other.status == "pending" and other.next_attempt_at > now:
            conn.execute(update(Page).where(Page.id == other.id, Page.status == "pending")
                         .values(next_attempt_at=now))
            record(session, page.incident_id, "fallback", "system", now, to_channel=name,
                   page_id=other.id, brought_forward=True, **about)
            return [other.id]
    if not any(row.status in UNDER_WAY for row in existing.values()):
        record(session, page.incident_id, "user_unreachable", "system", now, user=user.email,
               user_id=user.id, level=page.level, loop=page.loop,
               reasons={page.channel: reason})
    return []
