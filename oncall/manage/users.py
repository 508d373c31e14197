"""Users: people who are paged, sign in to the console and hold API tokens.

Deactivating a user ends their access at once (console sessions, API tokens, unused sign-in
links, their password) and keeps the row, so that incidents, overrides and the audit log
still name them. Someone still named by a schedule layer or a policy is not deactivated:
they would be paged, or silently skipped; remove them there first."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from oncall.audit import audit
from oncall.channels import preferences
from oncall.manage import Refused, check_editable, iso, not_found
from oncall.models import (
    ROLES,
    ApiToken,
    EscalationPolicy,
    PolicyLevel,
    Schedule,
    ScheduleLayer,
    SignInLink,
    User,
)

EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
PHONE = re.compile(r"\+[1-9]\d{6,14}")
SLACK_ID = re.compile(r"[UW][A-Z0-9]{2,31}")
FIELDS = ("name", "role", "phone", "slack_id", "timezone")


def get(s: Session, user_id: int) -> User:
    found = s.get(User, user_id)
    if found is None:
        raise not_found("user", user_id)
    return found


def as_json(user: User) -> dict[str, Any]:
    return {"id": user.id, "email": user.email, "name": user.name, "role": user.role,
            "phone": user.phone, "slack_id": user.slack_id, "timezone": user.timezone,
            "managed_by": user.managed_by, "active": user.deactivated_at is None,
            "phone_source": user.phone_source, "phone_verified": preferences.phone_verified(user),
            "deactivated_at": iso(user.deactivated_at),
            "can_sign_in": user.password_hash is not None}


def listing(s: Session) -> list[User]:
    return list(s.scalars(select(User).order_by(User.email)))


def _checked(field: str, value: Any) -> Any:
    if field == "name":
        if not isinstance(value, str) or not value.strip() or len(value) > 200:
            raise Refused("name", "1 to 200 characters")
        return value.strip()
    if field == "role":
        if value not in ROLES:
            raise Refused("role", f"one of {', '.join(ROLES)}")
        return value
    if field == "phone":
        if value and not PHONE.fullmatch(str(value)):
            raise Refused("phone", "E.164, e.g. +14155550100")
        return value or None
    if field == "slack_id":
        if value and not SLACK_ID.fullmatch(str(value)):
            raise Refused("slack_id", "a Slack member id, like U012AB3CD")
        return value or None
    if field == "timezone":
        try:
            ZoneInfo(str(value))
        except (ZoneInfoNotFoundError, ValueError):
            raise Refused("timezone", f"unknown timezone {value!r}") from None
        return value
    raise Refused(field, "not a user field")


def field_problems(changes: dict[str, Any]) -> dict[str, str]:
    """Every field of ``changes`` that ``update`` would refuse, with why (it stops at the
    first): a form shows them all at once."""
    found: dict[str, str] = {}
    for field, value in changes.items():
        try:
            _checked(field, value)
        except Refused as exc:
            found[exc.field or field] = exc.message
    return found


def create(s: Session, actor: str, *, email: str, name: str, role: str = "responder",
           phone: str | None = None, slack_id: str | None = None,
           timezone: str = "UTC") -> User:
    email = (email or "").strip()
    if not EMAIL.fullmatch(email) or len(email) > 254:
        raise Refused("email", "not an email address")
    if s.scalar(select(User.id).where(func.lower(User.email) == email.lower())) is not None:
        raise Refused("email", f"user {email} exists", 409)
    values = {f: _checked(f, v) for f, v in (("name", name), ("role", role), ("phone", phone),
                                             ("slack_id", slack_id), ("timezone", timezone))}
    user = User(email=email, **values, phone_source="admin" if values["phone"] else None)
    s.add(user)
    s.flush()
    audit(s, actor, "create", "user", user.id, email, None, _audited(user))
    return user


def _audited(user: User) -> dict[str, Any]:
    return {f: getattr(user, f) for f in ("email", *FIELDS)}


def _admins_left(s: Session, without: User) -> int:
    return s.scalar(select(func.count()).select_from(User).where(
        User.role == "admin", User.deactivated_at.is_(None), User.id != without.id)) or 0


def update(s: Session, actor: str, user: User, changes: dict[str, Any]) -> User:
    check_editable("user", user.email, user.managed_by)
    values = {f: _checked(f, v) for f, v in changes.items()}
    if user.role == "admin" and values.get("role", "admin") != "admin" and \
            not _admins_left(s, user):
        raise Refused("role", "this is the last admin; make someone else admin first", 409)
    before = _audited(user)
    if "phone" in values and values["phone"] != user.phone:
        # A number an admin sets is trusted as set (a self-entered one needs a code).
        user.phone_source = "admin" if values["phone"] else None
        user.phone_verified_at = None
    for field, value in values.items():
        setattr(user, field, value)
    s.flush()
    audit(s, actor, "update", "user", user.id, user.email, before, _audited(user))
    return user


def where_named(s: Session, user: User) -> list[str]:
    """The schedule layers and policies that name the user."""
    found = [f"schedule {name} (layer {layer})" for name, layer, members in s.execute(
        select(Schedule.name, ScheduleLayer.name, ScheduleLayer.members)
        .join(ScheduleLayer, ScheduleLayer.schedule_id == Schedule.id))
        if user.id in (members or [])]
    found += sorted({name for name, targets in s.execute(
        select(EscalationPolicy.name, PolicyLevel.targets)
        .join(PolicyLevel, PolicyLevel.policy_id == EscalationPolicy.id))
        if {"type": "user", "ref": user.email} in (targets or [])})
    return found


def deactivation_effects(s: Session, user: User, now: datetime) -> dict[str, Any]:
    """What deactivating ``user`` would do, for a confirmation step: the API tokens and
    unused (unexpired) sign-in links it would revoke, whether they have a password and
    console sessions to end, and what still names them (a refusal when not empty)."""
    return {
        "tokens": s.scalar(select(func.count()).select_from(ApiToken)
                           .where(ApiToken.user_id == user.id)) or 0,
        "links": s.scalar(select(func.count()).select_from(SignInLink).where(
            SignInLink.user_id == user.id, SignInLink.used_at.is_(None),
            SignInLink.expires_at > now)) or 0,
        "can_sign_in": user.password_hash is not None,
        "named_by": where_named(s, user),
        "last_admin": user.role == "admin" and not _admins_left(s, user),
    }


def deactivate(s: Session, actor: str, user: User, now: datetime) -> User:
    check_editable("user", user.email, user.managed_by)
    if user.deactivated_at is not None:
        return user
    if user.role == "admin" and not _admins_left(s, user):
        raise Refused(None, "this is the last admin; make someone else admin first", 409)
    named = where_named(s, user)
    if named:
        raise Refused(None, f"{user.email} is still named by {', '.join(named)}; remove "
                            "them there first", 409)
    tokens = len(list(s.scalars(select(ApiToken.id).where(ApiToken.user_id == user.id))))
    s.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
    s.execute(delete(SignInLink).where(SignInLink.user_id == user.id,
                                       SignInLink.used_at.is_(None)))
    user.deactivated_at = now
    user.password_hash = None
    user.session_epoch += 1  # every console session ends at its next click
    s.flush()
    audit(s, actor, "deactivate", "user", user.id, user.email, {"active": True},
          {"active": False, "api_tokens_revoked": tokens})
    return user


def reactivate(s: Session, actor: str, user: User, now: datetime) -> User:
    """Undo a deactivation: the user may be paged, named in layers and policies and hold
    tokens again. Deactivation removed their password and links, so they sign in to the
    console only after a new invitation link (``oncall user invite``, the Users page)."""
    check_editable("user", user.email, user.managed_by)
    if user.deactivated_at is None:
        return user
    was = user.deactivated_at
    user.deactivated_at = None
    s.flush()
    audit(s, actor, "reactivate", "user", user.id, user.email,
          {"active": False, "deactivated_at": iso(was)},
          {"active": True, "reactivated_at": iso(now)})
    return user
