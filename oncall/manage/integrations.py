"""Integrations: the URLs (or PagerDuty routing keys) that monitoring tools send a service's
alerts to. The secret is shown once, when it is made (created or rotated); only its hash and
a short prefix are kept. Web processes cache integrations by token for a few seconds
(``oncall.web.hooks.CACHE_SECONDS``): a rotated or deleted secret stops working within that."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.audit import audit
from oncall.manage import Refused, check_name, iso, not_found
from oncall.manage.services import last_alerts
from oncall.models import INTEGRATION_KINDS, Integration, Service
from oncall.security import hash_token, new_token, token_prefix


@dataclass(frozen=True)
class Secret:
    """What the sender needs, shown once: a webhook URL, or for PagerDuty clients the
    Events API URL and the routing key (for Opsgenie clients the Alert API URL and the
    GenieKey, in ``routing_key``)."""

    integration: Integration
    token: str
    url: str
    routing_key: str | None

    def as_json(self) -> dict[str, Any]:
        return {**as_json(self.integration), "url": self.url, "routing_key": self.routing_key,
                "token": self.token}


def get(s: Session, integration_id: int, service: Service | None = None) -> Integration:
    found = s.get(Integration, integration_id)
    if found is None or (service is not None and found.service_id != service.id):
        raise not_found("integration", integration_id)
    return found


def as_json(integration: Integration, last_alert_at: datetime | None = None) -> dict[str, Any]:
    return {"id": integration.id, "name": integration.name, "kind": integration.kind,
            "service": integration.service.name, "prefix": integration.prefix,
            "created_at": iso(integration.created_at), "last_alert_at": iso(last_alert_at)}


def listing(s: Session, service: Service) -> list[dict[str, Any]]:
    found = list(s.scalars(select(Integration).where(Integration.service_id == service.id)
                           .order_by(Integration.name)))
    last = last_alerts(s, [i.id for i in found])
    return [as_json(i, last.get(i.id)) for i in found]


def _new_secret(kind: str) -> str:
    return new_secret(kind)


def new_secret(kind: str) -> str:
    """PagerDuty clients expect a 32-character integration key as the routing_key; Opsgenie
    API keys are UUIDs (some clients check); every other kind gets a webhook token."""
    if kind == "pagerduty":
        return secrets.token_hex(16)
    if kind == "opsgenie":
        return str(uuid.uuid4())
    return new_token("oci")


def _secret(integration: Integration, token: str, public_url: str) -> Secret:
    base = public_url.rstrip("/")
    if integration.kind == "pagerduty":
        return Secret(integration, token, f"{base}/v2/enqueue", token)
    if integration.kind == "opsgenie":  # the sender's API URL is the base; the key a GenieKey
        return Secret(integration, token, f"{base}/v2/alerts", token)
    return Secret(integration, token, f"{base}/integrations/{token}", None)


def _taken(s: Session, name: str, but: int | None = None) -> None:
    other = s.scalar(select(Integration.id).where(Integration.name == name))
    if other is not None and other != but:
        raise Refused("name", f"an integration named {name!r} exists", 409)


def _audit_json(integration: Integration) -> dict[str, Any]:
    return {"name": integration.name, "kind": integration.kind,
            "service": integration.service.name, "prefix": integration.prefix}


def create(s: Session, actor: str, service: Service, *, kind: str, name: str | None,
           public_url: str) -> Secret:
    if kind not in INTEGRATION_KINDS:
        raise Refused("kind", f"one of {', '.join(INTEGRATION_KINDS)}")
    if name:
        name = check_name("name", name)
        _taken(s, name)
    else:
        taken = set(s.scalars(select(Integration.name)))
        name = next(n for n in (f"{service.name}-{kind}" + (f"-{i}" if i > 1 else "")
                                for i in range(1, 10_000)) if n not in taken)
    token = _new_secret(kind)
    found = Integration(service_id=service.id, kind=kind, name=name,
                        token_hash=hash_token(token), prefix=token_prefix(token))
    found.service = service
    s.add(found)
    s.flush()
    audit(s, actor, "create", "integration", found.id, name, None, _audit_json(found))
    return _secret(found, token, public_url)


def rename(s: Session, actor: str, integration: Integration, name: str) -> Integration:
    name = check_name("name", name)
    _taken(s, name, integration.id)
    before = _audit_json(integration)
    integration.name = name
    s.flush()
    audit(s, actor, "update", "integration", integration.id, name, before,
          _audit_json(integration))
    return integration


def rotate(s: Session, actor: str, integration: Integration, public_url: str) -> Secret:
    """A new secret; the old one stops working (see the module docstring for how soon)."""
    before = _audit_json(integration)
    token = _new_secret(integration.kind)
    integration.token_hash = hash_token(token)
    integration.prefix = token_prefix(token)
    s.flush()
    audit(s, actor, "rotate", "integration", integration.id, integration.name, before,
          _audit_json(integration))
    return _secret(integration, token, public_url)


def delete(s: Session, actor: str, integration: Integration) -> None:
    audit(s, actor, "delete", "integration", integration.id, integration.name,
          _audit_json(integration), None)
    s.delete(integration)
    s.flush()
