"""Console sessions: Flask's signed cookie (HttpOnly, SameSite=Lax, Secure behind https),
only on console paths, ending after ``ONCALL_SESSION_IDLE_MINUTES`` without use or when the
user's session epoch moves on ("sign out everywhere", a new password).

The API never reads the cookie (it takes Bearer tokens), and the machine endpoints (intake,
webhooks, pings, health) never open a session: a signer per alert would only cost time."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, Request, abort, flash, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface

from oncall.config import Settings
from oncall.models import ROLES, User, utcnow

F = TypeVar("F", bound=Callable[..., Any])

# Paths that machines call: no cookie session is opened for them.
MACHINE_PREFIXES = ("/api/", "/integrations", "/v2/", "/ping/", "/twilio/", "/slack/",
                    "/health", "/ready", "/metrics", "/static/")


class ConsoleSessions(SecureCookieSessionInterface):
    def open_session(self, app: Flask, request: Request) -> Any:
        path = request.path
        if path.startswith(MACHINE_PREFIXES) or path.endswith(".ics"):
            return None  # a null session: nothing to read, nothing written back
        return super().open_session(app, request)


def configure(app: Flask, settings: Settings) -> None:
    app.session_interface = ConsoleSessions()
    app.config.update(
        SESSION_COOKIE_NAME="oncall_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_url.startswith("https://"),
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=settings.session_idle_minutes),
        SESSION_REFRESH_EACH_REQUEST=True,
    )


def idle_limit() -> timedelta:
    from flask import current_app

    return current_app.permanent_session_lifetime


def start(user: User) -> None:
    """A fresh session for ``user`` (nothing of the signed-out session is kept, so a
    planted cookie cannot become a signed-in one)."""
    session.clear()
    session.permanent = True
    session["uid"] = user.id
    session["epoch"] = user.session_epoch
    session["seen"] = utcnow().timestamp()


def end() -> None:
    session.clear()


def load(db_session: Any) -> User | None:
    """The signed-in user, or None: no session, an idle one (ended here), or one from before
    the user's last "sign out everywhere" or password change."""
    uid = session.get("uid")
    if uid is None:
        return None
    now = utcnow()
    seen = datetime.fromtimestamp(float(session.get("seen", 0)), UTC)
    user = db_session.get(User, uid)
    if user is None or user.deactivated_at is not None or \
            session.get("epoch") != user.session_epoch or \
            now - seen > idle_limit():
        session.clear()
        flash("Your session ended; sign in again.", "info")
        return None
    session["seen"] = now.timestamp()
    return user


def current() -> User | None:
    return g.get("console_user")


def at_least(user: User | None, role: str) -> bool:
    return user is not None and user.role in ROLES and ROLES.index(user.role) >= ROLES.index(role)


def can(role: str) -> bool:
    """For templates: whether the signed-in user holds ``role`` or above (the same rule
    ``require`` enforces on the server)."""
    return at_least(current(), role)


_LOCAL_PATH = re.compile(r"/(?![/\\])[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*")


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None: no scheme, no ``//host``, and
    no characters a browser would drop or turn into a slash (tabs, newlines, backslashes),
    so that ``?next=`` cannot send anyone elsewhere."""
    if target and _LOCAL_PATH.fullmatch(target):
        return target
    return None


def require(role: str = "viewer") -> Callable[[F], F]:
    """The page needs a signed-in user holding ``role`` or above: a visitor is sent to sign
    in (then back here); a user with a lesser role gets 403, whatever they sent."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current()
            if user is None:
                if request.headers.get("HX-Request"):  # a partial refresh: reload the page
                    return "", 200, {"HX-Redirect": url_for("console.signin")}
                if request.method == "GET":
                    target = request.full_path.rstrip("?")
                    return redirect(url_for("console.signin", next=target))
                abort(401)
            if not at_least(user, role):
                abort(403, f"this needs the {role} role; you are {user.role}")
            return view(*args, **kwargs)

        wrapper._console_role = role  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator
