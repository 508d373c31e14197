"""``/api/v1/maintenance``: maintenance windows. Managers create, move, end early and delete
them; everyone may read. Changes take effect on intake within a few seconds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from apiflask import APIBlueprint, HTTPError, Schema
from apiflask.fields import Integer, Raw, String
from apiflask.validators import Length, OneOf, Range
from flask import Flask
from sqlalchemy import select

from oncall.incidents import followups
from oncall.maintenance import service
from oncall.maintenance.window import WindowError
from oncall.models import MaintenanceWindow, utcnow
from oncall.web import commit, session
from oncall.web.auth import actor, require

bp = APIBlueprint("maintenance", __name__, url_prefix="/api/v1/maintenance",
                  tag="Maintenance windows")


class WindowIn(Schema):
    name = String(required=True, validate=Length(1, 200))
    matchers = Raw(metadata={"description": '{"service": "billing-cron", "type": "heartbeat", '
                                            '"labels": {"merchant_id": "acme"}}; all exact, '
                                            'all optional ({} matches every alert)'})
    starts_at = String(metadata={"description": "ISO 8601 with offset; default now"})
    ends_at = String(metadata={"description": "ISO 8601 with offset (or give duration)"})
    duration = Integer(validate=Range(min=1, max=10 * 366 * 86400),  # timedelta overflows
                       metadata={"description": "Seconds from starts_at, instead of ends_at"})
    reason = String(allow_none=True)


class WindowPatch(WindowIn):
    name = String(validate=Length(1, 200))


class WindowQuery(Schema):
    state = String(validate=OneOf(["scheduled", "active", "ended", "current"]),
                   metadata={"description": "`current`: scheduled or active"})



def _get(window_id: int) -> MaintenanceWindow:
    found = session().get(MaintenanceWindow, window_id)
    if found is None:
        raise HTTPError(404, f"maintenance window {window_id} not found")
    return found


def _commit(work: Callable[[], Any]) -> Any:
    """Run a change and commit it, turning refusals into 4xx answers."""
    return commit(work, WindowError)


def _page(released: list[int]) -> list[int]:
    """Escalate the incidents a window let go, now: once committed
    (``oncall.incidents.followups``; else the sweeper does)."""
    for incident_id in released:
        followups.due(session(), incident_id)
    return released


@bp.get("")
@bp.doc(security="ApiToken")
@bp.input(WindowQuery, location="query", arg_name="query")
@require("viewer")
def list_windows(query: dict[str, Any]) -> dict[str, Any]:
    """Maintenance windows, latest start first."""
    now = utcnow()
    stmt = select(MaintenanceWindow).order_by(MaintenanceWindow.starts_at.desc())
    wanted = query.get("state")
    if wanted == "current":
        stmt = stmt.where(MaintenanceWindow.ends_at > now)
    found = [w for w in session().scalars(stmt)
             if wanted in (None, "current") or service.state(w, now) == wanted]
    return {"maintenance": [service.window_json(session(), w, now) for w in found]}


@bp.post("")
@bp.doc(security="ApiToken", responses={201: "Created", 409: "The name is taken"})
@bp.input(WindowIn, arg_name="data")
@require("manager")
def create_window(data: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Open a window: alerts matching it are stored and shown, and the incidents they open
    page when it ends (if still open). Incidents already open keep escalating."""
    now = utcnow()
    created = _commit(lambda: service.create(session(), actor(), data, now))
    return service.window_json(session(), created, now), 201


@bp.get("/<int:window_id>")
@bp.doc(security="ApiToken", responses={404: "No such window"})
@require("viewer")
def get_window(window_id: int) -> dict[str, Any]:
    return service.window_json(session(), _get(window_id), utcnow())


@bp.patch("/<int:window_id>")
@bp.doc(security="ApiToken", responses={404: "No such window", 409: "Managed by a file"})
@bp.input(WindowPatch, arg_name="data")
@require("manager")
def update_window(window_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Change a window; the incidents it holds follow its new end (or page now if it no
    longer covers now)."""
    window = _get(window_id)
    now = utcnow()
    _commit(lambda: _page(service.update(session(), actor(), window, data, now)))
    return service.window_json(session(), window, now)


@bp.post("/<int:window_id>/end")
@bp.doc(security="ApiToken", responses={404: "No such window", 409: "Managed by a file"})
@require("manager")
def end_window(window_id: int) -> dict[str, Any]:
    """End the window now (cancel it, if it has not started): what it held pages now."""
    window = _get(window_id)
    now = utcnow()
    _commit(lambda: _page(service.end(session(), actor(), window, now)))
    return service.window_json(session(), window, now)


@bp.delete("/<int:window_id>")
@bp.doc(security="ApiToken", responses={204: "Deleted", 409: "Managed by a file"})
@require("manager")
def delete_window(window_id: int) -> tuple[str, int]:
    """Delete the window; what it held pages now."""
    window = _get(window_id)
    _commit(lambda: _page(service.remove(session(), actor(), window, utcnow())))
    return "", 204


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
