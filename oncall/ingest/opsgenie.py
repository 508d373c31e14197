"""Opsgenie Alert API v2 (``POST /v2/alerts``, ``.../close``, ``.../acknowledge``), so that a
tool that sends alerts to Opsgenie only changes its base URL. Field names, answers and limits
follow Opsgenie's OpenAPI document (``CreateAlertPayload``, ``CloseAlertPayload``,
``AcknowledgeAlertPayload``, ``SuccessResponse``, ``ErrorResponse``) and its documented field
limits:

* ``message`` (required, a non-blank string): the summary. The document sets no
  ``maxLength``; Opsgenie's documentation limits it to 130 characters and *truncates* longer
  ones, so do we (the whole request is kept in the stored alert's ``raw``: nothing is lost).
  Likewise ``alias`` (512), ``description`` (15,000), ``entity`` (512), ``source`` (100),
  ``user`` (100), ``note`` (25,000), ``tags`` (at most 20, each 50 characters).
* ``alias``: the dedup key. An alias longer than our 255-character key is stored as
  ``opsgenie-sha256:<hex>`` of the alias (the same every time, so close and acknowledge by
  alias still find it). No alias: Opsgenie makes a new alert for every request; so do we (a
  generated key).
* ``priority``: ``P1`` critical, ``P2`` error, ``P3`` warning (Opsgenie's default, used when
  absent), ``P4`` and ``P5`` info.
* ``details`` (an object) become labels (nested values flattened as for PagerDuty), overlaid
  with ``entity``, ``source``, ``priority``, ``tags`` (comma-separated) and ``description``.
  ``responders``, ``visibleTo`` and ``actions`` are checked for shape and kept in ``raw``:
  routing here is by the integration's service and its escalation policy.

A wrong type is refused with Opsgenie's 422 body naming the field (``{message, took,
requestId}``); a body that is not a JSON object with 400.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from oncall.ingest.alert import NormalizedAlert, PayloadError
from oncall.ingest.pagerduty import flatten

PRIORITIES = {"P1": "critical", "P2": "error", "P3": "warning", "P4": "info", "P5": "info"}
DEFAULT_PRIORITY = "P3"
LIMITS = {"message": 130, "alias": 512, "description": 15000, "entity": 512, "source": 100,
          "user": 100, "note": 25000}
MAX_TAGS = 20
MAX_TAG = 50
MAX_DEDUP_KEY = 255
IDENTIFIER_TYPES = ("id", "alias", "tiny")
ACCEPTED = "Request will be processed"


class OpsgenieError(PayloadError):
    """A request Opsgenie would refuse: ``status`` is the HTTP code (400 or 422)."""

    def __init__(self, field: str, message: str, status: int = 422) -> None:
        super().__init__(field, message)
        self.status = status

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Action:
    """``user``, ``note`` and ``source`` of any alert request (``AlertActionPayload``)."""

    user: str | None = None
    note: str | None = None
    source: str | None = None

    def detail(self) -> dict[str, str]:
        """What the timeline keeps of it."""
        return {k: v for k, v in (("user", self.user), ("note", self.note),
                                  ("source", self.source)) if v}


def dedup_key(alias: str) -> str:
    """Our dedup key for an Opsgenie alias (hashed when longer than our column)."""
    alias = alias[:LIMITS["alias"]]
    if len(alias) <= MAX_DEDUP_KEY:
        return alias
    return "opsgenie-sha256:" + hashlib.sha256(alias.encode()).hexdigest()


def action(body: Any) -> Action:
    """The optional body of close and acknowledge (``CloseAlertPayload``): user, note,
    source; an absent or empty body is fine."""
    if body is None:
        return Action()
    if not isinstance(body, dict):
        raise OpsgenieError("body", "Request body must be a JSON object", 400)
    return Action(**{name: _string(body, name) for name in ("user", "note", "source")})


def parse_create(body: Any) -> tuple[NormalizedAlert, Action]:
    """One ``CreateAlertPayload``, checked as Opsgenie checks it."""
    if not isinstance(body, dict):
        raise OpsgenieError("body", "Request body must be a JSON object", 400)
    message = body.get("message")
    if message is None or (isinstance(message, str) and not message.strip()):
        raise OpsgenieError("message", "Message can not be empty.")
    if not isinstance(message, str):
        raise OpsgenieError("message", "message must be a string")
    act = action({k: body.get(k) for k in ("user", "note", "source")})
    alias = _string(body, "alias")
    description = _string(body, "description")
    entity = _string(body, "entity")
    priority = body.get("priority", DEFAULT_PRIORITY)
    if priority is None:
        priority = DEFAULT_PRIORITY
    if priority not in PRIORITIES:
        raise OpsgenieError("priority", "priority should be one of P1, P2, P3, P4 or P5")
    tags = body.get("tags")
    if tags is not None and (not isinstance(tags, list)
                             or not all(isinstance(t, str) for t in tags)):
        raise OpsgenieError("tags", "tags must be an array of strings")
    details = body.get("details")
    if details is not None and not isinstance(details, dict):
        raise OpsgenieError("details", "details must be an object")
    for name in ("responders", "visibleTo"):
        _recipients(body.get(name), name)
    actions = body.get("actions")
    if actions is not None and (not isinstance(actions, list)
                                or not all(isinstance(a, str) for a in actions)):
        raise OpsgenieError("actions", "actions must be an array of strings")

    labels = flatten(details or {})
    fixed = {"entity": entity, "source": act.source, "priority": priority,
             "description": description,
             "tags": ",".join(t[:MAX_TAG] for t in tags[:MAX_TAGS]) if tags else None}
    labels.update({k: v for k, v in fixed.items() if v})
    key = dedup_key(alias) if alias else uuid.uuid4().hex
    alert = NormalizedAlert(type="opsgenie", summary=message.strip()[:LIMITS["message"]],
                            severity=PRIORITIES[priority], status="firing", dedup_key=key,
                            labels=labels, raw=body)
    return alert, act


def resolved(key: str, act: Action, raw: dict[str, Any]) -> NormalizedAlert:
    """The alert a close request stores: it resolves the open incident with the key."""
    who = f" by {act.user}" if act.user else ""
    return NormalizedAlert(type="opsgenie", summary=f"Closed through the Opsgenie API{who}: "
                           f"{key}"[:1024], severity="info", status="resolved",
                           dedup_key=key, raw=raw)


def identifier_type(value: str | None) -> str:
    """``identifierType`` (default ``id``, as Opsgenie's); ``tiny`` is refused: we have no
    tiny ids."""
    kind = value or "id"
    if kind not in IDENTIFIER_TYPES:
        raise OpsgenieError("identifierType", f"Invalid identifierType [{kind}]; "
                            "expected one of id, alias or tiny")
    if kind == "tiny":
        raise OpsgenieError("identifierType", "identifierType 'tiny' is not supported: "
                            "use identifierType=alias (the alias sent on create) or id "
                            "(the incident's id)")
    return kind


def _string(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise OpsgenieError(name, f"{name} must be a string")
    return value[:LIMITS[name]] if value.strip() else None


def _recipients(value: Any, name: str) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        raise OpsgenieError(name, f"{name} must be an array")
    for i, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            raise OpsgenieError(f"{name}[{i}]", f"{name}[{i}] must be an object with a type")


def response(took: float, request_id: str) -> dict[str, Any]:
    """Opsgenie's answer to an accepted request (``SuccessResponse``)."""
    return {"result": ACCEPTED, "took": round(took, 3), "requestId": request_id}


def request_status(incident_id: int | None, processed_at: datetime, integration: str,
                   alias: Any) -> dict[str, Any]:
    """A processed create request as Opsgenie's ``AlertRequestStatus``: ``alertId`` is the
    incident's id as a string, the identifier ``identifierType=id`` takes (none when no
    incident was opened: a threshold rule held the alert)."""
    out: dict[str, Any] = {
        "action": "Create",
        "processedAt": (processed_at if processed_at.tzinfo else processed_at.replace(
            tzinfo=UTC)).astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "integrationId": integration, "isSuccess": True,
        "status": "Created alert" if incident_id is not None else
                  "Stored; no alert opened (held by a threshold rule)"}
    if incident_id is not None:
        out["alertId"] = str(incident_id)
    if isinstance(alias, str) and alias:
        out["alias"] = alias
    return out


def status_response(data: dict[str, Any], took: float, request_id: str) -> dict[str, Any]:
    """Opsgenie's ``GetRequestStatusResponse``."""
    return {"data": data, "took": round(took, 3), "requestId": request_id}


def error(message: str, took: float, request_id: str) -> dict[str, Any]:
    """Opsgenie's error body (``ErrorResponse``)."""
    return {"message": message, "took": round(took, 3), "requestId": request_id}
