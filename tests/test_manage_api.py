"""The management API: users, services, policies, integrations and API tokens. Roles, input
errors naming the field, the audit log, file-managed rows refused, and the documented
response bodies."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from oncall.models import Alert, ApiToken, AuditEntry, EscalationPolicy, Service, User, utcnow
from tests.conftest import Cast

POLICY = {"name": "payments", "repeat": 1, "levels": [
    {"escalate_after": 300, "targets": ["user:alice@example.com"]},
    {"escalate_after": 600, "targets": ["user:bob@example.com", "slack:#pay"]}]}


def audited(session: Any, object_type: str) -> list[AuditEntry]:
    session.expire_all()
    return list(session.scalars(select(AuditEntry).where(AuditEntry.object_type == object_type)
                                .order_by(AuditEntry.id)))


def test_viewers_read_policies_as_ladders_resolved_to_people(client: Any, cast: Cast) -> None:
    r = client.get("/api/v1/policies", headers=cast.auth("viewer"))
    assert r.status_code == 200
    billing = r.json["policies"][0]
    assert billing["name"] == "billing"
    assert [lvl["targets"] for lvl in billing["levels"]] == [["user:alice@example.com"],
                                                             ["user:bob@example.com"]]
    assert [(lvl["at_seconds"], lvl["targets"][0]["who"]) for lvl in billing["ladder"]] == \
        [(0, "Alice"), (300, "Bob")]


def test_managers_create_and_edit_policies_and_it_is_audited(
        client: Any, cast: Cast, session: Any) -> None:
    r = client.post("/api/v1/policies", json=POLICY, headers=cast.auth("manager"))
    assert r.status_code == 201, r.json
    pid = r.json["id"]
    assert r.json["ladder"][1]["targets"][1] == {"target": "slack:#pay", "type": "slack",
                                                 "who": "#pay", "email": None}
    r = client.patch(f"/api/v1/policies/{pid}", headers=cast.auth("manager"), json={
        "repeat": 0, "levels": [{"escalate_after": 120, "targets": ["user:bob@example.com"]}]})
    assert r.status_code == 200, r.json
    assert r.json["levels"] == [{"escalate_after": 120, "targets": ["user:bob@example.com"]}]
    entries = audited(session, "policy")
    assert [e.action for e in entries] == ["create", "update"]
    assert entries[1].actor == "user:manager@example.com"
    assert entries[1].before["repeat"] == 1 and entries[1].after["repeat"] == 0


def test_responders_and_viewers_may_not_edit_policies(client: Any, cast: Cast) -> None:
    for who in ("viewer", "alice"):
        assert client.post("/api/v1/policies", json=POLICY,
                           headers=cast.auth(who)).status_code == 403


def test_a_policy_naming_nobody_is_refused_with_the_field(client: Any, cast: Cast) -> None:
    bad = {**POLICY, "levels": [{"targets": ["user:nobody@example.com"]}]}
    r = client.post("/api/v1/policies", json=bad, headers=cast.auth("manager"))
    assert r.status_code == 400
    assert r.json["field"] == "levels[0].targets[0]"
    r = client.post("/api/v1/policies", json={**POLICY, "levels": []},
                    headers=cast.auth("manager"))
    assert r.status_code == 400 and r.json["field"] == "levels"
    r = client.post("/api/v1/policies", json={**POLICY, "name": "billing"},
                    headers=cast.auth("manager"))
    assert r.status_code == 409 and r.json["field"] == "name"


def test_file_managed_policies_and_services_are_refused_naming_the_file(
        client: Any, cast: Cast, session: Any) -> None:
    policy = session.scalar(select(EscalationPolicy).where(EscalationPolicy.name == "billing"))
    policy.managed_by = "rules/billing.yaml"
    session.scalar(select(Service)).managed_by = "rules/billing.yaml"
    session.commit()
    r = client.patch(f"/api/v1/policies/{policy.id}", json={"repeat": 3},
                     headers=cast.auth("manager"))
    assert r.status_code == 409 and "rules/billing.yaml" in r.json["error"]
    r = client.delete(f"/api/v1/services/{cast.service.id}", headers=cast.auth("manager"))
    assert r.status_code == 409 and "rules/billing.yaml" in r.json["error"]
    assert audited(session, "policy") == []


def test_a_policy_in_use_is_not_deleted(client: Any, cast: Cast) -> None:
    pid = client.get("/api/v1/policies", headers=cast.auth("viewer")).json["policies"][0]["id"]
    r = client.delete(f"/api/v1/policies/{pid}", headers=cast.auth("manager"))
    assert r.status_code == 409 and "billing-api" in r.json["error"]
    assert client.get("/api/v1/policies/999999", headers=cast.auth("viewer")).status_code == 404


def test_managers_create_edit_and_delete_services(client: Any, cast: Cast,
                                                  session: Any) -> None:
    r = client.post("/api/v1/services", json={"name": "checkout", "policy": "billing"},
                    headers=cast.auth("manager"))
    assert r.status_code == 201, r.json
    sid = r.json["id"]
    r = client.patch(f"/api/v1/services/{sid}", json={"policy": "nope"},
                     headers=cast.auth("manager"))
    assert r.status_code == 400 and r.json["field"] == "policy"
    r = client.patch(f"/api/v1/services/{sid}", json={"description": "Checkout"},
                     headers=cast.auth("manager"))
    assert r.json["description"] == "Checkout"
    assert client.delete(f"/api/v1/services/{sid}",
                         headers=cast.auth("viewer")).status_code == 403
    assert client.delete(f"/api/v1/services/{sid}",
                         headers=cast.auth("manager")).status_code == 204
    assert [e.action for e in audited(session, "service")] == ["create", "update", "delete"]
    listed = client.get("/api/v1/services", headers=cast.auth("viewer")).json["services"]
    assert [s["name"] for s in listed] == ["billing-api"]
    assert listed[0]["integrations"] == 1


def test_admins_create_an_integration_whose_url_is_shown_once_and_works(
        client: Any, cast: Cast, admin_auth: dict[str, str], session: Any) -> None:
    path = f"/api/v1/services/{cast.service.id}/integrations"
    assert client.post(path, json={}, headers=cast.auth("manager")).status_code == 403
    r = client.post(path, json={"kind": "generic", "name": "grafana-main"}, headers=admin_auth)
    assert r.status_code == 201, r.json
    url, iid = r.json["url"], r.json["id"]
    assert url.endswith(r.json["token"]) and r.json["routing_key"] is None
    sent = client.post(url.split("://", 1)[1].split("/", 1)[1].join(["/", ""]),
                       json={"type": "x", "summary": "hello"})
    assert sent.status_code == 202, sent.json
    shown = client.get(f"/api/v1/services/{cast.service.id}", headers=cast.auth("viewer")).json
    mine = next(i for i in shown["integrations"] if i["id"] == iid)
    assert "token" not in mine and "url" not in mine
    assert mine["last_alert_at"] is not None
    r = client.post(path, json={"kind": "pagerduty"}, headers=admin_auth)
    assert r.json["url"].endswith("/v2/enqueue") and len(r.json["routing_key"]) == 32
    r = client.post(path, json={"kind": "opsgenie"}, headers=admin_auth)
    assert r.status_code == 201 and r.json["url"].endswith("/v2/alerts")
    key = r.json["routing_key"]
    sent = client.post("/v2/alerts", json={"message": "hello"},
                       headers={"Authorization": f"GenieKey {key}"})
    assert sent.status_code == 202, sent.json


def test_admins_rename_rotate_and_delete_integrations(
        client: Any, cast: Cast, admin_auth: dict[str, str], session: Any) -> None:
    path = f"/api/v1/services/{cast.service.id}/integrations"
    made = client.post(path, json={"name": "one"}, headers=admin_auth).json
    one = f"{path}/{made['id']}"
    r = client.patch(one, json={"name": "billing-generic"}, headers=admin_auth)
    assert r.status_code == 409 and r.json["field"] == "name"
    assert client.patch(one, json={"name": "two"}, headers=admin_auth).json["name"] == "two"
    rotated = client.post(f"{one}/rotate", headers=admin_auth).json
    assert rotated["token"] != made["token"] and rotated["prefix"] != made["prefix"]
    assert client.delete(one, headers=admin_auth).status_code == 204
    assert client.delete(one, headers=admin_auth).status_code == 404
    assert [e.action for e in audited(session, "integration")] == \
        ["create", "update", "rotate", "delete"]
    assert all(made["token"] not in str(e.after) for e in audited(session, "integration"))


def test_admins_manage_users_and_deactivation_ends_access(
        client: Any, cast: Cast, admin_auth: dict[str, str], session: Any) -> None:
    r = client.post("/api/v1/users", json={"email": "new@example.com", "name": "Nia",
                                           "phone": "0800"}, headers=admin_auth)
    assert r.status_code == 400 and r.json["field"] == "phone"
    r = client.post("/api/v1/users", json={"email": "new@example.com", "name": "Nia"},
                    headers=cast.auth("manager"))
    assert r.status_code == 403
    r = client.post("/api/v1/users", json={"email": "new@example.com", "name": "Nia",
                                           "role": "viewer"}, headers=admin_auth)
    assert r.status_code == 201, r.json
    uid = r.json["id"]
    assert client.patch(f"/api/v1/users/{uid}", json={"role": "manager"},
                        headers=admin_auth).json["role"] == "manager"
    token = client.post("/api/v1/tokens", json={"user": "new@example.com"},
                        headers=admin_auth).json["token"]
    mine = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/users", headers=mine).status_code == 200
    r = client.post(f"/api/v1/users/{uid}/deactivate", headers=admin_auth)
    assert r.status_code == 200 and r.json["active"] is False
    assert client.get("/api/v1/users", headers=mine).status_code == 401
    assert [e.action for e in audited(session, "user")] == ["create", "update", "deactivate"]


def test_someone_still_on_a_policy_is_not_deactivated(
        client: Any, cast: Cast, admin_auth: dict[str, str]) -> None:
    r = client.post(f"/api/v1/users/{cast.alice.id}/deactivate", headers=admin_auth)
    assert r.status_code == 409 and "billing" in r.json["error"]
    assert client.post("/api/v1/users/999999/deactivate", headers=admin_auth).status_code == 404


def test_admins_reactivate_a_user_who_then_needs_a_new_link_to_sign_in(
        client: Any, cast: Cast, admin_auth: dict[str, str], session: Any) -> None:
    path = f"/api/v1/users/{cast.viewer.id}"
    assert client.post(f"{path}/deactivate", headers=admin_auth).json["active"] is False
    assert client.post(f"{path}/reactivate", headers=cast.auth("manager")).status_code == 403
    assert client.post("/api/v1/users/999999/reactivate", headers=admin_auth).status_code == 404
    r = client.post(f"{path}/reactivate", headers=admin_auth)
    assert r.status_code == 200, r.json
    assert (r.json["active"], r.json["deactivated_at"], r.json["can_sign_in"]) == \
        (True, None, False)
    again = client.post(f"{path}/reactivate", headers=admin_auth)  # changes nothing
    assert again.status_code == 200 and again.json["active"] is True
    made = client.post("/api/v1/tokens", json={"user": "viewer@example.com"},
                       headers=admin_auth)
    assert made.status_code == 201  # a deactivated user would get 409
    assert client.get("/api/v1/tokens", headers={
        "Authorization": f"Bearer {made.json['token']}"}).status_code == 200
    assert [e.action for e in audited(session, "user")] == ["deactivate", "reactivate"]
    session.get(User, cast.viewer.id).managed_by = "people.yaml"
    session.get(User, cast.viewer.id).deactivated_at = utcnow()
    session.commit()
    r = client.post(f"{path}/reactivate", headers=admin_auth)
    assert r.status_code == 409 and "people.yaml" in r.json["error"]


def test_viewers_see_who_people_are_but_not_their_contacts(
        client: Any, cast: Cast, session: Any) -> None:
    session.get(User, cast.bob.id).phone = "+14155550100"
    session.commit()
    people = client.get("/api/v1/users", headers=cast.auth("viewer")).json["users"]
    bob = next(p for p in people if p["email"] == "bob@example.com")
    assert "phone" not in bob and bob["active"] is True


def test_everyone_manages_their_own_tokens_and_only_admins_others(
        client: Any, cast: Cast, admin_auth: dict[str, str], session: Any) -> None:
    r = client.post("/api/v1/tokens", json={"label": "laptop"}, headers=cast.auth("viewer"))
    assert r.status_code == 201 and r.json["token"].startswith("oct_")
    assert r.json["user"] == "viewer@example.com"
    own = [t["id"] for t in client.get("/api/v1/tokens",
                                       headers=cast.auth("viewer")).json["tokens"]]
    assert r.json["id"] in own and len(own) == 2
    alices = client.get("/api/v1/tokens", headers=cast.auth("alice")).json["tokens"]
    assert client.delete(f"/api/v1/tokens/{alices[0]['id']}",
                         headers=cast.auth("viewer")).status_code == 404
    r = client.post("/api/v1/tokens", json={"user": "alice@example.com"},
                    headers=cast.auth("viewer"))
    assert r.status_code == 403 and r.json["field"] == "user"
    everyone = client.get("/api/v1/tokens", headers=admin_auth).json["tokens"]
    assert len(everyone) == 6
    assert client.delete(f"/api/v1/tokens/{alices[0]['id']}",
                         headers=admin_auth).status_code == 204
    assert client.get("/api/v1/tokens", headers=cast.auth("alice")).status_code == 401
    assert [e.action for e in audited(session, "api_token")] == ["create", "revoke"]
    session.expire_all()
    assert session.scalar(select(ApiToken).where(ApiToken.id == alices[0]["id"])) is None


def test_the_document_describes_the_answers(client: Any) -> None:
    spec = client.get("/api/v1/openapi.json").json
    for path, method, status in (("/api/v1/policies", "get", "200"),
                                 ("/api/v1/services/{service_id}/integrations", "post", "201"),
                                 ("/api/v1/tokens", "post", "201"),
                                 ("/api/v1/users", "get", "200"),
                                 ("/api/v1/users/{user_id}/reactivate", "post", "200")):
        body = spec["paths"][path][method]["responses"][status]["content"]["application/json"]
        assert body["schema"] != {}
        assert "requestBody" in spec["paths"][path][method] or method == "get" or \
            path.endswith("/reactivate")
    assert "Policy" in spec["components"]["schemas"]


def test_last_alert_is_per_integration(client: Any, cast: Cast, session: Any) -> None:
    from oncall.models import Integration

    integration = session.scalar(select(Integration))
    session.add(Alert(integration_id=integration.id, received_at=utcnow(), status="firing",
                      type="t", severity="critical", summary="s", dedup_key="k"))
    session.commit()
    listed = client.get("/api/v1/services", headers=cast.auth("viewer")).json["services"]
    assert listed[0]["last_alert_at"] is not None


def test_a_schedule_target_resolves_to_whoever_is_on_call_now(
        client: Any, cast: Cast, session: Any) -> None:
    from datetime import timedelta

    from oncall.schedules import service as schedules

    start = (utcnow() - timedelta(days=3)).date().isoformat()
    schedules.create_schedule(session, "test", {
        "name": "solo", "timezone": "UTC", "layers": [
            {"name": "weekly", "rotation": "weekly", "handoff": "Mon 09:00", "start": start,
             "members": ["bob@example.com"]}]})
    schedules.create_schedule(session, "test", {
        "name": "empty", "timezone": "UTC", "layers": [
            {"name": "never", "rotation": "daily", "handoff": "09:00", "start": start,
             "members": ["bob@example.com"], "restrictions": [
                 {"days": ["Sat"], "from": "00:00", "to": "00:01"}]}]})
    session.commit()
    r = client.post("/api/v1/policies", headers=cast.auth("manager"), json={
        "name": "rota", "levels": [{"targets": ["schedule:solo", "schedule:empty"]}]})
    assert r.status_code == 201, r.json
    solo, empty = r.json["ladder"][0]["targets"]
    assert (solo["who"], solo["email"]) == ("Bob", "bob@example.com")
    assert empty["type"] == "schedule"
