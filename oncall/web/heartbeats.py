"""Heartbeats on the web: the ping URLs cron jobs call (``/ping/<uuid>``, the uuid is the
secret: no token) and ``/api/v1/heartbeats`` for managing them.

A ping is answered ``200 OK`` only after it is committed (accept means durable); a storage
failure is a 503 so that ``curl --retry`` tries again.
"""

from __future__ import annotations

import uuid as uuidlib
from collections.abc import Callable
from typing import Any

from apiflask import APIBlueprint, HTTPError, Schema
from apiflask.fields import Integer, Raw, String
from apiflask.validators import Length, OneOf, Range
from flask import Flask, Response, request
from sqlalchemy import select

from oncall.heartbeats import service, store
from oncall.incidents import followups
from oncall.ingest import SEVERITIES
from oncall.models import ROLES, Heartbeat, HeartbeatPing, utcnow
from oncall.web import commit, session, settings, transaction
from oncall.web.auth import actor, current_user, require
from oncall.web.errors import BadRequest

pings = APIBlueprint("pings", __name__, tag="Heartbeats")
bp = APIBlueprint("heartbeats", __name__, url_prefix="/api/v1/heartbeats", tag="Heartbeats")

PING_METHODS = ["GET", "POST", "HEAD"]
PING_RESPONSES = {200: "Recorded (body `OK`)", 404: "Unknown heartbeat",
                  503: "Storage unavailable: nothing was recorded; retry"}


def _ping(uuid: str, kind: str, exit_status: int | None = None) -> Response:
    try:
        key = str(uuidlib.UUID(uuid))
    except ValueError:
        raise HTTPError(404, "unknown heartbeat") from None
    body = request.get_data(cache=False)[:store.BODY_LIMIT] or None
    with transaction() as s:
        opened = store.record_ping(s, key, kind, utcnow(), exit_status=exit_status,
                                   remote_addr=request.remote_addr,
                                   user_agent=request.headers.get("User-Agent"), body=body)
        for incident_id in opened or []:  # escalated now, once committed
            followups.due(s, incident_id)
    if opened is None:
        raise HTTPError(404, "unknown heartbeat")
    return Response("OK", 200, mimetype="text/plain")


@pings.route("/ping/<uuid>", methods=PING_METHODS)
@pings.doc(summary="Heartbeat: the job succeeded", responses=PING_RESPONSES)
def ping_success(uuid: str) -> Response:
    """The job ran and succeeded. The request body (up to 10 KB), remote address and user
    agent are kept in the ping log."""
    return _ping(uuid, "success")


@pings.route("/ping/<uuid>/start", methods=PING_METHODS)
@pings.doc(summary="Heartbeat: the job started", responses=PING_RESPONSES)
def ping_start(uuid: str) -> Response:
    """The job started: it must send its success within the grace time, or it is down."""
    return _ping(uuid, "start")


@pings.route("/ping/<uuid>/fail", methods=PING_METHODS)
@pings.doc(summary="Heartbeat: the job failed", responses=PING_RESPONSES)
def ping_fail(uuid: str) -> Response:
    """The job failed: the heartbeat is down and its incident opens now."""
    return _ping(uuid, "fail")


@pings.route("/ping/<uuid>/<int:exit_status>", methods=PING_METHODS)
@pings.doc(summary="Heartbeat: the job's exit status", responses={
    **PING_RESPONSES, 400: "Exit status outside 0-255"})
def ping_exit_status(uuid: str, exit_status: int) -> Response:
    """`0` is a success, anything else (up to 255) a failure: `curl .../ping/<uuid>/$?`."""
    if exit_status > 255:
        raise BadRequest("exit_status", "must be 0-255")
    return _ping(uuid, "success" if exit_status == 0 else "fail", exit_status)


class HeartbeatIn(Schema):
    name = String(required=True, validate=Length(1, 200))
    description = String(allow_none=True)
    service = String(metadata={"description": "The incident's service; default `heartbeats`"})
    policy = String(allow_none=True, metadata={"description": "Overrides the service's policy"})
    period = Raw(metadata={"description": "Seconds or a duration (1h, 30m); or give cron"})
    cron = String(metadata={"description": 'A cron expression, e.g. "0 2 * * *"'})
    timezone = String(metadata={"description": "IANA zone for cron; default UTC"})
    grace = Raw(metadata={"description": "Seconds or a duration; default 1h"})
    severity = String(validate=OneOf(SEVERITIES))
    uuid = String(metadata={"description": "Pin the ping URL's uuid; default: a new one"})


class HeartbeatPatch(HeartbeatIn):
    name = String(validate=Length(1, 200))


class PingQuery(Schema):
    limit = Integer(load_default=50, validate=Range(min=1, max=store.PINGS_KEPT))



def _get(heartbeat_id: int) -> Heartbeat:
    found = session().get(Heartbeat, heartbeat_id)
    if found is None:
        raise HTTPError(404, f"heartbeat {heartbeat_id} not found")
    return found


def _json(hb: Heartbeat) -> dict[str, Any]:
    out = service.heartbeat_json(hb, settings().public_url)
    if ROLES.index(current_user().role) < ROLES.index("manager"):
        # Whoever has the URL can ping it, and so hide a broken job: managers only.
        out["uuid"] = out["ping_url"] = None
    return out


def _commit(work: Callable[[], Any]) -> Any:
    """Run a change and commit it, turning refusals into 4xx answers."""
    return commit(work, service.HeartbeatError)


@bp.get("")
@bp.doc(security="ApiToken")
@require("viewer")
def list_heartbeats() -> dict[str, Any]:
    """Every heartbeat with its state and ping URL."""
    found = session().scalars(select(Heartbeat).order_by(Heartbeat.name))
    return {"heartbeats": [_json(hb) for hb in found]}


@bp.post("")
@bp.doc(security="ApiToken", responses={201: "Created", 409: "The name or uuid is taken"})
@bp.input(HeartbeatIn, arg_name="data")
@require("manager")
def create_heartbeat(data: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Create a heartbeat: `period` or `cron` (+ `timezone`), `grace`. It is due one period
    (or at the first cron time) from now, and goes down if no ping came by then plus grace."""
    hb = _commit(lambda: service.create(session(), actor(), data, utcnow()))
    return _json(hb), 201


@bp.get("/<int:heartbeat_id>")
@bp.doc(security="ApiToken", responses={404: "No such heartbeat"})
@require("viewer")
def get_heartbeat(heartbeat_id: int) -> dict[str, Any]:
    return _json(_get(heartbeat_id))


@bp.patch("/<int:heartbeat_id>")
@bp.doc(security="ApiToken", responses={404: "No such heartbeat", 409: "Managed by a file"})
@bp.input(HeartbeatPatch, arg_name="data")
@require("manager")
def update_heartbeat(heartbeat_id: int, data: dict[str, Any]) -> dict[str, Any]:
    hb = _get(heartbeat_id)
    _commit(lambda: service.update(session(), actor(), hb, data, utcnow()))
    return _json(hb)


@bp.delete("/<int:heartbeat_id>")
@bp.doc(security="ApiToken", responses={204: "Deleted", 409: "Managed by a file"})
@require("manager")
def delete_heartbeat(heartbeat_id: int) -> tuple[str, int]:
    hb = _get(heartbeat_id)
    _commit(lambda: service.remove(session(), actor(), hb))
    return "", 204


@bp.post("/<int:heartbeat_id>/pause")
@bp.doc(security="ApiToken", responses={404: "No such heartbeat"})
@require("manager")
def pause_heartbeat(heartbeat_id: int) -> dict[str, Any]:
    """Stop checking it (e.g. the job is switched off). Its next ping resumes it."""
    hb = _get(heartbeat_id)
    _commit(lambda: service.pause(session(), actor(), hb, utcnow()))
    return _json(hb)


@bp.post("/<int:heartbeat_id>/resume")
@bp.doc(security="ApiToken", responses={404: "No such heartbeat"})
@require("manager")
def resume_heartbeat(heartbeat_id: int) -> dict[str, Any]:
    """Check it again, as if created now."""
    hb = _get(heartbeat_id)
    _commit(lambda: service.resume(session(), actor(), hb, utcnow()))
    return _json(hb)


@bp.get("/<int:heartbeat_id>/pings")
@bp.doc(security="ApiToken", responses={404: "No such heartbeat"})
@bp.input(PingQuery, location="query", arg_name="query")
@require("viewer")
def list_pings(heartbeat_id: int, query: dict[str, Any]) -> dict[str, Any]:
    """The ping log, newest first (the latest 100 are kept)."""
    _get(heartbeat_id)
    found = session().scalars(select(HeartbeatPing)
                              .where(HeartbeatPing.heartbeat_id == heartbeat_id)
                              .order_by(HeartbeatPing.id.desc()).limit(query["limit"]))
    return {"pings": [{"id": p.id, "kind": p.kind, "at": p.at.isoformat(),
                       "exit_status": p.exit_status, "remote_addr": p.remote_addr,
                       "user_agent": p.user_agent, "body": p.body} for p in found]}


def init_app(app: Flask) -> None:
    app.register_blueprint(pings)
    app.register_blueprint(bp)
