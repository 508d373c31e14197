"""Per-user reply codes, in the style of GoAlert: the n in "reply 4a to ack, 4r to resolve,
4e to escalate". Each open incident a user is paged about gets the smallest number that user
has free; a number comes free again when its incident is resolved."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from oncall.models import Incident, ReplyCode


def code_for(session: Session, user_id: int, incident_id: int, now: datetime) -> int:
    """The user's reply number for the incident, assigned on first use."""
    conn = session.connection()
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)
    for _ in range(5):
        rows = conn.execute(select(ReplyCode.incident_id, ReplyCode.code, Incident.status)
                            .join(Incident, Incident.id == ReplyCode.incident_id)
                            .where(ReplyCode.user_id == user_id)).all()
        for incident, code, _status in rows:
            if incident == incident_id:
                return int(code)
        stale = [incident for incident, _code, status in rows if status == "resolved"]
        if stale:
            conn.execute(delete(ReplyCode).where(ReplyCode.user_id == user_id,
                                                 ReplyCode.incident_id.in_(stale)))
        used = {code for _incident, code, status in rows if status != "resolved"}
        free = next(n for n in range(1, len(used) + 2) if n not in used)
        got = conn.execute(insert(ReplyCode).values(
            user_id=user_id, incident_id=incident_id, code=free, created_at=now)
            .on_conflict_do_nothing().returning(ReplyCode.code)).scalar()
        if got is not None:
            return int(got)
        # Another worker took that number (or coded this incident) at the same moment.
    raise RuntimeError(f"could not assign a reply code to user {user_id}")


def incident_for(session: Session, user_id: int, code: int) -> int | None:
    return session.scalar(select(ReplyCode.incident_id).where(
        ReplyCode.user_id == user_id, ReplyCode.code == code))


def open_codes(session: Session, user_id: int) -> list[tuple[int, Incident]]:
    """The user's codes for incidents still open, lowest first."""
    rows = session.execute(
        select(ReplyCode.code, Incident)
        .join(Incident, Incident.id == ReplyCode.incident_id)
        .where(ReplyCode.user_id == user_id, Incident.status != "resolved")
        .order_by(ReplyCode.code))
    return [(int(code), incident) for code, incident in rows]
