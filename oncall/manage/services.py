"""Services: what alerts are about; each has a default escalation policy."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from oncall.audit import audit
from oncall.manage import Refused, check_editable, check_name, iso, not_found
from oncall.models import Alert, EscalationPolicy, Heartbeat, Incident, Integration, Service


def get(s: Session, service_id: int) -> Service:
    found = s.get(Service, service_id)
    if found is None:
        raise not_found("service", service_id)
    return found


def as_json(service: Service) -> dict[str, Any]:
    return {"id": service.id, "name": service.name, "description": service.description,
            "policy": service.policy.name if service.policy else None,
            "managed_by": service.managed_by}


def last_alerts(s: Session, integration_ids: list[int]) -> dict[int, Any]:
    """Integration id -> when its last alert arrived (absent: never)."""
    if not integration_ids:
        return {}
    rows = s.execute(select(Alert.integration_id, func.max(Alert.received_at))
                     .where(Alert.integration_id.in_(integration_ids))
                     .group_by(Alert.integration_id)).all()
    return {i: at for i, at in rows if i is not None}


def listing(s: Session) -> list[dict[str, Any]]:
    """Every service with its policy, its integrations and when each last received an alert."""
    services = list(s.scalars(select(Service).order_by(Service.name)))
    integrations = list(s.scalars(select(Integration).order_by(Integration.name)))
    last = last_alerts(s, [i.id for i in integrations])
    out = []
    for service in services:
        mine = [i for i in integrations if i.service_id == service.id]
        times = [last[i.id] for i in mine if i.id in last]
        out.append({**as_json(service), "integrations": len(mine),
                    "last_alert_at": iso(max(times)) if times else None})
    return out


def _policy(s: Session, name: str | None) -> EscalationPolicy | None:
    if not name:
        return None
    found = s.scalar(select(EscalationPolicy).where(EscalationPolicy.name == name))
    if found is None:
        raise Refused("policy", f"no policy {name!r}")
    return found


def _taken(s: Session, name: str, but: int | None = None) -> None:
    other = s.scalar(select(Service.id).where(Service.name == name))
    if other is not None and other != but:
        raise Refused("name", f"a service named {name!r} exists", 409)


def create(s: Session, actor: str, *, name: str, description: str | None = None,
           policy: str | None = None) -> Service:
    name = check_name("name", name)
    _taken(s, name)
    service = Service(name=name, description=description or None, policy=_policy(s, policy))
    s.add(service)
    s.flush()
    audit(s, actor, "create", "service", service.id, name, None, as_json(service))
    return service


def update(s: Session, actor: str, service: Service, changes: dict[str, Any]) -> Service:
    """Change ``name``, ``description`` and/or ``policy`` (a name, or None for none)."""
    check_editable("service", service.name, service.managed_by)
    before = as_json(service)
    if "name" in changes:
        name = check_name("name", changes["name"])
        _taken(s, name, service.id)
        service.name = name
    if "description" in changes:
        service.description = changes["description"] or None
    if "policy" in changes:
        service.policy = _policy(s, changes["policy"])
    s.flush()
    audit(s, actor, "update", "service", service.id, service.name, before, as_json(service))
    return service


def delete(s: Session, actor: str, service: Service) -> None:
    """Delete a service and its integrations (their URLs stop accepting alerts). A service
    with incidents or heartbeats is kept: deleting it would delete them too."""
    check_editable("service", service.name, service.managed_by)
    for model, what in ((Incident, "incidents"), (Heartbeat, "heartbeats")):
        n = s.scalar(select(func.count()).select_from(model)
                     .where(model.service_id == service.id)) or 0
        if n:
            raise Refused(None, f"service {service.name} has {n} {what}, which would be "
                                "deleted with it; it is kept", 409)
    count = s.scalar(select(func.count()).select_from(Integration)
                     .where(Integration.service_id == service.id)) or 0
    audit(s, actor, "delete", "service", service.id, service.name,
          {**as_json(service), "integrations": count}, None)
    s.delete(service)
    s.flush()
