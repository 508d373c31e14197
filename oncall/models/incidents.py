"""Incidents, the alerts grouped into them, their timeline, and the email action links used
on them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from oncall.models.base import Base, PolicyJSON, utcnow
from oncall.models.services import Service
from oncall.paging.policy_snapshot import Policy

INCIDENT_STATUSES = ("triggered", "acknowledged", "resolved")


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        # One open incident per (service, dedup key), enforced here and nowhere else.
        Index(
            "uq_incidents_open_dedup",
            "service_id",
            "dedup_key",
            unique=True,
            postgresql_where=text("status <> 'resolved'"),
            sqlite_where=text("status <> 'resolved'"),
        ),
        # What the sweeper and the dispatcher claim (triggered and due) and what ack timeouts
        # expire (acknowledged and due): only rows with a next action, so an outage's
        # thousands of incidents paged and waiting are not scanned at every claim.
        Index("ix_incidents_due", "status", "next_action_at",
              postgresql_where=text("next_action_at IS NOT NULL"),
              sqlite_where=text("next_action_at IS NOT NULL")),
        Index("ix_incidents_status", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    dedup_key: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="triggered")
    severity: Mapped[str] = mapped_column(String(16), default="critical")
    summary: Mapped[str] = mapped_column(String(1024))
    # The escalation policy as it was when the incident triggered: later edits don't apply.
    policy: Mapped[Policy | None] = mapped_column(PolicyJSON)
    # Escalation state: the level last paged (0 = none yet), the loop through the policy,
    # and when the next step is due (NULL = nothing more to do).
    level: Mapped[int] = mapped_column(default=0)
    loop: Mapped[int] = mapped_column(default=0)
    next_action_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    acked_at: Mapped[datetime | None]
    acked_by: Mapped[str | None] = mapped_column(String(300))
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(300))
    # Where to start when it fires: set by the threshold rule that opened the incident.
    runbook: Mapped[str | None] = mapped_column(String(1024))
    service: Mapped[Service] = relationship(lazy="joined")


class Alert(Base):
    __tablename__ = "alerts"
    # Windowed threshold rules count recent alerts of a type.
    __table_args__ = (Index("ix_alerts_type_received", "type", "received_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    integration_id: Mapped[int | None] = mapped_column(
        ForeignKey("integrations.id", ondelete="SET NULL")
    )
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(16))
    type: Mapped[str] = mapped_column(String(100))
    severity: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(String(1024))
    dedup_key: Mapped[str] = mapped_column(String(255))
    service: Mapped[str | None] = mapped_column(String(200))
    labels: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    value: Mapped[float | None] = mapped_column(Float)
    # The adapter's input for this alert, kept so that nothing the sender said is lost.
    raw: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # The threshold rule that matched it, and whether that rule held it below its threshold
    # (stored and visible, paged to nobody).
    rule: Mapped[str | None] = mapped_column(String(200))
    held: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))


class IncidentEvent(Base):
    """The incident timeline: every event, with who did it and when."""

    __tablename__ = "incident_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(300))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class EmailLinkUse(Base):
    """A signed email action link that was used: the link carries a nonce, only its hash is
    kept here, once, when the action was taken (the unique key makes a second use, or two
    clicks racing, change nothing). Unused links are stored nowhere: they are signed."""

    __tablename__ = "email_link_uses"
    nonce_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"),
                                             index=True)
    action: Mapped[str] = mapped_column(String(16))  # ack | resolve
    used_at: Mapped[datetime]
