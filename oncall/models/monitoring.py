"""What raises or holds back incidents besides alerts: threshold rules and their state,
heartbeats and their pings, maintenance windows and what they suppressed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from oncall.models.base import Base, utcnow
from oncall.models.services import EscalationPolicy, Service


class ThresholdRule(Base):
    """A threshold rule as its file gives it (``spec``), in evaluation order (``position``:
    the first rule that matches an alert decides)."""

    __tablename__ = "rules"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    position: Mapped[int] = mapped_column(default=0)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    managed_by: Mapped[str | None] = mapped_column(String(300))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class RuleState(Base):
    """A windowed rule's memory of one group (e.g. one merchant): whether its condition held
    at the last evaluation, since when it has been clear (the hold-down), and its incident."""

    __tablename__ = "rule_states"
    __table_args__ = (UniqueConstraint("rule", "group_key", name="uq_rule_states_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    rule: Mapped[str] = mapped_column(String(200))
    group_key: Mapped[str] = mapped_column(String(255))
    labels: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    firing: Mapped[bool] = mapped_column(Boolean, default=False)
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("incidents.id", ondelete="SET NULL"))
    clear_since: Mapped[datetime | None]
    observed: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


HEARTBEAT_STATES = ("new", "up", "late", "down", "paused")
PING_KINDS = ("start", "success", "fail")


class Heartbeat(Base):
    """A cron job (or any periodic job) that must check in: by a period, or by a cron
    expression in a time zone, plus a grace time. The state machine is
    ``oncall.heartbeats.state``; ``check_at`` is when the checker must next look at it."""

    __tablename__ = "heartbeats"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # The secret in the ping URL (``/ping/<uuid>``).
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    # Overrides the service's policy for this heartbeat's incidents.
    policy_id: Mapped[int | None] = mapped_column(
        ForeignKey("escalation_policies.id", ondelete="SET NULL")
    )
    period: Mapped[int | None]  # seconds; or else cron + timezone
    cron: Mapped[str | None] = mapped_column(String(120))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    grace: Mapped[int] = mapped_column(default=3600)  # seconds
    severity: Mapped[str] = mapped_column(String(16), default="critical")
    state: Mapped[str] = mapped_column(String(16), default="new")
    # Why it is down: missed | run_timeout | failed (None unless down).
    down_reason: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_ping_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    # Set by /start, cleared by the run's success or failure: a run in progress.
    last_start_at: Mapped[datetime | None]
    next_due_at: Mapped[datetime | None]
    check_at: Mapped[datetime | None] = mapped_column(index=True)
    # Bumped on every change: writers claim the row with ``WHERE version = :seen``.
    version: Mapped[int] = mapped_column(default=0)
    managed_by: Mapped[str | None] = mapped_column(String(300))
    service: Mapped[Service] = relationship(lazy="joined")
    policy: Mapped[EscalationPolicy | None] = relationship()


class HeartbeatPing(Base):
    """The ping log: what each check-in said, kept for the latest pings of each heartbeat."""

    __tablename__ = "heartbeat_pings"
    __table_args__ = (Index("ix_heartbeat_pings_recent", "heartbeat_id", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    heartbeat_id: Mapped[int] = mapped_column(ForeignKey("heartbeats.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # start | success | fail
    at: Mapped[datetime] = mapped_column(default=utcnow)
    exit_status: Mapped[int | None]
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str | None] = mapped_column(Text)


class MaintenanceWindow(Base):
    """A time range in which alerts matching ``matchers`` are stored but page nobody.
    ``matchers``: {"service": name, "type": alert type, "labels": {name: value}}, each
    optional, all exact; an empty matcher matches every alert."""

    __tablename__ = "maintenance_windows"
    __table_args__ = (Index("ix_maintenance_windows_active", "ends_at", "starts_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    matchers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    managed_by: Mapped[str | None] = mapped_column(String(300))


class MaintenanceSuppression(Base):
    """An incident opened inside a window, held until the window ends: moving or ending the
    window moves its incidents' first page with it."""

    __tablename__ = "maintenance_suppressions"
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True
    )
    window_id: Mapped[int] = mapped_column(
        ForeignKey("maintenance_windows.id", ondelete="CASCADE"), index=True
    )
