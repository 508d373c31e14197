"""``POST /v2/enqueue``: PagerDuty Events API v2, so any tool that can page PagerDuty can
point here. The ``routing_key`` is a ``pagerduty`` integration's key; answers use PagerDuty's
status codes and bodies (202 ``{"status": "success", ...}``, 400 with ``errors``)."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint, HTTPError
from flask import Flask, request

from oncall import hostile, incidents, metrics
from oncall.incidents import intake
from oncall.ingest import pagerduty
from oncall.models import utcnow
from oncall.web import transaction
from oncall.web.hooks import cleaned, integration_for, marked, store

bp = APIBlueprint("pagerduty", __name__, tag="Alert intake")


def _invalid(message: str, *errors: str) -> tuple[dict[str, Any], int]:
    metrics.REJECTED.labels("400").inc()
    return {"status": "invalid event", "message": message, "errors": list(errors)}, 400


@bp.post("/v2/enqueue")
@bp.doc(summary="PagerDuty Events API v2 (trigger, acknowledge, resolve by dedup_key)",
        responses={202: "Event processed", 400: "Invalid event (PagerDuty's error body)",
                   503: "Storage unavailable; retry"}, operation_id="pagerdutyEnqueue")
def enqueue() -> tuple[dict[str, Any], int]:
    try:
        body = hostile.loads(request.get_data(cache=True) or b"null")
    except ValueError:  # malformed, undecodable, too deep, a huge number
        return {"status": "Unrecognized object", "message": "Event object format is "
                "unrecognized", "errors": ["JSON parse error"]}, 400
    body, fields = cleaned(body)
    try:
        event = pagerduty.parse_event(body)
    except pagerduty.PagerDutyError as exc:
        metrics.REJECTED.labels("400").inc()
        return pagerduty.response_400(exc), 400
    try:
        source = integration_for(event.routing_key)
    except HTTPError:
        return _invalid("Event object is invalid", "'routing_key' is invalid")
    if source.kind != "pagerduty":
        return _invalid("Event object is invalid",
                        f"'routing_key' belongs to a {source.kind} integration")
    if event.alert is not None:
        store(source, marked([event.alert], fields))
    else:  # acknowledge: PagerDuty drops it when nothing is open with that key
        with transaction() as s:
            acked = intake.acknowledge_by_key(s, source, event.dedup_key, utcnow())
            if acked is not None:
                incidents.note_change(s, acked)
    return pagerduty.response_202(event.dedup_key), 202


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
