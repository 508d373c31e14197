"""``/api/v1/auth``: an API token for an email and password (what ``oncall login`` asks for),
who a token belongs to, and revoking the token a request carries (``oncall logout``).

The password is checked as the console's sign-in checks it (Argon2id, ``oncall.accounts``),
and failures are counted in the same per-account and per-address throttle
(``ONCALL_SIGNIN_RATE_LIMIT``): a password guessed through the API costs what it costs in the
console. The token is made by ``oncall.manage.tokens`` (so it is audited), and is answered
once."""

from __future__ import annotations

import math
from typing import Any

from apiflask import APIBlueprint, HTTPError, Schema
from apiflask.fields import String
from apiflask.validators import Length
from flask import Flask, current_app, request
from sqlalchemy import select

from oncall.accounts import service
from oncall.manage import Refused, tokens
from oncall.models import ApiToken, utcnow
from oncall.security import hash_token
from oncall.web import commit, session, transaction
from oncall.web.auth import bearer_token, current_user, require
from oncall.web.openapi import BODIES, SCHEMAS, STR, obj, ref

bp = APIBlueprint("login", __name__, url_prefix="/api/v1/auth", tag="API tokens")


class PasswordLogin(Schema):
    email = String(required=True, validate=Length(min=1, max=254))
    password = String(required=True, validate=Length(min=1, max=1024))
    label = String(allow_none=True, validate=Length(max=200),
                   metadata={"description": "what the token is for, e.g. `oncall CLI on "
                                            "laptop`"})


def _minutes(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return f"{minutes} minute" + ("" if minutes == 1 else "s")


@bp.post("/tokens")
@bp.doc(responses={401: "Wrong email or password", 403: "The account is deactivated",
                   429: "Too many failed attempts (see Retry-After)"})
@bp.input(PasswordLogin, arg_name="data")
def password_token(data: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """A new API token acting as you, for your console email and password (what
    `oncall login` does). Failed attempts count against the console's sign-in limit, per
    account and per address (`ONCALL_SIGNIN_RATE_LIMIT`). The answer holds the token: the
    only time it is shown; revoke it with `DELETE /api/v1/auth/tokens/current`."""
    throttle = current_app.extensions["oncall.signin_throttle"]
    email, address = data["email"].strip(), request.remote_addr
    wait = throttle.retry_after(email, address)
    if wait is not None:
        raise HTTPError(429, f"too many failed sign-ins; wait {_minutes(wait)} and try again, "
                             "or ask an admin for a password reset link",
                        headers={"Retry-After": str(wait)})
    with transaction() as s:
        user = service.authenticate(s, email, data["password"])
    if user is None:
        throttle.failed(email, address)
        raise HTTPError(401, "wrong email or password")
    if user.deactivated_at is not None:
        raise HTTPError(403, f"{user.email} is deactivated; ask an admin")
    token, value = commit(lambda: tokens.create(session(), user, label=data.get("label")),
                          Refused)
    return {**tokens.as_json(token), "token": value, "name": user.name, "role": user.role,
            "timezone": user.timezone}, 201


def _this_token() -> ApiToken:
    found = session().scalar(select(ApiToken).where(
        ApiToken.token_hash == hash_token(bearer_token() or "")))
    if found is None:  # revoked between authentication and here
        raise HTTPError(401, "unknown API token", headers={"WWW-Authenticate": "Bearer"})
    return found


@bp.get("/me")
@bp.doc(security="ApiToken")
@require("viewer")
def whoami() -> dict[str, Any]:
    """Who the token in this request acts as, and the token itself (never its secret)."""
    me = current_user()
    return {"id": me.id, "email": me.email, "name": me.name, "role": me.role,
            "timezone": me.timezone, "token": tokens.as_json(_this_token()),
            "at": utcnow().isoformat()}


@bp.delete("/tokens/current")
@bp.doc(security="ApiToken", responses={204: "Revoked"})
@require("viewer")
def revoke_current() -> tuple[str, int]:
    """Revoke the token this request is made with (what `oncall logout` does). It stops
    working at once."""
    token = _this_token()
    commit(lambda: tokens.revoke(session(), current_user(), token), Refused)
    return "", 204


SCHEMAS["NewToken"] = {"allOf": [ref("ApiToken"), obj({
    "token": {**STR, "description": "the secret, shown only here: "
                                    "`Authorization: Bearer <token>`"},
    "name": STR, "role": STR, "timezone": STR})]}
BODIES.update({
    ("post", "/api/v1/auth/tokens"): (201, ref("NewToken")),
    ("get", "/api/v1/auth/me"): (200, obj({"id": {"type": "integer"}, "email": STR,
                                           "name": STR, "role": STR, "timezone": STR,
                                           "token": ref("ApiToken"),
                                           "at": {"type": "string", "format": "date-time"}})),
})


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
