"""The page outbox: one row per (incident, level, loop, recipient, channel), inserted once.
Callers own the transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
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


def insert_many(session: Session, rows: list[dict[str, Any]]) -> list[Any]:
    """Queue many ``row``s in one statement. Returns the key and id of each page it
    inserted, none for those that existed already."""
    conn = session.connection()
    if db.is_postgres(session):
        return list(conn.execute(_PG_INSERT_MANY, _ROWS.params(rows)))
    return list(conn.execute(_INSERT_MANY, rows))


# Built once per dialect (statement construction costs more than the round trip).
_INSERT = {
    pg: (postgresql.insert(Page) if pg else sqlite.insert(Page))
    .on_conflict_do_nothing(index_elements=["incident_id", "level", "loop", "recipient",
                                            "channel"])
    .returning(Page.id)
    for pg in (True, False)}
_INSERT_MANY = _INSERT[False].returning(Page.incident_id, Page.level, Page.loop, Page.recipient,
                                        Page.channel)
# PostgreSQL: the same statement text for any number of pages.
_ROWS = db.Recordset("t", "incident_id int, level int, loop int, recipient text, user_id int, "
                          "channel text, status text, attempts int, "
                          "next_attempt_at timestamptz, created_at timestamptz, message text")
_PG_INSERT_MANY = text(f"""
INSERT INTO pages ({", ".join(_ROWS.names)}) SELECT * FROM {_ROWS.sql}
ON CONFLICT (incident_id, level, loop, recipient, channel) DO NOTHING
RETURNING id, incident_id, level, loop, recipient, channel
""")
