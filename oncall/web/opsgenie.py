"""``POST /v2/alerts``, ``/v2/alerts/<identifier>/close`` and ``.../acknowledge``, and
``GET /v2/alerts/requests/<requestId>``: Opsgenie's Alert API v2, so that any tool that sends
alerts to Opsgenie can point here by changing its base URL. The alert id a client learns
from the create flow (the request status's ``alertId``) is our incident's id, exactly what
``identifierType=id`` takes. ``Authorization: GenieKey <key>`` names an ``opsgenie``
integration; answers use Opsgenie's status codes and bodies (202 ``{result, took,
requestId}``; 400, 401, 404, 413, 422 and 429 with ``{message, took, requestId}``). The
mapping is in :mod:`oncall.ingest.opsgenie`; storing goes through the same path as
``/v2/enqueue``."""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from apiflask import APIBlueprint, HTTPError
from flask import Flask, Response, g, request
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.exceptions import RequestEntityTooLarge

from oncall import hostile, incidents, metrics
from oncall.incidents import Outcome, intake, record
from oncall.incidents.intake import Source
from oncall.ingest import opsgenie
from oncall.models import Alert, Incident, utcnow
from oncall.web import session, transaction
from oncall.web.hooks import cleaned, integration_for, marked, store

bp = APIBlueprint("opsgenie", __name__, tag="Alert intake")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
Answer = tuple[dict[str, Any], int, dict[str, str]]
RESPONSES = {202: "Request will be processed (stored)",
             400: "Malformed JSON or not an object (Opsgenie's error body)",
             401: "Missing or unknown GenieKey", 413: "Body over the size limit",
             422: "A field is missing or invalid (named in `message`), or the GenieKey is "
                  "not a UUID",
             429: "Rate limit for this integration", 503: "Storage unavailable; retry"}


def request_id() -> str:
    """This request's id (``requestId`` and ``X-Request-ID``)."""
    if "opsgenie_request_id" not in g:
        g.opsgenie_request_id = str(uuid.uuid4())
        g.opsgenie_started = time.monotonic()
    return str(g.opsgenie_request_id)


def _took() -> float:
    request_id()
    return time.monotonic() - float(g.opsgenie_started)


def _headers() -> dict[str, str]:
    return {"X-Request-ID": request_id(), "X-Response-Time": f"{_took():.3f}"}


def refused(message: str, status: int) -> Answer:
    """Opsgenie's error answer (``ErrorResponse``)."""
    metrics.REJECTED.labels(str(status)).inc()
    headers = _headers()
    return opsgenie.error(message, _took(), headers["X-Request-ID"]), status, headers


def _accepted() -> Answer:
    headers = _headers()
    return opsgenie.response(_took(), headers["X-Request-ID"]), 202, headers


def genie_key() -> str | None:
    """The key of ``Authorization: GenieKey <key>`` (the scheme is case-insensitive)."""
    scheme, _, value = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() == "geniekey" and value.strip():
        return value.strip()
    return None


def _source() -> Source | Answer:
    key = genie_key()
    if key is None:
        return refused("Could not authenticate: send the integration key as "
                       "'Authorization: GenieKey <key>'", 401)
    try:
        source = integration_for(key)
    except HTTPError:
        if not _UUID.fullmatch(key):  # as Opsgenie answers a key that cannot be one
            return refused("Key format is not valid! (an opsgenie integration's key is a "
                           "UUID)", 422)
        return refused("Could not authenticate: unknown GenieKey", 401)
    if source.kind != "opsgenie":
        return refused(f"Could not authenticate: the GenieKey belongs to a {source.kind} "
                       "integration, not an opsgenie one", 401)
    return source


def _body(optional: bool) -> Any:
    """The JSON body (None when optional and empty), or an OpsgenieError."""
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise opsgenie.OpsgenieError("body", "Request body is too large", 413) from None
    if not raw.strip():
        if optional:
            return None
        raise opsgenie.OpsgenieError("body", "Request body is empty; expected a JSON object",
                                     400)
    try:
        return hostile.loads(raw)
    except ValueError:  # malformed, undecodable, too deep, a huge number
        raise opsgenie.OpsgenieError("body", "Invalid JSON body: could not parse it",
                                     400) from None


@bp.post("/v2/alerts")
@bp.doc(summary="Opsgenie Alert API v2: create an alert (alias = dedup key)",
        responses=RESPONSES, security="GenieKey", operation_id="opsgenieCreateAlert")
def create() -> Answer:
    source = _source()
    if not isinstance(source, Source):
        return source
    try:
        body, fields = cleaned(_body(optional=False))
        alert, act = opsgenie.parse_create(body)
    except opsgenie.OpsgenieError as exc:
        return refused(exc.message, exc.status)
    headers = _headers()
    alert = replace(alert, raw={**(alert.raw or {}), REQUEST_KEY: headers["X-Request-ID"]})
    store(source, marked([alert], fields), _noted("created", source, act))
    return _accepted()


# Where a create request's id is kept with its stored alert, and how long its status can be
# asked for (Opsgenie keeps request statuses for a limited time too).
REQUEST_KEY = "oncall_request_id"
REQUEST_STATUS_KEPT = timedelta(days=1)


@bp.get("/v2/alerts/requests/<request_id>")
@bp.doc(summary="Opsgenie Alert API v2: a create request's status (alertId = the "
                "incident's id, what identifierType=id takes)",
        responses={200: "The request was processed", 401: RESPONSES[401],
                   404: "No create request with that id from this integration (in the "
                        "last day)", 429: RESPONSES[429], 503: RESPONSES[503]},
        security="GenieKey", operation_id="opsgenieGetRequestStatus")
def request_status(request_id: str) -> Answer:
    """What Opsgenie's clients call after a create to learn the alert's id: ``alertId`` is
    our incident's id (absent when a threshold rule held the alert: no incident)."""
    source = _source()
    if not isinstance(source, Source):
        return source
    alert = session().scalar(
        # type and received_at: the (type, received_at) index narrows it to a day's creates
        select(Alert).where(Alert.type == "opsgenie", Alert.integration_id == source.id,
                            Alert.received_at >= utcnow() - REQUEST_STATUS_KEPT,
                            Alert.raw[REQUEST_KEY].as_string() == request_id)
        .order_by(Alert.id.desc()).limit(1))
    if alert is None:
        return refused(f"Request [{request_id}] not found: only create requests of this "
                       "integration are kept, for a day", 404)
    headers = _headers()
    data = opsgenie.request_status(alert.incident_id, alert.received_at, source.name,
                                   (alert.raw or {}).get("alias"))
    return opsgenie.status_response(data, _took(), headers["X-Request-ID"]), 200, headers


@bp.post("/v2/alerts/<path:identifier>/close")
@bp.doc(summary="Opsgenie Alert API v2: close an alert (resolves its incident)",
        responses={**RESPONSES, 404: "No incident with that id (identifierType=id)"},
        security="GenieKey", operation_id="opsgenieCloseAlert")
def close(identifier: str) -> Answer:
    found = _target(identifier)
    if not isinstance(found, Target):
        return found
    if found.key is not None:
        store(found.source, [opsgenie.resolved(found.key, found.act, found.raw)],
              _noted("closed", found.source, found.act))
    return _accepted()


@bp.post("/v2/alerts/<path:identifier>/acknowledge")
@bp.doc(summary="Opsgenie Alert API v2: acknowledge an alert",
        responses={**RESPONSES, 404: "No incident with that id (identifierType=id)"},
        security="GenieKey", operation_id="opsgenieAcknowledgeAlert")
def acknowledge(identifier: str) -> Answer:
    found = _target(identifier)
    if not isinstance(found, Target):
        return found
    if found.key is not None:  # as Opsgenie: nothing open with that alias, nothing to do
        with transaction() as s:
            acked = intake.acknowledge_by_key(s, found.source, found.key, utcnow(),
                                              found.act.detail())
            if acked is not None:
                incidents.note_change(s, acked)
    return _accepted()


@dataclass(frozen=True)
class Target:
    """What a close or acknowledge names: the integration, the dedup key (None: the id of
    an incident already resolved), the request's user/note/source and what to keep of it."""

    source: Source
    key: str | None
    act: opsgenie.Action
    raw: dict[str, Any]


def _target(identifier: str) -> Target | Answer:
    source = _source()
    if not isinstance(source, Source):
        return source
    try:
        kind = opsgenie.identifier_type(request.args.get("identifierType"))
        body, _ = cleaned(_body(optional=True))
        act = opsgenie.action(body)
    except opsgenie.OpsgenieError as exc:
        return refused(exc.message, exc.status)
    raw = {"identifier": identifier, "identifierType": kind, **(body or {})}
    if kind == "alias":
        return Target(source, opsgenie.dedup_key(identifier), act, raw)
    # id: our incident's id, as the console and API show it.
    incident = None
    if identifier.isdigit() and len(identifier) < 10:
        incident = session().scalar(select(Incident).where(
            Incident.id == int(identifier), Incident.service_id == source.service_id))
    if incident is None:
        return refused(f"Alert with id [{identifier}] does not exist (identifierType=id is "
                       "the incident's id; send identifierType=alias for an alias)", 404)
    key = incident.dedup_key if incident.status != "resolved" else None
    return Target(source, key, act, raw)


def _noted(what: str, source: Source, act: opsgenie.Action) -> Any:
    """A timeline note with the request's ``user`` and ``note``, in the storing transaction."""
    if not (act.user or act.note):
        return None

    def note(s: Session, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            if outcome.incident_id is None:
                continue
            text = f"Opsgenie {what}" + (f" by {act.user}" if act.user else "") + \
                (f": {act.note}" if act.note else "")
            record(s, outcome.incident_id, "note", f"integration:{source.name}", utcnow(),
                   text=text, **act.detail())

    return note


@bp.after_request
def _opsgenie_shaped(response: Response) -> Response:
    """Answers made outside these views (storage unavailable: 503) in Opsgenie's
    error shape too, keeping their status and headers (``Retry-After``)."""
    if response.status_code < 400 or not response.is_json:
        return response
    body = response.get_json(silent=True)
    if isinstance(body, dict) and "requestId" not in body and "error" in body:
        response.set_data(json.dumps(opsgenie.error(str(body["error"]), _took(),
                                                    request_id())))
        response.headers.update(_headers())
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
