"""``/api/v1/users`` (list, create, update, deactivate, reactivate) and ``/api/v1/tokens``.

Everyone signed in lists users (contact details only to admins and the user themselves);
admins create, update, deactivate and reactivate them. API tokens: everyone lists, creates
and revokes their own; admins anyone's. A token is answered once, when created."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint, Schema
from apiflask.fields import Email, String
from apiflask.validators import Length, OneOf
from flask import Flask

from oncall.manage import Refused, tokens, users
from oncall.models import ROLES, User, utcnow
from oncall.web import commit, session
from oncall.web.auth import actor, current_user, require
from oncall.web.manage import found
from oncall.web.openapi import BODIES, INT, OPT_STR, OPT_TIME, SCHEMAS, STR, array, obj, ref
from oncall.web.privacy import may_see_contacts
from oncall.web.users import public_json

bp = APIBlueprint("people", __name__, url_prefix="/api/v1", tag="Users")


def _user_json(user: User) -> dict[str, Any]:
    if may_see_contacts(current_user(), user.email):
        return users.as_json(user)
    return {**public_json(user), "active": user.deactivated_at is None}


@bp.get("/users")
@bp.doc(security="ApiToken")
@require("viewer")
def list_users() -> dict[str, Any]:
    """Everyone, deactivated people included (`active: false`)."""
    return {"users": [_user_json(u) for u in users.listing(session())]}


class UserIn(Schema):
    email = Email(required=True, validate=Length(max=254))
    name = String(required=True, validate=Length(min=1, max=200))
    role = String(load_default="responder", validate=OneOf(ROLES))
    phone = String(allow_none=True, validate=Length(max=32),
                   metadata={"description": "E.164, e.g. +14155550100"})
    slack_id = String(allow_none=True, validate=Length(max=32))
    timezone = String(load_default="UTC", validate=Length(max=64))


class UserPatch(Schema):
    name = String(validate=Length(min=1, max=200))
    role = String(validate=OneOf(ROLES))
    phone = String(allow_none=True, validate=Length(max=32))
    slack_id = String(allow_none=True, validate=Length(max=32))
    timezone = String(validate=Length(max=64))


@bp.post("/users")
@bp.doc(security="ApiToken", responses={403: "Not allowed", 409: "Email taken"})
@bp.input(UserIn, arg_name="data")
@require("admin")
def create_user(data: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Add a user (admins). They sign in to the console with an invitation link
    (`oncall user invite`, or the console's Users page)."""
    made = commit(lambda: users.create(session(), actor(), **data), Refused)
    return users.as_json(made), 201


@bp.patch("/users/<int:user_id>")
@bp.doc(security="ApiToken", responses={403: "Not allowed", 404: "No such user",
                          409: "Managed by a file, or the last admin"})
@bp.input(UserPatch, arg_name="data")
@require("admin")
def update_user(user_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Change a user's name, role, phone, Slack id or timezone (admins)."""
    user = found(lambda: users.get(session(), user_id))
    return users.as_json(commit(lambda: users.update(session(), actor(), user, data), Refused))


@bp.post("/users/<int:user_id>/deactivate")
@bp.doc(security="ApiToken", responses={403: "Not allowed", 404: "No such user",
                          409: "Managed by a file, still on a schedule or policy, or the "
                               "last admin"})
@require("admin")
def deactivate_user(user_id: int) -> dict[str, Any]:
    """End a user's access (admins): console sessions, API tokens and unused links; the
    user stays in the history. Refused while a schedule layer or a policy names them."""
    user = found(lambda: users.get(session(), user_id))
    return users.as_json(commit(lambda: users.deactivate(session(), actor(), user, utcnow()),
                                Refused))


@bp.post("/users/<int:user_id>/reactivate")
@bp.doc(security="ApiToken", responses={403: "Not allowed", 404: "No such user",
                          409: "Managed by a file"})
@require("admin")
def reactivate_user(user_id: int) -> dict[str, Any]:
    """Undo a deactivation (admins): the user may be paged and hold tokens again. Their
    password was removed, so they sign in to the console only after a new invitation link.
    Reactivating an active user changes nothing."""
    user = found(lambda: users.get(session(), user_id))
    return users.as_json(commit(lambda: users.reactivate(session(), actor(), user, utcnow()),
                                Refused))


class TokenQuery(Schema):
    user = String(validate=Length(max=254),
                  metadata={"description": "an email (admins): that user's tokens only"})


class TokenIn(Schema):
    label = String(allow_none=True, validate=Length(max=200),
                   metadata={"description": "what the token is for"})
    user = String(validate=Length(max=254),
                  metadata={"description": "an email (admins): a token for someone else"})


@bp.get("/tokens")
@bp.doc(security="ApiToken", tags=["API tokens"])
@bp.input(TokenQuery, location="query", arg_name="query")
@require("viewer")
def list_tokens(query: dict[str, Any]) -> dict[str, Any]:
    """Your API tokens; an admin's listing is everyone's (or `user`'s)."""
    s = session()
    rows = found(lambda: tokens.listing(
        s, current_user(), tokens.owner_by_email(s, query["user"]) if "user" in query else None))
    return {"tokens": [tokens.as_json(t) for t in rows]}


@bp.post("/tokens")
@bp.doc(security="ApiToken", tags=["API tokens"],
        responses={403: "Not allowed", 409: "Deactivated"})
@bp.input(TokenIn, arg_name="data")
@require("viewer")
def create_token(data: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """A new API token acting as you (or, for admins, as `user`). The answer holds the
    token: the only time it is shown."""
    s = session()

    def work() -> tuple[Any, str]:
        owner = tokens.owner_by_email(s, data["user"]) if data.get("user") else None
        return tokens.create(s, current_user(), owner=owner, label=data.get("label"))

    token, value = commit(work, Refused)
    return {**tokens.as_json(token), "token": value}, 201


@bp.delete("/tokens/<int:token_id>")
@bp.doc(security="ApiToken", tags=["API tokens"], responses={204: "Revoked", 404: "No such token"})
@require("viewer")
def revoke_token(token_id: int) -> tuple[str, int]:
    """Revoke one of your tokens (admins: anyone's). It stops working at once."""
    token = found(lambda: tokens.get(session(), current_user(), token_id))
    commit(lambda: tokens.revoke(session(), current_user(), token), Refused)
    return "", 204


SCHEMAS["UserSummary"] = obj({"id": INT, "email": STR, "name": STR, "role": STR,
                              "active": {"type": "boolean"}},
                             phone=OPT_STR, slack_id=OPT_STR, timezone=OPT_STR,
                             managed_by=OPT_STR, deactivated_at=OPT_TIME,
                             can_sign_in={"type": "boolean"}, phone_source=OPT_STR,
                             phone_verified={"type": "boolean"})
SCHEMAS["ApiToken"] = obj({"id": INT, "user": STR, "label": OPT_STR, "prefix": STR,
                           "created_at": OPT_TIME, "last_used_at": OPT_TIME})
BODIES.update({
    ("get", "/api/v1/users"): (200, obj({"users": array(ref("UserSummary"))})),
    ("post", "/api/v1/users"): (201, ref("UserSummary")),
    ("patch", "/api/v1/users/{user_id}"): (200, ref("UserSummary")),
    ("post", "/api/v1/users/{user_id}/deactivate"): (200, ref("UserSummary")),
    ("post", "/api/v1/users/{user_id}/reactivate"): (200, ref("UserSummary")),
    ("get", "/api/v1/tokens"): (200, obj({"tokens": array(ref("ApiToken"))})),
    ("post", "/api/v1/tokens"): (201, {"allOf": [ref("ApiToken"), obj({"token": STR})]}),
})


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
