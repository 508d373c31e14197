"""Creating, changing, pausing and deleting heartbeats (API and ``oncall apply``): validated,
audited, and refused through the API on heartbeats a file manages. Callers own the
transaction.

A heartbeat must page somebody: it needs its own ``policy`` or a ``service`` that has one
(the default service, ``heartbeats``, has none until you give it one).
"""

from __future__ import annotations

import re
import uuid as uuidlib
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.audit import audit
from oncall.heartbeats import state
from oncall.heartbeats.schedule import ScheduleError, check_cron, next_due, zone
from oncall.heartbeats.store import save, spec_of, status_of
from oncall.ingest import SEVERITIES
from oncall.models import EscalationPolicy, Heartbeat, Service

DEFAULT_SERVICE = "heartbeats"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
MIN_PERIOD = 60
FIELDS = ("name", "description", "service", "policy", "period", "cron", "timezone", "grace",
          "severity", "uuid")


class HeartbeatError(ValueError):
    """Refused: ``field`` names the input at fault; ``status`` is the HTTP status to answer."""

    def __init__(self, field: str | None, message: str, status: int = 400) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field, self.message, self.status = field, message, status


def seconds(value: Any, field: str) -> int:
    """Seconds from an integer or a duration such as ``30m``, ``1h30m``, ``1d``."""
    if isinstance(value, bool):
        raise HeartbeatError(field, "must be seconds or a duration such as 30m")
    if isinstance(value, int):
        return value
    match = _DURATION.match(value) if isinstance(value, str) and value else None
    if not match:
        raise HeartbeatError(field, f"{value!r} is not seconds or a duration such as 30m, 1h")
    d, h, m, s = (int(x or 0) for x in match.groups())
    return ((d * 24 + h) * 60 + m) * 60 + s


def values(session: Session, data: dict[str, Any],
           current: Heartbeat | None = None) -> dict[str, Any]:
    """Checked column values from API or YAML input (a partial update when ``current``)."""
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise HeartbeatError(unknown[0], "unknown field")
    out: dict[str, Any] = {}
    if "name" in data:
        if not isinstance(data["name"], str) or not _NAME.match(data["name"]):
            raise HeartbeatError("name", "1-200 letters, digits or _ . - (starting with a "
                                         "letter or digit)")
        out["name"] = data["name"]
    if "description" in data:
        out["description"] = data["description"]
    if "severity" in data:
        if data["severity"] not in SEVERITIES:
            raise HeartbeatError("severity", f"must be one of {', '.join(SEVERITIES)}")
        out["severity"] = data["severity"]
    if data.get("uuid") is not None:
        try:
            out["uuid"] = str(uuidlib.UUID(str(data["uuid"])))
        except ValueError:
            raise HeartbeatError("uuid", "must be a UUID") from None
    _schedule(data, current, out)
    _routing(session, data, current, out)
    return out


def _schedule(data: dict[str, Any], current: Heartbeat | None, out: dict[str, Any]) -> None:
    period = seconds(data["period"], "period") if data.get("period") is not None else None
    cron = data.get("cron")
    if period is not None and cron:
        raise HeartbeatError("cron", "give either period or cron, not both")
    if period is None and not cron and current is None:
        raise HeartbeatError("period", "a heartbeat needs a period (e.g. 1h) or a cron "
                                       "expression")
    try:
        if cron:
            if not isinstance(cron, str):
                raise HeartbeatError("cron", "must be a string such as \"0 2 * * *\"")
            out.update(cron=check_cron(cron), period=None)
        elif period is not None:
            if period < MIN_PERIOD:
                raise HeartbeatError("period", f"must be at least {MIN_PERIOD} seconds")
            out.update(period=period, cron=None)
        if data.get("timezone") is not None:
            zone(str(data["timezone"]))
            out["timezone"] = str(data["timezone"])
    except ScheduleError as exc:
        raise HeartbeatError(exc.field, exc.message) from None
    if data.get("grace") is not None:
        grace = seconds(data["grace"], "grace")
        if grace < 0:
            raise HeartbeatError("grace", "must not be negative")
        out["grace"] = grace
    elif current is None:
        out["grace"] = 3600


def _routing(session: Session, data: dict[str, Any], current: Heartbeat | None,
             out: dict[str, Any]) -> None:
    service: Service | None = current.service if current is not None else None
    if "service" in data or current is None:
        name = data.get("service") or DEFAULT_SERVICE
        service = session.scalar(select(Service).where(Service.name == name))
        if service is None:
            if data.get("service"):
                raise HeartbeatError("service", f"no service {name!r}")
            service = Service(name=DEFAULT_SERVICE, description="Heartbeats with no service "
                                                                "of their own")
            session.add(service)
            session.flush()
        out["service_id"] = service.id
    policy = current.policy if current is not None else None
    if "policy" in data:
        policy = None
        if data["policy"]:
            policy = session.scalar(select(EscalationPolicy)
                                    .where(EscalationPolicy.name == data["policy"]))
            if policy is None:
                raise HeartbeatError("policy", f"no escalation policy {data['policy']!r}")
        out["policy_id"] = policy.id if policy else None
    if policy is None and (service is None or service.policy_id is None):
        raise HeartbeatError("policy", "nobody would be paged: give a policy, or a service "
                                       "that has one")


def heartbeat_json(hb: Heartbeat, public_url: str) -> dict[str, Any]:
    def iso(at: datetime | None) -> str | None:
        return at.isoformat() if at else None

    return {"id": hb.id, "name": hb.name, "description": hb.description,
            "ping_url": f"{public_url}/ping/{hb.uuid}", "uuid": hb.uuid,
            "service": hb.service.name, "policy": hb.policy.name if hb.policy else None,
            "period": hb.period, "cron": hb.cron, "timezone": hb.timezone, "grace": hb.grace,
            "severity": hb.severity, "state": hb.state, "down_reason": hb.down_reason,
            "created_at": iso(hb.created_at), "last_ping_at": iso(hb.last_ping_at),
            "last_success_at": iso(hb.last_success_at), "last_start_at": iso(hb.last_start_at),
            "next_due_at": iso(hb.next_due_at), "managed_by": hb.managed_by}


def snapshot(hb: Heartbeat) -> dict[str, Any]:
    return {k: getattr(hb, k) for k in ("name", "period", "cron", "timezone", "grace",
                                        "severity", "service_id", "policy_id", "description")}


def editable(hb: Heartbeat) -> None:
    if hb.managed_by:
        raise HeartbeatError(None, f"heartbeat {hb.name} is managed by {hb.managed_by}: edit "
                                   "that file and run `oncall apply` (pause and resume work "
                                   "here)", status=409)


def _unique(session: Session, column: Any, value: str, field: str, other: int | None) -> None:
    found = session.scalar(select(Heartbeat.id).where(column == value))
    if found is not None and found != other:
        raise HeartbeatError(field, f"another heartbeat has this {field}", status=409)


def create(session: Session, actor: str, data: dict[str, Any], now: datetime,
           managed_by: str | None = None) -> Heartbeat:
    if "name" not in data:
        raise HeartbeatError("name", "is required")
    checked = values(session, data)
    checked.setdefault("uuid", str(uuidlib.uuid4()))
    _unique(session, Heartbeat.name, checked["name"], "name", None)
    _unique(session, Heartbeat.uuid, checked["uuid"], "uuid", None)
    hb = Heartbeat(**checked, created_at=now, managed_by=managed_by, version=0)
    first = state.created(_spec(checked), now)
    hb.state, hb.next_due_at = first.state, first.next_due_at
    hb.check_at = state.check_at(_spec(checked), first)
    session.add(hb)
    session.flush()
    audit(session, actor, "create", "heartbeat", hb.id, hb.name, None, snapshot(hb))
    return hb


def _spec(checked: dict[str, Any]) -> state.Spec:
    return state.Spec(checked.get("period"), checked.get("cron"),
                      checked.get("timezone", "UTC"), checked["grace"])


def update(session: Session, actor: str, hb: Heartbeat, data: dict[str, Any], now: datetime,
           managed_by: str | None = None, from_file: bool = False) -> list[str]:
    """Change a heartbeat. A new schedule counts from its last success (or from now). Returns
    what changed, as ``field: old -> new`` lines."""
    if not from_file:
        editable(hb)
    checked = values(session, data, hb)
    if "name" in checked:
        _unique(session, Heartbeat.name, checked["name"], "name", hb.id)
    if "uuid" in checked:
        _unique(session, Heartbeat.uuid, checked["uuid"], "uuid", hb.id)
    before = snapshot(hb)
    changed = [f"{k}: {getattr(hb, k)!r} -> {v!r}" for k, v in checked.items()
               if getattr(hb, k) != v]
    if from_file:
        checked["managed_by"] = managed_by
    for key, value in checked.items():
        setattr(hb, key, value)
    if any(line.split(":")[0] in ("period", "cron", "timezone", "grace") for line in changed):
        _reschedule(session, hb, now)
    session.flush()
    if changed:
        audit(session, actor, "update", "heartbeat", hb.id, hb.name, before, snapshot(hb))
    return changed


def _reschedule(session: Session, hb: Heartbeat, now: datetime) -> None:
    status = status_of(hb)
    if status.state == "paused":
        return
    anchor = hb.last_success_at if status.state in ("up", "late") and hb.last_success_at \
        else now
    due = next_due(hb.period, hb.cron, hb.timezone, anchor)
    new_state = {"late": "up"}.get(status.state, status.state)
    hb.state, hb.next_due_at = new_state, due
    hb.check_at = state.check_at(spec_of(hb), status_of(hb))
    hb.version += 1


def pause(session: Session, actor: str, hb: Heartbeat, now: datetime) -> None:
    """Stop checking (a ping resumes it). An open incident stays open: resolve it by hand."""
    if hb.state != "paused" and save(session, hb, state.paused()):
        audit(session, actor, "update", "heartbeat", hb.id, hb.name, {"state": hb.state},
              {"state": "paused"})
    session.refresh(hb)


def resume(session: Session, actor: str, hb: Heartbeat, now: datetime) -> None:
    """Check again, as if it had been created now."""
    if hb.state == "paused" and save(session, hb, state.created(spec_of(hb), now)):
        audit(session, actor, "update", "heartbeat", hb.id, hb.name, {"state": "paused"},
              {"state": "new"})
    session.refresh(hb)


def remove(session: Session, actor: str, hb: Heartbeat, from_file: bool = False) -> None:
    if not from_file:
        editable(hb)
    audit(session, actor, "delete", "heartbeat", hb.id, hb.name, snapshot(hb), None)
    session.delete(hb)
