"""What a responder can do to an incident besides acknowledging and resolving it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from oncall import engine
from oncall.incidents import NotFound, record
from oncall.models import Incident


def escalate_now(session: Session, incident_id: int, actor: str, now: datetime) -> Incident:
    """Manual escalate: the next level is paged now (timeline entry). Raises NotFound."""
    # SEAM: replaced at merge (minimal version; the notification-rules helper owns it).
    incident = session.get(Incident, incident_id, populate_existing=True)
    if incident is None:
        raise NotFound(incident_id)
    if incident.status != "triggered":
        return incident
    session.execute(update(Incident).where(Incident.id == incident_id,
                                           Incident.status == "triggered")
                    .values(next_action_at=now))
    record(session, incident_id, "escalation_requested", actor, now)
    engine.escalate(session, incident_id, now)
    session.refresh(incident)
    return incident
