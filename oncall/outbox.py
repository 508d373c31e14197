"""The page outbox: one row per (incident, level, loop, recipient, channel), inserted once.
Callers own the transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from oncall import db
from oncall.models import Page


def enqueue(session: Session, incident_id: int, level: int, loop: int, recipient: str,
            user_id: int | None, channel: str, message: str, at: datetime,
            now: datetime) -> int | None:
    """Queue a page to be sent at ``at``. Returns its id, or None when that page exists
    already (the unique key makes a repeated step harmless)."""
    stmt = _INSERT[db.is_postgres(session)]
    return session.connection().execute(stmt, row(
        incident_id, level, loop, recipient, user_id, channel, message, at, now)).scalar()


def row(incident_id: int, level: int, loop: int, recipient: str, user_id: int | None,
        channel: str, message: str, at: datetime, now: datetime) -> dict[str, Any]:
    """A page to queue, for ``insert_many``."""
    return {"incident_id": incident_id, "level": level, "loop": loop, "recipient": recipient,
            "user_id": user_id, "channel": channel, "status": "pending", "attempts": 0,
            "next_attempt_at": at, "created_at": now, "message": message}


def insert_many(session: Session) -> Any:
    """The statement to queue many ``row``s at once (executed with a list of them): returns
    the key and id of each page it inserted, none for those that existed already."""
    return _INSERT_MANY[db.is_postgres(session)]


# Built once per dialect (statement construction costs more than the round trip).
_INSERT = {
    pg: (postgresql.insert(Page) if pg else sqlite.insert(Page))
    .on_conflict_do_nothing(index_elements=["incident_id", "level", "loop", "recipient",
                                            "channel"])
    .returning(Page.id)
    for pg in (True, False)}
_INSERT_MANY = {
    pg: stmt.returning(Page.incident_id, Page.level, Page.loop, Page.recipient, Page.channel)
    for pg, stmt in _INSERT.items()}
