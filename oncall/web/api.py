"""``/api/v1``: the REST API (incidents here; schedules, policies and the rest join it)."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint, HTTPError, Schema
from apiflask.fields import Integer, String
from apiflask.validators import OneOf, Range
from flask import Flask
from sqlalchemy import select

from oncall import incidents
from oncall.audit import entry_json
from oncall.models import INCIDENT_STATUSES, AuditEntry, Incident, utcnow
from oncall.notify import slack
from oncall.web import session, transaction
from oncall.web.auth import current_user, require

bp = APIBlueprint("api", __name__, url_prefix="/api/v1", tag="Incidents")


class IncidentQuery(Schema):
    status = String(validate=OneOf([*INCIDENT_STATUSES, "open"]))
    limit = Integer(load_default=50, validate=Range(min=1, max=500))


@bp.get("/incidents")
@bp.doc(security="ApiToken")
@bp.input(IncidentQuery, location="query", arg_name="query")
@require("viewer")
def list_incidents(query: dict[str, Any]) -> dict[str, Any]:
    """List incidents, newest first. `status=open` means triggered or acknowledged."""
    stmt = select(Incident).order_by(Incident.id.desc()).limit(query["limit"])
    status = query.get("status")
    if status == "open":
        stmt = stmt.where(Incident.status.in_(incidents.OPEN))
    elif status:
        stmt = stmt.where(Incident.status == status)
    found = list(session().scalars(stmt))
    counts = incidents.alert_counts(session(), [i.id for i in found])
    return {"incidents": [incidents.summary_json(i, counts) for i in found]}


@bp.get("/incidents/<int:incident_id>")
@bp.doc(security="ApiToken", responses={404: "No such incident"})
@require("viewer")
def get_incident(incident_id: int) -> dict[str, Any]:
    """An incident with its timeline, its pages and its latest alerts."""
    try:
        return incidents.detail(session(), incident_id)
    except incidents.NotFound:
        raise HTTPError(404, f"incident {incident_id} not found") from None


def _act(incident_id: int, action: Any) -> dict[str, Any]:
    try:
        with transaction() as s:
            incident = action(s, incident_id, f"user:{current_user().email}", utcnow())
    except incidents.NotFound:
        raise HTTPError(404, f"incident {incident_id} not found") from None
    slack.after_change(incident_id)
    return incidents.summary_json(incident, incidents.alert_counts(s, [incident_id]))


@bp.post("/incidents/<int:incident_id>/ack")
@bp.doc(security="ApiToken", responses={404: "No such incident"})
@require("responder")
def ack_incident(incident_id: int) -> dict[str, Any]:
    """Acknowledge: escalation stops at once. Acknowledging twice is harmless."""
    return _act(incident_id, incidents.acknowledge)


@bp.post("/incidents/<int:incident_id>/resolve")
@bp.doc(security="ApiToken", responses={404: "No such incident"})
@require("responder")
def resolve_incident(incident_id: int) -> dict[str, Any]:
    """Resolve: escalation stops and a later alert with the same key opens a new incident."""
    return _act(incident_id, incidents.resolve)


class AuditQuery(Schema):
    object_type = String(validate=OneOf(["schedule", "layer", "override", "policy", "service",
                                         "user", "rule", "heartbeat", "maintenance"]))
    object_id = Integer()
    limit = Integer(load_default=100, validate=Range(min=1, max=1000))


@bp.get("/audit")
@bp.doc(security="ApiToken", tags=["Audit"])
@bp.input(AuditQuery, location="query", arg_name="query")
@require("manager")
def audit_log(query: dict[str, Any]) -> dict[str, Any]:
    """Configuration changes, newest first: who, what, before and after."""
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(query["limit"])
    if "object_type" in query:
        stmt = stmt.where(AuditEntry.object_type == query["object_type"])
    if "object_id" in query:
        stmt = stmt.where(AuditEntry.object_id == query["object_id"])
    return {"entries": [entry_json(e) for e in session().scalars(stmt)]}


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
