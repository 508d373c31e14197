"""API tokens (Bearer) and roles: viewer < responder < manager < admin.

Authentication and the role check run before anything reads the request (``init_app``
installs them as the first ``before_request``): apiflask validates a body or query in the
view's decorators, and an ``@bp.input`` above ``@require`` would otherwise answer an
unauthenticated caller with the fields it expects."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any, TypeVar

from apiflask import HTTPError
from flask import Flask, g, request
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


def token_user(token: str | None) -> User | None:
    """The user an API token belongs to (its last use recorded, at most once a minute)."""
    if token is None:
        return None
    s = session()
    row = s.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None or row.user.deactivated_at is not None:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
        s.execute(update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now))
        s.commit()
    return row.user


def authenticate(role: str) -> User:
    """The caller, who must hold ``role`` or above: else 401 (no or unknown token) or 403."""
    token = bearer_token()
    if token is None:
        raise HTTPError(401, "an API token is required: Authorization: Bearer <token>",
                        headers={"WWW-Authenticate": "Bearer"})
    user = token_user(token)
    if user is None:
        raise HTTPError(401, "unknown API token", headers={"WWW-Authenticate": "Bearer"})
    if ROLES.index(user.role) < ROLES.index(role):
        raise HTTPError(403, f"this needs the {role} role; you are {user.role}")
    g.user = user
    g.user_role_checked = role
    return user


def require(role: str) -> Callable[[F], F]:
    """Allow the view to users whose role is ``role`` or above. The check runs before the
    request is read (see the module docstring); the view's own wrapper repeats it only when
    it was not done, e.g. for a view called outside a request dispatch."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if g.get("user_role_checked") != role:
                authenticate(role)
            return view(*args, **kwargs)

        wrapper._auth_role = role  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator


def role_of_view(app: Flask, endpoint: str | None) -> str | None:
    """The role ``@require`` put on the endpoint's view (kept through the decorators above it,
    which copy the wrapped function's attributes), or None for an open endpoint."""
    view = app.view_functions.get(endpoint) if endpoint else None
    return getattr(view, "_auth_role", None)


def init_app(app: Flask) -> None:
    """Register first, so that authentication precedes every other request hook."""

    @app.before_request
    def _authenticate_first() -> None:
        if request.method == "OPTIONS":
            return
        role = role_of_view(app, request.endpoint)
        if role is not None:
            authenticate(role)
