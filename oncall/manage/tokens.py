"""API tokens: everyone lists, creates and revokes their own; admins anyone's. A token is
shown once, when created; only its hash and a short prefix are kept."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from oncall.audit import audit
from oncall.manage import Refused, iso, not_found
from oncall.models import ApiToken, User
from oncall.security import hash_token, new_token, token_prefix


def as_json(token: ApiToken) -> dict[str, Any]:
    return {"id": token.id, "user": token.user.email, "label": token.label,
            "prefix": token.prefix, "created_at": iso(token.created_at),
            "last_used_at": iso(token.last_used_at)}


def _is_admin(user: User) -> bool:
    return user.role == "admin"


def listing(s: Session, caller: User, user: User | None = None) -> list[ApiToken]:
    """The caller's tokens; an admin's listing covers everyone (or ``user``)."""
    stmt = select(ApiToken).order_by(ApiToken.id)
    if not _is_admin(caller):
        if user is not None and user.id != caller.id:
            raise Refused("user", "only admins see other people's tokens", 403)
        user = caller
    if user is not None:
        stmt = stmt.where(ApiToken.user_id == user.id)
    return list(s.scalars(stmt))


def get(s: Session, caller: User, token_id: int) -> ApiToken:
    """A token the caller may see; others' tokens are 404 to non-admins (not a hint)."""
    found = s.get(ApiToken, token_id)
    if found is None or (found.user_id != caller.id and not _is_admin(caller)):
        raise not_found("token", token_id)
    return found


def create(s: Session, caller: User, *, owner: User | None = None,
           label: str | None = None) -> tuple[ApiToken, str]:
    owner = owner or caller
    if owner.id != caller.id and not _is_admin(caller):
        raise Refused("user", "only admins create tokens for other people", 403)
    if owner.deactivated_at is not None:
        raise Refused("user", f"{owner.email} is deactivated", 409)
    if label is not None and len(label) > 200:
        raise Refused("label", "at most 200 characters")
    value = new_token("oct")
    token = ApiToken(user_id=owner.id, token_hash=hash_token(value),
                     prefix=token_prefix(value), label=label or None)
    token.user = owner
    s.add(token)
    s.flush()
    audit(s, f"user:{caller.email}", "create", "api_token", token.id, owner.email, None,
          {"user": owner.email, "label": token.label, "prefix": token.prefix})
    return token, value


def revoke(s: Session, caller: User, token: ApiToken) -> None:
    audit(s, f"user:{caller.email}", "revoke", "api_token", token.id, token.user.email,
          {"user": token.user.email, "label": token.label, "prefix": token.prefix}, None)
    s.delete(token)
    s.flush()


def owner_by_email(s: Session, email: str) -> User:
    found = s.scalar(select(User).where(User.email == email))
    if found is None:
        raise Refused("user", f"no user {email}", 400)
    return found
