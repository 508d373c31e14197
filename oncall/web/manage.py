"""``/api/v1/policies``, ``/api/v1/services`` and their integrations: viewers read;
managers create and edit policies and services (not those managed by files: 409 naming the
file); admins manage integrations, whose secret is answered once, when made. Every change is
in the audit log (``oncall.manage``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from apiflask import APIBlueprint, Schema
from apiflask.fields import Integer, List, Nested, String
from apiflask.validators import Length, OneOf, Range
from flask import Flask

from oncall.manage import Refused, integrations, policies, services
from oncall.models import INTEGRATION_KINDS, utcnow
from oncall.web import commit, session, settings
from oncall.web.auth import actor, require
from oncall.web.errors import BadRequest
from oncall.web.hooks import _cache as integration_cache
from oncall.web.openapi import BODIES, INT, OPT_STR, OPT_TIME, SCHEMAS, STR, array, obj, ref

bp = APIBlueprint("manage", __name__, url_prefix="/api/v1", tag="Policies and services")
T = TypeVar("T")
EDIT = {403: "Not allowed", 404: "Not found", 409: "Managed by a file, or a name taken"}


def found(work: Callable[[], T]) -> T:
    """A read; an unknown id is a 404."""
    try:
        return work()
    except Refused as exc:
        raise BadRequest(exc.field or "", exc.message, exc.status) from None


class LevelIn(Schema):
    escalate_after = Integer(load_default=300, validate=Range(min=60, max=policies.MAX_DELAY),
                             metadata={"description": "seconds before the next level"})
    targets = List(String(validate=Length(max=300)), required=True, validate=Length(min=1),
                   metadata={"description": policies.target_help()})


class PolicyIn(Schema):
    name = String(required=True, validate=Length(min=1, max=200))
    repeat = Integer(load_default=0, validate=Range(min=0, max=policies.MAX_REPEAT),
                     metadata={"description": "how many more times to run the whole ladder"})
    ack_timeout = Integer(allow_none=True, validate=Range(min=0, max=7 * 86400),
                          metadata={"description": "seconds; an acknowledgement older than "
                                                   "this re-triggers (null: never)"})
    levels = List(Nested(LevelIn), required=True, validate=Length(min=1, max=50))


class PolicyPatch(PolicyIn):
    name = String(validate=Length(min=1, max=200))
    repeat = Integer(validate=Range(min=0, max=policies.MAX_REPEAT))
    levels = List(Nested(LevelIn), validate=Length(min=1, max=50))


def _ladder_json(policy: Any, memo: dict[str, str | None] | None = None) -> dict[str, Any]:
    now = utcnow()
    levels = policies.ladder(session(), policy, now, memo)
    return {**policies.as_json(policy), "resolved_at": now.isoformat(), "ladder": [
        {**lvl, "targets": [{"target": t.target, "type": t.kind, "who": t.who,
                             "email": t.email} for t in lvl["targets"]]} for lvl in levels]}


@bp.get("/policies")
@bp.doc(security="ApiToken")
@require("viewer")
def list_policies() -> dict[str, Any]:
    """Every escalation policy as its ladder, targets resolved to who they reach now."""
    memo: dict[str, str | None] = {}
    return {"policies": [_ladder_json(p, memo) for p in policies.listing(session())]}


@bp.get("/policies/<int:policy_id>")
@bp.doc(security="ApiToken", responses={404: "No such policy"})
@require("viewer")
def get_policy(policy_id: int) -> dict[str, Any]:
    """A policy as its ladder."""
    return _ladder_json(found(lambda: policies.get(session(), policy_id)))


@bp.post("/policies")
@bp.doc(security="ApiToken", responses={403: "Not allowed", 409: "Name taken"})
@bp.input(PolicyIn, arg_name="data")
@require("manager")
def create_policy(data: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Create a policy (managers). Targets must exist."""
    made = commit(lambda: policies.create(session(), actor(), **data), Refused)
    return _ladder_json(made), 201


@bp.patch("/policies/<int:policy_id>")
@bp.doc(security="ApiToken", responses=EDIT)
@bp.input(PolicyPatch, arg_name="data")
@require("manager")
def update_policy(policy_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Change a policy (managers; `levels` replaces the whole ladder). Open incidents keep
    the ladder they started with."""
    policy = found(lambda: policies.get(session(), policy_id))
    return _ladder_json(commit(lambda: policies.update(session(), actor(), policy, data),
                               Refused))


@bp.delete("/policies/<int:policy_id>")
@bp.doc(security="ApiToken", responses={**EDIT, 204: "Deleted"})
@require("manager")
def delete_policy(policy_id: int) -> tuple[str, int]:
    """Delete a policy that no service, heartbeat or rule uses (managers)."""
    policy = found(lambda: policies.get(session(), policy_id))
    commit(lambda: policies.delete(session(), actor(), policy), Refused)
    return "", 204


class ServiceIn(Schema):
    name = String(required=True, validate=Length(min=1, max=200))
    description = String(allow_none=True, validate=Length(max=2000))
    policy = String(allow_none=True, validate=Length(max=200),
                    metadata={"description": "the default escalation policy, by name"})


class ServicePatch(ServiceIn):
    name = String(validate=Length(min=1, max=200))


@bp.get("/services")
@bp.doc(security="ApiToken")
@require("viewer")
def list_services() -> dict[str, Any]:
    """Every service with its policy, its number of integrations and its last alert."""
    return {"services": services.listing(session())}


def _service_json(service: Any) -> dict[str, Any]:
    return {**services.as_json(service),
            "integrations": integrations.listing(session(), service)}


@bp.get("/services/<int:service_id>")
@bp.doc(security="ApiToken", responses={404: "No such service"})
@require("viewer")
def get_service(service_id: int) -> dict[str, Any]:
    """A service with its integrations (never their secrets) and each one's last alert."""
    return _service_json(found(lambda: services.get(session(), service_id)))


@bp.post("/services")
@bp.doc(security="ApiToken", responses={403: "Not allowed", 409: "Name taken"})
@bp.input(ServiceIn, arg_name="data")
@require("manager")
def create_service(data: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Create a service (managers)."""
    made = commit(lambda: services.create(session(), actor(), **data), Refused)
    return _service_json(made), 201


@bp.patch("/services/<int:service_id>")
@bp.doc(security="ApiToken", responses=EDIT)
@bp.input(ServicePatch, arg_name="data")
@require("manager")
def update_service(service_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """Rename a service, describe it or choose its policy (managers)."""
    service = found(lambda: services.get(session(), service_id))
    return _service_json(commit(lambda: services.update(session(), actor(), service, data),
                                Refused))


@bp.delete("/services/<int:service_id>")
@bp.doc(security="ApiToken", responses={**EDIT, 204: "Deleted"})
@require("manager")
def delete_service(service_id: int) -> tuple[str, int]:
    """Delete a service and its integrations (managers); refused while it has incidents or
    heartbeats."""
    service = found(lambda: services.get(session(), service_id))
    commit(lambda: services.delete(session(), actor(), service), Refused)
    return "", 204


class IntegrationIn(Schema):
    kind = String(load_default="generic", validate=OneOf(INTEGRATION_KINDS),
                  metadata={"description": "the payload format the sender speaks"})
    name = String(validate=Length(min=1, max=200),
                  metadata={"description": "default: SERVICE-KIND"})


class RenameIn(Schema):
    name = String(required=True, validate=Length(min=1, max=200))


def _integration(service_id: int, integration_id: int) -> Any:
    service = found(lambda: services.get(session(), service_id))
    return found(lambda: integrations.get(session(), integration_id, service))


@bp.post("/services/<int:service_id>/integrations")
@bp.doc(security="ApiToken",
        responses={403: "Not allowed", 404: "No such service", 409: "Name taken"})
@bp.input(IntegrationIn, arg_name="data")
@require("admin")
def create_integration(service_id: int, data: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """Create an integration (admins). The answer holds its URL (or PagerDuty routing key):
    the only time it is shown."""
    service = found(lambda: services.get(session(), service_id))
    secret = commit(lambda: integrations.create(
        session(), actor(), service, kind=data["kind"], name=data.get("name"),
        public_url=settings().public_url), Refused)
    return secret.as_json(), 201


@bp.patch("/services/<int:service_id>/integrations/<int:integration_id>")
@bp.doc(security="ApiToken", responses=EDIT)
@bp.input(RenameIn, arg_name="data")
@require("admin")
def rename_integration(service_id: int, integration_id: int,
                       data: dict[str, Any]) -> dict[str, Any]:
    """Rename an integration (admins); its URL does not change."""
    found_ = _integration(service_id, integration_id)
    return integrations.as_json(commit(lambda: integrations.rename(
        session(), actor(), found_, data["name"]), Refused))


@bp.post("/services/<int:service_id>/integrations/<int:integration_id>/rotate")
@bp.doc(security="ApiToken", responses={403: "Not allowed", 404: "Not found"})
@require("admin")
def rotate_integration(service_id: int, integration_id: int) -> dict[str, Any]:
    """A new secret (admins), shown once; the old URL stops accepting alerts within
    seconds."""
    found_ = _integration(service_id, integration_id)
    old = found_.token_hash
    secret = commit(lambda: integrations.rotate(session(), actor(), found_,
                                                settings().public_url), Refused)
    integration_cache.pop(old, None)  # this process at once; others within seconds
    return secret.as_json()


@bp.delete("/services/<int:service_id>/integrations/<int:integration_id>")
@bp.doc(security="ApiToken", responses={403: "Not allowed", 404: "Not found", 204: "Deleted"})
@require("admin")
def delete_integration(service_id: int, integration_id: int) -> tuple[str, int]:
    """Delete an integration (admins): its URL stops accepting alerts within seconds."""
    found_ = _integration(service_id, integration_id)
    old = found_.token_hash
    commit(lambda: integrations.delete(session(), actor(), found_), Refused)
    integration_cache.pop(old, None)
    return "", 204


TARGET = obj({"target": STR, "type": STR, "who": OPT_STR, "email": OPT_STR})
SCHEMAS.update({
    "Policy": obj({"id": INT, "name": STR, "repeat": INT,
                   "ack_timeout": {"type": "integer", "nullable": True},
                   "managed_by": OPT_STR,
                   "levels": array(obj({"escalate_after": INT, "targets": array(STR)})),
                   "resolved_at": {"type": "string", "format": "date-time"},
                   "ladder": array(obj({"level": INT, "at_seconds": INT,
                                        "escalate_after": INT, "targets": array(TARGET)}))}),
    "Integration": obj({"id": INT, "name": STR, "kind": STR, "service": STR, "prefix": STR,
                        "created_at": OPT_TIME, "last_alert_at": OPT_TIME}),
    "ServiceSummary": obj({"id": INT, "name": STR, "description": OPT_STR, "policy": OPT_STR,
                           "managed_by": OPT_STR, "integrations": INT,
                           "last_alert_at": OPT_TIME}),
    "Service": obj({"id": INT, "name": STR, "description": OPT_STR, "policy": OPT_STR,
                    "managed_by": OPT_STR, "integrations": array(ref("Integration"))}),
})
SCHEMAS["IntegrationSecret"] = {"allOf": [ref("Integration"), obj({
    "token": STR, "url": STR, "routing_key": OPT_STR})]}
BODIES.update({
    ("get", "/api/v1/policies"): (200, obj({"policies": array(ref("Policy"))})),
    ("post", "/api/v1/policies"): (201, ref("Policy")),
    ("get", "/api/v1/policies/{policy_id}"): (200, ref("Policy")),
    ("patch", "/api/v1/policies/{policy_id}"): (200, ref("Policy")),
    ("get", "/api/v1/services"): (200, obj({"services": array(ref("ServiceSummary"))})),
    ("post", "/api/v1/services"): (201, ref("Service")),
    ("get", "/api/v1/services/{service_id}"): (200, ref("Service")),
    ("patch", "/api/v1/services/{service_id}"): (200, ref("Service")),
    ("post", "/api/v1/services/{service_id}/integrations"): (201, ref("IntegrationSecret")),
    ("patch", "/api/v1/services/{service_id}/integrations/{integration_id}"):
        (200, ref("Integration")),
    ("post", "/api/v1/services/{service_id}/integrations/{integration_id}/rotate"):
        (200, ref("IntegrationSecret")),
})


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
