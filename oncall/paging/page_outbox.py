"""The page outbox: one row per (incident, level, loop, recipient, channel), inserted once.
A step queues its pages in one statement (``insert``); a fallback queues one, a batch of
one. Callers own the transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from oncall import db
from oncall.models import Page


@dataclass(frozen=True, slots=True)
class QueuedPage:
    """A page to queue: whom (``recipient``: ``user:ID`` or a room, ``slack:#billing``), on
    which channel, with what message, due at ``at``."""

    incident_id: int
    level: int
    loop: int
    recipient: str
    user_id: int | None
    channel: str
    message: str
    at: datetime
    now: datetime

    @property
    def key(self) -> tuple[int, int, int, str, str]:
        """The outbox's unique key: a page queued twice is one page."""
        return (self.incident_id, self.level, self.loop, self.recipient, self.channel)

    def params(self) -> dict[str, Any]:
        return {"incident_id": self.incident_id, "level": self.level, "loop": self.loop,
                "recipient": self.recipient, "user_id": self.user_id,
                "channel": self.channel, "status": "pending", "attempts": 0,
                "next_attempt_at": self.at, "created_at": self.now, "message": self.message}


def insert(session: Session, pages: list[QueuedPage]) -> dict[tuple[int, int, int, str, str], int]:
    """Queue pages in one statement. Returns the id of each page inserted, by its ``key``;
    none for those that existed already (the unique key makes a repeated step harmless)."""
    if not pages:
        return {}
    rows = [page.params() for page in pages]
    conn = session.connection()
    if db.is_postgres(session):
        found = conn.execute(_PG_INSERT, _ROWS.params(rows))
    else:
        found = conn.execute(_SQLITE_INSERT, rows)
    return {(r.incident_id, r.level, r.loop, r.recipient, r.channel): r.id for r in found}


# Built once (statement construction costs more than the round trip).
_SQLITE_INSERT = (sqlite.insert(Page)
                  .on_conflict_do_nothing(index_elements=["incident_id", "level", "loop",
                                                          "recipient", "channel"])
                  .returning(Page.id, Page.incident_id, Page.level, Page.loop, Page.recipient,
                             Page.channel))
# PostgreSQL: the same statement text for any number of pages.
_ROWS = db.Recordset("t", "incident_id int, level int, loop int, recipient text, user_id int, "
                          "channel text, status text, attempts int, "
                          "next_attempt_at timestamptz, created_at timestamptz, message text")
_PG_INSERT = text(f"""
INSERT INTO pages ({", ".join(_ROWS.names)}) SELECT * FROM {_ROWS.sql}
ON CONFLICT (incident_id, level, loop, recipient, channel) DO NOTHING
RETURNING id, incident_id, level, loop, recipient, channel
""")
