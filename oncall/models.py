"""SQLAlchemy 2 models: the schema every process shares.

Times are stored in UTC. The migrations in ``oncall/migrations`` create exactly this schema
on PostgreSQL and SQLite; ``tests/test_migrations.py`` checks that they agree.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


ROLES = ("viewer", "responder", "manager", "admin")


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(32))
    slack_id: Mapped[str | None] = mapped_column(String(32))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    role: Mapped[str] = mapped_column(String(16), default="responder")
    managed_by: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A read-only token for calendar feeds (``.ics`` URLs end up in calendar apps).
    feed_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The console: an Argon2 hash (None: cannot sign in with a password until a link sets
    # one), and the epoch every console session carries; raising it ends them all.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    session_epoch: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    # Set when an admin deactivates the user: no sign-in, no API token, no new link.
    deactivated_at: Mapped[datetime | None]
    # Profile (issue 17): where the phone number came from (self | admin | file; None: set
    # before sources were recorded, trusted) and when its owner proved it with an SMS code.
    # A number the user entered themselves is never paged until verified.
    phone_source: Mapped[str | None] = mapped_column(String(8))
    phone_verified_at: Mapped[datetime | None]


class SignInLink(Base):
    """A single-use console link (invite, password reset): the URL carries a signed id and
    nonce; only the nonce's hash is stored, and ``used_at`` is set once, when it is redeemed."""

    __tablename__ = "sign_in_links"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))  # invite | reset
    nonce_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(300))
    user: Mapped[User] = relationship(lazy="joined")


class ApiToken(Base):
    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    user: Mapped[User] = relationship(lazy="joined")


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
    # rotation carries on from whoever's turn it was (see oncall.scheduling.history).
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
    policy: Mapped[dict[str, Any] | None] = mapped_column(JSON)
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


PAGE_STATUSES = ("pending", "sending", "sent", "failed", "cancelled")


class Page(Base):
    """The notification outbox: one row per (incident, level, loop, recipient, channel)."""

    __tablename__ = "pages"
    __table_args__ = (
        UniqueConstraint("incident_id", "level", "loop", "recipient", "channel",
                         name="uq_pages_key"),
        Index("ix_pages_due", "status", "next_attempt_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"))
    level: Mapped[int]
    loop: Mapped[int]
    recipient: Mapped[str] = mapped_column(String(300))  # "user:<id>" or "slack:#channel"
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None]
    message: Mapped[str | None] = mapped_column(Text)
    provider_id: Mapped[str | None] = mapped_column(String(100))
    # The provider's own delivery status (Twilio: queued, sent, delivered, undelivered, ...),
    # from its status callbacks; it only ever moves forward.
    provider_status: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class SlackMessage(Base):
    """A Slack message posted about an incident (a DM to a paged user, or a channel post),
    kept so that every one of them is updated when the incident changes."""

    __tablename__ = "slack_messages"
    __table_args__ = (UniqueConstraint("channel_id", "ts", name="uq_slack_messages_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        ForeignKey("incidents.id", ondelete="CASCADE"), index=True
    )
    page_id: Mapped[int | None] = mapped_column(ForeignKey("pages.id", ondelete="SET NULL"))
    channel_id: Mapped[str] = mapped_column(String(32))
    ts: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # dm | channel
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The incident state the message shows (see oncall.channels.slack.store.version).
    rendered: Mapped[str | None] = mapped_column(String(100))
    error: Mapped[str | None] = mapped_column(Text)
class ReplyCode(Base):
    """A user's short SMS reply number for an open incident ("reply 4a to ack"). Numbers are
    per user and are reused once the incident they named has closed."""

    __tablename__ = "reply_codes"
    __table_args__ = (
        UniqueConstraint("user_id", "code", name="uq_reply_codes_user_code"),
        UniqueConstraint("user_id", "incident_id", name="uq_reply_codes_user_incident"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"),
                                             index=True)
    code: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProviderSend(Base):
    """One request to a provider (a Twilio message or call), written before the request is
    made and given the provider's id after. A bundled SMS carries several pages. Throttling
    counts these rows per destination."""

    __tablename__ = "provider_sends"
    __table_args__ = (Index("ix_provider_sends_dest", "channel", "destination", "created_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    destination: Mapped[str] = mapped_column(String(64))
    page_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    body: Mapped[str | None] = mapped_column(Text)
    # requested (in flight, or its answer lost with a worker) | accepted | rejected |
    # found (its answer lost, then found at Twilio by the reference in its body) |
    # unsent (its answer lost, and Twilio never received it) | superseded (lost, could not
    # be told, later delivered by another request) | recovered (earlier releases only)
    status: Mapped[str] = mapped_column(String(16), default="requested")
    provider_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    provider_status: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class TwilioInbound(Base):
    """Inbound Twilio requests already acted on, by MessageSid (or CallSid and step): a
    replayed request, even correctly signed, changes nothing."""

    __tablename__ = "twilio_inbound"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


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
class NotificationRule(Base):
    """One step of a user's personal notification rules: for incidents of ``severity`` (or
    any severity without rules of its own: ``default``), page on ``channel`` ``delay_seconds``
    after the level pages the user. A user with no rules gets the built-in defaults."""

    __tablename__ = "notification_rules"
    __table_args__ = (UniqueConstraint("user_id", "severity", "position",
                                       name="uq_notification_rules_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    severity: Mapped[str] = mapped_column(String(16))
    position: Mapped[int]
    channel: Mapped[str] = mapped_column(String(32))
    delay_seconds: Mapped[int] = mapped_column(default=0)
    managed_by: Mapped[str | None] = mapped_column(String(300))


class ContactMethod(Base):
    """What happened to a user's contact on one channel. A row exists once a provider has
    refused that contact for good: it is disabled for ``address`` (the phone number or Slack
    id it was refused at), so editing the contact re-enables it without further bookkeeping."""

    __tablename__ = "contact_methods"
    __table_args__ = (UniqueConstraint("user_id", "channel", name="uq_contact_methods_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(32))
    address: Mapped[str | None] = mapped_column(String(300))
    disabled_at: Mapped[datetime]
    disabled_reason: Mapped[str] = mapped_column(Text)


class SystemState(Base):
    """Small facts processes share, e.g. when the sweeper last ran (for /ready)."""

    __tablename__ = "system_state"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
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


# Email pages (issue 17): one-click Acknowledge / Resolve links ----------------------------


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



# --- Profile (issue 17): phone verification codes and test pages -------------------------


class PhoneVerification(Base):
    """A 6-digit code sent by SMS to a number a user entered themselves: only its hash is
    kept; it expires, allows a few wrong attempts, and is used once. Each send is a row, so
    resends are counted (rate-limited) from these rows."""

    __tablename__ = "phone_verifications"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    phone: Mapped[str] = mapped_column(String(32))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    used_at: Mapped[datetime | None]
    # Set when a newer code replaced it or the number changed.
    superseded_at: Mapped[datetime | None]


class TestPage(Base):
    """A "send me a test page" request: through the real provider, never an incident. Kept
    for the rate limit (one per channel per minute) and to show the result."""

    __tablename__ = "test_pages"
    __test__ = False  # not a pytest class
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(32))
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(16))  # sent | failed
    provider_id: Mapped[str | None] = mapped_column(String(200))
    detail: Mapped[str | None] = mapped_column(Text)

__all__ = [
    "ROLES",
    "Alert",
    "ApiToken",
    "AuditEntry",
    "Base",
    "ContactMethod",
    "EmailLinkUse",
    "EscalationPolicy",
    "Heartbeat",
    "HeartbeatPing",
    "Incident",
    "IncidentEvent",
    "Integration",
    "MaintenanceSuppression",
    "MaintenanceWindow",
    "Notice",
    "NotificationRule",
    "Override",
    "Page",
    "PhoneVerification",
    "PolicyLevel",
    "ProviderSend",
    "ReplyCode",
    "RuleState",
    "Schedule",
    "ScheduleLayer",
    "ScheduleLayerVersion",
    "Service",
    "SignInLink",
    "SlackMessage",
    "SystemState",
    "TestPage",
    "ThresholdRule",
    "TwilioInbound",
    "User",
    "utcnow",
]

