"""People and how they sign in and are reached: users, sign-in links, API tokens, personal
notification rules and contact methods, phone verification and test pages."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from oncall.models.base import Base, utcnow

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
