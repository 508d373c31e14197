"""Incidents: opening them from alerts (deduplicated by the database), acknowledging,
resolving, and the timeline. Callers own the transaction; nothing here commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from oncall.ingest import NormalizedAlert
from oncall.models import Alert, Incident, IncidentEvent, Integration, Page, Service

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


def record(session: Session, incident_id: int, kind: str, actor: str, at: datetime,
           **detail: Any) -> None:
    """Add a timeline entry."""
    session.add(IncidentEvent(incident_id=incident_id, kind=kind, actor=actor, at=at,
                              detail=detail))


def _insert(session: Session):
    return (postgresql.insert if session.get_bind().dialect.name == "postgresql"
            else sqlite.insert)


def _service_for(session: Session, integration: Integration, alert: NormalizedAlert,
                 cache: dict[str, int | None]) -> int:
    """The alert's own ``service`` when it names one we know, else the integration's."""
    if not alert.service or alert.service == integration.service.name:
        return integration.service_id
    if alert.service not in cache:
        cache[alert.service] = session.scalar(
            select(Service.id).where(Service.name == alert.service))
    return cache[alert.service] or integration.service_id


def ingest(session: Session, integration: Integration, alerts: list[NormalizedAlert],
           now: datetime) -> list[Outcome]:
    """Store each alert and open, join or resolve its incident.

    One open incident per (service, dedup key) is guaranteed by a partial unique index; the
    insert-or-increment is a single ``INSERT .. ON CONFLICT .. DO UPDATE`` so concurrent
    duplicates cannot open two incidents.
    """
    actor = f"integration:{integration.name}"
    services: dict[str, int | None] = {}
    outcomes = []
    for alert in alerts:
        service_id = _service_for(session, integration, alert, services)
        if alert.status == "resolved":
            outcomes.append(_resolve_from_alert(session, integration, service_id, alert,
                                                actor, now))
        else:
            outcomes.append(_trigger(session, integration, service_id, alert, actor, now))
    return outcomes


def _trigger(session: Session, integration: Integration, service_id: int,
             alert: NormalizedAlert, actor: str, now: datetime) -> Outcome:
    stmt = _insert(session)(Incident).values(
        service_id=service_id, dedup_key=alert.dedup_key, status="triggered",
        severity=alert.severity, summary=alert.summary, alert_count=1, level=0, loop=0,
        next_action_at=now, created_at=now, updated_at=now,
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["service_id", "dedup_key"],
        index_where=text("status <> 'resolved'"),
        set_={"alert_count": Incident.alert_count + 1, "updated_at": now},
    ).returning(Incident.id, Incident.alert_count, Incident.status)
    incident_id, count, status = session.execute(stmt).one()
    new = count == 1
    alert_id = _store_alert(session, integration, incident_id, alert, now)
    if new:
        record(session, incident_id, "triggered", actor, now, alert_id=alert_id,
               summary=alert.summary, severity=alert.severity)
    return Outcome(alert_id, incident_id, status, new)


def _resolve_from_alert(session: Session, integration: Integration, service_id: int,
                        alert: NormalizedAlert, actor: str, now: datetime) -> Outcome:
    incident_id = session.scalar(
        update(Incident)
        .where(Incident.service_id == service_id, Incident.dedup_key == alert.dedup_key,
               Incident.status.in_(OPEN))
        .values(status="resolved", resolved_at=now, resolved_by=actor, next_action_at=None,
                updated_at=now)
        .returning(Incident.id)
    )
    alert_id = _store_alert(session, integration, incident_id, alert, now)
    if incident_id is None:
        return Outcome(alert_id, None, "resolved", False)
    record(session, incident_id, "resolved", actor, now, alert_id=alert_id)
    return Outcome(alert_id, incident_id, "resolved", False)


def _store_alert(session: Session, integration: Integration, incident_id: int | None,
                 alert: NormalizedAlert, now: datetime) -> int:
    stmt = (
        _insert(session)(Alert)
        .values(integration_id=integration.id, incident_id=incident_id, received_at=now,
                status=alert.status, type=alert.type, severity=alert.severity,
                summary=alert.summary, dedup_key=alert.dedup_key, service=alert.service,
                labels=alert.labels, value=alert.value, raw=alert.raw)
        .returning(Alert.id)
    )
    return int(session.execute(stmt).scalar_one())


class NotFound(LookupError):
    pass


def acknowledge(session: Session, incident_id: int, actor: str, now: datetime) -> Incident:
    """Stop the escalation. Acknowledging an acknowledged or resolved incident changes
    nothing and is not an error (two people pressing the button at once)."""
    changed = session.execute(
        update(Incident)
        .where(Incident.id == incident_id, Incident.status == "triggered")
        .values(status="acknowledged", acked_at=now, acked_by=actor, next_action_at=None,
                updated_at=now)
    ).rowcount  # type: ignore[attr-defined]
    if changed:
        record(session, incident_id, "acknowledged", actor, now)
    return _get(session, incident_id)


def resolve(session: Session, incident_id: int, actor: str, now: datetime) -> Incident:
    changed = session.execute(
        update(Incident)
        .where(Incident.id == incident_id, Incident.status.in_(OPEN))
        .values(status="resolved", resolved_at=now, resolved_by=actor, next_action_at=None,
                updated_at=now)
    ).rowcount  # type: ignore[attr-defined]
    if changed:
        record(session, incident_id, "resolved", actor, now)
    return _get(session, incident_id)


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
        **summary_json(incident),
        "policy": incident.policy,
        "timeline": [{"at": e.at.isoformat(), "kind": e.kind, "actor": e.actor,
                      "detail": e.detail} for e in events],
        "pages": [page_json(p) for p in pages],
        "alerts": [{"id": a.id, "received_at": a.received_at.isoformat(), "status": a.status,
                    "type": a.type, "severity": a.severity, "summary": a.summary,
                    "labels": a.labels, "value": a.value} for a in alerts],
    }


def summary_json(incident: Incident) -> dict[str, Any]:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": incident.id, "service": incident.service.name, "dedup_key": incident.dedup_key,
        "status": incident.status, "severity": incident.severity, "summary": incident.summary,
        "alert_count": incident.alert_count, "level": incident.level, "loop": incident.loop,
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
