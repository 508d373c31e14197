"""Storing alerts: each one opens, joins or resolves its incident, in the caller's
transaction.

There is at most one open incident per (service, dedup key), guaranteed by a partial unique
index. A firing alert runs ``INSERT .. ON CONFLICT DO NOTHING``: concurrent duplicates cannot
open two incidents, and joining an open incident takes no lock on its row, so a storm of
duplicates neither queues on one row nor holds off the incident's escalation. On PostgreSQL
the whole firing path (incident, alert, timeline entry) is one statement: one round trip,
which also wakes the dispatcher (``oncall.wake``) when it opens an incident.
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String, bindparam, column, text
from sqlalchemy.orm import Session

from oncall import db, maintenance, wake
from oncall.incidents import Outcome, arm_ack_timeout, record
from oncall.ingest import NormalizedAlert
from oncall.models import Integration, UTCDateTime
from oncall.rules import route


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


_TYPES: dict[str, Any] = {"now": UTCDateTime(), "labels": JSON(), "raw": JSON(),
                          "policy": JSON(none_as_null=True)}


def _typed(sql: str) -> Any:
    """A text statement whose time and JSON parameters are converted like the columns'."""
    stmt = text(sql)
    return stmt.bindparams(*(bindparam(name, type_=type_) for name, type_ in _TYPES.items()
                             if f":{name}" in sql))


# The alert keeps what its sender said; the incident takes the matching threshold rule's key,
# summary, severity, policy and runbook (``inc_*``: the alert's own when no rule matches).
_ALERT_COLUMNS = ("integration_id, incident_id, received_at, status, type, severity, summary, "
                  "dedup_key, service, labels, value, raw, rule, held")
_ALERT_VALUES = (":integration_id, {incident}, :now, :status, :type, :severity, :summary, "
                 ":dedup_key, :service, :labels, :value, :raw, :rule, :held")
_OPEN_INCIDENT = ("INSERT INTO incidents (service_id, dedup_key, status, severity, summary, "
                  "policy, runbook, level, loop, next_action_at, created_at, updated_at) VALUES "
                  "(:service_id, :inc_key, 'triggered', :inc_severity, :inc_summary, :policy, "
                  ":runbook, 0, 0, :now, :now, :now) ON CONFLICT (service_id, dedup_key) "
                  "WHERE status <> 'resolved' DO NOTHING RETURNING id, status")
_FIND_OPEN = ("SELECT id, status FROM incidents WHERE service_id = :service_id AND "
              "dedup_key = :inc_key AND status <> 'resolved'")

# PostgreSQL: one statement. If a concurrent transaction opened the incident after this
# statement's snapshot was taken, neither branch of `inc` sees a row and nothing is written;
# the caller runs it again (with a new snapshot, which sees that incident).
_PG_TRIGGER = _typed(f"""
WITH ins AS ({_OPEN_INCIDENT}),
inc AS (
  SELECT id, status, true AS new FROM ins
  UNION ALL
  (SELECT id, status, false AS new FROM incidents
    WHERE service_id = :service_id AND dedup_key = :inc_key AND status <> 'resolved'
      AND NOT EXISTS (SELECT 1 FROM ins) LIMIT 1)
),
al AS (INSERT INTO alerts ({_ALERT_COLUMNS})
       SELECT {_ALERT_VALUES.format(incident="inc.id")} FROM inc RETURNING id),
ev AS (INSERT INTO incident_events (incident_id, at, kind, actor, detail)
       SELECT inc.id, :now, 'triggered', :actor,
              json_strip_nulls(json_build_object(
                'alert_id', (SELECT id FROM al), 'summary', CAST(:inc_summary AS text),
                'severity', CAST(:inc_severity AS text), 'rule', CAST(:rule AS text)))
       FROM inc WHERE inc.new)
SELECT inc.id, inc.status, inc.new, (SELECT id FROM al),
       (SELECT {wake.NOTIFY_SQL} FROM inc WHERE inc.new) FROM inc
""").columns(column("id", Integer), column("status", String), column("new", Boolean),
             column("alert_id", Integer), column("notified", String))
# PostgreSQL, a batch (an Alertmanager group, a JSON array): the same in one statement for
# every firing alert of the batch, from arrays. Alert ids are drawn first so that each input
# row keeps its own; the first alert of an incident key opens its incident, the rest join it.
# Each row carries its incident's key, summary, severity, policy and runbook (a threshold
# rule's, else the alert's own); alerts a rule held are stored with no incident. Rows whose
# incident a concurrent transaction opened meanwhile come back missing and are run again.
_PG_TRIGGER_BATCH = _typed(f"""
WITH input AS (
  SELECT nextval(pg_get_serial_sequence('alerts', 'id')) AS alert_id, t.*
  FROM unnest(CAST(:ord AS int[]), CAST(:service_id AS int[]), CAST(:dedup_key AS text[]),
              CAST(:type AS text[]), CAST(:severity AS text[]), CAST(:summary AS text[]),
              CAST(:service AS text[]), CAST(:texts_labels AS text[]), CAST(:value AS float8[]),
              CAST(:texts_raw AS text[]), CAST(:inc_key AS text[]),
              CAST(:inc_summary AS text[]), CAST(:inc_severity AS text[]),
              CAST(:texts_policy AS text[]), CAST(:runbook AS text[]), CAST(:rule AS text[]),
              CAST(:held AS boolean[]))
       AS t(ord, service_id, dedup_key, type, severity, summary, service, labels, value, raw,
            inc_key, inc_summary, inc_severity, policy, runbook, rule, held)
),
paged AS (SELECT * FROM input WHERE NOT held),
firsts AS (
  SELECT DISTINCT ON (service_id, inc_key) * FROM paged ORDER BY service_id, inc_key, ord
),
ins AS (
  INSERT INTO incidents (service_id, dedup_key, status, severity, summary, policy, runbook,
                         level, loop, next_action_at, created_at, updated_at)
  SELECT service_id, inc_key, 'triggered', inc_severity, inc_summary, CAST(policy AS json),
         runbook, 0, 0, :now, :now, :now
  -- In key order, not arrival order: two batches holding the same keys in other orders
  -- would each wait on the other's new index entries (a deadlock, answered 503).
  FROM firsts ORDER BY service_id, inc_key
  ON CONFLICT (service_id, dedup_key) WHERE status <> 'resolved' DO NOTHING
  RETURNING id, service_id, dedup_key AS inc_key, status
),
inc AS (
  SELECT id, service_id, inc_key, status, true AS new FROM ins
  UNION ALL
  SELECT i.id, i.service_id, i.dedup_key, i.status, false AS new
  FROM incidents i JOIN firsts f ON i.service_id = f.service_id AND i.dedup_key = f.inc_key
  WHERE i.status <> 'resolved' AND NOT EXISTS (
    SELECT 1 FROM ins WHERE ins.service_id = f.service_id AND ins.inc_key = f.inc_key)
),
placed AS (
  SELECT paged.*, inc.id AS incident_id, inc.status AS incident_status,
         inc.new AND paged.alert_id = f.alert_id AS opened
  FROM paged JOIN inc USING (service_id, inc_key) JOIN firsts f USING (service_id, inc_key)
  UNION ALL
  SELECT input.*, NULL, 'held', false FROM input WHERE held
),
al AS (
  INSERT INTO alerts (id, integration_id, incident_id, received_at, status, type, severity,
                      summary, dedup_key, service, labels, value, raw, rule, held)
  SELECT alert_id, :integration_id, incident_id, :now, 'firing', type, severity, summary,
         dedup_key, service, CAST(labels AS json), value, CAST(raw AS json), rule, held
  FROM placed
),
ev AS (
  INSERT INTO incident_events (incident_id, at, kind, actor, detail)
  SELECT incident_id, :now, 'triggered', :actor,
         json_strip_nulls(json_build_object('alert_id', alert_id, 'summary', inc_summary,
                                            'severity', inc_severity, 'rule', rule))
  FROM placed WHERE opened
)
SELECT ord, alert_id, incident_id, incident_status, opened,
       (SELECT {wake.NOTIFY_SQL} WHERE EXISTS (SELECT 1 FROM inc WHERE inc.new))
FROM placed
""")
_OPEN = _typed(_OPEN_INCIDENT)
_FIND = text(_FIND_OPEN)
_STORE = _typed(f"INSERT INTO alerts ({_ALERT_COLUMNS}) VALUES "
                f"({_ALERT_VALUES.format(incident=':incident_id')}) RETURNING id")
_RESOLVE = _typed("UPDATE incidents SET status = 'resolved', resolved_at = :now, "
                  "resolved_by = :actor, next_action_at = NULL, updated_at = :now "
                  "WHERE service_id = :service_id AND dedup_key = :inc_key "
                  "AND status IN ('triggered', 'acknowledged') RETURNING id")


def _params(source: Source, service_id: int, alert: NormalizedAlert,
            now: datetime) -> dict[str, Any]:
    return {"integration_id": source.id, "service_id": service_id, "now": now,
            "status": alert.status, "type": alert.type, "severity": alert.severity,
            "summary": alert.summary, "dedup_key": alert.dedup_key, "service": alert.service,
            "labels": alert.labels, "value": alert.value, "raw": alert.raw,
            "actor": source.actor or f"integration:{source.name}", "inc_key": alert.dedup_key,
            "inc_summary": alert.summary, "inc_severity": alert.severity, "policy": None,
            "runbook": None, "rule": None, "held": False}


def ingest(session: Session, source: Source, alerts: list[NormalizedAlert], now: datetime,
           service_ids: dict[str, int] | None = None, alone: bool = False) -> list[Outcome]:
    """Store each alert and open, join or resolve its incident. ``service_ids`` maps service
    names an alert may name to ids; an unknown name falls back to the integration's service
    (an alert is never dropped for a typo). ``alone``: the caller writes nothing else in
    this unit of work, so a lone firing alert that no rule or maintenance window concerns
    may be stored as a transaction of its own (``_trigger_pg``)."""
    postgres = db.is_postgres(session)
    windows = maintenance.active(session, now)  # cached: free when no window is near
    firing = [a for a in alerts if a.status != "resolved"]
    names = [a.service if a.service in (service_ids or {}) else None for a in alerts]
    if postgres and len(firing) > 1 and len(firing) == len(alerts):
        named = [(a, n or source.service) for a, n in zip(alerts, names, strict=True)]
        verdicts: list[route.Verdict | None] = (
            route.route_many(session, named, now) if route.any_match(session, named)
            else [None] * len(alerts))
        outcomes = _trigger_pg_batch(session, source, alerts, now, service_ids or {}, verdicts)
        for verdict, outcome in zip(verdicts, outcomes, strict=True):
            if verdict is not None:
                route.remember(session, verdict, outcome.incident_id, outcome.new, now)
    else:
        outcomes = _one_by_one(session, source, alerts, names, now, service_ids or {},
                               alone=alone and len(alerts) == 1 and not windows)
    if windows:
        maintenance.hold(session, source, alerts, outcomes, now, service_ids or {})
    return outcomes


def wakes_dispatcher(session: Session) -> bool:
    """Whether storing alerts in this session's database also woke the dispatcher: on
    PostgreSQL the statements that open incidents send ``NOTIFY`` (``oncall.wake``); on
    SQLite the caller enqueues each new incident's first step."""
    return db.is_postgres(session)


def _one_by_one(session: Session, source: Source, alerts: list[NormalizedAlert],
                names: list[str | None], now: datetime, service_ids: dict[str, int],
                alone: bool = False) -> list[Outcome]:
    """Each alert in turn; ``alone``: the one alert is the only write of the unit of work,
    unless a rule judges it (the rule's state is written too)."""
    postgres = db.is_postgres(session)
    outcomes = []
    for alert, named in zip(alerts, names, strict=True):
        params, verdict = judge(session, source, alert, named, now, service_ids)
        if verdict is not None and (verdict.held or (verdict.manages_resolution
                                                     and alert.status == "resolved")):
            outcomes.append(_store_only(session, params))
        elif alert.status == "resolved":
            outcomes.append(_resolve(session, params, now))
        elif postgres:
            outcomes.append(_trigger_pg(session, params, alone and verdict is None))
        else:
            outcomes.append(_trigger(session, params, alert))
        if verdict is not None:
            route.remember(session, verdict, outcomes[-1].incident_id, outcomes[-1].new, now)
    return outcomes


def judge(session: Session, source: Source, alert: NormalizedAlert, named: str | None,
          now: datetime, service_ids: dict[str, int]) -> tuple[dict[str, Any],
                                                                route.Verdict | None]:
    """What storing one alert will do, decided before anything is written (reads only; the
    simulator asks the same): the statement parameters of the alert and of the incident it
    opens or joins (key, summary, severity, policy snapshot, runbook), and the first
    matching rule's verdict (None: no rule matches). ``named``: the service the alert names,
    if known (else the integration's)."""
    service_id = service_ids.get(named or "", source.service_id)
    params = _params(source, service_id, alert, now)
    verdict = route.route(session, alert, named or source.service, now)
    if verdict is not None:
        params.update(verdict.params())
    return params, verdict


def open_incident(session: Session, service_id: int, dedup_key: str) -> tuple[int, str] | None:
    """The open incident (id, status) that a firing alert with this incident key joins:
    the lookup the intake statements make (``_FIND_OPEN``)."""
    row = session.connection().execute(_FIND, {"service_id": service_id,
                                               "inc_key": dedup_key}).first()
    return None if row is None else (int(row[0]), str(row[1]))


def _trigger_pg_batch(session: Session, source: Source, alerts: list[NormalizedAlert],
                      now: datetime, service_ids: dict[str, int],
                      verdicts: list[route.Verdict | None]) -> list[Outcome]:
    """Every alert of a firing batch in one statement (``_PG_TRIGGER_BATCH``), each with
    its rule's verdict (None: no rule matched)."""
    conn = session.connection()
    outcomes: dict[int, Outcome] = {}
    pending = list(range(len(alerts)))
    actor = source.actor or f"integration:{source.name}"
    for _ in range(5):
        rows = conn.execute(_PG_TRIGGER_BATCH, {
            "ord": pending, "integration_id": source.id, "now": now, "actor": actor,
            **_columns([_params(source, service_ids.get(alerts[i].service or "",
                                                        source.service_id), alerts[i], now)
                        | _verdict_params(verdicts[i]) for i in pending]),
        }).all()
        for ord_, alert_id, incident_id, status, new, _ in rows:
            outcomes[ord_] = Outcome(alert_id, incident_id, status, bool(new))
        pending = [i for i in pending if i not in outcomes]
        if not pending:
            return [outcomes[i] for i in range(len(alerts))]
    raise RuntimeError(f"could not open or find the incidents for {len(pending)} alerts")


def _verdict_params(verdict: route.Verdict | None) -> dict[str, Any]:
    return verdict.params() if verdict is not None else {}


def _columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Per-alert statement parameters as the batch statement's arrays (JSON as text)."""
    return {
        **{name: [r[name] for r in rows]
           for name in ("service_id", "dedup_key", "type", "severity", "summary", "service",
                        "inc_key", "inc_summary", "inc_severity", "runbook", "rule", "held")},
        "value": [None if r["value"] is None else float(r["value"]) for r in rows],
        "texts_labels": [json.dumps(r["labels"]) for r in rows],
        "texts_raw": [None if r["raw"] is None else json.dumps(r["raw"]) for r in rows],
        "texts_policy": [None if r["policy"] is None else json.dumps(r["policy"])
                         for r in rows],
    }


def _store_only(session: Session, params: dict[str, Any]) -> Outcome:
    """An alert a rule held below its threshold (stored and visible, paging nobody), or a
    sender's "resolved" for a rule that resolves its incidents itself."""
    alert_id = session.connection().execute(_STORE, {**params, "incident_id": None}).scalar_one()
    return Outcome(alert_id, None, "held" if params["held"] else params["status"], False)


def _trigger_pg(session: Session, params: dict[str, Any], alone: bool = False) -> Outcome:
    """``alone``: this statement is the whole unit of work, so it may run as its own
    transaction (``db.single_statement``): the common case of one alert per request. Each
    try that finds no incident writes nothing."""
    with db.single_statement(session) if alone else nullcontext(session.connection()) as conn:
        for _ in range(5):
            row = conn.execute(_PG_TRIGGER, params).first()
            if row is not None:
                incident_id, status, new, alert_id, _ = row
                return Outcome(alert_id, incident_id, status, new)
    raise RuntimeError(f"could not open or find the incident for {params['dedup_key']!r}")


def _trigger(session: Session, params: dict[str, Any], alert: NormalizedAlert) -> Outcome:
    conn = session.connection()
    opened = conn.execute(_OPEN, params).first()
    new = opened is not None
    found = (opened[0], opened[1]) if opened is not None else open_incident(
        session, params["service_id"], params["inc_key"])
    assert found is not None, "a conflicting open incident must exist"
    incident_id, status = found
    alert_id = conn.execute(_STORE, {**params, "incident_id": incident_id}).scalar_one()
    if new:
        extra = {"rule": params["rule"]} if params["rule"] else {}
        record(session, incident_id, "triggered", params["actor"], params["now"],
               alert_id=alert_id, summary=params["inc_summary"],
               severity=params["inc_severity"], **extra)
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
                       now: datetime, detail: dict[str, Any] | None = None) -> int | None:
    """Acknowledge the open incident with this key (PagerDuty's ``acknowledge`` event);
    None when there is none (the event is then dropped, as PagerDuty does). ``detail``
    goes into the timeline entry (e.g. Opsgenie's ``user`` and ``note``)."""
    actor = f"integration:{source.name}"
    incident_id = session.connection().execute(_ACK, {
        "now": now, "actor": actor, "service_id": source.service_id,
        "dedup_key": dedup_key}).scalar()
    if incident_id is not None:
        record(session, incident_id, "acknowledged", actor, now, **(detail or {}))
        arm_ack_timeout(session, incident_id, now)
    return incident_id
