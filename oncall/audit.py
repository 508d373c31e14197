"""The audit log: every configuration change, with who made it and the object before and
after. Callers own the transaction, so the entry commits with the change or not at all."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from oncall.models import AuditEntry, utcnow


def audit(session: Session, actor: str, action: str, object_type: str, object_id: int | None,
          name: str | None, before: dict[str, Any] | None,
          after: dict[str, Any] | None) -> None:
    session.add(AuditEntry(at=utcnow(), actor=actor, action=action, object_type=object_type,
                           object_id=object_id, object_name=name, before=before, after=after))


def entry_json(entry: AuditEntry) -> dict[str, Any]:
    return {"id": entry.id, "at": entry.at.isoformat(), "actor": entry.actor,
            "action": entry.action, "object_type": entry.object_type,
            "object_id": entry.object_id, "object_name": entry.object_name,
            "before": entry.before, "after": entry.after}
