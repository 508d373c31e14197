"""Response bodies in ``/api/v1/openapi.json``: what each JSON view really answers, so that a
client generator, or schemathesis's conformance check (``tests/test_schemathesis.py``), can
hold the service to it.

The views return plain dicts built by the domain (``incidents.summary_json`` and the like),
not marshmallow output (``@bp.output`` would drop whatever its schema does not list), so their
bodies are described here as JSON schemas, by operation, and every error answer (4xx, 503) as
the one ``Error`` body of ``oncall.web.errors``.
"""

from __future__ import annotations

from typing import Any

STR = {"type": "string"}
OPT_STR = {"type": "string", "nullable": True}
INT = {"type": "integer"}
TIME = {"type": "string", "format": "date-time"}
OPT_TIME = {**TIME, "nullable": True}
OBJ = {"type": "object"}


def obj(required: dict[str, Any], **optional: Any) -> dict[str, Any]:
    """An object with these required properties, others allowed (the API may grow)."""
    return {"type": "object", "required": sorted(required),
            "properties": {**required, **optional}}


def ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def array(item: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": item}


SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": obj({"error": STR, "status": INT},
                 field={"type": "string", "nullable": True,
                        "description": "The field the error is about (a JSON path, "
                                       "`query.<name>`, `form.<name>` or a header)"},
                 detail={"type": "object", "description": "Every validation error, by field"}),
    "Incident": obj({"id": INT, "service": STR, "dedup_key": STR,
                     "status": {"type": "string",
                                "enum": ["triggered", "acknowledged", "resolved"]},
                     "severity": STR, "summary": STR, "alert_count": INT, "level": INT,
                     "loop": INT, "next_action_at": OPT_TIME, "created_at": OPT_TIME,
                     "acked_at": OPT_TIME, "acked_by": OPT_STR, "resolved_at": OPT_TIME,
                     "resolved_by": OPT_STR}),
    "Schedule": obj({"id": INT, "name": STR, "timezone": STR, "description": OPT_STR,
                     "managed_by": OPT_STR,
                     "layers": array(obj({"id": INT, "name": STR, "position": INT,
                                          "members": array(STR),
                                          "restrictions": {"type": "array"}}))}),
    "Override": obj({"id": INT, "user": STR, "start": TIME, "end": TIME, "kind": STR,
                     "note": OPT_STR, "created_at": TIME, "created_by": OPT_STR}),
    "Shift": obj({"start": TIME, "end": TIME, "user": OPT_STR, "layer": OPT_STR,
                  "override_id": {"type": "integer", "nullable": True}}),
    "Heartbeat": obj({"id": INT, "name": STR, "description": OPT_STR, "ping_url": OPT_STR,
                      "uuid": OPT_STR, "service": STR, "policy": OPT_STR,
                      "period": {"type": "integer", "nullable": True}, "cron": OPT_STR,
                      "timezone": STR, "grace": INT, "severity": STR, "state": STR,
                      "down_reason": OPT_STR, "created_at": OPT_TIME,
                      "last_ping_at": OPT_TIME, "last_success_at": OPT_TIME,
                      "last_start_at": OPT_TIME, "next_due_at": OPT_TIME,
                      "managed_by": OPT_STR}),
    "MaintenanceWindow": obj({"id": INT, "name": STR, "matchers": OBJ, "matches": STR,
                              "starts_at": TIME, "ends_at": TIME, "state": STR,
                              "reason": OPT_STR, "created_by": OPT_STR, "created_at": TIME,
                              "managed_by": OPT_STR, "held_incidents": INT}),
    "User": obj({"id": INT, "email": STR, "name": STR, "role": STR},
                phone=OPT_STR, slack_id=OPT_STR, timezone=OPT_STR, managed_by=OPT_STR,
                contact_methods={"type": "array"}, reachable={"type": "boolean"},
                notification=OBJ),
    "NotificationRules": obj({"user": STR, "rules": OBJ, "managed_by": OPT_STR,
                              "effective": OBJ}),
    "Alert": obj({"id": INT, "received_at": TIME, "status": STR, "type": STR,
                  "severity": STR, "summary": STR, "labels": OBJ,
                  "value": {"type": "number", "nullable": True}},
                 sanitized={**array(STR), "description": "Fields of the request whose NUL or "
                            "lone surrogate characters were stored as U+FFFD"}),
}

INCIDENT_DETAIL = {"allOf": [ref("Incident"), obj({
    "timeline": {"type": "array"}, "pages": {"type": "array"},
    "alerts": array(ref("Alert"))})]}

ACCEPTED = obj({"accepted": INT, "incidents": array(obj({
    "alert_id": {"type": "integer", "nullable": True},
    "incident_id": {"type": "integer", "nullable": True},
    "status": OPT_STR, "new": {"type": "boolean"}}))})

# (method, path) -> (status, schema) of the success answer.
BODIES: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {
    ("post", "/integrations/{token}"): (202, ACCEPTED),
    ("put", "/integrations/{token}"): (202, ACCEPTED),
    ("post", "/integrations"): (202, ACCEPTED),
    ("post", "/v2/enqueue"): (202, obj({"status": {"type": "string", "enum": ["success"]},
                                        "message": STR, "dedup_key": STR})),
    **{("post", path): (202, obj({"result": STR, "took": {"type": "number"},
                                  "requestId": STR}))
       for path in ("/v2/alerts", "/v2/alerts/{identifier}/close",
                    "/v2/alerts/{identifier}/acknowledge")},
    ("get", "/health"): (200, obj({"status": {"type": "string", "enum": ["ok"]}})),
    ("get", "/ready"): (200, obj({"status": STR, "checks": OBJ})),
    ("get", "/api/v1/incidents"): (200, obj({"incidents": array(ref("Incident"))})),
    ("get", "/api/v1/incidents/{incident_id}"): (200, INCIDENT_DETAIL),
    **{("post", f"/api/v1/incidents/{{incident_id}}/{action}"): (200, ref("Incident"))
       for action in ("ack", "resolve", "escalate", "reassign")},
    ("get", "/api/v1/audit"): (200, obj({"entries": array(OBJ)})),
    ("get", "/api/v1/alerts"): (200, obj({"alerts": array(ref("Alert"))})),
    ("get", "/api/v1/schedules"): (200, obj({"schedules": array(ref("Schedule"))})),
    ("post", "/api/v1/schedules"): (201, ref("Schedule")),
    ("get", "/api/v1/schedules/{schedule_id}"): (200, ref("Schedule")),
    ("patch", "/api/v1/schedules/{schedule_id}"): (200, ref("Schedule")),
    ("post", "/api/v1/schedules/{schedule_id}/layers"): (201, ref("Schedule")),
    ("patch", "/api/v1/schedules/{schedule_id}/layers/{layer_id}"): (200, ref("Schedule")),
    ("post", "/api/v1/schedules/{schedule_id}/layers/{layer_id}/members"):
        (200, ref("Schedule")),
    ("delete", "/api/v1/schedules/{schedule_id}/layers/{layer_id}/members/{email}"):
        (200, ref("Schedule")),
    ("get", "/api/v1/schedules/{schedule_id}/overrides"):
        (200, obj({"overrides": array(ref("Override"))})),
    ("post", "/api/v1/schedules/{schedule_id}/overrides"): (201, ref("Override")),
    ("post", "/api/v1/schedules/{schedule_id}/swaps"): (201, ref("Override")),
    ("get", "/api/v1/schedules/{schedule_id}/oncall"): (200, obj({
        "schedule": STR, "at": TIME, "user": OPT_STR, "layer": OPT_STR,
        "by_layer": OBJ, "next": {**SCHEMAS["Shift"], "nullable": True}})),
    ("get", "/api/v1/schedules/{schedule_id}/shifts"): (200, obj({
        "schedule": STR, "timezone": STR, "shifts": array(ref("Shift"))})),
    ("get", "/api/v1/heartbeats"): (200, obj({"heartbeats": array(ref("Heartbeat"))})),
    ("post", "/api/v1/heartbeats"): (201, ref("Heartbeat")),
    ("get", "/api/v1/heartbeats/{heartbeat_id}"): (200, ref("Heartbeat")),
    ("patch", "/api/v1/heartbeats/{heartbeat_id}"): (200, ref("Heartbeat")),
    ("post", "/api/v1/heartbeats/{heartbeat_id}/pause"): (200, ref("Heartbeat")),
    ("post", "/api/v1/heartbeats/{heartbeat_id}/resume"): (200, ref("Heartbeat")),
    ("get", "/api/v1/heartbeats/{heartbeat_id}/pings"): (200, obj({"pings": array(obj({
        "id": INT, "kind": STR, "at": TIME}))})),
    ("get", "/api/v1/maintenance"): (200, obj({"maintenance": array(ref("MaintenanceWindow"))})),
    ("post", "/api/v1/maintenance"): (201, ref("MaintenanceWindow")),
    ("get", "/api/v1/maintenance/{window_id}"): (200, ref("MaintenanceWindow")),
    ("patch", "/api/v1/maintenance/{window_id}"): (200, ref("MaintenanceWindow")),
    ("post", "/api/v1/maintenance/{window_id}/end"): (200, ref("MaintenanceWindow")),
    ("get", "/api/v1/users/{user_id}"): (200, ref("User")),
    ("get", "/api/v1/users/{user_id}/notification-rules"): (200, ref("NotificationRules")),
    ("put", "/api/v1/users/{user_id}/notification-rules"): (200, ref("NotificationRules")),
    ("post", "/api/v1/users/me/feed-token"): (200, obj({
        "token": STR, "my_shifts": STR,
        "schedules": {"type": "object", "additionalProperties": STR}})),
    ("get", "/api/v1/rules/{name}"): (200, obj({"name": STR, "position": INT, "kind": STR})),
    ("get", "/api/v1/rules"): (200, obj({"rules": array(obj({"name": STR, "position": INT,
                                                              "kind": STR}))})),
}

ID_MAX = 2**31 - 1
ERRORS = {400: "Bad input, named in `field`", 401: "No or unknown API token",
          403: "The token's role may not do this", 404: "Not found",
          503: "Storage unavailable; nothing was changed; retry"}
METHODS = ("get", "post", "put", "patch", "delete")


def document(spec: dict[str, Any]) -> dict[str, Any]:
    """Add the response bodies to the generated document (an ``app.spec_processor``)."""
    spec.setdefault("components", {}).setdefault("schemas", {}).update(SCHEMAS)
    error = {"application/json": {"schema": ref("Error")}}
    for path, item in spec.get("paths", {}).items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            for param in op.get("parameters", []):
                if param.get("in") == "path" and param.get("schema", {}).get("type") == "integer":
                    param["schema"].update(minimum=0, maximum=ID_MAX)  # oncall.web.guard
            responses = op.setdefault("responses", {})
            body = BODIES.get((method, path))
            if body is not None and not _documented(responses.get(str(body[0]))):
                status, schema = body
                if str(status) != "200":
                    responses.pop("200", None)
                responses.setdefault(str(status), {"description": "Done"})["content"] = {
                    "application/json": {"schema": schema}}
            if not path.startswith("/api/v1/"):
                continue
            wanted = {400, 503}
            if op.get("security"):
                wanted |= {401, 403}
            if "{" in path:
                wanted.add(404)
            for status in sorted(wanted):
                responses.setdefault(str(status), {"description": ERRORS[status]})
            for status, response in responses.items():
                if status[0] in "45":
                    response["content"] = error
    return spec


def _documented(response: dict[str, Any] | None) -> bool:
    """Whether the view documented this answer's body itself (then it stands)."""
    content = (response or {}).get("content", {}).get("application/json", {})
    return bool(content.get("schema"))


def init_app(app: Any) -> None:
    """After every blueprint, and after any other spec processor (kept, run first)."""
    previous = app.spec_callback
    app.spec_processor(lambda spec: document(previous(spec) if previous else spec))
