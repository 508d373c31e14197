"""``/api/v1``: the REST API (incidents here; schedules, policies and the rest join it)."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint, HTTPError, Schema
from apiflask.fields import Boolean, Integer, List, String
from apiflask.validators import OneOf, Range
from flask import Flask
from sqlalchemy import or_, select

from oncall import actions, incidents, permissions
from oncall.audit import entry_json
from oncall.incidents import respond
from oncall.incidents.respond import Verb
from oncall.models import INCIDENT_STATUSES, AuditEntry, Incident, Page, utcnow
from oncall.web import privacy, session, transaction
from oncall.web.auth import actor, current_user, require
from oncall.web.errors import BadRequest

bp = APIBlueprint("api", __name__, url_prefix="/api/v1", tag="Incidents")


class IncidentQuery(Schema):
    status = String(validate=OneOf([*INCIDENT_STATUSES, "open"]))
    limit = Integer(load_default=50, validate=Range(min=1, max=500))
    mine = Boolean(load_default=False, metadata={
        "description": "only incidents that paged you or that you acknowledged"})


@bp.get("/incidents")
@bp.doc(security="ApiToken")
@bp.input(IncidentQuery, location="query", arg_name="query")
@require("viewer")
def list_incidents(query: dict[str, Any]) -> dict[str, Any]:
    """List incidents, newest first. `status=open` means triggered or acknowledged;
    `mine=true`: only those that paged you (on any channel) or that you acknowledged."""
    stmt = select(Incident).order_by(Incident.id.desc()).limit(query["limit"])
    if query["mine"]:
        me = current_user()
        stmt = stmt.where(or_(Incident.id.in_(select(Page.incident_id)
                                              .where(Page.user_id == me.id)),
                              Incident.acked_by == f"user:{me.email}"))
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
    """An incident with its timeline, its pages and its latest alerts (other people's contact
    addresses hidden, except from admins)."""
    try:
        return privacy.incident_detail(incidents.detail(session(), incident_id), current_user())
    except incidents.NotFound:
        raise HTTPError(404, f"incident {incident_id} not found") from None


def _may(action: str) -> None:
    """403 unless the caller's role may ``action`` incidents (``oncall.permissions``); for
    reassign, which is no ``respond`` verb."""
    refusal = permissions.act_refusal(current_user().role, action)
    if refusal is not None:
        raise HTTPError(403, refusal)


def _respond(incident_id: int, verb: Verb) -> respond.Outcome:
    """``respond`` as the caller, committed; refused is a 403, an unknown incident a 404."""
    with transaction() as s:
        outcome = respond.respond(s, current_user(), incident_id, verb, utcnow(), via="api")
    if outcome.kind == respond.REFUSED:
        raise HTTPError(403, outcome.message)
    if outcome.incident is None:
        raise HTTPError(404, f"incident {incident_id} not found")
    return outcome


def _summary(incident: Incident) -> dict[str, Any]:
    return incidents.summary_json(incident, incidents.alert_counts(session(), [incident.id]))


@bp.post("/incidents/<int:incident_id>/ack")
@bp.doc(security="ApiToken", responses={403: "Not allowed", 404: "No such incident"})
@require("viewer")
def ack_incident(incident_id: int) -> dict[str, Any]:
    """Acknowledge: escalation stops at once. Acknowledging twice is harmless."""
    outcome = _respond(incident_id, Verb.ACKNOWLEDGE)
    assert outcome.incident is not None
    return _summary(outcome.incident)


@bp.post("/incidents/<int:incident_id>/resolve")
@bp.doc(security="ApiToken", responses={403: "Not allowed", 404: "No such incident"})
@require("viewer")
def resolve_incident(incident_id: int) -> dict[str, Any]:
    """Resolve: escalation stops and a later alert with the same key opens a new incident."""
    outcome = _respond(incident_id, Verb.RESOLVE)
    assert outcome.incident is not None
    return _summary(outcome.incident)


@bp.post("/incidents/<int:incident_id>/escalate")
@bp.doc(security="ApiToken", responses={403: "Not allowed", 404: "No such incident",
                                        409: "Resolved"})
@require("viewer")
def escalate_incident(incident_id: int) -> dict[str, Any]:
    """Page the next level now, without waiting for its escalation time. An acknowledged
    incident is triggered again."""
    outcome = _respond(incident_id, Verb.ESCALATE)
    if not outcome.done:  # only a resolved incident is not escalated
        raise HTTPError(409, f"incident {incident_id} is resolved")
    assert outcome.incident is not None
    return _summary(outcome.incident)


class ReassignIn(Schema):
    users = List(String(), metadata={"description": "emails: paged now, as a first level "
                                                    "in front of the incident's policy"})
    policy = String(metadata={"description": "a policy name: its levels replace the "
                                             "incident's, from level 1"})
    schedule = String(metadata={"description": "a schedule name: whoever is on call on it "
                                               "is paged now, as a first level in front of "
                                               "the incident's policy"})


@bp.post("/incidents/<int:incident_id>/reassign")
@bp.doc(security="ApiToken", responses={403: "Not allowed", 404: "No such incident",
                                        409: "Resolved"})
@bp.input(ReassignIn, arg_name="data")
@require("viewer")
def reassign_incident(incident_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Reassign to users, to a schedule's on-call or to another escalation policy: paged
    now, from level 1. Give exactly one of `users`, `schedule`, `policy`."""
    _may("reassign")
    try:
        with transaction() as s:
            found = s.get(Incident, incident_id)
            if found is None:
                raise HTTPError(404, f"incident {incident_id} not found")
            if found.status == "resolved":
                raise HTTPError(409, f"incident {incident_id} is resolved")
            incident = actions.reassign(s, incident_id, actor(), utcnow(),
                                        users=data.get("users"), policy=data.get("policy"),
                                        schedule=data.get("schedule"))
    except actions.ActionError as exc:
        raise BadRequest(exc.field, exc.message) from None
    return _summary(incident)


class NoteIn(Schema):
    text = String(required=True, metadata={"description": "the note (at most 4,000 "
                                                          "characters)"})


@bp.post("/incidents/<int:incident_id>/notes")
@bp.doc(security="ApiToken", responses={400: "Empty or too long", 403: "Not allowed",
                                        404: "No such incident"})
@bp.input(NoteIn, arg_name="data")
@require("responder")
def add_note(incident_id: int, data: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Add a note to the incident's timeline (kind `note`, with you as its actor), as the
    console's **Add note** does. Responders and up; the incident is otherwise unchanged."""
    try:
        with transaction() as s:
            incidents.add_note(s, incident_id, actor(), data["text"], utcnow())
    except incidents.NotFound:
        raise HTTPError(404, f"incident {incident_id} not found") from None
    except incidents.NoteError as exc:
        raise BadRequest("text", str(exc)) from None
    return {"incident_id": incident_id, "kind": "note", "actor": actor(),
            "text": data["text"].strip()}, 201


class AuditQuery(Schema):
    object_type = String(validate=OneOf(["schedule", "layer", "override", "policy", "service",
                                         "user", "rule", "notification_rules", "heartbeat",
                                         "maintenance", "integration", "api_token"]))
    object_id = Integer(validate=Range(min=1, max=2**31 - 1))
    limit = Integer(load_default=100, validate=Range(min=1, max=1000))


@bp.get("/audit")
@bp.doc(security="ApiToken", tags=["Audit"])
@bp.input(AuditQuery, location="query", arg_name="query")
@require("manager")
def audit_log(query: dict[str, Any]) -> dict[str, Any]:
    """Configuration changes, newest first: who, what, before and after (other people's
    phone numbers and Slack ids hidden, except from admins)."""
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(query["limit"])
    if "object_type" in query:
        stmt = stmt.where(AuditEntry.object_type == query["object_type"])
    if "object_id" in query:
        stmt = stmt.where(AuditEntry.object_id == query["object_id"])
    return {"entries": privacy.audit_entries([entry_json(e) for e in session().scalars(stmt)],
                                             current_user())}


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
