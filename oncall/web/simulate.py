"""``POST /api/v1/simulate``: what an alert at a given time would do (``oncall.simulate``),
written nowhere. Anyone who may read may ask; bad input is a 422 naming the field."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from apiflask import APIBlueprint, Schema
from apiflask.fields import Boolean, DateTime, Dict, Float, Integer, List, Nested, Raw, String
from apiflask.validators import Length, OneOf
from flask import Flask
from marshmallow import ValidationError

from oncall import simulate as simulator
from oncall.ingest import FORMATS, SEVERITIES
from oncall.models import utcnow
from oncall.web import session
from oncall.web.auth import require
from oncall.web.errors import BadRequest

bp = APIBlueprint("simulate", __name__, url_prefix="/api/v1", tag="Simulator")


class SimulateIn(Schema):
    service = String(required=True, validate=Length(1, 200),
                     metadata={"description": "the service the alert is sent to"})
    type = String(load_default="generic", validate=Length(1, 100),
                  metadata={"description": "the alert's type, as rules match it "
                                           "(charge_failure, cron_miss, api_error_rate...)"})
    severity = String(load_default="critical", validate=OneOf(SEVERITIES))
    summary = String(validate=Length(1, 1024))
    labels = Dict(keys=String(), values=Raw(allow_none=True), load_default=dict)
    value = Float(allow_none=True, allow_nan=False)
    dedup_key = String(validate=Length(1, 255))
    format = String(load_default="generic", validate=OneOf(list(FORMATS)),
                    metadata={"description": "the webhook format of `payload`"})
    payload = Raw(metadata={"description": "instead of the fields above: a webhook body as "
                                           "an integration of `format` receives it, holding "
                                           "one firing alert; `service` is the integration's"})
    at = String(metadata={"description": "ISO 8601; default now. Without an offset it is "
                                         "read in `timezone` (default UTC)"})
    timezone = String(metadata={"description": "an IANA zone, e.g. Europe/Berlin"})


class ChannelOut(Schema):
    channel = String()
    at = DateTime()


class EntryOut(Schema):
    at = DateTime()
    level = Integer(metadata={"description": "1-based; 0: the admins, nobody else was paged"})
    loop = Integer(metadata={"description": "0: the first run of the ladder; 1.. repeats"})
    recipient = String(allow_none=True, metadata={"description": "an email or slack:#room"})
    name = String(allow_none=True)
    channels = List(Nested(ChannelOut), metadata={"description": "each channel and when it "
                                                                 "goes out"})
    note = String(allow_none=True, metadata={"description": "set on lines that page nobody"})


class RuleOut(Schema):
    name = String()
    held = Boolean()
    when = Raw(allow_none=True)
    observed = Dict()
    dedup_key = String()
    severity = String()
    runbook = String(allow_none=True)


class WindowOut(Schema):
    id = Integer()
    name = String()
    ends_at = DateTime()


class IncidentOut(Schema):
    id = Integer()
    status = String()
    level = Integer()
    loop = Integer()
    summary = String()
    next_action_at = DateTime(allow_none=True)


class AlertOut(Schema):
    type = String()
    severity = String()
    summary = String()
    dedup_key = String()
    labels = Dict()
    value = Float(allow_none=True)


class SimulateOut(Schema):
    at = DateTime()
    service = String()
    outcome = String(validate=OneOf(["pages", "held", "joins"]))
    reason = String()
    policy = String(allow_none=True)
    rule = Nested(RuleOut, allow_none=True, metadata={"description": "the first matching "
                                                                     "threshold rule"})
    window = Nested(WindowOut, allow_none=True, metadata={"description": "the maintenance "
                                                                         "window holding it"})
    incident = Nested(IncidentOut, allow_none=True, metadata={"description": "the open "
                                                                             "incident it joins"})
    alert = Nested(AlertOut)
    timeline = List(Nested(EntryOut), metadata={"description": "who is paged on which "
                                                               "channel when, until the ladder "
                                                               "ends"})
    if_crossed = List(Nested(EntryOut), metadata={"description": "held below a rule's "
                                                                 "threshold: the ladder it "
                                                                 "would run were it crossed"})


@bp.post("/simulate")
@bp.doc(security="ApiToken", responses={422: "A field is missing or wrong (named in `field`)"})
@bp.input(SimulateIn, arg_name="data", validation=False)
@bp.output(SimulateOut)
@require("viewer")
def simulate(data: Any) -> dict[str, Any]:
    """What an alert at a given time would do: held (by a rule below its threshold or a
    maintenance window) or paged, by which rule, the open incident it would join, and the
    whole escalation as a timeline (schedules resolved at each level's time, each person's
    notification rules, repeats). Nothing is written."""
    asked = _load(data)
    at = _at(asked.get("at"), asked.get("timezone"))
    try:
        answer = simulator.simulate(
            session(), asked["service"], at, type_=asked["type"], severity=asked["severity"],
            summary=asked.get("summary"), labels=asked["labels"], value=asked.get("value"),
            dedup_key=asked.get("dedup_key"), payload=asked.get("payload"),
            kind=asked["format"])
    except simulator.SimulationError as exc:
        raise BadRequest(exc.field, exc.message, 422) from None
    finally:
        session().rollback()  # read only; nothing to keep
    return answer.as_json()


def _load(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise BadRequest("body", "must be a JSON object", 422)
    try:
        loaded: dict[str, Any] = SimulateIn().load(data)
    except ValidationError as exc:
        name = next(iter(exc.messages_dict), "body") if exc.messages_dict else "body"
        detail = exc.messages_dict.get(name) if exc.messages_dict else None
        message = detail[0] if isinstance(detail, list) and detail else "is not valid"
        raise BadRequest(str(name), str(message), 422) from None
    return loaded


def _at(text: str | None, zone: str | None) -> datetime:
    try:
        tz = ZoneInfo(zone) if zone else None
    except (ValueError, KeyError):
        raise BadRequest("timezone", f"{zone!r} is not an IANA time zone", 422) from None
    if not text:
        return utcnow()
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest("at", "must be an ISO 8601 time", 422) from None
    return at if at.tzinfo is not None else at.replace(tzinfo=tz or ZoneInfo("UTC"))


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
