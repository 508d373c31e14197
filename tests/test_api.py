"""The incidents API: bearer tokens, roles, acknowledge and resolve, the timeline."""

from __future__ import annotations

from typing import Any

from oncall import permissions
from tests.conftest import Cast, alert


def open_incident(client: Any, cast: Cast, **fields: Any) -> int:
    r = client.post(f"/integrations/{cast.integration_token}", json=alert(**fields))
    return int(r.json["incidents"][0]["incident_id"])


def test_it_needs_a_token(client: Any, cast: Cast) -> None:
    r = client.get("/api/v1/incidents")
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"
    r = client.get("/api/v1/incidents", headers={"Authorization": "Bearer oct_wrong"})
    assert r.status_code == 401 and r.json["error"] == "unknown API token"


def test_a_viewer_reads_but_cannot_acknowledge(client: Any, cast: Cast) -> None:
    incident = open_incident(client, cast)
    r = client.get(f"/api/v1/incidents/{incident}", headers=cast.auth("viewer"))
    assert r.status_code == 200
    r = client.post(f"/api/v1/incidents/{incident}/ack", headers=cast.auth("viewer"))
    assert r.status_code == 403 and "responder" in r.json["error"]


def test_the_api_asks_the_one_role_rule_for_every_action(client: Any, cast: Cast,
                                                         monkeypatch: Any) -> None:
    incident = open_incident(client, cast)
    url = f"/api/v1/incidents/{incident}"
    for verb, action in [("ack", "acknowledge"), ("resolve", "resolve"),
                         ("escalate", "escalate"), ("reassign", "reassign")]:
        body = {"users": ["bob@example.com"]} if verb == "reassign" else None
        r = client.post(f"{url}/{verb}", json=body, headers=cast.auth("viewer"))
        assert r.status_code == 403
        assert r.json["error"] == (f"You are not allowed to {action} incidents: you are a "
                                   "viewer, and it needs the responder role.")
    # The rule table decides, not the endpoint: let viewers acknowledge, stop responders.
    monkeypatch.setitem(permissions.INCIDENT_RULES, "viewer", frozenset({"acknowledge"}))
    monkeypatch.setitem(permissions.INCIDENT_RULES, "responder", frozenset())
    assert client.post(f"{url}/escalate", headers=cast.auth("alice")).status_code == 403
    r = client.post(f"{url}/ack", headers=cast.auth("viewer"))
    assert r.status_code == 200 and r.json["acked_by"] == "user:viewer@example.com"


def test_acknowledge_stops_the_escalation_and_is_on_the_timeline(client: Any,
                                                                 cast: Cast) -> None:
    incident = open_incident(client, cast)
    r = client.post(f"/api/v1/incidents/{incident}/ack", headers=cast.auth())
    assert r.status_code == 200
    assert r.json["status"] == "acknowledged" and r.json["next_action_at"] is None
    assert r.json["acked_by"] == "user:alice@example.com"
    again = client.post(f"/api/v1/incidents/{incident}/ack", headers=cast.auth("bob"))
    assert again.status_code == 200 and again.json["acked_by"] == "user:alice@example.com"
    detail = client.get(f"/api/v1/incidents/{incident}", headers=cast.auth()).json
    assert [e["kind"] for e in detail["timeline"]] == ["triggered", "acknowledged"]
    assert detail["timeline"][1]["actor"] == "user:alice@example.com"
    assert detail["alerts"][0]["summary"] == "Charge failures for acme"


def test_resolve_closes_it(client: Any, cast: Cast) -> None:
    incident = open_incident(client, cast)
    r = client.post(f"/api/v1/incidents/{incident}/resolve", headers=cast.auth("bob"))
    assert r.status_code == 200 and r.json["status"] == "resolved"
    assert r.json["resolved_by"] == "user:bob@example.com"


def test_an_unknown_incident_is_a_404(client: Any, cast: Cast) -> None:
    assert client.get("/api/v1/incidents/999999", headers=cast.auth()).status_code == 404
    assert client.post("/api/v1/incidents/999999/ack", headers=cast.auth()).status_code == 404


def test_listing_filters_by_status(client: Any, cast: Cast) -> None:
    a = open_incident(client, cast, dedup_key="a")
    b = open_incident(client, cast, dedup_key="b")
    client.post(f"/api/v1/incidents/{a}/resolve", headers=cast.auth())
    rows = client.get("/api/v1/incidents?status=open", headers=cast.auth()).json["incidents"]
    assert [r["id"] for r in rows] == [b]
    r = client.get("/api/v1/incidents?status=bogus", headers=cast.auth())
    assert r.status_code == 400 and r.json["field"] == "status"


def test_the_openapi_document_describes_the_api(client: Any) -> None:
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    for path in ("/integrations/{token}", "/api/v1/incidents/{incident_id}/ack",
                 "/api/v1/incidents", "/ready"):
        assert path in spec["paths"], path
    body = spec["paths"]["/integrations/{token}"]["post"]["requestBody"]
    assert "GenericAlert" in str(body)
    assert spec["components"]["securitySchemes"]["ApiToken"]["scheme"] == "bearer"
