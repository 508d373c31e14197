"""Storing alerts: each one opens, joins or resolves its incident, in the caller's
transaction.

There is at most one open incident per (service, dedup key), guaranteed by a partial unique
index. Firing alerts run ``INSERT .. ON CONFLICT DO NOTHING``: concurrent duplicates cannot
open two incidents, and joining an open incident takes no lock on its row, so a storm of
duplicates neither queues on one row nor holds off the incident's escalation. One path
whatever the number of alerts (a lone alert is a batch of one): threshold rules judge the
whole request first (``route.route_many``), then each run of consecutive firing alerts is
stored by ``_trigger`` and each resolved alert by ``_resolve``, in the order sent. On
PostgreSQL a run of firing alerts (incidents, alerts, timeline entries) is one statement
(``intake_sql.TRIGGER_PG``): one round trip, which opens incidents in key order (no
deadlock between two requests holding the same keys), retries the alerts whose incident a
concurrent request opened meanwhile, and wakes the dispatcher when it
opens an incident.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from typing import Any

from sqlalchemy.orm import Session

from oncall import db, maintenance
from oncall.incidents import intake_sql as sql
from oncall.incidents.lifecycle import Outcome, arm_ack_timeout, record
from oncall.ingest import NormalizedAlert
from oncall.models import Integration
from oncall.rules import route

TRIES = 5  # a concurrent open makes a try miss an incident; the next try sees it


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


def _params(source: Source, service_id: int, alert: NormalizedAlert,
            now: datetime) -> dict[str, Any]:
    return {"integration_id": source.id, "service_id": service_id, "now": now,
            "status": alert.status, "type": alert.type, "severity": alert.severity,
            "summary": alert.summary, "dedup_key": alert.dedup_key, "service": alert.service,
            "labels": alert.labels, "value": alert.value, "raw": alert.raw,
            "actor": source.actor or f"integration:{source.name}", "inc_key": alert.dedup_key,
            "inc_summary": alert.summary, "inc_severity": alert.severity, "policy": None,
            "runbook": None, "rule": None, "held": False}


def _named(source: Source, alert: NormalizedAlert, service_ids: dict[str, int]) -> str:
    """The service an alert is for: the one it names if known, else the integration's (an
    alert is never dropped for a typo)."""
    return alert.service if alert.service in service_ids else source.service


def ingest(session: Session, source: Source, alerts: list[NormalizedAlert], now: datetime,
           service_ids: dict[str, int] | None = None, alone: bool = False) -> list[Outcome]:
    """Store each alert and open, join or resolve its incident. ``service_ids`` maps service
    names an alert may name to ids. ``alone``: the caller writes nothing else in this unit
    of work, so a lone firing alert that no rule or maintenance window concerns may be
    stored as a transaction of its own (``db.single_statement``)."""
    service_ids = service_ids or {}
    windows = maintenance.active(session, now)  # cached: free when no window is near
    named = [(a, _named(source, a, service_ids)) for a in alerts]
    verdicts: list[route.Verdict | None] = (
        route.route_many(session, named, now) if route.any_match(session, named)
        else [None] * len(alerts))
    rows = [_params(source, service_ids.get(service, source.service_id), alert, now)
            | _verdict_params(verdict) for (alert, service), verdict in zip(named, verdicts,
                                                                           strict=True)]
    alone = alone and len(alerts) == 1 and not windows and verdicts[0] is None
    outcomes = _store(session, rows, verdicts, alone)
    for verdict, outcome in zip(verdicts, outcomes, strict=True):
        if verdict is not None:
            route.remember(session, verdict, outcome.incident_id, outcome.new, now)
    if windows:
        maintenance.hold(session, source, alerts, outcomes, now, service_ids)
    return outcomes


def wakes_dispatcher(session: Session) -> bool:
    """Whether storing alerts in this session's database also woke the dispatcher: on
    PostgreSQL the statements that open incidents send ``NOTIFY``; on
    SQLite the caller enqueues each new incident's first step."""
    return db.is_postgres(session)


def _store(session: Session, rows: list[dict[str, Any]],
           verdicts: list[route.Verdict | None], alone: bool) -> list[Outcome]:
    """Write the judged alerts in the order sent: each run of consecutive firing alerts at
    once (``_trigger``), each resolved one alone (``_resolve``; a rule that resolves its
    incidents itself only stores it)."""
    outcomes: list[Outcome] = []
    for firing, run in groupby(zip(rows, verdicts, strict=True),
                               key=lambda row: row[0]["status"] != "resolved"):
        if firing:
            outcomes += _trigger(session, [params for params, _ in run], alone)
            continue
        for params, verdict in run:
            outcomes.append(_store_only(session, params)
                            if verdict is not None and verdict.manages_resolution
                            else _resolve(session, params))
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
    return params | _verdict_params(verdict), verdict


def open_incident(session: Session, service_id: int, dedup_key: str) -> tuple[int, str] | None:
    """The open incident (id, status) that a firing alert with this incident key joins:
    the lookup the intake statements make (``intake_sql.FIND_OPEN``)."""
    row = session.connection().execute(sql.FIND, {"service_id": service_id,
                                                  "inc_key": dedup_key}).first()
    return None if row is None else (int(row[0]), str(row[1]))


def _verdict_params(verdict: route.Verdict | None) -> dict[str, Any]:
    return verdict.params() if verdict is not None else {}


def _trigger(session: Session, rows: list[dict[str, Any]], alone: bool) -> list[Outcome]:
    """Firing alerts (each row a ``_params`` with its verdict's), in order: each opens or
    joins its incident, or is stored with none if a rule held it."""
    if db.is_postgres(session):
        return _trigger_pg(session, rows, alone)
    return [_store_only(session, params) if params["held"] else _trigger_sqlite(session, params)
            for params in rows]


def _trigger_pg(session: Session, rows: list[dict[str, Any]], alone: bool) -> list[Outcome]:
    """All the rows in one statement (``intake_sql.TRIGGER_PG``), again for those whose
    incident a concurrent transaction opened meanwhile. ``alone``: the statement is the
    whole unit of work, so it may run as its own transaction (``db.single_statement``): one
    round trip for the common case of one alert per request; a try that misses its
    incident then writes nothing."""
    outcomes: dict[int, Outcome] = {}
    pending = list(range(len(rows)))
    first = rows[0]
    with db.single_statement(session) if alone else nullcontext(session.connection()) as conn:
        if len(rows) == 1 and not first["held"]:
            for _ in range(TRIES):
                got = conn.execute(sql.TRIGGER_ONE_PG, first).first()
                if got is not None:
                    alert_id, incident_id, status, new, _ = got
                    return [Outcome(alert_id, incident_id, status, bool(new))]
            raise RuntimeError("could not open or find the incident for 1 alert")
        for _ in range(TRIES):
            found = conn.execute(sql.TRIGGER_PG, sql.ROWS.params(
                [rows[i] | {"ord": i} for i in pending], integration_id=first["integration_id"],
                now=first["now"], actor=first["actor"])).all()
            for ord_, alert_id, incident_id, status, new, _ in found:
                outcomes[ord_] = Outcome(alert_id, incident_id, status, bool(new))
            pending = [i for i in pending if i not in outcomes]
            if not pending:
                return [outcomes[i] for i in range(len(rows))]
    raise RuntimeError(f"could not open or find the incidents for {len(pending)} alerts")


def _trigger_sqlite(session: Session, params: dict[str, Any]) -> Outcome:
    """One firing alert on SQLite (one writer at a time: no concurrent open to retry)."""
    conn = session.connection()
    opened = conn.execute(sql.OPEN, params).first()
    found = (opened[0], opened[1]) if opened is not None else open_incident(
        session, params["service_id"], params["inc_key"])
    assert found is not None, "a conflicting open incident must exist"
    incident_id, status = found
    alert_id = conn.execute(sql.STORE, {**params, "incident_id": incident_id}).scalar_one()
    if opened is not None:
        extra = {"rule": params["rule"]} if params["rule"] else {}
        record(session, incident_id, "triggered", params["actor"], params["now"],
               alert_id=alert_id, summary=params["inc_summary"],
               severity=params["inc_severity"], **extra)
    return Outcome(alert_id, incident_id, status, opened is not None)


def _store_only(session: Session, params: dict[str, Any]) -> Outcome:
    """An alert a rule held below its threshold (stored and visible, paging nobody), or a
    sender's "resolved" for a rule that resolves its incidents itself."""
    alert_id = session.connection().execute(sql.STORE,
                                            {**params, "incident_id": None}).scalar_one()
    return Outcome(alert_id, None, "held" if params["held"] else params["status"], False)


def _resolve(session: Session, params: dict[str, Any]) -> Outcome:
    conn = session.connection()
    incident_id = conn.execute(sql.RESOLVE, params).scalar()
    alert_id = conn.execute(sql.STORE, {**params, "incident_id": incident_id}).scalar_one()
    if incident_id is not None:
        record(session, incident_id, "resolved", params["actor"], params["now"],
               alert_id=alert_id)
    return Outcome(alert_id, incident_id, "resolved", False)


def acknowledge_by_key(session: Session, source: Source, dedup_key: str,
                       now: datetime, detail: dict[str, Any] | None = None) -> int | None:
    """Acknowledge the open incident with this key (PagerDuty's ``acknowledge`` event);
    None when there is none (the event is then dropped, as PagerDuty does). ``detail``
    goes into the timeline entry (e.g. Opsgenie's ``user`` and ``note``)."""
    actor = f"integration:{source.name}"
    incident_id = session.connection().execute(sql.ACK, {
        "now": now, "actor": actor, "service_id": source.service_id,
        "dedup_key": dedup_key}).scalar()
    if incident_id is not None:
        record(session, incident_id, "acknowledged", actor, now, **(detail or {}))
        arm_ack_timeout(session, incident_id, now)
    return incident_id
