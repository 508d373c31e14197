"""Services, the escalation policies they page through, and their integrations (where alerts
come in)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from oncall.models.base import Base, utcnow


class EscalationPolicy(Base):
    __tablename__ = "escalation_policies"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    repeat: Mapped[int] = mapped_column(default=0)
    # An acknowledgement older than this (seconds) while the incident is still open re-triggers
    # it from level 1. NULL: an acknowledgement holds until the incident is resolved.
    ack_timeout: Mapped[int | None]
    managed_by: Mapped[str | None] = mapped_column(String(300))
    levels: Mapped[list[PolicyLevel]] = relationship(
        order_by="PolicyLevel.position", cascade="all, delete-orphan", back_populates="policy"
    )


class PolicyLevel(Base):
    __tablename__ = "policy_levels"
    id: Mapped[int] = mapped_column(primary_key=True)
    policy_id: Mapped[int] = mapped_column(
        ForeignKey("escalation_policies.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]
    escalate_after: Mapped[int] = mapped_column(default=300)  # seconds
    # Each target is {"type": "user"|"schedule"|"slack", "ref": email | schedule name | #channel}.
    targets: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    policy: Mapped[EscalationPolicy] = relationship(back_populates="levels")


class Service(Base):
    __tablename__ = "services"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    policy_id: Mapped[int | None] = mapped_column(
        ForeignKey("escalation_policies.id", ondelete="SET NULL")
    )
    managed_by: Mapped[str | None] = mapped_column(String(300))
    policy: Mapped[EscalationPolicy | None] = relationship()


INTEGRATION_KINDS = ("generic", "alertmanager", "grafana", "pagerduty", "opsgenie")


class Integration(Base):
    __tablename__ = "integrations"
    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    service: Mapped[Service] = relationship(lazy="joined")
