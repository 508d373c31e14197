"""``/api/v1/users/<id>``: a user with their contact methods and whether each works, and
their personal notification rules (read and replaced by the user themselves or an admin).

Contact details (phone, Slack id, contact methods) and notification plans are personal: only
the user themselves and admins see them; everyone else sees who the user is (name, email,
role). Managers run schedules, not people, so they are "everyone else" here."""

from __future__ import annotations

from typing import Any

from apiflask import APIBlueprint, HTTPError, Schema
from apiflask.fields import Dict, List, Raw, String
from flask import Flask

from oncall.audit import audit
from oncall.channels import preferences, registry
from oncall.models import User
from oncall.web import session, transaction
from oncall.web.auth import actor, current_user, require
from oncall.web.errors import BadRequest
from oncall.web.privacy import may_see_contacts

bp = APIBlueprint("users", __name__, url_prefix="/api/v1/users", tag="Users")


def _user(user_id: int) -> User:
    found = session().get(User, user_id)
    if found is None:
        raise HTTPError(404, f"user {user_id} not found")
    return found


def _may_see_private(user: User) -> bool:
    return may_see_contacts(current_user(), user.email)


def _self_or_admin(user: User) -> None:
    if not _may_see_private(user):
        raise HTTPError(403, "only the user themselves or an admin may do this")


def public_json(user: User) -> dict[str, Any]:
    """What anyone with an API token may know of a user."""
    return {"id": user.id, "email": user.email, "name": user.name, "role": user.role}


def _plans(user: User) -> dict[str, dict[str, Any]]:
    out = {}
    for severity in preferences.SEVERITIES[:-1]:
        plan = preferences.plan(session(), user, severity)
        out[severity] = {"source": plan.source, "steps": [r.as_json() for r in plan.rules],
                         "skipped": plan.skipped, "reachable": bool(plan.rules)}
    return out


@bp.get("/<int:user_id>")
@bp.doc(security="ApiToken", responses={404: "No such user"})
@require("viewer")
def get_user(user_id: int) -> dict[str, Any]:
    """A user. To the user themselves and admins also their contact methods (``disabled``
    after a provider refused them for good, with the reason and time, until the contact is
    edited) and whether each severity can reach them; to others only id, email, name and
    role."""
    user = _user(user_id)
    if not _may_see_private(user):
        return public_json(user)
    plans = _plans(user)
    return {**public_json(user), "phone": user.phone,
            "slack_id": user.slack_id, "timezone": user.timezone,
            "managed_by": user.managed_by,
            "contact_methods": preferences.contacts_json(session(), user),
            "reachable": all(p["reachable"] for p in plans.values()),
            "notification": plans}


def _rules_json(user: User) -> dict[str, Any]:
    configured = preferences.load(session(), user.id)
    return {"user": user.email,
            "rules": {sev: [r.as_json() for r in steps] for sev, steps in configured.items()},
            "managed_by": preferences.managed_by(session(), user.id),
            "effective": _plans(user)}


@bp.get("/<int:user_id>/notification-rules")
@bp.doc(security="ApiToken", responses={403: "Not yours", 404: "No such user"})
@require("viewer")
def get_rules(user_id: int) -> dict[str, Any]:
    """The user's notification rules as set (empty: the built-in defaults apply) and, per
    severity, what would be sent now (``effective``)."""
    user = _user(user_id)
    _self_or_admin(user)
    return _rules_json(user)


class RulesIn(Schema):
    rules = Dict(keys=String(), values=List(Raw()), required=True, metadata={
        "description": 'per severity (critical, error, warning, info, default), in order: '
                       '[{"channel": "sms", "delay_seconds": 0}, {"channel": "voice", '
                       '"delay_seconds": 120}]. {} returns to the built-in defaults.'})


def _parse(raw: dict[str, Any]) -> dict[str, list[preferences.Rule]]:
    parsed: dict[str, list[preferences.Rule]] = {}
    for severity, steps in raw.items():
        where = f"rules.{severity}"
        if severity not in preferences.SEVERITIES:
            raise BadRequest(where, f"not a severity (one of {', '.join(preferences.SEVERITIES)})")
        parsed[severity] = []
        for i, step in enumerate(steps):
            if not isinstance(step, dict) or set(step) - {"channel", "delay_seconds"}:
                raise BadRequest(f"{where}[{i}]", "must be {channel, delay_seconds}")
            channel, delay = step.get("channel"), step.get("delay_seconds", 0)
            known = registry.names()
            if channel not in known and not (
                    isinstance(channel, str) and registry.enabled(channel)):
                raise BadRequest(f"{where}[{i}].channel",
                                 f"{channel!r} is not a channel ({', '.join(known)})")
            if channel == registry.CONSOLE and registry.providers_configured():
                real = ", ".join(p for p in registry.providers() if registry.enabled(p))
                raise BadRequest(f"{where}[{i}].channel",
                                 "console is not a personal channel where a provider is "
                                 f"configured: it only prints to the server's log (use {real})")
            if not isinstance(delay, int) or isinstance(delay, bool):
                raise BadRequest(f"{where}[{i}].delay_seconds", "must be a whole number")
            parsed[severity].append(preferences.Rule(channel, delay))
    try:
        preferences.validate(parsed)
    except ValueError as exc:
        field, _, message = str(exc).partition(": ")
        raise BadRequest(f"rules.{field}", message) from None
    return parsed


@bp.put("/<int:user_id>/notification-rules")
@bp.doc(security="ApiToken", responses={403: "Not yours", 404: "No such user",
                                        409: "Managed by a file"})
@bp.input(RulesIn, arg_name="data")
@require("responder")
def put_rules(user_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Replace the user's notification rules (a channel at most once per severity)."""
    user = _user(user_id)
    _self_or_admin(user)
    save_rules(user, parse_rules(data["rules"]), actor())
    return _rules_json(user)


def parse_rules(raw: dict[str, Any]) -> dict[str, list[preferences.Rule]]:
    """Rules as the API takes them (``{severity: [{channel, delay_seconds}]}``), checked;
    ``BadRequest`` naming the field (``rules.critical[1].channel``) when wrong. The console's
    profile page uses it too."""
    return _parse(raw)


def save_rules(user: User, parsed: dict[str, list[preferences.Rule]], who: str) -> None:
    """Replace the user's rules and audit it (the API and the console's profile page);
    refused (409) while a file manages them."""
    managed = preferences.managed_by(session(), user.id)
    if managed:
        raise HTTPError(409, f"these rules are managed by {managed}; edit that file")
    with transaction() as s:
        before = {k: [r.as_json() for r in v] for k, v in preferences.load(s, user.id).items()}
        preferences.replace(s, user.id, parsed)
        after = {k: [r.as_json() for r in v] for k, v in parsed.items()}
        audit(s, who, "update", "notification_rules", user.id,
              user.email, {"rules": before}, {"rules": after})


def plans(user: User) -> dict[str, dict[str, Any]]:
    """Per severity, what would be sent to the user now (the API's ``effective``)."""
    return _plans(user)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
