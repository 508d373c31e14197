"""Storing alerts: each one opens, joins or resolves its incident, in the caller's
transaction.

There is at most one open incident per (service, dedup key), guaranteed by a partial unique
index. A firing alert runs ``INSERT .. ON CONFLICT DO NOTHING``: concurrent duplicates cannot
open two incidents, and joining an open incident takes no lock on its row, so a storm of
duplicates neither queues on one row nor holds off the incident's escalation. On PostgreSQL
the whole firing path (incident, alert, timeline entry) is one statement: one round trip.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, bindparam, text
from sqlalchemy.orm import Session

from oncall import maintenance
from oncall.incidents import Outcome, record
from oncall.ingest import NormalizedAlert
from oncall.models import Integration, UTCDateTime


@dataclass(frozen=True)
class Source:
    """The integration an alert came through (plain values: safe to cache across requests).
    Alerts raised inside the service (heartbeats) have no integration (``id`` None) and
    name their own ``actor`` for the timeline."""

    id: int | None
    name: str
    kind: str
    service_id: int
    service: str
    actor: str | None = None

    @classmethod
    def of(cls, integration: Integration) -> Source:
        return cls(integration.id, integration.name, integration.kind, integration.service_id,
                   integration.service.name)


_TYPES: dict[str, Any] = {"now": UTCDateTime(), "labels": JSON(), "raw": JSON()}


def _typed(sql: str) -> Any:
    """A text statement whose time and JSON parameters are converted like the columns'."""
    stmt = text(sql)
    return stmt.bindparams(*(bindparam(name, type_=type_) for name, type_ in _TYPES.items()
                             if f":{name}" in sql))


_ALERT_COLUMNS = ("integration_id, incident_id, received_at, status, type, severity, summary, "
                  "dedup_key, service, labels, value, raw")
_ALERT_VALUES = (":integration_id, {incident}, :now, :status, :type, :severity, :summary, "
                 ":dedup_key, :service, :labels, :value, :raw")
_OPEN_INCIDENT = ("INSERT INTO incidents (service_id, dedup_key, status, severity, summary, "
                  "level, loop, next_action_at, created_at, updated_at) VALUES "
                  "(:service_id, :dedup_key, 'triggered', :severity, :summary, 0, 0, :now, "
                  ":now, :now) ON CONFLICT (service_id, dedup_key) WHERE status <> 'resolved' "
                  "DO NOTHING RETURNING id, status")
_FIND_OPEN = ("SELECT id, status FROM incidents WHERE service_id = :service_id AND "
              "dedup_key = :dedup_key AND status <> 'resolved'")

# PostgreSQL: one statement. If a concurrent transaction opened the incident after this
# statement's snapshot was taken, neither branch of `inc` sees a row and nothing is written;
# the caller runs it again (with a new snapshot, which sees that incident).
_PG_TRIGGER = _typed(f"""
WITH ins AS ({_OPEN_INCIDENT}),
inc AS (
  SELECT id, status, true AS new FROM ins
  UNION ALL
  (SELECT id, status, false AS new FROM incidents
    WHERE service_id = :service_id AND dedup_key = :dedup_key AND status <> 'resolved'
      AND NOT EXISTS (SELECT 1 FROM ins) LIMIT 1)
),
al AS (INSERT INTO alerts ({_ALERT_COLUMNS})
       SELECT {_ALERT_VALUES.format(incident="inc.id")} FROM inc RETURNING id),
ev AS (INSERT INTO incident_events (incident_id, at, kind, actor, detail)
       SELECT inc.id, :now, 'triggered', :actor,
              json_build_object('alert_id', (SELECT id FROM al), 'summary', :summary,
                                'severity', :severity)
       FROM inc WHERE inc.new)
SELECT inc.id, inc.status, inc.new, (SELECT id FROM al) FROM inc
""")
_OPEN = _typed(_OPEN_INCIDENT)
_FIND = text(_FIND_OPEN)
_STORE = _typed(f"INSERT INTO alerts ({_ALERT_COLUMNS}) VALUES "
                f"({_ALERT_VALUES.format(incident=':incident_id')}) RETURNING id")
_RESOLVE = _typed("UPDATE incidents SET status = 'resolved', resolved_at = :now, "
                  "resolved_by = :actor, next_action_at = NULL, updated_at = :now "
                  "WHERE service_id = :service_id AND dedup_key = :dedup_key "
                  "AND status IN ('triggered', 'acknowledged') RETURNING id")


def _params(source: Source, service_id: int, alert: NormalizedAlert,
            now: datetime) -> dict[str, Any]:
    return {"integration_id": source.id, "service_id": service_id, "now": now,
            "status": alert.status, "type": alert.type, "severity": alert.severity,
            "summary": alert.summary, "dedup_key": alert.dedup_key, "service": alert.service,
            "labels": alert.labels, "value": alert.value, "raw": alert.raw,
            "actor": source.actor or f"integration:{source.name}"}


def ingest(session: Session, source: Source, alerts: list[NormalizedAlert], now: datetime,
           service_ids: dict[str, int] | None = None) -> list[Outcome]:
    """Store each alert and open, join or resolve its incident. ``service_ids`` maps service
    names an alert may name to ids; an unknown name falls back to the integration's service
    (an alert is never dropped for a typo)."""
    outcomes = []
    for alert in alerts:
        service_id = (service_ids or {}).get(alert.service or "", source.service_id)
        params = _params(source, service_id, alert, now)
        if alert.status == "resolved":
            outcomes.append(_resolve(session, params, now))
        elif session.get_bind().dialect.name == "postgresql":
            outcomes.append(_trigger_pg(session, params))
        else:
            outcomes.append(_trigger(session, params, alert))
    if maintenance.active(session, now):  # cached: free when no window is near
        maintenance.hold(session, source, alerts, outcomes, now, service_ids or {})
    return outcomes


def _trigger_pg(session: Session, params: dict[str, Any]) -> Outcome:
    conn = session.connection()
    for _ in range(5):
        row = conn.execute(_PG_TRIGGER, params).first()
        if row is not None:
            incident_id, status, new, alert_id = row
            return Outcome(alert_id, incident_id, status, new)
    raise RuntimeError(f"could not open or find the incident for {params['dedup_key']!r}")


def _trigger(session: Session, params: dict[str, Any], alert: NormalizedAlert) -> Outcome:
    conn = session.connection()
    row = conn.execute(_OPEN, params).first()
    new = row is not None
    if row is None:
        row = conn.execute(_FIND, params).first()
        assert row is not None, "a conflicting open incident must exist"
    incident_id, status = row
    alert_id = conn.execute(_STORE, {**params, "incident_id": incident_id}).scalar_one()
    if new:
        record(session, incident_id, "triggered", params["actor"], params["now"],
               alert_id=alert_id, summary=alert.summary, severity=alert.severity)
    return Outcome(alert_id, incident_id, status, new)


def _resolve(session: Session, params: dict[str, Any], now: datetime) -> Outcome:
    conn = session.connection()
    incident_id = conn.execute(_RESOLVE, params).scalar()
    alert_id = conn.execute(_STORE, {**params, "incident_id": incident_id}).scalar_one()
    if incident_id is not None:
        record(session, incident_id, "resolved", params["actor"], now, alert_id=alert_id)
    return Outcome(alert_id, incident_id, "resolved", False)


_ACK = _typed("UPDATE incidents SET status = 'acknowledged', acked_at = :now, acked_by = :actor, "
              "next_action_at = NULL, updated_at = :now WHERE service_id = :service_id "
              "AND dedup_key = :dedup_key AND status = 'triggered' RETURNING id")


def acknowledge_by_key(session: Session, source: Source, dedup_key: str,
                       now: datetime) -> int | None:
    """Acknowledge the open incident with this key (PagerDuty's ``acknowledge`` event);
    None when there is none (the event is then dropped, as PagerDuty does)."""
    actor = f"integration:{source.name}"
    incident_id = session.connection().execute(_ACK, {
        "now": now, "actor": actor, "service_id": source.service_id,
        "dedup_key": dedup_key}).scalar()
    if incident_id is not None:
        record(session, incident_id, "acknowledged", actor, now)
    return incident_id
