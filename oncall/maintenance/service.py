"""Creating, moving, ending and deleting maintenance windows: validated, audited, and
refused on windows a file manages. Callers own the transaction."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from oncall.audit import audit
from oncall.maintenance import holding
from oncall.maintenance.window import WindowError, check_matchers, describe
from oncall.models import Incident, MaintenanceSuppression, MaintenanceWindow

MAX_LENGTH = timedelta(days=90)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_. :-]{0,199}$")


def parse_time(value: Any, field: str) -> datetime:
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise WindowError(field, f"{value!r} is not an ISO 8601 time") from None
    else:
        raise WindowError(field, "must be an ISO 8601 time with a UTC offset")
    if parsed.tzinfo is None:
        raise WindowError(field, "needs a UTC offset, e.g. 2026-12-01T02:00:00Z")
    return parsed


def state(window: MaintenanceWindow, now: datetime) -> str:
    if now < window.starts_at:
        return "scheduled"
    return "active" if now < window.ends_at else "ended"


def window_json(session: Session, window: MaintenanceWindow, now: datetime) -> dict[str, Any]:
    held = session.scalar(  # incidents it holds now: open, not yet paged, due later
        select(func.count()).select_from(MaintenanceSuppression)
        .join(Incident, Incident.id == MaintenanceSuppression.incident_id)
        .where(MaintenanceSuppression.window_id == window.id, Incident.status == "triggered",
               Incident.level == 0, Incident.next_action_at > now))
    return {"id": window.id, "name": window.name, "matchers": window.matchers,
            "matches": describe(window.matchers), "starts_at": window.starts_at.isoformat(),
            "ends_at": window.ends_at.isoformat(), "state": state(window, now),
            "reason": window.reason, "created_by": window.created_by,
            "created_at": window.created_at.isoformat(), "managed_by": window.managed_by,
            "held_incidents": held or 0}


def values(data: dict[str, Any], now: datetime,
           current: MaintenanceWindow | None = None) -> dict[str, Any]:
    """Checked column values from API or YAML input (``duration``: seconds, instead of
    ``ends_at``)."""
    out: dict[str, Any] = {}
    if "name" in data:
        if not isinstance(data["name"], str) or not _NAME.match(data["name"]):
            raise WindowError("name", "1-200 letters, digits, spaces or _ . : -")
        out["name"] = data["name"]
    if "matchers" in data:
        out["matchers"] = check_matchers(data["matchers"])
    if "reason" in data:
        out["reason"] = data["reason"]
    starts = parse_time(data["starts_at"], "starts_at") if data.get("starts_at") else (
        current.starts_at if current else now)
    if data.get("ends_at") is not None:
        ends = parse_time(data["ends_at"], "ends_at")
    elif data.get("duration") is not None:
        if not isinstance(data["duration"], int) or data["duration"] <= 0:
            raise WindowError("duration", "must be a positive number of seconds")
        ends = starts + timedelta(seconds=data["duration"])
    elif current is not None:
        ends = current.ends_at
    else:
        raise WindowError("ends_at", "is required (or give duration)")
    if ends <= starts:
        raise WindowError("ends_at", "must be after starts_at")
    if ends - starts > MAX_LENGTH:
        raise WindowError("ends_at", "a window may last at most 90 days")
    out["starts_at"], out["ends_at"] = starts, ends
    return out


def snapshot(window: MaintenanceWindow) -> dict[str, Any]:
    return {"name": window.name, "matchers": window.matchers,
            "starts_at": window.starts_at.isoformat(), "ends_at": window.ends_at.isoformat(),
            "reason": window.reason}


def editable(window: MaintenanceWindow) -> None:
    if window.managed_by:
        raise WindowError(None, f"maintenance window {window.name} is managed by "
                                f"{window.managed_by}: edit that file and run `oncall apply`",
                          status=409)


def _unique(session: Session, name: str, other: int | None = None) -> None:
    found = session.scalar(select(MaintenanceWindow.id).where(MaintenanceWindow.name == name))
    if found is not None and found != other:
        raise WindowError("name", f"a maintenance window named {name!r} exists", status=409)


def create(session: Session, actor: str, data: dict[str, Any], now: datetime,
           managed_by: str | None = None) -> MaintenanceWindow:
    if "name" not in data:
        raise WindowError("name", "is required")
    checked = values({"matchers": {}, **data}, now)
    _unique(session, checked["name"])
    window = MaintenanceWindow(**checked, created_by=actor, created_at=now,
                               managed_by=managed_by)
    session.add(window)
    session.flush()
    audit(session, actor, "create", "maintenance", window.id, window.name, None,
          snapshot(window))
    holding.invalidate()
    return window


def update(session: Session, actor: str, window: MaintenanceWindow, data: dict[str, Any],
           now: datetime, from_file: bool = False) -> list[int]:
    """Change a window; its held incidents follow. Returns incidents released now."""
    if not from_file:
        editable(window)
    checked = values(data, now, window)
    if "name" in checked:
        _unique(session, checked["name"], window.id)
    before = snapshot(window)
    for key, value in checked.items():
        setattr(window, key, value)
    session.flush()
    audit(session, actor, "update", "maintenance", window.id, window.name, before,
          snapshot(window))
    return holding.window_changed(session, window, window.id, now, actor)


def end(session: Session, actor: str, window: MaintenanceWindow, now: datetime) -> list[int]:
    """End the window now (a scheduled one is cancelled); what it held pages now."""
    editable(window)
    before = snapshot(window)
    if window.ends_at > now:
        window.ends_at = now
        window.starts_at = min(window.starts_at, now)
    session.flush()
    audit(session, actor, "update", "maintenance", window.id, window.name, before,
          {**snapshot(window), "ended_early_by": actor})
    return holding.window_changed(session, window, window.id, now, actor)


def remove(session: Session, actor: str, window: MaintenanceWindow, now: datetime,
           from_file: bool = False) -> list[int]:
    if not from_file:
        editable(window)
    released = holding.window_changed(session, None, window.id, now, actor)
    audit(session, actor, "delete", "maintenance", window.id, window.name, snapshot(window),
          None)
    session.delete(window)
    return released
