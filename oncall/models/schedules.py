"""Schedules: layers (with their history), overrides, and the shift notices sent from them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from oncall.models.base import Base, utcnow
from oncall.models.people import User


class Schedule(Base):
    __tablename__ = "schedules"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    timezone: Mapped[str] = mapped_column(String(64))
    description: Mapped[str | None] = mapped_column(Text)
    managed_by: Mapped[str | None] = mapped_column(String(300))
    # A schedule once defined in this file and since handed to the console ("edit in the
    # console"): ``oncall apply`` leaves it alone (and says so) while the file still has it.
    detached_from: Mapped[str | None] = mapped_column(String(300))
    detached_at: Mapped[datetime | None]
    layers: Mapped[list[ScheduleLayer]] = relationship(
        order_by="ScheduleLayer.position", cascade="all, delete-orphan", back_populates="schedule"
    )


class ScheduleLayer(Base):
    __tablename__ = "schedule_layers"
    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(
        ForeignKey("schedules.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]
    name: Mapped[str] = mapped_column(String(200))
    # The rotation as the YAML gives it: {"rotation": ..., "handoff": ..., "start": ...}.
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Members in turn order, as user ids.
    members: Mapped[list[int]] = mapped_column(JSON, default=list)
    # Windows (local time) when the layer has someone on call, as the YAML gives them.
    restrictions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # This definition is in force from here on (None: since forever); what was in force
    # before is kept in ScheduleLayerVersion, so an edit never rewrites past shifts.
    effective_from: Mapped[datetime | None]
    # Turn i goes to members[(i + turn_offset) % len(members)]: set by an edit so that the
    # rotation carries on from whoever's turn it was (see oncall.schedules.history).
    turn_offset: Mapped[int] = mapped_column(default=0)
    # Bumped by every change to the row (SQLAlchemy's version counter: an UPDATE that finds
    # another version changes nothing and fails). An editor sends the version it opened, and
    # a save over someone else's change is refused ("changed since you opened it").
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    schedule: Mapped[Schedule] = relationship(back_populates="layers")
    __mapper_args__ = {"version_id_col": version}


class ScheduleLayerVersion(Base):
    """A layer as it was defined over [effective_from, effective_until): written when an edit
    (or the layer's removal) takes effect at effective_until. ``layer_id`` is no foreign key,
    so a removed layer's past shifts stay; it is NULL once the layer is removed (a new layer
    may be given the same id on SQLite)."""

    __tablename__ = "schedule_layer_versions"
    __table_args__ = (Index("ix_layer_versions_window", "schedule_id", "effective_until"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"))
    layer_id: Mapped[int | None]
    position: Mapped[int]
    name: Mapped[str] = mapped_column(String(200))
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    members: Mapped[list[int]] = mapped_column(JSON, default=list)
    restrictions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    turn_offset: Mapped[int] = mapped_column(default=0)
    effective_from: Mapped[datetime | None]
    effective_until: Mapped[datetime]


class Override(Base):
    """Someone on call for a window, on top of every layer; where overrides overlap, the most
    recently created wins. A swap is an override covering exactly one shift."""

    __tablename__ = "overrides"
    __table_args__ = (Index("ix_overrides_window", "schedule_id", "end"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    start: Mapped[datetime]
    end: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(16), default="override")  # override | swap
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(300))
    user: Mapped[User] = relationship(lazy="joined")


class Notice(Base):
    """A message that is not a page: e.g. "your on-call shift starts now". One per
    (schedule, user, shift start, channel), so a handoff is announced once."""

    __tablename__ = "notices"
    __table_args__ = (UniqueConstraint("schedule_id", "user_id", "shift_start", "channel",
                                       name="uq_notices_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    shift_start: Mapped[datetime]
    shift_end: Mapped[datetime | None]
    channel: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    message: Mapped[str] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
