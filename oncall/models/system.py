"""What the service keeps about itself: the audit log of configuration changes and small
shared facts (e.g. when the sweeper last ran)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from oncall.models.base import Base, utcnow


class AuditEntry(Base):
    """Every change to configuration: who, what, before and after."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_object", "object_type", "object_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(300))
    action: Mapped[str] = mapped_column(String(16))  # create | update | delete
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[int | None]
    object_name: Mapped[str | None] = mapped_column(String(300))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class SystemState(Base):
    """Small facts processes share, e.g. when the sweeper last ran (for /ready)."""

    __tablename__ = "system_state"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
