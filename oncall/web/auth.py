"""API tokens (Bearer) and roles: viewer < responder < manager < admin."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar

from apiflask import HTTPError
from flask import g, request
from sqlalchemy import select, update

from oncall.models import ROLES, ApiToken, User, utcnow
from oncall.security import hash_token
from oncall.web import session

F = TypeVar("F", bound=Callable[..., Any])


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def current_user() -> User:
    return g.user


def actor() -> str:
    """The timeline and audit actor for the authenticated user: ``user:<email>``."""
    return f"user:{current_user().email}"


def require(role: str) -> Callable[[F], F]:
    """Allow the view to users whose role is ``role`` or above."""
    needed = ROLES.index(role)

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            token = bearer_token()
            if token is None:
                raise HTTPError(401, "an API token is required: Authorization: Bearer <token>",
                                headers={"WWW-Authenticate": "Bearer"})
            s = session()
            row = s.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
            if row is None:
                raise HTTPError(401, "unknown API token", headers={"WWW-Authenticate": "Bearer"})
            if ROLES.index(row.user.role) < needed:
                raise HTTPError(403, f"this needs the {role} role; you are {row.user.role}")
            now = utcnow()
            if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
                s.execute(update(ApiToken).where(ApiToken.id == row.id)
                          .values(last_used_at=now))
                s.commit()
            g.user = row.user
            return view(*args, **kwargs)

        wrapper._auth_role = role  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator
