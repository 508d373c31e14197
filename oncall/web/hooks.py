"""Inbound alert webhooks: ``POST /integrations/<token>`` (or the token as a Bearer header).

Accept means durable: the answer is 202 only after the alerts are committed; the escalation
is enqueued after that. Storage down: 503, so the sender retries.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from apiflask import APIBlueprint, HTTPError
from flask import Flask, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall import hostile, incidents, metrics
from oncall.incidents import Outcome, followups, intake
from oncall.incidents.intake import Source
from oncall.ingest import FORMATS, SEVERITIES, NormalizedAlert, PayloadError
from oncall.ingest.alert import batch_size
from oncall.models import Integration, Service, utcnow
from oncall.security import hash_token
from oncall.web import session, settings, transaction
from oncall.web.auth import bearer_token
from oncall.web.errors import BadRequest

log = logging.getLogger(__name__)
# The key of an alert's stored ``raw`` that lists the request's cleaned fields.
SANITIZED_KEY = "oncall_sanitized"
bp = APIBlueprint("hooks", __name__, tag="Alert intake")

ADAPTERS: dict[str, Callable[[Any], list[NormalizedAlert]]] = FORMATS
KIND_PATHS = {"pagerduty": "POST /v2/enqueue (routing_key = the integration key)",
              "opsgenie": "POST /v2/alerts (Authorization: GenieKey <the integration key>)"}

RESPONSES = {
    202: "Stored; `incidents` lists what each alert opened, joined or resolved",
    400: "Malformed JSON, or a missing or wrong-typed field (named in `field`)",
    404: "Unknown integration token",
    413: "Body over the size limit (1 MiB by default), or more alerts than "
         "ONCALL_MAX_ALERTS_PER_REQUEST (1,000 by default) in one request; nothing was stored",
    415: "Content-Type is not application/json",
    503: "Storage unavailable: nothing was stored; retry",
}


def read_json() -> Any:
    """The request body as JSON, or a 415/400 naming the problem."""
    mimetype = request.mimetype or ""
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise HTTPError(415, f"Content-Type must be application/json, not {mimetype or 'none'}")
    raw = request.get_data(cache=True)
    if not raw.strip():
        raise BadRequest("body", "is empty; expected a JSON object")
    try:
        return hostile.loads(raw)
    except ValueError as exc:  # malformed, undecodable, too deep, a huge number
        raise BadRequest("body", f"malformed JSON: {exc}") from exc


def cleaned(payload: Any) -> tuple[Any, list[str]]:
    """The payload with what the database cannot hold (NULs, lone surrogates) replaced by
    U+FFFD, and the fields that were changed: an alert is stored, never refused for it."""
    if not hostile.may_need_cleaning(request.get_data(cache=True)):
        return payload, []
    return hostile.sanitize(payload)


def marked(alerts: list[NormalizedAlert], fields: list[str]) -> list[NormalizedAlert]:
    """The alerts, each saying in its stored ``raw`` which fields of the request were
    cleaned (``oncall_sanitized``), so that nobody mistakes U+FFFD for what was sent."""
    if not fields:
        return alerts
    metrics.SANITIZED.inc(len(alerts))
    log.warning("stored %d alert(s) with NUL or lone surrogate characters replaced in: %s",
                len(alerts), ", ".join(fields[:20]))
    return [replace(a, raw={**(a.raw or {}), SANITIZED_KEY: fields}) for a in alerts]


# Integrations by token hash, kept briefly per process: the lookup is on every alert's path.
# A removed integration stops accepting alerts within CACHE_SECONDS.
CACHE_SECONDS = 10.0
_cache: dict[str, tuple[Source, float]] = {}


def integration_for(token: str | None) -> Source:
    if not token:
        raise HTTPError(404, "unknown integration token")
    key = hash_token(token)
    hit = _cache.get(key)
    if hit is not None and hit[1] > time.monotonic():
        return hit[0]
    found = session().scalar(select(Integration).where(Integration.token_hash == key))
    if found is None:
        _cache.pop(key, None)
        raise HTTPError(404, "unknown integration token")
    if len(_cache) > 4096:
        _cache.clear()
    source = Source.of(found)
    _cache[key] = (source, time.monotonic() + CACHE_SECONDS)
    return source


def _service_ids(source: Source, alerts: list[NormalizedAlert]) -> dict[str, int]:
    """Ids of the other services the alerts name (one query, only when some do)."""
    names = {a.service for a in alerts if a.service and a.service != source.service}
    if not names:
        return {}
    return dict(session().execute(select(Service.name, Service.id)
                                  .where(Service.name.in_(names))).all())


@bp.post("/integrations/<token>")
@bp.doc(summary="Send an alert", responses=RESPONSES, operation_id="sendAlert")
def receive(token: str) -> tuple[dict[str, Any], int]:
    """Send alerts in the integration's format: generic (one `GenericAlert` or a JSON array
    of up to ONCALL_MAX_ALERTS_PER_REQUEST, 1,000 by default), Prometheus Alertmanager
    webhook v4, or Grafana alerting webhook."""
    return _receive(token)


@bp.put("/integrations/<token>")
@bp.doc(summary="Send an alert (PUT, as Grafana may)", responses=RESPONSES,
        operation_id="sendAlertPut")
def receive_put(token: str) -> tuple[dict[str, Any], int]:
    """As `POST /integrations/{token}`: Grafana's webhook contact point can use PUT."""
    return _receive(token)


@bp.post("/integrations")
@bp.doc(summary="Send an alert (token in the Authorization header)", responses=RESPONSES,
        security="ApiToken", operation_id="sendAlertBearer")
def receive_bearer() -> tuple[dict[str, Any], int]:
    """As `POST /integrations/{token}`, with `Authorization: Bearer <integration token>`."""
    return _receive(bearer_token())


def _receive(token: str | None) -> tuple[dict[str, Any], int]:
    integration = integration_for(token)
    payload = read_json()
    adapter = ADAPTERS.get(integration.kind)
    if adapter is None:
        raise HTTPError(404, f"a {integration.kind} integration receives at "
                             f"{KIND_PATHS.get(integration.kind, 'its own path')}")
    field, count = batch_size(payload)
    cap = settings().max_alerts_per_request
    if count > cap:
        metrics.REJECTED.labels("413").inc()
        raise BadRequest(field, f"{count} alerts in one request; at most {cap} "
                                "(ONCALL_MAX_ALERTS_PER_REQUEST); nothing was stored", 413)
    payload, fields = cleaned(payload)
    try:
        alerts = adapter(payload)
    except PayloadError as exc:
        metrics.REJECTED.labels("400").inc()
        raise BadRequest(exc.field, exc.message) from exc
    outcomes = store(integration, marked(alerts, fields))
    return {"accepted": len(alerts), "incidents": [o.as_json() for o in outcomes]}, 202


def store(source: Source, alerts: list[NormalizedAlert],
          after: Callable[[Session, list[Outcome]], None] | None = None) -> list[Outcome]:
    """Commit the alerts (accept means durable), then enqueue the new incidents' escalation.
    ``after`` runs in the same transaction (e.g. to add timeline entries)."""
    with transaction() as s:
        # Alone (one statement, autocommit) only when nothing else is written with it:
        # ``after``'s timeline entries belong to the same transaction.
        outcomes = intake.ingest(s, source, alerts, utcnow(), _service_ids(source, alerts),
                                 alone=after is None)
        if after is not None:
            after(s, outcomes)
        _note(s, outcomes, intake.wakes_dispatcher(s))
    metrics.ALERTS.labels(source.name, source.kind).inc(len(alerts))
    return outcomes


def _note(s: Session, outcomes: list[Outcome], woken: bool) -> None:
    """Once committed (``oncall.incidents.followups``): a new incident's first step, a
    resolved one's Slack messages."""
    for outcome in outcomes:
        if outcome.incident_id is None:
            continue
        if outcome.new:
            followups.opened(s, outcome.incident_id, woken)
        elif outcome.status == "resolved":
            incidents.note_change(s, outcome.incident_id)


GENERIC_ALERT_SCHEMA = {
    "type": "object",
    "required": ["summary"],
    "properties": {
        "summary": {"type": "string", "maxLength": 1024, "description": "What is wrong."},
        "type": {"type": "string", "maxLength": 100, "example": "charge_failure",
                 "description": "The alert class, matched by rules. Default `generic`."},
        "severity": {"type": "string", "enum": list(SEVERITIES), "default": "critical"},
        "status": {"type": "string", "enum": ["firing", "resolved"], "default": "firing"},
        "dedup_key": {"type": "string", "maxLength": 255,
                      "description": "Alerts with one key share one open incident. Default: "
                                     "derived from type and labels (or summary)."},
        "service": {"type": "string", "description": "A service name; default the "
                                                     "integration's service."},
        "labels": {"type": "object", "additionalProperties": {
            "oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]}},
        "value": {"type": "number", "description": "The measured value, for threshold rules."},
    },
}


def _document_bodies(spec: dict[str, Any], cap: int) -> dict[str, Any]:
    """Intake parses its body itself (to answer 415/413/400 exactly); describe it here."""
    spec.setdefault("components", {}).setdefault("schemas", {})["GenericAlert"] = \
        GENERIC_ALERT_SCHEMA
    body = {"required": True, "content": {"application/json": {"schema": {"oneOf": [
        {"$ref": "#/components/schemas/GenericAlert"},
        {"type": "array", "maxItems": cap, "items": {"$ref": "#/components/schemas/GenericAlert"}},
    ]}}}}
    for path in ("/integrations/{token}", "/integrations"):
        op = spec.get("paths", {}).get(path, {}).get("post")
        if op is not None:
            op["requestBody"] = body
    return spec


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    cap = app.extensions["oncall"].max_alerts_per_request
    app.spec_processor(  # type: ignore[attr-defined]
        lambda spec: _document_bodies(spec, cap))
