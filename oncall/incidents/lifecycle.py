"""Incidents: acknowledging, resolving, the timeline, and how the API shows them (opening
them from alerts is ``oncall.incidents.intake``; a person acting on one goes through
``oncall.incidents.respond``). Callers own the transaction; nothing here commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.orm import Session

from oncall import db
from oncall.incidents import followups
from oncall.models import Alert, Incident, IncidentEvent, Page

OPEN = ("triggered", "acknowledged")


@dataclass(frozen=True)
class Outcome:
    """What one alert did: the incident it joined or opened (None for a resolve that matched
    nothing), and whether that incident is new and so needs paging."""

    alert_id: int
    incident_id: int | None
    status: str
    new: bool

    def as_json(self) -> dict[str, Any]:
        return {"alert_id": self.alert_id, "incident_id": self.incident_id,
                "status": self.status, "new": self.new}


@dataclass(frozen=True, slots=True)
class Entry:
    """A timeline entry: what happened (``kind``), who did it (``actor``: ``system``, a
    user's email, ``rule:NAME``), when, and its details (JSON)."""

    incident_id: int
    kind: str
    actor: str
    at: datetime
    detail: dict[str, Any]

    def params(self) -> dict[str, Any]:
        return {"incident_id": self.incident_id, "kind": self.kind, "actor": self.actor,
                "at": self.at, "detail": self.detail}


def record(session: Session, incident_id: int, kind: str, actor: str, at: datetime,
           **detail: Any) -> None:
    """Add a timeline entry: ``record_many`` of one."""
    record_many(session, [Entry(incident_id, kind, actor, at, detail)])


def event(incident_id: int, kind: str, actor: str, at: datetime, **detail: Any) -> Entry:
    """A timeline entry, for ``record_many``."""
    return Entry(incident_id, kind, actor, at, detail)


def record_many(session: Session, entries: list[Entry]) -> None:
    """Add timeline entries, in one statement (a plain insert: nothing reads them back in
    the same unit of work). PostgreSQL takes any number of rows as one JSON parameter;
    SQLite, a statement run once per row."""
    if not entries:
        return
    rows = [entry.params() for entry in entries]
    if db.is_postgres(session):
        session.connection().execute(_PG_EVENTS, _EVENT_ROWS.params(rows))
    else:
        session.connection().execute(_EVENT, rows)


# Built once: the sweeper records thousands of entries a minute.
_EVENT = insert(IncidentEvent)
# PostgreSQL: the same statement text for any number of entries.
_EVENT_ROWS = db.Recordset("t", "incident_id int, at timestamptz, kind text, actor text, "
                                "detail json")
_PG_EVENTS = text(f"INSERT INTO incident_events ({', '.join(_EVENT_ROWS.names)}) "
                  f"SELECT * FROM {_EVENT_ROWS.sql}")


class NotFound(LookupError):
    pass


def note_change(session: Session, incident_id: int) -> None:
    """Remember, on the session, that this incident's state changed: once the transaction
    commits, its Slack messages are rewritten (``oncall.incidents.followups``)."""
    followups.changed(session, incident_id)


def acknowledge(session: Session, incident_id: int, actor: str, now: datetime, *,
                via: str | None = None) -> Incident:
    """Stop the escalation. Acknowledging an acknowledged or resolved incident changes
    nothing and is not an error (two people pressing the button at once). ``via``: the
    channel it came from, for the timeline (``email``)."""
    changed = session.execute(
        update(Incident)
        .where(Incident.id == incident_id, Incident.status == "triggered")
        .values(status="acknowledged", acked_at=now, acked_by=actor, next_action_at=None,
                updated_at=now)
    ).rowcount  # type: ignore[attr-defined]
    if changed:
        record(session, incident_id, "acknowledged", actor, now, **_via(via))
        note_change(session, incident_id)
        arm_ack_timeout(session, incident_id, now)
    return _get(session, incident_id)


def arm_ack_timeout(session: Session, incident_id: int, now: datetime) -> None:
    """If the incident's policy has an ``ack_timeout``, keep the acknowledged incident due
    at its end (``next_action_at``): the sweeper re-triggers it if it is still open then."""
    policy = session.scalar(select(Incident.policy).where(Incident.id == incident_id))
    timeout = policy.ack_timeout if policy is not None else None
    if timeout:
        session.execute(update(Incident).where(Incident.id == incident_id,
                                               Incident.status == "acknowledged")
                        .values(next_action_at=now + timedelta(seconds=int(timeout))))


def _via(via: str | None) -> dict[str, str]:
    return {"via": via} if via else {}


def resolve(session: Session, incident_id: int, actor: str, now: datetime, *,
            via: str | None = None) -> Incident:
    changed = session.execute(
        update(Incident)
        .where(Incident.id == incident_id, Incident.status.in_(OPEN))
        .values(status="resolved", resolved_at=now, resolved_by=actor, next_action_at=None,
                updated_at=now)
    ).rowcount  # type: ignore[attr-defined]
    if changed:
        record(session, incident_id, "resolved", actor, now, **_via(via))
        note_change(session, incident_id)
    return _get(session, incident_id)


NOTE_MAX = 4000  # characters


class NoteError(ValueError):
    """A note that cannot be added: empty or too long."""


def add_note(session: Session, incident_id: int, actor: str, text: str,
             now: datetime) -> Incident:
    """Add a responder's note to the timeline (an event of kind ``note`` with its author).
    Any incident, open or resolved (a post-mortem remark is a note too). Raises
    ``NotFound`` and ``NoteError``; changes nothing else about the incident."""
    body = (text or "").strip()
    if not body:
        raise NoteError("write something first")
    if len(body) > NOTE_MAX:
        raise NoteError(f"at most {NOTE_MAX} characters (this one has {len(body)})")
    incident = _get(session, incident_id)
    record(session, incident_id, "note", actor, now, text=body)
    return incident


def lock(session: Session, incident_id: int) -> Incident:
    """The incident, read afresh under its row lock on PostgreSQL (``FOR NO KEY UPDATE``:
    alerts joining it still insert, their foreign key takes only ``KEY SHARE``), so that
    two people acting at once take turns. Raises ``NotFound``."""
    query = select(Incident).where(Incident.id == incident_id)
    if db.is_postgres(session):
        query = query.with_for_update(key_share=True, of=Incident)
    incident = session.scalars(query.execution_options(populate_existing=True)).first()
    if incident is None:
        raise NotFound(incident_id)
    return incident


def _get(session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id, populate_existing=True)
    if incident is None:
        raise NotFound(incident_id)
    return incident


def detail(session: Session, incident_id: int, alert_limit: int = 50) -> dict[str, Any]:
    """The incident with its timeline, pages and latest alerts, as the API returns it."""
    incident = _get(session, incident_id)
    events = session.scalars(select(IncidentEvent).where(IncidentEvent.incident_id == incident_id)
                             .order_by(IncidentEvent.at, IncidentEvent.id)).all()
    pages = session.scalars(select(Page).where(Page.incident_id == incident_id)
                            .order_by(Page.id)).all()
    alerts = session.scalars(select(Alert).where(Alert.incident_id == incident_id)
                             .order_by(Alert.id.desc()).limit(alert_limit)).all()
    return {
        **summary_json(incident, alert_counts(session, [incident_id])),
        "policy": incident.policy.to_json() if incident.policy else None,
        "runbook": incident.runbook,
        "timeline": [{"at": e.at.isoformat(), "kind": e.kind, "actor": e.actor,
                      "detail": e.detail} for e in events],
        "pages": [page_json(p) for p in pages],
        # People a level named who could not be paged on any channel (and why).
        "unreachable": [{"at": e.at.isoformat(), **e.detail} for e in events
                        if e.kind == "user_unreachable"],
        "alerts": [{"id": a.id, "received_at": a.received_at.isoformat(), "status": a.status,
                    "type": a.type, "severity": a.severity, "summary": a.summary,
                    "labels": a.labels, "value": a.value, **sanitized(a)} for a in alerts],
    }


def sanitized(alert: Alert) -> dict[str, Any]:
    """``{"sanitized": [fields]}`` for an alert stored with characters the database cannot
    hold replaced by U+FFFD (``oncall.web.hooks``), else nothing."""
    fields = (alert.raw or {}).get("oncall_sanitized") if isinstance(alert.raw, dict) else None
    return {"sanitized": fields} if fields else {}


def alert_counts(session: Session, incident_ids: list[int]) -> dict[int, int]:
    """How many alerts each incident has (counted, not stored: a storm of duplicates then
    never contends for the incident's row)."""
    if not incident_ids:
        return {}
    rows = session.execute(select(Alert.incident_id, func.count())
                           .where(Alert.incident_id.in_(incident_ids))
                           .group_by(Alert.incident_id))
    return {int(incident_id): int(n) for incident_id, n in rows if incident_id is not None}


def summary_json(incident: Incident, counts: dict[int, int]) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": incident.id, "service": incident.service.name, "dedup_key": incident.dedup_key,
        "status": incident.status, "severity": incident.severity, "summary": incident.summary,
        "alert_count": counts.get(incident.id, 0), "level": incident.level, "loop": incident.loop,
        "next_action_at": iso(incident.next_action_at), "created_at": iso(incident.created_at),
        "acked_at": iso(incident.acked_at), "acked_by": incident.acked_by,
        "resolved_at": iso(incident.resolved_at), "resolved_by": incident.resolved_by,
    }


def page_json(page: Page) -> dict[str, Any]:
    return {
        "id": page.id, "level": page.level, "loop": page.loop, "recipient": page.recipient,
        "channel": page.channel, "status": page.status, "attempts": page.attempts,
        "message": page.message, "provider_id": page.provider_id, "error": page.error,
        "created_at": page.created_at.isoformat(),
        "sent_at": page.sent_at.isoformat() if page.sent_at else None,
    }
