"""Pages (one person, one channel, one incident) and what their channels keep: Slack
messages, SMS reply codes, provider sends and Twilio's inbound messages."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from oncall.models.base import Base, utcnow

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
