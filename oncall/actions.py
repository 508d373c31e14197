"""Manual actions on incidents that go beyond acknowledge/resolve."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from oncall.incidents import NotFound, record
from oncall.models import Incident


# SEAM: replaced at merge (the notification-rules helper owns escalate_now). This minimal
# version makes a triggered incident due now; the engine's next step (the caller enqueues
# jobs.escalate, else the sweeper finds it within seconds) pages the next level.
def escalate_now(session: Session, incident_id: int, actor: str, now: datetime) -> Incident:
    changed = session.execute(
        update(Incident).where(Incident.id == incident_id, Incident.status == "triggered")
        .values(next_action_at=now, updated_at=now)
    ).rowcount  # type: ignore[attr-defined]
    incident = session.get(Incident, incident_id, populate_existing=True)
    if incident is None:
        raise NotFound(incident_id)
    if changed:
        record(session, incident_id, "escalate_requested", actor, now, level=incident.level)
    return incident
