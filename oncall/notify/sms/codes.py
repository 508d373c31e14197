"""Per-user reply codes, in the style of GoAlert: the n in "reply 4a to ack, 4r to resolve,
4e to escalate". Each open incident a user is paged about gets the smallest number that user
has free; a number comes free again when its incident is resolved."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from oncall.models import Incident, ReplyCode


def code_for(session: Session, user_id: int, incident_id: int, now: datetime) -> int:
    """The user's reply number for the incident, assigned on first use."""
    for _ in range(5):
        found = session.scalar(select(ReplyCode.code).where(
            ReplyCode.user_id == user_id, ReplyCode.incident_id == incident_id))
        if found is not None:
            return int(found)
        closed = select(Incident.id).where(Incident.status == "resolved").scalar_subquery()
        session.execute(delete(ReplyCode).where(ReplyCode.user_id == user_id,
                                                ReplyCode.incident_id.in_(closed)))
        used = set(session.scalars(select(ReplyCode.code).where(ReplyCode.user_id == user_id)))
        code = next(n for n in range(1, len(used) + 2) if n not in used)
        try:
            with session.begin_nested():
                session.add(ReplyCode(user_id=user_id, incident_id=incident_id, code=code,
                                      created_at=now))
            return code
        except IntegrityError:  # another worker assigned one at the same moment: look again
            continue
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
